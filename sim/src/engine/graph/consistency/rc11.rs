//! RC11 (Lahav, Vafeiadis, Kang, Hur and Dreyer, PLDI 2017): C11 with its SeqCst semantics
//! repaired and load buffering ruled out. A graph is consistent when
//! * program order, creation and reads-from are acyclic (no load buffering);
//! * it is coherent: happens-before agrees with modification order and reads-from per
//!   location;
//! * read-modify-writes are atomic (checked for every model in the parent module);
//! * the partial SC order `psc` over SeqCst accesses and fences is acyclic.

use super::views::{coherent, hb_views, sb_views, Views};
use super::{Dense, Edges};

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

/// The context `psc` needs, with what it asks of each SeqCst event computed once.
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

    /// RC11's `scb`: sb ∪ (sb|≠loc; hb; sb|≠loc) ∪ hb|loc ∪ co ∪ fr, given `x`'s first
    /// other-location successor `cx` and `y`'s last other-location predecessor `dy`.
    fn scb_with(&self, x: usize, y: usize, cx: Option<usize>, dy: Option<usize>) -> bool {
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
            // co (x a write) or fr (x a read of an earlier write).
            if d.label(y).is_write() && d.rank[x] < d.rank[y] {
                return true;
            }
        }
        if let (Some(c), Some(dd)) = (cx, dy) {
            if c == dd || self.hb.lt(d, c, dd) {
                return true;
            }
        }
        false
    }

    fn scb(&self, x: usize, y: usize) -> bool {
        self.scb_with(x, y, self.first_other_after(x), self.last_other_before(y))
    }

    /// eco (rf ∪ co ∪ fr)+ between two accesses of one location.
    fn eco(&self, x: usize, y: usize) -> bool {
        let d = self.d;
        let (lx, ly) = (d.label(x).loc(), d.label(y).loc());
        if x == y || lx.is_none() || lx != ly {
            return false;
        }
        match (d.label(x).is_write(), d.label(y).is_write()) {
            (true, false) => d.rank[x] <= d.rank[y],
            _ => d.rank[x] < d.rank[y],
        }
    }

    /// With a fence on either side: ([F_sc]; hb?); scb; (hb?; [F_sc]), and for two fences
    /// hb ∪ hb; eco; hb too.
    fn psc_fence(&self, a: usize, b: usize) -> bool {
        let d = self.d;
        let (fa, fb) = (d.label(a).is_fence(), d.label(b).is_fence());
        if fa && fb && self.hb.lt(d, a, b) {
            return true;
        }
        let xs: Vec<usize> = if fa {
            (0..d.n()).filter(|&e| self.hb.le(d, a, e)).collect()
        } else {
            vec![a]
        };
        let ys: Vec<usize> = if fb {
            (0..d.n()).filter(|&e| self.hb.le(d, e, b)).collect()
        } else {
            vec![b]
        };
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
    let c: Vec<Option<usize>> = sc.iter().map(|&a| p.first_other_after(a)).collect();
    let dd: Vec<Option<usize>> = sc.iter().map(|&b| p.last_other_before(b)).collect();
    let mut e = Edges::new(sc.len());
    for (i, &a) in sc.iter().enumerate() {
        let fa = d.label(a).is_fence();
        for (j, &b) in sc.iter().enumerate() {
            if i == j {
                continue;
            }
            let edge = if fa || d.label(b).is_fence() {
                p.psc_fence(a, b)
            } else {
                p.scb_with(a, b, c[i], dd[j])
            };
            if edge {
                e.add(i, j);
            }
        }
    }
    e.acyclic()
}
