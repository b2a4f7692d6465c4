//! The memory models, as one type with its own API: every shared location's store history,
//! every task's happens-before clocks, the TSO store buffers and the data-race detector.
//!
//! The engine asks `Memory` to perform an access on behalf of a task; the memory model
//! draws its own choices (which store a load reads, which buffered store commits) through a
//! `Chooser`, records the access in the event log, and advances the task's clock. It knows
//! nothing of scheduling.
//!
//! Models: [`MemoryModel::Sc`] — every load reads the newest store (interleavings only);
//! `MemoryModel::Tso` — x86-TSO, per-task FIFO store buffers (see `tso`);
//! `MemoryModel::C11` — after Miri's weak-memory emulation (see `c11`):
//!
//! * every location keeps its stores in modification order, which is execution order (capped
//!   at `HISTORY_CAP`; dropping the oldest store only removes behaviours);
//! * a load may read any store from the newest back to the first one it is obliged to see
//!   (one that happens-before it, one a load that happens-before it already read, an SC store
//!   an SC fence makes visible, ...); which one is a choice;
//! * release/acquire, release sequences, fences and SC accesses move vector clocks.
//!
//! Known limits (each with an ignored litmus test): since modification order is execution
//! order and a load can only read a store that already exists, load buffering (LB) and 2+2W
//! with relaxed stores are never produced, although C11 allows both; a few C++20 corner cases
//! Miri also misses (rust-lang/miri#2301). Go's atomics are all SeqCst and its runtime lock is
//! acquire/release, so none of these limits touches netpoll.

mod c11;
mod model;
mod race;
mod tso;

pub use model::MemoryModel;

use crate::engine::event::Ord;
use crate::engine::vc::{Slots, VClock, NOBODY};
use std::collections::VecDeque;

/// Stores kept per location.
pub(crate) const HISTORY_CAP: usize = 16;

/// One store in a location's history.
#[derive(Clone)]
pub(crate) struct Store {
    pub(crate) val: u64,
    /// The storing task's vector-clock slot (0: the initial value).
    pub(crate) slot: usize,
    /// The storing task's own clock value at the store.
    pub(crate) ts: u32,
    /// What a load that acquires this store synchronises with.
    pub(crate) sync: VClock,
    /// Part of the SC order.
    pub(crate) is_sc: bool,
    /// An SC load read it.
    pub(crate) sc_loaded: bool,
    /// Per slot: that task's clock at its first load of this store (0: none).
    pub(crate) first_load: VClock,
}

impl Store {
    fn initial(val: u64) -> Store {
        Store {
            val,
            slot: NOBODY,
            ts: 0,
            sync: VClock::ZERO,
            is_sc: false,
            sc_loaded: false,
            first_load: VClock::ZERO,
        }
    }
}

/// A store waiting in a task's store buffer (memory model `tso`): what the store will be in
/// the location's history when it reaches memory. Happens-before is computed at the store
/// instruction, as in the other models.
#[derive(Clone)]
pub(crate) struct Buffered {
    pub(crate) loc: u32,
    pub(crate) val: u64,
    /// The storing task's own clock value at the store.
    pub(crate) ts: u32,
    /// What a load that acquires this store synchronises with.
    pub(crate) sync: VClock,
    /// The store's ordering (`None`: a plain write), for the event log.
    pub(crate) ord: Option<Ord>,
}

/// A shared location: an atomic or a plain cell (or a lock's name). Its history is set up
/// at its first access (many locations, like the fields of pds a run never uses, have none).
pub(crate) struct Location {
    pub(crate) history: VecDeque<Store>,
    pub(crate) race: race::RaceState,
    /// The initial value, until the first access.
    init: u64,
    /// Not accessed yet: `history` and `race` are stale.
    fresh: bool,
}

/// One task's memory state: its clocks and (under `tso`) its store buffer.
#[derive(Default)]
pub(crate) struct TaskMem {
    /// The task's vector-clock slot.
    pub(crate) slot: usize,
    /// Happens-before clock.
    pub(crate) clock: VClock,
    /// What relaxed loads acquired, made visible by an acquire fence.
    pub(crate) fence_acq: VClock,
    /// The clock at the last release fence, released by relaxed stores.
    pub(crate) fence_rel: VClock,
    /// Per slot: the SC writes this task must not read past (via SC fences).
    pub(crate) write_sc: VClock,
    /// Per slot: the stores an SC load must not read past (via SC fences).
    pub(crate) read_sc: VClock,
    /// Memory model `tso`: the store buffer, oldest first.
    pub(crate) buf: VecDeque<Buffered>,
}

/// All shared memory of one execution.
pub(crate) struct Memory {
    pub(crate) model: MemoryModel,
    /// Locations; the first `n_locs` are live, the rest kept for reuse.
    locs: Vec<Location>,
    n_locs: usize,
    /// Per task id; the first `n_tasks` are live, the rest kept for reuse.
    tasks: Vec<TaskMem>,
    n_tasks: usize,
    slots: Slots,
    /// Per slot, its owners in order: (the first time the owner used, task id).
    owners: Vec<Vec<(u32, u32)>>,
    /// Join of the clocks of every SC fence so far.
    pub(crate) sc_fence: VClock,
    /// Per slot: that task's clock at its last SC write.
    pub(crate) last_sc_write: VClock,
    /// Stores in all buffers (0 outside `tso`: the engine's only per-step cost of `tso`).
    pub(crate) buffered: usize,
    /// Data races seen so far.
    pub(crate) races: u64,
}

