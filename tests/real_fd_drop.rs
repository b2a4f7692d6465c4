//! An `Fd` dropped without `close()` closes its descriptor (Go: the finalizer of `os.File`),
//! on both runtimes, counted in `/proc/self/fd`. One test in this binary, so no other test
//! opens or closes descriptors meanwhile.

use std::time::Duration;

use netpoll_real::testing::bounded;
use netpoll_real::{sys, CoroRuntime, RealRuntime, Runtime};

const PAIRS: usize = 500;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

fn dropped_fds_are_closed<R: RealRuntime>() {
    let rt = R::start().unwrap();
    let before = open_fds();
    let mut ends_a = Vec::new();
    let mut ends_b = Vec::new();
    for _ in 0..PAIRS {
        let (a, b) = sys::socketpair().unwrap();
        ends_a.push(rt.fd(a).unwrap());
        ends_b.push(rt.fd(b).unwrap());
    }
    assert_eq!(open_fds(), before + 2 * PAIRS);
    // One end of each pair is used by a task first (a read that times out), and dropped by
    // it; the other ends are dropped by this thread. Nothing calls close().
    let users: Vec<_> = ends_a
        .into_iter()
        .map(|fd| {
            rt.spawn(move || {
                fd.set_read_timeout_ns(1_000_000).unwrap();
                assert!(fd.read(&mut [0u8; 1]).unwrap_err().is_timeout());
                drop(fd);
            })
        })
        .collect();
    for u in users {
        rt.join(u);
    }
    drop(ends_b);
    let now = open_fds();
    assert_eq!(
        now,
        before,
        "{} leaked on {}",
        now.saturating_sub(before),
        R::NAME
    );
    // A closed Fd is not closed again on drop: its number may already belong to another file.
    let (a, b) = sys::socketpair().unwrap();
    let fd = rt.fd(a).unwrap();
    fd.close().unwrap();
    let (c, d) = sys::socketpair().unwrap();
    assert_eq!(c, a, "the number is reused");
    drop(fd);
    assert!(
        sys::write(c, b"still open").is_ok(),
        "drop closed a reused number"
    );
    for x in [b, c, d] {
        sys::close(x).unwrap();
    }
}

#[test]
fn a_dropped_fd_closes_its_descriptor() {
    bounded(Duration::from_secs(30), || {
        dropped_fds_are_closed::<Runtime>();
        dropped_fds_are_closed::<CoroRuntime>();
    });
}
