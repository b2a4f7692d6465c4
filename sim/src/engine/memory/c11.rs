//! The load, store, read-modify-write and fence rules (DESIGN.md §5), for every model: `sc`
//! keeps one store per location, `tso` routes stores through the store buffers (see
//! [`tso`](super::tso)), `c11` keeps a history and lets loads choose.

use super::{Memory, MemoryModel, Store, HISTORY_CAP};
use crate::engine::choice::{ChoiceKind, Chooser};
use crate::engine::event::{Op, Pick, Recorder};
use crate::engine::vc::VClock;
use std::sync::atomic::Ordering;

#[inline(always)]
fn is_acquire(o: Ordering) -> bool {
    matches!(o, Ordering::Acquire | Ordering::AcqRel | Ordering::SeqCst)
}

#[inline(always)]
fn is_release(o: Ordering) -> bool {
    matches!(o, Ordering::Release | Ordering::AcqRel | Ordering::SeqCst)
}

impl Memory {
    /// Task `t` reads store `idx` of `loc` with ordering `ord` (acquire part, first load,
    /// SC-loaded mark). Returns the value.
    fn read_store(&mut self, t: u32, loc: u32, idx: usize, ord: Ordering) -> u64 {
        let task = &mut self.tasks[t as usize];
        let s = task.slot;
        let store = &mut self.locs[loc as usize].history[idx];
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

    /// Append a store by task `t` to the history of `loc`; `sync` is what it releases.
    fn push_store(&mut self, t: u32, loc: u32, val: u64, sc: bool, sync: VClock) {
        let task = &self.tasks[t as usize];
        let s = task.slot;
        let ts = task.clock.get(s);
        if sc {
            self.last_sc_write.set(s, ts);
        }
        let cap = if self.model == MemoryModel::C11 {
            HISTORY_CAP
        } else {
            1
        };
        let clock = &self.tasks[t as usize].clock;
        let l = &mut self.locs[loc as usize];
        if sc {
            // Every store that happens-before an SC store joins the SC order.
            for old in l.history.iter_mut() {
                if old.ts <= clock.get(old.slot) {
                    old.is_sc = true;
                }
            }
        }
        let mut reuse = if l.history.len() >= cap {
            l.history.pop_front()
        } else {
            None
        };
        let store = match reuse.as_mut() {
            Some(old) => {
                old.val = val;
                old.slot = s;
                old.ts = ts;
                old.sync.assign(&sync);
                old.is_sc = sc;
                old.sc_loaded = false;
                old.first_load.clear();
                reuse.take().expect("just set")
            }
            None => Store {
                val,
                slot: s,
                ts,
                sync,
                is_sc: sc,
                sc_loaded: false,
                first_load: VClock::ZERO,
            },
        };
        l.history.push_back(store);
    }

    /// Which stores of `loc` a load by task `t` may read, newest first (indices into the
    /// history). Returns the buffer and its length.
    fn candidates(&self, t: u32, loc: u32, sc: bool) -> ([u8; HISTORY_CAP], usize) {
        let task = &self.tasks[t as usize];
        let h = &self.locs[loc as usize].history;
        let mut buf = [0u8; HISTORY_CAP];
        let mut n = 0;
        if self.model != MemoryModel::C11 {
            buf[0] = (h.len() - 1) as u8;
            return (buf, 1);
        }
        for (i, s) in h.iter().enumerate().rev() {
            buf[n] = i as u8;
            n += 1;
            if s.ts <= task.clock.get(s.slot)
                || s.first_load.any_within(&task.clock)
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

    /// A load (atomic, or a plain read with `ord` = None) by task `t`: the value, and which
    /// candidate it read.
    fn load_value(&mut self, t: u32, loc: u32, ord: Ordering, ch: &mut dyn Chooser) -> (u64, Pick) {
        self.live(loc);
        if let Some(v) = self.tso_forward(t, loc) {
            return (v, Pick::ONLY);
        }
        let sc = ord == Ordering::SeqCst;
        if sc {
            let task = &mut self.tasks[t as usize];
            task.read_sc.join(&self.sc_fence);
        }
        let (buf, n) = self.candidates(t, loc, sc);
        let rank = ch.choose(ChoiceKind::LoadStore, n);
        let v = self.read_store(t, loc, buf[rank] as usize, ord);
        (
            v,
            Pick {
                rank: rank as u8,
                of: n as u8,
            },
        )
    }

    /// Atomic load by task `t`.
    pub(crate) fn load(
        &mut self,
        t: u32,
        loc: u32,
        ord: Ordering,
        ch: &mut dyn Chooser,
        rec: &mut Recorder,
    ) -> u64 {
        let (val, pick) = self.load_value(t, loc, ord, ch);
        rec.push(
            t,
            Op::Load {
                loc,
                ord: ord.into(),
                val,
                pick,
            },
        );
        self.tick(t);
        val
    }

    /// Atomic store by task `t`.
    pub(crate) fn store(&mut self, t: u32, loc: u32, val: u64, ord: Ordering, rec: &mut Recorder) {
        let task = &self.tasks[t as usize];
        let sync = if is_release(ord) {
            task.clock.clone()
        } else {
            task.fence_rel.clone()
        };
        self.live(loc);
        let buffered = self.model == MemoryModel::Tso && ord != Ordering::SeqCst;
        if self.model == MemoryModel::Tso && !buffered {
            // XCHG: drain, then write memory.
            self.drain(t, rec);
        }
        rec.push(
            t,
            Op::Store {
                loc,
                ord: ord.into(),
                val,
            },
        );
        if buffered {
            self.tso_buffer(t, loc, val, sync, Some(ord.into()));
        } else {
            self.push_store(t, loc, val, ord == Ordering::SeqCst, sync);
        }
        self.tick(t);
    }

    /// Read-modify-write by task `t`: `f` maps the newest value to the new one, or `None` (a
    /// failed compare-exchange, which is a load of the newest store with `failure`).
    pub(crate) fn rmw(
        &mut self,
        t: u32,
        loc: u32,
        success: Ordering,
        failure: Ordering,
        f: impl FnOnce(u64) -> Option<u64>,
        rec: &mut Recorder,
    ) -> Result<u64, u64> {
        // TSO: a LOCK-prefixed instruction (even a failing CMPXCHG) drains the buffer first.
        self.drain(t, rec);
        self.live(loc);
        let idx = self.locs[loc as usize].history.len() - 1;
        let old = self.locs[loc as usize].history[idx].val;
        let Some(new) = f(old) else {
            if failure == Ordering::SeqCst {
                let task = &mut self.tasks[t as usize];
                task.read_sc.join(&self.sc_fence);
            }
            self.read_store(t, loc, idx, failure);
            rec.push(
                t,
                Op::CasFail {
                    loc,
                    ord: failure.into(),
                    read: old,
                },
            );
            self.tick(t);
            return Err(old);
        };
        let sc = success == Ordering::SeqCst;
        if sc {
            let task = &mut self.tasks[t as usize];
            task.read_sc.join(&self.sc_fence);
        }
        self.read_store(t, loc, idx, success);
        // Release sequence: the new store carries what the one it replaces released.
        let mut sync = self.locs[loc as usize].history[idx].sync.clone();
        let task = &self.tasks[t as usize];
        sync.join(if is_release(success) {
            &task.clock
        } else {
            &task.fence_rel
        });
        self.push_store(t, loc, new, sc, sync);
        rec.push(
            t,
            Op::Rmw {
                loc,
                ord: success.into(),
                read: old,
                written: new,
            },
        );
        self.tick(t);
        Ok(old)
    }

    /// A fence by task `t`.
    pub(crate) fn fence(&mut self, t: u32, ord: Ordering, rec: &mut Recorder) {
        if ord == Ordering::SeqCst {
            // TSO: MFENCE drains the buffer.
            self.drain(t, rec);
        }
        let task = &mut self.tasks[t as usize];
        if is_acquire(ord) {
            let a = std::mem::take(&mut task.fence_acq);
            task.clock.join(&a);
            task.fence_acq = a;
        }
        if ord == Ordering::SeqCst {
            self.sc_fence.join(&task.clock);
            task.clock.join(&self.sc_fence);
            task.write_sc.join(&self.last_sc_write);
        }
        if is_release(ord) {
            task.fence_rel.assign(&task.clock);
        }
        rec.push(t, Op::Fence { ord: ord.into() });
        self.tick(t);
    }

    /// Read a plain cell: a relaxed load, checked by the race detector. Returns the value
    /// and, when the access races, the task of the earlier unordered access.
    pub(crate) fn plain_read(
        &mut self,
        t: u32,
        loc: u32,
        ch: &mut dyn Chooser,
        rec: &mut Recorder,
    ) -> (u64, Option<u32>) {
        self.live(loc);
        let race = self.race_check(t, loc, false, rec);
        let (val, pick) = self.load_value(t, loc, Ordering::Relaxed, ch);
        rec.push(t, Op::PlainRead { loc, val, pick });
        self.tick(t);
        (val, race)
    }

    /// Write a plain cell: a relaxed store, checked by the race detector. Returns the task of
    /// an earlier unordered access, if the write races.
    pub(crate) fn plain_write(
        &mut self,
        t: u32,
        loc: u32,
        val: u64,
        rec: &mut Recorder,
    ) -> Option<u32> {
        self.live(loc);
        let race = self.race_check(t, loc, true, rec);
        let sync = self.tasks[t as usize].fence_rel.clone();
        rec.push(t, Op::PlainWrite { loc, val });
        if self.model == MemoryModel::Tso {
            self.tso_buffer(t, loc, val, sync, None);
        } else {
            self.push_store(t, loc, val, false, sync);
        }
        self.tick(t);
        race
    }
}
