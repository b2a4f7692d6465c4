//! The Linux backend: edge-triggered epoll with an eventfd to break a blocked `epoll_wait`.
//!
//! Go: `runtime/netpoll_epoll.go`. Every fd is registered once, for
//! `EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET`, with the pd's [`Token`] as the event's `u64` data.
//! `EPOLLIN|EPOLLRDHUP|EPOLLHUP|EPOLLERR` readies the read side, `EPOLLOUT|EPOLLHUP|EPOLLERR`
//! the write side, and an event whose only condition is `EPOLLERR` sets the pd's event-error
//! bit. The eventfd is registered level-triggered with `WAKE_TOKEN`; its events are consumed
//! here and never reported.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

use netpoll::platform::{Backend, Event, Mode, RawFd, Token};

use crate::inject::Injected;
use crate::sys;

/// The epoll data word of the eventfd. No pd token can take this value: a pd's cache index
/// never reaches `u32::MAX`.
const WAKE_TOKEN: u64 = u64::MAX;

/// How many events one `epoll_wait` fetches (Go: 128).
const EVENTS_PER_POLL: usize = 128;

/// Nanoseconds per millisecond, the unit of `epoll_wait`'s timeout.
const NS_PER_MS: i64 = 1_000_000;

/// The longest timeout passed to `epoll_wait`, in ms (about 11.6 days, as in Go: 1e9 ms).
const MAX_TIMEOUT_MS: i64 = 1_000_000_000;

/// Go: `netpoll(delay)`'s conversion of a delay in ns to `epoll_wait`'s timeout in ms: <0
/// blocks (-1), 0 polls, anything else waits at least 1 ms, rounded up so that the poller is
/// never woken before a timer is due, capped at `MAX_TIMEOUT_MS`.
pub fn timeout_ms(delay_ns: i64) -> libc::c_int {
    if delay_ns < 0 {
        -1
    } else if delay_ns == 0 {
        0
    } else {
        let ms = delay_ns / NS_PER_MS + i64::from(delay_ns % NS_PER_MS != 0);
        ms.clamp(1, MAX_TIMEOUT_MS) as libc::c_int
    }
}

/// Go: the event-to-mode switch in `netpoll`. Maps epoll's event bits to a readiness event;
/// `None` when the event readies neither side.
pub fn translate(events: u32, data: u64) -> Option<Event> {
    let bits = |m: libc::c_int| events & (m as u32) != 0;
    let read = bits(libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR);
    let write = bits(libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR);
    let mode = Mode::from_rw(read, write)?;
    Some(Event {
        token: Token(data),
        mode,
        error: events == libc::EPOLLERR as u32,
    })
}

/// An epoll instance plus its wake-up eventfd.
#[derive(Debug)]
pub struct Epoll {
    epfd: RawFd,
    eventfd: RawFd,
    /// Go: `netpollWakeSig`. 1 while a wake-up is pending in the eventfd, so that concurrent
    /// `wake` calls write it only once.
    wake_sig: AtomicU32,
    /// Test-injected events (see [`crate::inject`]).
    injected: Injected,
}

impl Epoll {
    /// Go: `netpollinit`. Creates the epoll fd and registers the eventfd.
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes only flags.
        let epfd = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
        // SAFETY: eventfd takes an initial count and flags.
        let eventfd = match syscall!(eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC)) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = sys::close(epfd);
                return Err(e);
            }
        };
        let ep = Epoll {
            epfd,
            eventfd,
            wake_sig: AtomicU32::new(0),
            injected: Injected::default(),
        };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: WAKE_TOKEN,
        };
        // SAFETY: both fds are open; `ev` is a valid epoll_event for the call.
        syscall!(epoll_ctl(ep.epfd, libc::EPOLL_CTL_ADD, ep.eventfd, &mut ev))?;
        Ok(ep)
    }

    /// Consume the pending wake-up (Go: the `netpollEventFd` branch of `netpoll`).
    fn drain_wake(&self) {
        let mut buf = [0u8; 8];
        // EAGAIN means another poll already drained it: fine.
        let _ = sys::read(self.eventfd, &mut buf);
        self.wake_sig.store(0, Ordering::SeqCst);
    }
}

