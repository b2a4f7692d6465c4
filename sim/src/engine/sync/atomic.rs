//! Simulated atomics with every `std` ordering, under the configured memory model.

pub use std::sync::atomic::Ordering;

use super::Word;
use crate::engine::event::LocName;
use crate::engine::rt;

/// The name given to an unnamed location.
const UNNAMED: &str = "atomic";

/// A fence with ordering `ord` (a scheduling point). `Relaxed` panics, as in `std`.
pub fn fence(ord: Ordering) {
    assert!(
        ord != Ordering::Relaxed,
        "there is no such thing as a relaxed fence"
    );
    rt::fence(ord);
}

fn check_load_ord(ord: Ordering) {
    assert!(
        !matches!(ord, Ordering::Release | Ordering::AcqRel),
        "there is no such thing as a release load"
    );
}

fn check_store_ord(ord: Ordering) {
    assert!(
        !matches!(ord, Ordering::Acquire | Ordering::AcqRel),
        "there is no such thing as an acquire store"
    );
}

/// The shared implementation of every atomic type: a location id in the running execution.
#[derive(Debug)]
struct Loc(u32);

impl Loc {
    fn new(bits: u64, name: LocName) -> Loc {
        Loc(rt::new_location(name, bits))
    }
    fn unnamed(bits: u64) -> Loc {
        let idx = rt::location_count();
        Loc(rt::new_location(LocName::indexed(UNNAMED, idx, ""), bits))
    }
    fn load(&self, ord: Ordering) -> u64 {
        check_load_ord(ord);
        rt::load(self.0, ord)
    }
    fn store(&self, v: u64, ord: Ordering) {
        check_store_ord(ord);
        rt::store(self.0, v, ord)
    }
    fn rmw(&self, ord: Ordering, f: impl FnOnce(u64) -> u64) -> u64 {
        let fail = match ord {
            Ordering::AcqRel => Ordering::Acquire,
            Ordering::Release => Ordering::Relaxed,
            o => o,
        };
        match rt::rmw(self.0, ord, fail, None, |v| Some(f(v))) {
            Ok(v) | Err(v) => v,
        }
    }
    fn cas(
        &self,
        current: u64,
        new: u64,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u64, u64> {
        check_load_ord(failure);
        rt::rmw(self.0, success, failure, Some(current), |v| {
            (v == current).then_some(new)
        })
    }
    fn peek(&self) -> u64 {
        rt::peek(self.0)
    }
}

macro_rules! atomic_int {
    ($(#[$doc:meta])* $name:ident, $t:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(Loc);

        impl $name {
            /// A new location holding `v`. Must be called inside a simulation; locations get
            /// ids in creation order.
            pub fn new(v: $t) -> Self {
                $name(Loc::unnamed(v.to_bits()))
            }
            /// A new location holding `v`, named `name` in traces.
            pub fn named(v: $t, name: LocName) -> Self {
                $name(Loc::new(v.to_bits(), name))
            }
            /// Atomic load.
            pub fn load(&self, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.load(ord))
            }
            /// Atomic store.
            pub fn store(&self, v: $t, ord: Ordering) {
                self.0.store(v.to_bits(), ord)
            }
            /// Atomic exchange.
            pub fn swap(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, |_| v.to_bits()))
            }
            /// Strong compare-and-exchange.
            pub fn compare_exchange(
                &self,
                current: $t,
                new: $t,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$t, $t> {
                self.0
                    .cas(current.to_bits(), new.to_bits(), success, failure)
                    .map(<$t>::from_bits)
                    .map_err(<$t>::from_bits)
            }
            /// Weak compare-and-exchange (never fails spuriously here).
            pub fn compare_exchange_weak(
                &self,
                current: $t,
                new: $t,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$t, $t> {
                self.compare_exchange(current, new, success, failure)
            }
            /// Wrapping add; returns the previous value.
            pub fn fetch_add(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, |x| <$t>::from_bits(x).wrapping_add(v).to_bits()))
            }
            /// Wrapping subtract; returns the previous value.
            pub fn fetch_sub(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, |x| <$t>::from_bits(x).wrapping_sub(v).to_bits()))
            }
            /// Bitwise or; returns the previous value.
            pub fn fetch_or(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, |x| (<$t>::from_bits(x) | v).to_bits()))
            }
            /// Bitwise and; returns the previous value.
            pub fn fetch_and(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, |x| (<$t>::from_bits(x) & v).to_bits()))
            }
            /// Bitwise xor; returns the previous value.
            pub fn fetch_xor(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, |x| (<$t>::from_bits(x) ^ v).to_bits()))
            }
            /// Maximum; returns the previous value.
            pub fn fetch_max(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, |x| <$t>::from_bits(x).max(v).to_bits()))
            }
            /// Minimum; returns the previous value.
            pub fn fetch_min(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, |x| <$t>::from_bits(x).min(v).to_bits()))
            }
            /// `std`'s `fetch_update`: load, then compare-exchange `f`'s value until it
            /// sticks (each attempt is its own steps); `Err` with the value read when `f`
            /// returns `None`.
            pub fn fetch_update(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                mut f: impl FnMut($t) -> Option<$t>,
            ) -> Result<$t, $t> {
                let mut prev = self.load(fetch_order);
                while let Some(next) = f(prev) {
                    match self.compare_exchange_weak(prev, next, set_order, fetch_order) {
                        Ok(v) => return Ok(v),
                        Err(v) => prev = v,
                    }
                }
                Err(prev)
            }
            /// The newest value, read outside the model: no step, no event, no
            /// synchronisation. For deadlock reports and debugging only.
            pub fn peek(&self) -> $t {
                <$t>::from_bits(self.0.peek())
            }
        }
    };
}

