//! Simulated atomics with every `std` ordering, under the configured memory model.

pub use std::sync::atomic::Ordering;

use super::Word;
use crate::engine::event::LocName;
use crate::engine::rt;
use std::fmt;
use std::marker::PhantomData;

/// `std`'s `fetch_update` loop, for every atomic here: starting from `prev`, compare-exchange
/// `f`'s value until it sticks; `Err` with the value last read when `f` returns `None`.
fn fetch_update_with<T: Copy>(
    mut prev: T,
    mut f: impl FnMut(T) -> Option<T>,
    mut cas: impl FnMut(T, T) -> Result<T, T>,
) -> Result<T, T> {
    while let Some(next) = f(prev) {
        match cas(prev, next) {
            Ok(v) => return Ok(v),
            Err(v) => prev = v,
        }
    }
    Err(prev)
}

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
    fn rmw(&self, ord: Ordering, f: impl Fn(u64) -> u64 + Copy + 'static) -> u64 {
        let fail = match ord {
            Ordering::AcqRel => Ordering::Acquire,
            Ordering::Release => Ordering::Relaxed,
            o => o,
        };
        match rt::rmw(self.0, ord, fail, None, move |v| Some(f(v))) {
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
        rt::rmw(self.0, success, failure, Some(current), move |v| {
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
                <$t>::from_bits(self.0.rmw(ord, move |_| v.to_bits()))
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
                <$t>::from_bits(self.0.rmw(ord, move |x| <$t>::from_bits(x).wrapping_add(v).to_bits()))
            }
            /// Wrapping subtract; returns the previous value.
            pub fn fetch_sub(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, move |x| <$t>::from_bits(x).wrapping_sub(v).to_bits()))
            }
            /// Bitwise or; returns the previous value.
            pub fn fetch_or(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, move |x| (<$t>::from_bits(x) | v).to_bits()))
            }
            /// Bitwise and; returns the previous value.
            pub fn fetch_and(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, move |x| (<$t>::from_bits(x) & v).to_bits()))
            }
            /// Bitwise xor; returns the previous value.
            pub fn fetch_xor(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, move |x| (<$t>::from_bits(x) ^ v).to_bits()))
            }
            /// Bitwise nand; returns the previous value.
            pub fn fetch_nand(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, move |x| (!(<$t>::from_bits(x) & v)).to_bits()))
            }
            /// Consume the atomic, returning its value (a relaxed load: owning it, the caller
            /// has every store to it before it).
            pub fn into_inner(self) -> $t {
                self.load(Ordering::Relaxed)
            }
            /// Maximum; returns the previous value.
            pub fn fetch_max(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, move |x| <$t>::from_bits(x).max(v).to_bits()))
            }
            /// Minimum; returns the previous value.
            pub fn fetch_min(&self, v: $t, ord: Ordering) -> $t {
                <$t>::from_bits(self.0.rmw(ord, move |x| <$t>::from_bits(x).min(v).to_bits()))
            }
            /// `std`'s `fetch_update`: load, then compare-exchange `f`'s value until it
            /// sticks (each attempt is its own steps); `Err` with the value read when `f`
            /// returns `None`.
            pub fn fetch_update(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                f: impl FnMut($t) -> Option<$t>,
            ) -> Result<$t, $t> {
                fetch_update_with(self.load(fetch_order), f, |prev, next| {
                    self.compare_exchange_weak(prev, next, set_order, fetch_order)
                })
            }
            /// The newest value, read outside the model: no step, no event, no
            /// synchronisation. For deadlock reports and debugging only.
            pub fn peek(&self) -> $t {
                <$t>::from_bits(self.0.peek())
            }
            /// The engine's location (to sleep on it: futex waits).
            #[allow(dead_code)]
            pub(crate) fn location(&self) -> u32 {
                (self.0).0
            }
        }

        impl Default for $name {
            /// A location holding 0.
            fn default() -> Self {
                $name::new(0)
            }
        }

        impl From<$t> for $name {
            fn from(v: $t) -> Self {
                $name::new(v)
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
        self.0.rmw(ord, move |_| v as u64) != 0
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
        self.0.rmw(ord, move |x| x | v as u64) != 0
    }
    /// Logical and; returns the previous value.
    pub fn fetch_and(&self, v: bool, ord: Ordering) -> bool {
        self.0.rmw(ord, move |x| x & v as u64) != 0
    }
    /// Logical xor; returns the previous value.
    pub fn fetch_xor(&self, v: bool, ord: Ordering) -> bool {
        self.0.rmw(ord, move |x| x ^ v as u64) != 0
    }
    /// Logical nand; returns the previous value.
    pub fn fetch_nand(&self, v: bool, ord: Ordering) -> bool {
        self.0.rmw(ord, move |x| (x & v as u64 == 0) as u64) != 0
    }
    /// `std`'s `fetch_update`: load, then compare-exchange `f`'s value until it sticks.
    pub fn fetch_update(
        &self,
        set_order: Ordering,
        fetch_order: Ordering,
        f: impl FnMut(bool) -> Option<bool>,
    ) -> Result<bool, bool> {
        fetch_update_with(self.load(fetch_order), f, |prev, next| {
            self.compare_exchange_weak(prev, next, set_order, fetch_order)
        })
    }
    /// Consume the atomic, returning its value.
    pub fn into_inner(self) -> bool {
        self.load(Ordering::Relaxed)
    }
    /// The newest value, outside the model (reports and debugging only).
    pub fn peek(&self) -> bool {
        self.0.peek() != 0
    }
}

