//! Memory model `tso` (x86-TSO, Sewell et al., "x86-TSO: a rigorous and usable programmer's
//! model for x86 multiprocessors", CACM 2010): every task has a FIFO store buffer.
//!
//! * A store that is not SeqCst (any other ordering, and a plain-cell write) goes into the
//!   storing task's buffer. A SeqCst store is an `XCHG` (Go's atomic stores on amd64 are):
//!   it drains the buffer, then writes memory.
//! * A read-modify-write (fetch_*, swap, compare-exchange, successful or not) is a
//!   `LOCK`-prefixed instruction: it drains the buffer, then acts on memory atomically.
//! * A SeqCst fence is an `MFENCE`: it drains. Other fences order nothing x86 does not
//!   already order (they still move the happens-before clocks).
//! * A load (any ordering, and a plain read) reads the task's own newest buffered store to the
//!   location if there is one (store forwarding), else memory: the newest committed store.
//!   There is no load choice.
//! * Locks, spawn, join, park, ready, yield, sleep, timers and a task's end drain the acting
//!   task's buffer: each goes through locked instructions in any real runtime. Each of them
//!   already follows a scheduling point; a task that returns with stores still buffered gets
//!   one more scheduling point before its end drains them (so others can run while its last
//!   stores wait).
//! * Committing the oldest store of some task's buffer is a scheduling choice
//!   ([`ChoiceKind::Flush`]), drawn at every scheduling point right after the schedule choice
//!   (before the chosen task's step), as often as the source asks: option 0 commits nothing.
//!   It is not drawn while the only buffered stores are the chosen task's own (see
//!   `Exec::tso_flush_choices`). When no task can run, the buffers
//!   drain (which task's store goes next is still a choice) before virtual time advances or a
//!   deadlock is declared. In the other modes no buffer ever fills and no such choice is drawn,
//!   so their choice streams and event logs are those of an engine without this module.
//!
//! Happens-before is computed at the store instruction exactly as in `c11` (the race detector
//! and the acquire/release clocks do not change); only which value a load returns differs.

use super::{Buffered, Store};
use crate::rt::log::{ChoiceKind, Event, Op, Ord};
use crate::rt::vc::{slot, VClock, MAX_TASKS};
use crate::rt::Exec;
use std::collections::VecDeque;

impl Exec {
    /// Store forwarding: the running task's newest buffered store to `loc`, if any.
    #[inline]
    pub(super) fn tso_forward(&self, loc: u32) -> Option<u64> {
        if self.mem.buffered == 0 {
            return None;
        }
        self.mem
            .bufs
            .get(self.cur as usize)?
            .iter()
            .rev()
            .find(|b| b.loc == loc)
            .map(|b| b.val)
    }

    /// Whether `task` has stores in its buffer.
    #[inline]
    pub(crate) fn tso_has_buffered(&self, task: u32) -> bool {
        self.mem.buffered != 0
            && self
                .mem
                .bufs
                .get(task as usize)
                .is_some_and(|b| !b.is_empty())
    }

    /// A load (`op`: Load or PlainRead) answered from the running task's own buffer.
    pub(super) fn tso_forwarded_load(&mut self, loc: u32, val: u64, op: Op, ord: Ord) -> u64 {
        let mut ev = self.ev(op);
        ev.ord = ord;
        ev.loc = loc;
        ev.read = Some(val);
        ev.candidates = 1;
        self.log(ev);
        self.tick();
        val
    }

    /// Put a store of the running task into its buffer (`sync`: what it releases).
    pub(super) fn tso_buffer(&mut self, loc: u32, val: u64, sync: VClock, ord: Ord) {
        let me = self.cur as usize;
        let ts = self.tasks[me].clock.get(slot(self.cur));
        if self.mem.bufs.len() <= me {
            self.mem.bufs.resize_with(me + 1, VecDeque::new);
        }
        self.mem.bufs[me].push_back(Buffered {
            loc,
            val,
            ts,
            sync,
            ord,
        });
        self.mem.buffered += 1;
    }

    /// Commit the oldest buffered store of `task` to memory, logging a [`Op::Flush`] event.
    fn tso_flush_oldest(&mut self, task: u32) {
        let Some(b) = self.mem.bufs[task as usize].pop_front() else {
            return;
        };
        self.mem.buffered -= 1;
        let l = &mut self.mem.locs[b.loc as usize];
        l.history.push_back(Store {
            val: b.val,
            slot: slot(task),
            ts: b.ts,
            sync: b.sync,
            is_sc: false,
            sc_loaded: false,
            first_load: VClock::ZERO,
        });
        // Loads read only the newest committed store.
        while l.history.len() > 1 {
            l.history.pop_front();
        }
        let mut ev = Event::new(self.step as u32, task, Op::Flush);
        ev.ord = b.ord;
        ev.loc = b.loc;
        ev.written = Some(b.val);
        self.events.push(ev);
    }

    /// Drain the buffer of `task` into memory, oldest first (a locked instruction, an
    /// `MFENCE`, a lock, a scheduler call). Does nothing outside `tso`.
    #[inline]
    pub(crate) fn tso_drain(&mut self, task: u32) {
        if self.mem.buffered == 0 || self.aborting {
            return;
        }
        while self
            .mem
            .bufs
            .get(task as usize)
            .is_some_and(|b| !b.is_empty())
        {
            self.tso_flush_oldest(task);
        }
    }

    /// At a scheduling point with stores buffered, once the task to run next (`next`) is
    /// chosen: draw [`ChoiceKind::Flush`] choices, each committing the oldest store of one
    /// task, until the source picks option 0 ("commit nothing more") or the buffers are empty.
    ///
    /// No choice is drawn while every buffered store belongs to `next`: until another task
    /// runs, nobody but `next` reads memory and no other store can commit, and `next` reads
    /// the same values whether its own stores are committed or still buffered (forwarding),
    /// so committing them now or at a later scheduling point is indistinguishable. This keeps
    /// runs without preemptions free of flush choices (a switch at a blocking operation
    /// follows a drain).
    ///
    /// With `next` = `None` (no task can run) there is no option 0: the buffers drain
    /// completely, in an order the source chooses.
    pub(crate) fn tso_flush_choices(&mut self, next: Option<u32>) {
        while self.mem.buffered != 0 && !self.aborting {
            let mut who = [0u32; MAX_TASKS];
            let mut k = 0;
            let mut others = false;
            for (i, b) in self.mem.bufs.iter().enumerate() {
                if !b.is_empty() {
                    who[k] = i as u32;
                    k += 1;
                    others |= Some(i as u32) != next;
                }
            }
            let pick = match next {
                None => self.choose(ChoiceKind::Flush, k, false),
                Some(_) if !others => return,
                Some(_) => match self.choose(ChoiceKind::Flush, k + 1, false) {
                    0 => return,
                    c => c - 1,
                },
            };
            self.tso_flush_oldest(who[pick]);
        }
    }
}
