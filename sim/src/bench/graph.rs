//! Figures of the `graph` strategy: executions and time of the #45211 scenarios (complete,
//! c11 and imm, no bound), the growth of a close/block model with 1 to 6 readers on
//! independent pds, the speed-up on more jobs, and executions per second beside the random
//! strategy's schedules per second.

use crate::engine::sched;
use crate::engine::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use crate::engine::sync::{Mutex, Plain};
use crate::engine::thread;
use crate::{scenario_check, Builder, LocName, MemoryModel, Report, Strategy};
use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use std::sync::Arc;

const READY: u64 = 1;
const WAIT: u64 = 2;
/// `rg` holds a parked task as `GOROUTINE + id`.
const GOROUTINE: u64 = 16;
const CLOSING: u32 = 1;

/// One pd of the model: Go's `pollDesc` reduced to the close/block protocol - the read
/// semaphore `rg`, `closing` (written under the lock) and, in the fixed protocol, its
/// atomic summary `info`. Go's atomics are sequentially consistent: every atomic access
/// here is SeqCst.
struct ModelPd {
    lock: Mutex<()>,
    closing: Plain<bool>,
    info: AtomicU32,
    rg: AtomicU64,
}

/// Go's `netpollcheckerr` for reads: closed? Fixed: the atomic summary. Pre-fix: the plain
/// field, read without the lock (the #45211 bug).
fn closed(pd: &ModelPd, prefix: bool) -> bool {
    if prefix {
        pd.closing.get()
    } else {
        pd.info.load(SeqCst) & CLOSING != 0
    }
}

/// The reader: Go's `poll_runtime_pollWait` on an fd that never becomes readable - it
/// blocks in `netpollblock` until the close wakes it, and must then see the close.
fn model_reader(pd: &ModelPd, prefix: bool) {
    loop {
        if closed(pd, prefix) {
            return;
        }
        // netpollblock: pdNil -> pdWait, re-check errors, park committing pdWait -> g.
        if pd.rg.compare_exchange(READY, 0, SeqCst, SeqCst).is_ok() {
            continue;
        }
        assert!(
            pd.rg.compare_exchange(0, WAIT, SeqCst, SeqCst).is_ok(),
            "double wait"
        );
        if !closed(pd, prefix) {
            let me = GOROUTINE + sched::current() as u64;
            sched::park("netpoll", || {
                pd.rg.compare_exchange(WAIT, me, SeqCst, SeqCst).is_ok()
            });
        }
        // Woken (or not parked): take the state back.
        let old = pd.rg.swap(0, SeqCst);
        assert!(old <= WAIT || old >= GOROUTINE, "corrupt rg {old}");
    }
}

/// The closer: Go's `poll_runtime_pollUnblock` - set `closing` under the lock (and publish
/// it to `info` in the fixed protocol), then `netpollunblock` the reader.
fn model_closer(pd: &ModelPd, prefix: bool) {
    {
        let _g = pd.lock.lock().unwrap();
        pd.closing.set(true);
        if !prefix {
            pd.info.fetch_or(CLOSING, SeqCst);
        }
    }
    if prefix {
        // The pre-fix "full barrier": a SeqCst store to an unrelated location, which orders
        // nothing under C11.
        pd.info.store(0, SeqCst);
    }
    loop {
        let old = pd.rg.load(SeqCst);
        if old == READY || old == 0 {
            return;
        }
        if pd.rg.compare_exchange(old, 0, SeqCst, SeqCst).is_ok() {
            if old >= GOROUTINE {
                sched::ready((old - GOROUTINE) as u32);
            }
            return;
        }
    }
}

