//! [`Checker::WaitersBalanced`]: once every task has finished nobody waits for the poller,
//! so Go's `netpollWaiters` must be back to 0 (a leak makes the scheduler poll for waiters
//! that do not exist, golang/go#60782).

use crate::platform::SimNetPoll;

/// At the end of the run.
pub(super) fn check_end(np: &SimNetPoll) -> Option<String> {
    let waiters = np.peek_waiters();
    (waiters != 0).then(|| {
        format!(
            "netpoll.waiters = {} with no task left (the count leaked)",
            waiters as i32
        )
    })
}
