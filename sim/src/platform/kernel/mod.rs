//! The simulated kernel: in-memory pipes and socket pairs with edge-triggered readiness, and
//! the poller's side of it (Go's `netpoll(delay)`).
//!
//! Every system call is a scheduling point and system calls are linearizable (as on a real
//! kernel): the kernel's data (`state`) is split among kernel objects - the fd table, each fd
//! number, each buffer, the epoll instance - each with its own simulated lock, and a call
//! holds the locks of the objects it touches (`held`, in one global order). Calls that
//! touch no object in common do not order each other, so the search does not explore their
//! orders (Linux, too, has a lock per pipe and per epoll instance, not one for the kernel). A state change that makes a
//! registered fd readable or writable queues an edge-triggered event for it and wakes the
//! poller if it is waiting. The poller is a long-lived daemon task of the platform (see
//! `poller`) that calls [`NetPoll::poll`](netpoll::NetPoll::poll) with an
//! infinite delay: [`SimBackend::poll`] then blocks (parks) until an event is visible or the
//! poller is woken by a break.
//!
//! Faults ([`Faults`], part of the scenario check's identity) are drawn from the one choice
//! stream, so they replay exactly.

mod held;
mod state;

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, OnceLock, Weak};

use netpoll::platform::{Backend, Event, LocName, Mode, RawFd, SocketError, Token};

use super::checkers::Checkers;
use super::faults::{Faults, DELIVERY_DELAY_NS};
use super::SimNetPoll;
use crate::engine::sched::{self, Wake};
use crate::engine::sync::{Plain, RawMutex};
use held::{Held, Rank};
use state::{add_reg, remove_reg, FdKind, Kernel, Reg, TcpState};

/// How many bytes a simulated pipe (or one direction of a socket pair) buffers.
pub const PIPE_CAPACITY: usize = 64;
/// The first fd number handed out (0-2 are stdio).
const FIRST_FD: RawFd = 3;

/// The address of the break's eventfd as the simulated 32-bit machine sees it: the low word
/// of the break's token ([`BREAK_TOKEN`]). A real address is ~10^8; this one is small so that
/// a pd reaches it after a few reuses instead of ~10^8 (golang/go#72900's aging, compressed).
pub const BREAK_ADDR: u32 = 4;
/// The break's token: its address in the low word, the high word untouched (0), as Go's
/// `netpollinit` stores it on a 32-bit machine.
pub const BREAK_TOKEN: Token = Token(BREAK_ADDR as u64);
/// The open file of the break's eventfd (files of fds count from 1).
const BREAK_FILE: u64 = 0;

/// The epoll descriptor `init` makes. It lies outside the table of the simulated fds (whose
/// numbers it would otherwise shift); only its sign matters to the poller.
pub const EPOLL_FD: RawFd = 1_000;
/// What a failed `epoll_create1` returns on a kernel without it: -ENOSYS. Go's `netpollinit`
/// stored it in its descriptor before trying the fallback (golang/go#22606).
pub const EPOLL_CREATE1_ENOSYS: RawFd = -38;
/// The descriptor before `init`: "no poller yet" to `netpoll`.
const NO_EPOLL_FD: RawFd = -1;
/// How long a poller that found no poller to poll sleeps before it looks again (Go: sysmon's
/// longest sleep) - unless an event wakes it first.
pub(crate) const NOT_INITED_SLEEP_NS: i64 = 10_000_000;

/// How long a connect takes to be answered (a loopback round trip, give or take).
pub const CONNECT_DELAY_NS: i64 = 1_000_000;
/// The address that refuses connections (nothing listens anywhere in the simulated host).
pub const REFUSED_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1);

const ECONNREFUSED: i32 = 111;
const ENOTCONN: i32 = 107;

fn ebadf() -> io::Error {
    io::Error::from_raw_os_error(9) // EBADF
}

fn epipe() -> io::Error {
    io::Error::from_raw_os_error(32) // EPIPE
}

