//! The engine's failure detection, strategies, replay, timers and determinism.

use netpoll_sim::builder::settings::Env;
use netpoll_sim::sync::atomic::{AtomicU32, Ordering::*};
use netpoll_sim::sync::{Mutex, Plain};
use netpoll_sim::LocName;
use netpoll_sim::{sched, thread, Builder, Failure, MemoryModel, Report, Strategy};
use std::sync::Arc;

fn sb_relaxed() {
    netpoll_sim::bench::sb_relaxed();
}

fn random(seed: u64, schedules: u64) -> Builder {
    Builder::default()
        .strategy(Strategy::Random)
        .seed(seed)
        .schedules(schedules)
}

/// SB where (0, 0) is a failure: found by random search under C11, never under SC.
fn sb_assert() {
    let x = Arc::new(AtomicU32::new(0));
    let y = Arc::new(AtomicU32::new(0));
    let (x1, y1) = (x.clone(), y.clone());
    let h = thread::spawn_named("t1", move || {
        x1.store(1, Relaxed);
        y1.load(Relaxed)
    });
    y.store(1, Relaxed);
    let r2 = x.load(Relaxed);
    let r1 = h.join().unwrap();
    assert!(r1 == 1 || r2 == 1, "store buffering: both loads read 0");
}

#[test]
fn assertion_failure_is_found_and_replays() {
    let r = random(7, 10_000).explore(sb_assert);
    let ff = r.first_failure.expect("SB (0,0) found");
    assert!(
        matches!(&ff.failure, Failure::Panic { message, .. } if message.contains("store buffering"))
    );
    let again = Builder::default().replay_choices(&ff.choices, sb_assert);
    let ff2 = again.first_failure.expect("replay fails the same way");
    assert_eq!(ff2.log.to_bytes(), ff.log.to_bytes());
    assert_eq!(ff2.choices, ff.choices);
}

#[test]
fn sc_mode_never_fails_sb() {
    let r = random(7, 5_000).memory(MemoryModel::Sc).explore(sb_assert);
    assert_eq!(r.failures, 0, "{r}");
}

#[test]
fn pct_finds_sb() {
    let r = Builder::default()
        .strategy(Strategy::Pct)
        .seed(3)
        .schedules(10_000)
        .explore(sb_assert);
    assert!(r.first_failure.is_some(), "{r}");
}

#[test]
fn dfs_bound_zero_is_complete_and_minimal() {
    let r = Builder::default()
        .strategy(Strategy::Dfs)
        .preemption_bound(Some(2))
        .schedules(u64::MAX)
        .explore(sb_assert);
    assert!(r.first_failure.is_some(), "{r}");
    let r = Builder::default()
        .strategy(Strategy::Dfs)
        .memory(MemoryModel::Sc)
        .preemption_bound(Some(3))
        .schedules(u64::MAX)
        .explore(sb_assert);
    assert!(r.complete() && r.failures == 0, "{r}");
}

#[test]
#[should_panic(expected = "seed 7")]
fn check_panics_with_seed_and_index() {
    random(7, 10_000).check(sb_assert);
}

#[test]
fn deadlock_names_parked_task_and_hook_detail() {
    let r = random(1, 10).explore(|| {
        let flag = Arc::new(Plain::named(0u32, LocName::indexed("pd", 0, "closing")));
        let f2 = flag.clone();
        sched::on_deadlock(move |t| (t == 1).then(|| format!("pd0.closing = {}", f2.peek())));
        let h = thread::spawn_named("reader", || sched::park("netpollblock", || true));
        flag.set(1);
        h.join().unwrap();
    });
    let ff = r.first_failure.expect("deadlock");
    let Failure::Deadlock { blocked } = &ff.failure else {
        panic!("{}", ff.failure)
    };
    let reader = blocked
        .iter()
        .find(|b| b.name == "reader")
        .expect("reader listed");
    assert!(reader.state.contains("parked (netpollblock)"), "{reader:?}");
    assert!(reader.site.contains("engine.rs"), "{reader:?}");
    assert_eq!(reader.detail, "pd0.closing = 1");
    let main = blocked
        .iter()
        .find(|b| b.name == "main")
        .expect("main listed");
    assert!(main.state.contains("joining task 1"), "{main:?}");
}

