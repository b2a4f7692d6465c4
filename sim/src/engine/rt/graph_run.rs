//! One run of the `graph` strategy: the tasks re-execute on their coroutines, replaying the
//! graph being explored (every read returns what the graph says it reads, in an order where
//! each read comes after the store it reads), then extend it one event at a time - the
//! enabled task first in spawn order - while the search records the alternatives.
//!
//! Everything here is a function of the graph: no scheduling choice is drawn. The order of
//! replay and extension is recorded so that a failure can be replayed as a trace.

use crate::engine::event::Ord;
use crate::engine::graph::consistency::tracker::HbTracker;
use crate::engine::graph::exec_graph::{Graph, LocKey};
use crate::engine::graph::label::{ERef, Label, MemOrd, ReadKind};
use crate::engine::graph::search::{Added, Searcher};
use crate::engine::memory::MemoryModel;

/// Where an operation goes: a location of the check, or a task's own flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Where {
    /// An engine location id.
    Loc(u32),
    /// Graph task `0`'s termination flag.
    Done(u32),
    /// Graph task `0`'s park permit.
    Permit(u32),
}

/// An operation a task is about to do, as the graph sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GOp {
    Read {
        at: Where,
        ord: MemOrd,
        kind: ReadKind,
    },
    Write {
        at: Where,
        ord: MemOrd,
        val: u64,
        rmw: bool,
        barrier: bool,
    },
    Fence(Ord),
    Choice(u32),
    Spawn {
        daemon: bool,
    },
}

/// The write part of a read-modify-write, as its task gives it before the read part is
/// added: what it writes as a function of the value read. With it the search adds both
/// parts of an alternative at once, and an alternative whose write part breaks atomicity
/// (the store it read was taken by another read-modify-write) yields its revisits without
/// a run of its own, which would only replay the graph to reach that write part.
pub(crate) struct WritePart {
    pub(crate) ord: MemOrd,
    pub(crate) barrier: bool,
    pub(crate) value: WriteValue,
}

/// What a read-modify-write's write part writes.
pub(crate) enum WriteValue {
    /// Always this (a lock taken, a permit consumed).
    Const(u64),
    /// The operation's function of the value read (`None`: a failed compare-exchange,
    /// which writes nothing).
    Of(Box<dyn Fn(u64) -> Option<u64>>),
}

impl WritePart {
    /// The write part's label at `loc` when the read part reads `v`.
    fn label(&self, loc: u32, v: u64) -> Option<Label> {
        let val = match &self.value {
            WriteValue::Const(x) => *x,
            WriteValue::Of(f) => f(v)?,
        };
        Some(Label::Write {
            loc,
            ord: self.ord,
            val,
            rmw: true,
            barrier: self.barrier,
        })
    }
}

/// Where an engine task stands in a graph run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TState {
    /// Created, its coroutine not started.
    Fresh,
    /// Running or about to run.
    Running,
    /// Waits to replay a read until the store it reads is replayed.
    WaitRf(ERef),
    /// Replayed everything the graph has of it; `op` is its next operation. `timed`: a
    /// park that could time out instead (so being stuck there is no deadlock).
    Frontier { op: GOp, timed: bool },
    /// Its function returned.
    Finished,
    /// It reached `yield_now` at the end of a loop iteration that only read (GenMC's
    /// spin-assume): run again on the same values, the iteration would do the same forever,
    /// so the task waits here for good. Another graph, in which one of those reads reads a
    /// later store, lets it out.
    Spinning,
}

/// What a task did since it last called `yield_now` (for spin loops).
#[derive(Clone, Debug, Default)]
struct Iteration {
    /// Its reads (none kept once it did something else).
    reads: Vec<ERef>,
    /// Whether it did anything else another task could observe (a write, a spawn, a
    /// choice).
    effect: bool,
}

/// How a graph run ended (when it did not fail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// Every task that is not a daemon finished.
    Complete,
    /// Some task waits forever where a time-out or another order would let it go on.
    Blocked,
    /// The graph violates atomicity; its alternatives carry on.
    Dropped,
}

/// Replaying a recorded trace instead of searching: the events in the order to add them.
pub(crate) struct Guide {
    /// Per event: the engine task, then what the event chose (an option index among the
    /// candidates at that point; see [`GraphRun::guided_extend`]).
    pub(crate) steps: Vec<(u32, u32)>,
    pub(crate) next: usize,
}

/// What a replay step told the operation.
pub(crate) enum Step {
    /// The event is replayed: its value.
    Value(u64),
    /// Suspend: wait for another task, or for the search to add the event.
    Suspend,
    /// The operation is not the one the graph has here.
    Diverged(String),
}

