//! The std-shaped API (`netpoll_sim::sync`, `netpoll_sim::thread`), primitive by primitive,
//! litmus-style: a correct use is never flagged over a complete (or wide) search, and the bug
//! each primitive exists to prevent - a lost wake-up, two writers at once, a value seen
//! before it is published - is found when the code gets it wrong. Each correct-use test also
//! fails when the primitive or the memory model's rule it relies on is broken on purpose
//! (notes/sync-mutations.md lists the mutations tried and which test caught each).

use netpoll_sim::sync::atomic::{
    AtomicBool, AtomicI16, AtomicI8, AtomicPtr, AtomicU32, AtomicUsize, Ordering::*,
};
use netpoll_sim::sync::{mpsc, Arc, Barrier, Condvar, LazyLock, Mutex, Once, OnceLock, RwLock};
use netpoll_sim::{thread, Builder, FailureKind, MemoryModel, Report, Strategy};
use std::time::Duration;

/// A complete depth-first search (within `bound` preemptions) under c11.
fn dfs(bound: Option<u32>, f: impl Fn() + Send + Sync + 'static) -> Report {
    let r = Builder::default()
        .strategy(Strategy::Dfs)
        .memory(MemoryModel::C11)
        .preemption_bound(bound)
        .schedules(200_000)
        .explore(f);
    assert!(
        r.complete() || r.first_failure.is_some(),
        "the search must be complete: {r}"
    );
    r
}

fn clean(r: &Report) {
    assert!(r.first_failure.is_none(), "{}", r);
}

fn fails(r: &Report, kind: FailureKind, what: &str) {
    let ff = r
        .first_failure
        .as_ref()
        .unwrap_or_else(|| panic!("expected {kind}: {r}"));
    assert_eq!(ff.failure.kind(), kind, "{}", ff.failure);
    assert!(ff.failure.to_string().contains(what), "{}", ff.failure);
}

// ---- Mutex --------------------------------------------------------------------------------

/// Message passing through a mutex: a relaxed store before the unlock is seen after the lock.
fn mutex_mp(lock_it: bool) -> impl Fn() + 'static {
    move || {
        let data = Arc::new(AtomicU32::new(0));
        let m = Arc::new(Mutex::new(false));
        let (d, m2) = (data.clone(), m.clone());
        let h = thread::spawn(move || {
            d.store(1, Relaxed);
            if lock_it {
                *m2.lock().unwrap() = true;
            } else {
                // A flag beside the mutex, not under it.
                let _ = m2.try_lock().map(|mut g| *g = true);
            }
        });
        if *m.lock().unwrap() {
            assert_eq!(data.load(Relaxed), 1, "the lock published the data");
        }
        h.join().unwrap();
    }
}

#[test]
fn mutex_publishes_what_was_done_before_unlock() {
    clean(&dfs(None, mutex_mp(true)));
    clean(&dfs(None, mutex_mp(false)));
    // try_lock fails while another task holds the lock, and succeeds after.
    clean(&dfs(None, || {
        let m = Arc::new(Mutex::new(0u32));
        let m2 = m.clone();
        let g = m.lock().unwrap();
        let h = thread::spawn(move || m2.try_lock().is_err());
        assert!(h.join().unwrap());
        drop(g);
        assert!(m.try_lock().is_ok());
        assert_eq!(Arc::try_unwrap(m).unwrap().into_inner().unwrap(), 0);
    }));
}

#[test]
fn mutex_lost_update_without_it_is_found() {
    // Two read-increment-writes outside the lock lose one.
    let r = dfs(None, || {
        let n = Arc::new(AtomicU32::new(0));
        let n2 = n.clone();
        let h = thread::spawn(move || {
            let v = n2.load(SeqCst);
            n2.store(v + 1, SeqCst);
        });
        let v = n.load(SeqCst);
        n.store(v + 1, SeqCst);
        h.join().unwrap();
        assert_eq!(n.load(SeqCst), 2, "lost update");
    });
    fails(&r, FailureKind::Panic, "lost update");
}

// ---- Condvar ------------------------------------------------------------------------------

/// A consumer waits for `ready`; the producer sets it under the mutex and notifies.
/// `check_first`: the consumer checks the condition before waiting (correct use).
fn handoff(check_first: bool) -> impl Fn() + 'static {
    move || {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p2 = pair.clone();
        let h = thread::spawn(move || {
            let (m, cv) = &*p2;
            *m.lock().unwrap() = true;
            cv.notify_one();
        });
        let (m, cv) = &*pair;
        let mut g = m.lock().unwrap();
        if check_first {
            while !*g {
                g = cv.wait(g).unwrap();
            }
        } else {
            g = cv.wait(g).unwrap();
        }
        assert!(*g);
        drop(g);
        h.join().unwrap();
    }
}

