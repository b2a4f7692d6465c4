//! The one way a trace file is replayed, whoever asks: `netpoll-sim replay` and the
//! repository's `tests/replay.rs` (each trace with the built-in check it records), a check run
//! with `NETPOLL_SIM_REPLAY` (with that check, refusing a trace of another), and a user's
//! regression test ([`replay_traces!`](crate::replay_traces), each trace of a folder with the
//! user's check).
//!
//! Replaying means: read the file (a [`TraceError`](crate::trace::TraceError) for anything
//! that is not a usable trace), find the check that runs it ([`ReplayWith`]), feed the
//! recorded choices back, and compare the new run with the recording byte for byte, then its
//! failure's kind and message ([`check_run`](crate::trace::check_run)).

use super::check::{test_replay_command, Check};
use super::{Subject, Trace};
use crate::engine::trace::{read_file, replay_trace, ReplayError, ReplayRun};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Which check replays a trace: what runs it, given what it records.
pub trait ReplayWith {
    /// The body that replays `trace` (read from `path`), or why this check cannot.
    fn body_for(&self, trace: &Trace, path: &Path) -> Result<Rc<dyn Fn()>, ReplayError>;
}

/// Replay each trace with the built-in check it records (a scenario under a protocol and the
/// kernel's faults). A trace of a check written in a test is refused with the command that
/// replays it in that test: only the test has its code.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuiltinChecks;

impl ReplayWith for BuiltinChecks {
    fn body_for(&self, trace: &Trace, path: &Path) -> Result<Rc<dyn Fn()>, ReplayError> {
        match &trace.subject {
            Subject::Builtin(b) => {
                b.faults.validate().map_err(ReplayError::BadMeta)?;
                Ok(crate::engine::trace::Builtin::body(b))
            }
            Subject::Test(t) => Err(ReplayError::ElsewhereTest {
                test: t.label(),
                command: test_replay_command(t, &absolute(path)),
            }),
        }
    }
}

/// A check written in a test replays every trace recorded from a test (whichever test that
/// was: a regression test replays traces its crate's other tests recorded). A trace of a
/// built-in check is refused.
impl<F: Fn() + Clone + 'static> ReplayWith for F {
    fn body_for(&self, trace: &Trace, _: &Path) -> Result<Rc<dyn Fn()>, ReplayError> {
        match &trace.subject {
            Subject::Test(_) => Ok(Rc::new(self.clone())),
            Subject::Builtin(b) => Err(ReplayError::WrongCheck {
                trace: crate::engine::trace::Builtin::label(b),
                requested: "a check written in a test".to_string(),
            }),
        }
    }
}

/// A prepared check replays only traces of itself.
impl ReplayWith for Check {
    fn body_for(&self, trace: &Trace, _: &Path) -> Result<Rc<dyn Fn()>, ReplayError> {
        match &self.subject {
            Some(s) if *s == trace.subject => Ok(self.body.clone()),
            this => Err(ReplayError::WrongCheck {
                trace: trace.subject.label(),
                requested: this
                    .as_ref()
                    .map_or("an unnamed check".to_string(), |s| s.label()),
            }),
        }
    }
}

/// A trace replayed as recorded.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// The trace.
    pub trace: Trace,
    /// The new run (its log is the recorded one).
    pub run: ReplayRun,
    /// How long the run took.
    pub took: Duration,
}

/// Replay `trace`, read from `path`, with the check `with` gives for it.
pub fn replay_loaded(
    trace: Trace,
    path: &Path,
    with: &dyn ReplayWith,
) -> Result<Replayed, ReplayError> {
    let body = with.body_for(&trace, path)?;
    let start = Instant::now();
    let run = replay_trace(&trace, body)?;
    Ok(Replayed {
        trace,
        run,
        took: start.elapsed(),
    })
}

/// Read the trace at `path` and replay it with the check `with` gives for it.
pub fn replay_file(path: &Path, with: &dyn ReplayWith) -> Result<Replayed, ReplayError> {
    let trace: Trace = read_file(path)?;
    replay_loaded(trace, path, with)
}

/// `path` made absolute when it can be (for commands printed to be run elsewhere).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
