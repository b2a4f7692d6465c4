//! Virtual time and the pds' deadline timers: a timer heap behind the timers lock, served by
//! one long-lived dispatcher daemon (Go's scheduler runs due timers in `checkTimers`).
//!
//! The dispatcher stands for the M that blocks in `netpoll(delay)` until the earliest timer
//! (Go 1.16 and later): arming an earlier timer wakes it through the break (Go's
//! `wakeNetPoller` → `netpollBreak`), modelled as bringing its wake-up forward. A kernel
//! that loses breaks (the `break` fault, golang/go#42515) leaves it asleep until its old
//! time, and, as Go's `netpollWakeSig` de-duplicates breaks until the poller has seen one,
//! every later break too; Go's fix is `sysmon`'s check for overdue timers (the platform's `sysmon` task), which
//! runs only where breaks can be lost (Go: on NetBSD).
//!
//! Each pd timer's `when` is a plain cell guarded by the timers lock, so arming, stopping and
//! firing show in the event log (`write pd0.rt.when := +1ms`). The dispatcher takes the lock,
//! pops the timers that are due (at or before the current virtual time), releases the lock
//! and runs each firing's callback (Go's `runOneTimer` also calls the function without the
//! timers lock), and otherwise parks until the earliest pending timer or until an earlier one
//! is armed. One dispatcher runs the callbacks one at a time; concurrency between firings and
//! everything else is fully explored, between two firings it is not (netpoll's callbacks for
//! one pd serialise on its lock anyway).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex as StdMutex, OnceLock, Weak};

use netpoll::platform::{Clock, TimerFiring};

use super::cells::loc_name;
use super::faults::Faults;
use super::SimNetPoll;
use crate::engine::event::LocName;
use crate::engine::sched;
use crate::engine::sync::{Plain, RawMutex};

/// A timer's `when` while it is not armed.
const NOT_ARMED: i64 = 0;

/// One pd timer's bookkeeping, outside the model.
struct Slot {
    /// The timer's `when`, shared with its [`SimTimer`].
    when: Arc<Plain<i64>>,
    firing: Option<TimerFiring>,
    /// Bumped at every re-arm and stop: heap entries of older generations are stale.
    generation: u64,
}

/// The timers of one platform, outside the model (the model sees the lock and `when`).
#[derive(Default)]
struct Book {
    slots: Vec<Slot>,
    /// (when, arming order, slot, generation), earliest first.
    heap: BinaryHeap<Reverse<(i64, u64, usize, u64)>>,
    armed: u64,
    /// The dispatcher task, while it is parked, with the time it parked until.
    dispatcher_parked: Option<(u32, Option<i64>)>,
    /// The dispatcher task, once started.
    dispatcher: Option<u32>,
    /// The sysmon task, if breaks can be lost.
    sysmon: Option<u32>,
    started: bool,
    /// A break was sent and lost (Go: `netpollWakeSig` is 1 and the poller has not seen the
    /// break): later breaks are de-duplicated until the dispatcher wakes and sees it.
    break_lost: bool,
}

/// The state shared by the clock and the dispatcher.
struct Shared {
    lock: RawMutex,
    book: StdMutex<Book>,
    np: Arc<OnceLock<Weak<SimNetPoll>>>,
    faults: Faults,
}

/// Virtual time and deadline timers.
pub struct SimClock {
    shared: OnceLock<Arc<Shared>>,
    np: Arc<OnceLock<Weak<SimNetPoll>>>,
    faults: Faults,
}

/// A pd's timer.
pub struct SimTimer {
    slot: usize,
    when: Arc<Plain<i64>>,
}

impl SimClock {
    pub(crate) fn new(np: Arc<OnceLock<Weak<SimNetPoll>>>, faults: Faults) -> SimClock {
        SimClock {
            shared: OnceLock::new(),
            np,
            faults,
        }
    }

    /// The armed timers (not stopped, not yet fired), earliest first: (when, firing). Read
    /// outside the model, for checkers.
    pub fn armed(&self) -> Vec<(i64, TimerFiring)> {
        let Some(s) = self.shared.get() else {
            return Vec::new();
        };
        let b = book(s);
        let mut v: Vec<(i64, u64, TimerFiring)> = b
            .heap
            .iter()
            .filter(|Reverse((_, _, slot, g))| b.slots[*slot].generation == *g)
            .filter_map(|Reverse((when, order, slot, _))| {
                b.slots[*slot].firing.map(|f| (*when, *order, f))
            })
            .collect();
        v.sort_by_key(|&(when, order, _)| (when, order));
        v.into_iter().map(|(w, _, f)| (w, f)).collect()
    }

    /// The shared state, made at the first timer (so runs without timers have no timers lock).
    fn shared(&self) -> &Arc<Shared> {
        self.shared.get_or_init(|| {
            Arc::new(Shared {
                lock: RawMutex::named(LocName::single("timers", "lock")),
                book: StdMutex::new(Book::default()),
                np: self.np.clone(),
                faults: self.faults,
            })
        })
    }
}

fn book(s: &Shared) -> std::sync::MutexGuard<'_, Book> {
    s.book.lock().unwrap_or_else(|e| e.into_inner())
}

impl Clock for SimClock {
    type Timer = SimTimer;

    fn now_ns(&self) -> i64 {
        sched::now_ns()
    }

