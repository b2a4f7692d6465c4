//! A task that starts late, as a freshly spawned thread does on a loaded machine: the
//! scenario that spawned it has already slept, written and reached the join before the task
//! runs its first line. Scenarios written against the generic API must not depend on a
//! spawned task getting the CPU within their sleeps; this forces the late start
//! deterministically, on real epoll with OS threads as tasks.
//!
//! `reused-pd-stale-event` hung exactly so under CPU load: its waiter began with
//! `reset` (which erases a readiness notification already recorded) and then waited without
//! trying the read, so a byte that arrived before the waiter first ran was never noticed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use netpoll::platform::{Platform, Scheduler, TaskId};
use netpoll::scenarios::Scenario;
use netpoll::{NetPoll, Protocol};
use netpoll_real::{
    FutexLock, PollerBackend, RealClock, RelaxedCell, StdAtomicU32, StdAtomicUsize, ThreadSched,
};

/// How long a scenario may take before the test calls it a hang.
const LIMIT: Duration = Duration::from_secs(10);

/// A gate a spawned task waits at before it runs.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    cond: Condvar,
}

impl Gate {
    fn pass(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while !*open {
            open = self.cond.wait(open).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cond.notify_all();
    }
}

/// A spawned task held at its gate.
struct LateTask {
    gate: Arc<Gate>,
    thread: thread::JoinHandle<()>,
}

/// [`ThreadSched`] whose spawned tasks start only when joined, and only after the poller has
/// finished two polls that began after the join was called: everything the joiner did before
/// joining (a write, say) has then been seen and applied by the poller.
struct LateSched {
    inner: ThreadSched,
    /// Polls finished by the test's poller thread.
    polls: Arc<AtomicU64>,
}

impl Scheduler for LateSched {
    type JoinHandle = LateTask;

    fn current(&self) -> TaskId {
        self.inner.current()
    }

    fn park<F: FnOnce() -> bool>(&self, commit: F) {
        self.inner.park(commit)
    }

    fn ready(&self, task: TaskId) {
        self.inner.ready(task)
    }

    fn spawn<F: FnOnce() + Send + 'static>(&self, name: &'static str, f: F) -> LateTask {
        let gate = Arc::new(Gate::default());
        let g = gate.clone();
        let thread = self.inner.spawn(name, move || {
            g.pass();
            f()
        });
        LateTask { gate, thread }
    }

    fn join(&self, task: LateTask) {
        // The poll in progress may have begun before the caller's last action; the one after
        // it began after, and an edge-triggered event for that action is harvested by then.
        let seen = self.polls.load(Ordering::SeqCst);
        while self.polls.load(Ordering::SeqCst) < seen + 2 {
            thread::sleep(Duration::from_micros(100));
        }
        task.gate.open();
        self.inner.join(task.thread)
    }

    fn sleep_ns(&self, ns: i64) {
        self.inner.sleep_ns(ns)
    }

    fn yield_now(&self) {
        self.inner.yield_now()
    }
}

/// The real platform with [`LateSched`] as its scheduler.
struct LatePlatform {
    backend: Arc<PollerBackend>,
    clock: RealClock,
    sched: LateSched,
}

impl Platform for LatePlatform {
    type AtomicU32 = StdAtomicU32;
    type AtomicUsize = StdAtomicUsize;
    type Plain<T: netpoll::platform::Word> = RelaxedCell<T>;
    type Lock = FutexLock;
    type Clock = RealClock;
    type Backend = PollerBackend;
    type Sched = LateSched;

    fn clock(&self) -> &RealClock {
        &self.clock
    }

    fn backend(&self) -> &PollerBackend {
        &self.backend
    }

    fn sched(&self) -> &LateSched {
        &self.sched
    }
}

/// Run `scenario` once on [`LatePlatform`] with a poller thread (the scenarios that use this
/// set no deadlines, so it fires no timers), failing if it does not finish within [`LIMIT`].
fn run_late(scenario: Scenario) {
    let backend = Arc::new(PollerBackend::new().expect("create the OS poller"));
    let polls = Arc::new(AtomicU64::new(0));
    let platform = LatePlatform {
        clock: RealClock::new(Some(backend.clone())),
        backend,
        sched: LateSched {
            inner: ThreadSched::new(),
            polls: polls.clone(),
        },
    };
    let np = Arc::new(NetPoll::new(platform, Protocol::Fixed));
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (np, stop) = (np.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                np.poll(1_000_000).expect("poll");
                polls.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let np2 = np.clone();
    netpoll_real::testing::bounded(LIMIT, move || scenario.run(&np2));
    stop.store(true, Ordering::SeqCst);
    poller.join().expect("the poller thread");
    assert_eq!(np.waiters(), 0, "waiters left counted");
}

#[test]
fn reused_pd_stale_event_with_a_late_waiter() {
    // Several rounds: the stale event's race with the reused pd varies from round to round.
    for _ in 0..5 {
        run_late(Scenario::ReusedPdStaleEvent);
    }
}
