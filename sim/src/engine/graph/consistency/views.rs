//! Views: for every event, how many events of each task are ordered before it (or are it)
//! by some order - sequenced-before (program order and task creation) or happens-before -
//! and the coherence check that compares views with modification-order ranks.

use super::Dense;
use crate::engine::graph::exec_graph::Graph;
use crate::engine::graph::label::{ERef, Label, MemOrd};

/// One view per event, `nt` counters each, flat.
pub(crate) struct Views {
    nt: usize,
    v: Vec<u32>,
}

impl Views {
    fn zeros(n: usize, nt: usize) -> Views {
        Views {
            nt,
            v: vec![0; n * nt],
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> &[u32] {
        &self.v[i * self.nt..(i + 1) * self.nt]
    }

    #[inline]
    fn copy_from(&mut self, dst: usize, src: usize) {
        let nt = self.nt;
        self.v.copy_within(src * nt..(src + 1) * nt, dst * nt);
    }

    /// Whether `a` is ordered before `b` or is `b`.
    #[inline]
    pub(crate) fn le(&self, d: &Dense<'_>, a: usize, b: usize) -> bool {
        let e = d.evs[a];
        self.get(b)[e.task as usize] > e.idx
    }

    /// Whether `a` is ordered strictly before `b`.
    #[inline]
    pub(crate) fn lt(&self, d: &Dense<'_>, a: usize, b: usize) -> bool {
        a != b && self.le(d, a, b)
    }
}

/// Start event `i`'s view from its program-order or creation predecessor.
fn start(d: &Dense<'_>, v: &mut Views, i: usize) {
    if let Some(p) = d.po_pred(i) {
        v.copy_from(i, p);
    } else if let Some(s) = d.tc_pred(i) {
        v.copy_from(i, s);
    }
    let e = d.evs[i];
    v.v[i * v.nt + e.task as usize] = e.idx + 1;
}

/// Sequenced-before: program order and task creation. Events are numbered task by task and
/// tasks are created by earlier tasks' spawns... not necessarily earlier-numbered ones, so
/// the views are computed in `order` (any topological order of program order and creation).
pub(crate) fn sb_views(d: &Dense<'_>, order: &[u32]) -> Views {
    let mut v = Views::zeros(d.n(), d.nt());
    for &i in order {
        start(d, &mut v, i as usize);
    }
    v
}

/// Happens-before as RC11 defines it (and IMM): the closure of sequenced-before and
/// synchronises-with, where a release head (a release write, or a release fence before a
/// write) synchronises with an acquire read (or an acquire fence after a read) that reads
/// from its release sequence (later writes of the same location by the same task, and
/// read-modify-writes reading from it, transitively).
///
/// Built event by event, in any order where every event comes after its program-order and
/// creation predecessors and the store it reads (a replay order): a run keeps one to know
/// what each task has seen, the consistency check builds one per graph.
#[derive(Default)]
pub(crate) struct HbTracker {
    /// Per task: the view after its last event so far.
    view: Vec<Vec<u32>>,
    /// Saved views (what writes release, fences release, spawns pass on), back to back.
    arena: Vec<u32>,
    /// Per task, per event: the view a write releases to whoever reads from it.
    rel: Vec<Vec<Saved>>,
    /// Per task: the view of its latest release fence.
    fence_rel: Vec<Saved>,
    /// Per task: what relaxed reads read since (for a later acquire fence).
    pending_acq: Vec<Vec<u32>>,
    /// Per task: per location, the view of its latest release write there.
    write_rel: Vec<Vec<(u32, Saved)>>,
    /// Per task: the view of the spawn that created it (its first event starts there).
    start: Vec<Saved>,
    /// A buffer for the view a write releases (kept to save an allocation per write).
    scratch: Vec<u32>,
}

/// A view saved in the arena (`len` 0: none).
#[derive(Clone, Copy, Default)]
struct Saved {
    at: u32,
    len: u32,
}

fn join(dst: &mut Vec<u32>, src: &[u32]) {
    if dst.len() < src.len() {
        dst.resize(src.len(), 0);
    }
    for (a, &b) in dst.iter_mut().zip(src) {
        *a = (*a).max(b);
    }
}

impl HbTracker {
    /// A tracker with room for `events` events of `tasks` tasks (it grows past that).
    pub(crate) fn with_capacity(tasks: usize, events: usize) -> HbTracker {
        let mut t = HbTracker {
            arena: Vec::with_capacity(events * tasks.max(1)),
            ..HbTracker::default()
        };
        t.fit(tasks);
        let per_task = events / tasks.max(1) + 1;
        for r in &mut t.rel {
            r.reserve(per_task);
        }
        t
    }

    /// Forget every event, keeping the room taken (as a fresh tracker, but for capacity).
    pub(crate) fn reset(&mut self) {
        self.arena.clear();
        for v in &mut self.view {
            v.clear();
        }
        for r in &mut self.rel {
            r.clear();
        }
        self.fence_rel.fill(Saved::default());
        for p in &mut self.pending_acq {
            p.clear();
        }
        for w in &mut self.write_rel {
            w.clear();
        }
        self.start.fill(Saved::default());
    }

    fn fit(&mut self, n: usize) {
        if self.view.len() < n {
            self.view.resize_with(n, Vec::new);
            self.rel.resize_with(n, Vec::new);
            self.fence_rel.resize(n, Saved::default());
            self.pending_acq.resize_with(n, Vec::new);
            self.write_rel.resize_with(n, Vec::new);
            self.start.resize(n, Saved::default());
        }
    }

    fn save(&mut self, v: &[u32]) -> Saved {
        let at = self.arena.len() as u32;
        self.arena.extend_from_slice(v);
        Saved {
            at,
            len: v.len() as u32,
        }
    }

    fn saved(&self, s: Saved) -> &[u32] {
        &self.arena[s.at as usize..(s.at + s.len) as usize]
    }

    /// The view after task `t`'s events so far.
    pub(crate) fn view(&self, t: u32) -> &[u32] {
        self.view.get(t as usize).map_or(&[], |v| v.as_slice())
    }

    /// The view task `t`'s next event starts from (`started`: it has events already).
    pub(crate) fn next_view(&self, t: u32, started: bool) -> &[u32] {
        if started {
            self.view(t)
        } else {
            self.start.get(t as usize).map_or(&[], |&s| self.saved(s))
        }
    }

    /// Take event `e` of `g` into account.
    pub(crate) fn event(&mut self, g: &Graph, e: ERef) {
        self.fit(g.tasks.len());
        let t = e.task as usize;
        if e.idx == 0 {
            let s = std::mem::take(&mut self.start[t]);
            let mut v = std::mem::take(&mut self.view[t]);
            v.clear();
            v.extend_from_slice(self.saved(s));
            self.view[t] = v;
        }
        let nt = g.tasks.len();
        if self.view[t].len() < nt {
            self.view[t].resize(nt, 0);
        }
        self.view[t][t] = e.idx + 1;
        let mut rel_out = Saved::default();
        match *g.label(e) {
            Label::Read { ord, rf, .. } => {
                if let (true, Some(w)) = (ord.is_atomic(), rf) {
                    let r = self.rel[w.task as usize]
                        .get(w.idx as usize)
                        .copied()
                        .unwrap_or_default();
                    if r.len > 0 {
                        let (arena, view, pending) =
                            (&self.arena, &mut self.view[t], &mut self.pending_acq[t]);
                        let src = &arena[r.at as usize..(r.at + r.len) as usize];
                        if ord.is_acq() {
                            join(view, src);
                        } else {
                            join(pending, src);
                        }
                    }
                }
            }
            Label::Fence { ord } => {
                let ord = MemOrd::Atomic(ord);
                if ord.is_acq() {
                    let p = std::mem::take(&mut self.pending_acq[t]);
                    join(&mut self.view[t], &p);
                    self.pending_acq[t] = p;
                }
                if ord.is_rel() {
                    let v = std::mem::take(&mut self.view[t]);
                    self.fence_rel[t] = self.save(&v);
                    self.view[t] = v;
                }
            }
            Label::Write { loc, ord, rmw, .. } if ord.is_atomic() => {
                // The head of the write's release sequence: the write itself when it is a
                // release (its view saved, as the task's latest release write here), else
                // the task's latest release write of the location.
                let head = if ord.is_rel() {
                    let v = std::mem::take(&mut self.view[t]);
                    let s = self.save(&v);
                    self.view[t] = v;
                    match self.write_rel[t].iter_mut().find(|(l, _)| *l == loc) {
                        Some(x) => x.1 = s,
                        None => self.write_rel[t].push((loc, s)),
                    }
                    s
                } else {
                    self.write_rel[t]
                        .iter()
                        .find(|(l, _)| *l == loc)
                        .map_or(Saved::default(), |&(_, s)| s)
                };
                let f = self.fence_rel[t];
                // What a read-modify-write passes on from the write its read part read (and
                // whether its read part acquired that already).
                let (src, acquired) = if rmw {
                    match *g.label(ERef {
                        task: e.task,
                        idx: e.idx - 1,
                    }) {
                        Label::Read {
                            rf: Some(w), ord, ..
                        } => (
                            self.rel[w.task as usize]
                                .get(w.idx as usize)
                                .copied()
                                .unwrap_or_default(),
                            ord.is_acq(),
                        ),
                        _ => (Saved::default(), false),
                    }
                } else {
                    (Saved::default(), false)
                };
                // A release write's head is the task's view now, which holds its release
                // fences' views (views only grow) and, when the read part acquired, what
                // the read part read.
                let fence_in_head = f.len == 0 || ord.is_rel();
                let src_in_head = src.len == 0 || (ord.is_rel() && acquired);
                rel_out = if fence_in_head && src_in_head {
                    // The head alone (the common case: every SeqCst store and
                    // read-modify-write): saved once.
                    head
                } else {
                    let mut r = std::mem::take(&mut self.scratch);
                    r.clear();
                    join(&mut r, self.saved(head));
                    join(&mut r, self.saved(f));
                    join(&mut r, self.saved(src));
                    let out = self.save(&r);
                    self.scratch = r;
                    out
                };
            }
            Label::Write { .. } => {}
            Label::Spawn { child } => {
                self.fit(child as usize + 1);
                let v = std::mem::take(&mut self.view[t]);
                self.start[child as usize] = self.save(&v);
                self.view[t] = v;
            }
            Label::Choice { .. } => {}
        }
        let rel = &mut self.rel[t];
        if rel.len() <= e.idx as usize {
            rel.resize(e.idx as usize + 1, Saved::default());
        }
        rel[e.idx as usize] = rel_out;
    }
}

/// Happens-before views of every event of `d` ([`HbTracker`]), computed in `order` (a
/// topological order of program order, creation and reads-from).
pub(crate) fn hb_views(d: &Dense<'_>, order: &[u32]) -> Views {
    let nt = d.nt();
    let mut v = Views::zeros(d.n(), nt);
    let mut tr = HbTracker::with_capacity(nt, d.n());
    for &i in order {
        let i = i as usize;
        let e = d.evs[i];
        tr.event(d.g, e);
        let src = tr.view(e.task);
        let dst = &mut v.v[i * nt..(i + 1) * nt];
        dst[..src.len()].copy_from_slice(src);
    }
    v
}

/// Coherence: for every location, `before` (a view order: happens-before, or
/// sequenced-before) is consistent with modification order and reads-from - a write ordered
/// before another is earlier in modification order, a read ordered before a write reads an
/// earlier write, a write ordered before a read is not newer than what the read reads, and
/// two ordered reads read in modification order.
pub(crate) fn coherent(d: &Dense<'_>, before: &Views) -> bool {
    // Every access as (location, task, index, write, rank), sorted: per location and task,
    // the accesses in program order, with running maxima of the write and read ranks.
    // Dense numbers run task by task in program order, so a stable counting sort by location
    // gives that order.
    let nlocs = d.g.locs.len();
    let mut start = vec![0u32; nlocs + 1];
    let mut accesses = 0;
    for i in 0..d.n() {
        if let Some(loc) = d.label(i).loc() {
            start[loc as usize + 1] += 1;
            accesses += 1;
        }
    }
    if accesses < 2 {
        return true;
    }
    for l in 0..nlocs {
        start[l + 1] += start[l];
    }
    let mut acc: Vec<(u32, u32, u32, bool, u32)> = vec![(0, 0, 0, false, 0); accesses];
    for i in 0..d.n() {
        let (loc, is_w) = match *d.label(i) {
            Label::Read { loc, .. } => (loc, false),
            Label::Write { loc, .. } => (loc, true),
            _ => continue,
        };
        let e = d.evs[i];
        let at = &mut start[loc as usize];
        acc[*at as usize] = (loc, e.task, e.idx, is_w, d.rank[i]);
        *at += 1;
    }
    debug_assert!(
        acc.windows(2).all(|w| w[0] <= w[1]),
        "sorted by location, task, index"
    );
    // maxima[k]: the highest write and read rank among acc[start of its (loc, task)..=k].
    let mut maxima: Vec<(u32, u32)> = Vec::with_capacity(acc.len());
    for k in 0..acc.len() {
        let (loc, task, _, w, r) = acc[k];
        let (mut mw, mut mr) = match k.checked_sub(1) {
            Some(p) if acc[p].0 == loc && acc[p].1 == task => maxima[p],
            _ => (0, 0),
        };
        if w {
            mw = mw.max(r);
        } else {
            mr = mr.max(r);
        }
        maxima.push((mw, mr));
    }
    // Per location, the (task, first, end) runs of its accesses.
    let mut k = 0;
    while k < acc.len() {
        let loc = acc[k].0;
        let mut end = k;
        while end < acc.len() && acc[end].0 == loc {
            end += 1;
        }
        let mut runs: Vec<(u32, usize, usize)> = Vec::new();
        let mut a = k;
        while a < end {
            let t = acc[a].1;
            let mut b = a;
            while b < end && acc[b].1 == t {
                b += 1;
            }
            runs.push((t, a, b));
            a = b;
        }
        if runs.len() > 1 || end - k > 1 {
            for x in k..end {
                let (_, task, idx, is_w, my) = acc[x];
                let i = d.base[task as usize] + idx as usize;
                let view = before.get(i);
                for &(u, a, b) in &runs {
                    let limit = if u == task { idx } else { view[u as usize] };
                    let n = acc[a..b].partition_point(|&(_, _, j, _, _)| j < limit);
                    if n == 0 {
                        continue;
                    }
                    let (mw, mr) = maxima[a + n - 1];
                    let ok = if is_w {
                        mw < my && mr < my
                    } else {
                        mw <= my && mr <= my
                    };
                    if !ok {
                        return false;
                    }
                }
            }
        }
        k = end;
    }
    true
}