    fn new_timer(&self, pd: u32, read: bool) -> SimTimer {
        let s = self.shared();
        let field = if read { "rt.when" } else { "wt.when" };
        let when = Arc::new(Plain::guarded(
            NOT_ARMED,
            loc_name(netpoll::LocName::indexed("pd", pd, field)),
            &s.lock,
        ));
        let mut b = book(s);
        let slot = b.slots.len();
        b.slots.push(Slot {
            when: when.clone(),
            firing: None,
            generation: 0,
        });
        SimTimer { slot, when }
    }

    fn modify_timer(&self, timer: &SimTimer, when_ns: i64, firing: TimerFiring) {
        let s = self.shared().clone();
        s.lock.lock();
        timer.when.set(when_ns);
        let first = {
            let mut b = book(&s);
            let b = &mut *b;
            let slot = &mut b.slots[timer.slot];
            slot.firing = Some(firing);
            slot.generation += 1;
            let g = slot.generation;
            b.armed += 1;
            b.heap.push(Reverse((when_ns, b.armed, timer.slot, g)));
            !std::mem::replace(&mut b.started, true)
        };
        if first {
            // Spawning may be a scheduling point (under tso): not with the book borrowed.
            let task = start_dispatcher(s.clone());
            let sysmon =
                (!s.faults.dropped_break.is_zero()).then(|| super::sysmon::start(s.np.clone()));
            let mut b = book(&s);
            b.dispatcher_parked = Some((task, None));
            b.dispatcher = Some(task);
            b.sysmon = sysmon;
        }
        let wake = {
            let mut b = book(&s);
            let b = &mut *b;
            if let Some(t) = b.sysmon {
                super::sysmon::poke(t);
            }
            match b.dispatcher_parked {
                // Go: wakeNetPoller. The dispatcher sleeps past this timer: break its sleep.
                Some((task, until)) if until.is_none_or(|u| when_ns < u) => {
                    if b.break_lost {
                        // Go: netpollWakeSig is still 1 from the lost break: de-duplicated.
                        None
                    } else if s.faults.dropped_break.draw() {
                        // The kernel loses the break (golang/go#42515).
                        b.break_lost = true;
                        None
                    } else {
                        b.dispatcher_parked = Some((task, Some(when_ns)));
                        Some(task)
                    }
                }
                _ => None,
            }
        };
        if let Some(task) = wake {
            // The dispatcher sleeps until its earliest timer: this one is earlier.
            sched::bring_forward(task, when_ns);
        }
        s.lock.unlock();
    }

    fn stop_timer(&self, timer: &SimTimer) -> bool {
        let s = self.shared().clone();
        s.lock.lock();
        let armed = timer.when.get() != NOT_ARMED;
        if armed {
            timer.when.set(NOT_ARMED);
        }
        {
            let mut b = book(&s);
            let slot = &mut b.slots[timer.slot];
            slot.generation += 1;
            slot.firing = None;
        }
        s.lock.unlock();
        armed
    }
}

/// Start the dispatcher daemon, parked until a timer's time comes. Returns its task id.
fn start_dispatcher(s: Arc<Shared>) -> u32 {
    sched::spawn_parked_daemon("timers", move || loop {
        if sched::shutting_down() {
            return;
        }
        s.lock.lock();
        let now = sched::now_ns();
        let mut due: Option<(TimerFiring, Arc<Plain<i64>>)> = None;
        let mut next: Option<i64> = None;
        {
            let mut b = book(&s);
            let b = &mut *b;
            // Running, not parked: arming a timer needs not bring our wake-up forward. (All
            // of the book is read and written under the timers lock, so the order of these
            // accesses is the lock's order in every kind of exploration.)
            b.dispatcher_parked = None;
            // Awake, it polls and sees a break that was lost for its blocking wait.
            b.break_lost = false;
            while let Some(&Reverse((when, _, slot, generation))) = b.heap.peek() {
                if b.slots[slot].generation != generation {
                    b.heap.pop();
                    continue;
                }
                if when <= now {
                    b.heap.pop();
                    let slot = &mut b.slots[slot];
                    slot.generation += 1;
                    due = slot.firing.take().map(|f| (f, slot.when.clone()));
                } else {
                    next = Some(when);
                }
                break;
            }
            if due.is_none() {
                b.dispatcher_parked = Some((sched::current(), next));
            }
        }
        if let Some((firing, when)) = due {
            // Taken off the heap: a stop from now on finds it no longer armed.
            when.set(NOT_ARMED);
            let np = s.np.get().and_then(Weak::upgrade);
            if np
                .as_ref()
                .is_some_and(|np| np.protocol().runs_timers_unlocked())
            {
                // Go's runOneTimer (since golang/go#35532): the timer function runs without
                // the timers lock.
                s.lock.unlock();
                if let Some(np) = np {
                    np.run_timer(firing);
                }
            } else {
                // Before golang/go#35532's fix: runOneTimer kept the timers lock while the
                // timer function ran; netpoll's takes the pd lock, which set_deadline holds
                // while it takes the timers lock to re-arm.
                if let Some(np) = np {
                    np.run_timer(firing);
                }
                s.lock.unlock();
            }
            continue;
        }
        s.lock.unlock();
        match next {
            Some(t) => sched::park_until("timers", t, || true),
            None => sched::park("timers", || true),
        };
    })
}

/// Wake the dispatcher now (Go: `startm` to run overdue timers). Used by [`sysmon`].
pub(crate) fn kick_dispatcher(np: &SimNetPoll) {
    let Some(s) = np.platform().clock.shared.get() else {
        return;
    };
    let task = book(s).dispatcher;
    if let Some(task) = task {
        sched::bring_forward(task, sched::now_ns());
    }
}
