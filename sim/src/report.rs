//! What an exploration found: failures, statistics, and the first failing schedule.

use crate::rt::log::{Choice, EventLog};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Where a task was stuck when the execution deadlocked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedTask {
    /// The task's id.
    pub task: u32,
    /// The task's name.
    pub name: String,
    /// What it waits for: `parked (netpollblock)`, `lock pd0.lock held by task 2`, `join task 3`.
    pub state: String,
    /// The source location of the blocking call (`file:line:col`).
    pub site: String,
    /// Extra detail from the platform's deadlock hook (a pd's fields, say), or empty.
    pub detail: String,
}

/// Why a schedule failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Failure {
    /// No task can run, no timer is pending, and some task has not finished.
    Deadlock {
        /// Every unfinished task, with where it blocked.
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
        step: u32,
    },
    /// A replayed choice sequence did not fit the execution (the scenario or engine changed).
    ReplayDiverged {
        /// What did not match.
        message: String,
    },
    /// Every task finished, but a check of the final state registered with
    /// [`sched::at_end`](crate::sched::at_end) failed (say, a leaked waiters count).
    EndCheck {
        /// What the check found.
        message: String,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Deadlock { blocked } => {
                writeln!(f, "deadlock: no task can run and no timer is pending")?;
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
            Failure::ReplayDiverged { message } => write!(f, "replay diverged: {message}"),
            Failure::EndCheck { message } => {
                write!(f, "end check: every task finished, but {message}")
            }
        }
    }
}

/// The first failing schedule of an exploration, complete enough to replay and render.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureInfo {
    /// Why it failed.
    pub failure: Failure,
    /// The exploration's seed.
    pub seed: u64,
    /// Which schedule (0-based, in the order the strategy ran them).
    pub schedule_index: u64,
    /// The choice sequence: replaying it reproduces the execution.
    pub choices: Vec<Choice>,
    /// The execution's event log.
    pub log: EventLog,
}

impl fmt::Display for FailureInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n(seed {}, schedule {}, {} choices, {} events)",
            self.failure,
            self.seed,
            self.schedule_index,
            self.choices.len(),
            self.log.events.len()
        )
    }
}

/// What [`Builder::explore`](crate::Builder::explore) did and found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Schedules run.
    pub schedules: u64,
    /// Steps (scheduling points) run, over all schedules.
    pub steps: u64,
    /// Schedules that failed.
    pub failures: u64,
    /// Data races seen (failures only when asked), over all schedules.
    pub races: u64,
    /// True when a depth-first exploration exhausted its space (a complete, bounded verdict).
    pub complete: bool,
    /// The first failing schedule.
    pub first_failure: Option<FailureInfo>,
    /// Wall time spent (statistics only; nothing in a run depends on it).
    pub elapsed: Duration,
}

impl Report {
    /// Schedules per second of wall time.
    pub fn schedules_per_sec(&self) -> f64 {
        self.schedules as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// Steps per second of wall time.
    pub fn steps_per_sec(&self) -> f64 {
        self.steps as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl Report {
    /// One line of statistics, without the failure report.
    pub fn summary_line(&self) -> String {
        format!(
            "{} schedules, {} steps, {} failures, {} races{} in {:.3}s ({:.0} schedules/s, {:.0} steps/s)",
            self.schedules,
            self.steps,
            self.failures,
            self.races,
            if self.complete { ", complete" } else { "" },
            self.elapsed.as_secs_f64(),
            self.schedules_per_sec(),
            self.steps_per_sec()
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary_line())?;
        if let Some(ff) = &self.first_failure {
            write!(f, "\nfirst failure: {ff}")?;
        }
        Ok(())
    }
}