impl Memory {
    pub(crate) fn new(model: MemoryModel) -> Memory {
        Memory {
            model,
            locs: Vec::new(),
            n_locs: 0,
            tasks: Vec::new(),
            n_tasks: 0,
            slots: Slots::default(),
            owners: Vec::new(),
            sc_fence: VClock::ZERO,
            last_sc_write: VClock::ZERO,
            buffered: 0,
            races: 0,
        }
    }

    /// Forget everything, keeping storage for the next execution.
    pub(crate) fn reset(&mut self) {
        self.n_locs = 0;
        self.n_tasks = 0;
        self.slots.reset();
        for o in &mut self.owners {
            o.clear();
        }
        self.sc_fence.clear();
        self.last_sc_write.clear();
        self.buffered = 0;
        self.races = 0;
    }

    // ---- tasks and their clocks ---------------------------------------------------------

    /// A new task `t` (ids are dense, in creation order) whose history starts after
    /// `parent`'s so far (spawn), or from nothing.
    pub(crate) fn add_task(&mut self, t: u32, parent: Option<u32>) {
        let id = t as usize;
        debug_assert_eq!(id, self.n_tasks);
        if id == self.tasks.len() {
            self.tasks.push(TaskMem::default());
        }
        let mut clock = std::mem::take(&mut self.tasks[id].clock);
        match parent {
            Some(p) => clock.assign(&self.tasks[p as usize].clock),
            None => clock.clear(),
        }
        let (slot, first) = self.slots.take(&clock);
        clock.set(slot, first);
        if self.owners.len() <= slot {
            self.owners.resize_with(slot + 1, Vec::new);
        }
        self.owners[slot].push((first, t));
        let m = &mut self.tasks[id];
        m.clock = clock;
        m.slot = slot;
        m.fence_acq.clear();
        m.fence_rel.clear();
        m.write_sc.clear();
        m.read_sc.clear();
        m.buf.clear();
        self.n_tasks += 1;
    }

    /// Task `t` finished: its slot may be recycled (see [`Slots`]).
    pub(crate) fn finish_task(&mut self, t: u32) {
        let m = &self.tasks[t as usize];
        self.slots.release(m.slot, m.clock.get(m.slot));
    }

    /// The task that made the access of slot `slot` at time `ts`.
    pub(crate) fn owner_of(&self, slot: usize, ts: u32) -> u32 {
        self.owners
            .get(slot)
            .and_then(|o| o.iter().rev().find(|&&(first, _)| first <= ts))
            .map_or(u32::MAX, |&(_, t)| t)
    }

    /// Task `t`'s happens-before clock (what it releases).
    pub(crate) fn clock(&self, t: u32) -> &VClock {
        &self.tasks[t as usize].clock
    }

    /// Task `t` acquires `vc` (a lock, a join, a wake-up).
    pub(crate) fn acquire(&mut self, t: u32, vc: &VClock) {
        self.tasks[t as usize].clock.join(vc);
    }

    /// After each event of task `t`: its own time advances.
    #[inline]
    pub(crate) fn tick(&mut self, t: u32) {
        let m = &mut self.tasks[t as usize];
        let s = m.slot;
        m.clock.set(s, m.clock.get(s) + 1);
    }

    // ---- locations ----------------------------------------------------------------------

    /// A new location holding `init` (written by "nobody"); ids follow creation order.
    pub(crate) fn new_location(&mut self, init: u64) -> u32 {
        let id = self.n_locs;
        self.n_locs += 1;
        if id == self.locs.len() {
            self.locs.push(Location {
                history: VecDeque::with_capacity(HISTORY_CAP + 1),
                race: race::RaceState::default(),
                init,
                fresh: true,
            });
        } else {
            let l = &mut self.locs[id];
            l.init = init;
            l.fresh = true;
        }
        id as u32
    }

    /// Location `id`, its history set up if this is its first access.
    #[inline(always)]
    pub(crate) fn live(&mut self, id: u32) -> &mut Location {
        debug_assert!((id as usize) < self.n_locs);
        let l = &mut self.locs[id as usize];
        if l.fresh {
            l.fresh = false;
            l.history.clear();
            l.history.push_back(Store::initial(l.init));
            l.race = race::RaceState::default();
        }
        l
    }

    /// Live locations so far (the id the next one will get).
    pub(crate) fn location_count(&self) -> u32 {
        self.n_locs as u32
    }

    /// The newest value of a location, outside the model (for reports and debugging).
    pub(crate) fn peek(&self, id: u32) -> u64 {
        if let Some(v) = self.tasks[..self.n_tasks]
            .iter()
            .find_map(|m| m.buf.iter().rev().find(|b| b.loc == id).map(|b| b.val))
        {
            // A value still in a store buffer is the newest one a report should show.
            return v;
        }
        let l = &self.locs[id as usize];
        if l.fresh {
            return l.init;
        }
        l.history.back().map_or(0, |s| s.val)
    }
}
