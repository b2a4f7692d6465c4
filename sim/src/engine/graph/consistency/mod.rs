//! Whether an execution graph is consistent under a memory model: one file per model, the
//! shared pieces (dense numbering, coherence ranks, views, acyclicity) here.
//!
//! Each check is a function of the whole graph. The search asks first what the floors of
//! the new event say (`floor`: one walk that settles most options of a graph known to be
//! SC) and calls a check only for an option the floors leave open, or on a graph not known
//! to be SC.

pub(crate) mod floor;
mod imm;
mod rc11;
mod sc;
pub(crate) mod tracker;
mod tso;
pub(crate) mod views;

use super::exec_graph::Graph;
use super::label::{ERef, Label, MemOrd};
use crate::engine::memory::MemoryModel;

/// Whether `g` is consistent under `model`.
#[cfg(test)]
pub(crate) fn consistent(model: MemoryModel, g: &Graph) -> bool {
    verdict(model, g) != Verdict::No
}

/// What a consistency check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Sequentially consistent (so consistent under every model here).
    Sc,
    /// Consistent under the model, not sequentially consistent.
    Model,
    /// Inconsistent.
    No,
}

/// Whether `g` is consistent under `model`, and whether it is because it is SC.
pub(crate) fn verdict(model: MemoryModel, g: &Graph) -> Verdict {
    if !g.atomic() {
        return Verdict::No;
    }
    let d = Dense::new(g);
    // Every model here allows every sequentially consistent execution, and the SC check is
    // the cheapest (one acyclicity test): a graph one interleaving explains needs no other.
    if sc::consistent(&d) {
        // The crate's own tests check that the model agrees.
        #[cfg(test)]
        assert!(
            model_consistent(model, &d),
            "an SC-consistent graph that {model} rejects"
        );
        return Verdict::Sc;
    }
    if model != MemoryModel::Sc && model_consistent(model, &d) {
        Verdict::Model
    } else {
        Verdict::No
    }
}

/// Whether `d` (whose read-modify-writes are atomic) is consistent under `model`.
fn model_consistent(model: MemoryModel, d: &Dense<'_>) -> bool {
    match model {
        MemoryModel::Sc => sc::consistent(d),
        MemoryModel::Tso => tso::consistent(d),
        MemoryModel::C11 => rc11::consistent(d),
        MemoryModel::Imm => imm::consistent(d),
    }
}

/// A graph with its events numbered densely (task by task, in program order), their
/// coherence ranks, and the helpers every model uses.
pub(crate) struct Dense<'g> {
    pub(crate) g: &'g Graph,
    /// The dense number of each task's first event.
    pub(crate) base: Vec<usize>,
    /// The event of each dense number.
    pub(crate) evs: Vec<ERef>,
    /// For a write: its place in its location's modification order plus one (the initial
    /// value has rank 0). For a read: the rank of the write it reads.
    pub(crate) rank: Vec<u32>,
}

