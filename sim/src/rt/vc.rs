//! Vector clocks with a fixed number of slots, so that joining and copying never allocate.

/// Slots in a vector clock: slot 0 is "nobody" (the initial stores), task `i` uses slot `i + 1`.
pub(crate) const MAX_SLOTS: usize = 32;

/// The most tasks one execution may create (one slot is reserved for "nobody").
pub(crate) const MAX_TASKS: usize = MAX_SLOTS - 1;

/// The slot of "nobody", the author of every initial value.
pub(crate) const NOBODY: usize = 0;

/// A vector clock: one logical time per task slot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct VClock(pub(crate) [u32; MAX_SLOTS]);

impl VClock {
    /// The all-zero clock.
    pub(crate) const ZERO: VClock = VClock([0; MAX_SLOTS]);

    /// `self ⊔= other`.
    #[inline]
    pub(crate) fn join(&mut self, other: &VClock) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = (*a).max(*b);
        }
    }

    /// The time of `slot`.
    #[inline(always)]
    pub(crate) fn get(&self, slot: usize) -> u32 {
        self.0[slot]
    }

    /// Set the time of `slot`.
    #[inline(always)]
    pub(crate) fn set(&mut self, slot: usize, t: u32) {
        self.0[slot] = t;
    }
}

/// The vector-clock slot of task `task`.
#[inline(always)]
pub(crate) fn slot(task: u32) -> usize {
    task as usize + 1
}