/// Simulated pipes and socket pairs plus the simulated poller.
pub struct SimBackend {
    /// The kernel's data; touched only under the simulated locks of its objects, and never
    /// held across a scheduling point (see `state`).
    state: std::sync::Mutex<Kernel>,
    /// The fd table's lock, and the epoll instance's two: its interest list's and its ready
    /// queue's (an fd number's and a buffer's are in the kernel's data).
    table_lock: Arc<RawMutex>,
    interest_lock: Arc<RawMutex>,
    queue_lock: Arc<RawMutex>,
    /// Go's `epfd`: -1 until `init`, written by `init` (under the core's init lock) and read
    /// without a lock by every poll - which is safe only once the poll has seen the core's
    /// `inited` flag set (golang/go#22606).
    epfd: Plain<RawFd>,
    /// The kernel's faults.
    faults: Faults,
    /// The poller has read a valid `epfd` (it never changes after that, and a task's later
    /// reads cannot see an older store: they need not be simulated). Outside the model.
    epfd_seen: std::sync::atomic::AtomicBool,
    np: Arc<OnceLock<Weak<SimNetPoll>>>,
    /// Told of every descriptor made and closed, and of error events delivered.
    checkers: Checkers,
}

fn lock_named(name: LocName) -> Arc<RawMutex> {
    Arc::new(RawMutex::named(crate::platform::cells::loc_name(name)))
}

/// The slot of fd number `fd` in the table, if it can be one.
fn slot(fd: RawFd) -> io::Result<usize> {
    let i = fd - FIRST_FD;
    if i < 0 {
        return Err(ebadf());
    }
    Ok(i as usize)
}

impl SimBackend {
    /// A backend whose poller reaches the netpoll in `np` (set once it exists).
    pub(crate) fn new(
        np: Arc<OnceLock<Weak<SimNetPoll>>>,
        faults: Faults,
        checkers: Checkers,
    ) -> SimBackend {
        SimBackend {
            state: std::sync::Mutex::new(Kernel::new()),
            table_lock: lock_named(LocName::single("kernel", "fds")),
            interest_lock: lock_named(LocName::single("epoll", "interest")),
            queue_lock: lock_named(LocName::single("epoll", "queue")),
            epfd: Plain::named(
                NO_EPOLL_FD,
                crate::platform::cells::loc_name(LocName::single("netpoll", "epfd")),
            ),
            faults,
            epfd_seen: std::sync::atomic::AtomicBool::new(false),
            np,
            checkers,
        }
    }