/// The state of one graph run.
pub(crate) struct GraphRun {
    pub(crate) search: Searcher,
    pub(crate) g: Graph,
    pub(crate) guide: Option<Guide>,
    /// Per graph task: how many of its events were replayed.
    cursor: Vec<u32>,
    /// Per engine task: its graph task.
    gt_of: Vec<u32>,
    /// Per engine location: its graph location (or `PENDING`).
    gl_of: Vec<u32>,
    /// Per engine location not accessed yet: its graph key and initial value.
    pending_loc: Vec<(LocKey, u64)>,
    /// Per graph task: locations it created so far.
    made: Vec<u32>,
    /// Per graph task: its virtual time now, and at each of its replayed events.
    time: Vec<i64>,
    etime: Vec<Vec<i64>>,
    /// Whether some task's time moved on in this run: until then every time is the start
    /// and `etime` stays empty (a check with no timer or sleep never pays for it).
    clocked: bool,
    pub(crate) state: Vec<TState>,
    /// How many tasks are [`TState::Fresh`], and an engine task no later one of them.
    fresh: u32,
    first_fresh: usize,
    /// The events in the order this run replayed or added them.
    pub(crate) order: Vec<ERef>,
    pub(crate) end: Option<RunEnd>,
    start_ns: i64,
    /// Happens-before so far, and per graph location the reads replayed: what bounds the
    /// stores a new event may read or follow (coherence), and the reads a new store may
    /// revisit (every read of the graph is replayed before the graph grows).
    hb: HbTracker,
    /// How many of `order`'s events the tracker took: it takes the rest in one go when a
    /// view is asked for (most runs ask only once they extend the graph).
    hb_taken: usize,
    reads_of: Vec<Vec<ERef>>,
    /// Under IMM: the engine task allowed to replay its read before the store it reads
    /// (load buffering puts them in a cycle).
    force: Option<u32>,
    /// Per graph location, per graph task: one plus the index of its latest plain write,
    /// plain read, atomic write and atomic read there (0: none) - for race detection.
    last_access: Vec<Vec<[u32; 4]>>,
    /// Per graph location: a bit per kind of access (as `last_access` numbers them) seen.
    access_kinds: Vec<u8>,
    /// Per graph task: its termination flag's and its park permit's graph location, once
    /// looked up (`NONE` before).
    task_locs: Vec<[u32; 2]>,
    /// The first data race replayed: an access, and a later one of another task that
    /// conflicts with it and does not happen after it.
    pub(crate) race: Option<(ERef, ERef)>,
    /// Per engine task: what it did since it last called `yield_now`.
    iteration: Vec<Iteration>,
    /// Per engine task waiting at the frontier with the read part of a read-modify-write:
    /// its write part.
    write_parts: Vec<Option<WritePart>>,
}

/// The kinds of access race detection tells apart (`last_access` and `access_kinds` index
/// them): plain write, plain read, atomic write, atomic read.
const PW: usize = 0;
const PR: usize = 1;
const AW: usize = 2;
const AR: usize = 3;
/// The plain kinds, as bits of `access_kinds`.
const PLAIN: u8 = 1 << PW | 1 << PR;

const NONE: u32 = u32::MAX;
/// In `gl_of`: created, not accessed yet (its key waits in `pending_loc`).
const PENDING: u32 = u32::MAX - 1;

impl GraphRun {
    pub(crate) fn new(model: MemoryModel, g: Graph, start_ns: i64) -> GraphRun {
        // Room for the graph it replays and as much again (it grows past that).
        let hb = HbTracker::with_capacity(g.tasks.len(), 2 * g.len() + 64);
        GraphRun {
            search: Searcher::new(model),
            g,
            guide: None,
            cursor: Vec::new(),
            gt_of: Vec::new(),
            gl_of: Vec::new(),
            pending_loc: Vec::new(),
            made: Vec::new(),
            time: Vec::new(),
            etime: Vec::new(),
            clocked: false,
            state: Vec::new(),
            fresh: 0,
            first_fresh: 0,
            order: Vec::new(),
            end: None,
            start_ns,
            hb,
            hb_taken: 0,
            reads_of: Vec::new(),
            force: None,
            last_access: Vec::new(),
            access_kinds: Vec::new(),
            task_locs: Vec::new(),
            race: None,
            iteration: Vec::new(),
            write_parts: Vec::new(),
        }
    }

