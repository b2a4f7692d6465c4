//! Simulated fds: in-memory pipes and socket pairs with edge-triggered readiness, a simulated
//! poller, and fault injection.
//!
//! The "kernel" state sits behind one simulated mutex, so every system call is a scheduling
//! point and system calls are linearizable (as on a real kernel). A state change that makes a
//! registered fd readable or writable queues an edge-triggered event for it and makes sure a
//! poller task runs: the poller task calls [`NetPoll::poll`](netpoll::NetPoll::poll) until the
//! queue is empty, then ends (the next edge starts a new one). `poll` never blocks.
//!
//! Faults ([`Faults`], part of the run's configuration: [`Builder::faults`](crate::Builder))
//! are drawn from the one choice stream, so they replay exactly.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, OnceLock, Weak};

use netpoll::platform::{Backend, Event, LocName, Mode, Platform, RawFd, Token};

pub use crate::faults::Faults;
use crate::platform::SimNetPoll;
use crate::sched;
use crate::sync::Mutex;
use crate::thread;

/// How many bytes a simulated pipe (or one direction of a socket pair) buffers.
pub const PIPE_CAPACITY: usize = 64;
/// The first fd number handed out (0-2 are stdio).
const FIRST_FD: RawFd = 3;

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
}

impl FdKind {
    fn reads(self) -> Option<usize> {
        match self {
            FdKind::PipeRead(b) => Some(b),
            FdKind::Socket { rx, .. } => Some(rx),
            FdKind::PipeWrite(_) => None,
        }
    }
    fn writes(self) -> Option<usize> {
        match self {
            FdKind::PipeWrite(b) => Some(b),
            FdKind::Socket { tx, .. } => Some(tx),
            FdKind::PipeRead(_) => None,
        }
    }
}

struct FdEntry {
    kind: FdKind,
    /// The poller registration, if any.
    token: Option<Token>,
}

/// The simulated kernel.
struct Kernel {
    fds: Vec<Option<FdEntry>>,
    buffers: Vec<Buffer>,
    /// Events not yet collected by a poll.
    queue: Vec<Event>,
    /// A poller task is running or about to.
    poller_active: bool,
}

impl Kernel {
    fn alloc_fd(&mut self, kind: FdKind) -> RawFd {
        let entry = FdEntry { kind, token: None };
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

    /// Queue one event for every registered fd that `event_for` picks, given what the fd
    /// refers to.
    fn notify(&mut self, event_for: impl Fn(FdKind) -> Option<(Mode, bool)>) {
        let evs: Vec<Event> = self
            .fds
            .iter()
            .flatten()
            .filter_map(|e| {
                let (mode, error) = event_for(e.kind)?;
                Some(Event {
                    token: e.token?,
                    mode,
                    error,
                })
            })
            .collect();
        self.queue.extend(evs);
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
    np: Arc<OnceLock<Weak<SimNetPoll>>>,
    faults: Faults,
}

use crate::faults::DELIVERY_DELAY_NS;

impl SimBackend {
    /// A backend whose poller task reaches the netpoll in `np` (set once it exists).
    pub(crate) fn new(np: Arc<OnceLock<Weak<SimNetPoll>>>, faults: Faults) -> SimBackend {
        let kernel = Kernel {
            fds: Vec::new(),
            buffers: Vec::new(),
            queue: Vec::new(),
            poller_active: false,
        };
        SimBackend {
            kernel: Mutex::named(kernel, LocName::single("kernel", "lock")),
            np,
            faults,
        }
    }

    fn kernel(&self) -> crate::sync::MutexGuard<'_, Kernel> {
        self.kernel.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After queueing events: make sure a poller task will collect them.
    fn kick(&self, k: &mut Kernel) {
        if k.queue.is_empty() || k.poller_active {
            return;
        }
        k.poller_active = true;
        let np = self.np.clone();
        let delayed = Faults::draw(self.faults.delayed_delivery);
        let _ = thread::spawn_named("netpoll", move || {
            let Some(np) = np.get().and_then(Weak::upgrade) else {
                return;
            };
            if delayed {
                sched::sleep_ns(DELIVERY_DELAY_NS);
            }
            loop {
                // The poll result only fails for a real poller's system call.
                let _ = np.poll(0);
                let backend = np.platform().backend();
                let mut k = backend.kernel();
                if k.queue.is_empty() {
                    k.poller_active = false;
                    return;
                }
            }
        });
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
        let readable = kind.reads().is_some_and(|b| {
            let b = &k.buffers[b];
            !b.bytes.is_empty() || !b.writer_open
        });
        let writable = kind
            .writes()
            .is_some_and(|b| k.buffers[b].bytes.len() < PIPE_CAPACITY);
        if let Some(mode) = Mode::from_rw(readable, writable) {
            k.queue.push(Event {
                token,
                mode,
                error: false,
            });
        }
        self.kick(&mut k);
        Ok(())
    }

    fn close(&self, fd: RawFd) -> io::Result<()> {
        let mut k = self.kernel();
        k.entry_mut(fd)?.token = None;
        Ok(())
    }

    fn poll(&self, _delay_ns: i64, events: &mut Vec<Event>) -> io::Result<usize> {
        let mut k = self.kernel();
        let mut n = 0;
        for mut ev in std::mem::take(&mut k.queue) {
            if Faults::draw(self.faults.error_event) {
                ev.error = true;
            }
            events.push(ev);
            n += 1;
        }
        if Faults::draw(self.faults.spurious_event) {
            let tokens: Vec<Token> = k.fds.iter().flatten().filter_map(|e| e.token).collect();
            if !tokens.is_empty() {
                let i = if tokens.len() > 1 {
                    sched::choose(tokens.len())
                } else {
                    0
                };
                events.push(Event {
                    token: tokens[i],
                    mode: Mode::ReadWrite,
                    error: false,
                });
                n += 1;
            }
        }
        Ok(n)
    }

    fn wake(&self) {
        // The simulated poll never blocks, so there is nothing to interrupt.
    }

    fn read(&self, fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
        let mut k = self.kernel();
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
        Ok((r, w))
    }

    fn socket_pair(&self) -> io::Result<(RawFd, RawFd)> {
        let mut k = self.kernel();
        let ab = Self::new_buffer(&mut k);
        let ba = Self::new_buffer(&mut k);
        let a = k.alloc_fd(FdKind::Socket { rx: ba, tx: ab });
        let b = k.alloc_fd(FdKind::Socket { rx: ab, tx: ba });
        Ok((a, b))
    }
}
