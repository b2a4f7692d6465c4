//! Schedule minimisation: from a failing choice sequence, find a smaller one that still fails
//! the same way, so the trace a person reads has as few preemptions and stale reads as
//! possible.
//!
//! Option 0 of every choice is the default: keep running the current task, read the newest
//! store, take the scenario's first option. A sequence is smaller when it departs from the
//! default fewer times, then when its last departure comes earlier, then when the options it
//! takes are lower ([`cost`]). The shrinker tries, in rounds until a round gains nothing or
//! the budget of runs is spent:
//!
//! 1. truncating: dropping a suffix (the run then takes option 0 wherever the sequence ran out);
//! 2. zeroing chunks, halving the chunk size down to single choices (removes preemptions and
//!    stale reads);
//! 3. deleting chunks (a choice that no longer exists shifts the later ones);
//! 4. lowering each remaining option towards 1.
//!
//! Each candidate runs through an oracle that executes the scenario *leniently* — each kind of
//! choice drawn from the candidate's choices of that kind in order, option 0 once they run
//! out, an index too large for the options offered clamped — and, if the run fails the same way as the original, returns the choices
//! the run actually made. A candidate is kept only when that actual sequence is strictly
//! smaller, so shrinking always terminates, and the result is an exact, strictly replayable
//! choice sequence.

use crate::engine::choice::Choice;
use crate::engine::explore::lenient::LenientSource;
use crate::engine::explore::FailureInfo;
use crate::engine::rt::{Engine, ExecConfig};
use std::cell::RefCell;
use std::rc::Rc;

/// How far a choice sequence is from the all-default run: (choices not 0, position after the
/// last choice not 0, sum of the options taken). Smaller is simpler.
pub fn cost(choices: &[Choice]) -> (usize, usize, u64) {
    let departures = choices.iter().filter(|c| c.chosen != 0).count();
    let end = choices
        .iter()
        .rposition(|c| c.chosen != 0)
        .map_or(0, |i| i + 1);
    let sum = choices.iter().map(|c| c.chosen as u64).sum();
    (departures, end, sum)
}

/// The result of [`shrink`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shrunk {
    /// The smallest failing sequence found (the original if nothing smaller failed): the
    /// exact choices of that run.
    pub choices: Vec<Choice>,
    /// Oracle runs spent.
    pub runs: u64,
}

struct Shrinker<O> {
    cur: Vec<Choice>,
    runs: u64,
    max_runs: u64,
    oracle: O,
}

impl<O: FnMut(&[Choice]) -> Option<Vec<Choice>>> Shrinker<O> {
    /// Run `cand`; keep the run's actual choices if it failed the same way and is smaller.
    fn attempt(&mut self, cand: &[Choice]) -> bool {
        if self.runs >= self.max_runs || cost(cand) >= cost(&self.cur) {
            return false;
        }
        self.runs += 1;
        match (self.oracle)(cand) {
            Some(actual) if cost(&actual) < cost(&self.cur) => {
                self.cur = actual;
                true
            }
            _ => false,
        }
    }

    fn truncate(&mut self) {
        let mut step = cost(&self.cur).1 / 2;
        while step > 0 {
            let end = cost(&self.cur).1;
            let cand = self.cur[..end.saturating_sub(step)].to_vec();
            if !self.attempt(&cand) {
                step /= 2;
            }
        }
    }

    fn zero_chunks(&mut self) {
        let mut size = (cost(&self.cur).1 / 2).max(1);
        loop {
            let mut i = 0;
            while i < self.cur.len() {
                let end = (i + size).min(self.cur.len());
                if self.cur[i..end].iter().all(|c| c.chosen == 0) {
                    i += size;
                    continue;
                }
                let mut cand = self.cur.clone();
                for c in &mut cand[i..end] {
                    c.chosen = 0;
                }
                if !self.attempt(&cand) {
                    i += size;
                }
            }
            if size == 1 {
                break;
            }
            size /= 2;
        }
    }

    fn delete_chunks(&mut self) {
        let mut size = (cost(&self.cur).1 / 2).max(1);
        loop {
            let mut i = 0;
            while i < self.cur.len() {
                let end = (i + size).min(self.cur.len());
                let mut cand = self.cur.clone();
                cand.drain(i..end);
                if !self.attempt(&cand) {
                    i += size;
                }
            }
            if size == 1 {
                break;
            }
            size /= 2;
        }
    }

    fn lower_values(&mut self) {
        let mut i = 0;
        while i < self.cur.len() {
            let v = self.cur[i].chosen;
            let mut lowered = false;
            for lower in 1..v {
                let mut cand = self.cur.clone();
                cand[i].chosen = lower;
                if self.attempt(&cand) {
                    lowered = true;
                    break;
                }
            }
            if !lowered {
                i += 1;
            }
        }
    }
}

/// Shrink the failing sequence `original` with at most `max_runs` oracle runs.
///
/// `oracle(candidate)` runs the scenario leniently on `candidate` (see the module
/// documentation) and returns the choices the run made when it failed the same way as the
/// original, `None` otherwise.
pub fn shrink(
    original: &[Choice],
    max_runs: u64,
    oracle: impl FnMut(&[Choice]) -> Option<Vec<Choice>>,
) -> Shrunk {
    let mut s = Shrinker {
        cur: original.to_vec(),
        runs: 0,
        max_runs,
        oracle,
    };
    loop {
        let before = cost(&s.cur);
        s.truncate();
        s.zero_chunks();
        s.delete_chunks();
        s.lower_values();
        if cost(&s.cur) >= before || s.runs >= s.max_runs {
            break;
        }
    }
    Shrunk {
        choices: s.cur,
        runs: s.runs,
    }
}

