//! Litmus tests of the `tso` memory model (x86-TSO: per-task FIFO store buffers), each
//! enumerated exhaustively by the depth-first strategy and checked against its full outcome
//! set: every outcome x86 allows is observed, no forbidden one ever is. Store buffering is
//! TSO's one relaxation; a locked instruction (SeqCst store = XCHG, RMW, SeqCst fence =
//! MFENCE, locks) drains the buffer.

use netpoll_sim::sync::atomic::{fence, AtomicU32, Ordering, Ordering::*};
use netpoll_sim::sync::{Mutex, Plain};
use netpoll_sim::trace::{decode, encode, render_svg, render_text, replay_trace, TestId};
use netpoll_sim::LocName;
use netpoll_sim::{thread, Builder, ChoiceKind, MemoryModel, Op, Strategy, Subject};
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::{Arc, Mutex as StdMutex};

const TSO: MemoryModel = MemoryModel::Tso;

/// Every outcome `f` produces over the depth-first enumeration (complete; within the
/// preemption bound if one is given).
fn outcomes<T, F>(memory: MemoryModel, bound: Option<u32>, f: F) -> BTreeSet<T>
where
    T: Ord + Clone + Debug + Send + 'static,
    F: Fn() -> T + Send + Sync + 'static,
{
    let f = Arc::new(f);
    let dfs = search(Strategy::Dfs, memory, bound, f.clone());
    // The graph strategy needs no bound and must give the same verdicts.
    let graph = search(Strategy::Graph, memory, None, f);
    assert_eq!(graph, dfs, "graph and depth-first outcomes differ");
    dfs
}

/// Every outcome `f` produces over one complete search with `strategy`.
fn search<T, F>(
    strategy: Strategy,
    memory: MemoryModel,
    bound: Option<u32>,
    f: Arc<F>,
) -> BTreeSet<T>
where
    T: Ord + Clone + Debug + Send + 'static,
    F: Fn() -> T + Send + Sync + 'static,
{
    let seen = Arc::new(StdMutex::new(BTreeSet::new()));
    let s = seen.clone();
    let r = Builder::default()
        .strategy(strategy)
        .memory(memory)
        .schedules(u64::MAX)
        .preemption_bound(bound)
        .explore(move || {
            let o = f();
            s.lock().unwrap().insert(o);
        });
    assert!(r.first_failure.is_none(), "{r}");
    assert!(r.complete(), "enumeration not complete: {r}");
    eprintln!("{strategy}: {r}");
    let out = seen.lock().unwrap().clone();
    out
}

fn tso<T, F>(f: F) -> BTreeSet<T>
where
    T: Ord + Clone + Debug + Send + 'static,
    F: Fn() -> T + Send + Sync + 'static,
{
    outcomes(TSO, None, f)
}

fn set<T: Ord + Clone>(xs: &[T]) -> BTreeSet<T> {
    xs.iter().cloned().collect()
}

fn shared() -> (Arc<AtomicU32>, Arc<AtomicU32>) {
    (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)))
}

const SB_ALL: [(u32, u32); 4] = [(0, 0), (0, 1), (1, 0), (1, 1)];
const SB_SC: [(u32, u32); 3] = [(0, 1), (1, 0), (1, 1)];

/// SB: T1: x=1; [fence]; r1=y   T2: y=1; [fence]; r2=x. `st1`/`st2`: each side's store
/// ordering.
fn sb(st1: Ordering, st2: Ordering, fences: bool) -> impl Fn() -> (u32, u32) {
    move || {
        let (x, y) = shared();
        let (x1, y1) = (x.clone(), y.clone());
        let h = thread::spawn(move || {
            x1.store(1, st1);
            if fences {
                fence(SeqCst);
            }
            y1.load(SeqCst)
        });
        y.store(1, st2);
        if fences {
            fence(SeqCst);
        }
        let r2 = x.load(SeqCst);
        let r1 = h.join().unwrap();
        (r1, r2)
    }
}

