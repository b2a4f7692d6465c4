//! The load, store, read-modify-write and fence rules (DESIGN.md §5).

use super::{Store, HISTORY_CAP};
use crate::rt::log::{ChoiceKind, Op};
use crate::rt::vc::{slot, VClock};
use crate::rt::Exec;
use crate::MemoryModel;
use std::sync::atomic::Ordering;

#[inline(always)]
fn is_acquire(o: Ordering) -> bool {
    matches!(o, Ordering::Acquire | Ordering::AcqRel | Ordering::SeqCst)
}

#[inline(always)]
fn is_release(o: Ordering) -> bool {
    matches!(o, Ordering::Release | Ordering::AcqRel | Ordering::SeqCst)
}

impl Exec {
    /// The running task reads store `idx` of `loc` with ordering `ord` (acquire part, first
    /// load, SC-loaded mark). Returns the value.
    fn read_store(&mut self, loc: u32, idx: usize, ord: Ordering) -> u64 {
        let me = self.cur as usize;
        let s = slot(self.cur);
        let task = &mut self.tasks[me];
        let store = &mut self.mem.locs[loc as usize].history[idx];
        if is_acquire(ord) {
            task.clock.join(&store.sync);
        } else {
            task.fence_acq.join(&store.sync);
        }
        if store.first_load.get(s) == 0 {
            store.first_load.set(s, task.clock.get(s));
        }
        if ord == Ordering::SeqCst {
            store.sc_loaded = true;
        }
        store.val
    }

    /// Append a store by the running task; `sync` is what it releases.
    fn push_store(&mut self, loc: u32, val: u64, sc: bool, sync: VClock) {
        let me = self.cur as usize;
        let s = slot(self.cur);
        let clock = self.tasks[me].clock;
        if sc {
            self.mem.last_sc_write.set(s, clock.get(s));
        }
        let cap = if self.mem.mode != MemoryModel::C11 {
            1
        } else {
            HISTORY_CAP
        };
        let l = &mut self.mem.locs[loc as usize];
        if sc {
            // Every store that happens-before an SC store joins the SC order.
            for old in l.history.iter_mut() {
                if old.ts <= clock.get(old.slot) {
                    old.is_sc = true;
                }
            }
        }
        l.history.push_back(Store {
            val,
            slot: s,
            ts: clock.get(s),
            sync,
            is_sc: sc,
            sc_loaded: false,
            first_load: VClock::ZERO,
        });
        while l.history.len() > cap {
            l.history.pop_front();
        }
    }

    /// Which stores of `loc` a load by the running task may read, newest first (indices into
    /// the history). Returns the buffer and its length.
    fn candidates(&mut self, loc: u32, sc: bool) -> ([u8; HISTORY_CAP], usize) {
        let me = self.cur as usize;
        let task = &self.tasks[me];
        let h = &self.mem.locs[loc as usize].history;
        let mut buf = [0u8; HISTORY_CAP];
        let mut n = 0;
        if self.mem.mode != MemoryModel::C11 {
            buf[0] = (h.len() - 1) as u8;
            return (buf, 1);
        }
        for (i, s) in h.iter().enumerate().rev() {
            buf[n] = i as u8;
            n += 1;
            let seen_by_earlier_load = s
                .first_load
                .0
                .iter()
                .zip(task.clock.0.iter())
                .any(|(&f, &c)| f != 0 && f <= c);
            if s.ts <= task.clock.get(s.slot)
                || seen_by_earlier_load
                || (s.is_sc && s.ts <= task.write_sc.get(s.slot))
                || (sc && (s.ts <= task.read_sc.get(s.slot) || s.sc_loaded))
            {
                break;
            }
        }
        if sc {
            // An SC load reads, of the SC stores, only the newest.
            let mut seen_sc = false;
            let mut k = 0;
            for j in 0..n {
                let is_sc = h[buf[j] as usize].is_sc;
                if is_sc && seen_sc {
                    continue;
                }
                seen_sc |= is_sc;
                buf[k] = buf[j];
                k += 1;
            }
            n = k;
        }
        (buf, n)
    }

    /// Atomic load.
    pub(crate) fn atomic_load(&mut self, loc: u32, ord: Ordering) -> u64 {
        if let Some(v) = self.tso_forward(loc) {
            return self.tso_forwarded_load(loc, v, Op::Load, ord.into());
        }
        let sc = ord == Ordering::SeqCst;
        if sc {
            let f = self.mem.sc_fence;
            self.tasks[self.cur as usize].read_sc.join(&f);
        }
        let (buf, n) = self.candidates(loc, sc);
        let rank = self.choose(ChoiceKind::LoadStore, n, false);
        let v = self.read_store(loc, buf[rank] as usize, ord);
        let mut ev = self.ev(Op::Load);
        ev.ord = ord.into();
        ev.loc = loc;
        ev.read = Some(v);
        ev.rank = rank as u8;
        ev.candidates = n as u8;
        self.log(ev);
        self.tick();
        v
    }