#[test]
fn condvar_never_loses_a_wake_up() {
    clean(&dfs(None, handoff(true)));
    clean(&dfs(Some(2), || {
        let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
        let mut hs = Vec::new();
        for _ in 0..2 {
            let p = pair.clone();
            hs.push(thread::spawn(move || {
                let (m, cv) = &*p;
                let g = cv.wait_while(m.lock().unwrap(), |n| *n == 0).unwrap();
                assert!(*g > 0);
            }));
        }
        let (m, cv) = &*pair;
        *m.lock().unwrap() = 1;
        cv.notify_all();
        for h in hs {
            h.join().unwrap();
        }
    }));
}

#[test]
fn a_wait_without_checking_first_is_found_to_hang() {
    // The notification may come before the wait: a lost wake-up, reported as a deadlock
    // naming the condition variable the consumer sleeps on.
    let r = dfs(None, handoff(false));
    fails(&r, FailureKind::Deadlock, "waiting on condvar");
}

#[test]
fn condvar_timed_waits_end_in_virtual_time() {
    clean(&dfs(None, || {
        let pair = (Mutex::new(()), Condvar::new());
        let t0 = netpoll_sim::sched::now_ns();
        let g = pair.0.lock().unwrap();
        let (g, r) = pair.1.wait_timeout(g, Duration::from_millis(5)).unwrap();
        assert!(r.timed_out());
        assert_eq!(netpoll_sim::sched::now_ns() - t0, 5_000_000);
        let (_g, r) = pair
            .1
            .wait_timeout_while(g, Duration::from_millis(1), |_| true)
            .unwrap();
        assert!(r.timed_out());
    }));
}

// ---- RwLock -------------------------------------------------------------------------------

/// Two writers add 1 to a pair of plain cells; a reader sees the two equal.
#[test]
fn rwlock_writers_exclude_each_other_and_readers() {
    let r = Builder::default()
        .strategy(Strategy::Dfs)
        .memory(MemoryModel::C11)
        .fail_on_data_race(true)
        .preemption_bound(Some(2))
        .schedules(200_000)
        .explore(|| {
            use netpoll_sim::sync::Plain;
            use netpoll_sim::LocName;
            let l = Arc::new(RwLock::new((
                Plain::named(0u32, LocName::single("pair", "a")),
                Plain::named(0u32, LocName::single("pair", "b")),
            )));
            let mut hs = Vec::new();
            for _ in 0..2 {
                let l = l.clone();
                hs.push(thread::spawn(move || {
                    let w = l.write().unwrap();
                    w.0.set(w.0.get() + 1);
                    w.1.set(w.1.get() + 1);
                }));
            }
            {
                let r = l.read().unwrap();
                assert_eq!(r.0.get(), r.1.get(), "a reader saw half a write");
            }
            for h in hs {
                h.join().unwrap();
            }
            let r = l.read().unwrap();
            assert_eq!((r.0.get(), r.1.get()), (2, 2), "a write was lost");
        });
    assert!(r.complete(), "{r}");
    clean(&r);
}

#[test]
fn rwlock_readers_share_it() {
    // Both readers hold the lock at once (they meet at a barrier inside it), so a lock that
    // excluded readers would deadlock here.
    clean(&dfs(Some(2), || {
        let l = Arc::new(RwLock::new(7u32));
        let b = Arc::new(Barrier::new(2));
        let (l2, b2) = (l.clone(), b.clone());
        let h = thread::spawn(move || {
            let g = l2.read().unwrap();
            b2.wait();
            *g
        });
        let g = l.read().unwrap();
        b.wait();
        assert_eq!(*g, 7);
        assert!(l.try_write().is_err());
        drop(g);
        assert_eq!(h.join().unwrap(), 7);
        *l.write().unwrap() += 1;
        assert_eq!(*l.read().unwrap(), 8);
    }));
}

#[test]
fn rwlock_writes_outside_it_are_found() {
    // A task that "writes" under a read lock is not excluded: the data race is found.
    let r = Builder::default()
        .strategy(Strategy::Dfs)
        .memory(MemoryModel::C11)
        .fail_on_data_race(true)
        .schedules(200_000)
        .explore(|| {
            use netpoll_sim::sync::Plain;
            use netpoll_sim::LocName;
            let l = Arc::new(RwLock::new(Plain::named(0u32, LocName::object("shared"))));
            let l2 = l.clone();
            let h = thread::spawn(move || {
                let g = l2.read().unwrap();
                g.set(g.get() + 1);
            });
            {
                let g = l.read().unwrap();
                g.set(g.get() + 1);
            }
            h.join().unwrap();
        });
    fails(&r, FailureKind::DataRace, "shared");
}

// ---- Barrier ------------------------------------------------------------------------------

