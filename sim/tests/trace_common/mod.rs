//! Test data for the trace tests: a real failing run of the store-buffering litmus test.

#![allow(dead_code)]

use netpoll_sim::sync::atomic::{AtomicU32, Ordering};
use netpoll_sim::trace::TestId;
use netpoll_sim::LocName;
use netpoll_sim::{thread, Builder, MemoryModel, Strategy, Subject, Trace};
use std::sync::Arc;

/// Store buffering with relaxed accesses: `T1: x = v; r1 = y   T2: y = v; r2 = x`, asserting
/// that not both loads read 0 (which C11 allows, so the check fails).
pub fn sb(v: u32) -> impl Fn() + 'static {
    move || {
        let x = Arc::new(AtomicU32::named(0, LocName::single("sb", "x")));
        let y = Arc::new(AtomicU32::named(0, LocName::single("sb", "y")));
        let (x1, y1) = (x.clone(), y.clone());
        let h = thread::spawn_named("left", move || {
            x1.store(v, Ordering::Relaxed);
            y1.load(Ordering::Relaxed)
        });
        y.store(v, Ordering::Relaxed);
        let r2 = x.load(Ordering::Relaxed);
        let r1 = h.join().unwrap();
        assert!(!(r1 == 0 && r2 == 0), "store buffering: both loads read 0");
    }
}

/// The builder that finds the SB failure: depth-first, c11.
pub fn sb_builder() -> Builder {
    Builder::default()
        .strategy(Strategy::Dfs)
        .memory(MemoryModel::C11)
        .schedules(100_000)
}

/// The trace of the first failing SB schedule.
pub fn sb_trace() -> Trace {
    let b = sb_builder();
    let r = b.explore(sb(1));
    let info = r.first_failure.expect("SB under c11 fails");
    b.trace(Subject::Test(sb_test_id()), &info, false)
}

/// The test the SB trace claims to come from.
pub fn sb_test_id() -> TestId {
    TestId {
        package: "netpoll-sim".into(),
        target: "trace_common".into(),
        name: "sb-litmus".into(),
    }
}
