//! Virtual time and the pds' deadline timers: a timer heap behind the timers lock, served by
//! one long-lived dispatcher daemon (Go's scheduler runs due timers in `checkTimers`).
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
    started: bool,
}

/// The state shared by the clock and the dispatcher.
struct Shared {
    lock: RawMutex,
    book: StdMutex<Book>,
    np: Arc<OnceLock<Weak<SimNetPoll>>>,
}

/// Virtual time and deadline timers.
pub struct SimClock {
    shared: OnceLock<Arc<Shared>>,
    np: Arc<OnceLock<Weak<SimNetPoll>>>,
}

/// A pd's timer.
pub struct SimTimer {
    slot: usize,
    when: Arc<Plain<i64>>,
}

impl SimClock {
    pub(crate) fn new(np: Arc<OnceLock<Weak<SimNetPoll>>>) -> SimClock {
        SimClock {
            shared: OnceLock::new(),
            np,
        }
    }

    /// The shared state, made at the first timer (so runs without timers have no timers lock).
    fn shared(&self) -> &Arc<Shared> {
        self.shared.get_or_init(|| {
            Arc::new(Shared {
                lock: RawMutex::named(LocName::single("timers", "lock")),
                book: StdMutex::new(Book::default()),
                np: self.np.clone(),
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
        let wake = {
            let mut b = book(&s);
            let b = &mut *b;
            let slot = &mut b.slots[timer.slot];
            slot.firing = Some(firing);
            slot.generation += 1;
            let g = slot.generation;
            b.armed += 1;
            b.heap.push(Reverse((when_ns, b.armed, timer.slot, g)));
            if !std::mem::replace(&mut b.started, true) {
                let task = start_dispatcher(s.clone());
                b.dispatcher_parked = Some((task, None));
            }
            match b.dispatcher_parked {
                Some((task, until)) if until.is_none_or(|u| when_ns < u) => {
                    b.dispatcher_parked = Some((task, Some(when_ns)));
                    Some(task)
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
            s.lock.unlock();
            if let Some(np) = s.np.get().and_then(Weak::upgrade) {
                np.run_timer(firing);
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
