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
use crate::trace::{check_identity, read_file, replay_trace, save_in, ReplayError, Trace};
use std::fmt;
use std::path::PathBuf;
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
    /// x86-TSO: per-task FIFO store buffers; a SeqCst store (XCHG), an RMW (LOCK), a SeqCst
    /// fence (MFENCE), a lock or a scheduler call drains the task's buffer; committing a
    /// buffered store is a scheduling choice.
    Tso,
}

impl FromStr for MemoryModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sc" => Ok(MemoryModel::Sc),
            "c11" => Ok(MemoryModel::C11),
            "tso" => Ok(MemoryModel::Tso),
            _ => Err(format!(
                "unknown memory model {s:?} (expected sc, c11 or tso)"
            )),
        }
    }
}

impl fmt::Display for MemoryModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemoryModel::Sc => "sc",
            MemoryModel::C11 => "c11",
            MemoryModel::Tso => "tso",
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
    /// Memory model. Default `c11`; `NETPOLL_SIM_MEMORY` (sc|c11|tso).
    pub memory: MemoryModel,
    /// Preemption bound of `dfs` (`None`: unbounded). Default none; `NETPOLL_SIM_PREEMPTIONS`
    /// (a number, or `none`).
    pub preemption_bound: Option<u32>,
    /// Depth `d` of `pct`. Default 3; `NETPOLL_SIM_DEPTH`.
    pub pct_depth: u32,
    /// Steps one schedule may take before it fails as a livelock. Default 100,000;
    /// `NETPOLL_SIM_MAX_STEPS`.
    pub max_steps: u64,
    /// Fault probabilities for the simulated fds (error-only events, spurious events,
    /// delayed delivery); recorded in traces. Default none; `NETPOLL_SIM_FAULTS`
    /// (`none`, or e.g. `error=0.1,spurious=0.1,delay=0.1`).
    pub faults: crate::Faults,
    /// Whether a data race on a plain cell fails the schedule (races are always counted).
    /// Default false; no environment variable.
    pub fail_on_data_race: bool,
    /// Stop at the first failing schedule. Default true; no environment variable.
    pub stop_at_first_failure: bool,
    /// What the check runs, as a trace names it: a scenario (`close-unblocks-read`) and a
    /// protocol (`prefix-45211`, or empty). A named check that fails shrinks its failing
    /// schedule, saves it in [`Builder::trace_dir`] and prints the command that replays it; an
    /// unnamed one saves nothing. Default none; no environment variable.
    pub name: Option<(String, String)>,
    /// Where a failing named check saves its trace. Default `traces/` of the tested crate
    /// (`$CARGO_MANIFEST_DIR/traces`, which `cargo test` sets), else `traces/` in the current
    /// directory; `NETPOLL_SIM_TRACE_DIR`.
    pub trace_dir: Option<PathBuf>,
    /// A trace file that [`Builder::check`] replays instead of exploring (refusing a trace of
    /// another scenario or protocol than [`Builder::name`]). Default none;
    /// `NETPOLL_SIM_REPLAY`.
    pub replay_trace: Option<PathBuf>,
}

