//! Replay: feed a trace's choices back and compare the new event log with the recorded one,
//! byte for byte.
//!
//! The comparison is pure ([`compare_logs`]): two logs match when their bincode encodings are
//! identical; otherwise the first difference is named - the first event whose encoding
//! differs (with both events rendered), a log that ends early or runs on, or a task or
//! location name that changed. Then the failure must be the recorded one, kind and message.
//! [`replay_trace`] runs a check on the recorded choices; [`replay_builtin`] runs the check a
//! built-in trace names.

use super::format::TraceError;
use super::meta::{Builtin, Subject, Trace};
use super::render::describe_event;
use crate::engine::event::{Event, EventLog};
use crate::engine::explore::{run_recorded, Strategy};
use crate::engine::failure::{Failure, FailureKind};
use crate::engine::rt::ExecConfig;
use std::fmt;
use std::rc::Rc;

/// The first difference between the recorded run and the replayed one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Divergence {
    /// Event `index` differs.
    Event {
        /// Index in the event log (0-based).
        index: usize,
        /// The recorded event's step.
        step: u64,
        /// The recorded event, rendered.
        expected: String,
        /// The new event, rendered.
        actual: String,
    },
    /// The recorded log is longer: the replay stopped before event `index`.
    RecordedLonger {
        /// Index of the first missing event.
        index: usize,
        /// The first missing event, rendered.
        expected: String,
        /// Events recorded.
        recorded: usize,
        /// Events replayed.
        replayed: usize,
    },
    /// The recorded log is shorter: the replay went on past it.
    RecordedShorter {
        /// Index of the first extra event.
        index: usize,
        /// The first extra event, rendered.
        actual: String,
        /// Events recorded.
        recorded: usize,
        /// Events replayed.
        replayed: usize,
    },
    /// The same events, but a task or location is named differently.
    Name {
        /// `task` or `location`.
        what: &'static str,
        /// Its id.
        index: usize,
        /// The recorded name (`None`: it did not exist).
        expected: Option<String>,
        /// The new name (`None`: it does not exist).
        actual: Option<String>,
    },
    /// The same events, but the run failed differently (or not at all).
    Failure {
        /// The recorded failure's kind.
        expected: FailureKind,
        /// The new failure's kind, or `None` when the run did not fail.
        actual: Option<FailureKind>,
    },
    /// The same events and failure kind, but another failure message (the recording's
    /// message is not what this run reports: an edited trace, or a changed check).
    Message {
        /// The recorded message's first line.
        expected: String,
        /// The new message's first line.
        actual: String,
    },
    /// The same events, but the run asked for other choices than were recorded (the
    /// engine's own check).
    Choices {
        /// What did not fit.
        message: String,
    },
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Divergence::Event { index, step, expected, actual } => write!(
                f,
                "replay diverged at step {step} (event {index}): expected `{expected}`, got `{actual}`"
            ),
            Divergence::RecordedLonger { index, expected, recorded, replayed } => write!(
                f,
                "replay diverged: the run ended after {replayed} events but {recorded} were recorded; the first missing is event {index} `{expected}`"
            ),
            Divergence::RecordedShorter { index, actual, recorded, replayed } => write!(
                f,
                "replay diverged: the run went on to {replayed} events but only {recorded} were recorded; the first extra is event {index} `{actual}`"
            ),
            Divergence::Name { what, index, expected, actual } => write!(
                f,
                "replay diverged: {what} {index} was named {}, now {}",
                expected.as_deref().map_or("(none)".to_string(), |s| format!("{s:?}")),
                actual.as_deref().map_or("(none)".to_string(), |s| format!("{s:?}")),
            ),
            Divergence::Failure { expected, actual } => write!(
                f,
                "replay diverged: identical events, but the recorded run failed with {expected} and the replay {}",
                actual.map_or("did not fail".to_string(), |k| format!("with {k}"))
            ),
            Divergence::Message { expected, actual } => write!(
                f,
                "replay diverged: identical events and failure kind, but the recorded message is {expected:?} and the replay's is {actual:?}"
            ),
            Divergence::Choices { message } => {
                write!(f, "replay diverged: identical events, but {message}")
            }
        }
    }
}