impl Default for AtomicBool {
    /// A location holding `false`.
    fn default() -> Self {
        AtomicBool::new(false)
    }
}

impl From<bool> for AtomicBool {
    fn from(v: bool) -> Self {
        AtomicBool::new(v)
    }
}

/// A simulated `AtomicPtr`. Its location holds a number per distinct address (in the order the
/// execution first stored each; null is 0), so the event log never records an address (which
/// changes from run to run); loads give back the address.
pub struct AtomicPtr<T> {
    loc: Loc,
    _t: PhantomData<*mut T>,
}

// SAFETY: as `std`'s `AtomicPtr`: it only holds an address, and every access goes through the
// engine, which runs one task at a time.
unsafe impl<T> Send for AtomicPtr<T> {}
// SAFETY: as for `Send`.
unsafe impl<T> Sync for AtomicPtr<T> {}

impl<T> fmt::Debug for AtomicPtr<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AtomicPtr").field(&self.loc).finish()
    }
}

fn ptr_id<T>(p: *mut T) -> u64 {
    rt::pointer_id(p.expose_provenance())
}

fn ptr_of<T>(id: u64) -> *mut T {
    std::ptr::with_exposed_provenance_mut(rt::pointer_addr(id))
}

impl<T> AtomicPtr<T> {
    /// A new location holding `p`.
    pub fn new(p: *mut T) -> Self {
        AtomicPtr {
            loc: Loc::unnamed(ptr_id(p)),
            _t: PhantomData,
        }
    }
    /// A new location holding `p`, named `name` in traces.
    pub fn named(p: *mut T, name: LocName) -> Self {
        AtomicPtr {
            loc: Loc::new(ptr_id(p), name),
            _t: PhantomData,
        }
    }
    /// Atomic load.
    pub fn load(&self, ord: Ordering) -> *mut T {
        ptr_of(self.loc.load(ord))
    }
    /// Atomic store.
    pub fn store(&self, p: *mut T, ord: Ordering) {
        self.loc.store(ptr_id(p), ord)
    }
    /// Atomic exchange.
    pub fn swap(&self, p: *mut T, ord: Ordering) -> *mut T {
        let id = ptr_id(p);
        ptr_of(self.loc.rmw(ord, move |_| id))
    }
    /// Strong compare-and-exchange (addresses compare as `std`'s do).
    pub fn compare_exchange(
        &self,
        current: *mut T,
        new: *mut T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<*mut T, *mut T> {
        self.loc
            .cas(ptr_id(current), ptr_id(new), success, failure)
            .map(ptr_of)
            .map_err(ptr_of)
    }
    /// Weak compare-and-exchange (never fails spuriously here).
    pub fn compare_exchange_weak(
        &self,
        current: *mut T,
        new: *mut T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<*mut T, *mut T> {
        self.compare_exchange(current, new, success, failure)
    }
    /// `std`'s `fetch_update`.
    pub fn fetch_update(
        &self,
        set_order: Ordering,
        fetch_order: Ordering,
        f: impl FnMut(*mut T) -> Option<*mut T>,
    ) -> Result<*mut T, *mut T> {
        fetch_update_with(self.load(fetch_order), f, |prev, next| {
            self.compare_exchange_weak(prev, next, set_order, fetch_order)
        })
    }
    /// Consume the atomic, returning its value.
    pub fn into_inner(self) -> *mut T {
        self.load(Ordering::Relaxed)
    }
}

impl<T> Default for AtomicPtr<T> {
    /// A location holding null.
    fn default() -> Self {
        AtomicPtr::new(std::ptr::null_mut())
    }
}
