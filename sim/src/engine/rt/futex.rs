//! Futexes: a task sleeps on a location while it holds an expected value, until another task
//! wakes it (or its time runs out). This is the one blocking primitive beneath the sync API's
//! condition variables, read-write locks and once cells, which keep their state in simulated
//! atomics (so the memory model applies to it) and block here, as std's futex-based
//! implementations do on Linux.
//!
//! The compare and the going to sleep are one step, so a wake between the caller's last load
//! and its sleep is never lost: the caller passes the value it saw, and sleeps only if memory
//! still holds it. A wait reads the location's newest store in memory (the kernel's view: no
//! stale choice), as a relaxed load for coherence (the caller's next load cannot read an
//! older value, so a wait loop cannot spin on a stale one forever), and synchronises with
//! nothing; neither does a wake - the primitives order their data with their atomics, as real
//! ones must. Waiters wake in the order they slept. Under the graph strategy a wait is a read
//! that waits for a store of another value, and a wake does nothing.

use super::exec::with;
use super::graph_ops;
use super::schedule::{suspend, yield_point};
use super::task::{Status, Task};
use crate::engine::event::Op;
use std::collections::{BTreeMap, VecDeque};
use std::panic::Location;

/// How a futex wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutexWait {
    /// The location did not hold the expected value: the caller did not sleep.
    Changed,
    /// Another task woke it.
    Woken,
    /// Its time ran out.
    TimedOut,
}

/// The sleepers of every location, in the order they went to sleep.
#[derive(Default)]
pub(crate) struct Futexes {
    waiters: BTreeMap<u32, VecDeque<u32>>,
}

impl Futexes {
    pub(crate) fn reset(&mut self) {
        self.waiters.clear();
    }

    /// Drop from `loc`'s queue the tasks no longer asleep on it (woken by their time).
    pub(crate) fn forget_woken(&mut self, loc: u32, tasks: &[Task]) {
        if let Some(q) = self.waiters.get_mut(&loc) {
            q.retain(
                |&t| matches!(tasks[t as usize].status, Status::Futex { loc: l, .. } if l == loc),
            );
            if q.is_empty() {
                self.waiters.remove(&loc);
            }
        }
    }
}

/// Sleep on location `loc` if its newest value in memory is `expected`, until woken by
/// [`futex_wake`] or, if `until_ns` is set, until that virtual time. A scheduling point.
#[track_caller]
pub(crate) fn futex_wait(loc: u32, expected: u64, until_ns: Option<i64>) -> FutexWait {
    let site = Location::caller();
    if graph_ops::active() {
        return match graph_ops::futex_wait(loc, expected, until_ns) {
            Some(_) => FutexWait::Changed,
            None => FutexWait::TimedOut,
        };
    }
    yield_point();
    let blocked = with(|e| {
        e.drain();
        let me = e.cur;
        let val = e.mem.futex_read(me, loc);
        let now = e.now_ns;
        let blocks = val == expected && !e.aborting && until_ns.is_none_or(|u| u > now);
        e.event(Op::FutexWait { loc, val, blocks });
        if !blocks {
            let timed_out = val == expected && !e.aborting;
            return Err(if timed_out {
                FutexWait::TimedOut
            } else {
                FutexWait::Changed
            });
        }
        e.futexes.waiters.entry(loc).or_default().push_back(me);
        let t = &mut e.tasks[me as usize];
        t.status = Status::Futex {
            loc,
            until: until_ns,
        };
        t.timed_out = false;
        Ok(e.block(site))
    });
    match blocked {
        Err(w) => w,
        Ok(y) => {
            suspend(y);
            with(|e| {
                let me = e.cur as usize;
                let timed_out = std::mem::take(&mut e.tasks[me].timed_out);
                e.event(Op::Unpark { timed_out });
                if timed_out {
                    FutexWait::TimedOut
                } else {
                    FutexWait::Woken
                }
            })
        }
    }
}

/// Wake up to `n` of the tasks asleep on `loc` (the longest asleep first); returns how many
/// woke. A scheduling point.
pub(crate) fn futex_wake(loc: u32, n: u32) -> u32 {
    if graph_ops::active() {
        // A graph run wakes nobody: a futex wait there is a read waiting for another value.
        return 0;
    }
    yield_point();
    with(|e| {
        e.drain();
        let mut woken = 0;
        if let Some(q) = e.futexes.waiters.get_mut(&loc) {
            while woken < n {
                let Some(t) = q.pop_front() else { break };
                let task = &mut e.tasks[t as usize];
                if matches!(task.status, Status::Futex { loc: l, .. } if l == loc) {
                    task.status = Status::Runnable;
                    task.timed_out = false;
                    woken += 1;
                }
            }
            if q.is_empty() {
                e.futexes.waiters.remove(&loc);
            }
        }
        if !e.aborting {
            e.event(Op::FutexWake { loc, woken });
        }
        woken
    })
}
