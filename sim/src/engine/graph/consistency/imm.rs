//! IMM (Podkopaev, Lahav and Vafeiadis, POPL 2019): the intermediate hardware model that
//! ARMv8 and POWER implement, which allows load buffering but not out-of-thin-air values.
//! A graph is consistent when
//! * it is coherent (happens-before agrees with modification order, per location);
//! * read-modify-writes are atomic (checked for every model in the parent module);
//! * `ar` is acyclic: external reads-from, barrier order (`bob`: acquire reads before what
//!   follows, release writes after what precedes, fences both ways), the read part of a
//!   read-modify-write before its write part, detours (a write, then a read of the same
//!   location in the same task that reads another task's later write) and the partial SC
//!   order over SeqCst fences.
//!
//! SeqCst accesses are mapped as IMM's compilation scheme does and as ARMv8's `LDAR`/`STLR`
//! behave: an acquire load or release store with a SeqCst fence just before it.
//!
//! Limitation: the simulator does not see data, address or control dependencies (values
//! flow through the check's own Rust code), so the preserved program order `ppo` of IMM is
//! taken to contain no dependencies; the search re-executes every revisited task and drops
//! a graph whose events change with the values they read, so a value never depends on
//! itself, but two outcomes that IMM separates by a dependency alone are not told apart.

use super::rc11::porf_order;
use super::views::{coherent, hb_views};
use super::{Dense, Edges};
use crate::engine::graph::label::{Label, MemOrd};

/// Whether event `i` acts as a SeqCst fence (a fence, or a SeqCst access's leading fence).
fn sc_point(d: &Dense<'_>, i: usize) -> bool {
    d.label(i).is_sc()
}

/// Whether event `i` orders everything before and after it (a fence of any strength, a
/// spawn).
fn full_fence(d: &Dense<'_>, i: usize) -> bool {
    matches!(d.label(i), Label::Fence { .. } | Label::Spawn { .. })
}

pub(super) fn consistent(d: &Dense<'_>) -> bool {
    // Views need an order in which every read comes after what it reads; with load
    // buffering there may be none, then program order and creation order the views and
    // synchronisation is taken along reads-from edges that go forward in it.
    let order = match porf_order(d) {
        Some(o) => o,
        None => {
            let mut po = Edges::new(d.n());
            super::add_po_tc(d, &mut po);
            match po.topo() {
                Some(o) => o,
                None => return false,
            }
        }
    };
    let hb = hb_views(d, &order);
    if !coherent(d, &hb) {
        return false;
    }
    let mut ar = Edges::new(d.n());
    for t in 0..d.nt() {
        let start = d.base[t];
        let len = d.g.tasks[t].events.len();
        // bob, kept small: an event follows the latest earlier acquire read or fence (and
        // SC point); a release write or fence follows its predecessor, and through it all.
        let mut last_acq: Option<usize> = None;
        // The latest event ordered after everything before it.
        let mut last_point: Option<usize> = None;
        for i in start..start + len {
            let l = *d.label(i);
            let ord = l.ord().unwrap_or(MemOrd::Plain);
            if let Some(p) = last_acq {
                ar.add(p, i);
            }
            let orders_before =
                full_fence(d, i) || sc_point(d, i) || (l.is_write() && ord.is_rel());
            if orders_before {
                // Everything before: what came since the latest such point, and through
                // that point all that came before it.
                for p in last_point.unwrap_or(start)..i {
                    ar.add(p, i);
                }
                last_point = Some(i);
            }
            if full_fence(d, i) || (l.is_read() && ord.is_acq()) || sc_point(d, i) && !l.is_write()
            {
                last_acq = Some(i);
            }
            if l.is_rmw_write() {
                ar.add(i - 1, i);
            }
        }
        if let Some(s) = d.g.spawn_of(t as u32) {
            if len > 0 {
                ar.add(d.id(s), start);
            }
        }
    }
    for i in 0..d.n() {
        let Label::Read {
            loc, rf: Some(w), ..
        } = *d.label(i)
        else {
            continue;
        };
        let w = d.id(w);
        if d.evs[w].task == d.evs[i].task {
            continue;
        }
        // External reads-from.
        ar.add(w, i);
        // Detour: an earlier write of this task to the location, before `w` in
        // modification order.
        let start = d.base[d.evs[i].task as usize];
        for p in start..i {
            if let Label::Write { loc: l2, .. } = *d.label(p) {
                if l2 == loc && d.rank[p] < d.rank[w] {
                    ar.add(p, i);
                }
            }
        }
    }
    add_psc_f(d, &mut ar);
    let ok = ar.acyclic();
    #[cfg(test)]
    {
        // The crate's tests check the linear psc_F against the pairwise one.
        let mut pair = Edges::new(d.n());
        for (a, b) in ar.edges_between(0, d.n()) {
            pair.add(a, b);
        }
        add_psc_f_pairwise(d, &hb, &mut pair);
        assert_eq!(
            ok,
            pair.acyclic(),
            "imm psc_F: linear and pairwise disagree"
        );
    }
    ok
}

