//! [`Checker::Deadlines`]: no DeadlineExceeded before the deadline, and in virtual time none
//! after it: an operation that times out does so at the virtual time its deadline expired
//! (or at its own start, if the deadline had expired already), give or take the platform's
//! timer bound; and no task stays parked in an operation past its deadline while nothing can
//! run.
//!
//! The deadlines are the checker's own record of what the FD layer was told
//! ([`Observation::Deadline`](netpoll::observe::Observation::Deadline)), not the core's
//! fields: a core that forgets or misapplies one is caught.

use netpoll::observe::OpOutcome;
use netpoll::platform::{Mode, TaskId};
use netpoll::Pd;

use super::watch::{Finding, Op, Watch};
use super::Checker;
use crate::engine::sched::{Quiet, QuietKind};
use crate::engine::trace::vtime;
use crate::platform::SimNetPoll;

/// At the end of operation `op` of `task` with `outcome` at `now`.
pub(super) fn check_end(w: &Watch, task: u32, op: &Op, outcome: OpOutcome, now: i64) -> Finding {
    if outcome != OpOutcome::DeadlineExceeded {
        return None;
    }
    let spans = w.spans(op, op.start_ns, now);
    let expiries: Vec<i64> = spans.iter().filter_map(|s| s.expired_by(now)).collect();
    let show = || Watch::show_spans(&spans, op.kind.reads());
    if expiries.is_empty() {
        return Some((
            Checker::Deadlines,
            format!(
                "{} ended with DeadlineExceeded at {}, before any deadline in force passed ({})",
                w.describe_op(task, op),
                vtime(now),
                show()
            ),
        ));
    }
    let slack = w.slack_ns;
    let on_time = expiries.iter().any(|&x| {
        let due = x.max(op.start_ns);
        now >= due && now - due <= slack
    });
    if !on_time {
        let due = expiries
            .iter()
            .map(|&x| x.max(op.start_ns))
            .max()
            .unwrap_or(now);
        return Some((
            Checker::Deadlines,
            format!(
                "{} ended with DeadlineExceeded at {}, {} ns after its deadline expired at {} \
                 (bound {slack} ns; {})",
                w.describe_op(task, op),
                vtime(now),
                now - due,
                vtime(due),
                show()
            ),
        ));
    }
    None
}

/// Whenever nothing can run: a task parked on its pd in an operation whose deadline expired
/// more than `slack_ns` ago.
pub(super) fn check_parked(q: &Quiet, w: &Watch, np: &SimNetPoll, slack_ns: i64) -> Option<String> {
    if q.kind != QuietKind::Idle {
        return None;
    }
    for (&task, op) in &w.ops {
        let life = &w.fds[op.fd];
        if life.destroyed.is_some() {
            continue;
        }
        let mode = if op.kind.reads() {
            Mode::Read
        } else {
            Mode::Write
        };
        let Some(pd) = np.cache().try_get(Pd(life.pd)) else {
            continue;
        };
        if pd.parked_mode(TaskId(task)) != Some(mode) {
            continue;
        }
        // Every deadline possibly in force now must have expired (more than the bound ago).
        let spans = &life.deadlines[usize::from(!op.kind.reads())];
        let mut due = None;
        for s in spans.iter().filter(|s| s.until_ns.is_none()) {
            match s.expired_by(q.now_ns) {
                Some(x) => due = Some(due.unwrap_or(i64::MIN).max(x.max(op.start_ns))),
                None => {
                    due = None;
                    break;
                }
            }
        }
        let Some(due) = due else {
            continue;
        };
        if q.now_ns - due >= slack_ns {
            return Some(format!(
                "{} stays parked on pd{} past its deadline, which expired at {} (now {}, nothing \
                 can run; {})",
                w.describe_op(task, op),
                life.pd,
                vtime(due),
                vtime(q.now_ns),
                pd.describe()
            ));
        }
    }
    None
}
