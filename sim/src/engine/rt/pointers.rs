//! Pointers as the event log records them: an `AtomicPtr`'s location holds a small number
//! per distinct address, in the order the execution first stored each (0 is null), never the
//! address itself - addresses change from run to run, and a log must not.

use super::exec::with;
use std::collections::BTreeMap;

/// The addresses of one execution and their numbers.
#[derive(Default)]
pub(crate) struct Pointers {
    ids: BTreeMap<usize, u64>,
    addrs: Vec<usize>,
}

impl Pointers {
    pub(crate) fn reset(&mut self) {
        self.ids.clear();
        self.addrs.clear();
    }
}

/// The number of address `addr` in the running execution (null is 0).
pub(crate) fn pointer_id(addr: usize) -> u64 {
    if addr == 0 {
        return 0;
    }
    with(|e| {
        let p = &mut e.pointers;
        *p.ids.entry(addr).or_insert_with(|| {
            p.addrs.push(addr);
            p.addrs.len() as u64
        })
    })
}

/// The address numbered `id` in the running execution.
pub(crate) fn pointer_addr(id: u64) -> usize {
    if id == 0 {
        return 0;
    }
    with(|e| e.pointers.addrs.get(id as usize - 1).copied())
        .expect("netpoll-sim: an atomic pointer holds a number no address was given")
}