    /// The kernel's data, for a moment: never across a scheduling point.
    fn st(&self) -> std::sync::MutexGuard<'_, Kernel> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_table(&self, held: &mut Held) {
        held.take(Rank::Table, &self.table_lock);
    }

    fn take_interest(&self, held: &mut Held) {
        held.take(Rank::Interest, &self.interest_lock);
    }

    fn take_queue(&self, held: &mut Held) {
        held.take(Rank::Queue, &self.queue_lock);
    }

    /// Take fd `fd`'s lock; its slot and what it refers to (EBADF for no open fd).
    fn take_fd(&self, held: &mut Held, fd: RawFd) -> io::Result<(usize, FdKind)> {
        let i = slot(fd)?;
        let lock = self.st().fd_locks.get(i).cloned().ok_or_else(ebadf)?;
        held.take(Rank::Fd(i), &lock);
        let kind = self.st().fds[i].as_ref().ok_or_else(ebadf)?.kind;
        Ok((i, kind))
    }

    /// Take the locks of buffers `bs` (ascending).
    fn take_buffers(&self, held: &mut Held, bs: impl IntoIterator<Item = usize>) {
        for b in bs {
            let lock = self.st().buffers[b].lock.clone();
            held.take(Rank::Buffer(b), &lock);
        }
    }

    /// Start the poller daemon (stopped: a kick or `ready` starts it); it stands for sysmon's
    /// netpoll in the model of Go's idle check, so it is a system task.
    fn start_poller(np: &Arc<OnceLock<Weak<SimNetPoll>>>) -> u32 {
        let poller = super::poller::start(np.clone());
        sched::mark_system(poller);
        poller
    }

    /// The poller waits for an event (a kick), or until `until_ns`.
    pub(crate) fn wait_for_events(&self, until_ns: Option<i64>) {
        {
            let mut held = Held::default();
            self.take_queue(&mut held);
            self.st().epoll.poller_waiting = Some(sched::current());
        }
        let wake = match until_ns {
            Some(t) => sched::park_until("netpoll", t, || true),
            None => sched::park("netpoll", || true),
        };
        if wake == Wake::TimedOut {
            let mut held = Held::default();
            self.take_queue(&mut held);
            self.st().epoll.poller_waiting = None;
        }
    }

    /// After queueing events (the ready queue's lock held): wake the poller if it waits.
    fn kick(&self, held: &Held) {
        debug_assert!(held.holds(Rank::Queue));
        let waiting = {
            let mut k = self.st();
            if k.epoll.queue.is_empty() {
                None
            } else {
                k.epoll.poller_waiting.take()
            }
        };
        if let Some(p) = waiting {
            sched::ready(p);
        }
    }

    /// Queue `ev` for open file `file` (the ready queue's lock held), visible at once or (a
    /// delayed-delivery fault) a little later.
    fn push_event(&self, ev: Event, file: u64) {
        let now = sched::now_ns();
        let at = if self.faults.delayed_delivery.draw() {
            now + DELIVERY_DELAY_NS
        } else {
            now
        };
        self.st().epoll.queue.push((ev, at, file));
    }

    /// Queue an event of `mode` (and `error`) for each registration in `regs`, taking the
    /// ready queue's lock if there is any; then kick the poller.
    fn notify(&self, held: &mut Held, regs: &[Reg], mode: Mode, error: bool) {
        if regs.is_empty() {
            return;
        }
        self.take_queue(held);
        for r in regs {
            self.push_event(
                Event {
                    token: r.token,
                    mode,
                    error,
                },
                r.file,
            );
        }
        self.kick(held);
    }

    /// Allocate `kinds.len()` new fds (the table's lock held), each at the lowest free
    /// number, and tell the checkers (with what each is); their numbers.
    fn alloc(&self, held: &mut Held, kinds: &[(FdKind, &'static str)]) -> Vec<RawFd> {
        debug_assert!(held.holds(Rank::Table));
        let (slots, new) = self.st().free_slots(kinds.len());
        let reused = slots.len() - new;
        // A number used before may still be looked up by a stale call: order with it. A new
        // one nobody can name yet.
        for &i in &slots[..reused] {
            let lock = self.st().fd_locks[i].clone();
            held.take(Rank::Fd(i), &lock);
        }
        let mut fds = Vec::with_capacity(slots.len());
        for (k, (&i, &(kind, what))) in slots.iter().zip(kinds).enumerate() {
            let fd = FIRST_FD + i as RawFd;
            let lock = (k >= reused).then(|| lock_named(LocName::indexed("fd", fd as u32, "lock")));
            let file = self.st().fill(i, kind, lock);
            self.checkers.kernel_opened(fd, file, what);
            fds.push(fd);
        }
        fds
    }

    /// A new buffer and its lock (made by the calling task; nobody else can reach it before
    /// an fd refers to it).
    fn new_buffer(&self) -> usize {
        let lock = Arc::new(RawMutex::named(crate::platform::cells::loc_name(
            LocName::indexed("buffer", self.st().buffers.len() as u32, "lock"),
        )));
        self.st().new_buffer(lock)
    }

    /// The TCP socket in slot `i` (its fd's lock held): its state, its connect's answer
    /// applied if its time has come.
    fn tcp_state(&self, i: usize) -> io::Result<TcpState> {
        let now = sched::now_ns();
        let mut k = self.st();
        let Some(FdKind::Tcp(state)) = k.fds[i].as_mut().map(|e| &mut e.kind) else {
            return Err(io::Error::from_raw_os_error(88)); // ENOTSOCK
        };
        if matches!(*state, TcpState::Connecting { until_ns } if until_ns <= now) {
            *state = TcpState::Refused { pending: true };
        }
        Ok(*state)
    }

    /// A read or a write on the TCP socket in slot `i`: its pending refusal (handed out
    /// once), else its state.
    fn tcp_io(&self, i: usize) -> io::Result<TcpState> {
        let state = self.tcp_state(i)?;
        match self.take_refusal(i) {
            Some(e) => Err(e),
            None => Ok(state),
        }
    }

    /// Take the TCP socket in slot `i`'s pending refusal (as Linux hands it to the next call
    /// that looks: `SO_ERROR`, a read, a write).
    fn take_refusal(&self, i: usize) -> Option<io::Error> {
        let mut k = self.st();
        match k.fds[i].as_mut().map(|e| &mut e.kind) {
            Some(FdKind::Tcp(TcpState::Refused { pending })) if *pending => {
                *pending = false;
                Some(io::Error::from_raw_os_error(ECONNREFUSED))
            }
            _ => None,
        }
    }
}

impl Backend for SimBackend {
    /// Go: `netpollopen` (EPOLL_CTL_ADD): the fd's lock, its buffers', epoll's interest
    /// list's, and its ready queue's when the fd is ready at once.
    fn open(&self, fd: RawFd, token: Token) -> io::Result<()> {
        let mut held = Held::default();
        let (i, kind) = self.take_fd(&mut held, fd)?;
        if self.st().fds[i].as_ref().is_some_and(|e| e.token.is_some()) {
            return Err(io::Error::from_raw_os_error(17)); // EEXIST
        }
        self.take_buffers(&mut held, kind.buffers());
        self.take_interest(&mut held);
        let (reg, readable, writable, start) = {
            let mut k = self.st();
            let e = k.fds[i].as_mut().expect("checked above");
            e.token = Some(token);
            let reg = Reg {
                fd,
                token,
                file: e.file,
            };
            if let Some(b) = kind.reads() {
                add_reg(&mut k.buffers[b].readers, reg);
            }
            if let Some(b) = kind.writes() {
                add_reg(&mut k.buffers[b].writers, reg);
            }
            add_reg(&mut k.epoll.interest, reg);
            // Edge-triggered registration reports the current state once (as epoll does).
            let readable = kind.reads().is_some_and(|b| {
                let b = &k.buffers[b];
                !b.bytes.is_empty() || !b.writer_open
            });
            let writable = kind
                .writes()
                .is_some_and(|b| k.buffers[b].bytes.len() < PIPE_CAPACITY);
            let start = !std::mem::replace(&mut k.epoll.poller_started, true);
            (reg, readable, writable, start)
        };
        let mode = Mode::from_rw(readable, writable);
        if mode.is_none() && !start {
            return Ok(());
        }
        self.take_queue(&mut held);
        if let Some(mode) = mode {
            self.push_event(
                Event {
                    token,
                    mode,
                    error: false,
                },
                reg.file,
            );
        }
        if start {
            // Registered without init (a backend used on its own): start the poller now.
            let poller = Self::start_poller(&self.np);
            self.st().epoll.poller_waiting = Some(poller);
        }
        self.kick(&held);
        Ok(())
    }

    /// Go: `netpollinit` on Linux. The poller (which stands for sysmon, running from the
    /// start) is started first; then the descriptor is made: on an old kernel (the `enosys`
    /// fault) `epoll_create1`'s -ENOSYS is stored first, as Go did, then the fallback's
    /// descriptor. Only then is there a window for a poll to see a bad descriptor, so only
    /// then does the poller start runnable, racing the rest of init (otherwise it starts
    /// parked, until the first event: fewer interleavings that cannot differ).
    fn init(&self) -> io::Result<()> {
        {
            let mut held = Held::default();
            self.take_interest(&mut held);
            self.take_queue(&mut held);
            let start = !std::mem::replace(&mut self.st().epoll.poller_started, true);
            if start {
                let poller = Self::start_poller(&self.np);
                if self.faults.old_kernel.is_zero() {
                    self.st().epoll.poller_waiting = Some(poller);
                } else {
                    sched::ready(poller);
                }
            }
        }
        if self.faults.old_kernel.draw() {
            self.epfd.set(EPOLL_CREATE1_ENOSYS);
        }
        self.epfd.set(EPOLL_FD);
        Ok(())
    }

    /// Go: `netpollclose` (EPOLL_CTL_DEL): the fd's lock, its buffers', epoll's interest
    /// list's (when it was registered). Events already queued stay queued.
    fn close(&self, fd: RawFd) -> io::Result<()> {
        let mut held = Held::default();
        let (i, kind) = self.take_fd(&mut held, fd)?;
        if self.st().fds[i].as_ref().is_none_or(|e| e.token.is_none()) {
            return Ok(());
        }
        self.take_buffers(&mut held, kind.buffers());
        self.take_interest(&mut held);
        let mut k = self.st();
        k.fds[i].as_mut().expect("checked above").token = None;
        for b in kind.buffers() {
            remove_reg(&mut k.buffers[b].readers, fd);
            remove_reg(&mut k.buffers[b].writers, fd);
        }
        remove_reg(&mut k.epoll.interest, fd);
        Ok(())
    }

    /// Go: `netpoll(delay)`, the kernel's half: the events visible now. With `delay_ns` < 0
    /// it blocks until there is one or a break; with `delay_ns` > 0 for at most that long.
    /// It takes epoll's ready queue's lock (and its interest list's first when spurious
    /// events may be drawn: they name a registered fd).
    fn poll(&self, delay_ns: i64, events: &mut Vec<Event>) -> io::Result<usize> {
        let deadline = (delay_ns > 0).then(|| sched::now_ns().saturating_add(delay_ns));
        loop {
            // Go's netpoll: `if epfd == -1 { return }` - and nothing else about it.
            let seen = self.epfd_seen.load(std::sync::atomic::Ordering::Relaxed);
            let epfd = if seen { EPOLL_FD } else { self.epfd.get() };
            if epfd == NO_EPOLL_FD {
                if delay_ns == 0 || sched::shutting_down() {
                    return Ok(0);
                }
                self.wait_for_events(Some(sched::now_ns() + NOT_INITED_SLEEP_NS));
                continue;
            }
            if epfd < 0 {
                // Go: epollwait returns -EBADF and netpoll throws.
                panic!("netpoll: epollwait on fd {epfd} failed: bad file descriptor");
            }
            self.epfd_seen
                .store(true, std::sync::atomic::Ordering::Relaxed);
            let mut held = Held::default();
            if !self.faults.spurious_event.is_zero() {
                self.take_interest(&mut held);
            }
            self.take_queue(&mut held);
            let now = sched::now_ns();
            let whole = self
                .np
                .get()
                .and_then(Weak::upgrade)
                .is_none_or(|np| np.protocol().compares_whole_tokens());
            // The events due now, in queue order; the time of the next one not yet due.
            let (due, later) = {
                let mut k = self.st();
                let later = k
                    .epoll
                    .queue
                    .iter()
                    .filter(|&&(_, at, _)| at > now)
                    .map(|&(_, at, _)| at)
                    .min();
                let mut due = Vec::new();
                k.epoll.queue.retain(|&(ev, at, file)| {
                    let take = at <= now;
                    if take {
                        due.push((ev, file));
                    }
                    !take
                });
                (due, later)
            };
            let mut n = 0;
            for (mut ev, file) in due {
                if file != BREAK_FILE && self.faults.error_event.draw() {
                    ev.error = true;
                }
                if ev.error {
                    self.checkers.kernel_error_event(file);
                }
                // Go's netpoll: is this the break's eventfd? (Before golang/go#72900's fix, on
                // a 32-bit machine, only the low word was compared: a pd's fdseq.)
                let is_break = if whole {
                    ev.token == BREAK_TOKEN
                } else {
                    ev.token.low_word() == BREAK_ADDR
                };
                if is_break {
                    if ev.mode != Mode::Read || ev.error {
                        panic!(
                            "netpoll: eventfd ready for something unexpected ({:?}{})",
                            ev.mode,
                            if ev.error { ", error" } else { "" }
                        );
                    }
                    // Go reads the eventfd and clears netpollWakeSig.
                    let mut k = self.st();
                    k.epoll.break_pending = false;
                    k.epoll.woken = true;
                    continue;
                }
                events.push(ev);
                n += 1;
            }
            // A spurious event rides along with real ones (a poll that would block does not
            // return for nothing: an endless chain of spurious wake-ups is not a fault the
            // kernel has, and it would make every search space infinite).
            if n > 0 && self.faults.spurious_event.draw() {
                let tokens: Vec<Token> = self.st().epoll.interest.iter().map(|r| r.token).collect();
                if !tokens.is_empty() {
                    let i = sched::choose(tokens.len());
                    events.push(Event {
                        token: tokens[i],
                        mode: Mode::ReadWrite,
                        error: false,
                    });
                    n += 1;
                }
            }
            let woken = std::mem::take(&mut self.st().epoll.woken);
            let timed_out = deadline.is_some_and(|d| d <= now);
            if n > 0 || delay_ns == 0 || woken || timed_out {
                return Ok(n);
            }
            // Nothing to report: wait for an event, a break, or the next delayed event.
            self.st().epoll.poller_waiting = Some(sched::current());
            let until = match (later, deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            drop(held);
            let wake = match until {
                Some(t) => sched::park_until("netpoll", t, || true),
                None => sched::park("netpoll", || true),
            };
            if sched::shutting_down() {
                return Ok(0);
            }
            if wake == Wake::TimedOut {
                let mut held = Held::default();
                self.take_queue(&mut held);
                self.st().epoll.poller_waiting = None;
            }
        }
    }

    /// Go: `netpollBreak`: the break's eventfd becomes readable (once until the poller has
    /// seen it: Go's `netpollWakeSig`), so a blocked `poll` returns, with no events if there
    /// are none.
    fn wake(&self) {
        let mut held = Held::default();
        self.take_queue(&mut held);
        {
            let mut k = self.st();
            if std::mem::replace(&mut k.epoll.break_pending, true) {
                return;
            }
            k.epoll.queue.push((
                Event {
                    token: BREAK_TOKEN,
                    mode: Mode::Read,
                    error: false,
                },
                sched::now_ns(),
                BREAK_FILE,
            ));
        }
        self.kick(&held);
    }

    /// read(2): the fd's lock, its buffer's, and the ready queue's when the read gives a
    /// registered writer room.
    fn read(&self, fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
        let mut held = Held::default();
        let (i, kind) = self.take_fd(&mut held, fd)?;
        if matches!(kind, FdKind::Tcp(_)) {
            // Linux: no data on a socket still connecting; a refusal, once; then end of file.
            return match self.tcp_io(i)? {
                TcpState::Connecting { .. } => Err(io::ErrorKind::WouldBlock.into()),
                _ => Ok(0),
            };
        }
        let Some(b) = kind.reads() else {
            return Err(ebadf());
        };
        self.take_buffers(&mut held, [b]);
        let (writers, n) = {
            let mut k = self.st();
            let buffer = &mut k.buffers[b];
            if buffer.bytes.is_empty() {
                if !buffer.writer_open {
                    return Ok(0);
                }
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let was_full = buffer.bytes.len() >= PIPE_CAPACITY;
            let n = buf.len().min(buffer.bytes.len());
            for (dst, src) in buf.iter_mut().zip(buffer.bytes.drain(..n)) {
                *dst = src;
            }
            if !was_full {
                return Ok(n);
            }
            (buffer.writers.clone(), n)
        };
        self.notify(&mut held, &writers, Mode::Write, false);
        Ok(n)
    }

    /// write(2): the fd's lock, its buffer's, and the ready queue's when the write gives
    /// a registered reader data.
    fn write(&self, fd: RawFd, buf: &[u8]) -> io::Result<usize> {
        let mut held = Held::default();
        let (i, kind) = self.take_fd(&mut held, fd)?;
        if matches!(kind, FdKind::Tcp(_)) {
            // Linux: a socket still connecting would block (tcp_sendmsg waits for the
            // connection); a refused one reports the refusal once, then a broken pipe; one
            // never connected is not connected.
            return match self.tcp_io(i)? {
                TcpState::Connecting { .. } => Err(io::ErrorKind::WouldBlock.into()),
                TcpState::Refused { .. } => Err(epipe()),
                TcpState::Fresh => Err(io::Error::from_raw_os_error(ENOTCONN)),
            };
        }
        let Some(b) = kind.writes() else {
            return Err(ebadf());
        };
        self.take_buffers(&mut held, [b]);
        let (readers, n) = {
            let mut k = self.st();
            let buffer = &mut k.buffers[b];
            if !buffer.reader_open {
                return Err(epipe());
            }
            let space = PIPE_CAPACITY - buffer.bytes.len();
            if space == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(space);
            buffer.bytes.extend(&buf[..n]);
            (buffer.readers.clone(), n)
        };
        if n > 0 {
            self.notify(&mut held, &readers, Mode::Read, false);
        }
        Ok(n)
    }

    /// close(2): the table's lock, the fd's, its buffers', epoll's interest list's when it
    /// was registered, and its ready queue's when the peer's registered fds see the hang-up.
    fn close_fd(&self, fd: RawFd) -> io::Result<()> {
        let mut held = Held::default();
        self.take_table(&mut held);
        self.checkers.kernel_closed(fd);
        let (i, kind) = self.take_fd(&mut held, fd)?;
        self.take_buffers(&mut held, kind.buffers());
        // The peer sees hang-up: a reader gets EOF readiness, a writer error readiness.
        let (registered, hangup, eof) = {
            let mut k = self.st();
            let entry = k.fds[i].take().expect("checked by take_fd");
            let registered = entry.token.is_some();
            for b in kind.buffers() {
                remove_reg(&mut k.buffers[b].readers, fd);
                remove_reg(&mut k.buffers[b].writers, fd);
            }
            let hangup = kind.reads().map(|b| {
                let buffer = &mut k.buffers[b];
                buffer.reader_open = false;
                (buffer.writers.clone(), buffer.bytes.len() >= PIPE_CAPACITY)
            });
            let eof = kind.writes().map(|b| {
                let buffer = &mut k.buffers[b];
                buffer.writer_open = false;
                buffer.readers.clone()
            });
            (registered, hangup, eof)
        };
        let wakes_peer = hangup.as_ref().is_some_and(|(w, _)| !w.is_empty())
            || eof.as_ref().is_some_and(|r| !r.is_empty());
        if registered {
            self.take_interest(&mut held);
            remove_reg(&mut self.st().epoll.interest, fd);
        }
        if wakes_peer {
            // The reading end closed: every registered writer gets EPOLLERR, with EPOLLOUT too
            // while the buffer has room (as Linux's pipe_poll reports). Either way epoll's
            // mapping readies both directions; the event is "error only" when the buffer is
            // full.
            if let Some((writers, full)) = hangup {
                self.notify(&mut held, &writers, Mode::ReadWrite, full);
            }
            if let Some(readers) = eof {
                self.notify(&mut held, &readers, Mode::Read, false);
            }
        }
        Ok(())
    }

    fn pipe(&self) -> io::Result<(RawFd, RawFd)> {
        let mut held = Held::default();
        self.take_table(&mut held);
        let b = self.new_buffer();
        let fds = self.alloc(
            &mut held,
            &[
                (FdKind::PipeRead(b), "a pipe's read end"),
                (FdKind::PipeWrite(b), "a pipe's write end"),
            ],
        );
        Ok((fds[0], fds[1]))
    }

    fn socket_pair(&self) -> io::Result<(RawFd, RawFd)> {
        let mut held = Held::default();
        self.take_table(&mut held);
        let ab = self.new_buffer();
        let ba = self.new_buffer();
        let fds = self.alloc(
            &mut held,
            &[
                (FdKind::Socket { rx: ba, tx: ab }, "a socket"),
                (FdKind::Socket { rx: ab, tx: ba }, "a socket"),
            ],
        );
        Ok((fds[0], fds[1]))
    }

    fn tcp_socket(&self) -> io::Result<RawFd> {
        let mut held = Held::default();
        self.take_table(&mut held);
        let fds = self.alloc(&mut held, &[(FdKind::Tcp(TcpState::Fresh), "a TCP socket")]);
        Ok(fds[0])
    }

    /// Every connect is in progress at first, and refused [`CONNECT_DELAY_NS`] later (there
    /// are no listeners): the socket then reports EPOLLOUT|EPOLLERR|EPOLLHUP, and `SO_ERROR`
    /// ECONNREFUSED.
    fn connect(&self, fd: RawFd, addr: SocketAddrV4) -> io::Result<bool> {
        let mut held = Held::default();
        let (i, _) = self.take_fd(&mut held, fd)?;
        if self.tcp_state(i)? != TcpState::Fresh {
            return Err(io::Error::from_raw_os_error(114)); // EALREADY
        }
        let until_ns = sched::now_ns() + CONNECT_DELAY_NS;
        let _ = addr;
        let (token, file) = {
            let mut k = self.st();
            let e = k.fds[i].as_mut().expect("checked by take_fd");
            e.kind = FdKind::Tcp(TcpState::Connecting { until_ns });
            (e.token, e.file)
        };
        if let Some(token) = token {
            // The refusal's readiness: visible to the poller from its time on.
            self.take_queue(&mut held);
            self.st().epoll.queue.push((
                Event {
                    token,
                    mode: Mode::ReadWrite,
                    error: false,
                },
                until_ns,
                file,
            ));
            self.kick(&held);
        }
        Ok(false)
    }

    fn take_socket_error(&self, fd: RawFd) -> io::Result<SocketError> {
        let mut held = Held::default();
        let (i, _) = self.take_fd(&mut held, fd)?;
        self.tcp_state(i)?;
        Ok(match self.take_refusal(i) {
            Some(e) => SocketError::Failed(e),
            // A socket still connecting has no error either (golang/go#19289).
            None => SocketError::None,
        })
    }

    fn peer_name(&self, fd: RawFd) -> io::Result<()> {
        let mut held = Held::default();
        let (i, kind) = self.take_fd(&mut held, fd)?;
        if matches!(kind, FdKind::Socket { .. }) {
            return Ok(());
        }
        self.tcp_state(i)?;
        Err(io::Error::from_raw_os_error(ENOTCONN))
    }

    fn refused_addr(&self) -> io::Result<SocketAddrV4> {
        Ok(REFUSED_ADDR)
    }
}
