//! Go's `internal/poll.FD` on top of the core: blocking reads and writes that wait on the pd
//! when the fd would block, deadlines, and a Close that evicts waiters and closes the fd once.
//!
//! Go's `fdMutex` is reduced to what these semantics need: a reference count with a closed
//! bit (every operation holds a reference; the last one out after Close destroys the fd), and
//! one lock per direction so that at most one task waits per pd and mode.

use std::fmt;
use std::io;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use crate::netpoll::{NetPoll, PollError};
use crate::pd::Pd;
use crate::platform::{
    Atomic, Backend, Clock, LocName, Mode, PlainCell, Platform, ProtectedBy, RawFd, RawLock,
    Scheduler,
};

/// What an FD operation can fail with.
#[derive(Debug)]
pub enum Error {
    /// The FD was closed (Go: `ErrFileClosing` / `net.ErrClosed`).
    Closed,
    /// The deadline passed (Go: `os.ErrDeadlineExceeded`); a timeout.
    DeadlineExceeded,
    /// The poller reported an error event for the fd (Go: `ErrNotPollable`).
    NotPollable,
    /// The system call failed.
    Io(io::Error),
}

impl Error {
    /// Whether this is a timeout (Go: `net.Error.Timeout()`).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::DeadlineExceeded)
    }

    /// A short, stable name for the kind of error (for scenario logs and assertions).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Error::Closed => "closed",
            Error::DeadlineExceeded => "deadline exceeded",
            Error::NotPollable => "not pollable",
            Error::Io(_) => "io",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed => f.write_str("use of closed file"),
            Error::DeadlineExceeded => f.write_str("i/o timeout: deadline exceeded"),
            Error::NotPollable => f.write_str("not pollable: poller reported an error"),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            Error::DeadlineExceeded => io::Error::new(io::ErrorKind::TimedOut, e.to_string()),
            other => io::Error::other(other.to_string()),
        }
    }
}

impl From<PollError> for Error {
    /// Go: `internal/poll.convertErr`.
    fn from(e: PollError) -> Error {
        match e {
            PollError::Closing => Error::Closed,
            PollError::Timeout => Error::DeadlineExceeded,
            PollError::NotPollable => Error::NotPollable,
        }
    }
}

/// A one-shot semaphore with a single waiter (Go: `runtime_Semacquire(&fd.csema)` as used by
/// Close). Same shape as a pd semaphore: nil, released, wait, or a parked task.
struct Sema<P: Platform> {
    state: P::AtomicUsize,
}

const SEMA_NIL: usize = 0;
const SEMA_RELEASED: usize = 1;
const SEMA_WAIT: usize = 2;
const SEMA_FIRST_TASK: usize = 3;

impl<P: Platform> Sema<P> {
    fn new(name: LocName) -> Self {
        Sema {
            state: P::AtomicUsize::new(SEMA_NIL, name),
        }
    }

    /// Block until `release` has been called (consumes the release).
    fn acquire(&self, sched: &P::Sched) {
        loop {
            if self.state.cas(SEMA_RELEASED, SEMA_NIL) {
                return;
            }
            if self.state.cas(SEMA_NIL, SEMA_WAIT) {
                let me = sched.current();
                sched.park(|| self.state.cas(SEMA_WAIT, me.0 as usize + SEMA_FIRST_TASK));
                if self.state.swap(SEMA_NIL, SeqCst) == SEMA_RELEASED {
                    return;
                }
            }
        }
    }

    /// Wake the waiter, or let the next `acquire` pass.
    fn release(&self, sched: &P::Sched) {
        loop {
            let old = self.state.load(SeqCst);
            if old == SEMA_RELEASED {
                panic!("netpoll: fd close semaphore released twice");
            }
            if self.state.cas(old, SEMA_RELEASED) {
                if old >= SEMA_FIRST_TASK {
                    sched.ready(crate::platform::TaskId((old - SEMA_FIRST_TASK) as u32));
                }
                return;
            }
        }
    }
}

/// `state` bit: Close has begun.
const FD_CLOSED: usize = 1;
/// `state` unit: one reference.
const FD_REF: usize = 2;

