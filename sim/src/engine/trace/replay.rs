//! Replay: feed a trace's choices back and compare the new event log with the recorded one,
//! byte for byte.
//!
//! The comparison is pure ([`compare_logs`]): two logs match when their bincode encodings are
//! identical; otherwise the first difference is named - the first event whose encoding
//! differs (with both events rendered), a log that ends early or runs on, or a task or
//! location name that changed. Then the failure must be the recorded one, kind and message.
//! [`replay_trace`] runs a check on the recorded choices (which check replays which trace is
//! the builder's business: `netpoll_sim::builder::replay`).

use super::format::TraceError;
use super::meta::{Builtin, Trace};
use super::render::describe_event;
use super::safe;
use crate::engine::event::EventLog;
use crate::engine::explore::{run_recorded, Strategy};
use crate::engine::failure::{Failure, FailureKind};
use crate::engine::rt::{ExecConfig, MAX_STEPS_LIMIT};
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
        /// The recorded message's first line that differs.
        expected: String,
        /// The new message's line in its place.
        actual: String,
    },
    /// The events so far are the recorded ones, but the run asked for a choice the recording
    /// does not fit (the engine's own check; the replay stops there).
    Choices {
        /// The step at which it stopped fitting (the replay stopped there), or `None` when
        /// that showed at the end of the run.
        step: Option<u64>,
        /// What did not fit.
        message: String,
    },
}

/// The most characters of a name or a message line an error quotes from a trace.
const QUOTED_CHARS: usize = 200;
/// The most characters of a command an error quotes (it holds a test's name).
const COMMAND_CHARS: usize = 600;

/// Text from a trace as an error quotes it: escaped, cut, in double quotes.
fn q(s: &str) -> String {
    format!("\"{}\"", safe::cut(s, QUOTED_CHARS))
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
                expected.as_deref().map_or("(none)".to_string(), q),
                actual.as_deref().map_or("(none)".to_string(), q),
            ),
            Divergence::Failure { expected, actual } => write!(
                f,
                "replay diverged: identical events, but the recorded run failed with {expected} and the replay {}",
                actual.map_or("did not fail".to_string(), |k| format!("with {k}"))
            ),
            Divergence::Message { expected, actual } => write!(
                f,
                "replay diverged: identical events and failure kind, but the recorded message is {} and the replay's is {}",
                q(expected),
                q(actual)
            ),
            Divergence::Choices { step: Some(s), message } => {
                write!(f, "replay diverged at step {s}: {}", safe::line(message))
            }
            Divergence::Choices { step: None, message } => {
                write!(f, "replay diverged: {}", safe::line(message))
            }
        }
    }
}

impl std::error::Error for Divergence {}

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

/// The first event at which `replayed` differs from `recorded`, over the events both have.
fn first_differing_event(recorded: &EventLog, replayed: &EventLog) -> Option<Divergence> {
    let (re, ne) = (&recorded.events, &replayed.events);
    // Events are plain data: equal values encode to equal bytes.
    let i = re.iter().zip(ne.iter()).position(|(r, n)| r != n)?;
    Some(Divergence::Event {
        index: i,
        step: re[i].step,
        expected: describe_event(recorded, &re[i]),
        actual: describe_event(replayed, &ne[i]),
    })
}

/// Compare a new event log with the recorded one, byte for byte (bincode,
/// `config::standard()`), naming the first difference.
pub fn compare_logs(recorded: &EventLog, replayed: &EventLog) -> Result<(), Divergence> {
    if log_bytes(recorded) == log_bytes(replayed) {
        return Ok(());
    }
    if let Some(d) = first_differing_event(recorded, replayed) {
        return Err(d);
    }
    let (re, ne) = (&recorded.events, &replayed.events);
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
        step: None,
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
                "the trace is of {}, not {}: refusing to replay it",
                q(trace),
                q(requested)
            ),
            ReplayError::ElsewhereTest { test, command } => write!(
                f,
                "the trace is of the test {}, whose code is in that test: replay it with `{}`",
                q(test),
                safe::cut(command, COMMAND_CHARS)
            ),
            ReplayError::BadMeta(m) => write!(f, "unusable trace metadata: {}", safe::line(m)),
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

