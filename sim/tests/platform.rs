//! The netpoll platform on the engine: no task ceiling (long-lived poller and timer tasks,
//! recycled clock slots), exact fault ratios, the engine's own limit as its own failure.

use netpoll::fd::{Error, Fd};
use netpoll::platform::{Backend, Platform, Scheduler};
use netpoll::Protocol;
use netpoll_sim::{
    Builder, EngineLimit, Failure, Faults, MemoryModel, Ratio, SimNetPoll, SimPlatform, Strategy,
};
use std::sync::Arc;

fn random(seed: u64, schedules: u64) -> Builder {
    Builder::default()
        .strategy(Strategy::Random)
        .memory(MemoryModel::C11)
        .seed(seed)
        .schedules(schedules)
}

fn netpoll() -> Arc<SimNetPoll> {
    SimPlatform::netpoll(Protocol::Fixed, Faults::NONE)
}

/// A pipe with its read end in an [`Fd`].
fn pipe(np: &Arc<SimNetPoll>) -> (Arc<Fd<SimPlatform>>, i32) {
    let (r, w) = np.platform().backend().pipe().expect("pipe");
    (Arc::new(Fd::new(np.clone(), r).expect("fd")), w)
}

/// One reader reads `n` one-byte writes: every readiness edge is a poller pass, once a new
/// task each (31 tasks were the most a run could have).
fn reader_of_writes(n: usize) -> impl Fn() + 'static {
    move || {
        let np = netpoll();
        let (fd, w) = pipe(&np);
        let fd2 = fd.clone();
        let reader = np.platform().sched().spawn("reader", move || {
            let mut got = 0;
            let mut b = [0u8; 1];
            loop {
                match fd2.read(&mut b) {
                    Ok(0) => break,
                    Ok(_) => got += 1,
                    Err(e) => panic!("reader: {e}"),
                }
            }
            assert_eq!(got, n, "the reader saw every byte, then EOF");
        });
        for _ in 0..n {
            assert_eq!(np.platform().backend().write(w, b"x").expect("write"), 1);
            np.platform().sched().yield_now();
        }
        np.platform().backend().close_fd(w).expect("close w");
        np.platform().sched().join(reader);
        fd.close().expect("close");
    }
}

#[test]
fn forty_writes_to_one_reader() {
    let r = random(1, 200).explore(reader_of_writes(40));
    assert_eq!(r.failures, 0, "{r}");
}

/// `n` tasks each read one byte from a pipe of their own.
fn many_readers(n: usize) -> impl Fn() + 'static {
    move || {
        let np = netpoll();
        let mut tasks = Vec::new();
        let mut writers = Vec::new();
        for _ in 0..n {
            let (fd, w) = pipe(&np);
            writers.push(w);
            tasks.push(np.platform().sched().spawn("reader", move || {
                let mut b = [0u8; 1];
                assert_eq!(fd.read(&mut b).map_err(|e| e.to_string()), Ok(1));
                fd.close().expect("close");
            }));
        }
        for &w in &writers {
            np.platform().backend().write(w, b"x").expect("write");
        }
        for t in tasks {
            np.platform().sched().join(t);
        }
        for w in writers {
            np.platform().backend().close_fd(w).expect("close w");
        }
    }
}

#[test]
fn a_thousand_tasks_in_one_run() {
    let r = random(2, 3)
        .max_steps(10_000_000)
        .explore(many_readers(1_000));
    assert_eq!(r.failures, 0, "{r}");
    assert_eq!(r.schedules, 3);
}

#[test]
fn a_hundred_thousand_timer_firings_in_one_run() {
    const FIRINGS: usize = 100_000;
    let r = random(3, 1).max_steps(100_000_000).explore(|| {
        let np = netpoll();
        let (fd, w) = pipe(&np);
        let mut b = [0u8; 1];
        for _ in 0..FIRINGS {
            fd.set_read_timeout_ns(10).expect("deadline");
            assert!(matches!(fd.read(&mut b), Err(Error::DeadlineExceeded)));
        }
        fd.close().expect("close");
        np.platform().backend().close_fd(w).expect("close w");
    });
    assert_eq!(r.failures, 0, "{r}");
    // Each firing is a step of the one timer task, not a task of its own.
    let ff = random(3, 1).max_steps(2_000).explore(|| {
        let np = netpoll();
        let (fd, _w) = pipe(&np);
        let mut b = [0u8; 1];
        for _ in 0..10 {
            fd.set_read_timeout_ns(10).expect("deadline");
            let _ = fd.read(&mut b);
        }
        panic!("show the log");
    });
    let log = ff.first_failure.expect("fails on purpose").log;
    let timers: Vec<_> = log.tasks.iter().filter(|t| *t == "timers").collect();
    assert_eq!(timers.len(), 1, "{:?}", log.tasks);
}