    /// Make this run (which ended) a fresh run of graph `g`, as [`GraphRun::new`] would,
    /// keeping the room its tables took (a search runs many thousand graphs one after the
    /// other: allocating every table anew was a tenth of a run).
    pub(crate) fn recycle(&mut self, model: MemoryModel, g: Graph, start_ns: i64) {
        self.search.model = model;
        self.search.found.clear();
        self.g = g;
        self.guide = None;
        self.cursor.clear();
        self.gt_of.clear();
        self.gl_of.clear();
        self.made.clear();
        self.time.clear();
        // Nested tables keep their rows (emptied): they are indexed, never counted.
        self.clocked = false;
        for t in &mut self.etime {
            t.clear();
        }
        self.state.clear();
        self.fresh = 0;
        self.first_fresh = 0;
        self.order.clear();
        self.end = None;
        self.start_ns = start_ns;
        self.hb.reset();
        self.hb_taken = 0;
        for r in &mut self.reads_of {
            r.clear();
        }
        self.force = None;
        for a in &mut self.last_access {
            a.clear();
        }
        self.access_kinds.fill(0);
        self.task_locs.clear();
        self.race = None;
        for it in &mut self.iteration {
            it.reads.clear();
            it.effect = false;
        }
        self.write_parts.clear();
    }

    /// Grow the per-graph-task tables to the graph's tasks.
    fn fit(&mut self) {
        let n = self.g.tasks.len();
        if self.cursor.len() < n {
            self.cursor.resize(n, 0);
            self.made.resize(n, 0);
            self.time.resize(n, self.start_ns);
            if self.etime.len() < n {
                self.etime.resize_with(n, Vec::new);
            }
        }
    }

    /// Engine task `et` was created as graph task `gt`.
    pub(crate) fn task_created(&mut self, et: u32, gt: u32) {
        self.fit();
        if self.gt_of.len() <= et as usize {
            self.gt_of.resize(et as usize + 1, NONE);
            self.state.resize(et as usize + 1, TState::Finished);
        }
        if self.iteration.len() <= et as usize {
            self.iteration
                .resize_with(et as usize + 1, Iteration::default);
        }
        self.gt_of[et as usize] = gt;
        self.state[et as usize] = TState::Fresh;
        self.fresh += 1;
        self.first_fresh = self.first_fresh.min(et as usize);
        // A recycled slot (of an earlier task of this run, or of an earlier run) starts
        // with no loop iteration.
        let it = &mut self.iteration[et as usize];
        it.reads.clear();
        it.effect = false;
    }

    /// Engine task `et` suspends in the read part of a read-modify-write: if it waits at
    /// the frontier (the read is still to be added), keep its write part (`part()`).
    pub(crate) fn offer_write_part(&mut self, et: u32, part: &dyn Fn() -> WritePart) {
        if !matches!(self.state[et as usize], TState::Frontier { .. }) {
            return;
        }
        if self.write_parts.len() <= et as usize {
            self.write_parts.resize_with(et as usize + 1, || None);
        }
        if self.write_parts[et as usize].is_none() {
            self.write_parts[et as usize] = Some(part());
        }
    }

    pub(crate) fn gt(&self, et: u32) -> u32 {
        self.gt_of[et as usize]
    }

    /// Engine location `l` was created by engine task `et` with value `init`. It joins the
    /// graph at its first access (a check may make many locations it never touches: a pd
    /// block holds four pds of nineteen fields each), named by its creation all the same.
    pub(crate) fn location_created(&mut self, et: u32, l: u32, init: u64) {
        let gt = self.gt(et);
        self.fit();
        let nth = self.made[gt as usize];
        self.made[gt as usize] += 1;
        if self.gl_of.len() <= l as usize {
            self.gl_of.resize(l as usize + 1, NONE);
            self.pending_loc
                .resize(l as usize + 1, (LocKey::Done(0), 0));
        }
        self.gl_of[l as usize] = PENDING;
        self.pending_loc[l as usize] = (LocKey::Made { task: gt, nth }, init);
    }

    /// The graph location of `w`.
    #[inline]
    pub(crate) fn gloc(&mut self, w: Where) -> u32 {
        let known = match w {
            Where::Loc(l) => self.gl_of.get(l as usize).copied(),
            Where::Done(t) => self.task_locs.get(t as usize).map(|x| x[0]),
            Where::Permit(t) => self.task_locs.get(t as usize).map(|x| x[1]),
        };
        match known {
            Some(gl) if gl < PENDING => gl,
            _ => self.gloc_slow(w),
        }
    }

