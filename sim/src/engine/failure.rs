//! Why a run failed.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a task was stuck when the execution deadlocked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedTask {
    /// The task's id.
    pub task: u32,
    /// The task's name.
    pub name: String,
    /// What it waits for: `parked (gopark)`, `blocked on lock pd0.lock held by task 2`.
    pub state: String,
    /// The source location of the blocking call (`file:line:col`).
    pub site: String,
    /// Extra detail from the platform's deadlock describer (a pd's fields), or empty.
    pub detail: String,
}

/// A limit of the engine itself (never blamed on a task of the check).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EngineLimit {
    /// A new task's coroutine stack could not be mapped (too many live tasks for memory).
    CoroutineStacks,
}

impl EngineLimit {
    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            EngineLimit::CoroutineStacks => "no memory for another coroutine stack",
        }
    }
}

/// Why a schedule failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Failure {
    /// No task can run, no timed wait is pending, and some task (not a daemon) has not
    /// finished.
    Deadlock {
        /// Every unfinished task but the idle daemons, with where it blocked.
        blocked: Vec<BlockedTask>,
    },
    /// A task panicked (an assertion, or a Go `throw` ported as a panic).
    Panic {
        /// The task's id.
        task: u32,
        /// The task's name.
        name: String,
        /// The panic message.
        message: String,
        /// Where it panicked (`file:line:col`), when known.
        location: String,
    },
    /// The schedule ran more steps than allowed (a livelock, or a limit set too low).
    StepLimit {
        /// The limit.
        max_steps: u64,
    },
    /// Two accesses to a plain cell, at least one a write, not ordered by happens-before
    /// (reported as a failure only when the check asks for it).
    DataRace {
        /// The location's name.
        location: String,
        /// The task making the second access.
        task: u32,
        /// The task that made the earlier, unordered access.
        other: u32,
        /// The step of the second access.
        step: u64,
    },
    /// A plain field was written by a task that does not hold the lock protecting it.
    UnprotectedWrite {
        /// The field's name.
        field: String,
        /// The lock that protects its writes.
        lock: String,
        /// The writing task.
        task: u32,
        /// Its name.
        name: String,
        /// Where it wrote (`file:line:col`).
        site: String,
    },
    /// A checker of the platform or the check found a broken property (during the run, or
    /// once every task had finished).
    Checker {
        /// The checker's name.
        checker: String,
        /// What it found.
        message: String,
    },
    /// The engine hit one of its own limits.
    EngineLimit {
        /// Which.
        limit: EngineLimit,
        /// The details.
        detail: String,
    },
    /// A replayed choice sequence did not fit the execution (the check or engine changed).
    ReplayDiverged {
        /// What did not match.
        message: String,
    },
}

/// The kind of a [`Failure`], as recorded in traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureKind {
    /// [`Failure::Deadlock`]
    Deadlock,
    /// [`Failure::Panic`]
    Panic,
    /// [`Failure::StepLimit`]
    StepLimit,
    /// [`Failure::DataRace`]
    DataRace,
    /// [`Failure::UnprotectedWrite`]
    UnprotectedWrite,
    /// [`Failure::Checker`]
    Checker,
    /// [`Failure::EngineLimit`]
    EngineLimit,
    /// [`Failure::ReplayDiverged`]
    ReplayDiverged,
}

impl FailureKind {
    /// The short name (`deadlock`, `step-limit`, ...).
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Deadlock => "deadlock",
            FailureKind::Panic => "panic",
            FailureKind::StepLimit => "step-limit",
            FailureKind::DataRace => "data-race",
            FailureKind::UnprotectedWrite => "unprotected-write",
            FailureKind::Checker => "checker",
            FailureKind::EngineLimit => "engine-limit",
            FailureKind::ReplayDiverged => "replay-diverged",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Failure {
    /// Its kind.
    pub fn kind(&self) -> FailureKind {
        match self {
            Failure::Deadlock { .. } => FailureKind::Deadlock,
            Failure::Panic { .. } => FailureKind::Panic,
            Failure::StepLimit { .. } => FailureKind::StepLimit,
            Failure::DataRace { .. } => FailureKind::DataRace,
            Failure::UnprotectedWrite { .. } => FailureKind::UnprotectedWrite,
            Failure::Checker { .. } => FailureKind::Checker,
            Failure::EngineLimit { .. } => FailureKind::EngineLimit,
            Failure::ReplayDiverged { .. } => FailureKind::ReplayDiverged,
        }
    }

    /// Whether `other` fails "the same way" (what shrinking must preserve): the same kind,
    /// and the same panic message, the same blocked tasks and states, the same racing
    /// location, the same unprotected field, the same checker and message.
    pub fn same_as(&self, other: &Failure) -> bool {
        match (self, other) {
            (Failure::Deadlock { blocked: x }, Failure::Deadlock { blocked: y }) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|(p, q)| (&p.name, &p.state) == (&q.name, &q.state))
            }
            (Failure::Panic { message: x, .. }, Failure::Panic { message: y, .. }) => x == y,
            (Failure::StepLimit { .. }, Failure::StepLimit { .. }) => true,
            (Failure::DataRace { location: x, .. }, Failure::DataRace { location: y, .. }) => {
                x == y
            }
            (
                Failure::UnprotectedWrite { field: x, .. },
                Failure::UnprotectedWrite { field: y, .. },
            ) => x == y,
            (
                Failure::Checker {
                    checker: a,
                    message: x,
                },
                Failure::Checker {
                    checker: b,
                    message: y,
                },
            ) => a == b && x == y,
            (Failure::EngineLimit { limit: x, .. }, Failure::EngineLimit { limit: y, .. }) => {
                x == y
            }
            _ => false,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Deadlock { blocked } => {
                writeln!(f, "deadlock: no task can run and no timed wait is pending")?;
                for b in blocked {
                    write!(f, "  task {} ({}): {} at {}", b.task, b.name, b.state, b.site)?;
                    if !b.detail.is_empty() {
                        write!(f, "\n    {}", b.detail.replace('\n', "\n    "))?;
                    }
                    writeln!(f)?;
                }
                Ok(())
            }
            Failure::Panic { task, name, message, location } => {
                write!(f, "task {task} ({name}) panicked at {location}: {message}")
            }
            Failure::StepLimit { max_steps } => {
                write!(f, "step limit: the schedule ran more than {max_steps} steps (livelock?)")
            }
            Failure::DataRace { location, task, other, step } => write!(
                f,
                "data race on {location}: task {task} at step {step} and an earlier access by task {other} are not ordered by happens-before"
            ),
            Failure::UnprotectedWrite { field, lock, task, name, site } => write!(
                f,
                "unprotected write: task {task} ({name}) wrote {field} at {site} without holding {lock}, the lock that protects it"
            ),
            Failure::Checker { checker, message } => write!(f, "checker {checker}: {message}"),
            Failure::EngineLimit { limit, detail } => {
                write!(f, "engine limit: {} ({detail})", limit.describe())
            }
            Failure::ReplayDiverged { message } => write!(f, "replay diverged: {message}"),
        }
    }
}
