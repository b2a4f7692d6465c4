//! The memory models: store histories, the C11 rules of DESIGN.md §5, plain cells with a
//! data-race detector, and locks.
//!
//! Modes: [`MemoryModel::Sc`] — every load reads the newest store (interleavings only);
//! [`MemoryModel::Tso`] — x86-TSO, per-task FIFO store buffers (see the `tso` module);
//! [`MemoryModel::C11`] — after Miri's weak-memory emulation:
//!
//! * every location keeps its stores in modification order, which is execution order (capped
//!   at [`HISTORY_CAP`]; dropping the oldest store only removes behaviours);
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
mod race;
mod tso;

use crate::rt::log::Ord;
use crate::rt::vc::VClock;
use crate::MemoryModel;
use netpoll::LocName;
use std::collections::VecDeque;

/// Stores kept per location.
pub(crate) const HISTORY_CAP: usize = 16;

/// One store in a location's history.
#[derive(Clone, Copy)]
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
            slot: crate::rt::vc::NOBODY,
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
#[derive(Clone, Copy)]
pub(crate) struct Buffered {
    pub(crate) loc: u32,
    pub(crate) val: u64,
    /// The storing task's own clock value at the store.
    pub(crate) ts: u32,
    /// What a load that acquires this store synchronises with.
    pub(crate) sync: VClock,
    /// The store's ordering, for the event log.
    pub(crate) ord: Ord,
}

/// A shared location: an atomic or a plain cell.
pub(crate) struct Location {
    pub(crate) name: LocName,
    pub(crate) history: VecDeque<Store>,
    pub(crate) race: race::RaceState,
}

/// A lock (RawLock / Mutex).
pub(crate) struct LockState {
    pub(crate) name: LocName,
    /// The location id naming it in the event log.
    pub(crate) loc: u32,
    pub(crate) owner: Option<u32>,
    /// The clock released by the last unlock.
    pub(crate) vc: VClock,
}

/// All shared memory of one execution.
pub(crate) struct Memory {
    pub(crate) mode: MemoryModel,
    /// Locations; the first `n_locs` are live, the rest kept for reuse.
    locs: Vec<Location>,
    n_locs: usize,
    pub(crate) locks: Vec<LockState>,
    /// Join of the clocks of every SC fence so far.
    pub(crate) sc_fence: VClock,
    /// Per slot: that task's clock at its last SC write.
    pub(crate) last_sc_write: VClock,
    /// Memory model `tso`: per task, its store buffer, oldest first (empty in other modes).
    pub(crate) bufs: Vec<VecDeque<Buffered>>,
    /// Stores in all buffers (0 in other modes: the engine's only per-step cost of `tso`).
    pub(crate) buffered: usize,
}

impl Memory {
    pub(crate) fn new(mode: MemoryModel) -> Memory {
        Memory {
            mode,
            locs: Vec::new(),
            n_locs: 0,
            locks: Vec::new(),
            sc_fence: VClock::ZERO,
            last_sc_write: VClock::ZERO,
            bufs: Vec::new(),
            buffered: 0,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.n_locs = 0;
        self.locks.clear();
        self.sc_fence = VClock::ZERO;
        self.last_sc_write = VClock::ZERO;
        for b in &mut self.bufs {
            b.clear();
        }
        self.buffered = 0;
    }

    /// A new location holding `init` (written by "nobody"); ids follow creation order.
    pub(crate) fn new_location(&mut self, name: LocName, init: u64) -> u32 {
        let id = self.n_locs;
        self.n_locs += 1;
        if id == self.locs.len() {
            self.locs.push(Location {
                name,
                history: VecDeque::with_capacity(HISTORY_CAP + 1),
                race: race::RaceState::default(),
            });
        }
        let l = &mut self.locs[id];
        l.name = name;
        l.history.clear();
        l.history.push_back(Store::initial(init));
        l.race = race::RaceState::default();
        id as u32
    }

    /// A new, unlocked lock; it also gets a location id for the event log.
    pub(crate) fn new_lock(&mut self, name: LocName) -> u32 {
        let loc = self.new_location(name, 0);
        let id = self.locks.len() as u32;
        self.locks.push(LockState {
            name,
            loc,
            owner: None,
            vc: VClock::ZERO,
        });
        id
    }

    #[inline(always)]
    pub(crate) fn loc(&mut self, id: u32) -> &mut Location {
        debug_assert!((id as usize) < self.n_locs);
        &mut self.locs[id as usize]
    }

    /// The newest value of a location, outside the model (for reports and debugging).
    pub(crate) fn peek(&self, id: u32) -> u64 {
        self.locs[id as usize].history.back().map_or(0, |s| s.val)
    }

    pub(crate) fn location_names(&self) -> Vec<String> {
        self.locs[..self.n_locs]
            .iter()
            .map(|l| l.name.to_string())
            .collect()
    }
}

impl Memory {
    /// Live locations so far (the id the next one will get).
    pub(crate) fn location_count(&self) -> u32 {
        self.n_locs as u32
    }
}
