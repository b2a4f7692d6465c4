//! The `graph` strategy: every consistent execution graph once.
//!
//! * the number of complete executions of each standard litmus test equals GenMC's count
//!   (`shared/reference/litmus-execution-counts.md`, measured with GenMC 0.11), per model;
//! * independent copies multiply: N copies of a protocol give (executions of one)^N;
//! * the netpoll scenarios of golang/go#45211 get complete verdicts under c11 with no bound,
//!   and the pre-fix protocol fails under c11 but passes under sc and tso;
//! * a failure found this way is saved, shrunk, replayed byte for byte and rendered.

use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_sim::litmus;
use netpoll_sim::sync::atomic::{AtomicU32, Ordering::*};
use netpoll_sim::sync::{Mutex, Plain};
use netpoll_sim::trace::{decode, encode, render_text, replay_trace, TestId};
use netpoll_sim::{
    scenario_check, sched, thread, Builder, ChoiceKind, Failure, LocName, MemoryModel, Report,
    Strategy, Subject,
};
use std::sync::Arc;

fn graph(memory: MemoryModel) -> Builder {
    Builder::default()
        .strategy(Strategy::Graph)
        .memory(memory)
        .schedules(u64::MAX)
}

fn executions(r: &Report) -> (u64, u64) {
    let g = r.graph.expect("graph counts");
    (g.executions, g.blocked)
}

/// GenMC 0.11's counts (`genmc -<model> -disable-estimation`): rc11, imm, sc, tso; `None`
/// where the reference has no entry.
const REFERENCE: &[(&str, [Option<u64>; 4])] = &[
    ("SB-rlx", [Some(4), Some(4), Some(3), Some(4)]),
    ("SB-sc", [Some(3), None, Some(3), Some(3)]),
    ("MP-rlx", [Some(4), Some(4), Some(3), Some(3)]),
    ("MP-relacq", [Some(3), None, Some(3), Some(3)]),
    ("LB-rlx", [Some(3), Some(4), Some(3), Some(3)]),
    ("2+2W-rlx", [Some(4), Some(4), Some(3), Some(3)]),
    ("IRIW-sc", [Some(15), None, Some(15), Some(15)]),
    ("IRIW-relacq", [Some(16), Some(16), Some(15), Some(15)]),
    ("WRC-relacq", [Some(7), Some(7), Some(7), Some(7)]),
    ("CoRR-rlx", [Some(12), None, Some(12), Some(12)]),
    ("FAA-x2", [Some(2), None, Some(2), Some(2)]),
    ("SBx2-rlx", [Some(16), Some(16), Some(9), Some(16)]),
    ("SBx3-rlx", [Some(64), None, Some(27), Some(64)]),
];

const MODELS: [MemoryModel; 4] = [
    MemoryModel::C11,
    MemoryModel::Imm,
    MemoryModel::Sc,
    MemoryModel::Tso,
];

#[test]
fn litmus_counts_equal_the_reference() {
    let mut checked = 0;
    for &(name, counts) in REFERENCE {
        let l = litmus::ALL
            .iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("litmus test {name} is missing"));
        for (m, expected) in MODELS.into_iter().zip(counts) {
            let Some(expected) = expected else { continue };
            let r = graph(m).explore(l.body);
            assert!(r.complete(), "{name} {m}: {r}");
            assert!(r.first_failure.is_none(), "{name} {m}: {r}");
            assert_eq!(executions(&r), (expected, 0), "{name} under {m}: {r}");
            checked += 1;
        }
    }
    assert_eq!(checked, 46);
}