/// A close/block model: `readers` independent pds, each with a reader blocked on it and a
/// closer closing it (`prefix`: the protocol before the #45211 fix).
pub fn close_block_model(readers: u32, prefix: bool) -> impl Fn() + Clone + 'static {
    move || {
        let mut hs = Vec::new();
        for i in 0..readers {
            let pd = Arc::new(ModelPd {
                lock: Mutex::new(()),
                closing: Plain::named(false, LocName::indexed("pd", i, "closing")),
                info: AtomicU32::new(0),
                rg: AtomicU64::new(0),
            });
            let p2 = pd.clone();
            hs.push(thread::spawn_named("reader", move || {
                model_reader(&p2, prefix)
            }));
            hs.push(thread::spawn_named("closer", move || {
                model_closer(&pd, prefix)
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
    }
}

fn graph(memory: MemoryModel) -> Builder {
    Builder::default()
        .strategy(Strategy::Graph)
        .memory(memory)
        .schedules(u64::MAX)
}

fn line(what: &str, r: &Report) {
    let g = r.graph.unwrap_or_default();
    println!(
        "  {what:<40} {:>9} executions {:>6} blocked {:>9} runs {:>8.3}s  {:>9.0} executions/s  {}",
        g.executions,
        g.blocked,
        r.schedules,
        r.elapsed.as_secs_f64(),
        g.executions as f64 / r.elapsed.as_secs_f64().max(1e-9),
        if r.first_failure.is_some() {
            "FAILED"
        } else if r.complete() {
            "complete"
        } else {
            "capped"
        }
    );
}

/// The three #45211 scenarios, fixed protocol, c11, complete with no bound; the two smaller
/// ones under imm (the ARMv8 model); and the pre-fix protocol under c11 and imm (fails), sc
/// and tso (complete).
pub fn scenarios() {
    println!("graph strategy, #45211 scenarios (no preemption bound, every core):");
    for s in [
        Scenario::CloseUnblocksRead,
        Scenario::DeadlineUnblocksRead,
        Scenario::CloseUnblocksWrite,
    ] {
        let r = graph(MemoryModel::C11).explore(scenario_check(s, Protocol::Fixed));
        line(&format!("{s} fixed c11"), &r);
    }
    for s in [Scenario::CloseUnblocksRead, Scenario::DeadlineUnblocksRead] {
        let r = graph(MemoryModel::Imm).explore(scenario_check(s, Protocol::Fixed));
        line(&format!("{s} fixed imm"), &r);
    }
    for s in [Scenario::CloseUnblocksRead, Scenario::DeadlineUnblocksRead] {
        for m in [
            MemoryModel::C11,
            MemoryModel::Imm,
            MemoryModel::Sc,
            MemoryModel::Tso,
        ] {
            let r = graph(m).explore(scenario_check(s, Protocol::PreFix45211));
            line(&format!("{s} pre-fix {m}"), &r);
        }
    }
}

/// The close/block model with 1 to 6 readers on independent pds: executions grow as a power
/// of the readers (each pd's executions times the others').
pub fn readers() {
    println!("graph strategy, close/block model, N readers on independent pds (fixed, c11):");
    let mut one = 0;
    for n in 1..=6 {
        let r = graph(MemoryModel::C11).explore(close_block_model(n, false));
        let e = r.graph.unwrap_or_default().executions;
        if n == 1 {
            one = e;
        }
        line(
            &format!("{n} reader(s) (one reader's {one}^{n} = {})", one.pow(n)),
            &r,
        );
    }
}

/// Executions per second of the graph strategy beside schedules per second of the random
/// strategy on the same scenario, measured in one run.
pub fn versus_random() {
    let s = Scenario::CloseUnblocksRead;
    let check = scenario_check(s, Protocol::Fixed);
    let g = graph(MemoryModel::C11).jobs(1).explore(check);
    let n = g.schedules.max(1);
    let r = Builder::default()
        .jobs(1)
        .strategy(Strategy::Random)
        .memory(MemoryModel::C11)
        .seed(1)
        .schedules(n * 10)
        .explore(check);
    let ge = g.graph.unwrap_or_default().executions as f64 / g.elapsed.as_secs_f64().max(1e-9);
    let gr = g.schedules as f64 / g.elapsed.as_secs_f64().max(1e-9);
    println!("graph vs random on {s} (fixed, c11), side by side, one job each:");
    println!(
        "  graph:  {:>9.0} executions/s ({:>9.0} runs/s, {:.1} steps/run)",
        ge,
        gr,
        g.steps as f64 / n as f64
    );
    println!(
        "  random: {:>9.0} schedules/s ({:.1} steps/schedule)",
        r.schedules_per_sec(),
        r.steps as f64 / r.schedules.max(1) as f64
    );
    println!(
        "  graph executions/s / random schedules/s: {:.2}",
        ge / r.schedules_per_sec().max(1e-9)
    );
}

/// The speed-up of splitting the search among jobs: the 5-reader model on 1 job and on
/// every core, side by side (the counts must be equal), with what a perfectly parallel loop
/// gained from the same threads just after (on a shared machine, often less than the jobs).
pub fn jobs() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "graph strategy on 1 and {cores} jobs, close/block model with 5 readers (fixed, c11):"
    );
    let mut base = (0.0, 0.0);
    for jobs in [1, cores.max(2)] {
        let r = graph(MemoryModel::C11)
            .jobs(jobs)
            .explore(close_block_model(5, false));
        let t = r.elapsed.as_secs_f64().max(1e-9);
        let spin = super::spin_rate(jobs);
        if jobs == 1 {
            base = (t, spin);
        }
        line(
            &format!(
                "{jobs} job(s): x{:.2} (a parallel loop: x{:.2})",
                base.0 / t,
                spin / base.1
            ),
            &r,
        );
    }
}

/// Every graph figure.
pub fn all() {
    scenarios();
    readers();
    jobs();
    versus_random();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In this crate's tests every verdict of the floors (`consistency::floor`) is checked
    /// against the check of the whole graph. The engine's differential test runs small
    /// random programs; here (the engine's tests may not use the layers above it) the
    /// litmus tests add the SeqCst shapes (store buffering, IRIW) where the `psc` floor
    /// rejects, the close/block model (Go's SeqCst atomics, a lock, plain fields) many
    /// more, and racing read-modify-writes the revisits of graphs that break atomicity.
    #[test]
    fn floors_agree_with_the_whole_check_on_the_litmus_tests_and_a_protocol() {
        for prefix in [false, true] {
            let r = Builder::default()
                .strategy(Strategy::Graph)
                .memory(MemoryModel::C11)
                .schedules(u64::MAX)
                .stop_at_first_failure(false)
                .explore(close_block_model(2, prefix));
            assert!(r.complete(), "close/block model: {r}");
        }
        // Three read-modify-writes racing for one store: revisits of graphs that break
        // atomicity, some of which still do.
        fn racing_rmws() {
            let x = Arc::new(AtomicU32::new(0));
            let hs: Vec<_> = (0..3)
                .map(|_| {
                    let x = x.clone();
                    thread::spawn(move || {
                        x.fetch_add(1, SeqCst);
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        }
        let bodies: Vec<(&str, fn())> = crate::litmus::ALL
            .iter()
            .map(|l| (l.name, l.body))
            .chain([("racing read-modify-writes", racing_rmws as fn())])
            .collect();
        for (name, body) in bodies {
            for m in [
                MemoryModel::Sc,
                MemoryModel::Tso,
                MemoryModel::C11,
                MemoryModel::Imm,
            ] {
                let r = Builder::default()
                    .strategy(Strategy::Graph)
                    .memory(m)
                    .schedules(u64::MAX)
                    .explore(body);
                assert!(r.complete(), "{name} under {m}: {r}");
            }
        }
    }
}
