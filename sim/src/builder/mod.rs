//! The [`Builder`]: configuration, and thin entry points that run checks on the engine.
//!
//! It sits above both layers: it knows the engine's strategies and models, and the netpoll
//! platform's scenario checks and faults. The environment is read through the settings table
//! ([`settings`]) only.

pub mod check;
pub mod results;
pub mod save;
pub mod settings;

use crate::engine::choice::Choice;
use crate::engine::event::EventLog;
use crate::engine::explore::{
    run_recorded, Bodies, Coverage, Exploration, FailureInfo, Report, Shard, Slot, Strategy,
};
use crate::engine::failure::Failure;
use crate::engine::memory::MemoryModel;
use crate::engine::rt::ExecConfig;
use crate::engine::trace::{read_file, replay_trace, ReplayError};
use crate::platform::faults::Faults;
use crate::platform::scenario::ScenarioCheck;
use check::{Check, IntoCheck};
use settings::{ConfigError, Env};
use std::path::{Path, PathBuf};

/// A trace of this crate: its subject is a test, or a built-in scenario check.
pub type Trace = crate::engine::trace::Trace<ScenarioCheck>;
/// What a trace of this crate records as its check.
pub type Subject = crate::engine::trace::Subject<ScenarioCheck>;

/// Configures and runs simulations.
///
/// [`Builder::new`] starts from the defaults below and applies the environment variables of
/// the settings table ([`settings::SETTINGS`]); assignments made afterwards win over the
/// environment.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Builder {
    /// Seed of the random and PCT strategies. Default 0; `NETPOLL_SIM_SEED`.
    pub seed: u64,
    /// Most schedules to run, at least 1 (for `dfs`, a cap on the enumeration). Default
    /// 1000; `NETPOLL_SIM_SCHEDULES`.
    pub schedules: u64,
    /// How schedules are chosen. Default `random`; `NETPOLL_SIM_STRATEGY`.
    pub strategy: Strategy,
    /// Memory model. Default `c11`; `NETPOLL_SIM_MEMORY`.
    pub memory: MemoryModel,
    /// Preemption bound of `dfs` (`None`: unbounded). Default none;
    /// `NETPOLL_SIM_PREEMPTIONS`.
    pub preemption_bound: Option<u32>,
    /// Depth `d` of `pct`, from 1 to the step limit. Default 3; `NETPOLL_SIM_DEPTH`.
    pub pct_depth: u32,
    /// Steps one schedule may take before it fails as a livelock. Default 100,000;
    /// `NETPOLL_SIM_MAX_STEPS`.
    pub max_steps: u64,
    /// Tasks a run may have alive at once (each holds a coroutine stack); one more fails the
    /// run as an engine limit. Default [`MAX_LIVE_TASKS`]; no environment variable.
    pub max_live_tasks: u32,
    /// Faults of the simulated kernel for scenario checks (recorded in their traces).
    /// Default none; `NETPOLL_SIM_FAULTS`.
    pub faults: Faults,
    /// Whether a data race on a plain cell fails the schedule (races are always counted).
    /// Default false; no environment variable.
    pub fail_on_data_race: bool,
    /// Stop at the first failing schedule. Default true; no environment variable.
    pub stop_at_first_failure: bool,
    /// Oracle runs a failing check may spend shrinking its schedule before saving it.
    /// Default 5,000; no environment variable.
    pub shrink_runs: u64,
    /// Where a failing check saves its trace. Default `netpoll-sim/traces` in the cargo
    /// target directory, which `cargo test` never replays; `NETPOLL_SIM_TRACE_DIR`.
    pub trace_dir: Option<PathBuf>,
    /// A trace that [`Builder::check`] replays instead of exploring (refusing a trace of
    /// another check). Default none; `NETPOLL_SIM_REPLAY`.
    pub replay_trace: Option<PathBuf>,
    /// Threads an exploration runs on, the calling one included (1 to [`MAX_JOBS`]). The
    /// report does not depend on it: the same schedules, failures and first failing index.
    /// Default the core count; `NETPOLL_SIM_JOBS`.
    pub jobs: usize,
    /// Run only this part of the campaign (see [`Shard`]); default none (all of it);
    /// `NETPOLL_SIM_SHARD`. [`Builder::shard_from_batch_env`] takes it from a batch engine.
    pub shard: Option<Shard>,
    /// How many shards a Kubernetes Indexed Job has (its `completions`), for
    /// [`Builder::shard_from_batch_env`]. Default none; `NETPOLL_SIM_SHARD_COUNT`.
    pub shard_count: Option<u32>,
    /// The environment this builder was made from (what it says about the test).
    env: Env,
}

