//! The macOS/BSD backend: kqueue with `EVFILT_READ`/`EVFILT_WRITE` registered
//! `EV_ADD|EV_CLEAR` (edge-triggered) and an `EVFILT_USER` event to break a blocked `kevent`.
//!
//! Go: `runtime/netpoll_kqueue.go`. The event translation lives in
//! [`crate::kqueue_translate`] so that it is tested on every host.

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};

use netpoll::platform::{Backend, Event, RawFd, Token};

use crate::inject::Injected;
use crate::kqueue_translate::{self, Filter, Translated};
use crate::sys;

const _: () = assert!(libc::EV_EOF == kqueue_translate::EV_EOF);
const _: () = assert!(libc::EV_ERROR == kqueue_translate::EV_ERROR);

/// The ident of the `EVFILT_USER` wake-up event.
const WAKE_IDENT: usize = 0;

/// How many events one `kevent` call fetches (Go: 64).
const EVENTS_PER_POLL: usize = 64;

/// A kqueue instance.
#[derive(Debug)]
pub struct Kqueue {
    kq: RawFd,
    /// Go: `netpollWakeSig`: 1 while a wake-up is pending.
    wake_sig: AtomicU32,
    /// Test-injected events (see [`crate::inject`]).
    injected: Injected,
}

fn kevent(ident: usize, filter: i16, flags: u16, fflags: u32, udata: u64) -> libc::kevent {
    // SAFETY: `kevent` is a plain C struct of integers and a pointer; all-zero is valid.
    let mut ev: libc::kevent = unsafe { std::mem::zeroed() };
    ev.ident = ident as _;
    ev.filter = filter as _;
    ev.flags = flags as _;
    ev.fflags = fflags as _;
    ev.udata = udata as usize as _;
    ev
}

fn decode_filter(filter: i16) -> Filter {
    match filter {
        f if f == libc::EVFILT_READ => Filter::Read,
        f if f == libc::EVFILT_WRITE => Filter::Write,
        f if f == libc::EVFILT_USER => Filter::User,
        _ => Filter::Other,
    }
}

impl Kqueue {
    /// Go: `netpollinit`. Creates the kqueue and its `EVFILT_USER` wake-up event.
    pub fn new() -> io::Result<Kqueue> {
        // SAFETY: kqueue takes no arguments.
        let kq = syscall!(kqueue())?;
        let this = Kqueue {
            kq,
            wake_sig: AtomicU32::new(0),
            injected: Injected::default(),
        };
        sys::set_cloexec(kq)?;
        let ev = kevent(
            WAKE_IDENT,
            libc::EVFILT_USER,
            libc::EV_ADD | libc::EV_CLEAR,
            0,
            0,
        );
        this.change(&[ev])?;
        Ok(this)
    }

    fn change(&self, changes: &[libc::kevent]) -> io::Result<()> {
        // SAFETY: `changes` is a valid array of `changes.len()` events; no event list.
        syscall!(kevent(
            self.kq,
            changes.as_ptr(),
            changes.len() as _,
            ptr::null_mut(),
            0,
            ptr::null()
        ))
        .map(drop)
    }
}

impl Kqueue {
    /// Fault injection: make the next `poll` report `ev` (before any kernel event), and wake
    /// a blocked poll. Used to re-deliver a stale event after its fd number was reused.
    pub fn inject(&self, ev: Event) {
        self.injected.push(ev);
        self.wake();
    }
}

impl Drop for Kqueue {
    fn drop(&mut self) {
        let _ = sys::close(self.kq);
    }
}

impl Backend for Kqueue {
    fn open(&self, fd: RawFd, token: Token) -> io::Result<()> {
        let flags = libc::EV_ADD | libc::EV_CLEAR;
        let evs = [
            kevent(fd as usize, libc::EVFILT_READ, flags, 0, token.0),
            kevent(fd as usize, libc::EVFILT_WRITE, flags, 0, token.0),
        ];
        self.change(&evs)
    }

    fn close(&self, fd: RawFd) -> io::Result<()> {
        // Go relies on close(2) dropping the knotes; we delete them explicitly so that a pd
        // reset without a close stops reporting. A filter that is already gone is fine.
        for filter in [libc::EVFILT_READ, libc::EVFILT_WRITE] {
            match self.change(&[kevent(fd as usize, filter, libc::EV_DELETE, 0, 0)]) {
                Err(e) if e.raw_os_error() != Some(libc::ENOENT) => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    fn poll(&self, delay_ns: i64, events: &mut Vec<Event>) -> io::Result<usize> {
        let before = events.len();
        // Injected events are reported now: do not block for more.
        let delay_ns = if self.injected.drain_into(events) {
            0
        } else {
            delay_ns
        };
        let ts;
        let tp = match kqueue_translate::timeout(delay_ns) {
            None => ptr::null(),
            Some((secs, nanos)) => {
                ts = libc::timespec {
                    tv_sec: secs as _,
                    tv_nsec: nanos as _,
                };
                &ts as *const libc::timespec
            }
        };
        // SAFETY: all-zero kevents are valid values to be overwritten.
        let mut buf: [libc::kevent; EVENTS_PER_POLL] = unsafe { std::mem::zeroed() };
        // SAFETY: `buf` has room for EVENTS_PER_POLL events; `tp` is null or points at `ts`,
        // which lives until the end of the function.
        let n = match syscall!(kevent(
            self.kq,
            ptr::null(),
            0,
            buf.as_mut_ptr(),
            EVENTS_PER_POLL as _,
            tp
        )) {
            Ok(n) => n as usize,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => 0,
            Err(e) => return Err(e),
        };
        for ev in &buf[..n] {
            let filter = decode_filter(ev.filter);
            match kqueue_translate::translate(filter, ev.flags, ev.udata as usize as u64) {
                Translated::Ready(event) => events.push(event),
                Translated::Wake => {
                    // EV_CLEAR resets the user event; a non-blocking poll leaves the flag set
                    // so that a concurrent wake is not lost for the next blocking poll.
                    if delay_ns != 0 {
                        self.wake_sig.store(0, Ordering::SeqCst);
                    }
                }
                Translated::Ignore => {}
            }
        }
        Ok(events.len() - before)
    }

    fn wake(&self) {
        if self
            .wake_sig
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return;
        }
        let ev = kevent(WAKE_IDENT, libc::EVFILT_USER, 0, libc::NOTE_TRIGGER, 0);
        loop {
            match self.change(&[ev]) {
                Ok(()) => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Go throws here (see Epoll::wake).
                Err(e) => crate::fatal(&format!("netpoll: kevent NOTE_TRIGGER failed: {e}")),
            }
        }
    }

    fn read(&self, fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
        sys::read(fd, buf)
    }

    fn write(&self, fd: RawFd, buf: &[u8]) -> io::Result<usize> {
        sys::write(fd, buf)
    }

    fn close_fd(&self, fd: RawFd) -> io::Result<()> {
        sys::close(fd)
    }

    fn pipe(&self) -> io::Result<(RawFd, RawFd)> {
        sys::pipe()
    }

    fn socket_pair(&self) -> io::Result<(RawFd, RawFd)> {
        sys::socketpair()
    }
}
