//! The exploration loop: run a check's schedules under a strategy until the strategy is
//! exhausted, the schedule budget is spent, or (if asked) the first failure - on one thread or
//! many, for the whole campaign or one shard of it, always with the single-threaded loop's
//! result (see [`pool`](super::pool) and [`unit`](super::unit)).

use super::dfs::Dfs;
use super::pool::{self, BodyFactory, Campaign, Counters, Observer, RangeWork, Sampler, Work};
use super::shard::Shard;
use super::split::TreeSearch;
use super::unit::{tally, Slot, TallyError, UnitKey};
use super::{Coverage, FailureInfo, Report, Strategy};
use crate::engine::choice::ChoiceSource;
use crate::engine::rt::{Engine, ExecConfig, Outcome};
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

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
    /// Threads (the calling one included); results do not depend on it.
    pub(crate) jobs: usize,
    /// The part of the campaign to run (`None`: all of it).
    pub(crate) shard: Option<Shard>,
}

/// The check, as the threads of an exploration get it.
pub(crate) struct Bodies<'a> {
    /// The calling thread's.
    pub(crate) local: &'a Rc<dyn Fn()>,
    /// Makes another thread's (without it, one job).
    pub(crate) factory: Option<&'a BodyFactory>,
}

/// What one shard (or a whole campaign) ran: every unit, in campaign order, with the
/// shard's own figures added up.
pub(crate) struct Part {
    /// A shard's units, sorted (empty for a whole campaign).
    pub(crate) units: Vec<Slot<FailureInfo>>,
    /// The part's figures: for a whole campaign, the campaign's report; for a shard, its own
    /// units added up (its first failure's index is the campaign's for a sampling strategy,
    /// and its offset in its subtree for a systematic one).
    pub(crate) report: Report,
}

impl Exploration {
    fn search(&self) -> Option<Dfs> {
        (self.strategy == Strategy::Dfs).then_some(Dfs {
            preemption_bound: self.preemption_bound,
        })
    }

    fn campaign<'a>(&self, search: Option<&'a dyn TreeSearch>) -> Campaign<'a> {
        let work = match (search, self.strategy) {
            (Some(s), _) => Work::Tree(pool::TreeWork::new(s)),
            (None, strategy) => {
                let sampler = match strategy {
                    Strategy::Pct => Sampler::Pct {
                        depth: self.pct_depth,
                    },
                    _ => Sampler::Random,
                };
                let range = match self.shard {
                    Some(s) => s.range(self.schedules),
                    None => 0..self.schedules,
                };
                Work::Range(RangeWork::new(sampler, range))
            }
        };
        Campaign {
            exec: self.exec,
            seed: self.seed,
            cap: self.schedules,
            stop: self.stop_at_first_failure,
            shard: self.shard,
            work,
            counters: Counters::default(),
        }
    }

    /// Run the campaign (or this shard of it), calling `progress` with the figures so far
    /// (only schedules, steps, failures and races are kept up to date) after every schedule
    /// the calling thread runs, and `observe` with the event log and failure of every
    /// schedule (which runs everything on the calling thread, in campaign order). The
    /// callbacks only observe.
    pub(crate) fn run_part(
        &self,
        bodies: &Bodies<'_>,
        progress: &mut dyn FnMut(&Report),
        mut observe: Option<Observer<'_>>,
    ) -> Part {
        let start = Instant::now();
        let dfs = self.search();
        let search = dfs.as_ref().map(|d| d as &dyn TreeSearch);
        let c = self.campaign(search);
        let factory = if observe.is_some() {
            None
        } else {
            bodies.factory
        };
        let mut tick = |n: &Counters, out: &Outcome| {
            if let Some(obs) = observe.as_mut() {
                obs(&out.log, out.failure.as_ref());
            }
            progress(&Report {
                schedules: n.schedules.load(Relaxed),
                steps: n.steps.load(Relaxed),
                failures: n.failures.load(Relaxed),
                races: n.races.load(Relaxed),
                ..Report::default()
            });
        };
        let units = pool::run(&c, self.jobs, bodies.local, factory, Some(&mut tick));
        let (mut report, units) = match self.shard {
            None => (self.tally(&c, search, units, bodies.local), Vec::new()),
            Some(_) => (self.shard_report(&units), units),
        };
        report.elapsed = start.elapsed();
        Part { units, report }
    }

    /// Run the whole campaign (see [`Exploration::run_part`]).
    pub(crate) fn run(
        &self,
        bodies: &Bodies<'_>,
        progress: &mut dyn FnMut(&Report),
        observe: Option<Observer<'_>>,
    ) -> Report {
        Exploration {
            shard: None,
            ..*self
        }
        .run_part(bodies, progress, observe)
        .report
    }

    /// The campaign's report from all its units.
    fn tally(
        &self,
        c: &Campaign<'_>,
        search: Option<&dyn TreeSearch>,
        units: Vec<Slot<FailureInfo>>,
        body: &Rc<dyn Fn()>,
    ) -> Report {
        let systematic = self.strategy.systematic();
        let t = tally(
            units,
            self.schedules,
            self.stop_at_first_failure,
            systematic,
            |key, n| match (key, search) {
                (UnitKey::Subtree(k), Some(s)) => Some(pool::rerun_subtree(c, s, k, n, body)),
                _ => None,
            },
        );
        let t = match t {
            Ok(t) => t,
            Err(TallyError::Missing(k)) => {
                panic!("netpoll-sim: internal error: the exploration did not run {k}")
            }
        };
        debug_assert_eq!(t.overrun, 0, "a process cuts the unit at the cap exactly");
        Report {
            schedules: t.schedules,
            steps: t.steps,
            failures: t.failures,
            races: t.races,
            coverage: t.coverage,
            first_failure: t.first_failure.map(|(index, mut info)| {
                info.schedule_index = index;
                info
            }),
            elapsed: Default::default(),
        }
    }

    /// A shard's own figures: its units added up, and its first failure.
    fn shard_report(&self, units: &[Slot<FailureInfo>]) -> Report {
        let mut r = Report::default();
        let mut all_done = true;
        for slot in units {
            match slot {
                Slot::Done(u) => {
                    r.schedules += u.schedules;
                    r.steps += u.steps;
                    r.races += u.races;
                    r.failures += u.failures;
                    all_done &= u.exhausted;
                    if let (None, Some((offset, info))) = (&r.first_failure, &u.first_failure) {
                        let mut info = info.clone();
                        if let UnitKey::Subtree(_) = u.key {
                            info.schedule_index = *offset;
                        }
                        r.first_failure = Some(info);
                    }
                }
                Slot::NotRun(_) => all_done = false,
            }
        }
        r.coverage = if self.stop_at_first_failure && r.first_failure.is_some() {
            Coverage::StoppedAtFailure
        } else if !self.strategy.systematic() {
            Coverage::Sampled
        } else if all_done {
            Coverage::Complete
        } else {
            Coverage::Capped
        };
        r
    }
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