/// How an exploration's threads get `c`.
fn bodies(c: &Check) -> Bodies<'_> {
    Bodies {
        local: &c.body,
        factory: c
            .share
            .as_ref()
            .map(|f| &**f as &crate::engine::explore::BodyFactory),
    }
}

/// Whether two test identities are checks of the same test (they differ at most in which
/// check of the test they are).
fn same_test(a: &crate::engine::trace::TestId, b: &crate::engine::trace::TestId) -> bool {
    let base = |n: &str| n.split('#').next().unwrap_or(n).to_string();
    (&a.package, &a.target, base(&a.name)) == (&b.package, &b.target, base(&b.name))
}

/// Tasks a run may have alive at once by default: each holds a 256 KiB coroutine stack (of
/// virtual memory) and two memory mappings, which keeps a run well inside Linux's default
/// `vm.max_map_count`.
pub const MAX_LIVE_TASKS: u32 = 16_384;

/// Oracle runs spent shrinking a failing schedule before it is saved.
pub const SHRINK_RUNS: u64 = 5_000;

/// The most threads an exploration may use.
pub const MAX_JOBS: usize = 1024;

/// Threads an exploration uses by default: the cores this process may use.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_JOBS)
}

/// What one shard of a campaign ran (see [`Builder::explore_shard`]).
#[derive(Clone, Debug)]
pub struct ShardRun {
    /// The shard's own figures: its units added up, its first failure (whose
    /// `schedule_index` is the campaign's index for random and PCT, and its offset in its
    /// subtree for dfs).
    pub report: Report,
    /// Every unit of the campaign this shard ran or dropped, in campaign order (what a merge
    /// adds up).
    pub units: Vec<Slot<FailureInfo>>,
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
            max_live_tasks: MAX_LIVE_TASKS,
            faults: Faults::NONE,
            fail_on_data_race: false,
            stop_at_first_failure: true,
            shrink_runs: SHRINK_RUNS,
            trace_dir: None,
            replay_trace: None,
            jobs: default_jobs(),
            shard: None,
            shard_count: None,
            env: Env::default(),
        }
    }
}

impl Builder {
    /// The defaults with the environment applied. Panics with a clear message on a bad value.
    pub fn new() -> Self {
        match Self::from_env() {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        }
    }

    /// The defaults with the environment applied.
    pub fn from_env() -> Result<Self, ConfigError> {
        Builder::with_env(Env::read())
    }

    /// The defaults with `env` applied (for tests and tools).
    pub fn with_env(env: Env) -> Result<Self, ConfigError> {
        let mut b = Builder::default();
        env.apply(&mut b)?;
        b.env = env;
        Ok(b)
    }