impl<'g> Dense<'g> {
    pub(crate) fn new(g: &'g Graph) -> Dense<'g> {
        let mut base = Vec::with_capacity(g.tasks.len());
        let mut evs = Vec::with_capacity(g.len());
        for (t, task) in g.tasks.iter().enumerate() {
            base.push(evs.len());
            for i in 0..task.events.len() {
                evs.push(ERef {
                    task: t as u32,
                    idx: i as u32,
                });
            }
        }
        let mut rank = vec![0u32; evs.len()];
        for l in &g.locs {
            for (p, w) in l.co.iter().enumerate() {
                rank[base[w.task as usize] + w.idx as usize] = p as u32 + 1;
            }
        }
        let mut d = Dense { g, base, evs, rank };
        for i in 0..d.evs.len() {
            if let Label::Read { rf, .. } = *d.label(i) {
                d.rank[i] = rf.map_or(0, |w| d.rank[d.id(w)]);
            }
        }
        d
    }

    pub(crate) fn n(&self) -> usize {
        self.evs.len()
    }

    pub(crate) fn nt(&self) -> usize {
        self.base.len()
    }

    #[inline]
    pub(crate) fn id(&self, e: ERef) -> usize {
        self.base[e.task as usize] + e.idx as usize
    }

    #[inline]
    pub(crate) fn label(&self, i: usize) -> &Label {
        self.g.label(self.evs[i])
    }

    /// The program-order predecessor.
    #[inline]
    pub(crate) fn po_pred(&self, i: usize) -> Option<usize> {
        (self.evs[i].idx > 0).then(|| i - 1)
    }

    /// For a task's first event, the spawn that created the task.
    pub(crate) fn tc_pred(&self, i: usize) -> Option<usize> {
        let e = self.evs[i];
        if e.idx != 0 {
            return None;
        }
        self.g.spawn_of(e.task).map(|s| self.id(s))
    }

    /// The write a read reads from (`None`: the initial value, or not a read).
    #[inline]
    pub(crate) fn rf(&self, i: usize) -> Option<usize> {
        match *self.label(i) {
            Label::Read { rf: Some(w), .. } => Some(self.id(w)),
            _ => None,
        }
    }

    /// The write that comes right after `w` (or the initial value, `None`) in the
    /// modification order of `loc`.
    pub(crate) fn co_next(&self, loc: u32, w: Option<usize>) -> Option<usize> {
        let co = &self.g.locs[loc as usize].co;
        let at = w.map_or(0, |w| self.rank[w] as usize);
        co.get(at).map(|&x| self.id(x))
    }

    /// Whether event `i` is the read part of a read-modify-write (a write part follows).
    pub(crate) fn is_rmw_read(&self, i: usize) -> bool {
        self.label(i).is_read()
            && self.evs[i].idx + 1 < self.g.tasks[self.evs[i].task as usize].events.len() as u32
            && self.label(i + 1).is_rmw_write()
    }
}

/// A directed graph on `0..n` built edge by edge, for acyclicity checks: an edge list,
/// sorted into adjacency only when asked.
pub(crate) struct Edges {
    n: usize,
    edges: Vec<(u32, u32)>,
}

impl Edges {
    pub(crate) fn new(n: usize) -> Edges {
        Edges {
            n,
            edges: Vec::with_capacity(2 * n),
        }
    }

    /// Make room for nodes up to `n`.
    pub(crate) fn grow(&mut self, n: usize) {
        self.n = self.n.max(n);
    }

    #[inline]
    pub(crate) fn add(&mut self, a: usize, b: usize) {
        self.edges.push((a as u32, b as u32));
    }

