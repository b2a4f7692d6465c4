//! Replay of a recorded choice sequence.

use crate::engine::choice::Choice;
use crate::engine::choice::{ChoiceCtx, ChoiceSource};

pub(crate) struct ReplaySource {
    choices: Vec<Choice>,
    pos: usize,
    started: bool,
    diverged: Option<String>,
}

impl ReplaySource {
    pub(crate) fn new(choices: Vec<Choice>) -> Self {
        ReplaySource {
            choices,
            pos: 0,
            started: false,
            diverged: None,
        }
    }
}

impl ChoiceSource for ReplaySource {
    fn begin(&mut self, _index: u64) -> bool {
        // One schedule only.
        !std::mem::replace(&mut self.started, true)
    }
    fn choose(&mut self, ctx: &ChoiceCtx<'_>) -> usize {
        let Some(c) = self.choices.get(self.pos) else {
            if self.diverged.is_none() {
                self.diverged = Some(format!(
                    "the run asks for choice {} ({:?}, {} options) but only {} were recorded",
                    self.pos,
                    ctx.kind,
                    ctx.n,
                    self.choices.len()
                ));
            }
            return 0;
        };
        self.pos += 1;
        if c.chosen >= c.n && self.diverged.is_none() {
            self.diverged = Some(format!(
                "choice {}: the recording takes option {} of only {} (the trace is corrupt)",
                self.pos - 1,
                c.chosen,
                c.n
            ));
        }
        if (c.kind, c.n as usize) != (ctx.kind, ctx.n) && self.diverged.is_none() {
            self.diverged = Some(format!(
                "choice {}: recorded {:?} with {} options, the run asks for {:?} with {} options",
                self.pos - 1,
                c.kind,
                c.n,
                ctx.kind,
                ctx.n
            ));
        }
        (c.chosen as usize).min(ctx.n - 1)
    }
    fn end(&mut self, _steps: u64) {
        if self.pos != self.choices.len() && self.diverged.is_none() {
            self.diverged = Some(format!(
                "the run ended after {} choices but {} were recorded",
                self.pos,
                self.choices.len()
            ));
        }
    }
    fn divergence(&mut self) -> Option<String> {
        self.diverged.take()
    }
}
