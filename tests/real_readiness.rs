//! Readiness on real epoll, on both schedulers: a blocked reader wakes when data arrives
//! (pipe, TCP loopback, socket pair), and edge-triggered notification gives one wake for two
//! writes.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use netpoll::fd::Fd;
use netpoll::platform::RawFd;
use netpoll_real::testing::{bounded, manual, wait_until};
use netpoll_real::{sys, RealRuntime};

const LIMIT: Duration = Duration::from_secs(10);
const BLOCKED: Duration = Duration::from_secs(5);

/// A reader task blocks on `r` (nothing to read); once it is parked, `w` gets a message, and
/// the reader must wake with exactly that message.
fn reader_wakes_on_write<R: RealRuntime>(make: fn() -> std::io::Result<(RawFd, RawFd)>) {
    bounded(LIMIT, move || {
        let rt = R::start().unwrap();
        let (w, r) = make().unwrap();
        let reader = Arc::new(rt.fd(r).unwrap());
        let writer = Arc::new(rt.fd(w).unwrap());
        let rd = reader.clone();
        let h = rt.spawn(move || {
            let mut buf = [0u8; 64];
            let n = rd.read(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        wait_until(BLOCKED, "the reader to park", || {
            rt.netpoll().waiters() == 1
        });
        assert!(!R::is_finished(&h));
        let wr = writer.clone();
        let sent = rt.spawn(move || wr.write(b"hello").unwrap());
        assert_eq!(rt.join(sent), 5);
        let mut got = rt.join(h);
        // A stream may split the message; read the rest.
        while got.len() < 5 {
            let mut buf = [0u8; 64];
            let n = reader.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"hello");
        settle(&rt);
        reader.close().unwrap();
        writer.close().unwrap();
    });
}

/// `(write end, read end)` of a pipe.
fn pipe_wr() -> std::io::Result<(RawFd, RawFd)> {
    sys::pipe().map(|(r, w)| (w, r))
}

fn pipe_reader_wakes<R: RealRuntime>() {
    reader_wakes_on_write::<R>(pipe_wr);
}

fn tcp_loopback_reader_wakes<R: RealRuntime>() {
    reader_wakes_on_write::<R>(sys::tcp_loopback_pair);
}

fn socketpair_reader_wakes<R: RealRuntime>() {
    reader_wakes_on_write::<R>(sys::socketpair);
}

/// Edge-triggered: two writes before the poller looks give one readiness event and one wake;
/// the woken reader drains both, and no further event follows. The test is the poller (no
/// poller thread, no workers), and the reader is an OS thread.
fn two_writes_one_wake<R: RealRuntime>() {
    bounded(LIMIT, || {
        let np = manual::<R>();
        let (r, w) = sys::pipe().unwrap();
        let reader = Arc::new(Fd::new(np.clone(), r).unwrap());
        let rd = reader.clone();
        let h = thread::spawn(move || {
            let mut buf = [0u8; 64];
            let n = rd.read(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        wait_until(BLOCKED, "the reader to park", || np.waiters() == 1);
        sys::write(w, b"one").unwrap();
        sys::write(w, b"two").unwrap();
        let mut woken = np.poll(1_000_000_000).unwrap();
        assert_eq!(woken, 1, "one wake for the parked reader");
        assert_eq!(
            h.join().unwrap(),
            b"onetwo",
            "the reader drains both writes"
        );
        // Edge-triggered: nothing new arrived, so nothing more is reported.
        woken += np.poll(0).unwrap();
        assert_eq!(woken, 1);
        assert_eq!(np.waiters(), 0);
        // The pipe is empty now: a read blocks until the next write, which is one more wake.
        let rd = reader.clone();
        let h = thread::spawn(move || {
            let mut buf = [0u8; 64];
            let n = rd.read(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        wait_until(BLOCKED, "the reader to park again", || np.waiters() == 1);
        sys::write(w, b"three").unwrap();
        assert_eq!(np.poll(1_000_000_000).unwrap(), 1);
        assert_eq!(h.join().unwrap(), b"three");
        sys::close(w).unwrap();
        reader.close().unwrap();
    });
}

/// The waiters count is adjusted just after the woken tasks are readied (Go's rule since
/// golang/go#61454), so a woken task can run before it drops: wait for it to reach 0.
fn settle<R: RealRuntime>(rt: &R) {
    wait_until(BLOCKED, "the waiters count back to 0", || {
        rt.netpoll().waiters() == 0
    });
}

netpoll_real::on_both_runtimes!(
    pipe_reader_wakes,
    tcp_loopback_reader_wakes,
    socketpair_reader_wakes,
    two_writes_one_wake,
);
