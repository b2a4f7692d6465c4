//! The simulated kernel: in-memory pipes and socket pairs with edge-triggered readiness, and
//! the poller's side of it (Go's `netpoll(delay)`).
//!
//! The kernel's state sits behind one simulated mutex, so every system call is a scheduling
//! point and system calls are linearizable (as on a real kernel). A state change that makes a
//! registered fd readable or writable queues an edge-triggered event for it and wakes the
//! poller if it is waiting. The poller is a long-lived daemon task of the platform (see
//! `poller`) that calls [`NetPoll::poll`](netpoll::NetPoll::poll) with an
//! infinite delay: [`SimBackend::poll`] then blocks (parks) until an event is visible or the
//! poller is woken by a break.
//!
//! Faults ([`Faults`], part of the scenario check's identity) are drawn from the one choice
//! stream, so they replay exactly.

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, OnceLock, Weak};

use netpoll::platform::{Backend, Event, LocName, Mode, RawFd, SocketError, Token};

use super::checkers::Checkers;
use super::faults::{Faults, DELIVERY_DELAY_NS};
use super::SimNetPoll;
use crate::engine::sched::{self, Wake};
use crate::engine::sync::{Mutex, Plain};

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

/// One direction of a byte stream.
struct Buffer {
    bytes: VecDeque<u8>,
    /// The reading end is still open.
    reader_open: bool,
    /// The writing end is still open.
    writer_open: bool,
}

/// What an fd number refers to.
#[derive(Clone, Copy)]
enum FdKind {
    /// The read end of pipe buffer `b`.
    PipeRead(usize),
    /// The write end of pipe buffer `b`.
    PipeWrite(usize),
    /// One end of a socket pair: reads `rx`, writes `tx`.
    Socket { rx: usize, tx: usize },
    /// A TCP socket that has no connection (there are no listeners in the simulated host:
    /// every connect is refused).
    Tcp(TcpState),
}

/// Where a TCP socket of the simulated host stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TcpState {
    /// Made, never connected.
    Fresh,
    /// Connecting; the refusal arrives at this virtual time.
    Connecting { until_ns: i64 },
    /// Refused; the error not yet taken (by `SO_ERROR`, a read or a write).
    Refused { pending: bool },
}

impl FdKind {
    fn reads(self) -> Option<usize> {
        match self {
            FdKind::PipeRead(b) => Some(b),
            FdKind::Socket { rx, .. } => Some(rx),
            FdKind::PipeWrite(_) | FdKind::Tcp(_) => None,
        }
    }
    fn writes(self) -> Option<usize> {
        match self {
            FdKind::PipeWrite(b) => Some(b),
            FdKind::Socket { tx, .. } => Some(tx),
            FdKind::PipeRead(_) | FdKind::Tcp(_) => None,
        }
    }
}

struct FdEntry {
    kind: FdKind,
    /// Which open file this is (a number never reused, unlike the fd's).
    file: u64,
    /// The poller registration, if any.
    token: Option<Token>,
}

/// The simulated kernel.
struct Kernel {
    faults: Faults,
    fds: Vec<Option<FdEntry>>,
    buffers: Vec<Buffer>,
    /// Events not yet collected by a poll, each with the virtual time from which the poller
    /// can see it and the open file it is for.
    queue: Vec<(Event, i64, u64)>,
    /// Open files made so far.
    files: u64,
    /// The poller task, while it waits in `poll` for an event or a break.
    poller_waiting: Option<u32>,
    /// A break was collected by the poller's current `poll` (it returns even without events).
    woken: bool,
    /// A break's event is queued and not yet collected (Go: `netpollWakeSig`).
    break_pending: bool,
    /// The poller daemon has been started.
    poller_started: bool,
}

impl Kernel {
    fn alloc_fd(&mut self, kind: FdKind) -> RawFd {
        self.files += 1;
        let entry = FdEntry {
            kind,
            file: self.files,
            token: None,
        };
        // POSIX: the lowest free number.
        if let Some(i) = self.fds.iter().position(Option::is_none) {
            self.fds[i] = Some(entry);
            return FIRST_FD + i as RawFd;
        }
        self.fds.push(Some(entry));
        FIRST_FD + self.fds.len() as RawFd - 1
    }

