//! PCT (probabilistic concurrency testing; Burckhardt, Kothari, Musuvathi, Nagarakatte,
//! "A Randomized Scheduler with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010) with
//! bug depth `d`, as published.
//!
//! Every task gets a random initial priority, above `d`, when it is created; the
//! highest-priority runnable task runs. `d - 1` change points `k_1, ..., k_{d-1}` are drawn
//! independently and uniformly among the first `k` steps (`k` = the longest schedule seen so
//! far), and change point `k_i` carries priority `i`: when the run reaches step `k_i`, the
//! running task's priority drops to `i`. Because the points are drawn independently, the
//! order in time of the lowered priorities is a random permutation - a task lowered later
//! may rank below one lowered earlier, which an implementation that sorts the points and
//! numbers them in time order can never produce. Non-schedule choices (which store a load
//! reads, ...) are uniform.
//!
//! The estimate `k` is the longest of the schedules run so far, over the first
//! [`PCT_WARMUP`] schedules only: from then on it stays fixed, so schedule `i` is a function of
//! the seed, `i` and those first schedules, and can run on any thread or in any shard, in
//! any order (a campaign runs the warm-up first, then shares the estimate).

use super::random::schedule_rng;
use super::uniform;
use crate::engine::choice::{ChoiceCtx, ChoiceKind, ChoiceSource};
use rand_chacha::rand_core::Rng;
use rand_chacha::ChaCha8Rng;

/// The step estimate before any schedule has run.
const INITIAL_STEP_ESTIMATE: u64 = 64;

/// Bits of a priority below the task id (ties never happen: ids are unique).
const TIE_BITS: u32 = 24;

/// Schedules over which PCT's step estimate grows; after them it is fixed (see the module
/// documentation).
pub const PCT_WARMUP: u64 = 64;

pub(crate) struct PctSource {
    seed: u64,
    depth: u32,
    rng: ChaCha8Rng,
    max_steps_seen: u64,
    /// Whether the estimate still grows (during the warm-up).
    growing: bool,
    priorities: Vec<u64>,
    /// (step, priority) of each change point, in time order; the priority is the point's
    /// index in draw order, plus one.
    change_points: Vec<(u64, u64)>,
    next_change: usize,
}

impl PctSource {
    /// The source of the warm-up: its estimate grows with every schedule run.
    pub(crate) fn new(seed: u64, depth: u32) -> Self {
        PctSource {
            seed,
            depth: depth.max(1),
            rng: schedule_rng(seed, 0),
            max_steps_seen: INITIAL_STEP_ESTIMATE,
            growing: true,
            priorities: Vec::new(),
            change_points: Vec::new(),
            next_change: 0,
        }
    }

    /// The source after the warm-up: the step estimate fixed at `estimate` (what
    /// [`PctSource::estimate`] said at the warm-up's end).
    pub(crate) fn with_estimate(seed: u64, depth: u32, estimate: u64) -> Self {
        PctSource {
            max_steps_seen: estimate.max(1),
            growing: false,
            ..PctSource::new(seed, depth)
        }
    }

    /// The current step estimate.
    pub(crate) fn estimate(&self) -> u64 {
        self.max_steps_seen
    }

    /// The change points of the current schedule: (step, priority), in time order.
    #[cfg(test)]
    pub(crate) fn change_points(&self) -> &[(u64, u64)] {
        &self.change_points
    }
}

impl ChoiceSource for PctSource {
    fn begin(&mut self, index: u64) -> bool {
        self.rng = schedule_rng(self.seed, index);
        self.priorities.clear();
        self.change_points.clear();
        let k = self.max_steps_seen.max(1);
        for i in 1..self.depth {
            let step = 1 + self.rng.next_u64() % k;
            self.change_points.push((step, i as u64));
        }
        // Process in time order; each keeps the priority of its draw (a stable sort keeps
        // draw order among points at the same step, so the later draw applies last).
        self.change_points.sort_by_key(|&(step, _)| step);
        self.next_change = 0;
        true
    }

    fn new_task(&mut self, task: u32) {
        let idx = task as usize;
        if self.priorities.len() <= idx {
            self.priorities.resize(idx + 1, 0);
        }
        // Initial priorities are all above `depth`; the low bits break ties by task id.
        let p = ((self.depth as u64 + 1 + (self.rng.next_u32() as u64)) << TIE_BITS)
            | (task as u64 & ((1 << TIE_BITS) - 1));
        self.priorities[idx] = p;
    }

    fn choose(&mut self, ctx: &ChoiceCtx<'_>) -> usize {
        if ctx.kind != ChoiceKind::Schedule {
            return uniform(self.rng.next_u32(), ctx.n);
        }
        while self.next_change < self.change_points.len()
            && self.change_points[self.next_change].0 <= ctx.step
        {
            let low = self.change_points[self.next_change].1 << TIE_BITS;
            if let Some(p) = self.priorities.get_mut(ctx.current as usize) {
                *p = low | (ctx.current as u64 & ((1 << TIE_BITS) - 1));
            }
            self.next_change += 1;
        }
        let prio = |t: u32| self.priorities.get(t as usize).copied().unwrap_or(0);
        let mut best = 0;
        for (i, &t) in ctx.tasks.iter().enumerate() {
            if prio(t) > prio(ctx.tasks[best]) {
                best = i;
            }
        }
        best
    }

    fn end(&mut self, steps: u64) {
        if self.growing {
            self.max_steps_seen = self.max_steps_seen.max(steps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With two change points, the later one carries the higher priority in some schedules
    /// and the lower one in others: both orders of the lowered priorities occur.
    #[test]
    fn change_point_priorities_come_in_both_orders() {
        let mut s = PctSource::new(7, 3);
        let (mut later_higher, mut later_lower) = (0, 0);
        for i in 0..200 {
            s.begin(i);
            let cp = s.change_points();
            assert_eq!(cp.len(), 2);
            if cp[0].0 == cp[1].0 {
                continue;
            }
            if cp[1].1 > cp[0].1 {
                later_higher += 1;
            } else {
                later_lower += 1;
            }
        }
        assert!(
            later_higher > 50 && later_lower > 50,
            "{later_higher} {later_lower}"
        );
    }
}