#[test]
fn barrier_publishes_what_was_done_before_it_and_has_one_leader() {
    clean(&dfs(Some(2), || {
        const N: usize = 3;
        let b = Arc::new(Barrier::new(N));
        let xs: Arc<Vec<AtomicU32>> = Arc::new((0..N).map(|_| AtomicU32::new(0)).collect());
        let leaders = Arc::new(AtomicU32::new(0));
        let mut hs = Vec::new();
        for i in 0..N {
            let (b, xs, leaders) = (b.clone(), xs.clone(), leaders.clone());
            hs.push(thread::spawn(move || {
                xs[i].store(1, Relaxed);
                if b.wait().is_leader() {
                    leaders.fetch_add(1, Relaxed);
                }
                for x in xs.iter() {
                    assert_eq!(x.load(Relaxed), 1, "the barrier published the store");
                }
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(leaders.load(Relaxed), 1);
    }));
}

// ---- Once, OnceLock, LazyLock, lazy_static! -------------------------------------------------

static INIT: Once = Once::new();
static RUNS: LazyLock<AtomicU32> = LazyLock::new(|| AtomicU32::new(0));
static DATA: LazyLock<AtomicU32> = LazyLock::new(|| AtomicU32::new(0));

#[test]
fn once_runs_once_per_execution_and_publishes_its_work() {
    // The statics start afresh in every execution: if they did not, later schedules would
    // find the work done and DATA at 0 (a fresh LazyLock) or RUNS at 2.
    let r = dfs(Some(2), || {
        let h = thread::spawn(|| {
            INIT.call_once(|| {
                DATA.store(42, Relaxed);
                RUNS.fetch_add(1, Relaxed);
            });
            DATA.load(Relaxed)
        });
        INIT.call_once(|| {
            DATA.store(42, Relaxed);
            RUNS.fetch_add(1, Relaxed);
        });
        assert!(INIT.is_completed());
        assert_eq!(DATA.load(Relaxed), 42, "the once published its work");
        assert_eq!(h.join().unwrap(), 42, "the once published its work");
        assert_eq!(RUNS.load(Relaxed), 1, "ran once");
    });
    clean(&r);
    assert!(r.schedules > 5, "{r}");
}

static CELL: OnceLock<u32> = OnceLock::new();

#[test]
fn oncelock_has_one_value_per_execution() {
    let r = dfs(None, || {
        let h = thread::spawn(|| *CELL.get_or_init(|| 1));
        let mine = CELL.set(2);
        let theirs = h.join().unwrap();
        let v = *CELL.get().unwrap();
        assert_eq!(theirs, v);
        assert_eq!(mine.is_ok(), v == 2);
    });
    clean(&r);
    // Both tasks win in some schedule (so each execution started with an empty cell).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let s = seen.clone();
    clean(&dfs(None, move || {
        let h = thread::spawn(|| *CELL.get_or_init(|| 1));
        let _ = CELL.set(2);
        h.join().unwrap();
        s.lock().unwrap().insert(*CELL.get().unwrap());
    }));
    assert_eq!(*seen.lock().unwrap(), [1, 2].into_iter().collect());
    // A value seen through get() was published with it (get is an acquire load).
    clean(&dfs(None, || {
        let cell = Arc::new(OnceLock::new());
        let data = Arc::new(AtomicU32::new(0));
        let (c2, d2) = (cell.clone(), data.clone());
        let h = thread::spawn(move || {
            c2.get_or_init(|| {
                d2.store(42, Relaxed);
                1u32
            });
        });
        if cell.get().is_some() {
            assert_eq!(
                data.load(Relaxed),
                42,
                "get published the initialiser's work"
            );
        }
        h.join().unwrap();
    }));
    // A OnceLock that is not a static: take and into_inner.
    clean(&dfs(None, || {
        let mut c = OnceLock::new();
        assert!(c.get().is_none());
        c.set(5u32).unwrap();
        assert_eq!(c.take(), Some(5));
        assert_eq!(c.get(), None);
        c.set(6).unwrap();
        assert_eq!(c.into_inner(), Some(6));
    }));
}

netpoll_sim::lazy_static! {
    static ref COUNTER: Mutex<u32> = Mutex::new(0);
}

#[test]
fn lazy_statics_start_afresh_in_every_execution() {
    let r = dfs(None, || {
        let h = thread::spawn(|| *COUNTER.lock().unwrap() += 1);
        *COUNTER.lock().unwrap() += 1;
        h.join().unwrap();
        assert_eq!(*COUNTER.lock().unwrap(), 2);
    });
    clean(&r);
    assert!(r.schedules > 1);
}

// ---- mpsc ---------------------------------------------------------------------------------

#[test]
fn channels_publish_what_was_sent_and_end_when_the_senders_do() {
    clean(&dfs(Some(2), || {
        let data = Arc::new(AtomicU32::new(0));
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        let d = data.clone();
        let h = thread::spawn(move || {
            d.store(7, Relaxed);
            tx2.send(1u32).unwrap();
        });
        tx.send(2).unwrap();
        drop(tx);
        let mut got = Vec::new();
        for v in rx.iter() {
            if v == 1 {
                assert_eq!(data.load(Relaxed), 7, "the channel published the store");
            }
            got.push(v);
        }
        got.sort();
        assert_eq!(got, [1, 2]);
        h.join().unwrap();
    }));
    // A bounded channel makes the sender wait; a rendezvous until its item is taken.
    clean(&dfs(Some(2), || {
        let (tx, rx) = mpsc::sync_channel::<u32>(0);
        let taken = Arc::new(AtomicBool::new(false));
        let t2 = taken.clone();
        let h = thread::spawn(move || {
            let v = rx.recv().unwrap();
            t2.store(true, Relaxed);
            v
        });
        tx.send(3).unwrap();
        assert_eq!(h.join().unwrap(), 3);
        assert!(taken.load(Relaxed));
        assert_eq!(tx.send(4), Err(mpsc::SendError(4)), "the receiver is gone");
    }));
    clean(&dfs(Some(2), || {
        let (tx, rx) = mpsc::sync_channel::<u32>(1);
        tx.send(1).unwrap();
        assert_eq!(tx.try_send(2), Err(mpsc::TrySendError::Full(2)));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Empty));
        drop(tx);
        assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(1)),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
    }));
}

#[test]
fn a_receiver_nobody_sends_to_is_found_to_hang() {
    let r = dfs(None, || {
        let (tx, rx) = mpsc::channel::<u32>();
        let h = thread::spawn(move || rx.recv());
        // The sender is kept (never dropped, never used) until the receiver returns.
        let _ = h.join();
        drop(tx);
    });
    fails(&r, FailureKind::Deadlock, "waiting on condvar");
}

// ---- Arc ----------------------------------------------------------------------------------

/// A value whose drop reads what an owner stored before dropping its reference.
struct Witness {
    x: std::sync::Arc<AtomicU32>,
}

impl Drop for Witness {
    fn drop(&mut self) {
        assert_eq!(
            self.x.load(Relaxed),
            1,
            "the last owner saw the other's store"
        );
    }
}

#[test]
fn arc_drops_its_value_after_every_owner_is_done() {
    clean(&dfs(None, || {
        let x = std::sync::Arc::new(AtomicU32::new(0));
        let a = Arc::new(Witness { x: x.clone() });
        let b = a.clone();
        let x2 = x.clone();
        let h = thread::spawn(move || {
            x2.store(1, Relaxed);
            drop(b);
        });
        // Joined first, so the store happens before the drop whichever owner drops last...
        h.join().unwrap();
        drop(a);
    }));
    // ...and without the join, the reference count's release and acquire order it.
    clean(&dfs(None, || {
        let x = std::sync::Arc::new(AtomicU32::new(0));
        x.store(1, Relaxed);
        let a = Arc::new(Witness { x: x.clone() });
        let b = a.clone();
        let h = thread::spawn(move || drop(b));
        drop(a);
        h.join().unwrap();
    }));
    // The other owner's store, before its (release) decrement, is seen by the value's drop
    // when this owner drops last (after an acquire fence).
    clean(&dfs(None, || {
        let x = std::sync::Arc::new(AtomicU32::new(0));
        let a = Arc::new(Witness { x: x.clone() });
        let b = a.clone();
        let x2 = x.clone();
        let h = thread::spawn(move || {
            x2.store(1, Relaxed);
            drop(b);
        });
        drop(a);
        h.join().unwrap();
    }));
    clean(&dfs(None, || {
        let mut a = Arc::new(5u32);
        assert_eq!(Arc::strong_count(&a), 1);
        *Arc::get_mut(&mut a).unwrap() += 1;
        let b = a.clone();
        assert!(Arc::get_mut(&mut a).is_none());
        assert!(Arc::ptr_eq(&a, &b));
        let b = Arc::try_unwrap(b).unwrap_err();
        drop(b);
        assert_eq!(Arc::try_unwrap(a), Ok(6));
    }));
}

// ---- atomics ------------------------------------------------------------------------------

/// A pointer published with `publish`, to a value whose field was stored relaxed before.
fn ptr_mp(publish: netpoll_sim::sync::atomic::Ordering) -> impl Fn() + 'static {
    move || {
        let p = std::sync::Arc::new(AtomicPtr::<AtomicU32>::new(std::ptr::null_mut()));
        let p2 = p.clone();
        let h = thread::spawn(move || {
            let b = Box::into_raw(Box::new(AtomicU32::new(0)));
            // SAFETY (test): `b` is a fresh, live allocation.
            unsafe { (*b).store(42, Relaxed) };
            p2.store(b, publish);
        });
        let q = p.load(Acquire);
        if !q.is_null() {
            // SAFETY (test): the pointer was published by the spawned task and is never freed
            // before the join below.
            let v = unsafe { (*q).load(Relaxed) };
            assert_eq!(v, 42, "the pointee's store was published with the pointer");
        }
        h.join().unwrap();
        let last = p.load(Relaxed);
        if !last.is_null() {
            // SAFETY (test): the box from `Box::into_raw`, freed once.
            drop(unsafe { Box::from_raw(last) });
        }
    }
}

