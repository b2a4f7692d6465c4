//! Views: for every event, how many events of each task are ordered before it (or are it)
//! by some order - sequenced-before (program order and task creation) or happens-before -
//! and the coherence check that compares views with modification-order ranks.

use super::Dense;
use crate::engine::graph::label::{Label, MemOrd};

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
    fn join_into(&mut self, dst: usize, src: &[u32]) {
        let d = &mut self.v[dst * self.nt..(dst + 1) * self.nt];
        for (a, &b) in d.iter_mut().zip(src) {
            if b > *a {
                *a = b;
            }
        }
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

/// Happens-before as RC11 defines it (and IMM, for the views the search needs): the
/// closure of sequenced-before and synchronises-with, where a release head (a release
/// write, or a release fence before a write) synchronises with an acquire read (or an
/// acquire fence after a read) that reads from its release sequence (later writes of the
/// same location by the same task, and read-modify-writes reading from it, transitively).
/// `order` is a topological order of program order, creation and reads-from.
pub(crate) fn hb_views(d: &Dense<'_>, order: &[u32]) -> Views {
    let nt = d.nt();
    let mut v = Views::zeros(d.n(), nt);
    // The view a write releases to whoever reads from it (empty: none).
    let mut rel: Vec<Option<Box<[u32]>>> = vec![None; d.n()];
    // Per task: the view of its latest release fence; what relaxed reads read since (for a
    // later acquire fence); per (task, location) the view of its latest release write.
    let mut fence_rel: Vec<Option<Box<[u32]>>> = vec![None; nt];
    let mut pending_acq: Vec<Vec<u32>> = vec![vec![0; nt]; nt];
    let mut write_rel: Vec<std::collections::BTreeMap<u32, Box<[u32]>>> =
        vec![Default::default(); nt];
    for &i in order {
        let i = i as usize;
        start(d, &mut v, i);
        let t = d.evs[i].task as usize;
        match *d.label(i) {
            Label::Read { ord, rf, .. } => {
                if let (true, Some(w)) = (ord.is_atomic(), rf) {
                    let w = d.id(w);
                    if let Some(r) = rel[w].take() {
                        if ord.is_acq() {
                            v.join_into(i, &r);
                        } else {
                            for (a, &b) in pending_acq[t].iter_mut().zip(r.iter()) {
                                *a = (*a).max(b);
                            }
                        }
                        rel[w] = Some(r);
                    }
                }
            }
            Label::Fence { ord } => {
                let ord = MemOrd::Atomic(ord);
                if ord.is_acq() {
                    let p = std::mem::take(&mut pending_acq[t]);
                    v.join_into(i, &p);
                    pending_acq[t] = p;
                }
                if ord.is_rel() {
                    fence_rel[t] = Some(v.get(i).into());
                }
            }
            Label::Write { loc, ord, rmw, .. } => {
                if ord.is_atomic() {
                    let mut r: Option<Vec<u32>> = None;
                    let mut add = |src: &[u32]| match r {
                        Some(ref mut r) => {
                            for (a, &b) in r.iter_mut().zip(src) {
                                *a = (*a).max(b);
                            }
                        }
                        None => r = Some(src.to_vec()),
                    };
                    if ord.is_rel() {
                        add(v.get(i));
                        write_rel[t].insert(loc, v.get(i).into());
                    } else if let Some(w) = write_rel[t].get(&loc) {
                        add(w);
                    }
                    if let Some(f) = &fence_rel[t] {
                        add(f);
                    }
                    if rmw {
                        if let Some(w) = d.rf(i - 1) {
                            if let Some(src) = &rel[w] {
                                add(src);
                            }
                        }
                    }
                    rel[i] = r.map(Vec::into_boxed_slice);
                }
            }
            Label::Choice { .. } | Label::Spawn { .. } => {}
        }
    }
    v
}

/// Coherence: for every location, `before` (a view order: happens-before, or
/// sequenced-before) is consistent with modification order and reads-from - a write ordered
/// before another is earlier in modification order, a read ordered before a write reads an
/// earlier write, a write ordered before a read is not newer than what the read reads, and
/// two ordered reads read in modification order.
pub(crate) fn coherent(d: &Dense<'_>, before: &Views) -> bool {
    let nl = d.g.locs.len();
    let nt = d.nt();
    // Per location, per task: (index, the highest write rank, the highest read rank among
    // the task's accesses of the location up to and including this one).
    let mut acc: Vec<Vec<Vec<(u32, u32, u32)>>> = vec![vec![Vec::new(); nt]; nl];
    for i in 0..d.n() {
        let (loc, is_w) = match *d.label(i) {
            Label::Read { loc, .. } => (loc, false),
            Label::Write { loc, .. } => (loc, true),
            _ => continue,
        };
        let e = d.evs[i];
        let list = &mut acc[loc as usize][e.task as usize];
        let (mut mw, mut mr) = list.last().map_or((0, 0), |&(_, w, r)| (w, r));
        if is_w {
            mw = mw.max(d.rank[i]);
        } else {
            mr = mr.max(d.rank[i]);
        }
        list.push((e.idx, mw, mr));
    }
    for i in 0..d.n() {
        let (loc, is_w) = match *d.label(i) {
            Label::Read { loc, .. } => (loc, false),
            Label::Write { loc, .. } => (loc, true),
            _ => continue,
        };
        let e = d.evs[i];
        let view = before.get(i);
        let my = d.rank[i];
        for (u, list) in acc[loc as usize].iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            let limit = if u == e.task as usize { e.idx } else { view[u] };
            let k = list.partition_point(|&(idx, _, _)| idx < limit);
            if k == 0 {
                continue;
            }
            let (_, mw, mr) = list[k - 1];
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
    true
}
