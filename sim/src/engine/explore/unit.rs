//! A campaign's units and how their results add up to one report.
//!
//! A campaign (one exploration's schedules, in the order the single-threaded loop runs them)
//! is cut into *units*: consecutive schedule indices for the sampling strategies, subtrees
//! ([`SubtreeKey`]) for the systematic ones. Units run anywhere and in any order; their
//! results are then added up in campaign order ([`tally`]), which applies the schedule cap and
//! the stop at the first failure exactly as the single-threaded loop would, so the report
//! does not depend on how many threads or shards ran the units.

use super::split::SubtreeKey;
use super::Coverage;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which unit of a campaign.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum UnitKey {
    /// Schedules `start..` of a sampling strategy (random, PCT).
    Range {
        /// The first schedule's index.
        start: u64,
    },
    /// A subtree of a systematic search.
    Subtree(SubtreeKey),
}

impl fmt::Display for UnitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnitKey::Range { start } => write!(f, "schedules from {start}"),
            UnitKey::Subtree(k) => write!(f, "subtree ({k})"),
        }
    }
}

/// What running one unit did. `F` describes a failing schedule (the failure itself in a
/// process, a record of it when shards are merged).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitResult<F> {
    /// The unit.
    pub key: UnitKey,
    /// Schedules run, in the unit's order from its start (without gaps).
    pub schedules: u64,
    /// Steps, over those schedules.
    pub steps: u64,
    /// Data races seen, over those schedules.
    pub races: u64,
    /// Failing schedules among them.
    pub failures: u64,
    /// Whether the unit ran to its end (its last index, or its subtree exhausted); false when
    /// it stopped at a cap or at its first failure.
    pub exhausted: bool,
    /// The unit's first failing schedule: its offset from the unit's start, and what failed.
    pub first_failure: Option<(u64, F)>,
}

impl<F> UnitResult<F> {
    /// A unit that has run nothing yet.
    pub fn new(key: UnitKey) -> Self {
        UnitResult {
            key,
            schedules: 0,
            steps: 0,
            races: 0,
            failures: 0,
            exhausted: false,
            first_failure: None,
        }
    }

    /// The same counts with another description of the failure.
    pub fn map_failure<G>(self, f: impl FnOnce(F) -> G) -> UnitResult<G> {
        UnitResult {
            key: self.key,
            schedules: self.schedules,
            steps: self.steps,
            races: self.races,
            failures: self.failures,
            exhausted: self.exhausted,
            first_failure: self.first_failure.map(|(o, x)| (o, f(x))),
        }
    }
}

/// A unit's place in the campaign: its result, or a unit known to exist that was not run
/// (beyond the cap or the first failure, if the campaign is consistent).
#[derive(Clone, Debug)]
pub enum Slot<F> {
    /// It ran.
    Done(UnitResult<F>),
    /// It did not run.
    NotRun(UnitKey),
}

impl<F> Slot<F> {
    /// The unit.
    pub fn key(&self) -> &UnitKey {
        match self {
            Slot::Done(u) => &u.key,
            Slot::NotRun(k) => k,
        }
    }
}

/// The campaign's figures, added up in campaign order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally<F> {
    /// Schedules.
    pub schedules: u64,
    /// Steps.
    pub steps: u64,
    /// Data races seen.
    pub races: u64,
    /// Failing schedules.
    pub failures: u64,
    /// How much of the space was covered.
    pub coverage: Coverage,
    /// The first failing schedule: its index in the campaign, and what failed.
    pub first_failure: Option<(u64, F)>,
    /// Schedules counted beyond the cap: the unit that reaches the cap ran further than the
    /// cap and could not be cut there (0 in a process, which reruns that unit up to the cap).
    pub overrun: u64,
}

/// Why results do not add up to a campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TallyError {
    /// This unit is needed (it comes before the cap and the first failure) but did not run,
    /// or stopped early.
    Missing(UnitKey),
}

impl fmt::Display for TallyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TallyError::Missing(k) => write!(
                f,
                "the results lack {k}, which the campaign needs (it comes before the cap and the first failure)"
            ),
        }
    }
}