    /// [`GraphRun::gloc`] for a location's first access, or a task's flag or permit.
    #[inline(never)]
    fn gloc_slow(&mut self, w: Where) -> u32 {
        match w {
            Where::Loc(l) => {
                let gl = self.gl_of.get(l as usize).copied().unwrap_or(NONE);
                assert!(
                    gl != NONE,
                    "netpoll-sim: location {l} was not created inside this execution"
                );
                if gl != PENDING {
                    return gl;
                }
                let (key, init) = self.pending_loc[l as usize];
                let gl = self.g.loc(key, init);
                self.gl_of[l as usize] = gl;
                gl
            }
            Where::Done(t) => self.task_loc(t, false),
            Where::Permit(t) => self.task_loc(t, true),
        }
    }

    /// Graph task `t`'s park permit (`permit`) or termination flag, looked up once per run.
    fn task_loc(&mut self, t: u32, permit: bool) -> u32 {
        let (at, key) = if permit {
            (1, LocKey::Permit(t))
        } else {
            (0, LocKey::Done(t))
        };
        if self.task_locs.len() <= t as usize {
            self.task_locs.resize(t as usize + 1, [NONE; 2]);
        }
        if self.task_locs[t as usize][at] == NONE {
            self.task_locs[t as usize][at] = self.g.loc(key, 0);
        }
        self.task_locs[t as usize][at]
    }

    /// The engine task of graph task `gt`, if it exists in this run.
    pub(crate) fn engine_task(&self, gt: u32) -> Option<u32> {
        self.gt_of.iter().position(|&x| x == gt).map(|i| i as u32)
    }

    /// The engine location of graph location `gl`, if it exists in this run.
    pub(crate) fn engine_loc(&self, gl: u32) -> Option<u32> {
        self.gl_of.iter().position(|&x| x == gl).map(|i| i as u32)
    }

    /// The virtual time of engine task `et`.
    pub(crate) fn now(&self, et: u32) -> i64 {
        self.time[self.gt(et) as usize]
    }

    pub(crate) fn set_now(&mut self, et: u32, t: i64) {
        let gt = self.gt(et) as usize;
        if t > self.time[gt] {
            self.time[gt] = t;
            self.clocked = true;
        }
    }

    /// The label `op` would have, its `rf` and choice unset.
    fn template(&mut self, op: GOp, gt: u32) -> Label {
        match op {
            GOp::Read { at, ord, kind } => Label::Read {
                loc: self.gloc(at),
                ord,
                kind,
                rf: None,
            },
            GOp::Write {
                at,
                ord,
                val,
                rmw,
                barrier,
            } => Label::Write {
                loc: self.gloc(at),
                ord,
                val,
                rmw,
                barrier,
            },
            GOp::Fence(ord) => Label::Fence { ord },
            GOp::Choice(n) => Label::Choice { n, chosen: 0 },
            GOp::Spawn { daemon } => {
                let nth = self.g.tasks[gt as usize]
                    .events
                    .iter()
                    .filter(|e| matches!(e.label, Label::Spawn { .. }))
                    .count() as u32;
                let child = self.g.child(gt, nth, daemon);
                self.fit();
                Label::Spawn { child }
            }
        }
    }

    /// Whether `label` (from the graph) is what `op` does.
    #[inline]
    fn matches(&mut self, op: &GOp, label: &Label) -> bool {
        match op {
            GOp::Read { at, ord, kind } => match label {
                Label::Read {
                    loc,
                    kind: k2,
                    ord: o2,
                    ..
                } => {
                    kind == k2
                        && (matches!(kind, ReadKind::Rmw { .. }) || ord == o2)
                        && self.gloc(*at) == *loc
                }
                _ => false,
            },
            GOp::Write {
                at,
                ord,
                val,
                rmw,
                barrier,
            } => match label {
                Label::Write {
                    loc,
                    ord: o2,
                    val: v2,
                    rmw: r2,
                    barrier: b2,
                } => ord == o2 && val == v2 && rmw == r2 && barrier == b2 && self.gloc(*at) == *loc,
                _ => false,
            },
            GOp::Fence(o) => matches!(label, Label::Fence { ord } if o == ord),
            GOp::Choice(n) => matches!(label, Label::Choice { n: n2, .. } if n == n2),
            GOp::Spawn { .. } => matches!(label, Label::Spawn { .. }),
        }
    }

