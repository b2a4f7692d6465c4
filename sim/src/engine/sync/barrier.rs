//! A simulated `std::sync::Barrier`, built as `std`'s is: a count and a generation under a
//! mutex, and a condition variable.

use super::{Condvar, Mutex};

/// A simulated `std::sync::Barrier`.
#[derive(Debug)]
pub struct Barrier {
    state: Mutex<BarrierState>,
    cvar: Condvar,
    n: usize,
}

#[derive(Debug)]
struct BarrierState {
    count: usize,
    generation: u64,
}

/// What [`Barrier::wait`] tells one of the tasks it releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one task of each release: the last to arrive.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier that releases its waiters `n` at a time.
    pub fn new(n: usize) -> Barrier {
        Barrier {
            state: Mutex::new(BarrierState {
                count: 0,
                generation: 0,
            }),
            cvar: Condvar::new(),
            n,
        }
    }

    /// Wait until `n` tasks wait here; all are then released, and one is the leader.
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let generation = s.generation;
        s.count += 1;
        if s.count < self.n {
            let _s = self
                .cvar
                .wait_while(s, |s| s.generation == generation)
                .unwrap_or_else(|p| p.into_inner());
            BarrierWaitResult(false)
        } else {
            s.count = 0;
            s.generation = s.generation.wrapping_add(1);
            drop(s);
            self.cvar.notify_all();
            BarrierWaitResult(true)
        }
    }
}
