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
pub(crate) struct Floors<'g> {
    g: &'g Graph,
    e: ERef,
    room: FloorRoom,
    sc: u32,
    psc: Option<u32>,
}

/// The tables a computation of floors uses, kept from one to the next (a search computes
/// a few per run).
#[derive(Default)]
pub(crate) struct FloorRoom {
    reads: ReadsByLoc,
    view: Vec<u32>,
    work: Vec<(u32, u32, u32)>,
    expanded: Vec<u32>,
}

impl<'g> Floors<'g> {
    /// The floors of `e`, the newest event of `g` (a read or a write; a write already
    /// placed last in its location's modification order), computed in `room`.
    pub(crate) fn new(g: &'g Graph, e: ERef, mut room: FloorRoom) -> Floors<'g> {
        room.reads.fill(g, e);
        let sc = reach(g, e, &mut room, false);
        Floors {
            g,
            e,
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
        let p = reach(self.g, self.e, &mut self.room, true);
        self.psc = Some(p);
        p
    }
}

/// Every read of a graph but the newest event, grouped by location.
#[derive(Default)]
struct ReadsByLoc {
    /// Per location, where its reads start in `reads` (and, one further, end).
    start: Vec<u32>,
    fill: Vec<u32>,
    reads: Vec<ERef>,
}

impl ReadsByLoc {
    fn fill(&mut self, g: &Graph, e: ERef) {
        let each = |f: &mut dyn FnMut(u32, ERef)| {
            for (t, task) in g.tasks.iter().enumerate() {
                for (i, ev) in task.events.iter().enumerate() {
                    if let Label::Read { loc, .. } = ev.label {
                        let x = ERef {
                            task: t as u32,
                            idx: i as u32,
                        };
                        if x != e {
                            f(loc, x);
                        }
                    }
                }
            }
        };
        let n = g.locs.len();
        let start = &mut self.start;
        start.clear();
        start.resize(n + 1, 0);
        each(&mut |loc, _| start[loc as usize + 1] += 1);
        for l in 0..n {
            start[l + 1] += start[l];
        }
        self.fill.clear();
        self.fill.extend_from_slice(&start[..n]);
        self.reads.clear();
        self.reads
            .resize(start[n] as usize, ERef { task: 0, idx: 0 });
        let (fill, reads) = (&mut self.fill, &mut self.reads);
        each(&mut |loc, x| {
            reads[fill[loc as usize] as usize] = x;
            fill[loc as usize] += 1;
        });
    }

    fn of(&self, loc: u32) -> &[ERef] {
        &self.reads[self.start[loc as usize] as usize..self.start[loc as usize + 1] as usize]
    }
}

/// The coherence rank of the store `w` reads (0: the initial value).
fn rank_of(g: &Graph, loc: u32, w: Option<ERef>) -> u32 {
    w.map_or(0, |w| {
        g.locs[loc as usize]
            .co
            .iter()
            .position(|&x| x == w)
            .map_or(0, |p| p as u32 + 1)
    })
}

/// The backward closure from `e`'s sequenced-before predecessors (over SeqCst accesses
/// only, with `psc`), as a prefix length per task; returns the highest rank of a store of
/// `e`'s location in it (SeqCst stores only, with `psc`).
fn reach(g: &Graph, e: ERef, room: &mut FloorRoom, psc: bool) -> u32 {
    let loc = g.label(e).loc().expect("a memory access");
    let reads = &room.reads;
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
                    let k = rank_of(g, l, Some(x));
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
    fn expand(&mut self, loc: u32, k: u32, reads: &ReadsByLoc) {
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
        for &r in reads.of(loc) {
            let Label::Read { rf, .. } = *g.label(r) else {
                continue;
            };
            if self.psc && !g.label(r).is_sc() {
                continue;
            }
            let rank = rank_of(g, loc, rf);
            if rank < k && rank >= done {
                self.raise(r.task, r.idx + 1);
            }
        }
    }
}
