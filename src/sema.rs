//! Go's runtime semaphore (`runtime/sema.go`: `semacquire1`, `semrelease1`, `cansemacquire`)
//! built from a platform's primitives: a counting semaphore whose `acquire` parks the task
//! (not the thread) until a `release` makes it ready.
//!
//! Go keys its wait queues by address in a global table (`semtable`); here every semaphore owns
//! its root (`lock`, `nwait`, the queue of parked tasks), which is what a table bucket holding
//! one address amounts to. The protocol is Go's:
//!
//! * `acquire`: take a unit with a CAS if the count is positive. Otherwise lock the root,
//!   announce the wait in `nwait`, retry the CAS (a release that ran before the announcement
//!   left its unit in the count), queue the task and park; the park's commit step unlocks the
//!   root (Go: `goparkunlock`). Woken, try again from the top (no hand-off: a task that was not
//!   parked may take the unit first, as in Go's `semrelease1(addr, false, 0)`).
//! * `release`: add a unit; if `nwait` says nobody waits, done. Otherwise lock the root, take
//!   the first queued task, unlock, and make it ready.
//!
//! The queue is plain data that only the holder of `lock` touches (Go's treap of `sudog`s,
//! protected by `semaRoot.lock`). It is kept in a `std::sync::Mutex` only so that safe Rust can
//! reach it from `&self`: that mutex is taken strictly inside `lock` and never across a
//! scheduling point, so it is never contended and never blocks a task.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Mutex;

use crate::platform::{Atomic, LocName, Platform, RawLock, Scheduler, TaskId};

/// The names a semaphore's locations carry in traces.
#[derive(Clone, Copy, Debug)]
pub struct SemaNames {
    /// The count (Go: the `uint32` at the semaphore's address).
    pub count: LocName,
    /// The waiters announced in the slow path (Go: `semaRoot.nwait`).
    pub nwait: LocName,
    /// The root lock (Go: `semaRoot.lock`).
    pub lock: LocName,
}

/// A counting semaphore that parks tasks. See the module documentation.
pub struct Sema<P: Platform> {
    /// Units available (Go: `*addr`).
    count: P::AtomicU32,
    /// Tasks between announcing a wait and being dequeued (Go: `semaRoot.nwait`): `release`
    /// skips the lock while it is 0.
    nwait: P::AtomicU32,
    /// Protects `queue` (Go: `semaRoot.lock`).
    lock: P::Lock,
    /// Parked tasks, first come first woken. Only touched with `lock` held.
    queue: Mutex<VecDeque<TaskId>>,
}

impl<P: Platform> Sema<P> {
    /// A semaphore holding `count` units.
    pub fn new(count: u32, names: SemaNames) -> Self {
        Sema {
            count: P::AtomicU32::new(count, names.count),
            nwait: P::AtomicU32::new(0, names.nwait),
            lock: P::Lock::new(names.lock),
            queue: Mutex::new(VecDeque::new()),
        }
    }

    /// Go: `cansemacquire`. Take one unit if there is one.
    fn try_acquire(&self) -> bool {
        loop {
            let v = self.count.load(SeqCst);
            if v == 0 {
                return false;
            }
            if self.count.cas(v, v - 1) {
                return true;
            }
        }
    }

    /// The queue, with `lock` held by the caller.
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<TaskId>> {
        // Never poisoned in practice (no code that can panic runs while it is held); if it
        // were, the data is a plain queue and still consistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Go: `semacquire1` (without profiling or hand-off). Take one unit, parking the current
    /// task until a [`Sema::release`] provides one.
    ///
    /// Contract: called by a task of `sched`'s platform (it may park).
    pub fn acquire(&self, sched: &P::Sched) {
        if self.try_acquire() {
            return;
        }
        let me = sched.current();
        loop {
            self.lock.lock();
            // Announce the wait so that a release from now on takes the slow path.
            self.nwait.fetch_add(1, SeqCst);
            // A release between the fast path and the announcement left its unit here.
            if self.try_acquire() {
                self.nwait.fetch_sub(1, SeqCst);
                self.lock.unlock();
                return;
            }
            self.queue().push_back(me);
            // Go: goparkunlock. The root is unlocked only once this task is descheduled, so
            // the release that dequeues it cannot ready it before it parks.
            sched.park(|| {
                self.lock.unlock();
                true
            });
            if self.try_acquire() {
                return;
            }
        }
    }

    /// Go: `semrelease1(addr, false, 0)`. Add one unit and make the first parked task, if
    /// any, ready (it then competes for the unit).
    ///
    /// Contract: lock-free on the fast path; never parks.
    pub fn release(&self, sched: &P::Sched) {
        self.count.fetch_add(1, SeqCst);
        if self.nwait.load(SeqCst) == 0 {
            return;
        }
        self.lock.lock();
        if self.nwait.load(SeqCst) == 0 {
            // Someone else woke the waiter, or it took the unit itself.
            self.lock.unlock();
            return;
        }
        let task = self.queue().pop_front();
        if task.is_some() {
            self.nwait.fetch_sub(1, SeqCst);
        }
        self.lock.unlock();
        if let Some(task) = task {
            sched.ready(task);
        }
    }

    /// The count, read outside the protocol (reports and end checks).
    pub fn peek_count(&self) -> u32 {
        self.count.peek()
    }

    /// The announced waiters, read outside the protocol (reports and end checks).
    pub fn peek_waiters(&self) -> u32 {
        self.nwait.peek()
    }
}
