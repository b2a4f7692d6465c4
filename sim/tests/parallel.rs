//! `--jobs`: however many threads explore, the report is the same - the same schedules, steps,
//! failures, first failing index and verdict - for every strategy, whether the exploration
//! stops at its first failure, keeps going, or runs into its cap.

use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_sim::sync::atomic::{AtomicU32, Ordering};
use netpoll_sim::{scenario_check, thread, Builder, MemoryModel, Report, Strategy};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// What must not depend on the number of jobs.
fn figures(r: &Report) -> String {
    let first = r
        .first_failure
        .as_ref()
        .map(|f| format!("{} {:?} {}", f.schedule_index, f.choices, f.failure));
    format!(
        "{} schedules, {} steps, {} failures, {} races, {:?}, first {:?}",
        r.schedules, r.steps, r.failures, r.races, r.coverage, first
    )
}

fn same_with_1_and_4_jobs(b: Builder, what: &str) -> Report {
    let check = scenario_check(Scenario::CloseUnblocksRead, Protocol::PreFix45211);
    let one = b.clone().jobs(1).explore(check);
    let four = b.jobs(4).explore(check);
    assert_eq!(figures(&one), figures(&four), "{what}");
    one
}

fn base(strategy: Strategy) -> Builder {
    Builder::default()
        .strategy(strategy)
        .memory(MemoryModel::C11)
        .seed(3)
}

#[test]
fn random_is_the_same_with_1_and_4_jobs() {
    let b = base(Strategy::Random).schedules(3_000);
    let all = same_with_1_and_4_jobs(b.clone().stop_at_first_failure(false), "keep going");
    assert!(all.failures > 1, "{all}");
    let first = same_with_1_and_4_jobs(b, "stop at the first failure");
    let index = first.first_failure.as_ref().unwrap().schedule_index;
    assert_eq!(first.schedules, index + 1, "{first}");
    assert_eq!(
        all.first_failure.unwrap().schedule_index,
        index,
        "the same first failure whether or not the exploration stops there"
    );
}

#[test]
fn pct_is_the_same_with_1_and_4_jobs() {
    let b = base(Strategy::Pct).schedules(3_000).seed(2);
    let all = same_with_1_and_4_jobs(b.clone().stop_at_first_failure(false), "keep going");
    assert!(all.failures > 1, "{all}");
    same_with_1_and_4_jobs(b, "stop at the first failure");
}

#[test]
fn dfs_is_the_same_with_1_and_4_jobs() {
    let b = base(Strategy::Dfs).preemption_bound(Some(3));
    let all = same_with_1_and_4_jobs(
        b.clone().schedules(u64::MAX).stop_at_first_failure(false),
        "complete, keep going",
    );
    assert!(all.complete() && all.failures > 1, "{all}");
    let first = same_with_1_and_4_jobs(b.clone().schedules(u64::MAX), "stop at the first failure");
    assert_eq!(
        first.first_failure.as_ref().unwrap().schedule_index,
        all.first_failure.as_ref().unwrap().schedule_index
    );
    // Caps that end inside subtrees, before and after the first failure.
    for cap in [1, 7, 50, 1_000] {
        let r = same_with_1_and_4_jobs(
            b.clone().schedules(cap).stop_at_first_failure(false),
            &format!("capped at {cap}"),
        );
        assert_eq!(r.schedules, cap.min(all.schedules), "{r}");
        assert_eq!(r.complete(), cap >= all.schedules, "{r}");
    }
}

#[test]
fn unbounded_dfs_capped_is_the_same_with_1_and_4_jobs() {
    let b = base(Strategy::Dfs)
        .memory(MemoryModel::Sc)
        .schedules(2_000)
        .stop_at_first_failure(false);
    let r = same_with_1_and_4_jobs(b, "unbounded, capped");
    assert_eq!(r.schedules, 2_000);
    assert!(!r.complete(), "{r}");
}

/// A check written as a closure runs on every thread; state it shares between runs is
/// shared between threads (here, a set of outcomes, which does not care in which order the
/// runs come).
#[test]
fn a_closure_check_sees_every_outcome_with_4_jobs() {
    let outcomes = |jobs: usize| {
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let s = seen.clone();
        let r = Builder::default()
            .strategy(Strategy::Dfs)
            .schedules(u64::MAX)
            .jobs(jobs)
            .explore(move || {
                let x = Arc::new(AtomicU32::new(0));
                let y = Arc::new(AtomicU32::new(0));
                let (x1, y1) = (x.clone(), y.clone());
                let h = thread::spawn(move || {
                    x1.store(1, Ordering::Relaxed);
                    y1.load(Ordering::Relaxed)
                });
                y.store(1, Ordering::Relaxed);
                let r2 = x.load(Ordering::Relaxed);
                let r1 = h.join().unwrap();
                s.lock().unwrap().insert((r1, r2));
            });
        assert!(r.complete(), "{r}");
        let out = seen.lock().unwrap().clone();
        (r.schedules, out)
    };
    let (n1, one) = outcomes(1);
    let (n4, four) = outcomes(4);
    assert_eq!((n1, &one), (n4, &four));
    assert_eq!(one.len(), 4, "store buffering: all four outcomes under c11");
}

/// The graph strategy runs on one thread for now (it does not implement the subtree split
/// yet): whatever `jobs` says, its report is the one-thread report.
#[test]
fn graph_is_the_same_with_1_and_4_jobs() {
    let sb = || {
        let x = Arc::new(AtomicU32::new(0));
        let y = Arc::new(AtomicU32::new(0));
        let (x1, y1) = (x.clone(), y.clone());
        let h = thread::spawn(move || {
            x1.store(1, Ordering::Relaxed);
            y1.load(Ordering::Relaxed)
        });
        y.store(1, Ordering::Relaxed);
        let r2 = x.load(Ordering::Relaxed);
        let r1 = h.join().unwrap();
        assert!(r1 == 1 || r2 == 1, "store buffering");
    };
    let b = Builder::default()
        .strategy(Strategy::Graph)
        .schedules(u64::MAX)
        .stop_at_first_failure(false);
    let one = b.clone().jobs(1).explore(sb);
    let four = b.jobs(4).explore(sb);
    assert_eq!(figures(&one), figures(&four));
    assert!(one.complete() && one.failures == 1, "{one}");
}
