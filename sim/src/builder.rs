//! The [`Builder`]: configuration, the one place the environment is read, `check`, `explore`
//! and `replay`.

use crate::explore::dfs::DfsSource;
use crate::explore::pct::PctSource;
use crate::explore::random::RandomSource;
use crate::explore::replay::ReplaySource;
use crate::explore::ChoiceSource;
use crate::report::{FailureInfo, Report};
use crate::rt::log::Choice;
use crate::rt::{Engine, ExecConfig};
use std::fmt;
use std::rc::Rc;
use std::str::FromStr;
use std::time::Instant;

/// How schedules are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// Every choice uniformly random from a seeded ChaCha stream (one stream per schedule).
    #[default]
    Random,
    /// PCT with depth [`Builder::pct_depth`]: random task priorities plus `depth - 1` priority
    /// change points; non-schedule choices uniformly random.
    Pct,
    /// Depth-first enumeration of every choice sequence. With a preemption bound `P` it runs
    /// the bounds 0, 1, ..., P in turn (so the first failure found has the fewest
    /// preemptions); [`Report::complete`] then says the space within `P` was exhausted.
    Dfs,
}

impl FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "random" => Ok(Strategy::Random),
            "pct" => Ok(Strategy::Pct),
            "dfs" => Ok(Strategy::Dfs),
            _ => Err(format!(
                "unknown strategy {s:?} (expected random, pct or dfs)"
            )),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Random => "random",
            Strategy::Pct => "pct",
            Strategy::Dfs => "dfs",
        })
    }
}

/// The memory model (see the `memory` module and DESIGN.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryModel {
    /// Sequential consistency: every load reads the newest store; only interleavings vary.
    Sc,
    /// C11 (Rust's model), after Miri's weak-memory emulation: loads may read older stores.
    C11,
}

impl FromStr for MemoryModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sc" => Ok(MemoryModel::Sc),
            "c11" => Ok(MemoryModel::C11),
            _ => Err(format!("unknown memory model {s:?} (expected sc or c11)")),
        }
    }
}

impl fmt::Display for MemoryModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemoryModel::Sc => "sc",
            MemoryModel::C11 => "c11",
        })
    }
}

/// A bad environment variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable.
    pub var: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "netpoll-sim: bad {}={:?}: {}",
            self.var, self.value, self.reason
        )
    }
}

impl std::error::Error for ConfigError {}

/// Configures and runs simulations.
///
/// [`Builder::new`] starts from the defaults below and applies the environment variables;
/// assignments made afterwards win over the environment.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Builder {
    /// Seed of the random and PCT strategies. Default 0; `NETPOLL_SIM_SEED`.
    pub seed: u64,
    /// Most schedules to run (for `dfs`, a cap on the enumeration). Default 1000;
    /// `NETPOLL_SIM_SCHEDULES`.
    pub schedules: u64,
    /// How schedules are chosen. Default `random`; `NETPOLL_SIM_STRATEGY` (random|pct|dfs).
    pub strategy: Strategy,
    /// Memory model. Default `c11`; `NETPOLL_SIM_MEMORY` (sc|c11).
    pub memory: MemoryModel,
    /// Preemption bound of `dfs` (`None`: unbounded). Default none; `NETPOLL_SIM_PREEMPTIONS`
    /// (a number, or `none`).
    pub preemption_bound: Option<u32>,
    /// Depth `d` of `pct`. Default 3; `NETPOLL_SIM_DEPTH`.
    pub pct_depth: u32,
    /// Steps one schedule may take before it fails as a livelock. Default 100,000;
    /// `NETPOLL_SIM_MAX_STEPS`.
    pub max_steps: u64,
    /// Whether a data race on a plain cell fails the schedule (races are always counted).
    /// Default false; no environment variable.
    pub fail_on_data_race: bool,
    /// Stop at the first failing schedule. Default true; no environment variable.
    pub stop_at_first_failure: bool,
}

impl Default for Builder {
    /// The defaults, without the environment.
    fn default() -> Self {
        Builder {
            seed: 0,
            schedules: 1000,
            strategy: Strategy::Random,
            memory: MemoryModel::C11,
            preemption_bound: None,
            pct_depth: 3,
            max_steps: 100_000,
            fail_on_data_race: false,
            stop_at_first_failure: true,
        }
    }
}

fn parse<T: FromStr>(var: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    value.trim().parse::<T>().map_err(|e| ConfigError {
        var,
        value: value.to_string(),
        reason: e.to_string(),
    })
}

impl Builder {
    /// The defaults with the environment applied. Panics with a clear message on a bad value.
    pub fn new() -> Self {
        match Self::from_env() {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        }
    }