#[test]
fn atomic_ptr_publishes_with_release_and_not_relaxed() {
    clean(&dfs(None, ptr_mp(Release)));
    let r = dfs(None, ptr_mp(Relaxed));
    fails(&r, FailureKind::Panic, "published with the pointer");
    // The log records numbers for addresses, not addresses: it replays byte for byte.
    let b = Builder::default()
        .strategy(Strategy::Dfs)
        .memory(MemoryModel::C11)
        .schedules(200_000);
    let ff = b.explore(ptr_mp(Relaxed)).first_failure.unwrap();
    let t = b.trace(
        netpoll_sim::Subject::Test(netpoll_sim::trace::TestId {
            package: "netpoll-sim".into(),
            target: "sync_api".into(),
            name: "atomic_ptr".into(),
        }),
        &ff,
        false,
    );
    b.replay(&t, ptr_mp(Relaxed))
        .expect("replays byte for byte");
}

#[test]
fn small_and_signed_atomics_wrap_and_compare_as_their_types() {
    clean(&dfs(None, || {
        let a = AtomicI8::new(127);
        assert_eq!(a.fetch_add(1, SeqCst), 127);
        assert_eq!(a.load(SeqCst), -128);
        assert_eq!(a.fetch_max(-1, SeqCst), -128);
        assert_eq!(a.fetch_min(-100, SeqCst), -1);
        assert_eq!(a.fetch_nand(-1, SeqCst), -100);
        assert_eq!(a.load(SeqCst), 99);
        let b = AtomicI16::new(-2);
        assert_eq!(
            b.fetch_update(SeqCst, SeqCst, |v| (v < 0).then_some(v * 3)),
            Ok(-2)
        );
        assert_eq!(b.fetch_update(SeqCst, SeqCst, |_| None), Err(-6));
        let flag = AtomicBool::new(true);
        assert!(flag.fetch_nand(true, SeqCst));
        assert!(!flag.into_inner());
        assert_eq!(AtomicUsize::default().into_inner(), 0);
    }));
    // fetch_update under contention: every increment counts.
    clean(&dfs(None, || {
        let n = Arc::new(AtomicU32::new(0));
        let n2 = n.clone();
        let h = thread::spawn(move || n2.fetch_update(AcqRel, Acquire, |v| Some(v + 1)));
        let _ = n.fetch_update(AcqRel, Acquire, |v| Some(v + 1));
        h.join().unwrap().unwrap();
        assert_eq!(n.load(SeqCst), 2);
    }));
}