#[test]
fn sb_relaxed_stores_allow_both_zero() {
    assert_eq!(tso(sb(Relaxed, Relaxed, false)), set(&SB_ALL));
    // Release stores are plain MOVs on x86 too.
    assert_eq!(tso(sb(Release, Release, false)), set(&SB_ALL));
}

#[test]
fn sb_plain_stores_allow_both_zero() {
    let got = tso(|| {
        let x = Arc::new(Plain::named(0u32, LocName::single("sb", "x")));
        let y = Arc::new(Plain::named(0u32, LocName::single("sb", "y")));
        let (x1, y1) = (x.clone(), y.clone());
        let h = thread::spawn(move || {
            x1.set(1);
            y1.get()
        });
        y.set(1);
        let r2 = x.get();
        (h.join().unwrap(), r2)
    });
    assert_eq!(got, set(&SB_ALL));
}

#[test]
fn sb_seqcst_stores_forbid_both_zero() {
    // A SeqCst store is an XCHG: it drains the buffer and writes memory.
    assert_eq!(tso(sb(SeqCst, SeqCst, false)), set(&SB_SC));
}

#[test]
fn sb_one_seqcst_store_is_not_enough() {
    // One side drains, the other's store still waits in its buffer: (0, 0) stays possible.
    assert_eq!(tso(sb(SeqCst, Relaxed, false)), set(&SB_ALL));
    assert_eq!(tso(sb(Relaxed, SeqCst, false)), set(&SB_ALL));
}

#[test]
fn sb_with_mfence_forbids_both_zero() {
    assert_eq!(tso(sb(Relaxed, Relaxed, true)), set(&SB_SC));
}

#[test]
fn sb_with_rmw_stores_forbids_both_zero() {
    // swap and fetch_add are LOCK-prefixed: they drain, then act on memory.
    let got = tso(|| {
        let (x, y) = shared();
        let (x1, y1) = (x.clone(), y.clone());
        let h = thread::spawn(move || {
            x1.swap(1, Relaxed);
            y1.load(Relaxed)
        });
        y.fetch_add(1, Relaxed);
        let r2 = x.load(Relaxed);
        (h.join().unwrap(), r2)
    });
    assert_eq!(got, set(&SB_SC));
}

#[test]
fn sb_with_a_failing_cas_forbids_both_zero() {
    // Even a failing LOCK CMPXCHG drains the buffer.
    let got = tso(|| {
        let (x, y) = shared();
        let (x1, y1) = (x.clone(), y.clone());
        let h = thread::spawn(move || {
            x1.store(1, Relaxed);
            let _ = y1.compare_exchange(7, 8, Relaxed, Relaxed);
            y1.load(Relaxed)
        });
        y.store(1, Relaxed);
        let _ = x.compare_exchange(7, 8, Relaxed, Relaxed);
        let r2 = x.load(Relaxed);
        (h.join().unwrap(), r2)
    });
    assert_eq!(got, set(&SB_SC));
}

#[test]
fn sb_release_acquire_fences_do_not_drain() {
    // Only a SeqCst fence is an MFENCE.
    let got = tso(|| {
        let (x, y) = shared();
        let (x1, y1) = (x.clone(), y.clone());
        let h = thread::spawn(move || {
            x1.store(1, Relaxed);
            fence(AcqRel);
            y1.load(Relaxed)
        });
        y.store(1, Relaxed);
        fence(AcqRel);
        let r2 = x.load(Relaxed);
        (h.join().unwrap(), r2)
    });
    assert_eq!(got, set(&SB_ALL));
}

/// MP: T1: data=1; flag=1   T2: r1=flag; r2=data.
fn mp(st: Ordering, ld: Ordering) -> impl Fn() -> (u32, u32) {
    move || {
        let (data, flag) = shared();
        let (d1, f1) = (data.clone(), flag.clone());
        let h = thread::spawn(move || {
            d1.store(1, st);
            f1.store(1, st);
        });
        let r1 = flag.load(ld);
        let r2 = data.load(ld);
        h.join().unwrap();
        (r1, r2)
    }
}

