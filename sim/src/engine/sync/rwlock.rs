//! A simulated `std::sync::RwLock`: a state word in a simulated atomic (the number of readers,
//! or a writer) and futex waits on it, so the memory model orders what readers and writers
//! see through the lock: a reader acquires the last writer's release, a writer every reader's
//! before it (their unlocks are read-modify-writes in one release sequence).
//!
//! Readers never wait for waiting writers (so a writer may wait while readers come and go, and
//! a task that read-locks twice while a writer waits never deadlocks here, which on some
//! platforms it does); every unlock that may free the lock wakes every waiter.

use super::atomic::{AtomicU32, Ordering};
use crate::engine::event::LocName;
use crate::engine::rt;
use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, TryLockError, TryLockResult};

/// The state's value while a writer holds the lock.
const WRITER: u32 = u32::MAX;
/// The most readers at once (one less than [`WRITER`]).
const MAX_READERS: u32 = WRITER - 1;

/// The name given to an unnamed lock.
const UNNAMED: &str = "rwlock";

/// A simulated `std::sync::RwLock`, with `std`'s signatures. Never poisoned: a panic ends the
/// schedule as a failure.
#[derive(Debug)]
pub struct RwLock<T> {
    state: AtomicU32,
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only through guards; the lock gives either one writer or
// readers at a time (shared `&T` across readers needs `T: Sync`), as `std`'s does.
unsafe impl<T: Send + Sync> Sync for RwLock<T> {}
// SAFETY: moving the lock moves the data.
unsafe impl<T: Send> Send for RwLock<T> {}

impl<T> RwLock<T> {
    /// A new, unlocked lock holding `v` (named `rwlockN` in traces).
    pub fn new(v: T) -> Self {
        let name = LocName::indexed(UNNAMED, rt::location_count(), "");
        RwLock::named(v, name)
    }

    /// A new lock named `name` in traces.
    pub fn named(v: T, name: LocName) -> Self {
        RwLock {
            state: AtomicU32::named(0, name),
            data: UnsafeCell::new(v),
        }
    }

    /// Acquire shared access, waiting while a writer holds it.
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s < MAX_READERS {
                if self
                    .state
                    .compare_exchange(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Ok(RwLockReadGuard { l: self });
                }
            } else {
                rt::futex_wait(self.state.location(), s as u64, None);
            }
        }
    }

    /// Acquire shared access if no writer holds it.
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        let mut s = self.state.load(Ordering::Relaxed);
        while s < MAX_READERS {
            match self
                .state
                .compare_exchange(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Ok(RwLockReadGuard { l: self }),
                Err(now) => s = now,
            }
        }
        Err(TryLockError::WouldBlock)
    }

    /// Acquire exclusive access, waiting while anyone holds it.
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s == 0 {
                if self
                    .state
                    .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Ok(RwLockWriteGuard { l: self });
                }
            } else {
                rt::futex_wait(self.state.location(), s as u64, None);
            }
        }
    }

    /// Acquire exclusive access if nobody holds it.
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        match self
            .state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Ok(RwLockWriteGuard { l: self }),
            Err(_) => Err(TryLockError::WouldBlock),
        }
    }

    /// Never: a panic while holding a lock fails the whole schedule instead.
    pub fn is_poisoned(&self) -> bool {
        false
    }

    /// Nothing to clear (see [`RwLock::is_poisoned`]).
    pub fn clear_poison(&self) {}

    /// Consume the lock, returning the data.
    pub fn into_inner(self) -> LockResult<T> {
        Ok(self.data.into_inner())
    }

    /// The data, through an exclusive borrow (no locking needed, no step).
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        Ok(self.data.get_mut())
    }

    fn read_unlock(&self) {
        if self.state.fetch_sub(1, Ordering::Release) == 1 {
            // The last reader: a writer may be waiting.
            rt::futex_wake(self.state.location(), u32::MAX);
        }
    }

    fn write_unlock(&self) {
        self.state.store(0, Ordering::Release);
        rt::futex_wake(self.state.location(), u32::MAX);
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(v: T) -> Self {
        RwLock::new(v)
    }
}

/// Shared access to a [`RwLock`]'s data; released (a scheduling point) when dropped.
pub struct RwLockReadGuard<'a, T> {
    l: &'a RwLock<T>,
}

/// Exclusive access to a [`RwLock`]'s data; released (a scheduling point) when dropped.
pub struct RwLockWriteGuard<'a, T> {
    l: &'a RwLock<T>,
}

impl<T> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read guard exists only while the lock counts this reader, so no writer
        // holds it: no `&mut` to the data is live.
        unsafe { &*self.l.data.get() }
    }
}

impl<T> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a write guard exists only while its task holds the lock alone.
        unsafe { &*self.l.data.get() }
    }
}

impl<T> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.l.data.get() }
    }
}

impl<T> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        if rt::in_task() {
            self.l.read_unlock();
        }
    }
}

impl<T> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        if rt::in_task() {
            self.l.write_unlock();
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}