/// Shrink the failing schedule `info` of the check `f` under `exec` (memory model, step
/// limit, race setting), with at most `max_runs` runs. Returns the smallest failing schedule
/// found (`info` itself when nothing smaller fails the same way), with its exact choices,
/// event log and failure: it replays strictly.
///
/// Must be called outside any simulation.
pub(crate) fn shrink_failure(
    exec: ExecConfig,
    strategy: crate::engine::explore::Strategy,
    info: &FailureInfo,
    max_runs: u64,
    f: &Rc<dyn Fn()>,
) -> FailureInfo {
    if strategy == crate::engine::explore::Strategy::Graph {
        // A graph trace is shrunk to what the failure depends on.
        return crate::engine::explore::graph::shrink(exec, info, f);
    }
    let candidate = Rc::new(RefCell::new(Vec::new()));
    let source = LenientSource::new(candidate.clone());
    let mut engine = Engine::new(exec, Box::new(source));
    let mut best = info.clone();
    let mut index = 0u64;
    let shrunk = shrink(&info.choices, max_runs, |cand| {
        *candidate.borrow_mut() = cand.to_vec();
        engine.begin(index);
        index += 1;
        let out = engine.run(f);
        let same = out
            .failure
            .as_ref()
            .is_some_and(|failure| failure.same_as(&info.failure));
        if !same {
            engine.recycle(out);
            return None;
        }
        let choices = out.choices.clone();
        if cost(&out.choices) < cost(&best.choices) {
            best = FailureInfo {
                failure: out.failure.expect("failed"),
                choices: out.choices,
                log: out.log,
                ..info.clone()
            };
        } else {
            engine.recycle(out);
        }
        Some(choices)
    });
    debug_assert_eq!(shrunk.choices, best.choices);
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::choice::ChoiceKind;

    /// Choices a toy program makes: always `LEN` of them with `N` options; the candidate is a
    /// prefix, option 0 after it, clamped like the lenient replay.
    const LEN: usize = 24;
    const N: u32 = 4;

    fn run_toy(cand: &[Choice]) -> Vec<Choice> {
        (0..LEN)
            .map(|i| Choice {
                kind: if i % 3 == 0 {
                    ChoiceKind::LoadStore
                } else {
                    ChoiceKind::Schedule
                },
                n: N,
                chosen: cand.get(i).map_or(0, |c| c.chosen.min(N - 1)),
            })
            .collect()
    }

    fn seq(values: &[u32]) -> Vec<Choice> {
        let cand: Vec<Choice> = values
            .iter()
            .map(|&v| Choice {
                kind: ChoiceKind::Schedule,
                n: N,
                chosen: v,
            })
            .collect();
        run_toy(&cand)
    }

    /// Fails when some choice >= 2 is later followed by a choice == 1 (an "ordering bug").
    fn ordering_bug(c: &[Choice]) -> bool {
        match c.iter().position(|c| c.chosen >= 2) {
            Some(i) => c[i + 1..].iter().any(|c| c.chosen == 1),
            None => false,
        }
    }

    fn oracle(bug: fn(&[Choice]) -> bool) -> impl FnMut(&[Choice]) -> Option<Vec<Choice>> {
        move |cand| {
            let actual = run_toy(cand);
            bug(&actual).then_some(actual)
        }
    }

    #[test]
    fn shrinks_an_ordering_bug_to_two_departures() {
        let original = seq(&[
            3, 1, 2, 0, 3, 3, 1, 2, 2, 1, 0, 3, 1, 1, 2, 3, 0, 2, 1, 3, 2, 1, 1, 2,
        ]);
        assert!(ordering_bug(&original));
        let s = shrink(&original, 10_000, oracle(ordering_bug));
        assert!(ordering_bug(&s.choices));
        assert_eq!(
            s.choices.len(),
            LEN,
            "the exact choices of the run are kept"
        );
        let values: Vec<u32> = s.choices.iter().map(|c| c.chosen).collect();
        let mut want = vec![0; LEN];
        want[0] = 2;
        want[1] = 1;
        assert_eq!(values, want);
        assert!(s.runs > 0 && s.runs < 10_000);
    }

    #[test]
    fn lowers_values_and_truncates() {
        // Fails when the options taken add up to at least 3.
        let bug: fn(&[Choice]) -> bool = |c| c.iter().map(|c| c.chosen).sum::<u32>() >= 3;
        let original = seq(&[0, 0, 1, 3, 0, 2, 3, 3, 1, 0, 0, 2]);
        let s = shrink(&original, 10_000, oracle(bug));
        assert!(bug(&s.choices));
        assert_eq!(cost(&s.choices), (1, 1, 3));
    }

    #[test]
    fn respects_the_budget_and_keeps_a_minimal_original() {
        let original = seq(&[2, 1]);
        let mut calls = 0;
        let s = shrink(&original, 1_000, |c| {
            calls += 1;
            oracle(ordering_bug)(c)
        });
        assert_eq!(s.choices, original);
        assert_eq!(s.runs, calls);

        let big = seq(&[3, 1, 2, 0, 3, 3, 1, 2, 2, 1, 0, 3, 1, 1, 2, 3]);
        let s = shrink(&big, 3, oracle(ordering_bug));
        assert!(s.runs <= 3);
        assert!(ordering_bug(&s.choices));
        assert!(cost(&s.choices) <= cost(&big));
    }

    #[test]
    fn cost_orders_by_departures_then_end_then_sum() {
        assert!(cost(&seq(&[0, 3])) < cost(&seq(&[1, 1])));
        assert!(cost(&seq(&[3])) < cost(&seq(&[0, 1])));
        assert!(cost(&seq(&[1])) < cost(&seq(&[2])));
        assert_eq!(cost(&seq(&[])), (0, 0, 0));
    }
}