#[test]
fn one_task_more_than_the_limit_is_an_engine_limit_failure() {
    let r = random(4, 1).max_live_tasks(10).explore(|| {
        let hs: Vec<_> = (0..20)
            .map(|_| netpoll_sim::thread::spawn(netpoll_sim::thread::yield_now))
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    let ff = r.first_failure.expect("the limit is hit");
    let Failure::EngineLimit { limit, detail } = &ff.failure else {
        panic!("{}", ff.failure)
    };
    assert_eq!(*limit, EngineLimit::LiveTasks);
    assert!(detail.contains("10"), "{detail}");
    // Tasks that finish make room: many in sequence are fine.
    let r = random(4, 1).max_live_tasks(3).explore(|| {
        for _ in 0..50 {
            netpoll_sim::thread::spawn(|| {}).join().unwrap();
        }
    });
    assert_eq!(r.failures, 0, "{r}");
}

/// A fault of ratio `num/den` is one choice among `den` options, `num` of which inject it: a
/// depth-first search visits the injected branch exactly `num` of `den` ways.
#[test]
fn dfs_over_a_nine_tenths_fault_injects_in_nine_ways_of_ten() {
    for (num, den) in [(9, 10), (1, 2), (1, 10)] {
        let injected = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let i2 = injected.clone();
        let r = Builder::default()
            .strategy(Strategy::Dfs)
            .schedules(u64::MAX)
            .explore(move || {
                if Ratio::new(num, den).unwrap().draw() {
                    i2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        assert!(r.complete(), "{r}");
        assert_eq!(r.schedules, den as u64);
        assert_eq!(
            injected.load(std::sync::atomic::Ordering::Relaxed),
            num as u64,
            "{num}/{den}"
        );
    }
    let r: Ratio = "0.9".parse().unwrap();
    assert_eq!(r, Ratio::new(9, 10).unwrap());
}

/// Two tasks, each writing `writes` times to a pipe: their own pipes, or one pipe they share.
fn writers(shared: bool, writes: usize) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let np = netpoll();
        let (r1, w1) = np.platform().backend().pipe().expect("pipe");
        let (r2, w2) = np.platform().backend().pipe().expect("pipe");
        let targets = [w1, if shared { w1 } else { w2 }];
        let tasks: Vec<_> = targets
            .into_iter()
            .enumerate()
            .map(|(i, w)| {
                let np = np.clone();
                np.clone().platform().sched().spawn("writer", move || {
                    for _ in 0..writes {
                        let b = [b'a' + i as u8];
                        assert_eq!(np.platform().backend().write(w, &b).expect("write"), 1);
                    }
                })
            })
            .collect();
        for t in tasks {
            np.platform().sched().join(t);
        }
        for fd in [r1, w1, r2, w2] {
            np.platform().backend().close_fd(fd).expect("close");
        }
    }
}

fn graph_executions(f: impl Fn() + Send + Sync + Clone + 'static) -> u64 {
    let r = Builder::default()
        .strategy(Strategy::Graph)
        .memory(MemoryModel::C11)
        .schedules(u64::MAX)
        .jobs(1)
        .explore(f);
    assert_eq!(r.failures, 0, "{r}");
    assert!(r.complete(), "{r}");
    r.graph.expect("graph counts").executions
}

/// System calls that touch no kernel object in common do not order each other: writes to
/// two pipes give one execution (with one lock for the whole kernel, every order of the four
/// writes was an execution of its own: six). Writes to one pipe do: every interleaving of
/// two tasks' writes puts the bytes in another order.
#[test]
fn system_calls_on_different_pipes_commute_and_on_one_pipe_do_not() {
    assert_eq!(graph_executions(writers(false, 2)), 1);
    assert_eq!(graph_executions(writers(true, 1)), 2);
    assert_eq!(graph_executions(writers(true, 2)), 6);
}

/// A write racing the close of its fd, and the fd's number reused by a new pipe: every order
/// of the three calls is explored and replays (the kernel's state is read only under the
/// locks that order it), the write ending in a byte written (to the old pipe or to the new
/// one that took its number) or in EBADF.
#[test]
fn a_write_racing_close_and_reuse_of_its_fd_is_explored_without_divergence() {
    let check = || {
        let np = netpoll();
        let (r, w) = np.platform().backend().pipe().expect("pipe");
        let np2 = np.clone();
        let writer = np.platform().sched().spawn("writer", move || {
            match np2.platform().backend().write(w, b"x") {
                Ok(n) => assert_eq!(n, 1),
                Err(e) => assert_eq!(e.raw_os_error(), Some(9), "EBADF, got {e}"),
            }
        });
        np.platform().backend().close_fd(w).expect("close w");
        let (r2, w2) = np.platform().backend().pipe().expect("pipe");
        np.platform().sched().join(writer);
        for fd in [r, r2, w2] {
            np.platform().backend().close_fd(fd).expect("close");
        }
    };
    let n = graph_executions(check);
    assert_eq!(
        n, 3,
        "before the close, between the close and the reuse, after the reuse"
    );
}