/// Check a replayed run against `trace`: first the events both logs have (so the first
/// differing step is named whenever there is one), then a choice that did not fit the run (a
/// replay stops there, naming the step), then the rest of the logs byte for byte, then the
/// failure's kind and message.
pub fn check_run<B: Builtin>(
    trace: &Trace<B>,
    log: &EventLog,
    failure: Option<&Failure>,
) -> Result<(), Divergence> {
    // A replay that stopped at a choice may have logged an event of that step already,
    // shaped by the choice that did not fit: the choice is the first difference then.
    let halted_at = match failure {
        Some(Failure::ReplayDiverged { step, .. }) => Some(step.unwrap_or(u64::MAX)),
        _ => None,
    };
    if let Some(d) = first_differing_event(&trace.events, log) {
        let before_halt = match (&d, halted_at) {
            (Divergence::Event { step, .. }, Some(h)) => *step < h,
            _ => true,
        };
        if before_halt {
            return Err(d);
        }
    }
    if let Some(Failure::ReplayDiverged { step, message }) = failure {
        return Err(Divergence::Choices {
            step: *step,
            message: message.clone(),
        });
    }
    compare_logs(&trace.events, log)?;
    match failure {
        Some(f) if f.kind() != trace.failure.kind => Err(Divergence::Failure {
            expected: trace.failure.kind,
            actual: Some(f.kind()),
        }),
        Some(f) => {
            let actual = f.to_string();
            if actual == trace.failure.message {
                return Ok(());
            }
            Err(Divergence::Message {
                expected: first_difference(&trace.failure.message, &actual),
                actual: first_difference(&actual, &trace.failure.message),
            })
        }
        None => Err(Divergence::Failure {
            expected: trace.failure.kind,
            actual: None,
        }),
    }
}

/// The first line of `a` that differs from the same line of `b` (or `a`'s first line).
fn first_difference(a: &str, b: &str) -> String {
    let mut bl = b.lines();
    a.lines()
        .find(|l| bl.next() != Some(*l))
        .or_else(|| a.lines().next())
        .unwrap_or("")
        .to_string()
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
/// setting, nothing from the environment. A step limit outside `1..=MAX_STEPS_LIMIT` is
/// refused (it would bound neither the time nor the memory of the replay).
pub(crate) fn exec_config<B: Builtin>(trace: &Trace<B>) -> Result<ExecConfig, ReplayError> {
    let max_steps = trace.meta.max_steps;
    if max_steps == 0 || max_steps > MAX_STEPS_LIMIT {
        return Err(ReplayError::BadMeta(format!(
            "the trace's step limit is {max_steps}, outside 1..={MAX_STEPS_LIMIT}"
        )));
    }
    Ok(ExecConfig {
        memory: trace.meta.memory,
        max_steps,
        max_live_tasks: trace.meta.max_live_tasks,
        fail_on_race: trace.meta.fail_on_data_race,
    })
}

/// Replay `trace` with the check `f` (the check the trace was recorded from) and compare the
/// run with the recording. The run stops at the first recorded choice that does not fit it (an
/// option out of range, another kind or number of options, a choice past the recording's
/// end), which is a divergence at that step. Must be called outside any simulation.
pub fn replay_trace<B: Builtin>(
    trace: &Trace<B>,
    f: Rc<dyn Fn()>,
) -> Result<ReplayRun, ReplayError> {
    let exec = exec_config(trace)?;
    // A graph trace is replayed as a guide (two choices per event, one-option ones included):
    // a choice out of range is refused before the run. Other traces are replayed strictly,
    // choice by choice, and one that does not fit is a divergence at its step.
    if trace.meta.strategy == Strategy::Graph {
        if let Some((i, c)) = trace
            .choices
            .iter()
            .enumerate()
            .find(|(_, c)| c.chosen >= c.n || c.n < 1)
        {
            return Err(ReplayError::Diverged(Divergence::Choices {
                step: None,
                message: format!(
                    "recorded choice {i} takes option {} of only {} (the trace is corrupt)",
                    c.chosen, c.n
                ),
            }));
        }
    }
    let out = run_recorded(exec, trace.meta.strategy, &trace.choices, &f);
    check_run(trace, &out.log, out.failure.as_ref())?;
    Ok(ReplayRun {
        log: out.log,
        failure: out.failure,
    })
}
