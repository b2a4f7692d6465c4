//! The core's shared-memory traits on the engine's simulated primitives: its atomics, its
//! plain fields and its lock, each access a scheduling point of the simulation.

use crate::engine::event::LocName;
use crate::engine::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use crate::engine::sync::{Plain, RawMutex};
use netpoll::Word;
use std::borrow::Cow;
use std::marker::PhantomData;

/// The engine's name for a core location.
pub(crate) fn loc_name(n: netpoll::LocName) -> LocName {
    LocName {
        object: Cow::Borrowed(n.object),
        index: (n.index != u32::MAX).then_some(n.index),
        field: Cow::Borrowed(n.field),
    }
}

macro_rules! core_atomic {
    ($name:ident, $t:ty) => {
        impl netpoll::Atomic<$t> for $name {
            fn new(v: $t, name: netpoll::LocName) -> Self {
                $name::named(v, loc_name(name))
            }
            fn load(&self, ord: Ordering) -> $t {
                $name::load(self, ord)
            }
            fn store(&self, v: $t, ord: Ordering) {
                $name::store(self, v, ord)
            }
            fn swap(&self, v: $t, ord: Ordering) -> $t {
                $name::swap(self, v, ord)
            }
            fn compare_exchange(
                &self,
                current: $t,
                new: $t,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$t, $t> {
                $name::compare_exchange(self, current, new, success, failure)
            }
            fn fetch_add(&self, v: $t, ord: Ordering) -> $t {
                $name::fetch_add(self, v, ord)
            }
            fn fetch_sub(&self, v: $t, ord: Ordering) -> $t {
                $name::fetch_sub(self, v, ord)
            }
            fn peek(&self) -> $t {
                $name::peek(self)
            }
        }
    };
}

core_atomic!(AtomicU32, u32);
core_atomic!(AtomicUsize, usize);

/// A plain field of the core: an engine plain cell holding the value's 64-bit form.
#[derive(Debug)]
pub struct SimPlain<T: Word> {
    cell: Plain<u64>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Word> netpoll::PlainCell<T> for SimPlain<T> {
    fn new(v: T, name: netpoll::LocName) -> Self {
        SimPlain {
            cell: Plain::named(v.to_bits(), loc_name(name)),
            _t: PhantomData,
        }
    }
    fn get(&self) -> T {
        T::from_bits(self.cell.get())
    }
    #[track_caller]
    fn set(&self, v: T) {
        self.cell.set(v.to_bits())
    }
    fn peek(&self) -> T {
        T::from_bits(self.cell.peek())
    }
}

impl netpoll::RawLock for RawMutex {
    fn new(name: netpoll::LocName) -> Self {
        RawMutex::named(loc_name(name))
    }
    #[track_caller]
    fn lock(&self) {
        RawMutex::lock(self)
    }
    fn unlock(&self) {
        RawMutex::unlock(self)
    }
}