    /// Atomic store.
    pub(crate) fn atomic_store(&mut self, loc: u32, val: u64, ord: Ordering) {
        let me = self.cur as usize;
        let sync = if is_release(ord) {
            self.tasks[me].clock
        } else {
            self.tasks[me].fence_rel
        };
        if self.mem.mode == MemoryModel::Tso {
            if ord == Ordering::SeqCst {
                // XCHG: drain, then write memory.
                self.tso_drain(self.cur);
            } else {
                self.tso_buffer(loc, val, sync, ord.into());
                return self.log_store(loc, val, ord);
            }
        }
        self.push_store(loc, val, ord == Ordering::SeqCst, sync);
        self.log_store(loc, val, ord);
    }

    fn log_store(&mut self, loc: u32, val: u64, ord: Ordering) {
        let mut ev = self.ev(Op::Store);
        ev.ord = ord.into();
        ev.loc = loc;
        ev.written = Some(val);
        self.log(ev);
        self.tick();
    }

    /// Read-modify-write: `f` maps the newest value to the new one, or `None` (a failed
    /// compare-exchange, which is a load of the newest store with `failure`).
    pub(crate) fn atomic_rmw(
        &mut self,
        loc: u32,
        success: Ordering,
        failure: Ordering,
        f: impl FnOnce(u64) -> Option<u64>,
    ) -> Result<u64, u64> {
        // TSO: a LOCK-prefixed instruction (even a failing CMPXCHG) drains the buffer first.
        self.tso_drain(self.cur);
        let me = self.cur as usize;
        let idx = self.mem.locs[loc as usize].history.len() - 1;
        let old = self.mem.locs[loc as usize].history[idx].val;
        let Some(new) = f(old) else {
            if failure == Ordering::SeqCst {
                let fv = self.mem.sc_fence;
                self.tasks[me].read_sc.join(&fv);
            }
            self.read_store(loc, idx, failure);
            let mut ev = self.ev(Op::CasFail);
            ev.ord = failure.into();
            ev.loc = loc;
            ev.read = Some(old);
            ev.candidates = 1;
            self.log(ev);
            self.tick();
            return Err(old);
        };
        let sc = success == Ordering::SeqCst;
        if sc {
            let fv = self.mem.sc_fence;
            self.tasks[me].read_sc.join(&fv);
        }
        self.read_store(loc, idx, success);
        // Release sequence: the new store carries what the one it replaces released.
        let mut sync = self.mem.locs[loc as usize].history[idx].sync;
        let task = &self.tasks[me];
        sync.join(if is_release(success) {
            &task.clock
        } else {
            &task.fence_rel
        });
        self.push_store(loc, new, sc, sync);
        let mut ev = self.ev(Op::Rmw);
        ev.ord = success.into();
        ev.loc = loc;
        ev.read = Some(old);
        ev.written = Some(new);
        ev.candidates = 1;
        self.log(ev);
        self.tick();
        Ok(old)
    }

    /// A fence.
    pub(crate) fn fence(&mut self, ord: Ordering) {
        if ord == Ordering::SeqCst {
            // TSO: MFENCE drains the buffer.
            self.tso_drain(self.cur);
        }
        let me = self.cur as usize;
        let t = &mut self.tasks[me];
        if is_acquire(ord) {
            let a = t.fence_acq;
            t.clock.join(&a);
        }
        if ord == Ordering::SeqCst {
            self.mem.sc_fence.join(&t.clock);
            let f = self.mem.sc_fence;
            t.clock.join(&f);
            let w = self.mem.last_sc_write;
            t.write_sc.join(&w);
        }
        if is_release(ord) {
            t.fence_rel = t.clock;
        }
        let mut ev = self.ev(Op::Fence);
        ev.ord = ord.into();
        self.log(ev);
        self.tick();
    }

    /// Read a plain cell: a relaxed load, checked by the race detector.
    pub(crate) fn plain_read(&mut self, loc: u32) -> u64 {
        self.race_check(loc, false);
        if let Some(v) = self.tso_forward(loc) {
            return self.tso_forwarded_load(loc, v, Op::PlainRead, crate::rt::log::Ord::None);
        }
        let (buf, n) = self.candidates(loc, false);
        let rank = self.choose(ChoiceKind::LoadStore, n, false);
        let v = self.read_store(loc, buf[rank] as usize, Ordering::Relaxed);
        let mut ev = self.ev(Op::PlainRead);
        ev.loc = loc;
        ev.read = Some(v);
        ev.rank = rank as u8;
        ev.candidates = n as u8;
        self.log(ev);
        self.tick();
        v
    }

    /// Write a plain cell: a relaxed store, checked by the race detector.
    pub(crate) fn plain_write(&mut self, loc: u32, val: u64) {
        self.race_check(loc, true);
        let me = self.cur as usize;
        let sync = self.tasks[me].fence_rel;
        if self.mem.mode == MemoryModel::Tso {
            self.tso_buffer(loc, val, sync, crate::rt::log::Ord::None);
        } else {
            self.push_store(loc, val, false, sync);
        }
        let mut ev = self.ev(Op::PlainWrite);
        ev.loc = loc;
        ev.written = Some(val);
        self.log(ev);
        self.tick();
    }
}
