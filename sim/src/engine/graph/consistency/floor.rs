//! What the options of a graph's newest event are worth, computed once for all of them
//! instead of checking each alternative graph whole.
//!
//! Take a sequentially consistent graph and add one event `e` (a read, or a write) that
//! nothing follows. A cycle of the new graph must pass through `e`, and the only edges
//! leaving `e` go to the stores of its location that come after what it reads (from-reads)
//! or after its own place (modification order). So `e` closes a cycle exactly when one of
//! those stores reaches an event sequenced before `e`: with `B` the events that reach `e`'s
//! sequenced-before predecessors (program order, task creation, reads-from, modification
//! order and from-reads, backwards), `B` holds a prefix of the location's modification
//! order, and every option at or after its end is SC-consistent, every option before it
//! is not.
//!
//! The same walk over RC11's partial SC order (`psc`) rejects for `c11` too: between
//! SeqCst accesses, sequenced-before, reads-from (a SeqCst store read by a SeqCst load
//! synchronises), modification order and from-reads are all `psc` edges. If a SeqCst store
//! of the location reaches a SeqCst predecessor of a SeqCst `e` through SeqCst accesses
//! only, `e` reading before that store (or being placed before it) closes a `psc` cycle.

use super::super::exec_graph::Graph;
use super::super::label::{ERef, Label};

/// Where the newest event's options start to be consistent, as coherence ranks (0 the
/// initial value, `k` the `k`-th store of the location, not counting the event itself):
/// the SC floor at once, the `psc` floor when first asked for.
pub(crate) struct Floors<'a> {
    /// The graph, the event and the reads (all `Reads` holds).
    reads: Reads<'a>,
    room: FloorRoom,
    sc: u32,
    psc: Option<u32>,
}

/// The tables a computation of floors uses, kept from one to the next (a search computes
/// a few per run).
#[derive(Default)]
pub(crate) struct FloorRoom {
    view: Vec<u32>,
    work: Vec<(u32, u32, u32)>,
    expanded: Vec<u32>,
}

impl<'a> Floors<'a> {
    /// The floors of `e`, the newest event of `g` (a read or a write; a write already
    /// placed last in its location's modification order), computed in `room`.
    ///
    /// `reads`: per location, reads of it: a run's replayed reads, which may include reads
    /// `g` no longer has (`g` restricted for a revisit; they are skipped) and may lack one
    /// it has: the read part of a read-modify-write whose write part the search added
    /// with it before the run replayed either. That read is still reached where it
    /// matters: a from-read into a store after the write part passes the write part, and
    /// the write part's program order takes its read part in - except in the `psc` walk
    /// when the write part is not SeqCst, where missing it can only lower the `psc` floor
    /// (fewer rejections, which the whole check then makes).
    pub(crate) fn new(
        g: &'a Graph,
        e: ERef,
        reads: &'a [Vec<ERef>],
        mut room: FloorRoom,
    ) -> Floors<'a> {
        let reads = Reads { g, e, of: reads };
        let sc = reach(&reads, &mut room, false);
        Floors {
            reads,
            room,
            sc,
            psc: None,
        }
    }

    /// The tables, for the next computation.
    pub(crate) fn into_room(self) -> FloorRoom {
        self.room
    }

    /// Reading a store of rank `k`, or being placed right after it, is SC-consistent iff
    /// `k >= sc()` (given that the graph without the event is SC-consistent).
    pub(crate) fn sc(&self) -> u32 {
        self.sc
    }

    /// For a SeqCst event: reading a store of rank `k < psc()`, or being placed before the
    /// `psc()`-th store, closes a `psc` cycle (RC11-inconsistent).
    pub(crate) fn psc(&mut self) -> u32 {
        if let Some(p) = self.psc {
            return p;
        }
        let p = reach(&self.reads, &mut self.room, true);
        self.psc = Some(p);
        p
    }
}

/// The reads of a graph but its newest event, by location.
#[derive(Clone, Copy)]
struct Reads<'a> {
    g: &'a Graph,
    e: ERef,
    of: &'a [Vec<ERef>],
}