    fn entry(&self, fd: RawFd) -> io::Result<&FdEntry> {
        let i = fd - FIRST_FD;
        if i < 0 {
            return Err(ebadf());
        }
        self.fds
            .get(i as usize)
            .and_then(Option::as_ref)
            .ok_or_else(ebadf)
    }

    fn entry_mut(&mut self, fd: RawFd) -> io::Result<&mut FdEntry> {
        let i = fd - FIRST_FD;
        if i < 0 {
            return Err(ebadf());
        }
        self.fds
            .get_mut(i as usize)
            .and_then(Option::as_mut)
            .ok_or_else(ebadf)
    }

    /// The TCP socket `fd`'s state, its connect's answer applied if its time has come.
    fn tcp(&mut self, fd: RawFd) -> io::Result<&mut TcpState> {
        let now = sched::now_ns();
        let FdKind::Tcp(state) = &mut self.entry_mut(fd)?.kind else {
            return Err(io::Error::from_raw_os_error(88)); // ENOTSOCK
        };
        if matches!(*state, TcpState::Connecting { until_ns } if until_ns <= now) {
            *state = TcpState::Refused { pending: true };
        }
        Ok(state)
    }

    /// Take a refused socket's pending error (as Linux hands it to the next call that
    /// looks: `SO_ERROR`, a read, a write).
    fn take_refusal(state: &mut TcpState) -> Option<io::Error> {
        match state {
            TcpState::Refused { pending } if *pending => {
                *pending = false;
                Some(io::Error::from_raw_os_error(ECONNREFUSED))
            }
            _ => None,
        }
    }

    /// Queue one event for every registered fd that `event_for` picks, given what the fd
    /// refers to.
    fn notify(&mut self, event_for: impl Fn(FdKind) -> Option<(Mode, bool)>) {
        let evs: Vec<(Event, u64)> = self
            .fds
            .iter()
            .flatten()
            .filter_map(|e| {
                let (mode, error) = event_for(e.kind)?;
                let ev = Event {
                    token: e.token?,
                    mode,
                    error,
                };
                Some((ev, e.file))
            })
            .collect();
        for (ev, file) in evs {
            self.push_event(ev, file);
        }
    }

    /// Queue `ev` for open file `file`, visible at once or (a delayed-delivery fault) a
    /// little later.
    fn push_event(&mut self, ev: Event, file: u64) {
        let now = sched::now_ns();
        let at = if self.faults.delayed_delivery.draw() {
            now + DELIVERY_DELAY_NS
        } else {
            now
        };
        self.queue.push((ev, at, file));
    }

    /// Readiness edges for buffer `b`: its registered readers when it became `readable`, its
    /// registered writers when it became `writable`.
    fn edge(&mut self, b: usize, readable: bool, writable: bool) {
        self.notify(|kind| {
            let r = readable && kind.reads() == Some(b);
            let w = writable && kind.writes() == Some(b);
            Mode::from_rw(r, w).map(|mode| (mode, false))
        });
    }

    /// The reading end of buffer `b` closed: every registered writer of `b` gets EPOLLERR,
    /// with EPOLLOUT too while the buffer has room (as Linux's pipe_poll reports). Either way
    /// epoll's mapping readies both directions; the event is "error only" when the buffer is
    /// full.
    fn writer_hangup(&mut self, b: usize) {
        let full = self.buffers[b].bytes.len() >= PIPE_CAPACITY;
        self.notify(|kind| (kind.writes() == Some(b)).then_some((Mode::ReadWrite, full)));
    }
}

fn ebadf() -> io::Error {
    io::Error::from_raw_os_error(9) // EBADF
}

fn epipe() -> io::Error {
    io::Error::from_raw_os_error(32) // EPIPE
}

