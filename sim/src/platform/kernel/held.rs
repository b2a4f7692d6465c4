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

/// The most locks one call takes: the table, two fds, two buffers, the interest list, the
/// ready queue.
const MOST: usize = 8;

/// The locks a system call holds, in the order taken (kept inline: a call takes a few).
#[derive(Default)]
pub(super) struct Held {
    locks: [Option<(Rank, Arc<RawMutex>)>; MOST],
    len: usize,
}

impl Held {
    /// Take `lock` (of rank `rank`), unless this call holds it already.
    ///
    /// Panics if a lock of a higher rank is held: a bug of the kernel model (an order that
    /// could deadlock), not of the program under test.
    #[track_caller]
    pub(super) fn take(&mut self, rank: Rank, lock: &Arc<RawMutex>) {
        if let Some(Some((last, _))) = self.len.checked_sub(1).map(|i| &self.locks[i]) {
            if *last == rank {
                return;
            }
            assert!(
                *last < rank,
                "netpoll-sim kernel: lock {rank:?} taken after {last:?} (out of the kernel's lock order)"
            );
        }
        assert!(
            self.len < MOST,
            "netpoll-sim kernel: more than {MOST} locks in one call"
        );
        lock.lock();
        self.locks[self.len] = Some((rank, lock.clone()));
        self.len += 1;
    }

    /// Whether this call holds the lock of rank `rank`.
    pub(super) fn holds(&self, rank: Rank) -> bool {
        self.locks[..self.len]
            .iter()
            .flatten()
            .any(|(r, _)| *r == rank)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Outside a task (an execution torn down while a call was blocked) there is nothing
        // to release: the engine's locks went with the execution.
        let in_task = crate::engine::rt::in_task();
        while self.len > 0 {
            self.len -= 1;
            if let Some((_, lock)) = self.locks[self.len].take() {
                if in_task {
                    lock.unlock();
                }
            }
        }
    }
}
