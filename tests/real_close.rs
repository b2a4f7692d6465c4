//! Close on real epoll, on both schedulers: blocked readers and writers are evicted with
//! `Closed`, and Close returns only after they have left (the descriptor is closed when it
//! returns).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use netpoll::fd::{Error, Fd};
use netpoll::platform::RawFd;
use netpoll_real::testing::{bounded, wait_until};
use netpoll_real::{sys, RealRuntime};

const LIMIT: Duration = Duration::from_secs(10);
const BLOCKED: Duration = Duration::from_secs(5);

type Task<R, T> = <R as RealRuntime>::Task<T>;
type RFd<R> = Arc<Fd<<R as RealRuntime>::Platform>>;

/// Fill `fd`'s outgoing buffer until the kernel says it would block.
fn fill(fd: RawFd) {
    let chunk = [0x55u8; 65536];
    loop {
        match sys::write(fd, &chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("fill: {e}"),
        }
    }
}

fn spawn_read<R: RealRuntime>(rt: &R, fd: &RFd<R>) -> Task<R, Result<usize, Error>> {
    let fd = fd.clone();
    rt.spawn(move || fd.read(&mut [0u8; 16]))
}

fn spawn_write<R: RealRuntime>(rt: &R, fd: &RFd<R>) -> Task<R, Result<usize, Error>> {
    let fd = fd.clone();
    rt.spawn(move || fd.write(&[1u8; 4096]))
}

/// A write to `peer` fails with EPIPE once the last reference to the other end is closed.
fn peer_sees_close(peer: RawFd) -> bool {
    matches!(sys::write(peer, b"x"), Err(e) if e.raw_os_error() == Some(libc::EPIPE))
}

fn close_unblocks_reader_and_writer_on_pipes<R: RealRuntime>() {
    bounded(LIMIT, || {
        let rt = R::start().unwrap();
        let (r1, w1) = sys::pipe().unwrap();
        let (r2, w2) = sys::pipe().unwrap();
        fill(w2);
        let reader = Arc::new(rt.fd(r1).unwrap());
        let writer = Arc::new(rt.fd(w2).unwrap());
        let hr = spawn_read(&rt, &reader);
        let hw = spawn_write(&rt, &writer);
        wait_until(BLOCKED, "reader and writer to park", || {
            rt.netpoll().waiters() == 2
        });
        // Closed by a task of the runtime.
        let closer = {
            let reader = reader.clone();
            rt.spawn(move || reader.close())
        };
        rt.join(closer).unwrap();
        assert!(matches!(rt.join(hr), Err(Error::Closed)));
        // The read end is really closed: the writer of that pipe gets EPIPE.
        assert!(peer_sees_close(w1));
        // Closed from the test's thread (outside the runtime's tasks).
        writer.close().unwrap();
        assert!(matches!(rt.join(hw), Err(Error::Closed)));
        // w2 is closed, so r2 reads EOF after the buffered data.
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0;
        loop {
            match sys::read(r2, &mut buf) {
                Ok(0) => break,
                Ok(n) => total += n,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(total > 0);
        settle(&rt);
        sys::close(w1).unwrap();
        sys::close(r2).unwrap();
    });
}

/// One socket with a reader blocked (nothing to read) and a writer blocked (buffer full):
/// Close evicts both with `Closed`, and returns only after both left, having closed the fd.
fn close_evicts_both_directions_then_returns<R: RealRuntime>() {
    bounded(LIMIT, || {
        let rt = R::start().unwrap();
        let (a, b) = sys::socketpair().unwrap();
        fill(a);
        let fd = Arc::new(rt.fd(a).unwrap());
        let hr = spawn_read(&rt, &fd);
        let hw = spawn_write(&rt, &fd);
        wait_until(BLOCKED, "reader and writer to park", || {
            rt.netpoll().waiters() == 2
        });
        let closer = {
            let fd = fd.clone();
            rt.spawn(move || fd.close())
        };
        rt.join(closer).unwrap();
        // When Close returned, the descriptor was closed, which happens only when the last
        // operation has dropped its reference: both had left. Checked through the peer.
        let peer = sys::write(b, b"x");
        assert!(
            matches!(&peer, Err(e) if e.raw_os_error() == Some(libc::EPIPE)
                || e.raw_os_error() == Some(libc::ECONNRESET)),
            "{peer:?}"
        );
        assert!(matches!(rt.join(hr), Err(Error::Closed)));
        assert!(matches!(rt.join(hw), Err(Error::Closed)));
        assert!(matches!(fd.close(), Err(Error::Closed)), "second close");
        assert!(matches!(fd.read(&mut [0u8; 1]), Err(Error::Closed)));
        settle(&rt);
        sys::close(b).unwrap();
    });
}

/// Several readers queue on the FD's read lock (Go's fdMutex) behind one blocked in the
/// poller: Close wakes every one of them with `Closed`.
fn close_wakes_read_lock_waiters<R: RealRuntime>() {
    bounded(LIMIT, || {
        let rt = R::start().unwrap();
        let (r, w) = sys::pipe().unwrap();
        let fd = Arc::new(rt.fd(r).unwrap());
        let readers: Vec<_> = (0..4).map(|_| spawn_read(&rt, &fd)).collect();
        wait_until(BLOCKED, "one reader to park in the poller", || {
            rt.netpoll().waiters() == 1
        });
        std::thread::sleep(Duration::from_millis(20));
        fd.close().unwrap();
        for h in readers {
            assert!(matches!(rt.join(h), Err(Error::Closed)));
        }
        settle(&rt);
        sys::close(w).unwrap();
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
    close_unblocks_reader_and_writer_on_pipes,
    close_evicts_both_directions_then_returns,
    close_wakes_read_lock_waiters,
);