/// Go: `internal/poll.FD` for a pollable descriptor.
pub struct Fd<P: Platform> {
    np: Arc<NetPoll<P>>,
    pd: Pd,
    /// The descriptor; -1 once destroyed.
    sysfd: P::Plain<i32>,
    /// References (in units of `FD_REF`) and the closed bit (Go: `fdMutex.state`).
    state: P::AtomicUsize,
    /// Serialises reads (Go: `fdMutex` read lock).
    rlock: P::Lock,
    /// Serialises writes (Go: `fdMutex` write lock).
    wlock: P::Lock,
    /// Close waits here until the fd is destroyed (Go: `FD.csema`).
    csema: Sema<P>,
}

impl<P: Platform> Fd<P> {
    /// Go: `FD.Init` for a pollable fd: open a pd for `fd` (already non-blocking).
    /// On failure `fd` is left open and the error returned.
    pub fn new(np: Arc<NetPoll<P>>, fd: RawFd) -> Result<Fd<P>, Error> {
        let pd = np.open(fd).map_err(Error::Io)?;
        let idx = pd.0;
        let n = |field| LocName::indexed("fd", idx, field);
        Ok(Fd {
            np,
            pd,
            sysfd: P::Plain::new(
                fd,
                n("sysfd"),
                ProtectedBy::Protocol(
                    "the reference count: only the destroy after the last reference writes it",
                ),
            ),
            state: P::AtomicUsize::new(0, n("state")),
            rlock: P::Lock::new(n("rlock")),
            wlock: P::Lock::new(n("wlock")),
            csema: Sema::new(n("csema")),
        })
    }

    /// The pd this FD waits on.
    pub fn pd(&self) -> Pd {
        self.pd
    }

    /// The poller.
    pub fn netpoll(&self) -> &Arc<NetPoll<P>> {
        &self.np
    }

    /// Go: `fdMutex.incref`. Fails once Close has begun.
    fn incref(&self) -> Result<(), Error> {
        loop {
            let old = self.state.load(SeqCst);
            if old & FD_CLOSED != 0 {
                return Err(Error::Closed);
            }
            if self.state.cas(old, old + FD_REF) {
                return Ok(());
            }
        }
    }

    /// Go: `FD.decref`. Drop a reference; the last one after Close destroys the fd.
    fn decref(&self) -> io::Result<()> {
        let new = self.state.fetch_sub(FD_REF, SeqCst) - FD_REF;
        if new == FD_CLOSED {
            return self.destroy();
        }
        Ok(())
    }

    /// Go: `FD.destroy`. Release the pd, close the descriptor, and let Close return.
    fn destroy(&self) -> io::Result<()> {
        let pclose = self.np.close(self.pd);
        let fd = self.sysfd.get();
        self.sysfd.set(-1);
        let res = self.np.platform().backend().close_fd(fd);
        self.csema.release(self.np.platform().sched());
        res.and(pclose)
    }

    /// Go: `FD.Close`. Mark the FD closed, wake blocked readers and writers (they get
    /// [`Error::Closed`]), wait until every operation has left, and close the descriptor once.
    /// A second Close returns [`Error::Closed`].
    pub fn close(&self) -> Result<(), Error> {
        // Go: fdMutex.increfAndClose.
        loop {
            let old = self.state.load(SeqCst);
            if old & FD_CLOSED != 0 {
                return Err(Error::Closed);
            }
            if self.state.cas(old, (old | FD_CLOSED) + FD_REF) {
                break;
            }
        }
        // Go: pollDesc.evict.
        self.np.unblock(self.pd);
        let res = self.decref();
        self.csema.acquire(self.np.platform().sched());
        res.map_err(Error::Io)
    }

    /// Go: `FD.Read`. Read into `buf`, waiting for readability while the fd would block.
    /// `Ok(0)` is end of file (or an empty `buf`, which returns at once).
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Error> {
        self.incref()?;
        self.rlock.lock();
        let res = self.read_locked(buf);
        self.rlock.unlock();
        // As Go's readUnlock: if this was the last reference after Close, the close(2)
        // happens here, and its error is not the read's.
        let _ = self.decref();
        res
    }