#[test]
fn park_ready_never_loses_a_wakeup() {
    let r = Builder::default()
        .strategy(Strategy::Dfs)
        .schedules(u64::MAX)
        .explore(|| {
            let state = Arc::new(AtomicU32::new(0)); // 0 idle, 1 waiting, 2 ready
            let s2 = state.clone();
            let me = sched::current();
            let h = thread::spawn(move || {
                if s2.swap(2, SeqCst) == 1 {
                    sched::ready(me);
                }
            });
            sched::park("wait", || {
                state.compare_exchange(0, 1, SeqCst, SeqCst).is_ok()
            });
            h.join().unwrap();
        });
    assert!(r.complete() && r.failures == 0, "{r}");
}

#[test]
fn step_limit_catches_livelock() {
    let r = random(0, 1).max_steps(500).explore(|| {
        let x = AtomicU32::new(0);
        while x.load(Relaxed) == 0 {
            thread::yield_now();
        }
    });
    assert!(matches!(
        r.first_failure.unwrap().failure,
        Failure::StepLimit { max_steps: 500 }
    ));
}

#[test]
fn data_race_reported_only_when_asked() {
    let racy = || {
        let c = Arc::new(Plain::named(0u32, LocName::single("t", "c")));
        let c2 = c.clone();
        let h = thread::spawn(move || c2.set(1));
        let _ = c.get();
        h.join().unwrap();
    };
    let r = random(0, 50).explore(racy);
    assert!(r.races > 0 && r.failures == 0, "{r}");
    let r = random(0, 50).fail_on_data_race(true).explore(racy);
    assert!(matches!(
        r.first_failure.unwrap().failure,
        Failure::DataRace { .. }
    ));
    // Under a mutex there is no race.
    let r = random(0, 200).fail_on_data_race(true).explore(|| {
        let m = Arc::new(Mutex::new(()));
        let c = Arc::new(Plain::named(0u32, LocName::single("t", "c")));
        let (m2, c2) = (m.clone(), c.clone());
        let h = thread::spawn(move || {
            let _g = m2.lock().unwrap();
            c2.set(1);
        });
        {
            let _g = m.lock().unwrap();
            let _ = c.get();
        }
        h.join().unwrap();
    });
    assert_eq!(r.races, 0, "{r}");
}

#[test]
fn virtual_time_wakes_timed_parks_and_sleepers_exactly() {
    let r = random(5, 200).explore(|| {
        let t0 = sched::now_ns();
        let h = thread::spawn_named("waiter", move || {
            // Nobody readies it: its time runs out exactly at t0 + 50.
            let w = sched::park_until("timed", t0 + 50, || true);
            assert_eq!(w, sched::Wake::TimedOut);
            assert_eq!(sched::now_ns(), t0 + 50);
        });
        sched::sleep_ns(100);
        assert_eq!(sched::now_ns(), t0 + 100);
        h.join().unwrap();
    });
    assert_eq!(r.failures, 0, "{r}");
}

#[test]
fn a_timed_park_readied_early_reports_it() {
    let r = Builder::default()
        .strategy(Strategy::Dfs)
        .schedules(u64::MAX)
        .explore(|| {
            let me = sched::current();
            let t0 = sched::now_ns();
            let h = thread::spawn(move || sched::ready(me));
            let w = sched::park_until("timed", t0 + 1_000, || true);
            // Readied before its time, or (never here) timed out: never both, never lost.
            assert_eq!(w, sched::Wake::Readied);
            assert_eq!(sched::now_ns(), t0);
            h.join().unwrap();
        });
    assert!(r.complete() && r.failures == 0, "{r}");
}

