//! The netpoll platform on the engine: `SimPlatform` runs the netpoll core in a simulation.
//!
//! Every shared access of the core is a simulated atomic, plain cell or lock (a scheduling
//! point with weak-memory outcomes); park/ready/spawn/join/sleep are the engine's; time is
//! virtual; deadline timers live in a heap served by a long-lived dispatcher task
//! ([`timers`]; with `sysmon` where breaks can be lost); fds are simulated by the kernel of
//! [`kernel`], whose events a long-lived poller task collects (`poller`), with faults as
//! exact ratios (`faults`). The built-in checks are the core's scenarios ([`scenario`]);
//! [`checkers`] check properties of every run apart from them; [`values`] shows the core's
//! fields in swimlanes.
//!
//! A platform lives for one run: build it inside the check with [`SimPlatform::netpoll`],
//! which also wires the callbacks, a deadlock describer and the end checks to the new
//! [`NetPoll`].

pub(crate) mod cells;
pub mod checkers;
pub mod faults;
pub mod kernel;
mod poller;
pub mod scenario;
mod sysmon;
pub mod timers;
pub mod values;

use std::sync::{Arc, OnceLock};

use netpoll::observe::Observation;
use netpoll::platform::{Platform, Scheduler, TaskId};
use netpoll::{NetPoll, Pd, Protocol};

use crate::engine::sync::atomic::{AtomicU32, AtomicUsize};
use crate::engine::sync::RawMutex;
use crate::engine::{sched, thread};
use cells::SimPlain;
use checkers::Checkers;
use faults::Faults;
use kernel::SimBackend;
use timers::SimClock;

/// The netpoll core on the simulator.
pub type SimNetPoll = NetPoll<SimPlatform>;

/// Tasks: the engine's coroutines.
pub struct SimSched;

impl Scheduler for SimSched {
    type JoinHandle = thread::JoinHandle<()>;

    fn current(&self) -> TaskId {
        TaskId(sched::current())
    }

    #[track_caller]
    fn park<F: FnOnce() -> bool>(&self, commit: F) {
        sched::park("gopark", commit);
    }

    fn ready(&self, task: TaskId) {
        sched::ready(task.0)
    }

    fn spawn<F: FnOnce() + Send + 'static>(&self, name: &'static str, f: F) -> Self::JoinHandle {
        thread::spawn_named(name, f)
    }

    fn join(&self, handle: Self::JoinHandle) {
        // A panic in the joined task already failed the schedule.
        let _ = handle.join();
    }

    fn sleep_ns(&self, ns: i64) {
        sched::sleep_ns(ns)
    }

    fn yield_now(&self) {
        thread::yield_now()
    }
}

/// The netpoll core's platform on the simulator.
pub struct SimPlatform {
    clock: SimClock,
    backend: SimBackend,
    sched: SimSched,
    checkers: Checkers,
}

/// The name of the end check that the waiters count is back to 0
/// ([`checkers::Checker::WaitersBalanced`]).
pub const WAITERS_CHECK: &str = "waiters-balanced";

impl SimPlatform {
    /// A platform with simulated fds subject to `faults`, and the poller on it running
    /// `protocol`. Call inside a simulation (the check); it also registers a deadlock
    /// describer that shows, for each parked task, the pd it waits on and that pd's fields,
    /// and every checker of [`checkers`].
    pub fn netpoll(protocol: Protocol, faults: Faults) -> Arc<SimNetPoll> {
        let slot: Arc<OnceLock<std::sync::Weak<SimNetPoll>>> = Arc::new(OnceLock::new());
        let checkers = Checkers::new(faults);
        let platform = SimPlatform {
            clock: SimClock::new(slot.clone(), faults),
            backend: SimBackend::new(slot.clone(), faults, checkers.clone()),
            sched: SimSched,
            checkers: checkers.clone(),
        };
        let np = Arc::new(NetPoll::new(platform, protocol));
        // The slot is fresh: this is its only initialisation.
        let _ = slot.set(Arc::downgrade(&np));
        let weak = Arc::downgrade(&np);
        sched::on_deadlock(move |task| weak.upgrade().and_then(|np| describe_parked(&np, task)));
        checkers.register(Arc::downgrade(&np), faults);
        Checkers::register_waiters(np.clone());
        np
    }
}

/// For a deadlock report: the pd (and mode) whose semaphore holds `task`, with its fields.
fn describe_parked(np: &SimNetPoll, task: u32) -> Option<String> {
    let cache = np.cache();
    let task = TaskId(task);
    (0..cache.peek_capacity()).find_map(|i| {
        let pd = cache.try_get(Pd(i))?;
        let mode = pd.parked_mode(task)?;
        Some(format!("waits on pd{i} for {mode:?}: {}", pd.describe()))
    })
}

impl Platform for SimPlatform {
    type AtomicU32 = AtomicU32;
    type AtomicUsize = AtomicUsize;
    type Plain<T: netpoll::Word> = SimPlain<T>;
    type Lock = RawMutex;
    type Clock = SimClock;
    type Backend = SimBackend;
    type Sched = SimSched;

    fn clock(&self) -> &SimClock {
        &self.clock
    }
    fn backend(&self) -> &SimBackend {
        &self.backend
    }
    fn sched(&self) -> &SimSched {
        &self.sched
    }

    const OBSERVES: bool = true;

    fn observe(&self, what: Observation) {
        self.checkers.observe(what);
    }
}
