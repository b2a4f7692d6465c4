//! The traits a platform implements so the core can run on it.
//!
//! The core (`crate::netpoll`, `crate::pd`, `crate::cache`, `crate::fd`) never touches a
//! system call, an OS thread, the wall clock or a std atomic that another task can see.
//! Everything shared goes through the associated types of [`Platform`]:
//!
//! * [`Atomic`] for the fields Go accesses with `runtime/internal/atomic` (all sequentially
//!   consistent in Go; the core passes `Ordering::SeqCst` at every such site);
//! * [`PlainCell`] for Go's plain fields, which are protected by `pd.lock` for writers but which
//!   the pre-#45211 protocol reads without the lock. On a real platform a plain cell is a
//!   `Relaxed` std atomic, so even the historical racy reads are defined Rust;
//! * [`RawLock`] for Go's runtime `mutex` (acquire on lock, release on unlock);
//! * [`Clock`] for `nanotime` and the per-pd deadline timers;
//! * [`Backend`] for `netpollopen`/`netpollclose`/`netpoll`/`netpollBreak` and fd system calls;
//! * [`Scheduler`] for `getg`, `gopark`, `goready`, and task spawning.
//!
//! The real platform (`netpoll-real`) instantiates these with std atomics and OS threads: all
//! static dispatch, no allocation per operation. The simulator (`netpoll-sim`) makes every call
//! on these traits a scheduling point, so it can choose interleavings and weak-memory outcomes.

use std::fmt;
use std::io;
use std::net::SocketAddrV4;
use std::sync::atomic::Ordering;

use crate::observe::Observation;

/// A value that fits in a machine word, so that platforms can store every shared field as
/// 64 bits (the simulator keeps one kind of store history for all of them).
pub trait Word: Copy + Send + Sync + fmt::Debug + PartialEq + 'static {
    /// The value as 64 bits (sign-extended for signed types).
    fn to_bits(self) -> u64;
    /// The inverse of [`Word::to_bits`].
    fn from_bits(bits: u64) -> Self;
}

macro_rules! word_int {
    ($($t:ty),*) => {$(
        impl Word for $t {
            #[inline(always)]
            fn to_bits(self) -> u64 { self as u64 }
            #[inline(always)]
            fn from_bits(bits: u64) -> Self { bits as $t }
        }
    )*};
}
word_int!(u8, u16, u32, u64, usize, i32, i64);

impl Word for bool {
    #[inline(always)]
    fn to_bits(self) -> u64 {
        self as u64
    }
    #[inline(always)]
    fn from_bits(bits: u64) -> Self {
        bits != 0
    }
}

/// A name for a shared location, used by the simulator's event log and renderings
/// (`pd0.rg`, `pd0.closing`, `netpoll.waiters`). Real platforms ignore it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocName {
    /// The object the location belongs to: `"pd"`, `"cache"`, `"netpoll"`, a scenario's name.
    pub object: &'static str,
    /// Which object of that kind (a pd's cache index); `u32::MAX` when there is only one.
    pub index: u32,
    /// The field: `"rg"`, `"atomic_info"`, `"closing"`.
    pub field: &'static str,
}

impl LocName {
    /// A location of a singleton object.
    pub const fn single(object: &'static str, field: &'static str) -> Self {
        LocName {
            object,
            index: u32::MAX,
            field,
        }
    }
    /// A location of an indexed object.
    pub const fn indexed(object: &'static str, index: u32, field: &'static str) -> Self {
        LocName {
            object,
            index,
            field,
        }
    }
}

impl fmt::Display for LocName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.index == u32::MAX {
            write!(f, "{}.{}", self.object, self.field)
        } else {
            write!(f, "{}{}.{}", self.object, self.index, self.field)
        }
    }
}

/// An atomic word. Orderings mean what they mean for `std::sync::atomic`.
///
/// Contract: every method is one atomic access (or one read-modify-write) of the location;
/// a simulator may run other tasks before it. Arithmetic wraps.
pub trait Atomic<T: Word>: Send + Sync + 'static {
    /// A new location holding `v`, named `name` for traces.
    fn new(v: T, name: LocName) -> Self;
    /// Atomic load.
    fn load(&self, ord: Ordering) -> T;
    /// Atomic store.
    fn store(&self, v: T, ord: Ordering);
    /// Atomic exchange; returns the previous value.
    fn swap(&self, v: T, ord: Ordering) -> T;
    /// Strong compare-and-exchange, as `std`'s `compare_exchange`.
    fn compare_exchange(
        &self,
        current: T,
        new: T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<T, T>;
    /// Wrapping add; returns the previous value.
    fn fetch_add(&self, v: T, ord: Ordering) -> T;
    /// Wrapping subtract; returns the previous value.
    fn fetch_sub(&self, v: T, ord: Ordering) -> T;

    /// The current value, read outside the protocol for reports (deadlock diagnostics): not a
    /// scheduling point in a simulator, never used by the protocol itself.
    fn peek(&self) -> T {
        self.load(Ordering::Relaxed)
    }

    /// Sequentially consistent compare-and-swap, Go's `CompareAndSwap`: true when it swapped.
    #[inline(always)]
    fn cas(&self, current: T, new: T) -> bool {
        self.compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }
}