    fn read_locked(&self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.np.reset(self.pd, Mode::Read)?;
        let backend = self.np.platform().backend();
        loop {
            match backend.read(self.sysfd.get(), buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.np.wait(self.pd, Mode::Read)?;
                }
                Err(e) => return Err(Error::Io(e)),
            }
        }
    }

    /// Go: `FD.Write`. Write all of `buf`, waiting for writability while the fd would block.
    /// On error, the bytes already written are lost to the caller, as with Go's `(n, err)`
    /// collapsed into a `Result`; use [`Fd::write_some`] to see them.
    pub fn write(&self, buf: &[u8]) -> Result<usize, Error> {
        let (n, res) = self.write_some(buf);
        res.map(|()| n)
    }

    /// Go: `FD.Write`, returning how many bytes were written alongside the outcome.
    pub fn write_some(&self, buf: &[u8]) -> (usize, Result<(), Error>) {
        if let Err(e) = self.incref() {
            return (0, Err(e));
        }
        self.wlock.lock();
        let (n, res) = self.write_locked(buf);
        self.wlock.unlock();
        // As Go's writeUnlock: a close(2) done here on behalf of Close is not the write's error.
        let _ = self.decref();
        (n, res)
    }

    fn write_locked(&self, buf: &[u8]) -> (usize, Result<(), Error>) {
        if let Err(e) = self.np.reset(self.pd, Mode::Write) {
            return (0, Err(e.into()));
        }
        let backend = self.np.platform().backend();
        let mut done = 0;
        loop {
            if done == buf.len() {
                return (done, Ok(()));
            }
            match backend.write(self.sysfd.get(), &buf[done..]) {
                Ok(0) => return (done, Err(Error::Io(io::ErrorKind::WriteZero.into()))),
                Ok(n) if n > buf.len() - done => {
                    // Go panics here ("invalid return from write"); a backend bug is an error.
                    let msg = format!("write returned {n} for {} bytes", buf.len() - done);
                    return (done, Err(Error::Io(io::Error::other(msg))));
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Err(e) = self.np.wait(self.pd, Mode::Write) {
                        return (done, Err(e.into()));
                    }
                }
                Err(e) => return (done, Err(Error::Io(e))),
            }
        }
    }

    /// Go: `setDeadlineImpl`. `deadline_ns` is absolute on the platform clock's scale
    /// (`now_ns()`); `None` clears the deadline; a time at or before now expires at once and
    /// wakes a blocked waiter.
    fn set_deadline_mode(&self, deadline_ns: Option<i64>, mode: Mode) -> Result<(), Error> {
        let d = match deadline_ns {
            None => 0,
            Some(t) => {
                let d = t.saturating_sub(self.np.platform().clock().now_ns());
                // Zero means "no deadline" to the core; "right now" is already expired.
                if d == 0 {
                    -1
                } else {
                    d
                }
            }
        };
        self.incref()?;
        self.np.set_deadline(self.pd, d, mode);
        let _ = self.decref();
        Ok(())
    }

    /// Go: `FD.SetDeadline`: both directions.
    pub fn set_deadline(&self, deadline_ns: Option<i64>) -> Result<(), Error> {
        self.set_deadline_mode(deadline_ns, Mode::ReadWrite)
    }

    /// Go: `FD.SetReadDeadline`.
    pub fn set_read_deadline(&self, deadline_ns: Option<i64>) -> Result<(), Error> {
        self.set_deadline_mode(deadline_ns, Mode::Read)
    }

    /// Go: `FD.SetWriteDeadline`.
    pub fn set_write_deadline(&self, deadline_ns: Option<i64>) -> Result<(), Error> {
        self.set_deadline_mode(deadline_ns, Mode::Write)
    }

    /// Convenience: a read deadline `timeout_ns` from now on the platform clock.
    pub fn set_read_timeout_ns(&self, timeout_ns: i64) -> Result<(), Error> {
        let now = self.np.platform().clock().now_ns();
        self.set_read_deadline(Some(now.saturating_add(timeout_ns)))
    }

    /// Convenience: a write deadline `timeout_ns` from now on the platform clock.
    pub fn set_write_timeout_ns(&self, timeout_ns: i64) -> Result<(), Error> {
        let now = self.np.platform().clock().now_ns();
        self.set_write_deadline(Some(now.saturating_add(timeout_ns)))
    }
}