impl Epoll {
    /// Fault injection: make the next `poll` report `ev` (before any kernel event), and wake
    /// a blocked poll. Used to re-deliver a stale event after its fd number was reused.
    pub fn inject(&self, ev: Event) {
        self.injected.push(ev);
        self.wake();
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        let _ = sys::close(self.eventfd);
        let _ = sys::close(self.epfd);
    }
}

impl Backend for Epoll {
    fn open(&self, fd: RawFd, token: Token) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: token.0,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        syscall!(epoll_ctl(self.epfd, libc::EPOLL_CTL_ADD, fd, &mut ev)).map(drop)
    }

    fn close(&self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: a non-null event pointer keeps pre-2.6.9 kernels happy; it is not read.
        syscall!(epoll_ctl(self.epfd, libc::EPOLL_CTL_DEL, fd, &mut ev)).map(drop)
    }

    fn poll(&self, delay_ns: i64, events: &mut Vec<Event>) -> io::Result<usize> {
        let before = events.len();
        // Injected events are reported now: do not block for more.
        let delay_ns = if self.injected.drain_into(events) {
            0
        } else {
            delay_ns
        };
        let mut buf = [libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_POLL];
        let timeout = timeout_ms(delay_ns);
        // SAFETY: `buf` has room for EVENTS_PER_POLL events, which is the max passed.
        let n = match syscall!(epoll_wait(
            self.epfd,
            buf.as_mut_ptr(),
            EVENTS_PER_POLL as libc::c_int,
            timeout
        )) {
            Ok(n) => n as usize,
            // Go returns an empty list on EINTR when it was asked to wait, and retries a
            // non-blocking poll; either way the caller just sees no events.
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => 0,
            Err(e) => return Err(e),
        };
        for ev in &buf[..n] {
            let (bits, data) = (ev.events, ev.u64);
            if data == WAKE_TOKEN {
                // A non-blocking poll leaves the wake-up pending for the next blocking one.
                if delay_ns != 0 {
                    self.drain_wake();
                }
                continue;
            }
            if let Some(event) = translate(bits, data) {
                events.push(event);
            }
        }
        Ok(events.len() - before)
    }

    fn wake(&self) {
        // Go: netpollBreak. Only the first of concurrent callers writes the eventfd.
        if self
            .wake_sig
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return;
        }
        let one = 1u64.to_ne_bytes();
        loop {
            match sys::write(self.eventfd, &one) {
                Ok(_) => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // EAGAIN: the counter is saturated, so a wake-up is pending anyway.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // Go throws here too. It can run with a pd lock held (a timer moved earlier
                // wakes the poller), where a panic would leave the lock held forever.
                Err(e) => crate::fatal(&format!("netpoll: eventfd write failed: {e}")),
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

    fn tcp_socket(&self) -> io::Result<RawFd> {
        crate::net::tcp_socket()
    }

    fn connect(&self, fd: RawFd, addr: std::net::SocketAddrV4) -> io::Result<bool> {
        crate::net::connect(fd, addr)
    }

    fn take_socket_error(&self, fd: RawFd) -> io::Result<netpoll::platform::SocketError> {
        crate::net::take_socket_error(fd)
    }

    fn peer_name(&self, fd: RawFd) -> io::Result<()> {
        crate::net::peer_name(fd)
    }

    fn refused_addr(&self) -> io::Result<std::net::SocketAddrV4> {
        crate::net::refused_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    const IN: u32 = libc::EPOLLIN as u32;
    const OUT: u32 = libc::EPOLLOUT as u32;
    const ERR: u32 = libc::EPOLLERR as u32;
    const HUP: u32 = libc::EPOLLHUP as u32;
    const RDHUP: u32 = libc::EPOLLRDHUP as u32;

    #[test]
    fn translation() {
        let ev = |bits| translate(bits, 7).map(|e| (e.mode, e.error));
        assert_eq!(ev(IN), Some((Mode::Read, false)));
        assert_eq!(ev(RDHUP), Some((Mode::Read, false)));
        assert_eq!(ev(OUT), Some((Mode::Write, false)));
        assert_eq!(ev(IN | OUT), Some((Mode::ReadWrite, false)));
        assert_eq!(ev(HUP), Some((Mode::ReadWrite, false)));
        assert_eq!(ev(ERR), Some((Mode::ReadWrite, true)));
        assert_eq!(ev(ERR | IN), Some((Mode::ReadWrite, false)));
        assert_eq!(ev(ERR | HUP), Some((Mode::ReadWrite, false)));
        assert_eq!(ev(libc::EPOLLPRI as u32), None);
        assert_eq!(translate(IN, 42).unwrap().token, Token(42));
    }

    #[test]
    fn timeouts() {
        assert_eq!(timeout_ms(-1), -1);
        assert_eq!(timeout_ms(i64::MIN), -1);
        assert_eq!(timeout_ms(0), 0);
        assert_eq!(timeout_ms(1), 1);
        assert_eq!(timeout_ms(999_999), 1);
        assert_eq!(timeout_ms(1_000_000), 1);
        assert_eq!(timeout_ms(1_000_001), 2);
        assert_eq!(timeout_ms(50_000_000), 50);
        assert_eq!(timeout_ms(i64::MAX), MAX_TIMEOUT_MS as i32);
    }

    fn poll(ep: &Epoll, delay_ns: i64) -> Vec<Event> {
        let mut v = Vec::new();
        let n = ep.poll(delay_ns, &mut v).unwrap();
        assert_eq!(n, v.len());
        v
    }

    #[test]
    fn pipe_readiness_is_edge_triggered() {
        let ep = Epoll::new().unwrap();
        let (r, w) = sys::pipe().unwrap();
        ep.open(r, Token::pack(3, 9)).unwrap();
        ep.open(w, Token::pack(4, 9)).unwrap();
        // The write end is writable at once; the read end is not readable.
        let evs = poll(&ep, 0);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].token, Token::pack(4, 9));
        assert_eq!(evs[0].mode, Mode::Write);
        assert!(poll(&ep, 0).is_empty(), "edge-triggered: no repeat");
        sys::write(w, b"a").unwrap();
        sys::write(w, b"b").unwrap();
        let evs = poll(&ep, 10_000_000);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].token, Token::pack(3, 9));
        assert_eq!(evs[0].mode, Mode::Read);
        assert!(poll(&ep, 0).is_empty());
        // Closing the write end is a hang-up on the read end.
        ep.close(w).unwrap();
        sys::close(w).unwrap();
        let evs = poll(&ep, 10_000_000);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].mode, Mode::ReadWrite);
        assert!(!evs[0].error);
        sys::close(r).unwrap();
    }

    #[test]
    fn wake_interrupts_blocking_poll_once() {
        let ep = Arc::new(Epoll::new().unwrap());
        let ep2 = ep.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            ep2.wake();
        });
        let start = Instant::now();
        assert!(poll(&ep, -1).is_empty());
        assert!(start.elapsed() >= Duration::from_millis(15));
        t.join().unwrap();
        // Two wakes before a poll coalesce into one and leave nothing behind.
        ep.wake();
        ep.wake();
        assert!(poll(&ep, -1).is_empty());
        assert_eq!(ep.wake_sig.load(Ordering::SeqCst), 0);
        let start = Instant::now();
        assert!(poll(&ep, 20_000_000).is_empty());
        assert!(start.elapsed() >= Duration::from_millis(19));
    }

    #[test]
    fn wake_survives_a_nonblocking_poll() {
        let ep = Epoll::new().unwrap();
        ep.wake();
        assert!(poll(&ep, 0).is_empty());
        let start = Instant::now();
        assert!(poll(&ep, 5_000_000_000).is_empty());
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn injected_events_come_first_and_do_not_block() {
        let ep = Epoll::new().unwrap();
        let ev = Event {
            token: Token::pack(1, 2),
            mode: Mode::Read,
            error: true,
        };
        ep.inject(ev);
        let start = Instant::now();
        assert_eq!(poll(&ep, 5_000_000_000), vec![ev]);
        assert!(start.elapsed() < Duration::from_secs(1));
        // The wake that came with it is consumed by the next blocking poll.
        assert!(poll(&ep, 5_000_000_000).is_empty());
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn timeout_is_not_early() {
        let ep = Epoll::new().unwrap();
        let start = Instant::now();
        assert!(poll(&ep, 30_000_000).is_empty());
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
