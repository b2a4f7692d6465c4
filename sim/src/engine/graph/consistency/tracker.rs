//! Happens-before built event by event ([`HbTracker`]): what a graph run keeps to know what
//! each task has seen, and what the consistency checks build once per graph.
//!
//! Every view is a row of `stride` counters (one per task, zero past the tasks seen), and
//! rows live in flat tables: a run replays each event of a graph again and again, and a
//! fixed width lets a view be joined or saved in a few vector operations.

use crate::engine::graph::exec_graph::Graph;
use crate::engine::graph::label::{ERef, Label, MemOrd};

/// No row (no view: nothing to join).
const NO_ROW: u32 = u32::MAX;
/// The narrowest row.
const MIN_STRIDE: usize = 8;

/// Happens-before as RC11 defines it (and IMM): the closure of sequenced-before and
/// synchronises-with, where a release head (a release write, or a release fence before a
/// write) synchronises with an acquire read (or an acquire fence after a read) that reads
/// from its release sequence (later writes of the same location by the same task, and
/// read-modify-writes reading from it, transitively).
///
/// Built event by event, in any order where every event comes after its program-order and
/// creation predecessors and the store it reads (a replay order).
#[derive(Default)]
pub(crate) struct HbTracker {
    /// Counters per row: a power of two, at least the tasks seen.
    stride: usize,
    /// The tasks seen (the length of the views handed out).
    nt: usize,
    /// Per task: the view after its last event so far (zeros before its first).
    view: Vec<u32>,
    /// Saved views (what writes release, fences release, spawns pass on), row by row.
    rows: Vec<u32>,
    /// Per task, per event: the row a write releases to whoever reads from it.
    rel: Vec<Vec<u32>>,
    /// Per task: the row of its latest release fence.
    fence_rel: Vec<u32>,
    /// Per task: what its relaxed reads read so far (for a later acquire fence), a row each.
    pending_acq: Vec<u32>,
    /// Per task: per location, the row of its latest release write there.
    write_rel: Vec<Vec<(u32, u32)>>,
    /// Per task: the row of the spawn that created it (its first event starts there).
    start: Vec<u32>,
}

/// `dst = max(dst, src)`, counter by counter (two rows of the same width).
#[inline]
fn join(dst: &mut [u32], src: &[u32]) {
    // Rows are a multiple of eight counters wide: eight at a time, which the compiler turns
    // into vector operations.
    for (a, b) in dst.chunks_exact_mut(8).zip(src.chunks_exact(8)) {
        for i in 0..8 {
            a[i] = a[i].max(b[i]);
        }
    }
}

impl HbTracker {
    /// A tracker with room for `events` events of `tasks` tasks (it grows past that).
    pub(crate) fn with_capacity(tasks: usize, events: usize) -> HbTracker {
        let mut t = HbTracker::default();
        t.fit(tasks.max(1));
        t.rows.reserve(events * t.stride);
        let per_task = events / tasks.max(1) + 1;
        for r in &mut t.rel {
            r.reserve(per_task);
        }
        t
    }

    /// Forget every event, keeping the room taken (as a fresh tracker, but for capacity).
    pub(crate) fn reset(&mut self) {
        self.nt = 0;
        self.view.fill(0);
        self.rows.clear();
        for r in &mut self.rel {
            r.clear();
        }
        self.fence_rel.fill(NO_ROW);
        self.pending_acq.fill(0);
        for w in &mut self.write_rel {
            w.clear();
        }
        self.start.fill(NO_ROW);
    }

    /// Room for `n` tasks: widen every row if `n` exceeds the stride, and grow the
    /// per-task tables.
    fn fit(&mut self, n: usize) {
        if n > self.stride {
            let wide = n.next_power_of_two().max(MIN_STRIDE);
            for table in [&mut self.view, &mut self.rows, &mut self.pending_acq] {
                *table = widen(table, self.stride, wide);
            }
            self.stride = wide;
        }
        if self.fence_rel.len() < n {
            let s = self.stride;
            self.view.resize(n * s, 0);
            self.pending_acq.resize(n * s, 0);
            self.rel.resize_with(n, Vec::new);
            self.fence_rel.resize(n, NO_ROW);
            self.write_rel.resize_with(n, Vec::new);
            self.start.resize(n, NO_ROW);
        }
        self.nt = self.nt.max(n);
    }

    /// Save task `t`'s view as a new row.
    fn save(&mut self, t: usize) -> u32 {
        let s = self.stride;
        let at = self.rows.len() / s;
        self.rows.extend_from_slice(&self.view[t * s..(t + 1) * s]);
        at as u32
    }

    fn row(&self, r: u32) -> &[u32] {
        let s = self.stride;
        &self.rows[r as usize * s..(r as usize + 1) * s]
    }

    /// The view after task `t`'s events so far.
    pub(crate) fn view(&self, t: u32) -> &[u32] {
        let t = t as usize;
        if t >= self.nt {
            return &[];
        }
        let s = self.stride;
        &self.view[t * s..t * s + self.nt]
    }

    /// The view task `t`'s next event starts from (`started`: it has events already).
    pub(crate) fn next_view(&self, t: u32, started: bool) -> &[u32] {
        if started {
            return self.view(t);
        }
        match self.start.get(t as usize) {
            Some(&r) if r != NO_ROW => &self.row(r)[..self.nt],
            _ => &[],
        }
    }