    /// A topological order of the nodes, or `None` if there is a cycle.
    pub(crate) fn topo(&self) -> Option<Vec<u32>> {
        let n = self.n;
        // Successor lists in one array (counting sort by source).
        let mut start = vec![0u32; n + 1];
        let mut indeg = vec![0u32; n];
        for &(a, b) in &self.edges {
            start[a as usize + 1] += 1;
            indeg[b as usize] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut succ = vec![0u32; self.edges.len()];
        for &(a, b) in &self.edges {
            succ[fill[a as usize] as usize] = b;
            fill[a as usize] += 1;
        }
        let mut out: Vec<u32> = (0..n as u32).filter(|&i| indeg[i as usize] == 0).collect();
        let mut k = 0;
        while k < out.len() {
            let a = out[k] as usize;
            k += 1;
            for &b in &succ[start[a] as usize..start[a + 1] as usize] {
                indeg[b as usize] -= 1;
                if indeg[b as usize] == 0 {
                    out.push(b);
                }
            }
        }
        (out.len() == n).then_some(out)
    }

    pub(crate) fn acyclic(&self) -> bool {
        self.topo().is_some()
    }

    /// The edges between nodes in `lo..hi`.
    #[cfg(test)]
    pub(crate) fn edges_between(&self, lo: usize, hi: usize) -> Vec<(usize, usize)> {
        let r = lo as u32..hi as u32;
        self.edges
            .iter()
            .filter(|(a, b)| r.contains(a) && r.contains(b))
            .map(|&(a, b)| (a as usize, b as usize))
            .collect()
    }
}

/// Add the communication edges every hardware-style model has: reads-from (all, or only
/// between tasks), modification order (successive writes) and from-reads (a read to the
/// write after the one it read).
pub(crate) fn add_com(d: &Dense<'_>, e: &mut Edges, external_rf_only: bool) {
    for l in &d.g.locs {
        for w in l.co.windows(2) {
            e.add(d.id(w[0]), d.id(w[1]));
        }
    }
    for i in 0..d.n() {
        if let Label::Read { loc, rf, .. } = *d.label(i) {
            if let Some(w) = rf {
                let w = d.id(w);
                if !external_rf_only || d.evs[w].task != d.evs[i].task {
                    e.add(w, i);
                }
            }
            let w = rf.map(|w| d.id(w));
            if let Some(nx) = d.co_next(loc, w) {
                if nx != i + 1 || !d.is_rmw_read(i) {
                    e.add(i, nx);
                }
            }
        }
    }
}

/// Add edges that generate happens-before among the nodes `ev(i)` of the events: program
/// order, task creation, and synchronisation - each release head (a release write, the
/// latest release write of the location or release fence before a write) into the node
/// `rel(w)` of the write `w` whose release sequence it heads (read-modify-writes pass their
/// read's sequence on), and from there to each acquiring read, or to the first acquire
/// fence after a relaxed read. Paths between event nodes are then exactly happens-before.
pub(crate) fn add_hb_generators(
    d: &Dense<'_>,
    e: &mut Edges,
    ev: impl Fn(usize) -> usize,
    rel: impl Fn(usize) -> usize,
) {
    let n = d.n();
    for i in 0..n {
        if let Some(p) = d.po_pred(i) {
            e.add(ev(p), ev(i));
        }
        if let Some(s) = d.tc_pred(i) {
            e.add(ev(s), ev(i));
        }
    }
    for t in 0..d.nt() {
        let start = d.base[t];
        let len = d.g.tasks[t].events.len();
        let mut last_rel_fence: Option<usize> = None;
        let mut last_rel_write: Vec<(u32, usize)> = Vec::new();
        for i in start..start + len {
            match *d.label(i) {
                Label::Fence { ord } if MemOrd::Atomic(ord).is_rel() => last_rel_fence = Some(i),
                Label::Write { loc, ord, rmw, .. } if ord.is_atomic() => {
                    if ord.is_rel() {
                        e.add(ev(i), rel(i));
                    } else if let Some(&(_, w0)) = last_rel_write.iter().find(|(l, _)| *l == loc) {
                        e.add(ev(w0), rel(i));
                    }
                    if let Some(f) = last_rel_fence {
                        e.add(ev(f), rel(i));
                    }
                    if rmw {
                        if let Some(w) = d.rf(i - 1) {
                            e.add(rel(w), rel(i));
                        }
                    }
                    if ord.is_rel() {
                        match last_rel_write.iter_mut().find(|(l, _)| *l == loc) {
                            Some(x) => x.1 = i,
                            None => last_rel_write.push((loc, i)),
                        }
                    }
                }
                _ => {}
            }
        }
    }
    for i in 0..n {
        let Label::Read { ord, .. } = *d.label(i) else {
            continue;
        };
        let Some(w) = d.rf(i) else { continue };
        if !ord.is_atomic() || !d.label(w).ord().is_some_and(MemOrd::is_atomic) {
            continue;
        }
        if ord.is_acq() {
            e.add(rel(w), ev(i));
        } else {
            let t = d.evs[i].task as usize;
            let end = d.base[t] + d.g.tasks[t].events.len();
            if let Some(f) = ((i + 1)..end).find(
                |&f| matches!(*d.label(f), Label::Fence { ord } if MemOrd::Atomic(ord).is_acq()),
            ) {
                e.add(rel(w), ev(f));
            }
        }
    }
}

/// Add program order (successive events) and task creation.
pub(crate) fn add_po_tc(d: &Dense<'_>, e: &mut Edges) {
    for i in 0..d.n() {
        if let Some(p) = d.po_pred(i) {
            e.add(p, i);
        }
        if let Some(s) = d.tc_pred(i) {
            e.add(s, i);
        }
    }
}