    /// Check the settings together: `Err((variable, reason))` for the first that does not
    /// fit.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.schedules == 0 {
            return Err((
                "NETPOLL_SIM_SCHEDULES",
                "zero schedules would check nothing".into(),
            ));
        }
        if self.max_steps == 0 || self.max_steps > settings::MAX_STEPS_LIMIT {
            return Err((
                "NETPOLL_SIM_MAX_STEPS",
                format!(
                    "the step limit must be from 1 to {}",
                    settings::MAX_STEPS_LIMIT
                ),
            ));
        }
        if self.jobs == 0 || self.jobs > MAX_JOBS {
            return Err((
                "NETPOLL_SIM_JOBS",
                format!("the number of jobs must be from 1 to {MAX_JOBS}"),
            ));
        }
        if self.memory == MemoryModel::Imm && self.strategy != Strategy::Graph {
            return Err((
                "NETPOLL_SIM_MEMORY",
                "memory model imm is explored by the graph strategy only (add --strategy graph)"
                    .into(),
            ));
        }
        if self.pct_depth == 0 || self.pct_depth as u64 > self.max_steps {
            return Err((
                "NETPOLL_SIM_DEPTH",
                format!(
                    "the PCT depth must be from 1 to the step limit ({})",
                    self.max_steps
                ),
            ));
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
    pub fn faults(mut self, v: Faults) -> Self {
        self.faults = v;
        self
    }
    /// Set [`Builder::max_live_tasks`].
    pub fn max_live_tasks(mut self, v: u32) -> Self {
        self.max_live_tasks = v;
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
    /// Set [`Builder::shrink_runs`].
    pub fn shrink_runs(mut self, v: u64) -> Self {
        self.shrink_runs = v;
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
    /// Set [`Builder::jobs`].
    pub fn jobs(mut self, v: usize) -> Self {
        self.jobs = v;
        self
    }
    /// Set [`Builder::shard`].
    pub fn shard(mut self, v: Option<Shard>) -> Self {
        self.shard = v;
        self
    }
    /// Set [`Builder::shard_count`].
    pub fn shard_count(mut self, v: Option<u32>) -> Self {
        self.shard_count = v;
        self
    }

    /// With no [`Builder::shard`] set, take it from the batch engine running this process
    /// (through the settings' one environment reader, [`Env`]): a Kubernetes Indexed Job
    /// (`JOB_COMPLETION_INDEX`, from 0, with [`Builder::shard_count`]) or a Slurm job array
    /// (`SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT`, with `SLURM_ARRAY_TASK_MIN` and
    /// `SLURM_ARRAY_TASK_STEP` when set). `netpoll-sim explore` does this; a test's checks
    /// do not (a test suite run inside a job array is not sharded behind its back).
    pub fn shard_from_batch_env(self, env: &Env) -> Result<Self, ConfigError> {
        if self.shard.is_some() {
            return Ok(self);
        }
        let shard = env.batch_shard(self.shard_count)?;
        Ok(self.shard(shard))
    }

    /// The engine configuration of a run.
    pub(crate) fn exec_config(&self) -> ExecConfig {
        ExecConfig {
            memory: self.memory,
            max_steps: self.max_steps,
            max_live_tasks: self.max_live_tasks,
            fail_on_race: self.fail_on_data_race,
        }
    }

    fn exploration(&self) -> Exploration {
        Exploration {
            exec: self.exec_config(),
            strategy: self.strategy,
            seed: self.seed,
            pct_depth: self.pct_depth,
            preemption_bound: self.preemption_bound,
            schedules: self.schedules,
            stop_at_first_failure: self.stop_at_first_failure,
            jobs: self.jobs,
            shard: self.shard,
        }
    }

    /// Where failing checks save traces: [`Builder::trace_dir`], else `netpoll-sim/traces`
    /// in the cargo target directory.
    pub fn traces_dir(&self) -> PathBuf {
        if let Some(d) = &self.trace_dir {
            return d.clone();
        }
        let target = self
            .env
            .path("CARGO_TARGET_DIR")
            .or_else(|| {
                // A test binary lives in `<target>/<profile>/deps/`.
                let exe = std::env::current_exe().ok()?;
                let deps = exe.parent()?;
                (deps.file_name()? == "deps")
                    .then(|| deps.parent()?.parent().map(Path::to_path_buf))?
            })
            .unwrap_or_else(|| PathBuf::from("target"));
        target.join("netpoll-sim").join("traces")
    }

    /// Explore schedules of `check` and panic on the first failure with its report, the
    /// seed and the schedule index. When the check's subject is known (a scenario check, or
    /// a check in a test), the failing schedule is first shrunk and saved as a trace (see
    /// [`Builder::trace_dir`]), and the panic message ends with the one command that
    /// replays it. With [`Builder::replay_trace`] set, the check instead replays that trace
    /// once.
    #[track_caller]
    pub fn check<C: IntoCheck>(&self, check: C) {
        if let Err((var, reason)) = self.validate() {
            panic!("netpoll-sim: bad {var}: {reason}");
        }
        let c = check.into_check(self, &self.env);
        if let Some(path) = &self.replay_trace {
            return self.check_replay(path, &c);
        }
        let r = self.exploration().run(&bodies(&c), &mut |_| {}, None);
        let Some(ff) = &r.first_failure else {
            return;
        };
        let saved = match &c.subject {
            Some(s) => match save::save_failure(self, s, ff, &c.body, true, &self.traces_dir()) {
                Ok(saved) => format!("\n{}", saved.describe()),
                Err(e) => format!("\ncould not save the trace: {e}"),
            },
            None => "\n(not saved: run it inside a cargo test to get a replayable trace)".into(),
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

    /// Replay the trace at `path` once with `c` instead of exploring, and panic with what
    /// happened: the recorded failure, reproduced byte for byte (so a debugger or `println!`
    /// sees the failing run), or the divergence. Refuses a trace of another check.
    #[track_caller]
    fn check_replay(&self, path: &Path, c: &Check) {
        let shown = path.display();
        let trace: Trace = match read_file(path) {
            Ok(t) => t,
            Err(e) => panic!("netpoll-sim: cannot replay {shown}: {e}"),
        };
        match (&c.subject, &trace.subject) {
            (Some(a), b) if a == b => {}
            // Another check of the same test: this one is not the trace's, the other is.
            (Some(Subject::Test(a)), Subject::Test(b)) if same_test(a, b) => {
                eprintln!(
                    "netpoll-sim: NETPOLL_SIM_REPLAY={shown} is of {:?}; {:?} is skipped",
                    b.label(),
                    a.label()
                );
                return;
            }
            (this, _) => {
                let this = this
                    .as_ref()
                    .map_or("an unnamed check".to_string(), |s| s.label());
                panic!(
                    "netpoll-sim: cannot replay {shown}: the trace is of {:?}, not {this:?}: refusing to replay it",
                    trace.subject.label()
                );
            }
        }
        match replay_trace(&trace, c.body.clone()) {
            Ok(run) => {
                if let Some(failure) = run.failure {
                    panic!(
                        "netpoll-sim: replayed {shown} byte for byte ({} events); it fails as recorded:\n{failure}",
                        trace.events.events.len()
                    );
                }
            }
            Err(e) => panic!("netpoll-sim: cannot replay {shown}: {e}"),
        }
    }

    /// Explore schedules of `check` and report what happened, without panicking or saving.
    pub fn explore<C: IntoCheck>(&self, check: C) -> Report {
        self.explore_with_progress(check, |_| {})
    }

    /// [`Builder::explore`], calling `progress` with the figures so far (schedules, steps,
    /// failures and races, over all threads) after every schedule the calling thread runs.
    /// The callback only observes: it cannot change which schedules run, so the report is
    /// the same with or without it.
    pub fn explore_with_progress<C: IntoCheck>(
        &self,
        check: C,
        mut progress: impl FnMut(&Report),
    ) -> Report {
        if let Err((var, reason)) = self.validate() {
            panic!("netpoll-sim: bad {var}: {reason}");
        }
        let c = check.into_check(self, &self.env);
        self.exploration().run(&bodies(&c), &mut progress, None)
    }

    /// [`Builder::explore`], calling `observe` with the event log and failure of every
    /// schedule run (to count outcomes or distinct executions, say), in schedule order: it
    /// runs on the calling thread only, whatever [`Builder::jobs`] says. It only observes.
    pub fn explore_observing<C: IntoCheck>(
        &self,
        check: C,
        mut observe: impl FnMut(&EventLog, Option<&Failure>),
    ) -> Report {
        if let Err((var, reason)) = self.validate() {
            panic!("netpoll-sim: bad {var}: {reason}");
        }
        let c = check.into_check(self, &self.env);
        self.exploration()
            .run(&bodies(&c), &mut |_| {}, Some(&mut observe))
    }

    /// Run this builder's [`Builder::shard`] of the campaign (all of it when none is set,
    /// as shard 1 of 1), calling `progress` as [`Builder::explore_with_progress`] does: the
    /// shard's own figures and every unit it ran, for a result file that a merge adds up
    /// with the other shards' (see [`results`]).
    pub fn explore_shard<C: IntoCheck>(&self, check: C, progress: impl FnMut(&Report)) -> ShardRun {
        let c = check.into_check(self, &self.env);
        self.explore_shard_prepared(&c, progress)
    }

    /// [`Builder::explore_shard`] of a check already prepared ([`Builder::prepare`]).
    pub fn explore_shard_prepared(&self, c: &Check, mut progress: impl FnMut(&Report)) -> ShardRun {
        let shard = self
            .shard
            .unwrap_or_else(|| Shard::new(1, 1).expect("1/1 is a shard"));
        let x = Exploration {
            shard: Some(shard),
            ..self.exploration()
        };
        let part = x.run_part(&bodies(c), &mut progress, None);
        ShardRun {
            report: part.report,
            units: part.units,
        }
    }

    /// Replay the trace at `path` of a built-in check with that check; a trace of a test is
    /// refused with the command that replays it where it lives.
    pub fn replay_builtin(
        trace: &Trace,
        path: &Path,
    ) -> Result<crate::engine::trace::ReplayRun, ReplayError> {
        if let Subject::Builtin(b) = &trace.subject {
            b.faults.validate().map_err(ReplayError::BadMeta)?;
        }
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        crate::engine::trace::replay_builtin(trace, |t| check::test_replay_command(t, &abs))
    }

    /// Run `check` once, on the recorded choices of `trace`, and compare.
    pub fn replay<C: IntoCheck>(
        &self,
        trace: &Trace,
        check: C,
    ) -> Result<crate::engine::trace::ReplayRun, ReplayError> {
        let c = check.into_check(self, &self.env);
        replay_trace(trace, c.body)
    }

    /// Run `check` once on the recorded `choices` (strictly: a choice that does not fit fails
    /// the run as a divergence) and report it like an exploration of one schedule.
    pub fn replay_choices<C: IntoCheck>(&self, choices: &[Choice], check: C) -> Report {
        let c = check.into_check(self, &self.env);
        let start = std::time::Instant::now();
        let out = run_recorded(self.exec_config(), self.strategy, choices, &c.body);
        let failed = out.failure.is_some();
        Report {
            schedules: 1,
            steps: out.steps,
            failures: failed as u64,
            races: out.races,
            coverage: Coverage::Sampled,
            first_failure: out.failure.map(|failure| FailureInfo {
                failure,
                seed: self.seed,
                schedule_index: 0,
                choices: if self.strategy == Strategy::Graph {
                    choices.to_vec()
                } else {
                    out.choices
                },
                log: out.log,
            }),
            elapsed: start.elapsed(),
            graph: None,
        }
    }

    /// The trace of `info`, a failure of `subject` found with this builder's configuration
    /// (`shrunk`: the schedule is a shrunk form of the one found).
    pub fn trace(&self, subject: Subject, info: &FailureInfo, shrunk: bool) -> Trace {
        let meta = crate::engine::trace::TraceMeta {
            memory: self.memory,
            strategy: self.strategy,
            shrunk,
            seed: info.seed,
            schedule_index: info.schedule_index,
            max_steps: self.max_steps,
            max_live_tasks: self.max_live_tasks,
            fail_on_data_race: self.fail_on_data_race,
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        Trace::new(subject, meta, info)
    }

    /// Shrink the failing schedule `ff` of `check` with at most [`Builder::shrink_runs`]
    /// runs: the smallest schedule found that fails the same way (`ff` itself if none),
    /// with its exact choices, log and failure.
    pub fn shrink<C: IntoCheck>(&self, ff: &FailureInfo, check: C) -> FailureInfo {
        let c = check.into_check(self, &self.env);
        crate::engine::shrink::shrink_failure(
            self.exec_config(),
            self.strategy,
            ff,
            self.shrink_runs,
            &c.body,
        )
    }

    /// `check` under this builder's configuration: its subject and body (for tools that
    /// run or save it themselves).
    pub fn prepare<C: IntoCheck>(&self, check: C) -> Check {
        check.into_check(self, &self.env)
    }
}
