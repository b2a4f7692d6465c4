//! Replay of a recorded choice sequence, strictly: the first choice that does not fit (another
//! kind or number of options than recorded, an option out of range, a choice past the end of
//! the recording) is a divergence, reported with the step at which it happened, and the engine
//! stops the run there.

use crate::engine::choice::Choice;
use crate::engine::choice::{ChoiceCtx, ChoiceSource};

pub(crate) struct ReplaySource {
    choices: Vec<Choice>,
    pos: usize,
    started: bool,
    /// The first divergence, until the engine takes it.
    diverged: Option<String>,
    /// A divergence was found (only the first is reported).
    found: bool,
}

impl ReplaySource {
    pub(crate) fn new(choices: Vec<Choice>) -> Self {
        ReplaySource {
            choices,
            pos: 0,
            started: false,
            diverged: None,
            found: false,
        }
    }

    fn diverge(&mut self, message: String) {
        if !self.found {
            self.found = true;
            self.diverged = Some(message);
        }
    }
}

impl ChoiceSource for ReplaySource {
    fn begin(&mut self, _index: u64) -> bool {
        // One schedule only.
        !std::mem::replace(&mut self.started, true)
    }
    fn choose(&mut self, ctx: &ChoiceCtx<'_>) -> usize {
        let i = self.pos;
        let Some(&c) = self.choices.get(i) else {
            self.diverge(format!(
                "the run asks for choice {i} ({:?}, {} options) but only {} were recorded",
                ctx.kind,
                ctx.n,
                self.choices.len()
            ));
            return 0;
        };
        self.pos += 1;
        if c.chosen >= c.n {
            self.diverge(format!(
                "recorded choice {i} takes option {} of only {} (the trace is corrupt)",
                c.chosen, c.n
            ));
        } else if (c.kind, c.n as usize) != (ctx.kind, ctx.n) {
            self.diverge(format!(
                "choice {i} was recorded as {:?} with {} options, the run asks for {:?} with {} options",
                c.kind, c.n, ctx.kind, ctx.n
            ));
        }
        (c.chosen as usize).min(ctx.n - 1)
    }
    fn end(&mut self, steps: u64) {
        if self.pos != self.choices.len() {
            self.diverge(format!(
                "the run ended at step {steps} after {} choices but {} were recorded",
                self.pos,
                self.choices.len()
            ));
        }
    }
    fn divergence(&mut self) -> Option<String> {
        self.diverged.take()
    }
    fn can_diverge(&self) -> bool {
        true
    }
}