    /// Engine task `et` is about to do `op`: replay it if the graph has it, else wait at
    /// the frontier.
    pub(crate) fn step(&mut self, et: u32, op: GOp, timed: bool) -> Step {
        let gt = self.gt(et);
        let idx = self.cursor[gt as usize];
        let events = self.g.tasks[gt as usize].events.len() as u32;
        if idx >= events {
            self.state[et as usize] = TState::Frontier { op, timed };
            return Step::Suspend;
        }
        let e = ERef { task: gt, idx };
        let label = *self.g.label(e);
        if !self.matches(&op, &label) {
            return Step::Diverged(format!(
                "task {et} does {op:?} where the graph has {label:?}: the check does not do \
                 the same when its reads return the same values (is it deterministic?)"
            ));
        }
        if let Label::Read { rf: Some(w), .. } = label {
            if self.cursor[w.task as usize] <= w.idx && self.force.take() != Some(et) {
                self.state[et as usize] = TState::WaitRf(w);
                return Step::Suspend;
            }
        }
        self.state[et as usize] = TState::Running;
        self.cursor[gt as usize] += 1;
        let mut t = self.time[gt as usize];
        let value = match label {
            Label::Read { loc, rf, .. } => {
                if let (true, Some(w)) = (self.clocked, rf) {
                    if let Some(&wt) = self.etime[w.task as usize].get(w.idx as usize) {
                        t = t.max(wt);
                    }
                }
                self.g.value_of(loc, rf)
            }
            Label::Choice { chosen, .. } => chosen as u64,
            Label::Spawn { child } => {
                self.fit();
                self.time[child as usize] = t;
                child as u64
            }
            _ => 0,
        };
        if self.clocked {
            // Each event's time (the events before the first time moved are at the start).
            self.time[gt as usize] = t;
            let times = &mut self.etime[gt as usize];
            if times.len() < idx as usize {
                times.resize(idx as usize, self.start_ns);
            }
            times.push(t);
        }
        self.order.push(e);
        if let Label::Read { loc, .. } = label {
            if self.reads_of.len() <= loc as usize {
                self.reads_of.resize_with(loc as usize + 1, Vec::new);
            }
            self.reads_of[loc as usize].push(e);
        }
        self.check_race(e, &label);
        let it = &mut self.iteration[et as usize];
        match label {
            // Once the iteration did something else, its reads no longer matter.
            Label::Read { .. } if !it.effect => it.reads.push(e),
            Label::Read { .. } | Label::Fence { .. } => {}
            _ => {
                it.effect = true;
                it.reads.clear();
            }
        }
        Step::Value(value)
    }

    /// Engine task `et` calls `yield_now`: true when the loop iteration it ends only read,
    /// so the task spins for good on these values (it is then [`TState::Spinning`]).
    pub(crate) fn spin_point(&mut self, et: u32) -> bool {
        if matches!(self.state[et as usize], TState::Spinning) {
            return true;
        }
        let it = std::mem::take(&mut self.iteration[et as usize]);
        if it.effect || it.reads.is_empty() {
            return false;
        }
        self.iteration[et as usize] = it;
        self.state[et as usize] = TState::Spinning;
        true
    }

    /// Whether engine task `et` spins for good.
    pub(crate) fn spinning(&self, et: u32) -> bool {
        self.state.get(et as usize) == Some(&TState::Spinning)
    }

    /// Whether every read of the spinning task `et`'s last iteration read the newest store
    /// of its location: then no other order lets it out (a livelock), else it is a
    /// blocked execution, which GenMC's liveness rule prunes.
    fn spins_on_newest(&self, et: u32) -> bool {
        self.iteration[et as usize]
            .reads
            .iter()
            .all(|&r| match *self.g.label(r) {
                Label::Read { loc, rf, .. } => self.g.locs[loc as usize].co.last().copied() == rf,
                _ => true,
            })
    }

    /// Race detection at each replayed access (vector clocks, as FastTrack): the latest
    /// conflicting access of each other task must happen before this one.
    ///
    /// Only plain accesses race, with anything: an atomic access to a location no plain
    /// access touched yet is only counted (most accesses of a protocol); when the first
    /// plain access comes, each task's latest atomic accesses there are found in the graph.
    #[inline(always)]
    fn check_race(&mut self, e: ERef, label: &Label) {
        let (loc, write, plain) = match *label {
            Label::Read { loc, ord, .. } => (loc, false, !ord.is_atomic()),
            Label::Write { loc, ord, .. } => (loc, true, !ord.is_atomic()),
            _ => return,
        };
        let k = match (plain, write) {
            (true, true) => PW,
            (true, false) => PR,
            (false, true) => AW,
            (false, false) => AR,
        };
        if let Some(seen) = self.access_kinds.get_mut(loc as usize) {
            let seen_kinds = *seen;
            *seen |= 1 << k;
            if !plain && seen_kinds & PLAIN == 0 {
                return;
            }
            self.race_at(e, loc, k, plain, write, seen_kinds);
        } else {
            self.first_access(e, loc, k, plain, write);
        }
    }

