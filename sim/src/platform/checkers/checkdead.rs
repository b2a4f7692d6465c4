//! [`Checker::GoCheckdead`]: a model of Go's idle check, after golang/go#61454.
//!
//! When an M finds nothing to run, `findRunnable` blocks it in `netpoll` only if some
//! goroutine waits for the network (`netpollWaiters > 0`) or a timer is pending; otherwise
//! the M stops, and `checkdead` counts the Ms still running - not counting `sysmon`. With no
//! M running, no timer, and goroutines that are all waiting, it throws "all goroutines are
//! asleep - deadlock!".
//!
//! In the simulator the poller daemon stands for `sysmon`'s `netpoll` (it is a system task:
//! `sched::mark_system`), so the check runs whenever only the poller can run. A poller that
//! has taken a task off a pd's semaphore but not yet made it ready then leaves the task
//! waiting; that is harmless only while `netpollWaiters` still counts it - which is exactly
//! what golang/go#61454's fix (apply the count's delta after `goready`) guarantees.

use crate::engine::sched::{Quiet, QuietKind};
use crate::platform::SimNetPoll;

/// The check at a quiescent point.
pub(super) fn check(q: &Quiet, np: &SimNetPoll) -> Option<String> {
    if q.kind != QuietKind::OnlySystem || !q.unfinished || q.timed_wait {
        return None;
    }
    let waiters = np.peek_waiters();
    if waiters != 0 {
        return None;
    }
    Some(format!(
        "all goroutines are asleep - deadlock! (Go's checkdead at {}: only the poller, which \
         stands for sysmon and does not count as a running M, can run; no timer is pending; \
         netpoll.waiters = 0, so no M blocks in netpoll)",
        crate::engine::trace::vtime(q.now_ns)
    ))
}