    /// The defaults with the environment applied. This is the only place that reads it.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut b = Builder::default();
        b.apply_env(|k| std::env::var(k).ok())?;
        Ok(b)
    }

    /// Apply environment-style settings from `lookup` (for tests and the command line).
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = lookup("NETPOLL_SIM_SEED") {
            self.seed = parse("NETPOLL_SIM_SEED", &v)?;
        }
        if let Some(v) = lookup("NETPOLL_SIM_SCHEDULES") {
            self.schedules = parse("NETPOLL_SIM_SCHEDULES", &v)?;
        }
        if let Some(v) = lookup("NETPOLL_SIM_STRATEGY") {
            self.strategy = parse("NETPOLL_SIM_STRATEGY", &v)?;
        }
        if let Some(v) = lookup("NETPOLL_SIM_MEMORY") {
            self.memory = parse("NETPOLL_SIM_MEMORY", &v)?;
        }
        if let Some(v) = lookup("NETPOLL_SIM_PREEMPTIONS") {
            self.preemption_bound = if v.trim() == "none" {
                None
            } else {
                Some(parse("NETPOLL_SIM_PREEMPTIONS", &v)?)
            };
        }
        if let Some(v) = lookup("NETPOLL_SIM_DEPTH") {
            let d: u32 = parse("NETPOLL_SIM_DEPTH", &v)?;
            if d == 0 {
                return Err(ConfigError {
                    var: "NETPOLL_SIM_DEPTH",
                    value: v,
                    reason: "the PCT depth must be at least 1".into(),
                });
            }
            self.pct_depth = d;
        }
        if let Some(v) = lookup("NETPOLL_SIM_MAX_STEPS") {
            self.max_steps = parse("NETPOLL_SIM_MAX_STEPS", &v)?;
        }
        Ok(())
    }

    /// Set [`Builder::seed`].
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Set [`Builder::schedules`].
    pub fn schedules(mut self, v: u64) -> Self {
        self.schedules = v;
        self
    }
    /// Set [`Builder::strategy`].
    pub fn strategy(mut self, v: Strategy) -> Self {
        self.strategy = v;
        self
    }
    /// Set [`Builder::memory`].
    pub fn memory(mut self, v: MemoryModel) -> Self {
        self.memory = v;
        self
    }
    /// Set [`Builder::preemption_bound`].
    pub fn preemption_bound(mut self, v: Option<u32>) -> Self {
        self.preemption_bound = v;
        self
    }
    /// Set [`Builder::pct_depth`].
    pub fn pct_depth(mut self, v: u32) -> Self {
        self.pct_depth = v;
        self
    }
    /// Set [`Builder::max_steps`].
    pub fn max_steps(mut self, v: u64) -> Self {
        self.max_steps = v;
        self
    }
    /// Set [`Builder::fail_on_data_race`].
    pub fn fail_on_data_race(mut self, v: bool) -> Self {
        self.fail_on_data_race = v;
        self
    }
    /// Set [`Builder::stop_at_first_failure`].
    pub fn stop_at_first_failure(mut self, v: bool) -> Self {
        self.stop_at_first_failure = v;
        self
    }

    fn exec_config(&self) -> ExecConfig {
        ExecConfig {
            memory: self.memory,
            max_steps: self.max_steps,
            fail_on_race: self.fail_on_data_race,
        }
    }

    /// Explore schedules of `f` and panic on the first failure with its report, the seed and
    /// the schedule index.
    #[track_caller]
    pub fn check<F: Fn() + 'static>(&self, f: F) {
        let r = self.explore(f);
        if let Some(ff) = &r.first_failure {
            panic!(
                "netpoll-sim: check failed (strategy {}, memory {}, seed {}, schedule {})\n{}\n{}",
                self.strategy, self.memory, ff.seed, ff.schedule_index, ff.failure, r
            );
        }
    }

    /// Explore schedules of `f` and report what happened, without panicking.
    pub fn explore<F: Fn() + 'static>(&self, f: F) -> Report {
        let phases: Vec<Box<dyn ChoiceSource>> = match self.strategy {
            Strategy::Random => vec![Box::new(RandomSource::new(self.seed))],
            Strategy::Pct => vec![Box::new(PctSource::new(self.seed, self.pct_depth))],
            Strategy::Dfs => match self.preemption_bound {
                None => vec![Box::new(DfsSource::new(None))],
                Some(p) => (0..=p)
                    .map(|b| Box::new(DfsSource::new(Some(b))) as Box<dyn ChoiceSource>)
                    .collect(),
            },
        };
        self.run_phases(Rc::new(f), phases)
    }

    /// Run one schedule of `f` from a recorded choice sequence. A mismatch between the
    /// recording and the run is reported as [`Failure::ReplayDiverged`](crate::Failure).
    pub fn replay<F: Fn() + 'static>(&self, choices: &[Choice], f: F) -> Report {
        self.run_phases(
            Rc::new(f),
            vec![Box::new(ReplaySource::new(choices.to_vec()))],
        )
    }

    fn run_phases(&self, f: Rc<dyn Fn()>, phases: Vec<Box<dyn ChoiceSource>>) -> Report {
        let start = Instant::now();
        let mut report = Report::default();
        let mut index = 0u64;
        let mut complete = false;
        'phases: for source in phases {
            complete = false;
            let mut engine = Engine::new(self.exec_config(), source);
            loop {
                if index >= self.schedules {
                    break 'phases;
                }
                if !engine.begin(index) {
                    complete = true;
                    break;
                }
                let out = engine.run(&f);
                report.schedules += 1;
                report.steps += out.steps;
                report.races += out.races;
                if let Some(failure) = out.failure {
                    report.failures += 1;
                    if report.first_failure.is_none() {
                        let (choices, log) = engine.with(|e| (e.choices.clone(), e.event_log()));
                        report.first_failure = Some(FailureInfo {
                            failure,
                            seed: self.seed,
                            schedule_index: index,
                            choices,
                            log,
                        });
                    }
                    if self.stop_at_first_failure {
                        break 'phases;
                    }
                }
                index += 1;
            }
        }
        report.complete = complete;
        report.elapsed = start.elapsed();
        report
    }
}
