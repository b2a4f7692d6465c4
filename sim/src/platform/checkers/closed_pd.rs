//! [`Checker::ParkedOnClosedPd`]: no task stays parked on a pd that is closing.
//!
//! Checked whenever nothing can run: a task that a pd's semaphore names as parked while the
//! pd is closing will never be woken by Close (it already ran) - the symptom of
//! golang/go#45211, where the waiter missed `closing` and Close missed the waiter.

use crate::engine::sched::{self, Quiet, QuietKind};
use crate::platform::SimNetPoll;
use netpoll::Pd;

/// The check at a quiescent point.
pub(super) fn check(q: &Quiet, np: &SimNetPoll) -> Option<String> {
    if q.kind != QuietKind::Idle {
        return None;
    }
    let cache = np.cache();
    for i in 0..cache.peek_capacity() {
        let Some(pd) = cache.try_get(Pd(i)) else {
            continue;
        };
        if !pd.peek_closing() {
            continue;
        }
        if let Some((mode, task)) = pd.peek_parked().into_iter().next() {
            return Some(format!(
                "task {} ({}) stays parked on pd{i} for {mode:?} although the pd is closing \
                 (nothing can run at {}): {}",
                task.0,
                sched::task_name(task.0),
                crate::engine::trace::vtime(q.now_ns),
                pd.describe()
            ));
        }
    }
    None
}
