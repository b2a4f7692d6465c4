//! What a trace holds: where it came from (typed), its choices, its events, its failure.

use crate::engine::choice::Choice;
use crate::engine::event::EventLog;
use crate::engine::explore::{FailureInfo, Strategy};
use crate::engine::failure::{Failure, FailureKind};
use crate::engine::memory::MemoryModel;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::path::Path;
use std::rc::Rc;

/// A check built into a platform on top of the engine (the netpoll scenarios): the typed
/// identity a trace records, and how to run that check again.
pub trait Builtin: Clone + Debug + PartialEq + Serialize + DeserializeOwned + 'static {
    /// How the check is shown in headings and messages (`close-unblocks-read / fixed`).
    fn label(&self) -> String;
    /// The part of a trace file's name that identifies the check.
    fn file_stem(&self) -> String;
    /// The one command that replays the trace at `path`.
    fn replay_command(&self, path: &Path) -> String;
    /// The check's body: what each run of it executes.
    fn body(&self) -> Rc<dyn Fn()>;
}

/// No built-in checks: the subject of traces written where no platform is involved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoBuiltin {}

impl Builtin for NoBuiltin {
    fn label(&self) -> String {
        match *self {}
    }
    fn file_stem(&self) -> String {
        match *self {}
    }
    fn replay_command(&self, _: &Path) -> String {
        match *self {}
    }
    fn body(&self) -> Rc<dyn Fn()> {
        match *self {}
    }
}

/// A test in some crate: the check's code lives there, so replaying it means running that test
/// with `NETPOLL_SIM_REPLAY` set.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TestId {
    /// The package (`cargo test -p`).
    pub package: String,
    /// The test target: an integration test file's name (`--test`), or empty for the
    /// library's unit tests (`--lib`).
    pub target: String,
    /// The test's name as libtest reports it (`module::test_name`).
    pub name: String,
}

impl TestId {
    /// `package / target / name`.
    pub fn label(&self) -> String {
        let target = if self.target.is_empty() {
            "lib"
        } else {
            &self.target
        };
        format!("{} / {target} / {}", self.package, self.name)
    }
}

/// What a trace was recorded from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Subject<B> {
    /// A check in a test of some crate.
    Test(TestId),
    /// A check built into the platform.
    Builtin(B),
}

impl<B: Builtin> Subject<B> {
    /// How the subject is shown.
    pub fn label(&self) -> String {
        match self {
            Subject::Test(t) => t.label(),
            Subject::Builtin(b) => b.label(),
        }
    }
}

/// How the trace's run was configured and found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceMeta {
    /// The memory model.
    pub memory: MemoryModel,
    /// The strategy that found the schedule.
    pub strategy: Strategy,
    /// Whether the saved schedule went through the shrinker (it may have been minimal
    /// already).
    pub shrunk: bool,
    /// The exploration's seed.
    pub seed: u64,
    /// Which schedule of the exploration (0-based).
    pub schedule_index: u64,
    /// The step limit of the run (a step-limit failure depends on it).
    pub max_steps: u64,
    /// The most tasks alive at once (an engine-limit failure depends on it).
    pub max_live_tasks: u32,
    /// Whether a data race failed the run.
    pub fail_on_data_race: bool,
    /// `netpoll-sim`'s version when the trace was written.
    pub crate_version: String,
}

/// How the recorded run failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceFailure {
    /// Its kind.
    pub kind: FailureKind,
    /// The full report, as [`Failure`] displays it.
    pub message: String,
}

impl TraceFailure {
    /// The recorded form of `f`.
    pub fn of(f: &Failure) -> TraceFailure {
        TraceFailure {
            kind: f.kind(),
            message: f.to_string(),
        }
    }
}

/// A failing schedule: where it came from, its choices, what it did, and how it failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trace<B = NoBuiltin> {
    /// The check it was recorded from.
    pub subject: Subject<B>,
    /// How the run was configured and found.
    pub meta: TraceMeta,
    /// The choice sequence (kind and number of options kept, so replay notices early when
    /// the run no longer asks for the same choices).
    pub choices: Vec<Choice>,
    /// The event log of the run.
    pub events: EventLog,
    /// How it failed.
    pub failure: TraceFailure,
}

impl<B: Builtin> Trace<B> {
    /// The trace of `info`, a failure of `subject` found with `meta`'s configuration.
    pub fn new(subject: Subject<B>, meta: TraceMeta, info: &FailureInfo) -> Trace<B> {
        Trace {
            subject,
            meta,
            choices: info.choices.clone(),
            events: info.log.clone(),
            failure: TraceFailure::of(&info.failure),
        }
    }

    /// A descriptive file name: `{check}-{memory}-{strategy}[-shrunk]-seed{seed}-schedule{index}
    /// .trace`, every character outside `[A-Za-z0-9._-]` replaced by `_`.
    pub fn file_name(&self) -> String {
        let m = &self.meta;
        let check = match &self.subject {
            Subject::Test(t) => t.name.replace("::", "-"),
            Subject::Builtin(b) => b.file_stem(),
        };
        let shrunk = if m.shrunk { "-shrunk" } else { "" };
        let raw = format!(
            "{check}-{}-{}{shrunk}-seed{}-schedule{}.trace",
            m.memory, m.strategy, m.seed, m.schedule_index
        );
        raw.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}