/// What protects the writes of a plain field: each plain field names it, and a simulator
/// checks it on every write it explores.
#[derive(Clone, Copy, Debug)]
pub enum ProtectedBy<'a, L> {
    /// Written only by a task that holds this lock (a simulator fails a run in which a write
    /// happens without it).
    Lock(&'a L),
    /// Written only when the protocol described guarantees that no other task accesses the
    /// field (not checked).
    Protocol(&'static str),
}

/// A plain (non-atomic in Go) field. Writers hold the lock the field names (most pd fields:
/// the pd's lock); the pre-#45211 protocol also reads some of these without it, which is the
/// race the simulator must expose. The rule is for writers: unlocked reads are the data-race
/// detector's business.
///
/// Contract: `get`/`set` are single accesses with no ordering (like `Relaxed`); a simulator
/// checks them with its data-race detector, and checks each `set` against `protected_by`.
pub trait PlainCell<T: Word, L: RawLock>: Send + Sync + 'static {
    /// A new cell holding `v`, named `name` for traces, whose writes `protected_by` protects.
    fn new(v: T, name: LocName, protected_by: ProtectedBy<'_, L>) -> Self;
    /// Read the field.
    fn get(&self) -> T;
    /// Write the field.
    fn set(&self, v: T);
    /// The current value, read outside the protocol for reports (see [`Atomic::peek`]).
    fn peek(&self) -> T {
        self.get()
    }
}

/// Go's runtime `mutex`: not reentrant, `lock` acquires, `unlock` releases.
///
/// Contract: `unlock` is called only by the task that holds the lock. Blocking in `lock` is a
/// scheduling point in the simulator.
pub trait RawLock: Send + Sync + 'static {
    /// A new, unlocked lock named `name` for traces.
    fn new(name: LocName) -> Self;
    /// Acquire the lock, blocking until it is free.
    fn lock(&self);
    /// Release the lock.
    fn unlock(&self);
}

/// Which netpoll callback a deadline timer runs when it fires.
/// Go: `netpollReadDeadline`, `netpollWriteDeadline`, `netpollDeadline`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerFunc {
    /// The read deadline expired (`rt` armed with `netpollReadDeadline`).
    ReadDeadline,
    /// The write deadline expired (`wt` armed with `netpollWriteDeadline`).
    WriteDeadline,
    /// The combined deadline expired (`rt` armed with `netpollDeadline` when rd == wd).
    Deadline,
}

/// What a timer carries to its callback: which function, which pd (cache index), and the
/// sequence number the pd had when the timer was armed (a stale seq makes the firing a no-op).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerFiring {
    /// The callback.
    pub func: TimerFunc,
    /// The pd's index in the poll cache.
    pub pd: u32,
    /// `rseq` or `wseq` at the time the timer was armed.
    pub seq: usize,
}

/// Monotonic time and the deadline timers that live inside each pd.
///
/// A platform delivers a due timer by calling
/// [`NetPoll::run_timer`](crate::netpoll::NetPoll::run_timer) with the [`TimerFiring`] it was
/// armed with, from whatever task or thread runs timers there (Go: the scheduler's
/// `checkTimers`). A firing may race with `modify_timer`/`stop_timer`; the core copes through
/// the sequence number, exactly as Go does.
pub trait Clock: Send + Sync + 'static {
    /// One pd's timer (Go's `timer` struct embedded in `pollDesc`). Created once, reused.
    type Timer: Send + Sync + 'static;
    /// Go: `nanotime`. Monotonic nanoseconds, always > 0.
    fn now_ns(&self) -> i64;
    /// A new, stopped timer, for the pd with cache index `pd` (`read` says which of its two).
    fn new_timer(&self, pd: u32, read: bool) -> Self::Timer;
    /// Go: `modtimer`/`resettimer`. (Re)arm `timer` to fire at `when_ns` with `firing`.
    fn modify_timer(&self, timer: &Self::Timer, when_ns: i64, firing: TimerFiring);
    /// Go: `deltimer`. Stop `timer`; true if it was armed and had not fired.
    fn stop_timer(&self, timer: &Self::Timer) -> bool;
}

