//! Micro benchmarks of the engine, callable from a bench binary. They print their figures;
//! nothing here asserts on time.

use crate::sync::atomic::{AtomicU32, Ordering};
use crate::{thread, Builder, MemoryModel, Report, Strategy};
use std::sync::Arc;

/// The store-buffering litmus test with relaxed accesses (two tasks, each stores one location
/// and loads the other).
pub fn sb_relaxed() {
    let x = Arc::new(AtomicU32::new(0));
    let y = Arc::new(AtomicU32::new(0));
    let (x1, y1) = (x.clone(), y.clone());
    let h = thread::spawn(move || {
        x1.store(1, Ordering::Relaxed);
        y1.load(Ordering::Relaxed)
    });
    y.store(1, Ordering::Relaxed);
    let _r2 = x.load(Ordering::Relaxed);
    let _r1 = h.join().unwrap();
}

/// Run `schedules` random schedules of the SB litmus test under `memory`, print schedules/s
/// and steps/s, and return the report.
pub fn sb_litmus(schedules: u64, memory: MemoryModel) -> Report {
    let b = Builder::default()
        .strategy(Strategy::Random)
        .memory(memory)
        .schedules(schedules)
        .seed(1);
    let r = b.explore(sb_relaxed);
    println!(
        "sb-litmus ({memory}): {} schedules, {} steps in {:.3}s: {:.0} schedules/s, {:.0} steps/s",
        r.schedules,
        r.steps,
        r.elapsed.as_secs_f64(),
        r.schedules_per_sec(),
        r.steps_per_sec()
    );
    r
}