atomic_int!(
    /// A simulated `AtomicU8`.
    AtomicU8, u8
);
atomic_int!(
    /// A simulated `AtomicU16`.
    AtomicU16, u16
);
atomic_int!(
    /// A simulated `AtomicU32`.
    AtomicU32, u32
);
atomic_int!(
    /// A simulated `AtomicU64`.
    AtomicU64, u64
);
atomic_int!(
    /// A simulated `AtomicUsize`.
    AtomicUsize, usize
);
atomic_int!(
    /// A simulated `AtomicI8`.
    AtomicI8, i8
);
atomic_int!(
    /// A simulated `AtomicI16`.
    AtomicI16, i16
);
atomic_int!(
    /// A simulated `AtomicI32`.
    AtomicI32, i32
);
atomic_int!(
    /// A simulated `AtomicI64`.
    AtomicI64, i64
);
atomic_int!(
    /// A simulated `AtomicIsize`.
    AtomicIsize, isize
);

/// A simulated `AtomicBool`.
#[derive(Debug)]
pub struct AtomicBool(Loc);

impl AtomicBool {
    /// A new location holding `v`.
    pub fn new(v: bool) -> Self {
        AtomicBool(Loc::unnamed(v as u64))
    }
    /// A new location holding `v`, named `name` in traces.
    pub fn named(v: bool, name: LocName) -> Self {
        AtomicBool(Loc::new(v as u64, name))
    }
    /// Atomic load.
    pub fn load(&self, ord: Ordering) -> bool {
        self.0.load(ord) != 0
    }
    /// Atomic store.
    pub fn store(&self, v: bool, ord: Ordering) {
        self.0.store(v as u64, ord)
    }
    /// Atomic exchange.
    pub fn swap(&self, v: bool, ord: Ordering) -> bool {
        self.0.rmw(ord, |_| v as u64) != 0
    }
    /// Strong compare-and-exchange.
    pub fn compare_exchange(
        &self,
        current: bool,
        new: bool,
        success: Ordering,
        failure: Ordering,
    ) -> Result<bool, bool> {
        self.0
            .cas(current as u64, new as u64, success, failure)
            .map(|v| v != 0)
            .map_err(|v| v != 0)
    }
    /// Weak compare-and-exchange (never fails spuriously here).
    pub fn compare_exchange_weak(
        &self,
        current: bool,
        new: bool,
        success: Ordering,
        failure: Ordering,
    ) -> Result<bool, bool> {
        self.compare_exchange(current, new, success, failure)
    }
    /// Logical or; returns the previous value.
    pub fn fetch_or(&self, v: bool, ord: Ordering) -> bool {
        self.0.rmw(ord, |x| x | v as u64) != 0
    }
    /// Logical and; returns the previous value.
    pub fn fetch_and(&self, v: bool, ord: Ordering) -> bool {
        self.0.rmw(ord, |x| x & v as u64) != 0
    }
    /// Logical xor; returns the previous value.
    pub fn fetch_xor(&self, v: bool, ord: Ordering) -> bool {
        self.0.rmw(ord, |x| x ^ v as u64) != 0
    }
    /// The newest value, outside the model (reports and debugging only).
    pub fn peek(&self) -> bool {
        self.0.peek() != 0
    }
}