/// A small protocol with a lock, atomics and a park: a producer hands a value to a
/// consumer that parks until it is there.
fn handoff() {
    let state = Arc::new(Mutex::new((0u32, None::<u32>)));
    let flag = Arc::new(AtomicU32::new(0));
    let (s2, f2) = (state.clone(), flag.clone());
    let consumer = thread::spawn(move || {
        loop {
            let mut g = s2.lock().unwrap();
            if g.0 != 0 {
                break;
            }
            g.1 = Some(sched::current());
            drop(g);
            sched::park("handoff", || true);
        }
        f2.load(Acquire)
    });
    flag.store(7, Release);
    let waiter = {
        let mut g = state.lock().unwrap();
        g.0 = 1;
        g.1.take()
    };
    if let Some(t) = waiter {
        sched::ready(t);
    }
    assert_eq!(consumer.join().unwrap(), 7);
}

#[test]
fn independent_copies_multiply() {
    let one = graph(MemoryModel::C11).explore(handoff);
    let (e1, b1) = executions(&one);
    assert!(one.complete() && e1 > 1, "{one}");
    for n in 2..=3u32 {
        let r = graph(MemoryModel::C11).explore(move || {
            let hs: Vec<_> = (1..n).map(|_| thread::spawn(handoff)).collect();
            handoff();
            for h in hs {
                h.join().unwrap();
            }
        });
        assert!(r.complete(), "{r}");
        let (e, b) = executions(&r);
        assert_eq!(e, e1.pow(n), "{n} copies: {r}");
        // A blocked copy blocks the whole execution.
        assert_eq!(e + b, (e1 + b1).pow(n), "{n} copies: {r}");
    }
}