#[test]
fn mp_forbids_stale_data_even_relaxed() {
    // TSO keeps store-store order (a FIFO buffer) and load-load order (loads read memory).
    let ok = set(&[(0, 0), (0, 1), (1, 1)]);
    assert_eq!(tso(mp(Relaxed, Relaxed)), ok);
    assert_eq!(tso(mp(Release, Acquire)), ok);
}

#[test]
fn lb_forbidden() {
    // T1: r1=x; y=1   T2: r2=y; x=1. Loads are never reordered after later stores.
    let got = tso(|| {
        let (x, y) = shared();
        let (x1, y1) = (x.clone(), y.clone());
        let h = thread::spawn(move || {
            let r1 = x1.load(Relaxed);
            y1.store(1, Relaxed);
            r1
        });
        let r2 = y.load(Relaxed);
        x.store(1, Relaxed);
        (h.join().unwrap(), r2)
    });
    assert_eq!(got, set(&[(0, 0), (0, 1), (1, 0)]));
}

#[test]
fn two_plus_two_w_forbids_one_one() {
    // T1: x=1; y=2   T2: y=1; x=2. The buffers commit in order: (1, 1) is impossible.
    let got = tso(|| {
        let (x, y) = shared();
        let (x1, y1) = (x.clone(), y.clone());
        let (x2, y2) = (x.clone(), y.clone());
        let h1 = thread::spawn(move || {
            x1.store(1, Relaxed);
            y1.store(2, Relaxed);
        });
        let h2 = thread::spawn(move || {
            y2.store(1, Relaxed);
            x2.store(2, Relaxed);
        });
        h1.join().unwrap();
        h2.join().unwrap();
        (x.load(Relaxed), y.load(Relaxed))
    });
    assert_eq!(got, set(&[(1, 2), (2, 1), (2, 2)]));
}

