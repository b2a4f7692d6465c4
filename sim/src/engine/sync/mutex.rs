//! A simulated mutex: lock acquires, unlock releases; blocking is a scheduling point.

use crate::engine::event::LocName;
use crate::engine::rt;
use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::LockResult;

/// A raw lock (Go's runtime `mutex`), named for traces.
#[derive(Debug)]
pub struct RawMutex {
    id: u32,
}

impl RawMutex {
    /// A new, unlocked lock named `name`.
    pub fn named(name: LocName) -> Self {
        RawMutex {
            id: rt::new_lock(name),
        }
    }
    /// Acquire, blocking while another task holds it.
    #[track_caller]
    pub fn lock(&self) {
        rt::lock(self.id)
    }
    /// Acquire if free.
    pub fn try_lock(&self) -> bool {
        rt::try_lock(self.id)
    }
    /// Release (the caller must hold it).
    pub fn unlock(&self) {
        rt::unlock(self.id)
    }
    /// The engine's id of this lock.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }
}

/// A simulated `std::sync::Mutex`. Never poisoned: a panic ends the schedule as a failure.
#[derive(Debug)]
pub struct Mutex<T> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard, and the simulated lock gives one task at a
// time a guard; tasks of one execution run on one OS thread, one at a time, but a `Mutex` may
// be moved to or shared with another thread like `std`'s, hence the same bounds.
unsafe impl<T: Send> Sync for Mutex<T> {}
// SAFETY: as for `Sync`; moving the mutex moves the data.
unsafe impl<T: Send> Send for Mutex<T> {}

/// The name given to an unnamed mutex.
const UNNAMED: &str = "mutex";

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `v`.
    pub fn new(v: T) -> Self {
        let name = LocName::indexed(UNNAMED, rt::location_count(), "");
        Mutex::named(v, name)
    }
    /// A new mutex named `name` in traces.
    pub fn named(v: T, name: LocName) -> Self {
        Mutex {
            raw: RawMutex::named(name),
            data: UnsafeCell::new(v),
        }
    }
    /// Acquire (a scheduling point; blocks while another task holds it).
    #[track_caller]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        self.raw.lock();
        Ok(MutexGuard { m: self })
    }
    /// Consume the mutex, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

/// Holds a [`Mutex`]; unlocks (a scheduling point) when dropped.
#[derive(Debug)]
pub struct MutexGuard<'a, T> {
    m: &'a Mutex<T>,
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this task holds the lock, so no other reference
        // to the data is live.
        unsafe { &*self.m.data.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.m.data.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.m.raw.unlock();
    }
}
