//! Depth-first enumeration of every choice sequence, optionally with a preemption bound.
//!
//! Each schedule replays the prefix of the previous one up to its deepest choice that still
//! has an untried option, takes that option, and continues with option 0 everywhere after.
//! Option 0 of a schedule choice always continues the running task, so a schedule's
//! preemptions are the schedule choices with `preemptive` set and a non-zero pick. With a
//! bound `b` only sequences with at most `b` preemptions are run; the space is finite when the
//! test terminates, so the enumeration ends and its verdict is complete for that bound.
//!
//! The enumeration is a [`TreeSearch`]: its decisions are the options taken, its phases the
//! bounds `0..=P` (one phase without a bound), and a source can search one subtree: it
//! replays a node's prefix, and backtracks only at depths at or beyond a floor.

use super::split::{SubtreeKey, SubtreeSource, TreeSearch};
use crate::engine::choice::{ChoiceCtx, ChoiceSource};

#[derive(Clone, Copy)]
struct Entry {
    chosen: u32,
    n: u32,
    preemptive: bool,
}

impl Entry {
    fn preemptions(&self) -> u32 {
        (self.preemptive && self.chosen != 0) as u32
    }
}

/// Depth-first search with an optional preemption bound, as a splittable tree search.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dfs {
    /// The bound `P`: phases search the bounds `0..=P` in turn; `None`: one unbounded phase.
    pub(crate) preemption_bound: Option<u32>,
}

impl Dfs {
    /// The bound of phase `phase`.
    fn bound(&self, phase: u32) -> Option<u32> {
        self.preemption_bound.map(|_| phase)
    }
}

impl TreeSearch for Dfs {
    fn phases(&self) -> u32 {
        self.preemption_bound.map_or(1, |p| p + 1)
    }

    fn source(&self, node: &SubtreeKey, floor: usize) -> Box<dyn SubtreeSource> {
        Box::new(DfsSource::subtree(
            self.bound(node.phase),
            node.prefix.clone(),
            floor,
        ))
    }
}

pub(crate) struct DfsSource {
    stack: Vec<Entry>,
    pos: usize,
    bound: Option<u32>,
    /// The decisions every run starts with.
    prefix: Vec<u32>,
    /// No backtracking above this depth.
    floor: usize,
    started: bool,
    diverged: Option<String>,
}

impl DfsSource {
    /// The source of the subtree under `prefix`, backtracking only at depths `>= floor`.
    pub(crate) fn subtree(bound: Option<u32>, prefix: Vec<u32>, floor: usize) -> Self {
        DfsSource {
            stack: Vec::new(),
            pos: 0,
            bound,
            prefix,
            floor,
            started: false,
            diverged: None,
        }
    }

    /// Move to the next sequence; false when every one (below the floor) has been run.
    fn advance(&mut self) -> bool {
        let mut prefix: u32 = self.stack.iter().map(Entry::preemptions).sum();
        while self.stack.len() > self.floor {
            let top = self.stack.pop().expect("longer than the floor");
            prefix -= top.preemptions();
            let next = top.chosen + 1;
            if next < top.n {
                let extra = top.preemptive as u32;
                if self.bound.is_none_or(|b| prefix + extra <= b) {
                    self.stack.push(Entry {
                        chosen: next,
                        ..top
                    });
                    return true;
                }
            }
        }
        false
    }

    fn note_divergence(&mut self, message: String) {
        if self.diverged.is_none() {
            self.diverged = Some(message);
        }
    }
}

impl ChoiceSource for DfsSource {
    fn begin(&mut self, _index: u64) -> bool {
        self.pos = 0;
        if !self.started {
            self.started = true;
            return true;
        }
        self.advance()
    }

    fn choose(&mut self, ctx: &ChoiceCtx<'_>) -> usize {
        let pos = self.pos;
        self.pos += 1;
        if let Some(&e) = self.stack.get(pos) {
            if e.n as usize != ctx.n {
                let n = e.n;
                self.note_divergence(format!(
                    "depth-first search: choice {pos} had {n} options and now has {} (the test is not deterministic)",
                    ctx.n
                ));
            }
            return (e.chosen as usize).min(ctx.n - 1);
        }
        let chosen = match self.prefix.get(pos) {
            Some(&c) if c as usize >= ctx.n => {
                self.note_divergence(format!(
                    "depth-first search: choice {pos} was option {c} of a subtree's prefix and now has {} options (the test is not deterministic)",
                    ctx.n
                ));
                ctx.n as u32 - 1
            }
            Some(&c) => c,
            None => 0,
        };
        self.stack.push(Entry {
            chosen,
            n: ctx.n as u32,
            preemptive: ctx.preemptive,
        });
        chosen as usize
    }

    fn end(&mut self, _steps: u64) {
        // A schedule that failed early leaves deeper entries of the previous sequence behind.
        self.stack.truncate(self.pos);
    }

    fn divergence(&mut self) -> Option<String> {
        self.diverged.take()
    }
}

impl SubtreeSource for DfsSource {
    fn first_decisions(&self, floor: usize) -> Vec<u32> {
        self.stack.iter().take(floor).map(|e| e.chosen).collect()
    }

    fn siblings(&self, from: usize, floor: usize) -> Vec<Vec<u32>> {
        let mut out = Vec::new();
        let mut preemptions: u32 = self.stack.iter().take(from).map(Entry::preemptions).sum();
        for j in from..floor.min(self.stack.len()) {
            let e = self.stack[j];
            let extra = e.preemptive as u32;
            if self.bound.is_none_or(|b| preemptions + extra <= b) {
                for o in 1..e.n {
                    let mut p: Vec<u32> = self.stack[..j].iter().map(|e| e.chosen).collect();
                    p.push(o);
                    out.push(p);
                }
            }
            preemptions += e.preemptions();
        }
        out
    }
}