/// Oracle runs a failing named check may spend shrinking its schedule before saving it.
const CHECK_SHRINK_RUNS: u64 = 2_000;

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
            faults: crate::Faults::NONE,
            stop_at_first_failure: true,
            name: None,
            trace_dir: None,
            replay_trace: None,
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
        if let Some(v) = lookup("NETPOLL_SIM_FAULTS") {
            self.faults = parse("NETPOLL_SIM_FAULTS", &v)?;
        }
        if let Some(v) = lookup("NETPOLL_SIM_TRACE_DIR").filter(|v| !v.is_empty()) {
            self.trace_dir = Some(PathBuf::from(v));
        } else if let Some(v) = lookup("CARGO_MANIFEST_DIR").filter(|v| !v.is_empty()) {
            self.trace_dir = Some(PathBuf::from(v).join("traces"));
        }
        if let Some(v) = lookup("NETPOLL_SIM_REPLAY").filter(|v| !v.is_empty()) {
            self.replay_trace = Some(PathBuf::from(v));
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
    /// Set [`Builder::faults`].
    pub fn faults(mut self, v: crate::Faults) -> Self {
        self.faults = v;
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

    /// Set [`Builder::name`]: the scenario and protocol a failing check's trace records.
    pub fn name(mut self, scenario: impl Into<String>, protocol: impl Into<String>) -> Self {
        self.name = Some((scenario.into(), protocol.into()));
        self
    }
    /// Set [`Builder::trace_dir`].
    pub fn trace_dir(mut self, v: impl Into<PathBuf>) -> Self {
        self.trace_dir = Some(v.into());
        self
    }
    /// Set [`Builder::replay_trace`].
    pub fn replay_trace(mut self, v: Option<PathBuf>) -> Self {
        self.replay_trace = v;
        self
    }

    fn exec_config(&self) -> ExecConfig {
        ExecConfig {
            memory: self.memory,
            max_steps: self.max_steps,
            fail_on_race: self.fail_on_data_race,
            faults: self.faults,
        }
    }

    /// Explore schedules of `f` and panic on the first failure with its report, the seed and
    /// the schedule index. A named check ([`Builder::name`]) first shrinks the failing schedule
    /// and saves it as a trace in [`Builder::trace_dir`]; the panic message then ends with the
    /// one command that replays it. With [`Builder::replay_trace`] set, the check instead
    /// replays that trace once (see [`Builder::check_replay`]).
    #[track_caller]
    pub fn check<F: Fn() + 'static>(&self, f: F) {
        if let Some(path) = &self.replay_trace {
            return self.check_replay(path, f);
        }
        let f = Rc::new(f);
        let g = f.clone();
        let r = self.explore(move || g());
        if let Some(ff) = &r.first_failure {
            let saved = match &self.name {
                Some(name) => self.save_failure(name, ff, f),
                None => String::new(),
            };
            panic!(
                "netpoll-sim: check failed (strategy {}, memory {}, seed {}, schedule {})\n{}\n{}{}",
                self.strategy,
                self.memory,
                ff.seed,
                ff.schedule_index,
                ff.failure,
                r.summary_line(),
                saved
            );
        }
    }

    /// Shrink `ff`, save it as a trace and say where (or why it could not be saved).
    fn save_failure<F: Fn() + 'static>(
        &self,
        (scenario, protocol): &(String, String),
        ff: &FailureInfo,
        f: Rc<F>,
    ) -> String {
        let small = crate::shrink::shrink_failure(self, ff, CHECK_SHRINK_RUNS, move || f());
        let mut trace = Trace::from_failure_info(scenario, protocol, self, &small);
        if small.choices != ff.choices {
            trace.meta.strategy = format!("{}-shrunk", self.strategy);
        }
        let dir = self
            .trace_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("traces"));
        match save_in(&dir, &trace) {
            Ok(path) => format!(
                "\ntrace saved ({} choices, {} events): {}\nreplay it with: cargo run -p netpoll-sim -- replay {}",
                trace.choices.len(),
                trace.events.events.len(),
                path.display(),
                path.display()
            ),
            Err(e) => format!("\ncould not save the trace in {}: {e}", dir.display()),
        }
    }

    /// Replay the trace at `path` once with `f` instead of exploring, and panic with what
    /// happened: the recorded failure, reproduced byte for byte (so a debugger or `println!`
    /// sees the failing run), or the divergence. Refuses (panics) when the trace is of another
    /// scenario or protocol than [`Builder::name`], or when the check has no name. Returns
    /// normally only if the trace records no failure and replays identically.
    #[track_caller]
    pub fn check_replay<F: Fn() + 'static>(&self, path: &std::path::Path, f: F) {
        let shown = path.display();
        let Some((scenario, protocol)) = &self.name else {
            panic!(
                "netpoll-sim: NETPOLL_SIM_REPLAY={shown} is set but this check has no name to match the trace against (name it with Builder::name, or run only the test the trace came from)"
            );
        };
        let result = read_file(path)
            .map_err(ReplayError::from)
            .and_then(|t| check_identity(&t, scenario, protocol).map(|()| t))
            .and_then(|t| replay_trace(&t, f).map(|run| (t, run)));
        match result {
            Ok((t, run)) => {
                if let Some(failure) = run.failure {
                    panic!(
                        "netpoll-sim: replayed {shown} byte for byte ({} events); it fails as recorded:\n{failure}",
                        t.events.events.len()
                    );
                }
            }
            Err(e) => panic!("netpoll-sim: cannot replay {shown}: {e}"),
        }
    }

    /// Explore schedules of `f` and report what happened, without panicking.
    pub fn explore<F: Fn() + 'static>(&self, f: F) -> Report {
        self.explore_with_progress(f, |_| {})
    }

    /// [`Builder::explore`], calling `progress` with the report so far after every schedule
    /// (its `elapsed` is not kept up to date). The callback only observes: it cannot change
    /// which schedules run, so the report is the same with or without it.
    pub fn explore_with_progress<F: Fn() + 'static>(
        &self,
        f: F,
        mut progress: impl FnMut(&Report),
    ) -> Report {
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
        self.run_phases(Rc::new(f), phases, &mut progress)
    }

    /// Run one schedule of `f` from a recorded choice sequence. A mismatch between the
    /// recording and the run is reported as [`Failure::ReplayDiverged`](crate::Failure).
    pub fn replay<F: Fn() + 'static>(&self, choices: &[Choice], f: F) -> Report {
        self.run_phases(
            Rc::new(f),
            vec![Box::new(ReplaySource::new(choices.to_vec()))],
            &mut |_| {},
        )
    }

    fn run_phases(
        &self,
        f: Rc<dyn Fn()>,
        phases: Vec<Box<dyn ChoiceSource>>,
        progress: &mut dyn FnMut(&Report),
    ) -> Report {
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
                        progress(&report);
                        break 'phases;
                    }
                }
                progress(&report);
                index += 1;
            }
        }
        report.complete = complete;
        report.elapsed = start.elapsed();
        report
    }
}
