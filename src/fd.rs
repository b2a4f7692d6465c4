//! Go's `internal/poll.FD` on top of the core: blocking reads and writes that wait on the pd
//! when the fd would block, deadlines, and a Close that evicts waiters and closes the fd once.
//!
//! Go's `fdMutex` is ported whole ([`crate::fd_mutex`]): a reference count with a closed bit
//! (every operation holds a reference; the last one out after Close destroys the fd), and one
//! lock per direction so that at most one task waits per pd and mode. Its waiters, and Close
//! waiting for the last operation to leave, park on [`Sema`]s: tasks, not threads, block.

use std::fmt;
use std::io;
use std::net::SocketAddrV4;
use std::sync::Arc;

use crate::fd_mutex::{self, FdMutex, Side};
use crate::netpoll::{NetPoll, PollError};
use crate::observe::{Observation, OpKind, OpOutcome};
use crate::pd::Pd;
use crate::platform::{
    Backend, Clock, LocName, Mode, PlainCell, Platform, ProtectedBy, RawFd, SocketError,
};
use crate::sema::{Sema, SemaNames};

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

impl OpOutcome {
    /// The outcome of a read-like operation's result (`Ok(0)`: end of file).
    pub fn of_read(res: &Result<usize, Error>) -> OpOutcome {
        match res {
            Ok(0) => OpOutcome::Eof,
            Ok(n) => OpOutcome::Data(*n),
            Err(e) => OpOutcome::of_error(e),
        }
    }

    /// The outcome of a write-like operation that moved `n` bytes and ended with `res`.
    pub fn of_write(n: usize, res: &Result<(), Error>) -> OpOutcome {
        match res {
            Ok(()) => OpOutcome::Data(n),
            Err(e) => OpOutcome::of_error(e),
        }
    }

