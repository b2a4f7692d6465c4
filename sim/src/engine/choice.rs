//! The one choice stream: every nondeterministic decision of a run is one call
//! `choose(kind, n) -> option` on one `ChoiceSource`; the strategies are nothing but
//! sources. A run is a pure function of (check, configuration, choice sequence).

use serde::{Deserialize, Serialize};

/// The kind of a nondeterministic choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChoiceKind {
    /// Which task runs next.
    Schedule,
    /// Which store a load reads.
    LoadStore,
    /// A choice made by the check or its platform (a fault, a delivery order, ...).
    User,
    /// Memory model `tso`: whether to commit a buffered store before the next task runs.
    /// Option 0 commits nothing; option `i` commits the oldest store of the `i`-th task (in id
    /// order) whose store buffer is not empty. When no task can run, the buffers must drain:
    /// option `i` then names the `i + 1`-th such task.
    Flush,
    /// Strategy `graph`: one event added to the execution graph - for a read, which store
    /// it reads (0 the initial value, `i` the `i`-th store of the location in modification
    /// order among those added so far); for a store, its place among them; for a choice,
    /// the option. Graph traces hold a [`Schedule`](ChoiceKind::Schedule) choice naming
    /// the task and one of these per event.
    Graph,
}

impl ChoiceKind {
    /// Every kind, in a stable order.
    pub const ALL: [ChoiceKind; 5] = [
        ChoiceKind::Schedule,
        ChoiceKind::LoadStore,
        ChoiceKind::User,
        ChoiceKind::Flush,
        ChoiceKind::Graph,
    ];

    /// A dense index (for per-kind tables).
    pub fn index(self) -> usize {
        match self {
            ChoiceKind::Schedule => 0,
            ChoiceKind::LoadStore => 1,
            ChoiceKind::User => 2,
            ChoiceKind::Flush => 3,
            ChoiceKind::Graph => 4,
        }
    }
}

/// One recorded choice. Choices with a single option are not drawn and not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Choice {
    /// What was chosen.
    pub kind: ChoiceKind,
    /// How many options there were (at least 2).
    pub n: u32,
    /// The option taken, `< n`.
    pub chosen: u32,
}

/// Everything a strategy may look at when it makes one choice.
pub(crate) struct ChoiceCtx<'a> {
    /// What is being chosen.
    pub(crate) kind: ChoiceKind,
    /// Number of options, at least 2.
    pub(crate) n: usize,
    /// For [`ChoiceKind::Schedule`]: the runnable task ids, option `i` is `tasks[i]`. When
    /// `preemptive` is true, `tasks[0]` is the task that was running and any other option
    /// preempts it.
    pub(crate) tasks: &'a [u32],
    /// True when option 0 continues the running task (so choosing another is a preemption).
    pub(crate) preemptive: bool,
    /// The task that was running when the choice was made.
    pub(crate) current: u32,
    /// The engine's step counter.
    pub(crate) step: u64,
}

/// A strategy: where the choices of runs come from.
pub(crate) trait ChoiceSource {
    /// Start schedule number `index`; false when the strategy has nothing more to run.
    fn begin(&mut self, index: u64) -> bool;
    /// Make one choice: a number `< ctx.n`.
    fn choose(&mut self, ctx: &ChoiceCtx<'_>) -> usize;
    /// A task was created (PCT gives it a priority).
    fn new_task(&mut self, _task: u32) {}
    /// The schedule ended after `steps` steps.
    fn end(&mut self, _steps: u64) {}
    /// For replay: why the recorded choices did not fit, if they did not.
    fn divergence(&mut self) -> Option<String> {
        None
    }
}

/// What the memory model needs to draw its own choices (which store a load reads, which
/// buffered store commits): a narrow view of the choice stream.
pub(crate) trait Chooser {
    /// Draw one choice of `kind` among `n` options (`n <= 1` draws nothing and gives 0).
    fn choose(&mut self, kind: ChoiceKind, n: usize) -> usize;
}
