//! Replay: feed a trace's choices back and compare the new event log with the recorded one,
//! byte for byte.
//!
//! The comparison is pure ([`compare_logs`]): two logs match when their bincode encodings are
//! identical; otherwise the first difference is named — the first event whose encoding
//! differs (with both events rendered), a log that ends early or runs on, or a task or
//! location name that changed. [`replay_with`] runs any closure on the recorded choices;
//! [`replay_trace`] and [`replay_file`] run a check closure on the engine ([`run_choices`]).

use super::format::{read_file, Trace, TraceError};
use super::render::describe_event;
use crate::explore::replay::ReplaySource;
use crate::report::Failure;
use crate::rt::log::{Choice, Event, EventLog};
use crate::rt::{Engine, ExecConfig};
use crate::{Builder, MemoryModel};
use std::fmt;
use std::path::Path;
use std::rc::Rc;

/// The first difference between the recorded run and the replayed one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Divergence {
    /// Event `index` differs.
    Event {
        /// Index in the event log (0-based).
        index: usize,
        /// The recorded event's step.
        step: u32,
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
        expected: String,
        /// The new failure's kind, or `none`.
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
                "replay diverged: identical events, but the recorded run failed with {expected} and the replay with {actual}"
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

fn names(what: &'static str, expected: &[String], actual: &[String]) -> Result<(), Divergence> {
    for i in 0..expected.len().max(actual.len()) {
        let (e, a) = (expected.get(i), actual.get(i));
        if e != a {
            return Err(Divergence::Name {
                what,
                index: i,
                expected: e.cloned(),
                actual: a.cloned(),
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
    /// The trace is of another scenario (exit code 2).
    WrongScenario {
        /// The trace's scenario.
        trace: String,
        /// The scenario being replayed.
        requested: String,
    },
    /// The trace is of another protocol (exit code 2).
    WrongProtocol {
        /// The trace's protocol.
        trace: String,
        /// The protocol being replayed.
        requested: String,
    },
    /// The trace's metadata cannot be used (an unknown memory model, say; exit code 2).
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
            ReplayError::WrongScenario { trace, requested } => write!(
                f,
                "the trace is of scenario {trace:?}, not {requested:?}: refusing to replay it"
            ),
            ReplayError::WrongProtocol { trace, requested } => write!(
                f,
                "the trace is of protocol {trace:?}, not {requested:?}: refusing to replay it"
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

/// What a replay produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayRun {
    /// The new event log (identical to the recorded one when the replay succeeded).
    pub log: EventLog,
    /// The new run's failure.
    pub failure: Option<Failure>,
}

/// Check a replayed run against `trace`: the logs byte for byte first (so the first
/// differing step is named whenever there is one), then the failure's kind.
pub fn check_run(
    trace: &Trace,
    log: &EventLog,
    failure: Option<&Failure>,
) -> Result<(), Divergence> {
    compare_logs(&trace.events, log)?;
    match failure {
        Some(Failure::ReplayDiverged { message }) => Err(Divergence::Choices {
            message: message.clone(),
        }),
        Some(f) if super::format::failure_kind(f) == trace.failure.kind => Ok(()),
        Some(f) => Err(Divergence::Failure {
            expected: trace.failure.kind.clone(),
            actual: super::format::failure_kind(f).to_string(),
        }),
        None => Err(Divergence::Failure {
            expected: trace.failure.kind.clone(),
            actual: "none".to_string(),
        }),
    }
}

/// Replay `trace` with `run`, which executes the scenario once on the given choices and
/// returns its event log and failure; compare the result with the recording.
pub fn replay_with(
    trace: &Trace,
    run: impl FnOnce(&[Choice]) -> (EventLog, Option<Failure>),
) -> Result<ReplayRun, ReplayError> {
    let (log, failure) = run(&trace.choices);
    check_run(trace, &log, failure.as_ref())?;
    Ok(ReplayRun { log, failure })
}

/// The builder that replays `trace`: its memory model, step limit and race setting, one
/// schedule, nothing from the environment.
pub fn replay_builder(trace: &Trace) -> Result<Builder, ReplayError> {
    let memory: MemoryModel = trace.meta.memory.parse().map_err(ReplayError::BadMeta)?;
    trace.meta.faults.validate().map_err(ReplayError::BadMeta)?;
    Ok(Builder::default()
        .memory(memory)
        .max_steps(trace.meta.max_steps)
        .fail_on_data_race(trace.meta.fail_on_data_race)
        .faults(trace.meta.faults)
        .schedules(1))
}

/// Run the check closure `f` once on the engine, feeding it `choices` strictly (a choice
/// whose kind or number of options differs from the recording makes the run fail with
/// [`Failure::ReplayDiverged`]), and return its event log and failure — whether it failed
/// or not. `builder` gives the memory model, step limit and race setting.
///
/// Must be called outside any simulation.
pub fn run_choices(
    builder: &Builder,
    choices: &[Choice],
    f: impl Fn() + 'static,
) -> (EventLog, Option<Failure>) {
    let cfg = ExecConfig {
        memory: builder.memory,
        max_steps: builder.max_steps,
        fail_on_race: builder.fail_on_data_race,
        faults: builder.faults,
    };
    let mut engine = Engine::new(cfg, Box::new(ReplaySource::new(choices.to_vec())));
    let f: Rc<dyn Fn()> = Rc::new(f);
    engine.begin(0);
    let out = engine.run(&f);
    let log = engine.with(|e| e.event_log());
    (log, out.failure)
}

/// Replay `trace` on the engine with the check closure `f` (the scenario the trace was
/// recorded from) and compare the run with the recording.
pub fn replay_trace<F: Fn() + 'static>(trace: &Trace, f: F) -> Result<ReplayRun, ReplayError> {
    let b = replay_builder(trace)?;
    replay_with(trace, |choices| run_choices(&b, choices, f))
}

/// Read the trace at `path`, refuse it unless it is of `scenario` and `protocol`, and replay
/// it with `f`. Returns the trace when the run reproduces it byte for byte.
pub fn replay_file<F: Fn() + 'static>(
    path: impl AsRef<Path>,
    scenario: &str,
    protocol: &str,
    f: F,
) -> Result<Trace, ReplayError> {
    let trace = read_file(path)?;
    check_identity(&trace, scenario, protocol)?;
    replay_trace(&trace, f)?;
    Ok(trace)
}

/// Refuse a trace of another scenario or protocol.
pub fn check_identity(trace: &Trace, scenario: &str, protocol: &str) -> Result<(), ReplayError> {
    if trace.meta.scenario != scenario {
        return Err(ReplayError::WrongScenario {
            trace: trace.meta.scenario.clone(),
            requested: scenario.to_string(),
        });
    }
    if trace.meta.protocol != protocol {
        return Err(ReplayError::WrongProtocol {
            trace: trace.meta.protocol.clone(),
            requested: protocol.to_string(),
        });
    }
    Ok(())
}
