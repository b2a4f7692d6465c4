//! x86-TSO (Owens, Sarkar and Sewell's axiomatic model, as herd's `x86tso.cat`): per
//! location, program order agrees with the communication relations; and preserved program
//! order (every pair but a store followed by a load), external reads-from, modification
//! order, from-reads and the orderings of locked instructions and fences are acyclic.
//!
//! As Rust compiles for x86: a SeqCst store is an `XCHG`, a read-modify-write a `LOCK`ed
//! instruction, a SeqCst fence an `MFENCE` - all full barriers; other fences are no-ops.
//! The engine's own synchronisation (spawn, join, locks, park and ready, a task's end) goes
//! through locked instructions too.

use super::views::{coherent, sb_views};
use super::{add_com, Dense, Edges};
use crate::engine::graph::label::{Label, ReadKind};

/// Whether event `i` is a full barrier.
fn barrier(d: &Dense<'_>, i: usize) -> bool {
    match *d.label(i) {
        // A read-modify-write is a locked instruction even when it fails (LOCK CMPXCHG).
        Label::Read { kind, .. } => !matches!(kind, ReadKind::Load),
        Label::Write {
            ord, rmw, barrier, ..
        } => rmw || barrier || ord.is_sc(),
        Label::Fence { ord } => crate::engine::graph::label::MemOrd::Atomic(ord).is_sc(),
        Label::Spawn { .. } => true,
        Label::Choice { .. } => false,
    }
}

pub(super) fn consistent(d: &Dense<'_>) -> bool {
    let mut e = Edges::new(d.n());
    // Program order and creation, to get an order for the per-location check.
    let mut po = Edges::new(d.n());
    super::add_po_tc(d, &mut po);
    let Some(order) = po.topo() else {
        return false;
    };
    if !coherent(d, &sb_views(d, &order)) {
        return false;
    }
    // Preserved program order, kept small: each event is ordered after the latest earlier
    // read, write and barrier it must follow (the rest follows by transitivity).
    for t in 0..d.nt() {
        let (mut last_r, mut last_w, mut last_b) = (None, None, None);
        let start = d.base[t];
        let len = d.g.tasks[t].events.len();
        for i in start..start + len {
            let is_b = barrier(d, i);
            let (is_r, is_w) = (d.label(i).is_read(), d.label(i).is_write());
            let mut from = |p: Option<usize>| {
                if let Some(p) = p {
                    e.add(p, i);
                }
            };
            if is_b {
                from(last_r);
                from(last_w);
                from(last_b);
            } else if is_r {
                from(last_r);
                from(last_b);
            } else if is_w {
                from(last_r);
                from(last_w);
                from(last_b);
            } else {
                from(last_b);
            }
            if is_b {
                last_b = Some(i);
            }
            if is_r {
                last_r = Some(i);
            }
            if is_w {
                last_w = Some(i);
            }
        }
        if let Some(s) = d.g.spawn_of(t as u32) {
            if len > 0 {
                e.add(d.id(s), start);
            }
        }
    }
    add_com(d, &mut e, true);
    e.acyclic()
}