/// Simulated pipes and socket pairs plus the simulated poller.
pub struct SimBackend {
    kernel: Mutex<Kernel>,
    /// Go's `epfd`: -1 until `init`, written by `init` (under the core's init lock) and read
    /// without a lock by every poll - which is safe only once the poll has seen the core's
    /// `inited` flag set (golang/go#22606).
    epfd: Plain<RawFd>,
    /// The kernel's faults (a copy, for draws made outside the kernel's lock).
    faults: Faults,
    /// The poller has read a valid `epfd` (it never changes after that, and a task's later
    /// reads cannot see an older store: they need not be simulated). Outside the model.
    epfd_seen: std::sync::atomic::AtomicBool,
    np: Arc<OnceLock<Weak<SimNetPoll>>>,
    /// Told of every descriptor made and closed, and of error events delivered.
    checkers: Checkers,
}

impl SimBackend {
    /// A backend whose poller reaches the netpoll in `np` (set once it exists).
    pub(crate) fn new(
        np: Arc<OnceLock<Weak<SimNetPoll>>>,
        faults: Faults,
        checkers: Checkers,
    ) -> SimBackend {
        let kernel = Kernel {
            faults,
            fds: Vec::new(),
            buffers: Vec::new(),
            queue: Vec::new(),
            files: 0,
            poller_waiting: None,
            woken: false,
            break_pending: false,
            poller_started: false,
        };
        SimBackend {
            kernel: Mutex::named(
                kernel,
                crate::platform::cells::loc_name(LocName::single("kernel", "lock")),
            ),
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

    fn kernel(&self) -> crate::engine::sync::MutexGuard<'_, Kernel> {
        self.kernel.lock().unwrap_or_else(|e| e.into_inner())
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
        self.kernel().poller_waiting = Some(sched::current());
        let wake = match until_ns {
            Some(t) => sched::park_until("netpoll", t, || true),
            None => sched::park("netpoll", || true),
        };
        if wake == Wake::TimedOut {
            self.kernel().poller_waiting = None;
        }
    }

    /// After queueing events: wake the poller if it waits.
    fn kick(&self, k: &mut Kernel) {
        if k.queue.is_empty() {
            return;
        }
        if let Some(p) = k.poller_waiting.take() {
            sched::ready(p);
        }
    }

    fn new_buffer(k: &mut Kernel) -> usize {
        k.buffers.push(Buffer {
            bytes: VecDeque::new(),
            reader_open: true,
            writer_open: true,
        });
        k.buffers.len() - 1
    }
}

impl Backend for SimBackend {
    fn open(&self, fd: RawFd, token: Token) -> io::Result<()> {
        let mut k = self.kernel();
        let e = k.entry_mut(fd)?;
        if e.token.is_some() {
            return Err(io::Error::from_raw_os_error(17)); // EEXIST
        }
        e.token = Some(token);
        // Edge-triggered registration reports the current state once (as epoll does).
        let kind = e.kind;
        let file = e.file;
        let readable = kind.reads().is_some_and(|b| {
            let b = &k.buffers[b];
            !b.bytes.is_empty() || !b.writer_open
        });
        let writable = kind
            .writes()
            .is_some_and(|b| k.buffers[b].bytes.len() < PIPE_CAPACITY);
        if let Some(mode) = Mode::from_rw(readable, writable) {
            k.push_event(
                Event {
                    token,
                    mode,
                    error: false,
                },
                file,
            );
        }
        if !std::mem::replace(&mut k.poller_started, true) {
            // Registered without init (a backend used on its own): start the poller now.
            k.poller_waiting = Some(Self::start_poller(&self.np));
        }
        self.kick(&mut k);
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
            let mut k = self.kernel();
            if !std::mem::replace(&mut k.poller_started, true) {
                let poller = Self::start_poller(&self.np);
                if self.faults.old_kernel.is_zero() {
                    k.poller_waiting = Some(poller);
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

    fn close(&self, fd: RawFd) -> io::Result<()> {
        let mut k = self.kernel();
        k.entry_mut(fd)?.token = None;
        Ok(())
    }

    /// Go: `netpoll(delay)`, the kernel's half: the events visible now. With `delay_ns` < 0
    /// it blocks until there is one or a break; with `delay_ns` > 0 for at most that long.
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
            let mut k = self.kernel();
            let now = sched::now_ns();
            let mut n = 0;
            let mut later: Option<i64> = None;
            let faults = k.faults;
            let whole = self
                .np
                .get()
                .and_then(Weak::upgrade)
                .is_none_or(|np| np.protocol().compares_whole_tokens());
            let mut i = 0;
            while i < k.queue.len() {
                let (mut ev, at, file) = k.queue[i];
                if at > now {
                    later = Some(later.map_or(at, |l| l.min(at)));
                    i += 1;
                    continue;
                }
                k.queue.remove(i);
                if file != BREAK_FILE && faults.error_event.draw() {
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
                    k.break_pending = false;
                    k.woken = true;
                    continue;
                }
                events.push(ev);
                n += 1;
            }
            // A spurious event rides along with real ones (a poll that would block does not
            // return for nothing: an endless chain of spurious wake-ups is not a fault the
            // kernel has, and it would make every search space infinite).
            if n > 0 && faults.spurious_event.draw() {
                let tokens: Vec<Token> = k.fds.iter().flatten().filter_map(|e| e.token).collect();
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
            let woken = std::mem::take(&mut k.woken);
            let timed_out = deadline.is_some_and(|d| d <= now);
            if n > 0 || delay_ns == 0 || woken || timed_out {
                return Ok(n);
            }
            // Nothing to report: wait for an event, a break, or the next delayed event.
            k.poller_waiting = Some(sched::current());
            let until = match (later, deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            drop(k);
            let wake = match until {
                Some(t) => sched::park_until("netpoll", t, || true),
                None => sched::park("netpoll", || true),
            };
            if sched::shutting_down() {
                return Ok(0);
            }
            if wake == Wake::TimedOut {
                self.kernel().poller_waiting = None;
            }
        }
    }

    /// Go: `netpollBreak`: the break's eventfd becomes readable (once until the poller has
    /// seen it: Go's `netpollWakeSig`), so a blocked `poll` returns, with no events if there
    /// are none.
    fn wake(&self) {
        let mut k = self.kernel();
        if std::mem::replace(&mut k.break_pending, true) {
            return;
        }
        k.queue.push((
            Event {
                token: BREAK_TOKEN,
                mode: Mode::Read,
                error: false,
            },
            sched::now_ns(),
            BREAK_FILE,
        ));
        self.kick(&mut k);
    }

    fn read(&self, fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
        let mut k = self.kernel();
        if matches!(k.entry(fd)?.kind, FdKind::Tcp(_)) {
            // Linux: no data on a socket still connecting; a refusal, once; then end of file.
            let state = k.tcp(fd)?;
            if let Some(e) = Kernel::take_refusal(state) {
                return Err(e);
            }
            return match state {
                TcpState::Connecting { .. } => Err(io::ErrorKind::WouldBlock.into()),
                _ => Ok(0),
            };
        }
        let Some(b) = k.entry(fd)?.kind.reads() else {
            return Err(ebadf());
        };
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
        if was_full {
            k.edge(b, false, true);
            self.kick(&mut k);
        }
        Ok(n)
    }

    fn write(&self, fd: RawFd, buf: &[u8]) -> io::Result<usize> {
        let mut k = self.kernel();
        if matches!(k.entry(fd)?.kind, FdKind::Tcp(_)) {
            // Linux: a socket still connecting would block (tcp_sendmsg waits for the
            // connection); a refused one reports the refusal once, then a broken pipe; one
            // never connected is not connected.
            let state = k.tcp(fd)?;
            if let Some(e) = Kernel::take_refusal(state) {
                return Err(e);
            }
            return match state {
                TcpState::Connecting { .. } => Err(io::ErrorKind::WouldBlock.into()),
                TcpState::Refused { .. } => Err(epipe()),
                TcpState::Fresh => Err(io::Error::from_raw_os_error(ENOTCONN)),
            };
        }
        let Some(b) = k.entry(fd)?.kind.writes() else {
            return Err(ebadf());
        };
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
        if n > 0 {
            k.edge(b, true, false);
            self.kick(&mut k);
        }
        Ok(n)
    }

    fn close_fd(&self, fd: RawFd) -> io::Result<()> {
        let mut k = self.kernel();
        self.checkers.kernel_closed(fd);
        let kind = k.entry(fd)?.kind;
        k.fds[(fd - FIRST_FD) as usize] = None;
        // The peer sees hang-up: a reader gets EOF readiness, a writer error readiness.
        if let Some(b) = kind.reads() {
            k.buffers[b].reader_open = false;
            k.writer_hangup(b);
        }
        if let Some(b) = kind.writes() {
            k.buffers[b].writer_open = false;
            k.edge(b, true, false);
        }
        self.kick(&mut k);
        Ok(())
    }

    fn pipe(&self) -> io::Result<(RawFd, RawFd)> {
        let mut k = self.kernel();
        let b = Self::new_buffer(&mut k);
        let r = k.alloc_fd(FdKind::PipeRead(b));
        let w = k.alloc_fd(FdKind::PipeWrite(b));
        let file = |fd| k.entry(fd).map_or(0, |e| e.file);
        self.checkers.kernel_opened(r, file(r), "a pipe's read end");
        self.checkers
            .kernel_opened(w, file(w), "a pipe's write end");
        Ok((r, w))
    }

    fn socket_pair(&self) -> io::Result<(RawFd, RawFd)> {
        let mut k = self.kernel();
        let ab = Self::new_buffer(&mut k);
        let ba = Self::new_buffer(&mut k);
        let a = k.alloc_fd(FdKind::Socket { rx: ba, tx: ab });
        let b = k.alloc_fd(FdKind::Socket { rx: ab, tx: ba });
        let file = |fd| k.entry(fd).map_or(0, |e| e.file);
        self.checkers.kernel_opened(a, file(a), "a socket");
        self.checkers.kernel_opened(b, file(b), "a socket");
        Ok((a, b))
    }

    fn tcp_socket(&self) -> io::Result<RawFd> {
        let mut k = self.kernel();
        let fd = k.alloc_fd(FdKind::Tcp(TcpState::Fresh));
        let file = k.entry(fd).map_or(0, |e| e.file);
        self.checkers.kernel_opened(fd, file, "a TCP socket");
        Ok(fd)
    }

    /// Every connect is in progress at first, and refused [`CONNECT_DELAY_NS`] later (there
    /// are no listeners): the socket then reports EPOLLOUT|EPOLLERR|EPOLLHUP, and `SO_ERROR`
    /// ECONNREFUSED.
    fn connect(&self, fd: RawFd, addr: SocketAddrV4) -> io::Result<bool> {
        let mut k = self.kernel();
        let state = k.tcp(fd)?;
        if *state != TcpState::Fresh {
            return Err(io::Error::from_raw_os_error(114)); // EALREADY
        }
        let until_ns = sched::now_ns() + CONNECT_DELAY_NS;
        *state = TcpState::Connecting { until_ns };
        let _ = addr;
        let e = k.entry(fd)?;
        let file = e.file;
        if let Some(token) = e.token {
            // The refusal's readiness: visible to the poller from its time on.
            k.queue.push((
                Event {
                    token,
                    mode: Mode::ReadWrite,
                    error: false,
                },
                until_ns,
                file,
            ));
            self.kick(&mut k);
        }
        Ok(false)
    }

    fn take_socket_error(&self, fd: RawFd) -> io::Result<SocketError> {
        let mut k = self.kernel();
        let state = k.tcp(fd)?;
        Ok(match Kernel::take_refusal(state) {
            Some(e) => SocketError::Failed(e),
            // A socket still connecting has no error either (golang/go#19289).
            None => SocketError::None,
        })
    }

    fn peer_name(&self, fd: RawFd) -> io::Result<()> {
        let mut k = self.kernel();
        let connected = matches!(k.entry(fd)?.kind, FdKind::Socket { .. });
        if connected {
            return Ok(());
        }
        k.tcp(fd)?;
        Err(io::Error::from_raw_os_error(ENOTCONN))
    }

    fn refused_addr(&self) -> io::Result<SocketAddrV4> {
        Ok(REFUSED_ADDR)
    }
}
