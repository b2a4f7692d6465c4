//! Deadlines on real epoll, on both schedulers (the poller thread's timer heap, and the
//! coroutine workers' timer heaps): never early, a past deadline fails at once
//! even with data, `None` clears, extending delays the timeout, the write deadline alone, and
//! the combined timer when the read and write deadlines are equal.

use std::io;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use netpoll::fd::{Error, Fd};
use netpoll::platform::RawFd;
use netpoll_real::clock::monotonic_ns;
use netpoll_real::testing::{bounded, wait_until};
use netpoll_real::{sys, RealRuntime};

type Task<R, T> = <R as RealRuntime>::Task<T>;
type RFd<R> = Arc<Fd<<R as RealRuntime>::Platform>>;
type Timed = (Result<usize, Error>, i64);

const LIMIT: Duration = Duration::from_secs(10);
const BLOCKED: Duration = Duration::from_secs(5);
const MS: i64 = 1_000_000;
/// How late a timeout may be on a loaded CI machine before we call it broken.
const LATE_NS: i64 = 2_000 * MS;

fn fill(fd: RawFd) {
    let chunk = [0xAAu8; 65536];
    loop {
        match sys::write(fd, &chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("fill: {e}"),
        }
    }
}

/// Read once in a task; returns the result and the platform time it ended at.
fn spawn_read<R: RealRuntime>(rt: &R, fd: &RFd<R>) -> Task<R, Timed> {
    let fd = fd.clone();
    rt.spawn(move || {
        let res = fd.read(&mut [0u8; 64]);
        (res, monotonic_ns())
    })
}

fn spawn_write<R: RealRuntime>(rt: &R, fd: &RFd<R>) -> Task<R, Timed> {
    let fd = fd.clone();
    rt.spawn(move || {
        let res = fd.write(&[7u8; 4096]);
        (res, monotonic_ns())
    })
}

fn assert_timeout_at(res: Timed, deadline_ns: i64) {
    let (res, at) = res;
    assert!(
        matches!(res, Err(Error::DeadlineExceeded)),
        "expected a timeout, got {res:?}"
    );
    assert!(at >= deadline_ns, "timed out {} ns early", deadline_ns - at);
    assert!(
        at - deadline_ns < LATE_NS,
        "timed out {} ms late",
        (at - deadline_ns) / MS
    );
}

fn read_deadline_50ms_never_early<R: RealRuntime>() {
    bounded(LIMIT, || {
        let rt = R::start().unwrap();
        let (r, w) = sys::pipe().unwrap();
        let fd = Arc::new(rt.fd(r).unwrap());
        for _ in 0..5 {
            let deadline = rt.now_ns() + 50 * MS;
            fd.set_read_deadline(Some(deadline)).unwrap();
            let res = fd.read(&mut [0u8; 8]);
            assert_timeout_at((res, rt.now_ns()), deadline);
            assert!(Error::DeadlineExceeded.is_timeout());
        }
        settle(&rt);
        fd.close().unwrap();
        sys::close(w).unwrap();
    });
}

/// The same from inside a task: the deadline is armed by the task (on its worker's timers,
/// for coroutines) and fires while the task is parked.
fn read_deadline_in_a_task_never_early<R: RealRuntime>() {
    bounded(LIMIT, || {
        let rt = R::start().unwrap();
        let (r, w) = sys::pipe().unwrap();
        let fd = Arc::new(rt.fd(r).unwrap());
        let f = fd.clone();
        let h = rt.spawn(move || {
            let mut outcomes = Vec::new();
            for _ in 0..5 {
                let deadline = monotonic_ns() + 30 * MS;
                f.set_read_deadline(Some(deadline)).unwrap();
                outcomes.push(((f.read(&mut [0u8; 8]), monotonic_ns()), deadline));
            }
            outcomes
        });
        for (res, deadline) in rt.join(h) {
            assert_timeout_at(res, deadline);
        }
        settle(&rt);
        fd.close().unwrap();
        sys::close(w).unwrap();
    });
}

