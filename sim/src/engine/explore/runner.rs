//! The exploration loop: run a check's schedules under a strategy until the strategy is
//! exhausted, the schedule budget is spent, or (if asked) the first failure - on one thread or
//! many, for the whole campaign or one shard of it, always with the single-threaded loop's
//! result (see [`pool`](super::pool) and [`unit`](super::unit)).

use super::dfs::Dfs;
pub(crate) use super::pool::Observer;
use super::pool::{self, BodyFactory, Campaign, Counters, Figures, RangeWork, Sampler, Work};
use super::shard::Shard;
use super::split::TreeSearch;
use super::unit::{tally, Slot, TallyError, UnitKey};
use super::{Coverage, FailureInfo, Report, Strategy};
use crate::engine::choice::ChoiceSource;
use crate::engine::rt::{Engine, ExecConfig, Outcome};
use std::rc::Rc;
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
        if self.strategy == Strategy::Graph {
            // One thread; a shard explores its part of the search (subtrees are
            // independent: the parts' executions add up to the whole).
            let split = self.shard.map(|s| super::graph::Split {
                index: s.index() - 1,
                of: s.count(),
            });
            let report = super::graph::explore(
                self.exec,
                self.schedules,
                self.stop_at_first_failure,
                split,
                bodies.local,
                progress,
                observe,
            );
            return Part {
                units: Vec::new(),
                report,
            };
        }
        let start = Instant::now();
        let dfs = self.search();
        let search = dfs.as_ref().map(|d| d as &dyn TreeSearch);
        let c = self.campaign(search);
        let factory = if observe.is_some() {
            None
        } else {
            bodies.factory
        };
        let mut tick = |n: &Figures, out: &Outcome| {
            if let Some(obs) = observe.as_mut() {
                obs(&out.log, out.failure.as_ref());
            }
            progress(&Report {
                schedules: n.schedules,
                steps: n.steps,
                failures: n.failures,
                races: n.races,
                ..Report::default()
            });
        };
        let ran = pool::run(&c, self.jobs, bodies.local, factory, Some(&mut tick));
        let (mut report, units) = match self.shard {
            None => (self.tally(&c, search, ran.slots, bodies.local), Vec::new()),
            Some(_) => self.shard_part(&c, search, ran, bodies.local),
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
            graph: None,
        }
    }

    /// A shard's own units, as a process that knows only them can add them up: in campaign
    /// order, the other shards' subtrees counted as one schedule each (a lower bound), up to
    /// the cap (the unit that crosses it rerun up to it) and, when the campaign stops at its
    /// first failure, up to the shard's own first failure. What is kept does not depend on
    /// the threads' timing, so a shard run again writes the same units; and nothing the
    /// campaign needs is dropped (a merge adds the shards' units up exactly).
    fn shard_part(
        &self,
        c: &Campaign<'_>,
        search: Option<&dyn TreeSearch>,
        ran: pool::Ran,
        body: &Rc<dyn Fn()>,
    ) -> (Report, Vec<Slot<FailureInfo>>) {
        let mut items: Vec<(UnitKey, Option<Slot<FailureInfo>>)> = ran
            .slots
            .into_iter()
            .map(|s| (s.key().clone(), Some(s)))
            .chain(ran.foreign.into_iter().map(|k| (UnitKey::Subtree(k), None)))
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let cap = if self.strategy.systematic() {
            self.schedules
        } else {
            u64::MAX
        };
        let mut before = 0u64;
        let mut kept = Vec::new();
        let mut all_of_it = true;
        let mut stopped = false;
        let mut r = Report::default();
        for (key, item) in items {
            if before >= cap {
                all_of_it = false;
                break;
            }
            let mut u = match item {
                None => {
                    before += 1;
                    continue;
                }
                Some(Slot::Done(u)) => u,
                Some(Slot::NotRun(k)) => {
                    panic!("netpoll-sim: internal error: the shard did not run {k}")
                }
            };
            let room = cap - before;
            if u.schedules > room {
                if let (UnitKey::Subtree(k), Some(s)) = (&key, search) {
                    u = pool::rerun_subtree(c, s, k, room, body);
                }
            }
            before = before.saturating_add(u.schedules);
            r.schedules += u.schedules;
            r.steps += u.steps;
            r.races += u.races;
            r.failures += u.failures;
            all_of_it &= u.exhausted;
            let failed = u.first_failure.is_some();
            if let (None, Some((offset, info))) = (&r.first_failure, &u.first_failure) {
                let mut info = info.clone();
                if let UnitKey::Subtree(_) = key {
                    info.schedule_index = *offset;
                }
                r.first_failure = Some(info);
            }
            kept.push(Slot::Done(u));
            if failed && self.stop_at_first_failure {
                stopped = true;
                break;
            }
        }
        r.coverage = if stopped {
            Coverage::StoppedAtFailure
        } else if !self.strategy.systematic() {
            Coverage::Sampled
        } else if all_of_it {
            Coverage::Complete
        } else {
            Coverage::Capped
        };
        (r, kept)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::EventLog;
    use crate::engine::explore::dfs::DfsSource;
    use crate::engine::memory::MemoryModel;
    use crate::engine::sync::atomic::{AtomicU32, Ordering::Relaxed};
    use crate::engine::thread;
    use std::sync::Arc;

    /// Four tasks adding to one counter, racing loads: a tree of thousands of schedules.
    fn body() -> Rc<dyn Fn()> {
        Rc::new(|| {
            let x = Arc::new(AtomicU32::new(0));
            let hs: Vec<_> = (0..3)
                .map(|_| {
                    let x = x.clone();
                    thread::spawn(move || {
                        let v = x.load(Relaxed);
                        x.store(v + 1, Relaxed);
                    })
                })
                .collect();
            x.fetch_add(1, Relaxed);
            for h in hs {
                h.join().unwrap();
            }
        })
    }

    /// Two tasks of twelve increments each: long runs, so subtrees below the cut are big.
    fn long_body() -> Rc<dyn Fn()> {
        Rc::new(|| {
            let x = Arc::new(AtomicU32::new(0));
            let x2 = x.clone();
            let h = thread::spawn(move || {
                for _ in 0..12 {
                    x2.fetch_add(1, Relaxed);
                }
            });
            for _ in 0..12 {
                x.fetch_add(1, Relaxed);
            }
            h.join().unwrap();
        })
    }

    fn dfs(bound: Option<u32>, cap: u64) -> Exploration {
        Exploration {
            exec: ExecConfig {
                memory: MemoryModel::C11,
                max_steps: 10_000,
                max_live_tasks: 16,
                fail_on_race: false,
            },
            strategy: Strategy::Dfs,
            seed: 0,
            pct_depth: 3,
            preemption_bound: bound,
            schedules: cap,
            stop_at_first_failure: false,
            jobs: 1,
            shard: None,
        }
    }

    /// The split search runs the very schedules of the plain depth-first enumeration (one
    /// source over the whole tree, as before the split), in the same order.
    #[test]
    fn the_split_search_runs_the_plain_enumeration_in_order() {
        for bound in [None, Some(2)] {
            let f = body();
            let x = dfs(bound, u64::MAX);
            let mut split: Vec<EventLog> = Vec::new();
            let r = x.run(
                &Bodies {
                    local: &f,
                    factory: None,
                },
                &mut |_| {},
                Some(
                    &mut |log: &EventLog, _: Option<&crate::engine::failure::Failure>| {
                        split.push(log.clone())
                    },
                ),
            );
            assert!(r.complete());
            let mut plain = Vec::new();
            for b in 0..=bound.unwrap_or(0) {
                let src = DfsSource::subtree(bound.map(|_| b), Vec::new(), 0);
                let mut engine = Engine::new(x.exec, Box::new(src));
                let mut i = 0;
                while engine.begin(i) {
                    plain.push(engine.run(&f).log);
                    i += 1;
                }
            }
            assert!(plain.len() > 200, "{}", plain.len());
            assert!(
                split == plain,
                "{} vs {} schedules",
                split.len(),
                plain.len()
            );
        }
    }

    /// Rerunning a subtree up to a cap gives its first schedules exactly (what cuts the
    /// unit that crosses a campaign's cap).
    #[test]
    fn a_subtree_rerun_up_to_a_cap_is_its_prefix() {
        let f = long_body();
        let x = Exploration {
            shard: Some(Shard::new(1, 1).unwrap()),
            ..dfs(Some(2), u64::MAX)
        };
        let b = Bodies {
            local: &f,
            factory: None,
        };
        let part = x.run_part(&b, &mut |_| {}, None);
        let big = part
            .units
            .iter()
            .filter_map(|s| match s {
                Slot::Done(u) => Some(u),
                _ => None,
            })
            .max_by_key(|u| u.schedules)
            .expect("units");
        assert!(big.schedules >= 3, "{}", big.schedules);
        let UnitKey::Subtree(key) = &big.key else {
            panic!("not a subtree")
        };
        let search = Dfs {
            preemption_bound: Some(2),
        };
        let c = x.campaign(Some(&search));
        let whole = pool::rerun_subtree(&c, &search, key, u64::MAX, &f);
        assert_eq!(
            (whole.schedules, whole.steps, whole.exhausted),
            (big.schedules, big.steps, true)
        );
        let cut = pool::rerun_subtree(&c, &search, key, 2, &f);
        assert_eq!((cut.schedules, cut.exhausted), (2, false));
        assert!(cut.steps < big.steps);
    }
}