    /// [`GraphRun::check_race`] for a location past the end of the table of access kinds
    /// (its first access in this run, and in every run before on this thread).
    #[cold]
    #[inline(never)]
    fn first_access(&mut self, e: ERef, loc: u32, k: usize, plain: bool, write: bool) {
        self.access_kinds.resize(loc as usize + 1, 0);
        self.access_kinds[loc as usize] = 1 << k;
        if plain {
            self.race_at(e, loc, k, plain, write, 0);
        }
    }

    /// [`GraphRun::check_race`] for an access that may race: `seen_kinds`, the kinds of
    /// access to `loc` before it.
    #[inline(never)]
    fn race_at(&mut self, e: ERef, loc: u32, k: usize, plain: bool, write: bool, seen_kinds: u8) {
        // The kinds of earlier access this one conflicts with.
        let kinds: &[usize] = match (plain, write) {
            (true, false) => &[PW, AW],
            (true, true) => &[PW, PR, AW, AR],
            (false, false) => &[PW],
            (false, true) => &[PW, PR],
        };
        let nt = self.g.tasks.len();
        if self.last_access.len() <= loc as usize {
            self.last_access.resize_with(loc as usize + 1, Vec::new);
        }
        if self.last_access[loc as usize].len() < nt {
            self.last_access[loc as usize].resize(nt, [0; 4]);
        }
        if seen_kinds & PLAIN == 0 && seen_kinds != 0 {
            self.record_atomic_accesses(loc);
        }
        let conflicting = kinds.iter().any(|&c| seen_kinds & (1 << c) != 0);
        if self.race.is_none() && conflicting {
            self.settle_views();
            let view = self.hb.view(e.task);
            for (u, last) in self.last_access[loc as usize].iter().enumerate() {
                if u == e.task as usize {
                    continue;
                }
                let seen = view.get(u).copied().unwrap_or(0);
                for &k in kinds {
                    if last[k] > seen {
                        let a = ERef {
                            task: u as u32,
                            idx: last[k] - 1,
                        };
                        self.race = Some((a, e));
                    }
                }
            }
        }
        self.last_access[loc as usize][e.task as usize][k] = e.idx + 1;
    }

    /// The first plain access to `loc`, which only atomic accesses touched so far: record
    /// each task's latest replayed atomic write and read there (what [`GraphRun::check_race`]
    /// did not record).
    fn record_atomic_accesses(&mut self, loc: u32) {
        for (u, task) in self.g.tasks.iter().enumerate() {
            let replayed =
                (self.cursor.get(u).copied().unwrap_or(0) as usize).min(task.events.len());
            let last = &mut self.last_access[loc as usize][u];
            for (i, ev) in task.events[..replayed].iter().enumerate().rev() {
                let kind = match ev.label {
                    Label::Write { loc: l, ord, .. } if l == loc && ord.is_atomic() => AW,
                    Label::Read { loc: l, ord, .. } if l == loc && ord.is_atomic() => AR,
                    _ => continue,
                };
                if last[kind] == 0 {
                    last[kind] = i as u32 + 1;
                }
                if last[AW] != 0 && last[AR] != 0 {
                    break;
                }
            }
        }
    }

    /// Whether graph task `gt` has events left to replay.
    fn replaying(&self, gt: u32) -> bool {
        self.cursor[gt as usize] < self.g.tasks[gt as usize].events.len() as u32
    }

    /// Whether a task at its frontier about to do `op` may go on now.
    fn enabled(&mut self, op: GOp) -> bool {
        match op {
            GOp::Read {
                at,
                kind: ReadKind::Await { until, .. },
                ..
            } => {
                let loc = self.gloc(at);
                let top = self.g.co_max(loc);
                until.satisfied(self.g.value_of(loc, top))
            }
            _ => true,
        }
    }

    /// Graph task `gt`'s last event is a read-modify-write's read part whose write part is
    /// still to come.
    fn incomplete_rmw(&self, gt: u32) -> bool {
        let evs = &self.g.tasks[gt as usize].events;
        match evs.last() {
            Some(ev) => match ev.label {
                Label::Read { loc, kind, rf, .. } => kind.exclusive_with(self.g.value_of(loc, rf)),
                _ => false,
            },
            None => false,
        }
    }