/// A backend token for a pd: its cache index tagged with (low bits of) its fdseq, so that an
/// event for a closed-and-reused pd can be recognised as stale (Go: `taggedPointerPack`).
///
/// The layout is Go's tagged pointer as it lies in `epoll_event.data` on a 32-bit
/// little-endian machine, the layout golang/go#72900 is about: the tag (the low 32 bits of
/// fdseq) in the low word, the pd in the high word - its cache index plus one, because Go's
/// pointer is never 0 and neither is this word. A backend that tells its own tokens (the
/// break's) from the pds' must compare whole tokens: the low word alone is a pd's fdseq.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Token(pub u64);

impl Token {
    /// Pack a cache index and an fdseq tag.
    pub fn pack(index: u32, fdseq: usize) -> Token {
        Token(((index as u64 + 1) << 32) | (fdseq as u32 as u64))
    }
    /// The cache index (`u32::MAX` for a token that names no pd).
    pub fn index(self) -> u32 {
        ((self.0 >> 32) as u32).wrapping_sub(1)
    }
    /// The fdseq tag (the low 32 bits of fdseq).
    pub fn tag(self) -> usize {
        self.0 as u32 as usize
    }
    /// The low word: what a 32-bit `uintptr` read of the event's data sees.
    pub fn low_word(self) -> u32 {
        self.0 as u32
    }
}

/// An I/O direction. Go passes `'r'`, `'w'` or `'r'+'w'` as an int.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `'r'`
    Read,
    /// `'w'`
    Write,
    /// `'r'+'w'`: only for readiness events and `set_deadline`.
    ReadWrite,
}

impl Mode {
    /// Whether the read side is included.
    pub fn has_read(self) -> bool {
        matches!(self, Mode::Read | Mode::ReadWrite)
    }
    /// Whether the write side is included.
    pub fn has_write(self) -> bool {
        matches!(self, Mode::Write | Mode::ReadWrite)
    }
    /// Combine read and write readiness; `None` when neither.
    pub fn from_rw(read: bool, write: bool) -> Option<Mode> {
        match (read, write) {
            (true, true) => Some(Mode::ReadWrite),
            (true, false) => Some(Mode::Read),
            (false, true) => Some(Mode::Write),
            (false, false) => None,
        }
    }
}

/// A readiness event from the backend's poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The token the pd was registered with.
    pub token: Token,
    /// Which sides are ready.
    pub mode: Mode,
    /// True when the only condition reported was an error (EPOLLERR alone, EV_ERROR):
    /// Go records it in the pd's event-error bit.
    pub error: bool,
}

/// A file descriptor number.
pub type RawFd = i32;

/// The OS poller plus the fd system calls the FD layer needs.
///
/// Contract: `open` registers `fd` edge-triggered for read and write readiness; `poll` blocks
/// for at most `delay_ns` (<0: until an event or a `wake`; 0: never) and appends events to
/// `events`; `wake` interrupts a blocked `poll` (repeated calls may be coalesced). The fd calls
/// are non-blocking: "would block" is `io::ErrorKind::WouldBlock`.
pub trait Backend: Send + Sync + 'static {
    /// Go: `netpollinit`. Make the OS poller (once, before the first `open`; the core calls
    /// it from [`NetPoll::generic_init`](crate::netpoll::NetPoll::generic_init) under its init
    /// lock). The default does nothing: a backend that made its poller when it was built.
    fn init(&self) -> io::Result<()> {
        Ok(())
    }
    /// Go: `netpollopen`. Register `fd`, to be reported with `token`.
    fn open(&self, fd: RawFd, token: Token) -> io::Result<()>;
    /// Go: `netpollclose`. Deregister `fd`.
    fn close(&self, fd: RawFd) -> io::Result<()>;
    /// Go: `netpoll(delay)`, the system-call half. Returns the number of events appended.
    fn poll(&self, delay_ns: i64, events: &mut Vec<Event>) -> io::Result<usize>;
    /// Go: `netpollBreak`. Wake a concurrent or the next `poll`.
    fn wake(&self);
    /// `read(2)` on a non-blocking fd.
    fn read(&self, fd: RawFd, buf: &mut [u8]) -> io::Result<usize>;
    /// `write(2)` on a non-blocking fd.
    fn write(&self, fd: RawFd, buf: &[u8]) -> io::Result<usize>;
    /// `close(2)`.
    fn close_fd(&self, fd: RawFd) -> io::Result<()>;
    /// `pipe2(O_NONBLOCK|O_CLOEXEC)`: (read end, write end).
    fn pipe(&self) -> io::Result<(RawFd, RawFd)>;
    /// `socketpair(AF_UNIX, SOCK_STREAM)`, both ends non-blocking.
    fn socket_pair(&self) -> io::Result<(RawFd, RawFd)>;

    /// A non-blocking TCP socket, not connected (for [`Fd::connect`](crate::fd::Fd::connect)).
    /// The default: unsupported.
    fn tcp_socket(&self) -> io::Result<RawFd> {
        Err(io::ErrorKind::Unsupported.into())
    }
    /// `connect(2)` on a non-blocking socket: `Ok(true)` connected at once, `Ok(false)` in
    /// progress (EINPROGRESS). The default: unsupported.
    fn connect(&self, fd: RawFd, addr: SocketAddrV4) -> io::Result<bool> {
        let _ = (fd, addr);
        Err(io::ErrorKind::Unsupported.into())
    }
    /// `getsockopt(SO_ERROR)`: the socket's pending error, cleared. The default: unsupported.
    fn take_socket_error(&self, fd: RawFd) -> io::Result<SocketError> {
        let _ = fd;
        Err(io::ErrorKind::Unsupported.into())
    }
    /// `getpeername(2)`: `Ok` when the socket is connected (ENOTCONN when it is not). The
    /// default: unsupported.
    fn peer_name(&self, fd: RawFd) -> io::Result<()> {
        let _ = fd;
        Err(io::ErrorKind::Unsupported.into())
    }
    /// An address of this host where nothing listens: connecting to it is refused. The
    /// default: unsupported.
    fn refused_addr(&self) -> io::Result<SocketAddrV4> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// What `getsockopt(SO_ERROR)` says of a socket after a connect.
