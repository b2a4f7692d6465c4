//! [`Checker::TimersOnTime`]: a liveness checker - a due timer fires within a bound of
//! virtual time. The bound is 0 on a kernel that delivers every break (the dispatcher wakes
//! exactly at the earliest timer), and sysmon's period ([`SYSMON_PERIOD_NS`]) where breaks
//! can be lost (the `break` fault): that is what Go's fix for golang/go#42515 promises.
//!
//! Checked whenever nothing can run, before virtual time advances: the earliest armed timer
//! must not be overdue by more than the bound, and the next task to wake must wake in time
//! to fire it.

pub use crate::platform::sysmon::SYSMON_PERIOD_NS;

use crate::engine::sched::{Quiet, QuietKind};
use crate::engine::trace::vtime;
use crate::platform::faults::Faults;
use crate::platform::SimNetPoll;

/// How late the platform may fire a due timer under `faults`.
pub(crate) fn slack_ns(faults: Faults) -> i64 {
    if faults.dropped_break.is_zero() {
        0
    } else {
        SYSMON_PERIOD_NS
    }
}

/// The check at a quiescent point.
pub(super) fn check_quiet(q: &Quiet, np: &SimNetPoll, slack_ns: i64) -> Option<String> {
    if q.kind != QuietKind::Idle {
        return None;
    }
    let armed = np.platform().clock.armed();
    let &(when, firing) = armed.first()?;
    let latest = when.saturating_add(slack_ns);
    let late_now = q.now_ns > latest;
    let late_next = q.next_wake_ns.is_none_or(|w| w > latest);
    if !late_now && !late_next {
        return None;
    }
    let next = q
        .next_wake_ns
        .map_or("no task will wake by itself".to_string(), |w| {
            format!("the next task to wake does so at {}", vtime(w))
        });
    Some(format!(
        "the timer of pd{} ({:?}, seq {}) was due at {} and has not fired: nothing can run at \
         {}, and {next} (the bound is {slack_ns} ns)",
        firing.pd,
        firing.func,
        firing.seq,
        vtime(when),
        vtime(q.now_ns),
    ))
}
