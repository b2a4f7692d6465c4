//! Choice sources: the strategies that decide every nondeterministic choice of a run.
//!
//! A run is a pure function of (test closure, configuration, choice sequence); a strategy is
//! nothing but a way to produce choice sequences.

pub(crate) mod dfs;
pub(crate) mod pct;
pub(crate) mod random;
pub(crate) mod replay;

use crate::rt::log::ChoiceKind;

/// Everything a strategy may look at when it makes one choice.
pub(crate) struct ChoiceCtx<'a> {
    /// What is being chosen.
    pub kind: ChoiceKind,
    /// Number of options, at least 2.
    pub n: usize,
    /// For [`ChoiceKind::Schedule`]: the runnable task ids, option `i` is `tasks[i]`. When
    /// `preemptive` is true, `tasks[0]` is the task that was running and any other option
    /// preempts it.
    pub tasks: &'a [u32],
    /// True when option 0 continues the running task (so choosing another is a preemption).
    pub preemptive: bool,
    /// The task that was running when the choice was made.
    pub current: u32,
    /// The engine's step counter.
    pub step: u64,
}

/// A strategy.
pub(crate) trait ChoiceSource {
    /// Start schedule number `index`; false when the strategy has nothing more to run.
    fn begin(&mut self, index: u64) -> bool;
    /// Make one choice: a number `< ctx.n`.
    fn choose(&mut self, ctx: &ChoiceCtx<'_>) -> usize;
    /// A task was created (PCT assigns it a priority).
    fn new_task(&mut self, _task: u32) {}
    /// The schedule ended after `steps` steps.
    fn end(&mut self, _steps: u64) {}
    /// For replay: why the recorded choices did not fit, if they did not.
    fn divergence(&mut self) -> Option<String> {
        None
    }
}

/// Uniform pick in `0..n` from 32 random bits (multiply-shift; no modulo bias worth noting).
#[inline]
pub(crate) fn uniform(bits: u32, n: usize) -> usize {
    ((bits as u64 * n as u64) >> 32) as usize
}
