//! Close on real epoll: blocked readers and writers are evicted with `Closed`, and Close
//! returns only after they have left (the descriptor is closed when it returns).

use std::io;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use netpoll::fd::Error;
use netpoll::platform::RawFd;
use netpoll_real::testing::{bounded, wait_until};
use netpoll_real::{sys, RealFd, Runtime};

const LIMIT: Duration = Duration::from_secs(10);
const BLOCKED: Duration = Duration::from_secs(5);

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

fn spawn_read(fd: &Arc<RealFd>) -> thread::JoinHandle<Result<usize, Error>> {
    let fd = fd.clone();
    thread::spawn(move || fd.read(&mut [0u8; 16]))
}

fn spawn_write(fd: &Arc<RealFd>) -> thread::JoinHandle<Result<usize, Error>> {
    let fd = fd.clone();
    thread::spawn(move || fd.write(&[1u8; 4096]))
}

/// A write to `peer` fails with EPIPE once the last reference to the other end is closed.
fn peer_sees_close(peer: RawFd) -> bool {
    matches!(sys::write(peer, b"x"), Err(e) if e.raw_os_error() == Some(libc::EPIPE))
}

#[test]
fn close_unblocks_reader_and_writer_on_pipes() {
    bounded(LIMIT, || {
        let rt = Runtime::new().unwrap();
        let (r1, w1) = sys::pipe().unwrap();
        let (r2, w2) = sys::pipe().unwrap();
        fill(w2);
        let reader = Arc::new(rt.fd(r1).unwrap());
        let writer = Arc::new(rt.fd(w2).unwrap());
        let hr = spawn_read(&reader);
        let hw = spawn_write(&writer);
        wait_until(BLOCKED, "reader and writer to park", || {
            rt.netpoll().waiters() == 2
        });
        let closer = {
            let reader = reader.clone();
            thread::spawn(move || reader.close())
        };
        closer.join().unwrap().unwrap();
        assert!(matches!(hr.join().unwrap(), Err(Error::Closed)));
        // The read end is really closed: the writer of that pipe gets EPIPE.
        assert!(peer_sees_close(w1));
        writer.close().unwrap();
        assert!(matches!(hw.join().unwrap(), Err(Error::Closed)));
        // Draining r2 is not needed: w2 is closed, so r2 reads EOF after the buffered data.
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
#[test]
fn close_evicts_both_directions_then_returns() {
    bounded(LIMIT, || {
        let rt = Runtime::new().unwrap();
        let (a, b) = sys::socketpair().unwrap();
        fill(a);
        let fd = Arc::new(rt.fd(a).unwrap());
        let hr = spawn_read(&fd);
        let hw = spawn_write(&fd);
        wait_until(BLOCKED, "reader and writer to park", || {
            rt.netpoll().waiters() == 2
        });
        fd.close().unwrap();
        // When Close returned, the descriptor was closed, which happens only when the last
        // operation has dropped its reference: both had left.
        // Checked through the peer: the socket is gone, so the peer's write fails.
        let peer = sys::write(b, b"x");
        assert!(
            matches!(&peer, Err(e) if e.raw_os_error() == Some(libc::EPIPE)
                || e.raw_os_error() == Some(libc::ECONNRESET)),
            "{peer:?}"
        );
        assert!(matches!(hr.join().unwrap(), Err(Error::Closed)));
        assert!(matches!(hw.join().unwrap(), Err(Error::Closed)));
        assert!(matches!(fd.close(), Err(Error::Closed)), "second close");
        assert!(matches!(fd.read(&mut [0u8; 1]), Err(Error::Closed)));
        settle(&rt);
        sys::close(b).unwrap();
    });
}

/// The waiters count is adjusted just after the woken tasks are readied (Go's rule since
/// golang/go#61454), so a woken task can run before it drops: wait for it to reach 0.
fn settle(rt: &Runtime) {
    wait_until(BLOCKED, "the waiters count back to 0", || {
        rt.netpoll().waiters() == 0
    });
}
