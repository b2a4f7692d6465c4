//! Depth-first enumeration of every choice sequence, optionally with a preemption bound.
//!
//! Each schedule replays the prefix of the previous one up to its deepest choice that still
//! has an untried option, takes that option, and continues with option 0 everywhere after.
//! Option 0 of a schedule choice always continues the running task, so a schedule's
//! preemptions are the schedule choices with `preemptive` set and a non-zero pick. With a
//! bound `b` only sequences with at most `b` preemptions are run; the space is finite when the
//! test terminates, so the enumeration ends and its verdict is complete for that bound.

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

pub(crate) struct DfsSource {
    stack: Vec<Entry>,
    pos: usize,
    bound: Option<u32>,
    started: bool,
    diverged: Option<String>,
}

impl DfsSource {
    pub(crate) fn new(bound: Option<u32>) -> Self {
        DfsSource {
            stack: Vec::new(),
            pos: 0,
            bound,
            started: false,
            diverged: None,
        }
    }

    /// Move to the next sequence; false when every one has been run.
    fn advance(&mut self) -> bool {
        let mut prefix: u32 = self.stack.iter().map(Entry::preemptions).sum();
        while let Some(top) = self.stack.pop() {
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
        if let Some(e) = self.stack.get(pos) {
            if e.n as usize != ctx.n && self.diverged.is_none() {
                self.diverged = Some(format!(
                    "depth-first search: choice {pos} had {} options and now has {} (the test is not deterministic)",
                    e.n, ctx.n
                ));
            }
            return (e.chosen as usize).min(ctx.n - 1);
        }
        self.stack.push(Entry {
            chosen: 0,
            n: ctx.n as u32,
            preemptive: ctx.preemptive,
        });
        0
    }

    fn end(&mut self, _steps: u64) {
        // A schedule that failed early leaves deeper entries of the previous sequence behind.
        self.stack.truncate(self.pos);
    }

    fn divergence(&mut self) -> Option<String> {
        self.diverged.take()
    }
    fn can_diverge(&self) -> bool {
        true
    }
}