#[test]
fn corr_reads_never_go_backwards() {
    let got = tso(|| {
        let x = Arc::new(AtomicU32::new(0));
        let x1 = x.clone();
        let h = thread::spawn(move || {
            x1.store(1, Relaxed);
            x1.store(2, Relaxed);
        });
        let r1 = x.load(Relaxed);
        let r2 = x.load(Relaxed);
        h.join().unwrap();
        (r1, r2)
    });
    assert_eq!(got, set(&[(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]));
}

/// IRIW has five tasks; it runs with a preemption bound (see litmus.rs). Flushes are not
/// preemptions, so every placement of the buffered stores' commits is still enumerated.
const IRIW_BOUND: Option<u32> = Some(2);

/// IRIW: W1: x=1  W2: y=1  R1: a=x; b=y  R2: c=y; d=x.
fn iriw(st: Ordering) -> impl Fn() -> (u32, u32, u32, u32) {
    move || {
        let (x, y) = shared();
        let (xw, yw) = (x.clone(), y.clone());
        let (x1, y1) = (x.clone(), y.clone());
        let (x2, y2) = (x.clone(), y.clone());
        let w1 = thread::spawn(move || xw.store(1, st));
        let w2 = thread::spawn(move || yw.store(1, st));
        let r1 = thread::spawn(move || (x1.load(Relaxed), y1.load(Relaxed)));
        let r2 = thread::spawn(move || (y2.load(Relaxed), x2.load(Relaxed)));
        w1.join().unwrap();
        w2.join().unwrap();
        let (a, b) = r1.join().unwrap();
        let (c, d) = r2.join().unwrap();
        (a, b, c, d)
    }
}

#[test]
fn iriw_forbids_disagreement_even_relaxed() {
    // TSO is multi-copy atomic: a store reaches every other task at once.
    let sc = outcomes(MemoryModel::Sc, IRIW_BOUND, iriw(Relaxed));
    for st in [Relaxed, SeqCst] {
        let got = outcomes(TSO, IRIW_BOUND, iriw(st));
        assert!(!got.contains(&(1, 0, 1, 0)), "IRIW produced (1,0,1,0)");
        assert_eq!(got, sc, "{st:?}");
    }
}

#[test]
fn store_forwarding_a_task_reads_its_own_buffered_store() {
    // T1: x=1; r1=x; r2=y   T2: y=1; r3=x. T1 always reads its own store (r1 = 1), even
    // while T2 still reads x = 0 from memory: (1, 0, 0) is TSO's forwarding + SB outcome.
    let got = tso(|| {
        let (x, y) = shared();
        let (x1, y1) = (x.clone(), y.clone());
        let h = thread::spawn(move || {
            x1.store(1, Relaxed);
            let r1 = x1.load(Relaxed);
            (r1, y1.load(Relaxed))
        });
        y.store(1, Relaxed);
        let r3 = x.load(Relaxed);
        let (r1, r2) = h.join().unwrap();
        (r1, r2, r3)
    });
    assert_eq!(got, set(&[(1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)]));
}

#[test]
fn store_forwarding_reads_the_newest_buffered_store() {
    // Two buffered stores to x, then a load: the newer one, never the older one or memory.
    let got = tso(|| {
        let x = Arc::new(Plain::named(0u32, LocName::single("t", "x")));
        let x1 = x.clone();
        let h = thread::spawn(move || x1.get());
        x.set(1);
        x.set(2);
        let mine = x.get();
        (mine, h.join().unwrap())
    });
    // The other task sees 0, 1 or 2 (the buffer commits in order), never anything else.
    assert_eq!(got, set(&[(2, 0), (2, 1), (2, 2)]));
}

#[test]
fn rmw_atomicity() {
    let got = tso(|| {
        let x = Arc::new(AtomicU32::new(0));
        let x1 = x.clone();
        let h = thread::spawn(move || x1.fetch_add(1, Relaxed));
        let a = x.fetch_add(1, Relaxed);
        let b = h.join().unwrap();
        (a.min(b), a.max(b), x.load(Relaxed))
    });
    assert_eq!(got, set(&[(0, 1, 2)]));
    // A buffered store and another task's RMW: the RMW reads memory; the store commits
    // before or after it, never in the middle.
    let got = tso(|| {
        let x = Arc::new(AtomicU32::new(0));
        let x1 = x.clone();
        let h = thread::spawn(move || x1.store(5, Relaxed));
        let old = x.fetch_add(1, Relaxed);
        h.join().unwrap();
        (old, x.load(Relaxed))
    });
    assert_eq!(got, set(&[(0, 5), (5, 6)]));
}

#[test]
fn mutex_exclusion_and_publication() {
    let got = tso(|| {
        let m = Arc::new(Mutex::new(0u32));
        let inside = Arc::new(AtomicU32::new(0));
        let data = Arc::new(Plain::named(0u32, LocName::single("t", "data")));
        let mut hs = Vec::new();
        for _ in 0..2 {
            let (m, inside, data) = (m.clone(), inside.clone(), data.clone());
            hs.push(thread::spawn(move || {
                let mut g = m.lock().unwrap();
                assert_eq!(
                    inside.fetch_add(1, Relaxed),
                    0,
                    "two tasks inside the mutex"
                );
                // A plain write under the lock is drained by the unlock: the next holder
                // sees it.
                assert_eq!(data.get(), *g, "a write under the lock was lost");
                let v = *g;
                *g = v + 1;
                data.set(v + 1);
                inside.fetch_sub(1, Relaxed);
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
        let v = *m.lock().unwrap();
        v
    });
    assert_eq!(got, set(&[2]));
}

#[test]
fn the_other_modes_never_draw_a_flush_choice() {
    for memory in [MemoryModel::Sc, MemoryModel::C11] {
        for seed in 0..50 {
            // A check that always fails, to see its choices and events.
            let r = sb_builder(memory, Strategy::Random, seed).explore(|| {
                let _ = sb(Relaxed, Relaxed, false)();
                panic!("done");
            });
            let info = r.first_failure.expect("fails");
            assert!(info.choices.iter().all(|c| c.kind != ChoiceKind::Flush));
            assert!(info
                .log
                .events
                .iter()
                .all(|e| !matches!(e.op, Op::Flush { .. })));
        }
    }
}

/// The test the SB traces claim to come from.
fn sb_test() -> TestId {
    TestId {
        package: "netpoll-sim".into(),
        target: "litmus_tso".into(),
        name: "sb".into(),
    }
}

/// The SB check that fails on (0, 0).
fn sb_check() -> impl Fn() + 'static {
    || {
        let (r1, r2) = sb(Relaxed, Relaxed, false)();
        assert!(!(r1 == 0 && r2 == 0), "store buffering: both loads read 0");
    }
}

fn sb_builder(memory: MemoryModel, strategy: Strategy, seed: u64) -> Builder {
    Builder::default()
        .strategy(strategy)
        .memory(memory)
        .seed(seed)
        .schedules(100_000)
}

fn both_zero_failure(
    memory: MemoryModel,
    strategy: Strategy,
    seed: u64,
) -> netpoll_sim::FailureInfo {
    let r = sb_builder(memory, strategy, seed).explore(sb_check());
    match r.first_failure {
        Some(info) => info,
        None => panic!("{memory} {strategy}: SB (0, 0) not found: {r}"),
    }
}

#[test]
fn every_strategy_finds_sb_and_the_trace_replays_byte_for_byte() {
    for strategy in [Strategy::Random, Strategy::Pct, Strategy::Dfs] {
        let b = sb_builder(TSO, strategy, 3);
        let info = both_zero_failure(TSO, strategy, 3);
        assert!(
            info.choices.iter().any(|c| c.kind == ChoiceKind::Flush),
            "{strategy}: no flush choice"
        );
        assert!(info
            .log
            .events
            .iter()
            .any(|e| matches!(e.op, Op::Flush { .. })));
        // Replay from the recorded choices: the same events, byte for byte.
        let again = b.replay_choices(&info.choices, sb_check());
        let f = again.first_failure.expect("the replay fails the same way");
        assert_eq!(f.log.to_bytes(), info.log.to_bytes(), "{strategy}");
        // Through a trace file's encoding, too.
        let t = b.trace(Subject::Test(sb_test()), &info, false);
        assert_eq!(t.meta.memory, MemoryModel::Tso);
        let t = decode(&encode(&t).unwrap()).unwrap();
        let run = replay_trace(&t, sb_check()).unwrap();
        assert_eq!(run.log.to_bytes(), t.events.to_bytes());
        let text = render_text(&t);
        assert!(text.contains("memory tso"), "{text}");
        assert!(text.contains("flush(rlx) "), "{text}");
        assert!(render_svg(&t).contains("flush(rlx) "));
        // Shrinking keeps a replayable failure.
        let small = b.clone().shrink_runs(500).shrink(&info, sb_check());
        let again = b.replay_choices(&small.choices, sb_check());
        assert_eq!(
            again.first_failure.expect("still fails").log.to_bytes(),
            small.log.to_bytes()
        );
    }
}

#[test]
fn a_task_end_and_a_join_drain_the_buffers() {
    // Both tasks end with a buffered store; both are in memory after the join.
    let got = tso(|| {
        let (x, y) = shared();
        let (x1, y1) = (x.clone(), y.clone());
        let h = thread::spawn(move || x1.store(1, Relaxed));
        y1.store(2, Relaxed);
        h.join().unwrap();
        let y2 = y.clone();
        let h = thread::spawn(move || y2.load(Relaxed));
        (x.load(Relaxed), h.join().unwrap())
    });
    assert_eq!(got, set(&[(1, 2)]));
}

#[test]
fn a_tasks_own_committed_store_can_be_overwritten_before_it_reads() {
    // T1: x=1; r=x   T2: x=2. r = 2 needs T1's store committed, then T2's, then T1's load.
    let got = tso(|| {
        let x = Arc::new(AtomicU32::new(0));
        let x1 = x.clone();
        let h = thread::spawn(move || x1.store(2, Relaxed));
        x.store(1, Relaxed);
        let r = x.load(Relaxed);
        h.join().unwrap();
        (r, x.load(Relaxed))
    });
    assert_eq!(got, set(&[(1, 1), (1, 2), (2, 2)]));
}
