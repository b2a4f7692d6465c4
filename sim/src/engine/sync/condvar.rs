//! A simulated `std::sync::Condvar`, built as `std`'s is on Linux: a sequence number in a
//! simulated atomic, bumped by every notification, and a futex wait on it.
//!
//! `wait` reads the sequence number *before* releasing the mutex, then sleeps only if it has
//! not moved: a notification that comes after the mutex is released (and so after the waiter
//! checked its condition) is never lost. Reading it after releasing the mutex loses wake-ups;
//! the tests find that. Wake-ups are never spurious here, and `notify_one` wakes the
//! longest-waiting task.

use super::atomic::{AtomicU32, Ordering};
use super::mutex::MutexGuard;
use crate::engine::event::LocName;
use crate::engine::rt::{self, FutexWait};
use std::sync::LockResult;
use std::time::Duration;

/// The name given to an unnamed condition variable.
const UNNAMED: &str = "condvar";

/// A simulated `std::sync::Condvar`, with `std`'s signatures.
#[derive(Debug)]
pub struct Condvar {
    seq: AtomicU32,
}

/// Whether a timed wait ran out of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True when the wait ended because its time ran out.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A new condition variable (named `condvarN` in traces).
    pub fn new() -> Condvar {
        let name = LocName::indexed(UNNAMED, rt::location_count(), "");
        Condvar::named(name)
    }

    /// A new condition variable named `name` in traces.
    pub fn named(name: LocName) -> Condvar {
        Condvar {
            seq: AtomicU32::named(0, name),
        }
    }

    /// Release the guard's mutex and sleep until notified, then re-acquire it. (Wake-ups are
    /// never spurious here; code should still re-check its condition, as with `std`.)
    #[track_caller]
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        Ok(self.wait_until(guard, None).0)
    }

    /// [`Condvar::wait`] until `condition` is false.
    #[track_caller]
    pub fn wait_while<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> LockResult<MutexGuard<'a, T>> {
        while condition(&mut *guard) {
            guard = self.wait_until(guard, None).0;
        }
        Ok(guard)
    }

    /// [`Condvar::wait`] for at most `dur` of virtual time.
    #[track_caller]
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let until = rt::now_ns().saturating_add(rt::duration_ns(dur));
        let (g, timed_out) = self.wait_until(guard, Some(until));
        Ok((g, WaitTimeoutResult(timed_out)))
    }

    /// [`Condvar::wait_while`] for at most `dur` of virtual time in all.
    #[track_caller]
    pub fn wait_timeout_while<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let until = rt::now_ns().saturating_add(rt::duration_ns(dur));
        while condition(&mut *guard) {
            if rt::now_ns() >= until {
                return Ok((guard, WaitTimeoutResult(true)));
            }
            guard = self.wait_until(guard, Some(until)).0;
        }
        Ok((guard, WaitTimeoutResult(false)))
    }

    /// Wake one waiting task, if any.
    pub fn notify_one(&self) {
        self.seq.fetch_add(1, Ordering::Relaxed);
        rt::futex_wake(self.seq.location(), 1);
    }

    /// Wake every waiting task.
    pub fn notify_all(&self) {
        self.seq.fetch_add(1, Ordering::Relaxed);
        rt::futex_wake(self.seq.location(), u32::MAX);
    }

    /// The wait itself: the guard's mutex released, asleep until notified or `until_ns`, the
    /// mutex re-acquired. Returns the new guard and whether the time ran out.
    #[track_caller]
    fn wait_until<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        until_ns: Option<i64>,
    ) -> (MutexGuard<'a, T>, bool) {
        // Before the mutex is released: a notification after this point moves it.
        let seen = self.seq.load(Ordering::Relaxed);
        let m = guard.into_mutex();
        m.raw().unlock();
        let woke = rt::futex_wait(self.seq.location(), seen as u64, until_ns);
        m.raw().lock();
        (MutexGuard::held(m), woke == FutexWait::TimedOut)
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}