// ---- thread -------------------------------------------------------------------------------

#[test]
fn park_and_unpark_keep_a_token_and_publish() {
    clean(&dfs(None, || {
        let data = Arc::new(AtomicU32::new(0));
        let d = data.clone();
        let h = thread::spawn(move || {
            // One park: the token may come before or after it.
            thread::park();
            d.load(Relaxed)
        });
        data.store(1, Relaxed);
        h.thread().unpark();
        assert_eq!(h.join().unwrap(), 1, "the unpark published the store");
    }));
    // A park with nobody to unpark it ends with its time.
    clean(&dfs(None, || {
        let t0 = netpoll_sim::sched::now_ns();
        thread::park_timeout(Duration::from_micros(3));
        assert_eq!(netpoll_sim::sched::now_ns() - t0, 3_000);
        thread::sleep(Duration::from_nanos(5));
        assert_eq!(netpoll_sim::sched::now_ns() - t0, 3_005);
    }));
}

#[test]
fn threads_have_std_names_ids_and_builders() {
    clean(&dfs(None, || {
        assert_eq!(thread::current().name(), Some("main"));
        assert_eq!(thread::current().id().as_u32(), 0);
        let h = thread::spawn(|| thread::current().name().map(str::to_string));
        let id = h.thread().id();
        assert_ne!(id, thread::current().id());
        assert_eq!(h.join().unwrap(), None, "an unnamed task has no name");
        let h = thread::Builder::new()
            .name("worker".into())
            .stack_size(1 << 20)
            .spawn(|| thread::current().name().map(str::to_string))
            .unwrap();
        assert_eq!(h.thread().name(), Some("worker"));
        // Virtual time moves only when no task can run: the worker has finished by then.
        thread::sleep(Duration::from_millis(1));
        assert!(h.is_finished());
        assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
    }));
}

netpoll_sim::thread_local! {
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    static LOG: std::cell::RefCell<Vec<u32>> = std::cell::RefCell::new(Vec::new());
}

/// A thread-local whose drop stores (a simulated operation) where its task's joiner sees it.
struct OnExit(std::sync::Arc<AtomicU32>);

impl Drop for OnExit {
    fn drop(&mut self) {
        self.0.store(9, Relaxed);
    }
}

