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
//! * Locks, spawn, join, park, ready, yield, sleep and a task's end drain the acting task's
//!   buffer: each goes through locked instructions in any real runtime. A task that returns
//!   with stores still buffered gets one more scheduling point before its end drains them (so
//!   others can run while its last stores wait).
//! * Committing the oldest store of some task's buffer is a scheduling choice
//!   ([`ChoiceKind::Flush`]), drawn at every scheduling point right after the schedule choice
//!   (before the chosen task's step), as often as the source asks: option 0 commits nothing.
//!   It is not drawn while the only buffered stores are the chosen task's own (see
//!   [`Memory::flush_choices`]). When no task can run, the buffers drain (which task's store
//!   goes next is still a choice) before virtual time advances or a deadlock is declared. In
//!   the other models no buffer ever fills and no such choice is drawn.
//!
//! Happens-before is computed at the store instruction exactly as in `c11` (the race detector
//! and the acquire/release clocks do not change); only which value a load returns differs.

use super::{Buffered, Memory, Store};
use crate::engine::choice::{ChoiceKind, Chooser};
use crate::engine::event::{Op, Ord, Recorder};
use crate::engine::vc::VClock;

impl Memory {
    /// Store forwarding: task `t`'s newest buffered store to `loc`, if any.
    #[inline]
    pub(super) fn tso_forward(&self, t: u32, loc: u32) -> Option<u64> {
        if self.buffered == 0 {
            return None;
        }
        self.tasks[t as usize]
            .buf
            .iter()
            .rev()
            .find(|b| b.loc == loc)
            .map(|b| b.val)
    }

    /// Whether task `t` has stores in its buffer.
    #[inline]
    pub(crate) fn has_buffered(&self, t: u32) -> bool {
        self.buffered != 0 && !self.tasks[t as usize].buf.is_empty()
    }

    /// Put a store of task `t` into its buffer (`sync`: what it releases).
    pub(super) fn tso_buffer(
        &mut self,
        t: u32,
        loc: u32,
        val: u64,
        sync: VClock,
        ord: Option<Ord>,
    ) {
        let task = &mut self.tasks[t as usize];
        let ts = task.clock.get(task.slot);
        task.buf.push_back(Buffered {
            loc,
            val,
            ts,
            sync,
            ord,
        });
        self.buffered += 1;
    }

    /// Commit the oldest buffered store of task `t` to memory, logging an [`Op::Flush`].
    fn flush_oldest(&mut self, t: u32, rec: &mut Recorder) {
        let task = &mut self.tasks[t as usize];
        let Some(b) = task.buf.pop_front() else {
            return;
        };
        let slot = task.slot;
        self.buffered -= 1;
        let l = self.live(b.loc);
        // Loads read only the newest committed store.
        l.history.clear();
        l.history.push_back(Store {
            val: b.val,
            slot,
            ts: b.ts,
            sync: b.sync,
            is_sc: false,
            sc_loaded: false,
            first_load: VClock::ZERO,
        });
        rec.push(
            t,
            Op::Flush {
                loc: b.loc,
                ord: b.ord,
                val: b.val,
            },
        );
    }

    /// Drain the buffer of task `t` into memory, oldest first (a locked instruction, an
    /// `MFENCE`, a lock, a scheduler call). Does nothing outside `tso`.
    #[inline]
    pub(crate) fn drain(&mut self, t: u32, rec: &mut Recorder) {
        if self.buffered == 0 {
            return;
        }
        while !self.tasks[t as usize].buf.is_empty() {
            self.flush_oldest(t, rec);
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
    pub(crate) fn flush_choices(
        &mut self,
        next: Option<u32>,
        ch: &mut dyn Chooser,
        rec: &mut Recorder,
    ) {
        let mut who: Vec<u32> = Vec::new();
        while self.buffered != 0 {
            who.clear();
            let mut others = false;
            for (i, m) in self.tasks[..self.n_tasks].iter().enumerate() {
                if !m.buf.is_empty() {
                    who.push(i as u32);
                    others |= Some(i as u32) != next;
                }
            }
            let pick = match next {
                None => ch.choose(ChoiceKind::Flush, who.len()),
                Some(_) if !others => return,
                Some(_) => match ch.choose(ChoiceKind::Flush, who.len() + 1) {
                    0 => return,
                    c => c - 1,
                },
            };
            self.flush_oldest(who[pick], rec);
        }
    }
}
