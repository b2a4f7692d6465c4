//! The waiters count on real epoll, on both schedulers: reader tasks parked on N pipes are
//! woken by readiness, by deadlines and by close; the count reaches N while they wait and goes
//! back to 0.

use std::sync::Arc;
use std::time::Duration;

use netpoll::fd::{Error, Fd};
use netpoll_real::testing::{bounded, wait_until};
use netpoll_real::{sys, RealRuntime};

const PER_KIND: usize = 4;
const ROUNDS: usize = 5;
const LIMIT: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(5);
const DEADLINE_NS: i64 = 20_000_000;

fn waiters_count_returns_to_zero<R: RealRuntime>() {
    bounded(LIMIT, || {
        let rt = R::start().unwrap();
        let np = rt.netpoll().clone();
        for round in 0..ROUNDS {
            let mut pipes: Vec<(Arc<Fd<R::Platform>>, i32)> = Vec::new();
            for _ in 0..3 * PER_KIND {
                let (r, w) = sys::pipe().unwrap();
                pipes.push((Arc::new(rt.fd(r).unwrap()), w));
            }
            let (by_data, rest) = pipes.split_at(PER_KIND);
            let (by_deadline, by_close) = rest.split_at(PER_KIND);
            let hs: Vec<_> = pipes
                .iter()
                .map(|(fd, _)| {
                    let fd = fd.clone();
                    rt.spawn(move || fd.read(&mut [0u8; 8]))
                })
                .collect();
            wait_until(WAIT, "every reader to park", || {
                np.waiters() == 3 * PER_KIND as u32
            });
            // Deadlines are set once everyone is parked, so a slow reader cannot time out
            // before it has been counted.
            let deadline = rt.now_ns() + DEADLINE_NS;
            for (fd, _) in by_deadline {
                fd.set_read_deadline(Some(deadline)).unwrap();
            }
            for (_, w) in by_data {
                sys::write(*w, b"x").unwrap();
            }
            for (fd, _) in by_close {
                fd.close().unwrap();
            }
            for (i, h) in hs.into_iter().enumerate() {
                let res = rt.join(h);
                match i / PER_KIND {
                    0 => assert_eq!(res.unwrap(), 1, "round {round}"),
                    1 => assert!(matches!(res, Err(Error::DeadlineExceeded)), "{res:?}"),
                    _ => assert!(matches!(res, Err(Error::Closed)), "{res:?}"),
                }
            }
            wait_until(WAIT, "the waiters count back to 0", || np.waiters() == 0);
            for (i, (fd, w)) in pipes.iter().enumerate() {
                if i / PER_KIND != 2 {
                    fd.close().unwrap();
                }
                sys::close(*w).unwrap();
            }
            assert_eq!(np.waiters(), 0);
        }
    });
}

netpoll_real::on_both_runtimes!(waiters_count_returns_to_zero);
