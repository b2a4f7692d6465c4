//! The exploration loop: run a check's schedules under a strategy until the strategy is
//! exhausted, the schedule budget is spent, or (if asked) the first failure.

use super::dfs::DfsSource;
use super::pct::PctSource;
use super::random::RandomSource;
use super::{Coverage, FailureInfo, Report, Strategy};
use crate::engine::choice::ChoiceSource;
use crate::engine::event::EventLog;
use crate::engine::failure::Failure;
use crate::engine::rt::{Engine, ExecConfig, Outcome};
use std::rc::Rc;
use std::time::Instant;

/// What sees every run of an exploration: its event log and failure.
pub(crate) type Observer<'a> = &'a mut dyn FnMut(&EventLog, Option<&Failure>);

/// Everything an exploration needs besides the check.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exploration {
    pub(crate) exec: ExecConfig,
    pub(crate) strategy: Strategy,
    pub(crate) seed: u64,
    pub(crate) pct_depth: u32,
    pub(crate) preemption_bound: Option<u32>,
    pub(crate) schedules: u64,
    pub(crate) stop_at_first_failure: bool,
}

impl Exploration {
    /// The strategy's sources, run one after the other (DFS runs its bounds in turn).
    fn phases(&self) -> Vec<Box<dyn ChoiceSource>> {
        match self.strategy {
            Strategy::Random => vec![Box::new(RandomSource::new(self.seed))],
            Strategy::Pct => vec![Box::new(PctSource::new(self.seed, self.pct_depth))],
            Strategy::Graph => Vec::new(),
            Strategy::Dfs => match self.preemption_bound {
                None => vec![Box::new(DfsSource::new(None))],
                Some(p) => (0..=p)
                    .map(|b| Box::new(DfsSource::new(Some(b))) as Box<dyn ChoiceSource>)
                    .collect(),
            },
        }
    }

    /// Run schedules of `f`, calling `progress` with the report so far after every schedule
    /// (its `elapsed` is not kept up to date), and `observe` with every run's event log and
    /// failure. The callbacks only observe.
    pub(crate) fn run(
        &self,
        f: &Rc<dyn Fn()>,
        progress: &mut dyn FnMut(&Report),
        mut observe: Option<Observer<'_>>,
    ) -> Report {
        if self.strategy == Strategy::Graph {
            return super::graph::explore(
                self.exec,
                self.schedules,
                self.stop_at_first_failure,
                None,
                f,
                progress,
                observe,
            );
        }
        let start = Instant::now();
        let mut report = Report::default();
        let mut index = 0u64;
        let mut coverage = if self.strategy.systematic() {
            Coverage::Complete
        } else {
            Coverage::Sampled
        };
        let phases = self.phases();
        let n_phases = phases.len();
        'phases: for (phase, source) in phases.into_iter().enumerate() {
            let last_phase = phase + 1 == n_phases;
            let mut engine = Engine::new(self.exec, source);
            loop {
                if index >= self.schedules {
                    if self.strategy.systematic() {
                        // Is anything left? Only a strategy that has more to run was capped.
                        coverage = if engine.begin(index) || !last_phase {
                            Coverage::Capped
                        } else {
                            Coverage::Complete
                        };
                    }
                    break 'phases;
                }
                if !engine.begin(index) {
                    break;
                }
                let out = engine.run(f);
                if let Some(obs) = observe.as_mut() {
                    obs(&out.log, out.failure.as_ref());
                }
                report.schedules += 1;
                report.steps += out.steps;
                report.races += out.races;
                let failed = out.failure.is_some();
                if failed {
                    report.failures += 1;
                }
                if failed && report.first_failure.is_none() {
                    let Outcome {
                        failure,
                        choices,
                        log,
                        ..
                    } = out;
                    report.first_failure = Some(FailureInfo {
                        failure: failure.expect("failed"),
                        seed: self.seed,
                        schedule_index: index,
                        choices,
                        log,
                    });
                } else {
                    engine.recycle(out);
                }
                progress(&report);
                index += 1;
                if failed && self.stop_at_first_failure {
                    coverage = Coverage::StoppedAtFailure;
                    break 'phases;
                }
            }
        }
        report.coverage = coverage;
        report.elapsed = start.elapsed();
        report
    }
}

/// Run `f` once on recorded `choices` made by `strategy` (strictly: a choice that does not
/// fit fails the run as a divergence).
pub(crate) fn run_recorded(
    exec: ExecConfig,
    strategy: Strategy,
    choices: &[crate::engine::choice::Choice],
    f: &Rc<dyn Fn()>,
) -> Outcome {
    if strategy == Strategy::Graph {
        return super::graph::run_guided(exec, choices, f);
    }
    let source = Box::new(super::replay::ReplaySource::new(choices.to_vec()));
    run_once(exec, source, f)
}

/// Run `f` once with the choices of `source` (a replay, a shrinking candidate).
pub(crate) fn run_once(
    exec: ExecConfig,
    source: Box<dyn ChoiceSource>,
    f: &Rc<dyn Fn()>,
) -> Outcome {
    let mut engine = Engine::new(exec, source);
    engine.begin(0);
    engine.run(f)
}