    /// The engine task to run next, or what ended the run.
    pub(crate) fn pick(&mut self) -> Pick {
        if self.end.is_some() {
            return Pick::End;
        }
        let n = self.state.len();
        if self.fresh > 0 {
            for et in self.first_fresh..n {
                if matches!(self.state[et], TState::Fresh) {
                    self.state[et] = TState::Running;
                    self.fresh -= 1;
                    self.first_fresh = et + 1;
                    return Pick::Run(et as u32);
                }
            }
        }
        // A task waiting for a store that is replayed now goes on; a task waits for a store
        // not replayed yet only while another task replays (the graph holds both).
        let mut waiting = false;
        for et in 0..n {
            if let TState::WaitRf(w) = self.state[et] {
                if self.cursor[w.task as usize] > w.idx {
                    self.state[et] = TState::Running;
                    return Pick::Run(et as u32);
                }
                debug_assert!(self.replaying(self.gt_of[et]));
                waiting = true;
            }
        }
        if waiting {
            // Only a memory load may go first (never a join, a lock or a park).
            let load = (0..n).find(|&et| {
                let gt = self.gt_of[et];
                matches!(self.state[et], TState::WaitRf(_))
                    && matches!(
                        self.g.tasks[gt as usize].events[self.cursor[gt as usize] as usize].label,
                        Label::Read {
                            kind: ReadKind::Load | ReadKind::Rmw { .. },
                            ..
                        }
                    )
            });
            if let (MemoryModel::Imm, Some(et)) = (self.search.model, load) {
                // Load buffering: the read goes first with the value the graph gives it;
                // the store it reads must then be made as the graph says (else the run
                // diverges and the graph is dropped).
                self.force = Some(et as u32);
                self.state[et] = TState::Running;
                return Pick::Run(et as u32);
            }
            return Pick::Stuck;
        }
        // Extend: the task whose read-modify-write is half done, else the first enabled
        // task in spawn order. (Whether a task is enabled is asked last: only of a task
        // that would be picked.)
        let mut best: Option<usize> = None;
        for et in 0..n {
            let TState::Frontier { op, .. } = self.state[et] else {
                continue;
            };
            let gt = self.gt_of[et];
            let half_done = self.incomplete_rmw(gt);
            let better = half_done
                || best.is_none_or(|b| {
                    self.g.tasks[gt as usize].path < self.g.tasks[self.gt_of[b] as usize].path
                });
            if !better || !self.enabled(op) {
                continue;
            }
            best = Some(et);
            if half_done {
                break;
            }
        }
        if let Some(guide) = &self.guide {
            let Some(&(et, _)) = guide.steps.get(guide.next) else {
                return self.finish();
            };
            if !matches!(self.state.get(et as usize), Some(TState::Frontier { .. })) {
                return Pick::GuideDiverged(format!(
                    "the trace has task {et} act next, and it cannot"
                ));
            }
            best = Some(et as usize);
        }
        let Some(et) = best else {
            return self.finish();
        };
        let TState::Frontier { op, .. } = self.state[et] else {
            unreachable!()
        };
        let gt = self.gt_of[et];
        let label = self.template(op, gt);
        let added = if self.guide.is_some() {
            self.guided_extend(gt, label)
        } else {
            match label {
                Label::Read { loc, .. } => {
                    let floor = self.coherence_floor(gt, loc);
                    let part = self.write_parts.get_mut(et).and_then(Option::take);
                    // Adding a write part without running it skips the race checks a run
                    // makes at both parts: only where they cannot find one (no plain
                    // access to the location so far) - and not under imm, where the replay
                    // of a revisited graph may diverge before the write part.
                    let plain = self.access_kinds.get(loc as usize).copied().unwrap_or(0) & PLAIN;
                    let part = part.filter(|_| plain == 0 && self.search.model != MemoryModel::Imm);
                    let write_part = part.as_ref().map(|p| move |v| p.label(loc, v));
                    self.search.add_read(
                        &mut self.g,
                        gt,
                        label,
                        floor,
                        write_part
                            .as_ref()
                            .map(|f| f as &dyn Fn(u64) -> Option<Label>),
                        &self.reads_of,
                    )
                }
                Label::Write { loc, .. } => {
                    let floor = self.coherence_floor(gt, loc);
                    self.search
                        .add_write(&mut self.g, gt, label, floor, &self.reads_of)
                }
                Label::Choice { n, .. } => Added::Ok(self.search.add_choice(&mut self.g, gt, n)),
                _ => Added::Ok(self.search.add_plain(&mut self.g, gt, label)),
            }
        };
        match added {
            Added::Ok(_) => {
                self.state[et] = TState::Running;
                Pick::Run(et as u32)
            }
            Added::Dropped => {
                self.end = Some(RunEnd::Dropped);
                Pick::End
            }
        }
    }

    /// Bring happens-before up to every event replayed so far.
    fn settle_views(&mut self) {
        if self.hb_taken < self.order.len() {
            self.hb.events(&self.g, &self.order[self.hb_taken..]);
            self.hb_taken = self.order.len();
        }
    }

