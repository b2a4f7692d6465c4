//! PCT (probabilistic concurrency testing, Burckhardt et al. 2010) with bug depth `d`.
//!
//! Every task gets a random priority when it is created; the highest-priority runnable task
//! runs. `d - 1` change points are drawn among the first `k` steps (`k` = the longest schedule
//! seen so far); at the i-th change point the running task drops to priority `i`, below every
//! initial priority. Non-schedule choices (which store a load reads, ...) are uniform.

use super::random::schedule_rng;
use super::{uniform, ChoiceCtx, ChoiceSource};
use crate::rt::log::ChoiceKind;
use rand_chacha::rand_core::Rng;
use rand_chacha::ChaCha8Rng;

/// The step estimate before any schedule has run.
const INITIAL_STEP_ESTIMATE: u64 = 64;

pub(crate) struct PctSource {
    seed: u64,
    depth: u32,
    rng: ChaCha8Rng,
    max_steps_seen: u64,
    priorities: Vec<u64>,
    change_points: Vec<u64>,
    next_change: usize,
}

impl PctSource {
    pub(crate) fn new(seed: u64, depth: u32) -> Self {
        PctSource {
            seed,
            depth: depth.max(1),
            rng: schedule_rng(seed, 0),
            max_steps_seen: INITIAL_STEP_ESTIMATE,
            priorities: Vec::new(),
            change_points: Vec::new(),
            next_change: 0,
        }
    }
}

impl ChoiceSource for PctSource {
    fn begin(&mut self, index: u64) -> bool {
        self.rng = schedule_rng(self.seed, index);
        self.priorities.clear();
        self.change_points.clear();
        for _ in 1..self.depth {
            let k = self.max_steps_seen.max(1);
            self.change_points.push(1 + self.rng.next_u64() % k);
        }
        self.change_points.sort_unstable();
        self.next_change = 0;
        true
    }

    fn new_task(&mut self, task: u32) {
        let idx = task as usize;
        if self.priorities.len() <= idx {
            self.priorities.resize(idx + 1, 0);
        }
        // Initial priorities are all above `depth`; the low bits break ties by task id.
        let p = (self.depth as u64 + 1 + (self.rng.next_u32() as u64)) << 8 | (task as u64 & 0xff);
        self.priorities[idx] = p;
    }

    fn choose(&mut self, ctx: &ChoiceCtx<'_>) -> usize {
        if ctx.kind != ChoiceKind::Schedule {
            return uniform(self.rng.next_u32(), ctx.n);
        }
        while self.next_change < self.change_points.len()
            && self.change_points[self.next_change] <= ctx.step
        {
            let low = (self.next_change as u64 + 1) << 8;
            if let Some(p) = self.priorities.get_mut(ctx.current as usize) {
                *p = low;
            }
            self.next_change += 1;
        }
        let mut best = 0;
        for (i, &t) in ctx.tasks.iter().enumerate() {
            let p = self.priorities.get(t as usize).copied().unwrap_or(0);
            let bp = self
                .priorities
                .get(ctx.tasks[best] as usize)
                .copied()
                .unwrap_or(0);
            if p > bp {
                best = i;
            }
        }
        best
    }

    fn end(&mut self, steps: u64) {
        self.max_steps_seen = self.max_steps_seen.max(steps);
    }
}
