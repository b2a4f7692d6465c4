//! `RealClock`: `CLOCK_MONOTONIC` time and the pd deadline timers, kept in one binary heap
//! that the poller thread drives through its `poll` timeout.
//!
//! Every pd owns two timer slots (read and write), created once by [`Clock::new_timer`] and
//! reused; a [`RealTimer`] is just the slot's index. Re-arming or stopping a timer bumps the
//! slot's generation instead of searching the heap, so stale heap entries are dropped lazily
//! when they reach the top (and the heap is compacted when they pile up).
//!
//! The poller loop (see [`crate::Runtime`]) asks [`RealClock::sleep_delay_ns`] how long it may
//! block, polls, calls [`RealClock::woke`], and fires what [`RealClock::take_due`] returns. A
//! timer armed earlier than the deadline the poller sleeps towards wakes the poller through the
//! backend.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex, MutexGuard};

use netpoll::platform::{Backend, Clock, TimerFiring, TimerFunc};

use crate::PollerBackend;

/// Stale heap entries tolerated before a compaction, on top of twice the live timers.
const COMPACT_SLACK: usize = 64;

/// `sleeping_until` while the poller is not blocked (nothing to wake).
const AWAKE: i64 = i64::MIN;

/// `sleeping_until` while the poller blocks with no timer pending.
const FOREVER: i64 = i64::MAX;

/// Go: `nanotime`. `CLOCK_MONOTONIC` in nanoseconds, never 0 or negative.
#[inline]
pub fn monotonic_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to fill; CLOCK_MONOTONIC always exists.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "netpoll: clock_gettime(CLOCK_MONOTONIC) failed");
    // `time_t` and `c_long` are 32 bits on some targets.
    #[allow(clippy::useless_conversion)]
    (i64::from(ts.tv_sec) * 1_000_000_000 + i64::from(ts.tv_nsec)).max(1)
}

/// One pd's timer: an index into the clock's slots.
#[derive(Debug)]
pub struct RealTimer {
    slot: u32,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Bumped by every modify/stop; a heap entry with an older generation is stale.
    generation: u64,
    armed: bool,
    when_ns: i64,
    firing: TimerFiring,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    when_ns: i64,
    slot: u32,
    generation: u64,
}

#[derive(Debug)]
struct State {
    slots: Vec<Slot>,
    heap: BinaryHeap<Reverse<Entry>>,
    /// How many slots are armed (= valid heap entries).
    live: usize,
    /// The deadline the poller is blocked towards: [`AWAKE`], [`FOREVER`] or a time in ns.
    sleeping_until: i64,
}

impl State {
    fn is_valid(&self, e: &Entry) -> bool {
        let s = &self.slots[e.slot as usize];
        s.armed && s.generation == e.generation
    }

    /// Drop stale entries from the top; the earliest armed timer's entry, if any.
    fn peek(&mut self) -> Option<Entry> {
        while let Some(&Reverse(e)) = self.heap.peek() {
            if self.is_valid(&e) {
                return Some(e);
            }
            self.heap.pop();
        }
        None
    }

    fn maybe_compact(&mut self) {
        if self.heap.len() > 2 * self.live + COMPACT_SLACK {
            let slots = &self.slots;
            self.heap.retain(|Reverse(e)| {
                let s = &slots[e.slot as usize];
                s.armed && s.generation == e.generation
            });
        }
    }
}

/// Monotonic time plus a timer heap. See the module documentation.
#[derive(Debug)]
pub struct RealClock {
    state: Mutex<State>,
    /// The backend whose `wake` interrupts the poller; `None` in unit tests.
    waker: Option<Arc<PollerBackend>>,
}