#[derive(Debug)]
pub enum SocketError {
    /// No error (0): connected - or still connecting, which looks the same.
    None,
    /// EINPROGRESS, EALREADY or EINTR: still connecting.
    InProgress,
    /// The connect failed with this error.
    Failed(io::Error),
}

/// A task (Go: a `g`). Ids are small positive integers assigned by the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u32);

/// Tasks: who is running, park/ready, spawn/join, sleep.
///
/// Contract of `park`: Go's `gopark(commit)`. The current task is descheduled, then `commit`
/// runs (the simulator runs it as its own step); if it returns false the task resumes at once,
/// otherwise it stays parked until some task calls `ready` with its id. A `ready` that arrives
/// after a successful commit but before the task has actually blocked must not be lost.
pub trait Scheduler: Send + Sync + 'static {
    /// A handle to wait for a spawned task.
    type JoinHandle: Send + 'static;
    /// Go: `getg()`.
    fn current(&self) -> TaskId;
    /// Go: `gopark`. See the trait's contract.
    fn park<F: FnOnce() -> bool>(&self, commit: F);
    /// Go: `goready`. Make a parked task runnable.
    fn ready(&self, task: TaskId);
    /// Start a task running `f`.
    fn spawn<F: FnOnce() + Send + 'static>(&self, name: &'static str, f: F) -> Self::JoinHandle;
    /// Wait for a spawned task to end (a panic in it propagates).
    fn join(&self, handle: Self::JoinHandle);
    /// Let `ns` nanoseconds of the platform's time pass before continuing.
    fn sleep_ns(&self, ns: i64);
    /// Give other tasks a chance to run (a scheduling point, nothing else).
    fn yield_now(&self);
}

/// Everything the core needs from where it runs. All associated types are statically
/// dispatched; see the module documentation.
pub trait Platform: Send + Sync + Sized + 'static {
    /// An atomic `uint32` (Go: `atomic.Uint32`).
    type AtomicU32: Atomic<u32>;
    /// An atomic `uintptr` (Go: `atomic.Uintptr`).
    type AtomicUsize: Atomic<usize>;
    /// A plain field, its writes protected by a lock of this platform (or by a protocol).
    type Plain<T: Word>: PlainCell<T, Self::Lock>;
    /// Go's runtime mutex.
    type Lock: RawLock;
    /// Time and timers.
    type Clock: Clock;
    /// The poller and fd system calls.
    type Backend: Backend;
    /// Tasks.
    type Sched: Scheduler;

    /// The platform's clock.
    fn clock(&self) -> &Self::Clock;
    /// The platform's backend.
    fn backend(&self) -> &Self::Backend;
    /// The platform's scheduler.
    fn sched(&self) -> &Self::Sched;

    /// Whether the platform watches the FD layer ([`Platform::observe`]). Default false: the
    /// FD layer then builds no observation at all (the test is on this constant).
    const OBSERVES: bool = false;

    /// An observation point of the FD layer (see [`crate::observe`]), made by the running
    /// task. Called only when [`Platform::OBSERVES`] is true; the default does nothing.
    ///
    /// Contract: the platform only records; it must not call back into the core.
    #[inline(always)]
    fn observe(&self, what: Observation) {
        let _ = what;
    }
}