    /// The outcome of an error.
    pub fn of_error(e: &Error) -> OpOutcome {
        match e {
            Error::Closed => OpOutcome::Closed,
            Error::DeadlineExceeded => OpOutcome::DeadlineExceeded,
            Error::NotPollable => OpOutcome::NotPollable,
            Error::Io(e) => OpOutcome::Io(e.kind(), e.raw_os_error()),
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

/// Go: `internal/poll.FD` for a pollable descriptor.
///
/// An `Fd` owns its descriptor: [`Fd::close`] closes it once every operation has left, and
/// dropping an `Fd` that was not closed closes it too (Go's finalizer on `os.File`). The one
/// exception is a drop during a panic's unwinding, or after a panic left an operation's
/// reference behind: the descriptor is then left open rather than risk blocking or panicking
/// again.
pub struct Fd<P: Platform> {
    np: Arc<NetPoll<P>>,
    pd: Pd,
    /// The descriptor; -1 once destroyed.
    sysfd: P::Plain<i32>,
    /// Go: `FD.fdmu`. References, the closed bit, and the read and write locks, whose waiters
    /// park as tasks (so two readers of one fd on one worker thread are fine).
    fdmu: FdMutex<P>,
    /// Close waits here until the fd is destroyed (Go: `FD.csema`).
    csema: Sema<P>,
}

impl<P: Platform> Fd<P> {
    /// Go: `FD.Init` for a pollable fd: open a pd for `fd` (already non-blocking).
    /// On failure `fd` is left open and the error returned.
    pub fn new(np: Arc<NetPoll<P>>, fd: RawFd) -> Result<Fd<P>, Error> {
        let pd = np.open(fd).map_err(Error::Io)?;
        let idx = pd.0;
        if P::OBSERVES {
            np.platform().observe(Observation::Opened { pd: idx, fd });
        }
        let n = |field| LocName::indexed("fd", idx, field);
        Ok(Fd {
            np,
            pd,
            sysfd: P::Plain::new(
                fd,
                n("sysfd"),
                ProtectedBy::Protocol(
                    "the fdMutex reference count: only the destroy after the last reference writes it",
                ),
            ),
            fdmu: FdMutex::new(idx),
            csema: Sema::new(
                0,
                SemaNames {
                    count: n("csema"),
                    nwait: n("csema.nwait"),
                    lock: n("csema.lock"),
                },
            ),
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

    /// The descriptor, or -1 once it has been closed.
    pub fn raw_fd(&self) -> RawFd {
        self.sysfd.get()
    }

    fn sched(&self) -> &P::Sched {
        self.np.platform().sched()
    }

    /// Tell a watching platform `what()` (see [`crate::observe`]); nothing at all on others.
    #[inline(always)]
    fn observe(&self, what: impl FnOnce(u32) -> Observation) {
        if P::OBSERVES {
            self.np.platform().observe(what(self.pd.0));
        }
    }

    /// The descriptor for a system call about to be made on it (observed as one).
    #[inline(always)]
    fn syscall_fd(&self) -> RawFd {
        let fd = self.sysfd.get();
        self.observe(|pd| Observation::Syscall { pd, fd });
        fd
    }

    /// Go: `FD.incref`. Fails once Close has begun.
    fn incref(&self) -> Result<(), Error> {
        if self.fdmu.incref() {
            Ok(())
        } else {
            Err(Error::Closed)
        }
    }

    /// Go: `FD.decref`. Drop a reference; the last one after Close destroys the fd.
    fn decref(&self) -> io::Result<()> {
        if self.fdmu.decref() {
            return self.destroy();
        }
        Ok(())
    }

    /// Go: `FD.readLock`.
    fn read_lock(&self) -> Result<(), Error> {
        if self.fdmu.rwlock(Side::Read, self.sched()) {
            Ok(())
        } else {
            Err(Error::Closed)
        }
    }

    /// Go: `FD.readUnlock`. As Go, a close(2) done here on behalf of Close is not the read's
    /// error, so its result is dropped.
    fn read_unlock(&self) {
        if self.fdmu.rwunlock(Side::Read, self.sched()) {
            let _ = self.destroy();
        }
    }

    /// Go: `FD.writeLock`.
    fn write_lock(&self) -> Result<(), Error> {
        if self.fdmu.rwlock(Side::Write, self.sched()) {
            Ok(())
        } else {
            Err(Error::Closed)
        }
    }

    /// Go: `FD.writeUnlock`.
    fn write_unlock(&self) {
        if self.fdmu.rwunlock(Side::Write, self.sched()) {
            let _ = self.destroy();
        }
    }

    /// Go: `FD.destroy`. Release the pd, close the descriptor, and let Close return.
    fn destroy(&self) -> io::Result<()> {
        let pclose = self.np.close(self.pd);
        let fd = self.sysfd.get();
        self.observe(|pd| Observation::Destroy { pd, fd });
        self.sysfd.set(-1);
        let res = self.np.platform().backend().close_fd(fd);
        self.csema.release(self.sched());
        res.and(pclose)
    }

    /// Go: `FD.Close`. Mark the FD closed, wake blocked readers and writers (they get
    /// [`Error::Closed`]), wait until every operation has left, and close the descriptor once.
    /// A second Close returns [`Error::Closed`].
    pub fn close(&self) -> Result<(), Error> {
        if !self.fdmu.incref_and_close(self.sched()) {
            return Err(Error::Closed);
        }
        // Go: pollDesc.evict.
        self.np.unblock(self.pd);
        self.observe(|pd| Observation::Evicted { pd });
        let res = self.decref();
        self.csema.acquire(self.sched());
        res.map_err(Error::Io)
    }

    /// Go: `FD.Read`. Read into `buf`, waiting for readability while the fd would block.
    /// `Ok(0)` is end of file (or an empty `buf`, which returns at once).
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Error> {
        self.observe(|pd| Observation::OpStart {
            pd,
            op: OpKind::Read,
        });
        let res = self.read_lock().and_then(|()| {
            let res = self.read_locked(buf);
            self.read_unlock();
            res
        });
        self.observe(|pd| Observation::OpEnd {
            pd,
            op: OpKind::Read,
            outcome: OpOutcome::of_read(&res),
        });
        res
    }

    fn read_locked(&self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.np.reset(self.pd, Mode::Read)?;
        let backend = self.np.platform().backend();
        loop {
            match backend.read(self.syscall_fd(), buf) {
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
        self.observe(|pd| Observation::OpStart {
            pd,
            op: OpKind::Write,
        });
        let (n, res) = match self.write_lock() {
            Err(e) => (0, Err(e)),
            Ok(()) => {
                let (n, res) = self.write_locked(buf);
                self.write_unlock();
                (n, res)
            }
        };
        self.observe(|pd| Observation::OpEnd {
            pd,
            op: OpKind::Write,
            outcome: OpOutcome::of_write(n, &res),
        });
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
            match backend.write(self.syscall_fd(), &buf[done..]) {
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

    /// Go: `FD.RawRead` (and the loop of `FD.Accept`): run the non-blocking system call `f` on
    /// the descriptor under the read lock, waiting for readability each time it would block
    /// (`io::ErrorKind::WouldBlock`) and retrying when interrupted. Deadlines and Close apply
    /// as to [`Fd::read`]. This is how a listener accepts: `f` calls `accept4`.
    pub fn raw_read<T>(&self, mut f: impl FnMut(RawFd) -> io::Result<T>) -> Result<T, Error> {
        self.observe(|pd| Observation::OpStart {
            pd,
            op: OpKind::RawRead,
        });
        let res = self.read_lock().and_then(|()| {
            let res = self.raw_read_locked(&mut f);
            self.read_unlock();
            res
        });
        self.observe(|pd| Observation::OpEnd {
            pd,
            op: OpKind::RawRead,
            outcome: match &res {
                Ok(_) => OpOutcome::Data(0),
                Err(e) => OpOutcome::of_error(e),
            },
        });
        res
    }

    fn raw_read_locked<T>(&self, f: &mut impl FnMut(RawFd) -> io::Result<T>) -> Result<T, Error> {
        self.np.reset(self.pd, Mode::Read)?;
        loop {
            match f(self.syscall_fd()) {
                Ok(v) => return Ok(v),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.np.wait(self.pd, Mode::Read)?;
                }
                Err(e) => return Err(Error::Io(e)),
            }
        }
    }

    /// Go: `netFD.connect` (net/fd_unix.go). Connect the FD's socket (a fresh
    /// [`Backend::tcp_socket`]) to `addr`: start a non-blocking connect and, while it is in
    /// progress, wait for writability, then read `SO_ERROR`: an error ends the connect with
    /// it; 0 means connected - if `getpeername` agrees, since the poller may wake a waiter
    /// spuriously (golang/go#14548, #19289), for instance with an event meant for the pd's
    /// previous user. The write deadline applies (a caller cancels a connect by setting it in
    /// the past, as Go's dialer does), and so does Close.
    pub fn connect(&self, addr: SocketAddrV4) -> Result<(), Error> {
        self.observe(|pd| Observation::OpStart {
            pd,
            op: OpKind::Connect,
        });
        // The write lock: a connect waits on the pd's write semaphore, as a write does.
        let res = self.write_lock().and_then(|()| {
            let res = self.connect_locked(addr);
            self.write_unlock();
            res
        });
        self.observe(|pd| Observation::OpEnd {
            pd,
            op: OpKind::Connect,
            outcome: match &res {
                Ok(()) => OpOutcome::Data(0),
                Err(e) => OpOutcome::of_error(e),
            },
        });
        res
    }

    fn connect_locked(&self, addr: SocketAddrV4) -> Result<(), Error> {
        let backend = self.np.platform().backend();
        match backend.connect(self.syscall_fd(), addr) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
        loop {
            self.np.wait(self.pd, Mode::Write)?;
            match backend.take_socket_error(self.syscall_fd()) {
                Err(e) | Ok(SocketError::Failed(e)) => return Err(Error::Io(e)),
                Ok(SocketError::InProgress) => {}
                Ok(SocketError::None) => {
                    if !self.np.protocol().connect_checks_peer() {
                        // Before golang/go#19289: a wake with no error is taken for a
                        // connection, though a socket still connecting has none either.
                        return Ok(());
                    }
                    // The poller may have woken us spuriously: connected only if it has a
                    // peer; otherwise wait again.
                    if backend.peer_name(self.syscall_fd()).is_ok() {
                        return Ok(());
                    }
                }
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
        let (read, write) = (mode.has_read(), mode.has_write());
        let observed = |done| {
            move |pd| Observation::Deadline {
                pd,
                read,
                write,
                deadline_ns,
                done,
            }
        };
        self.observe(observed(false));
        self.np.set_deadline(self.pd, d, mode);
        self.observe(observed(true));
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

impl<P: Platform> Drop for Fd<P> {
    /// Go: the finalizer that closes an unreachable `os.File`. An `Fd` dropped without
    /// [`Fd::close`] closes its descriptor here. With `&mut self` no operation can be in
    /// progress, so the Close cannot block; it is skipped while unwinding from a panic, or when
    /// a panic left a reference behind (the state is then not trustworthy).
    fn drop(&mut self) {
        let state = self.fdmu.peek();
        if state & fd_mutex::CLOSED != 0
            || state & fd_mutex::REF_MASK != 0
            || std::thread::panicking()
        {
            return;
        }
        let _ = self.close();
    }
}
