//! Shrinking a real failing schedule: fewer departures from the default run, the same
//! failure, and the result replays byte for byte.

mod trace_common;

use netpoll_sim::shrink::cost;
use netpoll_sim::sync::atomic::{AtomicU32, Ordering};
use netpoll_sim::trace::replay_trace;
use netpoll_sim::LocName;
use netpoll_sim::{thread, Builder, MemoryModel, Strategy, Subject};
use std::sync::Arc;

/// SB with noise: each side first bumps a private counter a few times, so random schedules
/// switch tasks often for no reason.
fn noisy_sb() {
    let x = Arc::new(AtomicU32::named(0, LocName::single("sb", "x")));
    let y = Arc::new(AtomicU32::named(0, LocName::single("sb", "y")));
    let (x1, y1) = (x.clone(), y.clone());
    let h = thread::spawn_named("left", move || {
        let noise = AtomicU32::named(0, LocName::single("left", "noise"));
        for _ in 0..6 {
            noise.fetch_add(1, Ordering::Relaxed);
        }
        x1.store(1, Ordering::Relaxed);
        y1.load(Ordering::Relaxed)
    });
    let noise = AtomicU32::named(0, LocName::single("main", "noise"));
    for _ in 0..6 {
        noise.fetch_add(1, Ordering::Relaxed);
    }
    y.store(1, Ordering::Relaxed);
    let r2 = x.load(Ordering::Relaxed);
    let r1 = h.join().unwrap();
    assert!(!(r1 == 0 && r2 == 0), "store buffering: both loads read 0");
}

#[test]
fn shrinks_a_random_schedule_and_replays_it() {
    let b = Builder::default()
        .strategy(Strategy::Random)
        .memory(MemoryModel::C11)
        .seed(7)
        .schedules(10_000);
    let r = b.explore(noisy_sb);
    let info = r.first_failure.expect("SB under c11 fails");
    let shrunk = b.clone().shrink_runs(2_000).shrink(&info, noisy_sb);
    assert_eq!(shrunk.failure, info.failure);
    assert!(cost(&shrunk.choices) <= cost(&info.choices));
    // The default run (main runs until it blocks in join, then left) already reads x = 0 in
    // main; left's load of y then only has to read the older store: one departure.
    assert_eq!(cost(&shrunk.choices).0, 1, "{:?}", shrunk.choices);
    let t = b.trace(Subject::Test(trace_common::sb_test_id()), &shrunk, true);
    replay_trace(&t, noisy_sb).expect("the shrunk schedule replays byte for byte");
    eprintln!(
        "shrunk {} choices ({:?}) / {} events to {} choices ({:?}) / {} events",
        info.choices.len(),
        cost(&info.choices),
        info.log.events.len(),
        shrunk.choices.len(),
        cost(&shrunk.choices),
        shrunk.log.events.len()
    );
}
