//! The object locks one system call holds: taken in the kernel's lock order (the fd table,
//! then fd numbers ascending, then buffers ascending, then epoll's interest list, then its
//! ready queue), released together, in reverse, when the call returns.

use crate::engine::sync::RawMutex;
use std::sync::Arc;

/// Where a lock comes in the kernel's lock order: a call takes locks of increasing rank only,
/// so two calls can never wait for each other in a cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Rank {
    /// The fd table's shape: which numbers are free, the open-file counter.
    Table,
    /// One fd number's entry.
    Fd(usize),
    /// One buffer (a pipe, one direction of a socket pair).
    Buffer(usize),
    /// The epoll instance's interest list (Linux: `ep->mtx`, taken by `epoll_ctl`).
    Interest,
    /// The epoll instance's ready queue and the poller's wait (Linux: `ep->lock`).
    Queue,
}

/// The locks a system call holds, in the order taken.
#[derive(Default)]
pub(super) struct Held {
    locks: Vec<(Rank, Arc<RawMutex>)>,
}

impl Held {
    /// Take `lock` (of rank `rank`), unless this call holds it already.
    ///
    /// Panics if a lock of a higher rank is held: a bug of the kernel model (an order that
    /// could deadlock), not of the program under test.
    #[track_caller]
    pub(super) fn take(&mut self, rank: Rank, lock: &Arc<RawMutex>) {
        if let Some((last, _)) = self.locks.last() {
            if *last == rank {
                return;
            }
            assert!(
                *last < rank,
                "netpoll-sim kernel: lock {rank:?} taken after {last:?} (out of the kernel's lock order)"
            );
        }
        lock.lock();
        self.locks.push((rank, lock.clone()));
    }

    /// Whether this call holds the lock of rank `rank`.
    pub(super) fn holds(&self, rank: Rank) -> bool {
        self.locks.iter().any(|(r, _)| *r == rank)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Outside a task (an execution torn down while a call was blocked) there is nothing
        // to release: the engine's locks went with the execution.
        let in_task = crate::engine::rt::in_task();
        while let Some((_, lock)) = self.locks.pop() {
            if in_task {
                lock.unlock();
            }
        }
    }
}
