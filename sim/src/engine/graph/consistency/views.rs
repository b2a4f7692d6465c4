//! Views: for every event, how many events of each task are ordered before it (or are it)
//! by some order - sequenced-before (program order and task creation) or happens-before -
//! and the coherence check that compares views with modification-order ranks.

use super::tracker::HbTracker;
use super::Dense;
use crate::engine::graph::label::Label;

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
        let n = src.len().min(nt);
        v.v[i * nt..i * nt + n].copy_from_slice(&src[..n]);
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
