//! Timers per worker (Go: `p.timers`, one heap per P), and [`CoroClock`], the platform clock
//! that arms the pd deadline timers in them.
//!
//! A timer is armed on the heap of the worker whose task arms it (a thread outside the
//! scheduler uses worker 0's), so arming takes that worker's own, almost never contended,
//! lock. A pd timer is a [`TimerSlot`] whose state word counts its armings and says whether it
//! is armed; a heap entry carries the state it was pushed with, so re-arming or stopping a
//! timer leaves the old entry behind as stale (Go's `timerModified`/`timerDeleted`), dropped
//! when it reaches the top or by a compaction. Firing a timer disarms it with a CAS from the
//! entry's state: a firing that loses to a `modify`/`stop` does nothing, and the core's
//! sequence numbers cover the rest (Go's contract).
//!
//! Each worker publishes its earliest entry in `next_when`; the worker that blocks in the
//! poller sleeps until the earliest of them all, and a timer armed earlier than that wakes it
//! (Go: `wakeNetPoller`). Idle workers run due timers of every worker (Go: `checkTimers` in
//! `stealWork`), so a busy or sleeping worker's timers are never late by more than a poll.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use netpoll::platform::{Clock, TaskId, TimerFiring};

use super::sched::Shared;
use crate::clock::monotonic_ns;

/// `next_when` of a worker with no timer.
pub const NO_TIMER: i64 = i64::MAX;

/// Stale entries tolerated in a heap before a compaction, on top of half its length.
const COMPACT_SLACK: usize = 64;

/// One pd timer (Go: the `timer` embedded in `pollDesc`).
#[derive(Debug)]
pub struct TimerSlot {
    /// `(armings << 1) | armed`.
    state: AtomicU64,
    /// The worker whose heap holds the current entry (for stale accounting).
    heap: AtomicUsize,
}

/// What a heap entry does when it fires.
#[derive(Debug)]
enum Action {
    /// A pd deadline: valid while the slot's state equals `state`.
    Pd {
        slot: Arc<TimerSlot>,
        state: u64,
        firing: TimerFiring,
    },
    /// Make a sleeping task ready (the scheduler's `sleep_ns`).
    Wake(TaskId),
}

#[derive(Debug)]
struct Entry {
    when_ns: i64,
    /// Push order, to break ties (earliest armed first).
    order: u64,
    action: Action,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.when_ns, other.order).cmp(&(self.when_ns, self.order))
    }
}

impl Entry {
    fn valid(&self) -> bool {
        match &self.action {
            Action::Pd { slot, state, .. } => slot.state.load(Ordering::SeqCst) == *state,
            Action::Wake(_) => true,
        }
    }
}

/// A due timer, taken off a heap, to run without any lock held.
#[derive(Debug)]
pub enum Due {
    /// Run this pd deadline callback (`NetPoll::run_timer`).
    Pd(TimerFiring),
    /// Make this task ready.
    Wake(TaskId),
}

#[derive(Debug, Default)]
struct Heap {
    entries: BinaryHeap<Entry>,
    order: u64,
}

/// One worker's timers.
#[derive(Debug)]
pub struct WorkerTimers {
    heap: Mutex<Heap>,
    /// The earliest entry's time ([`NO_TIMER`]: none), readable without the lock.
    next_when: AtomicI64,
    /// Entries known to be stale (re-armed or stopped elsewhere).
    stale: AtomicUsize,
}

impl WorkerTimers {
    /// No timers.
    pub fn new() -> WorkerTimers {
        WorkerTimers {
            heap: Mutex::new(Heap::default()),
            next_when: AtomicI64::new(NO_TIMER),
            stale: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Heap> {
        // Updates are a few plain operations that cannot leave the heap half-changed.
        self.heap.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The earliest armed time, possibly of a stale entry (an early wake is harmless).
    #[inline]
    pub fn next_when(&self) -> i64 {
        self.next_when.load(Ordering::SeqCst)
    }

    fn publish(&self, heap: &Heap) {
        let w = heap.entries.peek().map_or(NO_TIMER, |e| e.when_ns);
        self.next_when.store(w, Ordering::SeqCst);
    }

    fn push(&self, when_ns: i64, action: Action) {
        let mut heap = self.lock();
        heap.order += 1;
        let order = heap.order;
        heap.entries.push(Entry {
            when_ns,
            order,
            action,
        });
        if self.stale.load(Ordering::Relaxed) > heap.entries.len() / 2 + COMPACT_SLACK {
            heap.entries.retain(Entry::valid);
            self.stale.store(0, Ordering::Relaxed);
        }
        self.publish(&heap);
    }

    /// Move the entries due at `now_ns` into `out` (stale ones are dropped); pd timers are
    /// disarmed on the way, so a concurrent `stop` reports them as already fired.
    pub fn take_due(&self, now_ns: i64, out: &mut Vec<Due>) {
        if self.next_when() > now_ns {
            return;
        }
        let mut heap = self.lock();
        while heap.entries.peek().is_some_and(|e| e.when_ns <= now_ns) {
            let Some(e) = heap.entries.pop() else { break };
            match e.action {
                Action::Wake(t) => out.push(Due::Wake(t)),
                Action::Pd {
                    slot,
                    state,
                    firing,
                } => {
                    if slot
                        .state
                        .compare_exchange(state, state & !1, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        out.push(Due::Pd(firing));
                    } else {
                        // A stale entry leaves the heap: one fewer to compact away.
                        let _ =
                            self.stale
                                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                                    s.checked_sub(1)
                                });
                    }
                }
            }
        }
        self.publish(&heap);
    }

    /// Entries in the heap, stale ones included (diagnostics).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

/// The coroutine platform's clock: `CLOCK_MONOTONIC` and timers on the workers' heaps.
#[derive(Clone)]
pub struct CoroClock {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for CoroClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoroClock")
    }
}

impl CoroClock {
    /// Arm a wake-up of `task` at `when_ns` (the scheduler's sleep).
    pub(crate) fn add_wake(&self, when_ns: i64, task: TaskId) {
        let w = self.shared.arming_worker();
        self.shared.workers[w]
            .timers
            .push(when_ns, Action::Wake(task));
        self.shared.timer_armed(when_ns);
    }

