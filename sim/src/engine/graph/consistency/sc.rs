//! Sequential consistency: program order, task creation, reads-from, modification order
//! and from-reads together are acyclic (there is one interleaving that explains the graph).

use super::{add_com, add_po_tc, Dense, Edges};

pub(super) fn consistent(d: &Dense<'_>) -> bool {
    let mut e = Edges::new(d.n());
    add_po_tc(d, &mut e);
    add_com(d, &mut e, false);
    e.acyclic()
}