impl RealClock {
    /// A clock that wakes the poller through `waker` when a timer moves earlier than the
    /// poller's sleep.
    pub fn new(waker: Option<Arc<PollerBackend>>) -> RealClock {
        RealClock {
            state: Mutex::new(State {
                slots: Vec::new(),
                heap: BinaryHeap::new(),
                live: 0,
                sleeping_until: AWAKE,
            }),
            waker,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves the state consistent (every update
        // is a few plain stores), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The earliest armed timer's deadline, if any.
    pub fn next_deadline_ns(&self) -> Option<i64> {
        self.state().peek().map(|e| e.when_ns)
    }

    /// How many timers are armed.
    pub fn armed(&self) -> usize {
        self.state().live
    }

    /// For the poller, right before it blocks: how long it may sleep (`-1`: no timer, block;
    /// `0`: a timer is due). Records the deadline it sleeps towards, so that a timer armed
    /// earlier wakes it.
    pub fn sleep_delay_ns(&self) -> i64 {
        let mut st = self.state();
        match st.peek() {
            None => {
                st.sleeping_until = FOREVER;
                -1
            }
            Some(e) => {
                let delay_ns = e.when_ns.saturating_sub(monotonic_ns()).max(0);
                st.sleeping_until = if delay_ns == 0 { AWAKE } else { e.when_ns };
                delay_ns
            }
        }
    }

    /// For the poller, once its poll returned: it is awake, nobody needs to wake it.
    pub fn woke(&self) {
        self.state().sleeping_until = AWAKE;
    }

    /// Move every timer due at `now_ns` into `out`, earliest first, and disarm it. The caller
    /// runs them (`NetPoll::run_timer`) without holding any lock of the clock.
    pub fn take_due(&self, now_ns: i64, out: &mut Vec<TimerFiring>) {
        let mut st = self.state();
        while let Some(e) = st.peek() {
            if e.when_ns > now_ns {
                break;
            }
            st.heap.pop();
            let slot = &mut st.slots[e.slot as usize];
            slot.armed = false;
            out.push(slot.firing);
            st.live -= 1;
        }
    }
}

impl Clock for RealClock {
    type Timer = RealTimer;

    #[inline]
    fn now_ns(&self) -> i64 {
        monotonic_ns()
    }

    fn new_timer(&self, pd: u32, read: bool) -> RealTimer {
        let index = pd as usize * 2 + usize::from(read);
        let mut st = self.state();
        if st.slots.len() <= index {
            let idle = Slot {
                generation: 0,
                armed: false,
                when_ns: 0,
                firing: TimerFiring {
                    func: TimerFunc::Deadline,
                    pd,
                    seq: 0,
                },
            };
            st.slots.resize(index + 1, idle);
        }
        let slot = &mut st.slots[index];
        if slot.armed {
            slot.armed = false;
            st.live -= 1;
        }
        let slot = &mut st.slots[index];
        slot.generation += 1;
        RealTimer { slot: index as u32 }
    }

    fn modify_timer(&self, timer: &RealTimer, when_ns: i64, firing: TimerFiring) {
        let mut st = self.state();
        let slot = &mut st.slots[timer.slot as usize];
        let was_armed = slot.armed;
        slot.generation += 1;
        slot.armed = true;
        slot.when_ns = when_ns;
        slot.firing = firing;
        let generation = slot.generation;
        if !was_armed {
            st.live += 1;
        }
        st.heap.push(Reverse(Entry {
            when_ns,
            slot: timer.slot,
            generation,
        }));
        st.maybe_compact();
        let wake = when_ns < st.sleeping_until;
        if wake {
            // One wake per sleep is enough: the poller recomputes its delay when it returns.
            st.sleeping_until = AWAKE;
        }
        drop(st);
        if wake {
            if let Some(b) = &self.waker {
                b.wake();
            }
        }
    }

    fn stop_timer(&self, timer: &RealTimer) -> bool {
        let mut st = self.state();
        let slot = &mut st.slots[timer.slot as usize];
        let was_armed = slot.armed;
        slot.armed = false;
        slot.generation += 1;
        if was_armed {
            st.live -= 1;
        }
        st.maybe_compact();
        was_armed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn firing(pd: u32, seq: usize) -> TimerFiring {
        TimerFiring {
            func: TimerFunc::ReadDeadline,
            pd,
            seq,
        }
    }

    #[test]
    fn monotonic_and_positive() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(a > 0 && b >= a);
    }

    #[test]
    fn heap_orders_and_lazily_deletes() {
        let c = RealClock::new(None);
        let t: Vec<RealTimer> = (0..4).map(|pd| c.new_timer(pd, true)).collect();
        c.modify_timer(&t[0], 300, firing(0, 1));
        c.modify_timer(&t[1], 100, firing(1, 1));
        c.modify_timer(&t[2], 200, firing(2, 1));
        c.modify_timer(&t[3], 50, firing(3, 1));
        assert!(c.stop_timer(&t[3]));
        assert!(!c.stop_timer(&t[3]));
        // Re-arm t0 earlier: its old entry at 300 becomes stale.
        c.modify_timer(&t[0], 150, firing(0, 2));
        assert_eq!(c.next_deadline_ns(), Some(100));
        assert_eq!(c.armed(), 3);
        let mut out = Vec::new();
        c.take_due(99, &mut out);
        assert!(out.is_empty());
        c.take_due(1000, &mut out);
        assert_eq!(out, vec![firing(1, 1), firing(0, 2), firing(2, 1)]);
        assert_eq!(c.next_deadline_ns(), None);
        assert_eq!(c.armed(), 0);
        assert!(!c.stop_timer(&t[0]), "a fired timer is not armed");
    }

    #[test]
    fn read_and_write_timers_are_distinct() {
        let c = RealClock::new(None);
        let r = c.new_timer(7, true);
        let w = c.new_timer(7, false);
        c.modify_timer(&r, 10, firing(7, 1));
        c.modify_timer(&w, 20, firing(7, 2));
        let mut out = Vec::new();
        c.take_due(100, &mut out);
        assert_eq!(out, vec![firing(7, 1), firing(7, 2)]);
    }

    #[test]
    fn compaction_bounds_the_heap() {
        let c = RealClock::new(None);
        let t = c.new_timer(0, true);
        for i in 0..10_000 {
            c.modify_timer(&t, 1_000 + i, firing(0, i as usize));
        }
        assert!(c.state().heap.len() <= 2 + COMPACT_SLACK + 1);
        let mut out = Vec::new();
        c.take_due(i64::MAX, &mut out);
        assert_eq!(out, vec![firing(0, 9_999)]);
    }

    #[test]
    fn sleep_delay() {
        let c = RealClock::new(None);
        assert_eq!(c.sleep_delay_ns(), -1);
        let t = c.new_timer(0, false);
        c.modify_timer(&t, 1, firing(0, 0));
        assert_eq!(c.sleep_delay_ns(), 0);
        let later = monotonic_ns() + 1_000_000_000;
        c.modify_timer(&t, later, firing(0, 0));
        let d = c.sleep_delay_ns();
        assert!(d > 900_000_000 && d <= 1_000_000_000, "{d}");
    }

    #[test]
    fn earlier_timer_wakes_a_sleeping_poller() {
        let backend = Arc::new(PollerBackend::new().unwrap());
        let c = Arc::new(RealClock::new(Some(backend.clone())));
        let t = c.new_timer(0, true);
        c.modify_timer(&t, monotonic_ns() + 10_000_000_000, firing(0, 0));
        let delay = c.sleep_delay_ns();
        let c2 = c.clone();
        let arm = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let t2 = RealTimer { slot: 0 };
            c2.modify_timer(&t2, monotonic_ns() + 1_000_000, firing(0, 1));
        });
        let start = Instant::now();
        let mut evs = Vec::new();
        backend.poll(delay, &mut evs).unwrap();
        c.woke();
        assert!(start.elapsed() < Duration::from_secs(5));
        arm.join().unwrap();
        let d = c.sleep_delay_ns();
        assert!(d <= 1_000_000, "{d}");
    }

    #[test]
    fn later_timer_does_not_wake() {
        let backend = Arc::new(PollerBackend::new().unwrap());
        let c = RealClock::new(Some(backend.clone()));
        let t = c.new_timer(0, true);
        let u = c.new_timer(1, true);
        c.modify_timer(&t, monotonic_ns() + 30_000_000, firing(0, 0));
        let delay = c.sleep_delay_ns();
        c.modify_timer(&u, monotonic_ns() + 10_000_000_000, firing(1, 0));
        let start = Instant::now();
        let mut evs = Vec::new();
        backend.poll(delay, &mut evs).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(25));
    }
}