fn past_deadline_fails_at_once_even_with_data<R: RealRuntime>() {
    bounded(LIMIT, || {
        let rt = R::start().unwrap();
        let (r, w) = sys::pipe().unwrap();
        let fd = rt.fd(r).unwrap();
        sys::write(w, b"data").unwrap();
        for past in [rt.now_ns() - 1, rt.now_ns(), 1] {
            fd.set_read_deadline(Some(past)).unwrap();
            let start = rt.now_ns();
            assert!(matches!(
                fd.read(&mut [0u8; 8]),
                Err(Error::DeadlineExceeded)
            ));
            assert!(rt.now_ns() - start < 500 * MS, "must not wait");
        }
        // Clearing it makes the buffered data readable.
        fd.set_read_deadline(None).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(fd.read(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"data");
        fd.close().unwrap();
        sys::close(w).unwrap();
    });
}

fn clearing_the_deadline_blocks_until_data<R: RealRuntime>() {
    bounded(LIMIT, || {
        let rt = R::start().unwrap();
        let (r, w) = sys::pipe().unwrap();
        let fd = Arc::new(rt.fd(r).unwrap());
        // An expired deadline, then a short one, then cleared: the read must wait for data.
        fd.set_read_deadline(Some(rt.now_ns() - MS)).unwrap();
        fd.set_read_deadline(Some(rt.now_ns() + 30 * MS)).unwrap();
        fd.set_read_deadline(None).unwrap();
        let h = spawn_read(&rt, &fd);
        wait_until(BLOCKED, "the reader to park", || {
            rt.netpoll().waiters() == 1
        });
        thread::sleep(Duration::from_millis(100));
        assert!(!R::is_finished(&h), "the cleared deadline fired");
        let sent = rt.now_ns();
        sys::write(w, b"late").unwrap();
        let (res, at) = rt.join(h);
        assert_eq!(res.unwrap(), 4);
        assert!(at >= sent);
        fd.close().unwrap();
        sys::close(w).unwrap();
    });
}

fn extending_the_deadline_delays_the_timeout<R: RealRuntime>() {
    bounded(LIMIT, || {
        let rt = R::start().unwrap();
        let (r, w) = sys::pipe().unwrap();
        let fd = Arc::new(rt.fd(r).unwrap());
        fd.set_read_deadline(Some(rt.now_ns() + 80 * MS)).unwrap();
        let h = spawn_read(&rt, &fd);
        wait_until(BLOCKED, "the reader to park", || {
            rt.netpoll().waiters() == 1
        });
        let extended = rt.now_ns() + 250 * MS;
        fd.set_read_deadline(Some(extended)).unwrap();
        assert_timeout_at(rt.join(h), extended);
        // And shortening works too: a blocked reader wakes at the earlier time.
        settle(&rt);
        fd.set_read_deadline(Some(rt.now_ns() + 10_000 * MS))
            .unwrap();
        let h = spawn_read(&rt, &fd);
        wait_until(BLOCKED, "the reader to park", || {
            rt.netpoll().waiters() == 1
        });
        let shortened = rt.now_ns() + 40 * MS;
        fd.set_read_deadline(Some(shortened)).unwrap();
        assert_timeout_at(rt.join(h), shortened);
        // Moving it into the past wakes the reader at once.
        settle(&rt);
        fd.set_read_deadline(Some(rt.now_ns() + 10_000 * MS))
            .unwrap();
        let h = spawn_read(&rt, &fd);
        wait_until(BLOCKED, "the reader to park", || {
            rt.netpoll().waiters() == 1
        });
        let now = rt.now_ns();
        fd.set_read_deadline(Some(now - 1)).unwrap();
        assert_timeout_at(rt.join(h), now);
        fd.close().unwrap();
        sys::close(w).unwrap();
    });
}

/// The write deadline on its own: a writer on a full socket times out; a reader on the same
/// socket, with no read deadline, keeps waiting and then gets its data.
fn write_deadline_alone<R: RealRuntime>() {
    bounded(LIMIT, || {
        let rt = R::start().unwrap();
        let (a, b) = sys::socketpair().unwrap();
        fill(a);
        let fd = Arc::new(rt.fd(a).unwrap());
        let hr = spawn_read(&rt, &fd);
        wait_until(BLOCKED, "the reader to park", || {
            rt.netpoll().waiters() == 1
        });
        let deadline = rt.now_ns() + 60 * MS;
        fd.set_write_deadline(Some(deadline)).unwrap();
        let hw = spawn_write(&rt, &fd);
        assert_timeout_at(rt.join(hw), deadline);
        thread::sleep(Duration::from_millis(50));
        assert!(!R::is_finished(&hr), "the write deadline woke the reader");
        sys::write(b, b"for the reader").unwrap();
        let (res, _) = rt.join(hr);
        assert!(res.unwrap() > 0);
        // A later write with the deadline still expired fails at once.
        assert!(matches!(fd.write(b"x"), Err(Error::DeadlineExceeded)));
        settle(&rt);
        fd.close().unwrap();
        sys::close(b).unwrap();
    });
}

/// rd == wd arms one combined timer that wakes both the reader and the writer; splitting the
/// deadlines again (here: clearing the read side) must leave the write side armed alone.
fn equal_read_and_write_deadlines_combo_timer<R: RealRuntime>() {
    bounded(LIMIT, || {
        let rt = R::start().unwrap();
        let (a, b) = sys::socketpair().unwrap();
        fill(a);
        let fd = Arc::new(rt.fd(a).unwrap());
        let deadline = rt.now_ns() + 70 * MS;
        fd.set_deadline(Some(deadline)).unwrap();
        let hr = spawn_read(&rt, &fd);
        let hw = spawn_write(&rt, &fd);
        assert_timeout_at(rt.join(hr), deadline);
        assert_timeout_at(rt.join(hw), deadline);

        // Combo again, then split it while both wait: the reader must no longer time out.
        settle(&rt);
        let deadline = rt.now_ns() + 150 * MS;
        fd.set_deadline(Some(deadline)).unwrap();
        let hr = spawn_read(&rt, &fd);
        let hw = spawn_write(&rt, &fd);
        wait_until(BLOCKED, "both to park", || rt.netpoll().waiters() == 2);
        fd.set_read_deadline(None).unwrap();
        assert_timeout_at(rt.join(hw), deadline);
        thread::sleep(Duration::from_millis(50));
        assert!(!R::is_finished(&hr), "the read deadline was cleared");
        sys::write(b, b"x").unwrap();
        assert_eq!(rt.join(hr).0.unwrap(), 1);

        // Set separately to the same absolute instant: both fire at it. (The FD layer turns
        // the time into a relative one and the core adds its own now, as Go does, so the two
        // nanosecond values usually differ by the gap between the clock reads and two timers
        // are armed; the combo timer itself is covered by the core's unit tests.)
        settle(&rt);
        let deadline = rt.now_ns() + 50 * MS;
        fd.set_read_deadline(Some(deadline)).unwrap();
        fd.set_write_deadline(Some(deadline)).unwrap();
        let hr = spawn_read(&rt, &fd);
        let hw = spawn_write(&rt, &fd);
        assert_timeout_at(rt.join(hr), deadline);
        assert_timeout_at(rt.join(hw), deadline);
        settle(&rt);
        fd.close().unwrap();
        sys::close(b).unwrap();
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
    read_deadline_50ms_never_early,
    read_deadline_in_a_task_never_early,
    past_deadline_fails_at_once_even_with_data,
    clearing_the_deadline_blocks_until_data,
    extending_the_deadline_delays_the_timeout,
    write_deadline_alone,
    equal_read_and_write_deadlines_combo_timer,
);