impl std::error::Error for Divergence {}

fn event_bytes(e: &Event) -> Vec<u8> {
    // An event is plain data: encoding cannot fail; an empty vector would only make the
    // comparison stricter.
    bincode::serde::encode_to_vec(e, bincode::config::standard()).unwrap_or_default()
}

fn log_bytes(l: &EventLog) -> Vec<u8> {
    bincode::serde::encode_to_vec(l, bincode::config::standard()).unwrap_or_default()
}

fn names<T: PartialEq + fmt::Display>(
    what: &'static str,
    expected: &[T],
    actual: &[T],
) -> Result<(), Divergence> {
    for i in 0..expected.len().max(actual.len()) {
        let (e, a) = (expected.get(i), actual.get(i));
        if e != a {
            return Err(Divergence::Name {
                what,
                index: i,
                expected: e.map(|n| n.to_string()),
                actual: a.map(|n| n.to_string()),
            });
        }
    }
    Ok(())
}

/// Compare a new event log with the recorded one, byte for byte (bincode,
/// `config::standard()`), naming the first difference.
pub fn compare_logs(recorded: &EventLog, replayed: &EventLog) -> Result<(), Divergence> {
    if log_bytes(recorded) == log_bytes(replayed) {
        return Ok(());
    }
    let (re, ne) = (&recorded.events, &replayed.events);
    for (i, (r, n)) in re.iter().zip(ne.iter()).enumerate() {
        if event_bytes(r) != event_bytes(n) {
            return Err(Divergence::Event {
                index: i,
                step: r.step,
                expected: describe_event(recorded, r),
                actual: describe_event(replayed, n),
            });
        }
    }
    if re.len() > ne.len() {
        return Err(Divergence::RecordedLonger {
            index: ne.len(),
            expected: describe_event(recorded, &re[ne.len()]),
            recorded: re.len(),
            replayed: ne.len(),
        });
    }
    if ne.len() > re.len() {
        return Err(Divergence::RecordedShorter {
            index: re.len(),
            actual: describe_event(replayed, &ne[re.len()]),
            recorded: re.len(),
            replayed: ne.len(),
        });
    }
    names("task", &recorded.tasks, &replayed.tasks)?;
    names("location", &recorded.locations, &replayed.locations)?;
    // Equal parts always encode equally; reaching here would be a bincode bug.
    Err(Divergence::Choices {
        message: "the encoded logs differ although every part compares equal".to_string(),
    })
}

/// Why a replay did not reproduce its trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// The trace file could not be read (exit code 2).
    Trace(TraceError),
    /// The trace is of another check than the one asked to replay it (exit code 2).
    WrongCheck {
        /// The trace's check.
        trace: String,
        /// The check replaying it.
        requested: String,
    },
    /// The trace is of a test, whose code only that test has: it replays there (exit code 2).
    ElsewhereTest {
        /// The test.
        test: String,
        /// The command that replays it.
        command: String,
    },
    /// The trace's metadata cannot be used (exit code 2).
    BadMeta(String),
    /// The run did not reproduce the recording (exit code 1).
    Diverged(Divergence),
}

impl ReplayError {
    /// The command line's exit code: 1 for a divergence, 2 for a trace that cannot be used.
    pub fn exit_code(&self) -> i32 {
        match self {
            ReplayError::Diverged(_) => 1,
            _ => 2,
        }
    }
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Trace(e) => e.fmt(f),
            ReplayError::WrongCheck { trace, requested } => write!(
                f,
                "the trace is of {trace:?}, not {requested:?}: refusing to replay it"
            ),
            ReplayError::ElsewhereTest { test, command } => write!(
                f,
                "the trace is of the test {test:?}, whose code is in that test: replay it with `{command}`"
            ),
            ReplayError::BadMeta(m) => write!(f, "unusable trace metadata: {m}"),
            ReplayError::Diverged(d) => d.fmt(f),
        }
    }
}