/// Add up `slots` (sorted by key, the campaign's order) as the single-threaded loop would
/// have run them: at most `cap` schedules, stopping at the first failure if `stop`.
/// `systematic`: the units are a search's subtrees, whose exhaustion is a complete verdict.
/// When a unit ran past the cap, `cut(key, n)` may give its result over its first `n`
/// schedules only (a rerun); `None` counts it whole and reports the overrun.
pub fn tally<F>(
    slots: Vec<Slot<F>>,
    cap: u64,
    stop: bool,
    systematic: bool,
    mut cut: impl FnMut(&UnitKey, u64) -> Option<UnitResult<F>>,
) -> Result<Tally<F>, TallyError> {
    let mut t = Tally {
        schedules: 0,
        steps: 0,
        races: 0,
        failures: 0,
        coverage: if systematic {
            Coverage::Complete
        } else {
            Coverage::Sampled
        },
        first_failure: None,
        overrun: 0,
    };
    let capped = if systematic {
        Coverage::Capped
    } else {
        Coverage::Sampled
    };
    for slot in slots {
        if t.schedules >= cap {
            t.coverage = capped;
            break;
        }
        let remaining = cap - t.schedules;
        let mut u = match slot {
            Slot::Done(u) => u,
            Slot::NotRun(k) => return Err(TallyError::Missing(k)),
        };
        let mut overran = false;
        if u.schedules > remaining {
            match cut(&u.key, remaining) {
                Some(c) => u = c,
                None => {
                    t.overrun += u.schedules - remaining;
                    overran = true;
                }
            }
        }
        let before = t.schedules;
        t.schedules += u.schedules;
        t.steps += u.steps;
        t.races += u.races;
        t.failures += u.failures;
        if let Some((offset, f)) = u.first_failure {
            if t.first_failure.is_none() {
                t.first_failure = Some((before + offset, f));
                if stop {
                    t.coverage = Coverage::StoppedAtFailure;
                    return Ok(t);
                }
            }
        }
        if overran {
            // The campaign ends inside this unit, whatever ran after.
            t.coverage = capped;
            break;
        }
        if !u.exhausted {
            if t.schedules >= cap {
                t.coverage = capped;
                break;
            }
            return Err(TallyError::Missing(u.key));
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(start: u64, n: u64, fail_at: Option<u64>, exhausted: bool) -> Slot<()> {
        Slot::Done(UnitResult {
            key: UnitKey::Range { start },
            schedules: n,
            steps: 10 * n,
            races: 0,
            failures: fail_at.is_some() as u64,
            exhausted,
            first_failure: fail_at.map(|o| (o, ())),
        })
    }

    #[test]
    fn adds_up_in_order_and_stops_at_the_first_failure() {
        let slots = vec![
            unit(0, 4, None, true),
            unit(4, 2, Some(1), false),
            Slot::NotRun(UnitKey::Range { start: 8 }),
        ];
        let t = tally(slots, 100, true, false, |_, _| None).unwrap();
        assert_eq!((t.schedules, t.steps, t.failures), (6, 60, 1));
        assert_eq!(t.first_failure, Some((5, ())));
        assert_eq!(t.coverage, Coverage::StoppedAtFailure);
    }

    #[test]
    fn a_unit_needed_but_not_run_is_an_error() {
        let slots = vec![
            unit(0, 4, None, true),
            Slot::NotRun(UnitKey::Range { start: 4 }),
        ];
        let e = tally(slots, 100, true, false, |_, _| None).unwrap_err();
        assert_eq!(e, TallyError::Missing(UnitKey::Range { start: 4 }));
    }

    #[test]
    fn the_cap_cuts_the_unit_that_reaches_it() {
        let slots = vec![unit(0, 4, None, true), unit(4, 5, None, true)];
        let t = tally(slots.clone(), 6, false, true, |_, _| None).unwrap();
        assert_eq!(
            (t.schedules, t.overrun, t.coverage),
            (9, 3, Coverage::Capped)
        );
        let t = tally(slots, 6, false, true, |k, n| {
            let UnitKey::Range { start } = *k else {
                unreachable!()
            };
            let Slot::Done(u) = unit(start, n, None, false) else {
                unreachable!()
            };
            Some(u)
        })
        .unwrap();
        assert_eq!(
            (t.schedules, t.overrun, t.coverage),
            (6, 0, Coverage::Capped)
        );
        let t = tally(vec![unit(0, 6, None, true)], 6, false, true, |_, _| None).unwrap();
        assert_eq!(
            t.coverage,
            Coverage::Complete,
            "exhausted exactly at the cap"
        );
    }
}