    /// The lowest coherence rank graph task `gt`'s next event may read from or go after at
    /// `loc` (0 the initial value, `k` the `k`-th store): the highest rank among the stores
    /// it has seen by happens-before and the stores the reads it has seen read.
    fn coherence_floor(&mut self, gt: u32, loc: u32) -> u32 {
        self.settle_views();
        let started = !self.g.tasks[gt as usize].events.is_empty();
        let v = self.hb.next_view(gt, started);
        let seen = |e: ERef| v.get(e.task as usize).is_some_and(|&n| e.idx < n);
        let co = &self.g.locs[loc as usize].co;
        let mut floor = 0u32;
        for (p, &w) in co.iter().enumerate() {
            if seen(w) {
                floor = floor.max(p as u32 + 1);
            }
        }
        if let Some(reads) = self.reads_of.get(loc as usize) {
            for &r in reads {
                if !seen(r) {
                    continue;
                }
                if let Label::Read { rf: Some(w), .. } = *self.g.label(r) {
                    if let Some(p) = co.iter().position(|&x| x == w) {
                        floor = floor.max(p as u32 + 1);
                    }
                }
            }
        }
        floor
    }

    /// No task can go on: classify the end.
    fn finish(&mut self) -> Pick {
        let mut all_done = true;
        let mut timed = false;
        for et in 0..self.state.len() {
            let gt = self.gt_of[et];
            match self.state[et] {
                TState::Finished => {}
                TState::Frontier { timed: t, .. } => {
                    timed |= t;
                    all_done &= self.g.tasks[gt as usize].daemon;
                }
                TState::Spinning => {
                    // A stale read in a spin loop: pruned, as a wait that could time out.
                    timed |= !self.spins_on_newest(et as u32);
                    all_done &= self.g.tasks[gt as usize].daemon;
                }
                _ => all_done &= self.g.tasks[gt as usize].daemon,
            }
        }
        if all_done {
            self.end = Some(RunEnd::Complete);
            Pick::Complete
        } else if timed {
            self.end = Some(RunEnd::Blocked);
            Pick::End
        } else {
            Pick::Deadlock
        }
    }

    /// Trace replay: add the event the guide names, with the option it recorded.
    fn guided_extend(&mut self, gt: u32, label: Label) -> Added {
        let guide = self.guide.as_mut().expect("guided");
        let (_, opt) = guide.steps[guide.next];
        guide.next += 1;
        match label {
            Label::Read { loc, kind, .. } => {
                let e = self.g.push(gt, label, true);
                let rf = match opt {
                    0 => None,
                    k => self.g.locs[loc as usize].co.get(k as usize - 1).copied(),
                };
                let _ = kind;
                self.g.set_rf(e, rf);
                Added::Ok(e)
            }
            Label::Write { .. } => {
                let e = self.g.push(gt, label, true);
                let loc = label.loc().expect("a write") as usize;
                let pos = (opt as usize).min(self.g.locs[loc].co.len());
                self.g.insert_co(e, pos);
                Added::Ok(e)
            }
            Label::Choice { n, .. } => Added::Ok(self.g.push(
                gt,
                Label::Choice {
                    n,
                    chosen: opt.min(n.saturating_sub(1)),
                },
                true,
            )),
            _ => Added::Ok(self.g.push(gt, label, true)),
        }
    }

    /// [`GraphRun::peek`] for a read while the run is being torn down: `None` when `l` is not
    /// a location of this run (no assertion: a panic there would abort the process).
    pub(crate) fn peek_aborting(&mut self, l: u32) -> Option<u64> {
        let gl = self.gl_of.get(l as usize).copied().unwrap_or(NONE);
        (gl != NONE).then(|| self.peek(l))
    }

    /// The newest value of engine location `l` among the stores replayed so far.
    pub(crate) fn peek(&mut self, l: u32) -> u64 {
        let gl = self.gloc(Where::Loc(l));
        let loc = &self.g.locs[gl as usize];
        for &w in loc.co.iter().rev() {
            if self.cursor[w.task as usize] > w.idx {
                return self.g.value_of(gl, Some(w));
            }
        }
        loc.init
    }

    /// The task's function returned.
    pub(crate) fn task_finished(&mut self, et: u32) {
        self.state[et as usize] = TState::Finished;
    }
}

/// What runs next in a graph run.
pub(crate) enum Pick {
    Run(u32),
    /// Every task that is not a daemon finished.
    Complete,
    /// Tasks wait forever: a deadlock.
    Deadlock,
    /// The run ends without a verdict of its own (blocked or dropped; see `end`).
    End,
    /// Replay cannot go on: a read waits for a store that waits for it.
    Stuck,
    /// A guided replay does not fit the check.
    GuideDiverged(String),
}
