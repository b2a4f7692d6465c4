//! What an exploration found: failures, statistics, the first failing schedule, and how much
//! of the space it covered.

use crate::engine::choice::Choice;
use crate::engine::event::EventLog;
use crate::engine::failure::Failure;
use std::fmt;
use std::time::Duration;

/// The first failing schedule of an exploration, complete enough to replay and render.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// How much of its space an exploration covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Coverage {
    /// A systematic search ran out of schedules: every schedule in its space was run (for a
    /// bounded depth-first search, every schedule within the bound).
    Complete,
    /// A systematic search stopped at its schedule cap before its space was exhausted.
    Capped,
    /// The exploration stopped at its first failure.
    StoppedAtFailure,
    /// Random or PCT sampling: a number of schedules, never a complete search.
    #[default]
    Sampled,
}

/// What the `graph` strategy counted: distinct execution graphs, each explored once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GraphCounts {
    /// Complete executions: every task that is not a daemon finished.
    pub executions: u64,
    /// Blocked executions: a task waits forever where a time-out or another order lets it
    /// go on (GenMC's blocked executions: not reported, not counted as executions).
    pub blocked: u64,
    /// Runs dropped because their graph broke read-modify-write atomicity (only their
    /// alternatives count).
    pub dropped: u64,
}

/// What an exploration did and found.
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
    /// How much of the space was covered.
    pub coverage: Coverage,
    /// The first failing schedule.
    pub first_failure: Option<FailureInfo>,
    /// Wall time spent (statistics only; nothing in a run depends on it).
    pub elapsed: Duration,
    /// For the `graph` strategy: what it counted.
    pub graph: Option<GraphCounts>,
}

impl Report {
    /// True when a systematic search exhausted its space (a complete verdict, within the
    /// search's bound).
    pub fn complete(&self) -> bool {
        self.coverage == Coverage::Complete
    }
    /// Schedules per second of wall time.
    pub fn schedules_per_sec(&self) -> f64 {
        self.schedules as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// Steps per second of wall time.
    pub fn steps_per_sec(&self) -> f64 {
        self.steps as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// What the coverage means, in words: `complete`, `stopped after N schedules: not a
    /// complete search`, ...
    pub fn verdict(&self) -> String {
        match (self.coverage, self.graph) {
            (Coverage::Complete, Some(g)) => {
                format!(
                    "complete: {} executions ({} blocked)",
                    g.executions, g.blocked
                )
            }
            (Coverage::Capped, Some(g)) => format!(
                "stopped after {} runs ({} executions, {} blocked): not a complete search",
                self.schedules, g.executions, g.blocked
            ),
            _ => self.coverage_words(),
        }
    }

    fn coverage_words(&self) -> String {
        match self.coverage {
            Coverage::Complete => "complete".to_string(),
            Coverage::Capped => format!(
                "stopped after {} schedules: not a complete search",
                self.schedules
            ),
            Coverage::StoppedAtFailure => "stopped at the first failure".to_string(),
            Coverage::Sampled => format!(
                "{} sampled schedules: not a complete search",
                self.schedules
            ),
        }
    }

    /// One line of statistics, without the failure report.
    pub fn summary_line(&self) -> String {
        format!(
            "{} schedules, {} steps, {} failures, {} races in {:.3}s ({:.0} schedules/s, {:.0} steps/s); {}",
            self.schedules,
            self.steps,
            self.failures,
            self.races,
            self.elapsed.as_secs_f64(),
            self.schedules_per_sec(),
            self.steps_per_sec(),
            self.verdict()
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