netpoll_sim::thread_local! {
    static EXIT: std::cell::RefCell<Option<OnExit>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn thread_locals_are_per_task_and_dropped_when_it_ends() {
    let r = dfs(None, || {
        let exited = std::sync::Arc::new(AtomicU32::new(0));
        let e2 = exited.clone();
        let h = thread::spawn(move || {
            for _ in 0..3 {
                DEPTH.set(DEPTH.get() + 1);
            }
            LOG.with_borrow_mut(|l| l.push(1));
            EXIT.set(Some(OnExit(e2)));
            DEPTH.get()
        });
        DEPTH.set(DEPTH.get() + 10);
        assert_eq!(h.join().unwrap(), 3);
        assert_eq!(DEPTH.get(), 10, "the main task's own value");
        assert!(LOG.with_borrow(|l| l.is_empty()));
        assert_eq!(
            exited.load(Relaxed),
            9,
            "the task's thread-local was dropped at its end"
        );
    });
    clean(&r);
}

// ---- under the execution-graph search -----------------------------------------------------

/// The graph strategy's complete search (every consistent execution once).
fn graph(f: impl Fn() + Send + Sync + 'static) -> Report {
    let r = Builder::default()
        .strategy(Strategy::Graph)
        .memory(MemoryModel::C11)
        .schedules(200_000)
        .explore(f);
    assert!(
        r.complete() || r.first_failure.is_some(),
        "the search must be complete: {r}"
    );
    r
}

#[test]
fn the_primitives_under_the_graph_search() {
    // A futex wait is a read waiting for another value there: the same verdicts.
    clean(&graph(handoff(true)));
    fails(&graph(handoff(false)), FailureKind::Deadlock, "");
    clean(&graph(mutex_mp(true)));
    clean(&graph(|| {
        let l = Arc::new(RwLock::new(0u32));
        let l2 = l.clone();
        let h = thread::spawn(move || *l2.write().unwrap() += 1);
        *l.write().unwrap() += 1;
        h.join().unwrap();
        assert_eq!(*l.read().unwrap(), 2);
    }));
    clean(&graph(|| {
        let cell = Arc::new(OnceLock::new());
        let c2 = cell.clone();
        let h = thread::spawn(move || *c2.get_or_init(|| 1u32));
        let mine = *cell.get_or_init(|| 2);
        assert_eq!(h.join().unwrap(), mine);
    }));
}

// ---- every primitive under every strategy -------------------------------------------------

/// What a case must give: no failure, or a failure of this kind whose text holds this.
#[derive(Clone, Copy)]
enum Want {
    Clean,
    Fails(FailureKind, &'static str),
}

/// One use of a primitive: its name, the check, whether data races fail it, what it gives.
type Case = (
    &'static str,
    fn() -> Box<dyn Fn() + Send + Sync>,
    bool,
    Want,
);

/// Each primitive's correct use and its misuse (the bug the primitive exists to prevent).
fn cases() -> Vec<Case> {
    use Want::*;
    vec![
        ("mutex", || Box::new(mutex_mp(true)), false, Clean),
        (
            "mutex: an update outside it",
            || {
                Box::new(|| {
                    let m = Arc::new(Mutex::new(0u32));
                    let n = Arc::new(AtomicU32::new(0));
                    let (m2, n2) = (m.clone(), n.clone());
                    let h = thread::spawn(move || {
                        let _g = m2.lock().unwrap();
                        let v = n2.load(SeqCst);
                        n2.store(v + 1, SeqCst);
                    });
                    // This task does not take the lock.
                    let v = n.load(SeqCst);
                    n.store(v + 1, SeqCst);
                    h.join().unwrap();
                    assert_eq!(n.load(SeqCst), 2, "lost update");
                })
            },
            false,
            Fails(FailureKind::Panic, "lost update"),
        ),
        ("condvar", || Box::new(handoff(true)), false, Clean),
        (
            "condvar: a wait without checking first",
            || Box::new(handoff(false)),
            false,
            Fails(FailureKind::Deadlock, ""),
        ),
        (
            "condvar: timed waits",
            || {
                Box::new(|| {
                    let pair = (Mutex::new(()), Condvar::new());
                    let t0 = netpoll_sim::sched::now_ns();
                    let g = pair.0.lock().unwrap();
                    let (_g, r) = pair.1.wait_timeout(g, Duration::from_millis(5)).unwrap();
                    assert!(r.timed_out());
                    assert_eq!(netpoll_sim::sched::now_ns() - t0, 5_000_000);
                })
            },
            false,
            Clean,
        ),
        ("rwlock", || Box::new(rwlock_pair(true)), true, Clean),
        (
            "rwlock: a write under a read lock",
            || Box::new(rwlock_pair(false)),
            true,
            Fails(FailureKind::DataRace, "pair"),
        ),
        ("barrier", || Box::new(barrier_mp(true)), false, Clean),
        (
            "barrier: none",
            || Box::new(barrier_mp(false)),
            false,
            Fails(FailureKind::Panic, "published"),
        ),
        ("once", || Box::new(once_init(true)), false, Clean),
        (
            "once: a flag instead",
            || Box::new(once_init(false)),
            false,
            Fails(FailureKind::Panic, "ran once"),
        ),
        (
            "oncelock",
            || {
                Box::new(|| {
                    let cell = Arc::new(OnceLock::new());
                    let c2 = cell.clone();
                    let h = thread::spawn(move || *c2.get_or_init(|| 1u32));
                    let mine = *cell.get_or_init(|| 2);
                    assert_eq!(h.join().unwrap(), mine);
                })
            },
            false,
            Clean,
        ),
        (
            "oncelock: get, then set",
            || {
                Box::new(|| {
                    let cell = Arc::new(OnceLock::new());
                    let c2 = cell.clone();
                    let h = thread::spawn(move || {
                        if c2.get().is_none() {
                            c2.set(1u32).expect("set once");
                        }
                    });
                    if cell.get().is_none() {
                        cell.set(2).expect("set once");
                    }
                    h.join().unwrap();
                })
            },
            false,
            Fails(FailureKind::Panic, "set once"),
        ),
        (
            "lazy_static",
            || {
                Box::new(|| {
                    let h = thread::spawn(|| *COUNTER.lock().unwrap() += 1);
                    *COUNTER.lock().unwrap() += 1;
                    h.join().unwrap();
                    assert_eq!(*COUNTER.lock().unwrap(), 2);
                })
            },
            false,
            Clean,
        ),
        ("mpsc", || Box::new(channel_mp(true)), false, Clean),
        (
            "mpsc: a flag beside it",
            || Box::new(channel_mp(false)),
            false,
            Fails(FailureKind::Panic, "published"),
        ),
        (
            "mpsc: nobody sends",
            || {
                Box::new(|| {
                    let (tx, rx) = mpsc::channel::<u32>();
                    let h = thread::spawn(move || rx.recv());
                    let _ = h.join();
                    drop(tx);
                })
            },
            false,
            Fails(FailureKind::Deadlock, ""),
        ),
        (
            "arc",
            || {
                Box::new(|| {
                    let x = std::sync::Arc::new(AtomicU32::new(0));
                    let a = Arc::new(Witness { x: x.clone() });
                    let b = a.clone();
                    let x2 = x.clone();
                    let h = thread::spawn(move || {
                        x2.store(1, Relaxed);
                        drop(b);
                    });
                    drop(a);
                    h.join().unwrap();
                })
            },
            false,
            Clean,
        ),
        ("atomic_ptr", || Box::new(ptr_mp(Release)), false, Clean),
        (
            "atomic_ptr: relaxed",
            || Box::new(ptr_mp(Relaxed)),
            false,
            Fails(FailureKind::Panic, "published with the pointer"),
        ),
        (
            "fetch_update",
            || {
                Box::new(|| {
                    let n = Arc::new(AtomicI16::new(0));
                    let n2 = n.clone();
                    let h =
                        thread::spawn(move || n2.fetch_update(AcqRel, Acquire, |v| Some(v - 1)));
                    let _ = n.fetch_update(AcqRel, Acquire, |v| Some(v - 1));
                    h.join().unwrap().unwrap();
                    assert_eq!(n.load(SeqCst), -2);
                })
            },
            false,
            Clean,
        ),
        ("park", || Box::new(park_mp(true)), false, Clean),
        (
            "park: unparked before the store",
            || Box::new(park_mp(false)),
            false,
            Fails(FailureKind::Panic, "published"),
        ),
        (
            "park_timeout and sleep",
            || {
                Box::new(|| {
                    let t0 = netpoll_sim::sched::now_ns();
                    thread::park_timeout(Duration::from_micros(3));
                    thread::sleep(Duration::from_nanos(5));
                    assert_eq!(netpoll_sim::sched::now_ns() - t0, 3_005);
                })
            },
            false,
            Clean,
        ),
        (
            "thread_local",
            || {
                Box::new(|| {
                    let h = thread::spawn(|| {
                        DEPTH.set(DEPTH.get() + 1);
                        DEPTH.get()
                    });
                    DEPTH.set(DEPTH.get() + 10);
                    assert_eq!(h.join().unwrap(), 1);
                    assert_eq!(DEPTH.get(), 10);
                })
            },
            false,
            Clean,
        ),
    ]
}

/// Two writers add 1 to a pair of plain cells and a reader compares them (`locked`), or two
/// tasks write under read locks.
fn rwlock_pair(locked: bool) -> impl Fn() {
    move || {
        use netpoll_sim::sync::Plain;
        use netpoll_sim::LocName;
        let l = Arc::new(RwLock::new((
            Plain::named(0u32, LocName::single("pair", "a")),
            Plain::named(0u32, LocName::single("pair", "b")),
        )));
        let l2 = l.clone();
        let h = thread::spawn(move || {
            if locked {
                let w = l2.write().unwrap();
                w.0.set(w.0.get() + 1);
                w.1.set(w.1.get() + 1);
            } else {
                let w = l2.read().unwrap();
                w.0.set(w.0.get() + 1);
            }
        });
        if locked {
            let w = l.write().unwrap();
            w.0.set(w.0.get() + 1);
            w.1.set(w.1.get() + 1);
        } else {
            let w = l.read().unwrap();
            w.0.set(w.0.get() + 1);
        }
        {
            let r = l.read().unwrap();
            assert!(r.0.get() >= r.1.get(), "a reader saw half a write");
        }
        h.join().unwrap();
    }
}

/// Two tasks store, meet at a barrier (`with_it`) and read each other's store.
fn barrier_mp(with_it: bool) -> impl Fn() {
    move || {
        let b = Arc::new(Barrier::new(2));
        let x = Arc::new(AtomicU32::new(0));
        let (b2, x2) = (b.clone(), x.clone());
        let h = thread::spawn(move || {
            x2.store(1, Relaxed);
            if with_it {
                b2.wait();
            }
        });
        if with_it {
            b.wait();
        }
        assert_eq!(x.load(Relaxed), 1, "the barrier published the store");
        h.join().unwrap();
    }
}

static INIT2: Once = Once::new();
static RUNS2: LazyLock<AtomicU32> = LazyLock::new(|| AtomicU32::new(0));
static FLAG2: LazyLock<AtomicBool> = LazyLock::new(|| AtomicBool::new(false));

/// Two tasks initialise once, with a `Once` (`with_once`) or a check-then-set flag.
fn once_init(with_once: bool) -> impl Fn() {
    move || {
        let init = move || {
            if with_once {
                INIT2.call_once(|| {
                    RUNS2.fetch_add(1, Relaxed);
                });
            } else if !FLAG2.load(Acquire) {
                RUNS2.fetch_add(1, Relaxed);
                FLAG2.store(true, Release);
            }
        };
        let h = thread::spawn(init);
        init();
        h.join().unwrap();
        assert_eq!(RUNS2.load(Relaxed), 1, "ran once");
    }
}

/// A store, then a message (`through_it`) or a flag beside the channel; the receiver reads.
fn channel_mp(through_it: bool) -> impl Fn() {
    move || {
        let data = Arc::new(AtomicU32::new(0));
        let flag = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<()>();
        let (d, f) = (data.clone(), flag.clone());
        let h = thread::spawn(move || {
            d.store(7, Relaxed);
            if through_it {
                tx.send(()).unwrap();
            } else {
                f.store(true, Relaxed);
                drop(tx);
            }
        });
        let got = if through_it {
            rx.recv().is_ok()
        } else {
            flag.load(Relaxed)
        };
        if got {
            assert_eq!(data.load(Relaxed), 7, "the channel published the store");
        }
        h.join().unwrap();
    }
}

/// A store then an unpark (`store_first`), or the unpark first; the parked task reads.
fn park_mp(store_first: bool) -> impl Fn() {
    move || {
        let data = Arc::new(AtomicU32::new(0));
        let d = data.clone();
        let h = thread::spawn(move || {
            thread::park();
            d.load(Relaxed)
        });
        if store_first {
            data.store(1, Relaxed);
            h.thread().unpark();
        } else {
            h.thread().unpark();
            data.store(1, Relaxed);
        }
        assert_eq!(h.join().unwrap(), 1, "the unpark published the store");
    }
}

/// Run every case under `strategy` (c11): a complete search for graph and for dfs (within 2
/// preemptions), 4000 schedules of seed 3 for random and pct.
fn every_case_under(strategy: Strategy) {
    every_case_under_model(strategy, MemoryModel::C11);
}

/// [`every_case_under`] with memory model `model`.
fn every_case_under_model(strategy: Strategy, model: MemoryModel) {
    let mut wrong = Vec::new();
    for (name, make, races, want) in cases() {
        let b = Builder::default()
            .strategy(strategy)
            .memory(model)
            .fail_on_data_race(races)
            .preemption_bound(Some(2))
            .seed(3)
            .jobs(1)
            .schedules(if matches!(strategy, Strategy::Dfs | Strategy::Graph) {
                200_000
            } else {
                4_000
            });
        let r = b.explore(make());
        let ok = match (want, &r.first_failure) {
            (Want::Clean, None) => {
                !matches!(strategy, Strategy::Dfs | Strategy::Graph) || r.complete()
            }
            (Want::Fails(kind, what), Some(ff)) => {
                ff.failure.kind() == kind && ff.failure.to_string().contains(what)
            }
            _ => false,
        };
        if !ok {
            wrong.push(format!("{name}: {r}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "under {strategy:?}, {model}:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_primitive_under_random() {
    every_case_under(Strategy::Random);
}

#[test]
fn every_primitive_under_pct() {
    every_case_under(Strategy::Pct);
}

#[test]
fn every_primitive_under_dfs() {
    every_case_under(Strategy::Dfs);
}

#[test]
fn every_primitive_under_graph() {
    every_case_under(Strategy::Graph);
}

/// The same verdicts under imm (weaker than c11: every bug found under c11 is found there).
/// (Under sc and tso the message-passing misuses are correct code: those models forbid the
/// stale read.)
#[test]
fn every_primitive_under_graph_imm() {
    every_case_under_model(Strategy::Graph, MemoryModel::Imm);
}