impl Reads<'_> {
    fn of(&self, loc: u32) -> impl Iterator<Item = ERef> + '_ {
        let g = self.g;
        let e = self.e;
        self.of
            .get(loc as usize)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .copied()
            .filter(move |&r| {
                r != e
                    && g.tasks
                        .get(r.task as usize)
                        .is_some_and(|t| r.idx < t.events.len() as u32)
            })
    }
}

/// The backward closure from `e`'s sequenced-before predecessors (over SeqCst accesses
/// only, with `psc`), as a prefix length per task; returns the highest rank of a store of
/// `e`'s location in it (SeqCst stores only, with `psc`).
fn reach(reads: &Reads<'_>, room: &mut FloorRoom, psc: bool) -> u32 {
    let (g, e) = (reads.g, reads.e);
    let loc = g.label(e).loc().expect("a memory access");
    let mut c = Closure {
        g,
        psc,
        view: std::mem::take(&mut room.view),
        work: std::mem::take(&mut room.work),
        expanded: std::mem::take(&mut room.expanded),
    };
    c.view.clear();
    c.view.resize(g.tasks.len(), 0);
    c.work.clear();
    c.expanded.clear();
    c.expanded.resize(g.locs.len(), 0);
    c.raise(e.task, e.idx);
    if e.idx == 0 {
        if let Some(s) = g.spawn_of(e.task) {
            c.raise(s.task, s.idx + 1);
        }
    }
    while let Some((t, from, to)) = c.work.pop() {
        if from == 0 && to > 0 {
            if let Some(s) = g.spawn_of(t) {
                c.raise(s.task, s.idx + 1);
            }
        }
        for i in from..to {
            let x = ERef { task: t, idx: i };
            let label = *g.label(x);
            if psc && !label.is_sc() {
                continue;
            }
            match label {
                Label::Read { rf: Some(w), .. } if !psc || g.label(w).is_sc() => {
                    c.raise(w.task, w.idx + 1);
                }
                Label::Write { loc: l, .. } => {
                    let k = g.rank(Some(x));
                    c.expand(l, k, reads);
                }
                _ => {}
            }
        }
    }
    let mut floor = 0;
    for (p, &w) in g.locs[loc as usize].co.iter().enumerate() {
        if w != e && w.idx < c.view[w.task as usize] && (!psc || g.label(w).is_sc()) {
            floor = p as u32 + 1;
        }
    }
    (room.view, room.work, room.expanded) = (c.view, c.work, c.expanded);
    floor
}

struct Closure<'g> {
    g: &'g Graph,
    psc: bool,
    /// Per task: how many of its first events are in the closure.
    view: Vec<u32>,
    /// Events taken in whose edges are still to follow: a task and a range of its events.
    work: Vec<(u32, u32, u32)>,
    /// Per location: the rank up to which the stores before it and their reads are in.
    expanded: Vec<u32>,
}

impl Closure<'_> {
    /// Take in task `t`'s first `len` events.
    fn raise(&mut self, t: u32, len: u32) {
        let have = self.view[t as usize];
        if len > have {
            self.view[t as usize] = len;
            self.work.push((t, have, len));
        }
    }

    /// A store of rank `k` at `loc` is in: so are the stores before it (modification
    /// order) and the reads of those (from-reads) - SeqCst ones only, with `psc`.
    fn expand(&mut self, loc: u32, k: u32, reads: &Reads<'_>) {
        let done = self.expanded[loc as usize];
        if k <= done {
            return;
        }
        self.expanded[loc as usize] = k;
        let g = self.g;
        let co = &g.locs[loc as usize].co;
        for &w in &co[done.saturating_sub(1) as usize..(k - 1) as usize] {
            if !self.psc || g.label(w).is_sc() {
                self.raise(w.task, w.idx + 1);
            }
        }
        for r in reads.of(loc) {
            let Label::Read { rf, .. } = *g.label(r) else {
                continue;
            };
            if self.psc && !g.label(r).is_sc() {
                continue;
            }
            let rank = g.rank(rf);
            if rank < k && rank >= done {
                self.raise(r.task, r.idx + 1);
            }
        }
    }
}
