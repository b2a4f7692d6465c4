//! [`Checker::Outcomes`]: every operation ends in data, end of file, DeadlineExceeded or
//! Closed - or in an error the kernel gave for a reason of its own: a broken pipe or a reset
//! from a peer that closed, a refused connection for a connect, "not pollable" after the
//! kernel delivered an error event for the descriptor. Anything else (a bad descriptor, a
//! socket that is not connected, an end of file from a write) means the FD layer or the
//! core lost track.

use netpoll::observe::{OpKind, OpOutcome};

use super::watch::{Finding, Op, Watch};
use super::Checker;

/// errno values a peer or the network may cause.
const EPIPE: i32 = 32;
const ECONNRESET: i32 = 104;
const ECONNREFUSED: i32 = 111;

/// At the end of operation `op` (`kind`, as reported at its end) of `task`.
pub(super) fn check(w: &Watch, task: u32, op: &Op, kind: OpKind, outcome: OpOutcome) -> Finding {
    let fine = match outcome {
        OpOutcome::Data(_) | OpOutcome::DeadlineExceeded | OpOutcome::Closed => true,
        OpOutcome::Eof => matches!(kind, OpKind::Read),
        OpOutcome::NotPollable => w.kernel_caused(op, outcome),
        OpOutcome::Io(_, Some(EPIPE | ECONNRESET)) => true,
        OpOutcome::Io(_, Some(ECONNREFUSED)) => kind == OpKind::Connect,
        OpOutcome::Io(..) => false,
    };
    if fine && kind == op.kind {
        return None;
    }
    let why = match outcome {
        OpOutcome::NotPollable => " (the kernel delivered no error event for its descriptor)",
        _ => "",
    };
    Some((
        Checker::Outcomes,
        format!(
            "{} ended with {outcome:?} as a {}{why}",
            w.describe_op(task, op),
            kind.name()
        ),
    ))
}
