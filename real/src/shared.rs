//! The core's shared-memory primitives on real hardware: thin `#[inline]` wrappers over std
//! atomics. The names given to locations are for the simulator's traces and are dropped here.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use netpoll::platform::{Atomic, LocName, PlainCell, ProtectedBy, RawLock, Word};

macro_rules! std_atomic {
    ($(#[$doc:meta])* $name:ident, $std:ty, $t:ty) => {
        $(#[$doc])*
        #[derive(Debug, Default)]
        #[repr(transparent)]
        pub struct $name($std);

        impl Atomic<$t> for $name {
            #[inline(always)]
            fn new(v: $t, _name: LocName) -> Self {
                $name(<$std>::new(v))
            }
            #[inline(always)]
            fn load(&self, ord: Ordering) -> $t {
                self.0.load(ord)
            }
            #[inline(always)]
            fn store(&self, v: $t, ord: Ordering) {
                self.0.store(v, ord)
            }
            #[inline(always)]
            fn swap(&self, v: $t, ord: Ordering) -> $t {
                self.0.swap(v, ord)
            }
            #[inline(always)]
            fn compare_exchange(
                &self,
                current: $t,
                new: $t,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$t, $t> {
                self.0.compare_exchange(current, new, success, failure)
            }
            #[inline(always)]
            fn fetch_add(&self, v: $t, ord: Ordering) -> $t {
                self.0.fetch_add(v, ord)
            }
            #[inline(always)]
            fn fetch_sub(&self, v: $t, ord: Ordering) -> $t {
                self.0.fetch_sub(v, ord)
            }
        }
    };
}

std_atomic!(
    /// `Atomic<u32>` as `std::sync::atomic::AtomicU32`.
    StdAtomicU32,
    AtomicU32,
    u32
);
std_atomic!(
    /// `Atomic<usize>` as `std::sync::atomic::AtomicUsize`.
    StdAtomicUsize,
    AtomicUsize,
    usize
);

/// Go's plain (lock-protected) field as a `Relaxed` 64-bit atomic holding
/// [`Word::to_bits`], so that the pre-#45211 protocol's unlocked reads stay defined Rust.
#[derive(Debug)]
#[repr(transparent)]
pub struct RelaxedCell<T> {
    bits: AtomicU64,
    _t: PhantomData<fn() -> T>,
}

impl<T: Word, L: RawLock> PlainCell<T, L> for RelaxedCell<T> {
    #[inline(always)]
    fn new(v: T, _name: LocName, _protected_by: ProtectedBy<'_, L>) -> Self {
        RelaxedCell {
            bits: AtomicU64::new(v.to_bits()),
            _t: PhantomData,
        }
    }
    #[inline(always)]
    fn get(&self) -> T {
        T::from_bits(self.bits.load(Ordering::Relaxed))
    }
    #[inline(always)]
    fn set(&self, v: T) {
        self.bits.store(v.to_bits(), Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: LocName = LocName::single("test", "x");

    #[test]
    fn atomics() {
        let a = StdAtomicU32::new(5, N);
        assert!(a.cas(5, 6));
        assert!(!a.cas(5, 7));
        assert_eq!(a.fetch_sub(7, Ordering::SeqCst), 6);
        assert_eq!(a.load(Ordering::SeqCst), u32::MAX, "wraps");
        let u = StdAtomicUsize::new(1, N);
        assert_eq!(u.swap(3, Ordering::SeqCst), 1);
        assert_eq!(u.fetch_add(2, Ordering::SeqCst), 3);
    }

    #[test]
    fn plain_cells_round_trip() {
        type L = crate::lock::FutexLock;
        let lock = L::new(N);
        let c: RelaxedCell<i64> = PlainCell::<i64, L>::new(-5, N, ProtectedBy::Lock(&lock));
        assert_eq!(PlainCell::<i64, L>::get(&c), -5);
        PlainCell::<i64, L>::set(&c, i64::MIN);
        assert_eq!(PlainCell::<i64, L>::get(&c), i64::MIN);
        let b: RelaxedCell<bool> = PlainCell::<bool, L>::new(false, N, ProtectedBy::Lock(&lock));
        PlainCell::<bool, L>::set(&b, true);
        assert!(PlainCell::<bool, L>::get(&b));
        let i: RelaxedCell<i32> = PlainCell::<i32, L>::new(-1, N, ProtectedBy::Protocol("test"));
        assert_eq!(PlainCell::<i32, L>::get(&i), -1);
        assert_eq!(std::mem::size_of::<RelaxedCell<bool>>(), 8);
    }
}