#[test]
fn idle_daemons_neither_hold_the_run_nor_deadlock_it() {
    let r = Builder::default()
        .strategy(Strategy::Dfs)
        .schedules(u64::MAX)
        .explore(|| {
            // A daemon waiting forever, and one waiting for a time that never comes.
            let _ = sched::spawn_daemon("idle", || {
                while !sched::shutting_down() {
                    sched::park("idle", || true);
                }
            });
            let _ = sched::spawn_daemon("sleepy", || {
                while !sched::shutting_down() {
                    sched::park_until("sleepy", i64::MAX, || true);
                }
            });
            let h = thread::spawn(|| {});
            h.join().unwrap();
        });
    assert!(r.complete() && r.failures == 0, "{r}");
    // A task that is not a daemon, parked for good, is a deadlock even beside idle daemons.
    let r = random(0, 1).explore(|| {
        let _ = sched::spawn_daemon("idle", || {
            while !sched::shutting_down() {
                sched::park("idle", || true);
            }
        });
        sched::park("forever", || true);
    });
    let Failure::Deadlock { blocked } = r.first_failure.expect("deadlock").failure else {
        panic!("not a deadlock")
    };
    let names: Vec<_> = blocked.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["main"]);
}

fn first_log_bytes(seed: u64) -> Vec<u8> {
    // Every schedule fails on purpose so the report carries a log; pick a deterministic one.
    let r: Report = random(seed, 1).explore(|| {
        sb_relaxed();
        panic!("stop");
    });
    r.first_failure.unwrap().log.to_bytes()
}

#[test]
fn same_seed_same_event_log_bytes() {
    assert_eq!(first_log_bytes(42), first_log_bytes(42));
    let a = std::thread::spawn(|| first_log_bytes(42));
    let b = std::thread::spawn(|| first_log_bytes(42));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert_eq!(a, b);
    assert_eq!(a, first_log_bytes(42));
}

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn env_is_parsed_with_clear_errors() {
    let b = Builder::with_env(env(&[
        ("NETPOLL_SIM_SEED", "9"),
        ("NETPOLL_SIM_STRATEGY", "dfs"),
        ("NETPOLL_SIM_PREEMPTIONS", "2"),
    ]))
    .unwrap();
    assert_eq!(
        (b.seed, b.strategy, b.preemption_bound),
        (9, Strategy::Dfs, Some(2))
    );
    let e = Builder::with_env(env(&[("NETPOLL_SIM_MEMORY", "tso2")])).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("NETPOLL_SIM_MEMORY") && msg.contains("sc, c11, tso"),
        "{msg}"
    );
    let b = Builder::with_env(env(&[("NETPOLL_SIM_MEMORY", "tso")])).unwrap();
    assert_eq!(b.memory, MemoryModel::Tso);
    assert_eq!(MemoryModel::Tso.to_string(), "tso");
    let b = Builder::with_env(env(&[("NETPOLL_SIM_PREEMPTIONS", "none")])).unwrap();
    assert_eq!(b.preemption_bound, None);
}

#[test]
fn end_checks_run_once_every_task_has_finished() {
    use netpoll_sim::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    // A check that sees the final value: fails when the two increments both happened.
    let r = Builder::default().schedules(20).explore(|| {
        let x = Arc::new(AtomicU32::new(0));
        let (x1, x2) = (x.clone(), x.clone());
        netpoll_sim::sched::at_end("x-once", move || {
            (x2.peek() == 2).then(|| format!("x = {}", x2.peek()))
        });
        let h = netpoll_sim::thread::spawn(move || {
            x1.fetch_add(1, Ordering::SeqCst);
        });
        x.fetch_add(1, Ordering::SeqCst);
        h.join().unwrap();
    });
    let info = r.first_failure.expect("the end check fails");
    assert_eq!(
        info.failure,
        netpoll_sim::Failure::Checker {
            checker: "x-once".into(),
            message: "x = 2".into()
        }
    );
    // A passing check leaves the schedule passing; a deadlocked schedule never reaches it.
    let r = Builder::default().schedules(20).explore(|| {
        netpoll_sim::sched::at_end("nothing", || None);
    });
    assert_eq!(r.failures, 0);
    let r = Builder::default().schedules(1).explore(|| {
        netpoll_sim::sched::at_end("never", || Some("must not run".into()));
        netpoll_sim::sched::park("forever", || true);
    });
    let info = r.first_failure.expect("deadlock");
    assert!(matches!(
        info.failure,
        netpoll_sim::Failure::Deadlock { .. }
    ));
}