/// psc_F = [F_sc]; (hb ∪ hb; eco; hb); [F_sc], with a SeqCst access standing for the fence
/// right before it, as paths through three copies of the events: happens-before before eco,
/// eco itself, happens-before after it (each copy given by its generating edges), entered
/// from each SeqCst point and left into the SeqCst point it reaches. Linear in the graph.
fn add_psc_f(d: &Dense<'_>, ar: &mut Edges) {
    let n = d.n();
    let sc: Vec<usize> = (0..n).filter(|&i| sc_point(d, i)).collect();
    if sc.len() < 2 {
        return;
    }
    // Layers after the ar nodes 0..n: hb-before-eco (events, release sequences), eco,
    // hb-after-eco (events, release sequences).
    let a_ev = |i: usize| n + i;
    let a_rel = |i: usize| 2 * n + i;
    let e_ev = |i: usize| 3 * n + i;
    let b_ev = |i: usize| 4 * n + i;
    let b_rel = |i: usize| 5 * n + i;
    ar.grow(6 * n);
    super::add_hb_generators(d, ar, a_ev, a_rel);
    super::add_hb_generators(d, ar, b_ev, b_rel);
    for i in 0..n {
        // hb alone, or into eco and out of it.
        ar.add(a_ev(i), b_ev(i));
        if let Some(loc) = d.label(i).loc() {
            ar.add(a_ev(i), e_ev(i));
            ar.add(e_ev(i), b_ev(i));
            // eco's generators: rf, co, fr.
            if let Label::Read { rf, .. } = *d.label(i) {
                if let Some(w) = rf {
                    ar.add(e_ev(d.id(w)), e_ev(i));
                }
                if let Some(nx) = d.co_next(loc, rf.map(|w| d.id(w))) {
                    ar.add(e_ev(i), e_ev(nx));
                }
            } else if let Some(nx) = d.co_next(loc, Some(i)) {
                ar.add(e_ev(i), e_ev(nx));
            }
        }
    }
    for &a in &sc {
        // In: a SeqCst access is after its own fence; a fence is where it is.
        ar.add(a, a_ev(a));
        // Out: what happens strictly before b's fence - up to b's predecessor (or its
        // task's creation), and for a fence b what synchronises into it (the release
        // sequences of what relaxed reads before it read).
        if let Some(p) = d.po_pred(a).or_else(|| d.tc_pred(a)) {
            ar.add(b_ev(p), a);
        }
        if d.label(a).is_fence() {
            let start = d.base[d.evs[a].task as usize];
            for r in start..a {
                if let Label::Read { ord, .. } = *d.label(r) {
                    if let Some(w) = d.rf(r) {
                        if ord.is_atomic() && d.label(w).ord().is_some_and(MemOrd::is_atomic) {
                            ar.add(b_rel(w), a);
                        }
                    }
                }
            }
        }
    }
}

/// eco between two accesses of one location.
#[cfg(test)]
fn eco(d: &Dense<'_>, x: usize, y: usize) -> bool {
    let (lx, ly) = (d.label(x).loc(), d.label(y).loc());
    if x == y || lx.is_none() || lx != ly {
        return false;
    }
    match (d.label(x).is_write(), d.label(y).is_write()) {
        (true, false) => d.rank[x] <= d.rank[y],
        _ => d.rank[x] < d.rank[y],
    }
}

/// The pairwise form of [`add_psc_f`], for the crate's tests to check it against.
#[cfg(test)]
fn add_psc_f_pairwise(d: &Dense<'_>, hb: &super::views::Views, ar: &mut Edges) {
    let sc: Vec<usize> = (0..d.n()).filter(|&i| sc_point(d, i)).collect();
    if sc.len() < 2 {
        return;
    }
    for &a in &sc {
        // Events after a's fence: a itself for an access, then what a happens before.
        let after: Vec<usize> = (0..d.n())
            .filter(|&x| (x == a && !d.label(a).is_fence()) || hb.lt(d, a, x))
            .collect();
        for &b in &sc {
            if a == b {
                continue;
            }
            let mut rel = hb.lt(d, a, b);
            if !rel {
                'outer: for &x in &after {
                    for y in 0..d.n() {
                        if hb.lt(d, y, b) && eco(d, x, y) {
                            rel = true;
                            break 'outer;
                        }
                    }
                }
            }
            if rel {
                ar.add(a, b);
            }
        }
    }
}
