//! A simulated mutex: lock acquires, unlock releases; blocking is a scheduling point.

use crate::engine::event::LocName;
use crate::engine::rt;
use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, TryLockError, TryLockResult};

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

/// A simulated `std::sync::Mutex`, with `std`'s signatures. Never poisoned: a panic ends the
/// schedule as a failure. Create it inside the check (or in a [`LazyLock`](super::LazyLock)
/// for a `static`: a `std` static would outlive the execution).
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
    /// Acquire if no task holds it (a scheduling point).
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        if self.raw.try_lock() {
            Ok(MutexGuard { m: self })
        } else {
            Err(TryLockError::WouldBlock)
        }
    }
    /// Never: a panic while holding a lock fails the whole schedule instead.
    pub fn is_poisoned(&self) -> bool {
        false
    }
    /// Nothing to clear (see [`Mutex::is_poisoned`]).
    pub fn clear_poison(&self) {}
    /// Consume the mutex, returning the data.
    pub fn into_inner(self) -> LockResult<T> {
        Ok(self.data.into_inner())
    }
    /// The data, through an exclusive borrow (no locking needed, no step).
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        Ok(self.data.get_mut())
    }
    /// The engine's lock (for [`Condvar`](super::Condvar)).
    pub(crate) fn raw(&self) -> &RawMutex {
        &self.raw
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(v: T) -> Self {
        Mutex::new(v)
    }
}

impl<'a, T> MutexGuard<'a, T> {
    /// The mutex this guard holds, and the guard forgotten (its lock stays held): for
    /// [`Condvar`](super::Condvar), which releases and re-acquires it itself.
    pub(crate) fn into_mutex(self) -> &'a Mutex<T> {
        let m = self.m;
        std::mem::forget(self);
        m
    }
    /// A guard for `m`, whose lock the running task holds.
    pub(crate) fn held(m: &'a Mutex<T>) -> Self {
        MutexGuard { m }
    }
}

impl<T: std::fmt::Display> std::fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// Holds a [`Mutex`]; unlocks (a scheduling point) when dropped.
pub struct MutexGuard<'a, T> {
    m: &'a Mutex<T>,
}

impl<T: std::fmt::Debug> std::fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
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
        if rt::in_task() {
            self.m.raw.unlock();
        }
    }
}
