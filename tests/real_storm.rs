//! The set_deadline storm on real epoll, on both schedulers: 8 tasks move the deadlines of one fd every few
//! microseconds for 2 s while one reader reads and one writer writes on it. No hang, no
//! panic, and every operation ends in data, DeadlineExceeded or Closed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use netpoll::fd::Error;
use netpoll::platform::{Platform, Scheduler};
use netpoll_real::clock::monotonic_ns;
use netpoll_real::testing::{bounded, wait_until, XorShift};
use netpoll_real::{sys, RealRuntime};

const STORM: Duration = Duration::from_secs(2);
const MOVERS: u64 = 8;
const LIMIT: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Outcomes {
    data: AtomicU64,
    timeouts: AtomicU64,
    closed: AtomicU64,
    deadline_moves: AtomicU64,
}

impl Outcomes {
    /// Count one operation's outcome; true when the fd is closed (stop looping).
    fn record(&self, res: Result<usize, Error>, what: &str) -> bool {
        match res {
            Ok(n) => {
                assert!(n > 0, "{what}: unexpected EOF");
                self.data.fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(Error::DeadlineExceeded) => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(Error::Closed) => {
                self.closed.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => panic!("{what}: unexpected outcome {e:?}"),
        }
    }
}

fn set_deadline_storm<R: RealRuntime>() {
    bounded(LIMIT, || {
        let rt = R::start().unwrap();
        let (a, b) = sys::socketpair().unwrap();
        let fd = Arc::new(rt.fd(a).unwrap());
        let peer = Arc::new(rt.fd(b).unwrap());
        let out = Arc::new(Outcomes::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();

        // The reader and the writer under test. An expired deadline fails without parking,
        // so they yield between attempts: coroutine tasks are scheduled cooperatively, and a
        // loop that never parks would keep its worker to itself.
        {
            let (fd, out) = (fd.clone(), out.clone());
            let np = rt.netpoll().clone();
            handles.push(rt.spawn(move || {
                let mut buf = [0u8; 512];
                while !out.record(fd.read(&mut buf), "read") {
                    np.platform().sched().yield_now();
                }
            }));
        }
        {
            let (fd, out) = (fd.clone(), out.clone());
            let np = rt.netpoll().clone();
            handles.push(rt.spawn(move || {
                let buf = [9u8; 2048];
                while !out.record(fd.write(&buf), "write") {
                    np.platform().sched().yield_now();
                }
            }));
        }
        // The peer keeps data flowing both ways, with no deadlines; it stops when closed.
        {
            let peer = peer.clone();
            handles.push(rt.spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = peer.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
            }));
        }
        {
            let peer = peer.clone();
            let np = rt.netpoll().clone();
            handles.push(rt.spawn(move || {
                let buf = [3u8; 700];
                while peer.write(&buf).is_ok() {
                    np.platform().sched().sleep_ns(50_000);
                }
            }));
        }
        // The movers.
        for i in 0..MOVERS {
            let (fd, out, stop) = (fd.clone(), out.clone(), stop.clone());
            let np = rt.netpoll().clone();
            handles.push(rt.spawn(move || {
                let mut rng = XorShift::new(0x9E37_79B9_7F4A_7C15 ^ i);
                while !stop.load(Ordering::Relaxed) {
                    // From 20 µs in the past to 200 µs ahead, or cleared.
                    let when = match rng.below(8) {
                        0 => None,
                        _ => Some(monotonic_ns() - 20_000 + rng.below(220_000) as i64),
                    };
                    let res = match rng.below(3) {
                        0 => fd.set_deadline(when),
                        1 => fd.set_read_deadline(when),
                        _ => fd.set_write_deadline(when),
                    };
                    match res {
                        Ok(()) | Err(Error::Closed) => {}
                        Err(e) => panic!("set_deadline: {e:?}"),
                    }
                    out.deadline_moves.fetch_add(1, Ordering::Relaxed);
                    np.platform()
                        .sched()
                        .sleep_ns(1_000 * (1 + rng.below(10) as i64));
                }
            }));
        }

        let start = Instant::now();
        while start.elapsed() < STORM {
            thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::SeqCst);
        fd.close().unwrap();
        peer.close().unwrap();
        for h in handles {
            rt.join(h);
        }
        wait_until(Duration::from_secs(5), "waiters back to 0", || {
            rt.netpoll().waiters() == 0
        });
        let (data, timeouts, closed, moves) = (
            out.data.load(Ordering::Relaxed),
            out.timeouts.load(Ordering::Relaxed),
            out.closed.load(Ordering::Relaxed),
            out.deadline_moves.load(Ordering::Relaxed),
        );
        println!(
            "storm ({}): {moves} deadline moves, {data} data, {timeouts} timeouts, {closed} closed",
            R::NAME
        );
        assert_eq!(closed, 2, "the reader and the writer both end with Closed");
        assert!(moves > 1000, "the movers barely ran: {moves}");
        assert!(data > 0 && timeouts > 0, "data {data}, timeouts {timeouts}");
    });
}

netpoll_real::on_both_runtimes!(set_deadline_storm);