    /// Timer heap entries across all workers, stale ones included (diagnostics).
    pub fn heap_entries(&self) -> usize {
        self.shared.workers.iter().map(|w| w.timers.len()).sum()
    }

    /// Armed pd timers and pending sleeps, counted from the heaps' valid entries.
    pub fn armed(&self) -> usize {
        self.shared
            .workers
            .iter()
            .map(|w| w.timers.lock().entries.iter().filter(|e| e.valid()).count())
            .sum()
    }
}

impl Clock for CoroClock {
    type Timer = Arc<TimerSlot>;

    #[inline]
    fn now_ns(&self) -> i64 {
        monotonic_ns()
    }

    fn new_timer(&self, _pd: u32, _read: bool) -> Arc<TimerSlot> {
        Arc::new(TimerSlot {
            state: AtomicU64::new(0),
            heap: AtomicUsize::new(0),
        })
    }

    fn modify_timer(&self, timer: &Arc<TimerSlot>, when_ns: i64, firing: TimerFiring) {
        let mut old = timer.state.load(Ordering::SeqCst);
        let new = loop {
            let new = (((old >> 1) + 1) << 1) | 1;
            match timer
                .state
                .compare_exchange(old, new, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break new,
                Err(cur) => old = cur,
            }
        };
        if old & 1 == 1 {
            let h = timer.heap.load(Ordering::Relaxed);
            self.shared.workers[h]
                .timers
                .stale
                .fetch_add(1, Ordering::Relaxed);
        }
        let w = self.shared.arming_worker();
        timer.heap.store(w, Ordering::Relaxed);
        self.shared.workers[w].timers.push(
            when_ns,
            Action::Pd {
                slot: timer.clone(),
                state: new,
                firing,
            },
        );
        self.shared.timer_armed(when_ns);
    }

    fn stop_timer(&self, timer: &Arc<TimerSlot>) -> bool {
        let mut old = timer.state.load(Ordering::SeqCst);
        loop {
            let new = ((old >> 1) + 1) << 1;
            match timer
                .state
                .compare_exchange(old, new, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(cur) => old = cur,
            }
        }
        let was_armed = old & 1 == 1;
        if was_armed {
            let h = timer.heap.load(Ordering::Relaxed);
            self.shared.workers[h]
                .timers
                .stale
                .fetch_add(1, Ordering::Relaxed);
        }
        was_armed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netpoll::platform::TimerFunc;

    fn firing(pd: u32, seq: usize) -> TimerFiring {
        TimerFiring {
            func: TimerFunc::ReadDeadline,
            pd,
            seq,
        }
    }

    fn slot() -> Arc<TimerSlot> {
        Arc::new(TimerSlot {
            state: AtomicU64::new(0),
            heap: AtomicUsize::new(0),
        })
    }

    fn arm(t: &WorkerTimers, s: &Arc<TimerSlot>, when: i64, f: TimerFiring) {
        let old = s.state.load(Ordering::SeqCst);
        let new = (((old >> 1) + 1) << 1) | 1;
        s.state.store(new, Ordering::SeqCst);
        t.push(
            when,
            Action::Pd {
                slot: s.clone(),
                state: new,
                firing: f,
            },
        );
    }

    #[test]
    fn due_entries_in_order_and_stale_ones_dropped() {
        let t = WorkerTimers::new();
        let (a, b, c) = (slot(), slot(), slot());
        arm(&t, &a, 300, firing(0, 1));
        arm(&t, &b, 100, firing(1, 1));
        arm(&t, &c, 200, firing(2, 1));
        assert_eq!(t.next_when(), 100);
        // Re-arm a earlier: its entry at 300 goes stale.
        arm(&t, &a, 150, firing(0, 2));
        t.push(120, Action::Wake(TaskId(9)));
        let mut out = Vec::new();
        t.take_due(99, &mut out);
        assert!(out.is_empty());
        t.take_due(1000, &mut out);
        let got: Vec<String> = out.iter().map(|d| format!("{d:?}")).collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got[0].contains("pd: 1"), "{got:?}");
        assert!(got[1].contains("Wake(TaskId(9))"), "{got:?}");
        assert!(got[2].contains("pd: 0, seq: 2"), "{got:?}");
        assert!(got[3].contains("pd: 2"), "{got:?}");
        assert_eq!(t.next_when(), NO_TIMER);
        // Fired timers are disarmed.
        assert_eq!(a.state.load(Ordering::SeqCst) & 1, 0);
    }
}
