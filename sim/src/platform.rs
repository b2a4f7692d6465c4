//! `SimPlatform`: the netpoll core's [`Platform`] on the simulator.
//!
//! Every shared access of the core is a simulated atomic, plain cell or lock (a scheduling
//! point with weak-memory outcomes); park/ready/spawn/join/sleep are the engine's; time is
//! virtual and deadline timers fire as engine timers (new tasks at exact virtual times); fds
//! are simulated by [`SimBackend`].
//!
//! A platform lives for one schedule: build it inside the check closure with
//! [`SimPlatform::netpoll`], which also wires the timer and poller callbacks and the deadlock
//! hook to the new [`NetPoll`].

use std::sync::{Arc, Mutex, OnceLock, Weak};

use netpoll::platform::{Clock, Platform, Scheduler, TaskId, TimerFiring, TimerFunc, Word};
use netpoll::{NetPoll, Pd, Protocol};

use crate::backend::SimBackend;
use crate::sched::{self, TimerId};
use crate::sync::atomic::{AtomicU32, AtomicUsize};
use crate::sync::{Plain, RawMutex};
use crate::thread;

/// The netpoll core on the simulator.
pub type SimNetPoll = NetPoll<SimPlatform>;

/// The poller a platform's callbacks reach (set once by [`SimPlatform::netpoll`]).
type NetPollSlot = OnceLock<Weak<SimNetPoll>>;

/// Virtual time and deadline timers.
pub struct SimClock {
    np: Arc<NetPollSlot>,
}

/// A pd's timer: the engine timer currently armed for it, if any.
pub struct SimTimer {
    armed: Mutex<Option<TimerId>>,
}

impl Clock for SimClock {
    type Timer = SimTimer;

    fn now_ns(&self) -> i64 {
        sched::now_ns()
    }

    fn new_timer(&self, _pd: u32, _read: bool) -> SimTimer {
        SimTimer {
            armed: Mutex::new(None),
        }
    }

    fn modify_timer(&self, timer: &SimTimer, when_ns: i64, firing: TimerFiring) {
        let mut armed = timer.armed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = armed.take() {
            sched::timer_cancel(old);
        }
        let np = self.np.clone();
        let name = match firing.func {
            TimerFunc::ReadDeadline => "timer(read deadline)",
            TimerFunc::WriteDeadline => "timer(write deadline)",
            TimerFunc::Deadline => "timer(deadline)",
        };
        *armed = Some(sched::timer_add(name, when_ns, move || {
            if let Some(np) = np.get().and_then(Weak::upgrade) {
                np.run_timer(firing);
            }
        }));
    }

    fn stop_timer(&self, timer: &SimTimer) -> bool {
        let mut armed = timer.armed.lock().unwrap_or_else(|e| e.into_inner());
        match armed.take() {
            Some(id) => sched::timer_cancel(id),
            None => false,
        }
    }
}

/// Tasks: the engine's coroutines.
pub struct SimSched;

impl Scheduler for SimSched {
    type JoinHandle = thread::JoinHandle<()>;

    fn current(&self) -> TaskId {
        TaskId(sched::current())
    }

    #[track_caller]
    fn park<F: FnOnce() -> bool>(&self, commit: F) {
        sched::park("gopark", commit)
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
}

impl SimPlatform {
    /// A platform with simulated fds subject to the run's faults
    /// ([`Builder::faults`](crate::Builder::faults)), and the poller on it running `protocol`. Call inside a simulation
    /// (the check closure); it also registers a deadlock hook that shows, for each parked task,
    /// the pd it waits on and that pd's fields.
    pub fn netpoll(protocol: Protocol) -> Arc<SimNetPoll> {
        let faults = sched::faults();
        let slot: Arc<NetPollSlot> = Arc::new(OnceLock::new());
        let platform = SimPlatform {
            clock: SimClock { np: slot.clone() },
            backend: SimBackend::new(slot.clone(), faults),
            sched: SimSched,
        };
        let np = Arc::new(NetPoll::new(platform, protocol));
        // The slot is fresh: this is its only initialisation.
        let _ = slot.set(Arc::downgrade(&np));
        let weak = Arc::downgrade(&np);
        sched::on_deadlock(move |task| weak.upgrade().and_then(|np| describe_parked(&np, task)));
        // Once every task has finished nobody waits for the poller: Go's netpollWaiters
        // must be back to 0 (a leak makes the scheduler poll for waiters that do not exist).
        // (A strong reference: by the end every task has dropped its own. The execution drops
        // the check, and the poller with it, when it is reset.)
        let np_end = np.clone();
        sched::at_end(move || {
            let waiters = np_end.peek_waiters();
            (waiters != 0).then(|| {
                format!(
                    "netpoll.waiters = {} with no task left (the count leaked)",
                    waiters as i32
                )
            })
        });
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
    type Plain<T: Word> = Plain<T>;
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
}