    /// Join row `r` (if any) into task `t`'s view (`acquire`) or into what it read
    /// relaxed (for a later acquire fence).
    #[inline(always)]
    fn acquire(&mut self, t: usize, r: u32, acquire: bool) {
        if r == NO_ROW {
            return;
        }
        let s = self.stride;
        let (r, t) = (r as usize * s, t * s);
        let src = &self.rows[r..r + s];
        let dst = if acquire {
            &mut self.view[t..t + s]
        } else {
            &mut self.pending_acq[t..t + s]
        };
        join(dst, src);
    }

    /// The row event `w` releases (none if it is no write, or not tracked).
    fn released(&self, w: ERef) -> u32 {
        self.rel
            .get(w.task as usize)
            .and_then(|r| r.get(w.idx as usize))
            .copied()
            .unwrap_or(NO_ROW)
    }

    /// Take events `es` of `g` into account, in order.
    pub(crate) fn events(&mut self, g: &Graph, es: &[ERef]) {
        if g.tasks.len() > self.nt {
            self.fit(g.tasks.len());
        }
        for &e in es {
            self.take(g, e);
        }
    }

    /// Take event `e` of `g` into account.
    pub(crate) fn event(&mut self, g: &Graph, e: ERef) {
        self.events(g, std::slice::from_ref(&e));
    }

    /// [`HbTracker::events`]' work for one event, once the tracker has room for `g`'s
    /// tasks.
    #[inline(always)]
    fn take(&mut self, g: &Graph, e: ERef) {
        let t = e.task as usize;
        let s = self.stride;
        if e.idx == 0 {
            let (start, vt) = (self.start[t], t * s);
            if start == NO_ROW {
                self.view[vt..vt + s].fill(0);
            } else {
                let r = start as usize * s;
                self.view[vt..vt + s].copy_from_slice(&self.rows[r..r + s]);
            }
        }
        self.view[t * s + t] = e.idx + 1;
        let mut rel_out = NO_ROW;
        match *g.label(e) {
            Label::Read { ord, rf, .. } => {
                if let (true, Some(w)) = (ord.is_atomic(), rf) {
                    let r = self.released(w);
                    self.acquire(t, r, ord.is_acq());
                }
            }
            Label::Fence { ord } => {
                let ord = MemOrd::Atomic(ord);
                if ord.is_acq() {
                    let vt = t * s;
                    let (view, pending) = (&mut self.view, &self.pending_acq);
                    join(&mut view[vt..vt + s], &pending[vt..vt + s]);
                }
                if ord.is_rel() {
                    self.fence_rel[t] = self.save(t);
                }
            }
            Label::Write { loc, ord, rmw, .. } if ord.is_atomic() => {
                // The head of the write's release sequence: the write itself when it is a
                // release (its view saved, as the task's latest release write here), else
                // the task's latest release write of the location.
                let head = if ord.is_rel() {
                    let r = self.save(t);
                    match self.write_rel[t].iter_mut().find(|(l, _)| *l == loc) {
                        Some(x) => x.1 = r,
                        None => self.write_rel[t].push((loc, r)),
                    }
                    r
                } else {
                    self.write_rel[t]
                        .iter()
                        .find(|(l, _)| *l == loc)
                        .map_or(NO_ROW, |&(_, r)| r)
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
                        } => (self.released(w), ord.is_acq()),
                        _ => (NO_ROW, false),
                    }
                } else {
                    (NO_ROW, false)
                };
                // A release write's head is the task's view now, which holds its release
                // fences' views (views only grow) and, when the read part acquired, what
                // the read part read.
                let fence_in_head = f == NO_ROW || ord.is_rel();
                let src_in_head = src == NO_ROW || (ord.is_rel() && acquired);
                rel_out = if fence_in_head && src_in_head {
                    // The head alone (the common case: every SeqCst store and
                    // read-modify-write): saved once.
                    head
                } else {
                    let out = self.rows.len();
                    self.rows.resize(out + s, 0);
                    for r in [head, f, src] {
                        if r != NO_ROW {
                            let r = r as usize * s;
                            let (done, new) = self.rows.split_at_mut(out);
                            join(new, &done[r..r + s]);
                        }
                    }
                    (out / s) as u32
                };
            }
            Label::Write { .. } => {}
            Label::Spawn { child } => {
                // The child is a task of `g`: there is room for it.
                debug_assert!((child as usize) < self.nt);
                self.start[child as usize] = self.save(t);
            }
            Label::Choice { .. } => {}
        }
        let rel = &mut self.rel[t];
        if rel.len() <= e.idx as usize {
            rel.resize(e.idx as usize + 1, NO_ROW);
        }
        rel[e.idx as usize] = rel_out;
    }
}

/// `table`'s rows of `from` counters as rows of `to` counters (zeros added at the end).
fn widen(table: &[u32], from: usize, to: usize) -> Vec<u32> {
    if from == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(table.len() / from * to);
    for row in table.chunks_exact(from) {
        out.extend_from_slice(row);
        out.resize(out.len() + to - from, 0);
    }
    out
}
