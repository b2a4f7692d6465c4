//! The simulated kernel's data. It lives outside the simulated memory (in an ordinary mutex
//! that no call holds across a scheduling point); each piece belongs to one kernel object,
//! and a system call touches a piece only while it holds that object's simulated lock (see
//! `held`):
//! * the fd table's shape - which numbers are free, the open-file counter - belongs to the
//!   table;
//! * an fd number's entry (what it refers to, its registration, a TCP socket's state) to that
//!   number;
//! * a buffer's bytes, open ends and the registrations of the fds that read or write it, to
//!   the buffer;
//! * the interest list (and whether the poller was started), to epoll's interest list;
//! * the ready queue and the poller's wait state, to epoll's ready queue.
//!
//! So two calls that touch no object in common (a write to one pipe and a poll that finds
//! nothing, say) do not order each other, as on Linux (which has a lock per pipe, per epoll
//! instance, and looks fds up without one): the search explores the orders of calls that
//! conflict, not every order of every call.

use std::collections::VecDeque;
use std::sync::Arc;

use netpoll::platform::{Event, RawFd, Token};

use crate::engine::sync::RawMutex;

/// A registration with the epoll instance: the fd, its token, and its open file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Reg {
    pub(super) fd: RawFd,
    pub(super) token: Token,
    pub(super) file: u64,
}

/// Insert `r` into `regs`, kept sorted by fd number (the order events are queued in).
pub(super) fn add_reg(regs: &mut Vec<Reg>, r: Reg) {
    let at = regs.partition_point(|x| x.fd < r.fd);
    regs.insert(at, r);
}

/// Remove fd `fd`'s registration from `regs`.
pub(super) fn remove_reg(regs: &mut Vec<Reg>, fd: RawFd) {
    regs.retain(|x| x.fd != fd);
}

/// One direction of a byte stream.
pub(super) struct Buffer {
    pub(super) bytes: VecDeque<u8>,
    /// The reading end is still open.
    pub(super) reader_open: bool,
    /// The writing end is still open.
    pub(super) writer_open: bool,
    /// The registered fds that read it, and that write it.
    pub(super) readers: Vec<Reg>,
    pub(super) writers: Vec<Reg>,
    /// Its lock.
    pub(super) lock: Arc<RawMutex>,
}

/// What an fd number refers to.
#[derive(Clone, Copy)]
pub(super) enum FdKind {
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
pub(super) enum TcpState {
    /// Made, never connected.
    Fresh,
    /// Connecting; the refusal arrives at this virtual time.
    Connecting { until_ns: i64 },
    /// Refused; the error not yet taken (by `SO_ERROR`, a read or a write).
    Refused { pending: bool },
}

impl FdKind {
    pub(super) fn reads(self) -> Option<usize> {
        match self {
            FdKind::PipeRead(b) => Some(b),
            FdKind::Socket { rx, .. } => Some(rx),
            FdKind::PipeWrite(_) | FdKind::Tcp(_) => None,
        }
    }
    pub(super) fn writes(self) -> Option<usize> {
        match self {
            FdKind::PipeWrite(b) => Some(b),
            FdKind::Socket { tx, .. } => Some(tx),
            FdKind::PipeRead(_) | FdKind::Tcp(_) => None,
        }
    }
    /// The buffers it reads or writes, ascending (the order their locks are taken in).
    pub(super) fn buffers(self) -> impl Iterator<Item = usize> {
        let (a, b) = (self.reads(), self.writes());
        let (lo, hi) = match (a, b) {
            (Some(x), Some(y)) if y < x => (Some(y), Some(x)),
            _ => (a, b),
        };
        lo.into_iter().chain(hi)
    }
}

/// What an fd number refers to, and its registration.
pub(super) struct FdEntry {
    pub(super) kind: FdKind,
    /// Which open file this is (a number never reused, unlike the fd's).
    pub(super) file: u64,
    /// The poller registration, if any.
    pub(super) token: Option<Token>,
}

/// The epoll instance and the poller's wait.
#[derive(Default)]
pub(super) struct Epoll {
    /// Events not yet collected by a poll, each with the virtual time from which the poller
    /// can see it and the open file it is for.
    pub(super) queue: Vec<(Event, i64, u64)>,
    /// The registered fds, by fd number (under the interest list's lock).
    pub(super) interest: Vec<Reg>,
    /// The poller task, while it waits in `poll` for an event or a break.
    pub(super) poller_waiting: Option<u32>,
    /// A break was collected by the poller's current `poll` (it returns even without events).
    pub(super) woken: bool,
    /// A break's event is queued and not yet collected (Go: `netpollWakeSig`).
    pub(super) break_pending: bool,
    /// The poller daemon has been started (under the interest list's lock).
    pub(super) poller_started: bool,
}

/// The simulated kernel's data.
pub(super) struct Kernel {
    /// Per fd number (from the first one), what it refers to.
    pub(super) fds: Vec<Option<FdEntry>>,
    /// Per fd number, its lock: made (under the table's lock) when the table grows to it. A
    /// number never handed out has none, and a call on it fails with EBADF at once - a
    /// program learns a number from the call that made it, so that call came first.
    pub(super) fd_locks: Vec<Arc<RawMutex>>,
    pub(super) buffers: Vec<Buffer>,
    /// Open files made so far.
    pub(super) files: u64,
    pub(super) epoll: Epoll,
}

impl Kernel {
    pub(super) fn new() -> Kernel {
        Kernel {
            fds: Vec::new(),
            fd_locks: Vec::new(),
            buffers: Vec::new(),
            files: 0,
            epoll: Epoll::default(),
        }
    }

    /// The lowest free fd slots, `n` of them (POSIX: each new fd takes the lowest free
    /// number), and how many of them are new (past the end of the table).
    pub(super) fn free_slots(&self, n: usize) -> (Vec<usize>, usize) {
        let mut v: Vec<usize> = (0..self.fds.len())
            .filter(|&i| self.fds[i].is_none())
            .take(n)
            .collect();
        let new = n - v.len();
        v.extend(self.fds.len()..self.fds.len() + new);
        (v, new)
    }

    /// Fill slot `i` (an existing slot, or the next one with its new lock `new_lock`) with
    /// a new open file of kind `kind`; its file number.
    pub(super) fn fill(&mut self, i: usize, kind: FdKind, new_lock: Option<Arc<RawMutex>>) -> u64 {
        if let Some(lock) = new_lock {
            debug_assert_eq!(i, self.fds.len());
            self.fds.push(None);
            self.fd_locks.push(lock);
        }
        self.files += 1;
        self.fds[i] = Some(FdEntry {
            kind,
            file: self.files,
            token: None,
        });
        self.files
    }

    /// A new buffer, locked by `lock`; its index.
    pub(super) fn new_buffer(&mut self, lock: Arc<RawMutex>) -> usize {
        self.buffers.push(Buffer {
            bytes: VecDeque::new(),
            reader_open: true,
            writer_open: true,
            readers: Vec::new(),
            writers: Vec::new(),
            lock,
        });
        self.buffers.len() - 1
    }
}