impl std::error::Error for ReplayError {}

impl From<TraceError> for ReplayError {
    fn from(e: TraceError) -> Self {
        ReplayError::Trace(e)
    }
}

impl From<Divergence> for ReplayError {
    fn from(d: Divergence) -> Self {
        ReplayError::Diverged(d)
    }
}

/// Check a replayed run against `trace`: the logs byte for byte first (so the first
/// differing step is named whenever there is one), then the failure's kind and message.
pub fn check_run<B: Builtin>(
    trace: &Trace<B>,
    log: &EventLog,
    failure: Option<&Failure>,
) -> Result<(), Divergence> {
    compare_logs(&trace.events, log)?;
    match failure {
        Some(Failure::ReplayDiverged { message }) => Err(Divergence::Choices {
            message: message.clone(),
        }),
        Some(f) if f.kind() != trace.failure.kind => Err(Divergence::Failure {
            expected: trace.failure.kind,
            actual: Some(f.kind()),
        }),
        Some(f) => {
            let actual = f.to_string();
            if actual == trace.failure.message {
                return Ok(());
            }
            let first = |s: &str| s.lines().next().unwrap_or("").to_string();
            Err(Divergence::Message {
                expected: first(&trace.failure.message),
                actual: first(&actual),
            })
        }
        None => Err(Divergence::Failure {
            expected: trace.failure.kind,
            actual: None,
        }),
    }
}

/// What a replay produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayRun {
    /// The new event log (identical to the recorded one when the replay succeeded).
    pub log: EventLog,
    /// The new run's failure.
    pub failure: Option<Failure>,
}

/// The engine configuration that replays `trace`: its memory model, step limit and race
/// setting, nothing from the environment.
pub(crate) fn exec_config<B: Builtin>(trace: &Trace<B>) -> Result<ExecConfig, ReplayError> {
    if trace.meta.max_steps == 0 {
        return Err(ReplayError::BadMeta(
            "the trace's step limit is 0".to_string(),
        ));
    }
    Ok(ExecConfig {
        memory: trace.meta.memory,
        max_steps: trace.meta.max_steps,
        max_live_tasks: trace.meta.max_live_tasks,
        fail_on_race: trace.meta.fail_on_data_race,
    })
}

/// Replay `trace` with the check `f` (the check the trace was recorded from) and compare the
/// run with the recording. Must be called outside any simulation.
pub fn replay_trace<B: Builtin>(
    trace: &Trace<B>,
    f: Rc<dyn Fn()>,
) -> Result<ReplayRun, ReplayError> {
    let exec = exec_config(trace)?;
    // Graph traces record every event (choices of one option included); others only real
    // choices.
    let min_n = if trace.meta.strategy == Strategy::Graph {
        1
    } else {
        2
    };
    if let Some((i, c)) = trace
        .choices
        .iter()
        .enumerate()
        .find(|(_, c)| c.chosen >= c.n || c.n < min_n)
    {
        return Err(ReplayError::Diverged(Divergence::Choices {
            message: format!(
                "recorded choice {i} takes option {} of only {} (the trace is corrupt)",
                c.chosen, c.n
            ),
        }));
    }
    let out = run_recorded(exec, trace.meta.strategy, &trace.choices, &f);
    check_run(trace, &out.log, out.failure.as_ref())?;
    Ok(ReplayRun {
        log: out.log,
        failure: out.failure,
    })
}

/// Replay a trace of a built-in check with the check it names. A trace of a test is refused
/// with the command that replays it in its own crate.
pub fn replay_builtin<B: Builtin>(
    trace: &Trace<B>,
    test_replay_command: impl FnOnce(&super::meta::TestId) -> String,
) -> Result<ReplayRun, ReplayError> {
    match &trace.subject {
        Subject::Builtin(b) => replay_trace(trace, b.body()),
        Subject::Test(t) => Err(ReplayError::ElsewhereTest {
            test: t.label(),
            command: test_replay_command(t),
        }),
    }
}
