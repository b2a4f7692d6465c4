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
    // psc first: the graphs the search rejects fail there (coherence is mostly guaranteed
    // by the floor the run computed); both must hold, in either order.
    psc_acyclic_all(d, &order, &hb) && coherent(d, &hb)
}

/// Whether the partial SC order of `d` (happens-before `hb`) is acyclic.
fn psc_acyclic_all(d: &Dense<'_>, order: &[u32], hb: &Views) -> bool {
    let sc: Vec<usize> = (0..d.n()).filter(|&i| d.label(i).is_sc()).collect();
    if sc.len() < 2 {
        return true;
    }
    if sc.iter().any(|&i| d.label(i).is_fence()) {
        psc_acyclic(d, &sc, hb, &sb_views(d, order))
    } else {
        let linear = psc_acyclic_linear(d, &sc, hb);
        // The crate's own tests check the linear form against the pairwise one.
        #[cfg(test)]
        assert_eq!(
            linear,
            psc_acyclic(d, &sc, hb, &sb_views(d, order)),
            "psc: linear and pairwise disagree"
        );
        linear
    }
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

/// psc acyclicity pair by pair (SeqCst fences need it: what they order is everything
/// happens-before them).
fn psc_acyclic(d: &Dense<'_>, sc: &[usize], hb: &Views, sb: &Views) -> bool {
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

/// psc acyclicity without SeqCst fences, in time linear in the graph (plus the SeqCst
/// accesses of each location squared): one graph holds a node per SeqCst access and a node
/// per event, so that the `sb|≠loc; hb; sb|≠loc` part of `scb` - the only part that relates
/// accesses of different locations in different tasks - is a path through the events
/// (`a` to its first other-location successor, happens-before edges, the last
/// other-location predecessor of `b` to `b`) instead of a pair to test. Happens-before is
/// given by its generating edges: program order, task creation, and synchronisation from
/// each release head through a node per release sequence to the acquiring read or fence.
fn psc_acyclic_linear(d: &Dense<'_>, sc: &[usize], hb: &Views) -> bool {
    let n = d.n();
    let k = sc.len();
    // Node numbering: SeqCst access `j` is `j`, event `i` is `k + i`, the release sequence
    // of write `i` is `k + n + i`.
    let ev = |i: usize| k + i;
    let rel = |i: usize| k + n + i;
    let mut sc_index = vec![u32::MAX; n];
    for (j, &a) in sc.iter().enumerate() {
        sc_index[a] = j as u32;
    }
    let mut e = Edges::new(k + 2 * n);
    super::add_hb_generators(d, &mut e, ev, rel);
    let p = Psc {
        d,
        hb,
        sb: hb, // unused by the helpers below
    };
    // sb|≠loc; hb; sb|≠loc through the events.
    for (j, &a) in sc.iter().enumerate() {
        if let Some(c) = p.first_other_after(a) {
            e.add(j, ev(c));
        }
        if let Some(dd) = p.last_other_before(a) {
            e.add(ev(dd), j);
        }
    }
    // sb between SeqCst accesses: each to the next in its task, and a task's first to the
    // last one before its creation.
    for t in 0..d.nt() {
        let start = d.base[t];
        let len = d.g.tasks[t].events.len();
        let mut prev: Option<usize> = None;
        for i in start..start + len {
            if sc_index[i] == u32::MAX {
                continue;
            }
            match prev {
                Some(p) => e.add(sc_index[p] as usize, sc_index[i] as usize),
                None => {
                    // The last SeqCst access before the spawn chain.
                    let mut at = d.g.spawn_of(t as u32);
                    while let Some(s) = at {
                        let s_id = d.id(s);
                        let base = d.base[s.task as usize];
                        if let Some(q) = (base..s_id).rev().find(|&q| sc_index[q] != u32::MAX) {
                            e.add(sc_index[q] as usize, sc_index[i] as usize);
                            break;
                        }
                        at = d.g.spawn_of(s.task);
                    }
                }
            }
            prev = Some(i);
        }
    }
    // Per location: hb|loc, co and fr between its SeqCst accesses.
    let mut by_loc: Vec<Vec<usize>> = vec![Vec::new(); d.g.locs.len()];
    for &a in sc {
        if let Some(l) = d.label(a).loc() {
            by_loc[l as usize].push(a);
        }
    }
    // Each pair need not be an edge: a set of edges whose paths (with the sb chains above)
    // give the same order is enough, and keeps this linear in the accesses.
    let mut writes: Vec<(u32, usize)> = Vec::new();
    let mut runs: Vec<(u32, usize, usize)> = Vec::new();
    for accs in &by_loc {
        if accs.len() < 2 {
            continue;
        }
        // co and fr (y a write of a higher rank than x): each access to the SeqCst write of
        // the next higher rank; the writes chain on from there.
        writes.clear();
        writes.extend(
            accs.iter()
                .filter(|&&x| d.label(x).is_write())
                .map(|&x| (d.rank[x], x)),
        );
        writes.sort_unstable();
        for &x in accs {
            let at = writes.partition_point(|&(r, _)| r <= d.rank[x]);
            if let Some(&(_, y)) = writes.get(at) {
                e.add(sc_index[x] as usize, sc_index[y] as usize);
            }
        }
        // hb|loc: to each access y, from the last access of each task that happens before
        // it (the earlier ones reach it along their task's sb chain). `accs` is in dense
        // order: each task's accesses together, in program order.
        runs.clear();
        let mut a = 0;
        while a < accs.len() {
            let t = d.evs[accs[a]].task;
            let mut b = a;
            while b < accs.len() && d.evs[accs[b]].task == t {
                b += 1;
            }
            runs.push((t, a, b));
            a = b;
        }
        for &y in accs {
            let ey = d.evs[y];
            let view = hb.get(y);
            for &(u, a, b) in &runs {
                let limit = if u == ey.task {
                    ey.idx
                } else {
                    view[u as usize]
                };
                let n = accs[a..b].partition_point(|&x| d.evs[x].idx < limit);
                if n > 0 {
                    let x = accs[a + n - 1];
                    e.add(sc_index[x] as usize, sc_index[y] as usize);
                }
            }
        }
    }
    e.acyclic()
}
