//! RC11 (Lahav, Vafeiadis, Kang, Hur and Dreyer, PLDI 2017): C11 with its SeqCst semantics
//! repaired and load buffering ruled out. A graph is consistent when
//! * program order, creation and reads-from are acyclic (no load buffering);
//! * it is coherent: happens-before agrees with modification order and reads-from per
//!   location;
//! * read-modify-writes are atomic (checked for every model in the parent module);
//! * the partial SC order `psc` over SeqCst accesses and fences is acyclic.

use super::views::{coherent, hb_views, sb_views, Views};
use super::{Dense, Edges};
use crate::engine::graph::label::Label;

pub(super) fn consistent(d: &Dense<'_>) -> bool {
    let Some(order) = porf_order(d) else {
        return false;
    };
    let hb = hb_views(d, &order);
    if !coherent(d, &hb) {
        return false;
    }
    psc_acyclic(d, &hb, &sb_views(d, &order))
}

/// A topological order of program order, creation and reads-from, if they are acyclic.
pub(super) fn porf_order(d: &Dense<'_>) -> Option<Vec<u32>> {
    let mut e = Edges::new(d.n());
    super::add_po_tc(d, &mut e);
    for i in 0..d.n() {
        if let Some(w) = d.rf(i) {
            e.add(w, i);
        }
    }
    e.topo()
}

/// The context `psc` needs.
struct Psc<'a, 'g> {
    d: &'a Dense<'g>,
    hb: &'a Views,
    sb: &'a Views,
}

impl Psc<'_, '_> {
    /// The first program-order successor of `x` that does not access `x`'s location.
    fn first_other_after(&self, x: usize) -> Option<usize> {
        let e = self.d.evs[x];
        let loc = self.d.label(x).loc();
        let len = self.d.g.tasks[e.task as usize].events.len();
        let end = self.d.base[e.task as usize] + len;
        ((x + 1)..end).find(|&c| loc.is_none() || self.d.label(c).loc() != loc)
    }

    /// The last sequenced-before predecessor of `y` that does not access `y`'s location.
    fn last_other_before(&self, y: usize) -> Option<usize> {
        let e = self.d.evs[y];
        let loc = self.d.label(y).loc();
        let start = self.d.base[e.task as usize];
        (start..y)
            .rev()
            .find(|&c| loc.is_none() || self.d.label(c).loc() != loc)
            .or_else(|| self.d.g.spawn_of(e.task).map(|s| self.d.id(s)))
    }

    /// RC11's `scb`: sb ∪ (sb|≠loc; hb; sb|≠loc) ∪ hb|loc ∪ co ∪ fr.
    fn scb(&self, x: usize, y: usize) -> bool {
        let d = self.d;
        if x == y {
            return false;
        }
        if self.sb.lt(d, x, y) {
            return true;
        }
        let (lx, ly) = (d.label(x).loc(), d.label(y).loc());
        if lx.is_some() && lx == ly {
            if self.hb.lt(d, x, y) {
                return true;
            }
            let (xw, yw) = (d.label(x).is_write(), d.label(y).is_write());
            if yw && d.rank[x] < d.rank[y] {
                // co (x a write) or fr (x a read of an earlier write).
                return true;
            }
            let _ = xw;
        }
        if let (Some(c), Some(dd)) = (self.first_other_after(x), self.last_other_before(y)) {
            if c == dd || self.hb.lt(d, c, dd) {
                return true;
            }
        }
        false
    }

    /// eco (rf ∪ co ∪ fr)+ between two accesses of one location.
    fn eco(&self, x: usize, y: usize) -> bool {
        let d = self.d;
        let (lx, ly) = (d.label(x).loc(), d.label(y).loc());
        if x == y || lx.is_none() || lx != ly {
            return false;
        }
        let (xw, yw) = (d.label(x).is_write(), d.label(y).is_write());
        match (xw, yw) {
            (true, true) => d.rank[x] < d.rank[y],
            (true, false) => d.rank[x] <= d.rank[y],
            (false, true) => d.rank[x] < d.rank[y],
            (false, false) => d.rank[x] < d.rank[y],
        }
    }

    /// Every event `e` with `a` hb? `e` (for a fence `a`; just `a` otherwise).
    fn after(&self, a: usize) -> Vec<usize> {
        if !self.d.label(a).is_fence() {
            return vec![a];
        }
        (0..self.d.n())
            .filter(|&e| self.hb.le(self.d, a, e))
            .collect()
    }

    /// Every event `e` with `e` hb? `b` (for a fence `b`; just `b` otherwise).
    fn before(&self, b: usize) -> Vec<usize> {
        if !self.d.label(b).is_fence() {
            return vec![b];
        }
        (0..self.d.n())
            .filter(|&e| self.hb.le(self.d, e, b))
            .collect()
    }

    fn psc(&self, a: usize, b: usize) -> bool {
        let (fa, fb) = (self.d.label(a).is_fence(), self.d.label(b).is_fence());
        if !fa && !fb {
            return self.scb(a, b);
        }
        if fa && fb && self.hb.lt(self.d, a, b) {
            return true;
        }
        let xs = self.after(a);
        let ys = self.before(b);
        for &x in &xs {
            for &y in &ys {
                if self.scb(x, y) {
                    return true;
                }
                if fa && fb && x != a && y != b && self.eco(x, y) {
                    return true;
                }
            }
        }
        false
    }
}

fn psc_acyclic(d: &Dense<'_>, hb: &Views, sb: &Views) -> bool {
    let sc: Vec<usize> = (0..d.n()).filter(|&i| d.label(i).is_sc()).collect();
    if sc.len() < 2 {
        return true;
    }
    let p = Psc { d, hb, sb };
    let mut e = Edges::new(sc.len());
    for (i, &a) in sc.iter().enumerate() {
        for (j, &b) in sc.iter().enumerate() {
            if i != j && p.psc(a, b) {
                e.add(i, j);
            }
        }
    }
    e.acyclic()
}

/// Whether a read and a write of the same location, or two such writes, at least one of
/// them plain, race: neither happens before the other.
pub(crate) fn races(d: &Dense<'_>, hb: &Views) -> Option<(usize, usize)> {
    let plain = |i: usize| {
        matches!(
            d.label(i),
            Label::Read { ord, .. } | Label::Write { ord, .. } if !ord.is_atomic()
        )
    };
    for b in 0..d.n() {
        let Some(lb) = d.label(b).loc() else { continue };
        for a in 0..b {
            if d.evs[a].task == d.evs[b].task || d.label(a).loc() != Some(lb) {
                continue;
            }
            if !(plain(a) || plain(b)) || !(d.label(a).is_write() || d.label(b).is_write()) {
                continue;
            }
            if !hb.le(d, a, b) && !hb.le(d, b, a) {
                return Some((a, b));
            }
        }
    }
    None
}
