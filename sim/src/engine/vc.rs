//! Vector clocks that grow as needed.
//!
//! A clock has one logical time per *slot*. Slot 0 is "nobody", the author of every initial
//! value; every live task owns one other slot (see [`Slots`]). The first [`INLINE_SLOTS`]
//! slots live inline, so the clocks of small executions copy without allocating; later slots
//! spill into a vector that grows when a slot beyond it is first written. A slot that is not
//! stored reads as 0.

/// Slots kept inline (the rest spill into a growable tail).
pub(crate) const INLINE_SLOTS: usize = 8;

/// The slot of "nobody", the author of every initial value.
pub(crate) const NOBODY: usize = 0;

/// A vector clock: one logical time per slot.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub(crate) struct VClock {
    head: [u32; INLINE_SLOTS],
    tail: Vec<u32>,
}

impl VClock {
    /// The all-zero clock.
    pub(crate) const ZERO: VClock = VClock {
        head: [0; INLINE_SLOTS],
        tail: Vec::new(),
    };

    /// `self ⊔= other`.
    #[inline]
    pub(crate) fn join(&mut self, other: &VClock) {
        for (a, b) in self.head.iter_mut().zip(other.head.iter()) {
            *a = (*a).max(*b);
        }
        if !other.tail.is_empty() {
            if self.tail.len() < other.tail.len() {
                self.tail.resize(other.tail.len(), 0);
            }
            for (a, b) in self.tail.iter_mut().zip(other.tail.iter()) {
                *a = (*a).max(*b);
            }
        }
    }

    /// `self = other`, reusing this clock's storage.
    #[inline]
    pub(crate) fn assign(&mut self, other: &VClock) {
        self.head = other.head;
        if !(self.tail.is_empty() && other.tail.is_empty()) {
            self.tail.clear();
            self.tail.extend_from_slice(&other.tail);
        }
    }

    /// The time of `slot`.
    #[inline(always)]
    pub(crate) fn get(&self, slot: usize) -> u32 {
        if slot < INLINE_SLOTS {
            self.head[slot]
        } else {
            self.tail.get(slot - INLINE_SLOTS).copied().unwrap_or(0)
        }
    }

    /// Set the time of `slot`.
    #[inline(always)]
    pub(crate) fn set(&mut self, slot: usize, t: u32) {
        if slot < INLINE_SLOTS {
            self.head[slot] = t;
        } else {
            let i = slot - INLINE_SLOTS;
            if self.tail.len() <= i {
                if t == 0 {
                    return;
                }
                self.tail.resize(i + 1, 0);
            }
            self.tail[i] = t;
        }
    }

    /// Every (slot, time) with a non-zero time.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.head
            .iter()
            .chain(self.tail.iter())
            .copied()
            .enumerate()
            .filter(|&(_, t)| t != 0)
    }

    /// Whether some slot `u` has `0 < self[u] <= other[u]`: an event recorded in `self`
    /// (per slot, the time of a first access) happens-before the holder of `other`.
    #[inline]
    pub(crate) fn any_within(&self, other: &VClock) -> bool {
        if self
            .head
            .iter()
            .zip(other.head.iter())
            .any(|(&f, &c)| f != 0 && f <= c)
        {
            return true;
        }
        self.tail
            .iter()
            .enumerate()
            .any(|(i, &f)| f != 0 && f <= other.get(INLINE_SLOTS + i))
    }

    /// Reset to all zeros, keeping the storage.
    pub(crate) fn clear(&mut self) {
        self.head = [0; INLINE_SLOTS];
        self.tail.clear();
    }
}

/// The vector-clock slots of one execution, recycled soundly.
///
/// A finished task's slot may be given to a new task only when the finished task's whole
/// history happens-before the new task's start: then every event of the old owner is
/// ordered before every event of the new one, so sharing the slot (with the new owner's times
/// continuing above the old owner's last time) adds no happens-before edge that was not
/// there. That is the case for a task spawned after its parent joined the old owner (and for
/// every task whose creator acquired the old owner's final clock some other way). Otherwise a
/// new slot is allocated and the clocks grow.
#[derive(Default)]
pub(crate) struct Slots {
    /// Slots whose owner finished: (slot, the owner's last time).
    free: Vec<(usize, u32)>,
    /// Slots handed out so far (slot 0 is "nobody" and never handed out).
    used: usize,
}

impl Slots {
    pub(crate) fn reset(&mut self) {
        self.free.clear();
        self.used = 0;
    }

    /// A slot for a new task whose clock starts as `start`; returns the slot and the first
    /// time the new owner uses in it.
    pub(crate) fn take(&mut self, start: &VClock) -> (usize, u32) {
        if let Some(i) = self.free.iter().position(|&(s, last)| start.get(s) >= last) {
            let (s, last) = self.free.swap_remove(i);
            return (s, last + 1);
        }
        self.used += 1;
        (self.used, 1)
    }

    /// The owner of `slot` finished at time `last`.
    pub(crate) fn release(&mut self, slot: usize, last: u32) {
        self.free.push((slot, last));
    }

    /// Slots handed out so far (the widest clock of the execution, less "nobody").
    #[cfg(test)]
    pub(crate) fn width(&self) -> usize {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_past_the_inline_slots() {
        let mut a = VClock::ZERO;
        a.set(3, 7);
        a.set(40, 2);
        assert_eq!(a.get(40), 2);
        assert_eq!(a.get(39), 0);
        assert_eq!(a.get(1000), 0);
        let mut b = VClock::ZERO;
        b.set(40, 5);
        b.set(100, 1);
        a.join(&b);
        assert_eq!((a.get(3), a.get(40), a.get(100)), (7, 5, 1));
        let e: Vec<_> = a.entries().collect();
        assert_eq!(e, vec![(3, 7), (40, 5), (100, 1)]);
        let mut c = VClock::ZERO;
        c.set(100, 1);
        assert!(c.any_within(&a));
        c.set(100, 2);
        assert!(!c.any_within(&a));
    }

    #[test]
    fn recycles_a_slot_only_after_its_owner_happens_before() {
        let mut s = Slots::default();
        let zero = VClock::ZERO;
        assert_eq!(s.take(&zero), (1, 1));
        assert_eq!(s.take(&zero), (2, 1));
        s.release(1, 9);
        // A task that has not seen slot 1's last event gets a new slot.
        assert_eq!(s.take(&zero), (3, 1));
        let mut seen = VClock::ZERO;
        seen.set(1, 9);
        // One that has (its creator joined the old owner) reuses it, above its last time.
        assert_eq!(s.take(&seen), (1, 10));
        assert_eq!(s.width(), 3);
    }
}