/// A plain field names the lock that protects its writes: a write without it fails the run,
/// naming the field, the task and the source line; an unlocked read does not.
#[test]
fn a_write_without_the_protecting_lock_is_an_unprotected_write() {
    use netpoll_sim::sync::RawMutex;
    let toy = |lock_the_write: bool| {
        move || {
            let lock = Arc::new(RawMutex::named(LocName::single("toy", "lock")));
            let field = Arc::new(Plain::guarded(0u32, LocName::single("toy", "field"), &lock));
            let (l2, f2) = (lock.clone(), field.clone());
            let h = thread::spawn_named("writer", move || {
                if lock_the_write {
                    l2.lock();
                    f2.set(1);
                    l2.unlock();
                } else {
                    f2.set(1);
                }
            });
            // An unlocked read is the race detector's business, not this rule's.
            let _ = field.get();
            h.join().unwrap();
        }
    };
    let r = random(1, 100).explore(toy(false));
    let ff = r.first_failure.expect("the unlocked write is caught");
    let Failure::UnprotectedWrite {
        field,
        lock,
        name,
        site,
        ..
    } = &ff.failure
    else {
        panic!("{}", ff.failure)
    };
    assert_eq!((field.as_str(), lock.as_str()), ("toy.field", "toy.lock"));
    assert_eq!(name, "writer");
    assert!(site.contains("engine.rs"), "{site}");
    assert_eq!(
        ff.failure.kind(),
        netpoll_sim::FailureKind::UnprotectedWrite
    );
    let r = Builder::default()
        .strategy(Strategy::Dfs)
        .schedules(u64::MAX)
        .explore(toy(true));
    assert!(r.complete() && r.failures == 0, "{r}");
}

/// PCT as published: change points are drawn independently, so the order of the lowered
/// priorities is random. Two tasks run ten steps each; the highest priority runs first. An
/// implementation that numbers the change points in time order always lets the task lowered
/// later outrank the one lowered earlier, so once the first task is lowered and the second
/// runs, the second runs to its end: the steps come in at most three runs (A B A). Drawn
/// independently, the later point can carry the lower priority, and the first task comes back
/// before the second is done: four runs or more (A B A B).
#[test]
fn pct_reaches_an_order_that_time_ordered_change_points_never_produce() {
    let order = Arc::new(std::sync::Mutex::new(Vec::<u32>::new()));
    let o = order.clone();
    let runs_seen = Arc::new(std::sync::Mutex::new(Vec::<usize>::new()));
    let rs = runs_seen.clone();
    // One job: the runs share `order` and must come one at a time.
    let r = Builder::default()
        .strategy(Strategy::Pct)
        .pct_depth(3)
        .seed(11)
        .schedules(2_000)
        .jobs(1)
        .explore(move || {
            o.lock().unwrap().clear();
            let x = Arc::new(AtomicU32::new(0));
            let hs: Vec<_> = (1..=2)
                .map(|me| {
                    let (x, o) = (x.clone(), o.clone());
                    thread::spawn(move || {
                        for _ in 0..10 {
                            x.fetch_add(1, Relaxed);
                            o.lock().unwrap().push(me);
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            let seq = o.lock().unwrap().clone();
            let runs = 1 + seq.windows(2).filter(|w| w[0] != w[1]).count();
            rs.lock().unwrap().push(runs);
        });
    assert_eq!(r.failures, 0, "{r}");
    let runs = runs_seen.lock().unwrap();
    assert!(runs.iter().all(|&n| n <= 5), "{:?}", runs.iter().max());
    let four_or_more = runs.iter().filter(|&&n| n >= 4).count();
    assert!(
        four_or_more > 0,
        "no schedule came back to the first task before the second finished"
    );
}