/// Three tasks increment one counter, each under a lock (of its own pair) and then with a
/// fetch_add on a shared atomic: read-modify-writes that race for the same store.
fn racing_rmws() {
    let x = Arc::new(AtomicU32::new(0));
    let m = Arc::new(Mutex::new(()));
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let (x, m) = (x.clone(), m.clone());
            thread::spawn(move || {
                drop(m.lock().unwrap());
                x.fetch_add(1, Relaxed);
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(x.load(Relaxed), 3);
}

/// A read-modify-write that reads a store another one already took would break atomicity
/// once its write part is added: the search adds both parts of such an alternative at once
/// and keeps only its revisits, so no run is spent replaying a graph that is then dropped.
#[test]
fn racing_read_modify_writes_are_explored_without_dropped_runs() {
    for m in [MemoryModel::C11, MemoryModel::Sc, MemoryModel::Tso] {
        let r = graph(m).explore(racing_rmws);
        assert!(r.complete() && r.first_failure.is_none(), "{m}: {r}");
        let g = r.graph.expect("graph counts");
        // 3! orders of the lock times 3! of the fetch_adds.
        assert_eq!((g.executions, g.blocked), (36, 0), "{m}: {r}");
        assert_eq!((r.schedules, g.dropped), (36, 0), "{m}: {r}");
    }
}

fn scenario(s: &str, p: Protocol, m: MemoryModel) -> Report {
    let s: Scenario = s.parse().expect("a scenario");
    graph(m).explore(scenario_check(s, p))
}

/// The scenarios of #45211 with the fixed protocol: complete under c11, no bound.
#[test]
fn fixed_scenarios_complete_under_c11() {
    for s in ["close-unblocks-read", "deadline-unblocks-read"] {
        let r = scenario(s, Protocol::Fixed, MemoryModel::C11);
        assert!(r.complete(), "{s}: {r}");
        assert!(r.first_failure.is_none(), "{s}: {r}");
        assert!(executions(&r).0 > 1, "{s}: {r}");
    }
}

/// The protocol before the fix deadlocks under c11 (the store-buffering race of #45211)
/// and is correct under sc and tso: complete verdicts both ways.
#[test]
fn prefix_fails_under_c11_and_passes_under_sc_and_tso() {
    for s in ["close-unblocks-read", "deadline-unblocks-read"] {
        let r = scenario(s, Protocol::PreFix45211, MemoryModel::C11);
        let ff = r
            .first_failure
            .as_ref()
            .unwrap_or_else(|| panic!("{s}: {r}"));
        assert!(matches!(ff.failure, Failure::Deadlock { .. }), "{s}: {r}");
        for m in [MemoryModel::Sc, MemoryModel::Tso] {
            let r = scenario(s, Protocol::PreFix45211, m);
            assert!(r.complete() && r.first_failure.is_none(), "{s} {m}: {r}");
        }
    }
}

/// SB where (0, 0) fails: found by the graph strategy under c11, and kept as a trace that
/// replays byte for byte, shrinks to what the failure depends on, and renders.
fn sb_assert() {
    let x = Arc::new(AtomicU32::new(0));
    let y = Arc::new(AtomicU32::new(0));
    let spin = Arc::new(AtomicU32::new(0));
    let (x1, y1, s1) = (x.clone(), y.clone(), spin.clone());
    let bystander = thread::spawn_named("bystander", move || {
        s1.fetch_add(1, Relaxed);
    });
    let h = thread::spawn_named("t1", move || {
        x1.store(1, Relaxed);
        y1.load(Relaxed)
    });
    y.store(1, Relaxed);
    let r2 = x.load(Relaxed);
    let r1 = h.join().unwrap();
    assert!(r1 == 1 || r2 == 1, "store buffering: both loads read 0");
    bystander.join().unwrap();
}

#[test]
fn a_graph_failure_is_a_trace_that_replays_shrinks_and_renders() {
    let b = graph(MemoryModel::C11);
    let r = b.explore(sb_assert);
    let ff = r.first_failure.clone().expect("SB (0,0) found");
    assert!(
        matches!(&ff.failure, Failure::Panic { message, .. } if message.contains("store buffering"))
    );
    assert!(ff.choices.iter().any(|c| c.kind == ChoiceKind::Graph));
    // Replaying the choices gives the same run, byte for byte.
    let again = b.replay_choices(&ff.choices, sb_assert);
    let ff2 = again.first_failure.expect("replays");
    assert_eq!(ff2.log.to_bytes(), ff.log.to_bytes());
    // Shrinking drops what the failing task does not depend on (the bystander).
    let small = b.shrink(&ff, sb_assert);
    assert!(small.failure.same_as(&ff.failure));
    assert!(small.choices.len() < ff.choices.len(), "{small}");
    // As a trace file: decode, replay, render.
    let id = TestId {
        package: "netpoll-sim".into(),
        target: "graph".into(),
        name: "sb".into(),
    };
    let t = b.trace(Subject::Test(id), &small, true);
    let bytes = encode(&t).expect("encodes");
    let back = decode(&bytes).expect("decodes");
    assert_eq!(back, t);
    let run = replay_trace(&back, sb_assert).expect("replays byte for byte");
    assert_eq!(run.log.to_bytes(), small.log.to_bytes());
    let text = render_text(&back);
    assert!(text.contains("store buffering"), "{text}");
}

/// A park with a time limit may time out or be readied: both are explored, and a task
/// stuck where a time-out would free it makes a blocked execution, not a deadlock.
#[test]
fn timed_parks_branch_and_block_without_deadlock() {
    let r = graph(MemoryModel::C11).explore(|| {
        let me = sched::current();
        let waker = thread::spawn(move || sched::ready(me));
        let w = sched::park_until("test", sched::now_ns() + 1_000, || true);
        waker.join().unwrap();
        let _ = w;
    });
    assert!(r.complete() && r.first_failure.is_none(), "{r}");
    let (e, _) = executions(&r);
    assert!(e >= 2, "readied and timed out: {r}");
}

/// Data races: counted on every graph, a failure when asked; none under a lock.
#[test]
fn data_races_are_found_on_graphs() {
    let racy = || {
        let c = Arc::new(Plain::named(0u32, LocName::single("t", "c")));
        let c2 = c.clone();
        let h = thread::spawn(move || c2.set(1));
        let _ = c.get();
        h.join().unwrap();
    };
    let r = graph(MemoryModel::C11).explore(racy);
    assert!(r.races > 0 && r.failures == 0 && r.complete(), "{r}");
    let r = graph(MemoryModel::C11)
        .fail_on_data_race(true)
        .explore(racy);
    let ff = r.first_failure.expect("a race");
    assert!(
        matches!(ff.failure, Failure::DataRace { .. }),
        "{}",
        ff.failure
    );
    let r = graph(MemoryModel::C11).fail_on_data_race(true).explore(|| {
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
    assert!(r.races == 0 && r.complete() && r.failures == 0, "{r}");
}

/// Subtrees of the search are independent: split into shards, the parts' executions add up
/// to the whole, whatever the number of shards.
#[test]
fn shards_add_up_to_the_whole() {
    let check = netpoll_sim::bench::graph::close_block_model(2, false);
    let whole = graph(MemoryModel::C11).explore(check.clone());
    let (e, b) = executions(&whole);
    assert_eq!(e, 64, "{whole}");
    for of in [2u32, 3, 7] {
        let (mut se, mut sb, mut runs) = (0, 0, 0);
        for i in 1..=of {
            let r = graph(MemoryModel::C11)
                .shard(Some(
                    netpoll_sim::engine::explore::Shard::new(i, of).unwrap(),
                ))
                .explore_shard(check.clone(), |_| {})
                .report;
            assert!(r.complete(), "{r}");
            let (pe, pb) = executions(&r);
            // A search too small to reach enough pending graphs runs in the first part.
            assert!(
                of > 3 || pe < e,
                "shard {i} of {of} explored everything: {r}"
            );
            se += pe;
            sb += pb;
            runs += r.schedules;
        }
        assert_eq!((se, sb, runs), (e, b, whole.schedules), "{of} shards");
    }
}

/// "Broken on ARM64", on a model of ARMv8 itself: under imm (Go's atomics as LDAR/STLR) the
/// pre-fix protocol deadlocks and the fixed one gets a complete verdict.
#[test]
fn imm_shows_45211_on_an_arm_model() {
    let r = scenario(
        "close-unblocks-read",
        Protocol::PreFix45211,
        MemoryModel::Imm,
    );
    let ff = r.first_failure.as_ref().unwrap_or_else(|| panic!("{r}"));
    assert!(matches!(ff.failure, Failure::Deadlock { .. }), "{r}");
    let r = scenario("deadline-unblocks-read", Protocol::Fixed, MemoryModel::Imm);
    assert!(r.complete() && r.first_failure.is_none(), "{r}");
}

/// A message passed through a flag that the reader spins on, with `yield_now` ending each
/// iteration of the loop. `release`: the flag's store and load synchronise.
fn spin_handoff(release: bool) {
    let (st, ld) = if release {
        (Release, Acquire)
    } else {
        (Relaxed, Relaxed)
    };
    let data = Arc::new(AtomicU32::new(0));
    let flag = Arc::new(AtomicU32::new(0));
    let (d, f) = (data.clone(), flag.clone());
    let h = thread::spawn(move || {
        d.store(42, Relaxed);
        f.store(1, st);
    });
    while flag.load(ld) == 0 {
        thread::yield_now();
    }
    assert_eq!(data.load(Relaxed), 42, "the message after the flag");
    h.join().unwrap();
}

/// Spin loops (GenMC's spin-assume): an iteration that only read blocks its task there; the
/// graph where the read sees the flag's store carries on. The loop's stale iterations are
/// blocked executions, not deadlocks; the message-passing bug with relaxed accesses is
/// found.
#[test]
fn spin_loops_end_and_stale_spins_are_pruned() {
    let r = graph(MemoryModel::C11).explore(|| spin_handoff(true));
    assert!(r.complete() && r.failures == 0, "{r}");
    // An iteration counts from the previous yield (the first from the task's start, here
    // with the spawn in it): so the first read may read 0 or 1, and after a 0 the second
    // reads 1 (two complete executions) or 0 with the store after it (a stale spin:
    // blocked). The data read then has one store it may read.
    assert_eq!(executions(&r), (2, 1), "{r}");
    let r = graph(MemoryModel::C11).explore(|| spin_handoff(false));
    assert!(r.failures == 1, "{r}");
    let f = r.first_failure.as_ref().unwrap();
    assert!(
        f.failure.to_string().contains("the message after the flag"),
        "{}",
        f.failure
    );
    let r = graph(MemoryModel::Sc).explore(|| spin_handoff(false));
    assert!(r.complete() && r.failures == 0, "{r}");
}

/// A spin on a flag no task ever sets is a livelock: reported as a deadlock that names the
/// spinning task.
#[test]
fn a_spin_that_nothing_ends_is_reported() {
    let r = graph(MemoryModel::C11).explore(|| {
        let flag = Arc::new(AtomicU32::new(0));
        let f = flag.clone();
        let h = thread::spawn(move || f.store(2, Relaxed));
        while flag.load(Relaxed) != 1 {
            thread::yield_now();
        }
        h.join().unwrap();
    });
    assert_eq!(r.failures, 1, "{r}");
    let f = r.first_failure.as_ref().unwrap();
    assert!(
        matches!(f.failure, Failure::Deadlock { .. }),
        "{}",
        f.failure
    );
    assert!(f.failure.to_string().contains("spinning"), "{}", f.failure);
}

/// Peterson's lock, spinning on its two flags and its turn: mutual exclusion holds with
/// SeqCst accesses and fails with release/acquire (store buffering), complete both ways.
fn peterson(sc: bool) {
    let (st, ld) = if sc {
        (SeqCst, SeqCst)
    } else {
        (Release, Acquire)
    };
    let flags = Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
    let turn = Arc::new(AtomicU32::new(0));
    let inside = Arc::new(AtomicU32::new(0));
    let side = move |i: usize,
                     flags: Arc<[AtomicU32; 2]>,
                     turn: Arc<AtomicU32>,
                     inside: Arc<AtomicU32>| {
        let other = 1 - i;
        flags[i].store(1, st);
        turn.store(other as u32, st);
        while flags[other].load(ld) == 1 && turn.load(ld) == other as u32 {
            netpoll_sim::hint::spin_loop();
        }
        assert_eq!(
            inside.fetch_add(1, Relaxed),
            0,
            "two tasks in the critical section"
        );
        inside.fetch_sub(1, Relaxed);
        flags[i].store(0, st);
    };
    let (f, t, n) = (flags.clone(), turn.clone(), inside.clone());
    let h = thread::spawn(move || side(1, f, t, n));
    side(0, flags, turn, inside);
    h.join().unwrap();
}

#[test]
fn peterson_holds_with_seqcst_and_fails_with_release_acquire() {
    let r = graph(MemoryModel::C11).explore(|| peterson(true));
    assert!(r.complete() && r.failures == 0, "{r}");
    let (e, b) = executions(&r);
    assert!(e > 0 && b > 0, "{r}");
    let r = graph(MemoryModel::C11)
        .stop_at_first_failure(false)
        .explore(|| peterson(false));
    assert!(r.complete() && r.failures > 0, "{r}");
    let f = r.first_failure.as_ref().unwrap();
    assert!(
        f.failure.to_string().contains("critical section"),
        "{}",
        f.failure
    );
    // A failure with spinning tasks replays byte for byte, and shrinks.
    let b = graph(MemoryModel::C11);
    let again = b.replay_choices(&f.choices, || peterson(false));
    let f2 = again.first_failure.expect("replays");
    assert_eq!(f2.log.to_bytes(), f.log.to_bytes());
    let small = b.shrink(f, || peterson(false));
    assert!(small.failure.same_as(&f.failure), "{small}");
}
