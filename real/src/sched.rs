//! `ThreadSched`: tasks are OS threads, each with a one-shot permit to park on.
//!
//! A task id is a small positive integer handed out the first time a thread asks for it
//! ([`Scheduler::current`]), whether the thread was spawned here or not (a test's main
//! thread), and recycled when the thread exits. Ids name permits in a process-wide table of
//! leaked, never-moving chunks, so `ready` finds a permit with two atomic loads, no lock and
//! no allocation; several runtimes in one process share the table harmlessly.
//!
//! The permit is what keeps Go's `gopark` contract: `ready` may run after the commit step
//! succeeded but before the thread actually blocked, and it is not lost.

use std::cell::Cell;
use std::panic;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use netpoll::platform::{Scheduler, TaskId};

/// Permits per chunk of the task table.
const CHUNK_LEN: usize = 256;
/// Chunks in the task table: at most `CHUNK_LEN * MAX_CHUNKS` live tasks.
const MAX_CHUNKS: usize = 4096;

/// A thread's park permit (the design of std's thread parker).
#[cfg(any(target_os = "linux", target_os = "android"))]
mod permit {
    use crate::sys::futex;
    use std::sync::atomic::{AtomicU32, Ordering};

    const EMPTY: u32 = 0;
    const NOTIFIED: u32 = 1;
    const PARKED: u32 = u32::MAX;

    /// Empty, notified, or parked (a thread sleeps on the futex).
    #[derive(Debug)]
    pub struct Permit {
        state: AtomicU32,
    }

    impl Permit {
        pub fn new() -> Permit {
            Permit {
                state: AtomicU32::new(EMPTY),
            }
        }

        /// Forget a leftover notification (a fresh owner of a recycled id).
        pub fn reset(&self) {
            self.state.store(EMPTY, Ordering::Relaxed);
        }

        /// Block until notified; consume the notification.
        #[inline]
        pub fn park(&self) {
            // NOTIFIED → EMPTY: return at once; EMPTY → PARKED: sleep.
            if self.state.fetch_sub(1, Ordering::Acquire) == NOTIFIED {
                return;
            }
            loop {
                futex::wait(&self.state, PARKED);
                if self
                    .state
                    .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return;
                }
                // Spurious wake-up: still PARKED.
            }
        }

        /// Notify; wake the owner if it sleeps.
        #[inline]
        pub fn unpark(&self) {
            if self.state.swap(NOTIFIED, Ordering::Release) == PARKED {
                futex::wake_one(&self.state);
            }
        }
    }
}

/// A thread's park permit: a flag under a mutex plus a condition variable.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod permit {
    use std::sync::{Condvar, Mutex};

    #[derive(Debug)]
    pub struct Permit {
        notified: Mutex<bool>,
        cond: Condvar,
    }

    impl Permit {
        pub fn new() -> Permit {
            Permit {
                notified: Mutex::new(false),
                cond: Condvar::new(),
            }
        }

        pub fn reset(&self) {
            *self.notified.lock().unwrap_or_else(|e| e.into_inner()) = false;
        }

        pub fn park(&self) {
            let mut n = self.notified.lock().unwrap_or_else(|e| e.into_inner());
            while !*n {
                n = self.cond.wait(n).unwrap_or_else(|e| e.into_inner());
            }
            *n = false;
        }

        pub fn unpark(&self) {
            *self.notified.lock().unwrap_or_else(|e| e.into_inner()) = true;
            self.cond.notify_one();
        }
    }
}

use permit::Permit;

type Chunk = [Permit; CHUNK_LEN];

/// The process-wide task table: chunk `i` holds the permits of ids
/// `i * CHUNK_LEN + 1 ..= (i + 1) * CHUNK_LEN`. Chunks are created on demand and never freed.
static CHUNKS: [AtomicPtr<Chunk>; MAX_CHUNKS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_CHUNKS];

/// Ids handed out so far, and the ids of exited threads, for reuse.
static IDS: Mutex<IdAlloc> = Mutex::new(IdAlloc {
    next: 1,
    free: Vec::new(),
});

struct IdAlloc {
    next: u32,
    free: Vec<u32>,
}

fn slot_of(id: u32) -> (usize, usize) {
    let i = id as usize - 1;
    (i / CHUNK_LEN, i % CHUNK_LEN)
}

/// The permit of a registered task id.
#[inline]
fn permit(id: u32) -> &'static Permit {
    let (chunk, offset) = slot_of(id);
    let p = CHUNKS[chunk].load(Ordering::Acquire);
    assert!(!p.is_null(), "netpoll: ready of unknown task {id}");
    // SAFETY: a non-null chunk pointer came from `Box::into_raw` in `allocate_id` and is
    // never freed, so it is valid for 'static; permits are only used through `&`.
    unsafe { &(*p)[offset] }
}

fn allocate_id() -> u32 {
    let id = {
        let mut ids = IDS.lock().unwrap_or_else(|e| e.into_inner());
        match ids.free.pop() {
            Some(id) => id,
            None => {
                let id = ids.next;
                ids.next += 1;
                id
            }
        }
    };
    let (chunk, _) = slot_of(id);
    assert!(chunk < MAX_CHUNKS, "netpoll: too many live tasks");
    if CHUNKS[chunk].load(Ordering::Acquire).is_null() {
        let fresh: Box<Chunk> = Box::new(std::array::from_fn(|_| Permit::new()));
        let fresh = Box::into_raw(fresh);
        if CHUNKS[chunk]
            .compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: `fresh` came from `Box::into_raw` above and was never published.
            drop(unsafe { Box::from_raw(fresh) });
        }
    }
    permit(id).reset();
    id
}

/// The calling thread's task id; returned to the free list when the thread exits.
struct Registration {
    id: Cell<u32>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let id = self.id.get();
        if id != 0 {
            IDS.lock().unwrap_or_else(|e| e.into_inner()).free.push(id);
        }
    }
}

thread_local! {
    static CURRENT: Registration = const { Registration { id: Cell::new(0) } };
}

/// The calling thread's task id, registering the thread on first use.
#[inline]
pub fn current_id() -> u32 {
    CURRENT.with(|r| {
        let id = r.id.get();
        if id != 0 {
            return id;
        }
        let id = allocate_id();
        r.id.set(id);
        id
    })
}

/// Tasks as OS threads. See the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadSched;

impl ThreadSched {
    /// A scheduler (it is stateless: the task table is process-wide).
    pub fn new() -> ThreadSched {
        ThreadSched
    }
}

impl Scheduler for ThreadSched {
    type JoinHandle = thread::JoinHandle<()>;

    #[inline]
    fn current(&self) -> TaskId {
        TaskId(current_id())
    }

    #[inline]
    fn park<F: FnOnce() -> bool>(&self, commit: F) {
        let me = permit(current_id());
        if commit() {
            me.park();
        }
    }

    #[inline]
    fn ready(&self, task: TaskId) {
        permit(task.0).unpark();
    }

    fn spawn<F: FnOnce() + Send + 'static>(&self, name: &'static str, f: F) -> Self::JoinHandle {
        thread::Builder::new()
            .name(name.to_string())
            .spawn(f)
            .expect("netpoll: cannot spawn a thread")
    }

    fn join(&self, handle: Self::JoinHandle) {
        if let Err(payload) = handle.join() {
            panic::resume_unwind(payload);
        }
    }

    fn sleep_ns(&self, ns: i64) {
        thread::sleep(Duration::from_nanos(ns.max(0) as u64));
    }

    fn yield_now(&self) {
        thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU32};
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn ids_are_small_positive_and_stable() {
        let s = ThreadSched::new();
        let me = s.current();
        assert!(me.0 >= 1);
        assert_eq!(s.current(), me);
        let other = s.spawn("t", move || {
            assert_ne!(ThreadSched.current(), me);
        });
        s.join(other);
    }

    #[test]
    fn ready_before_block_is_not_lost() {
        let s = ThreadSched::new();
        let me = s.current();
        // The commit readies the task itself: the park must return.
        s.park(|| {
            ThreadSched.ready(me);
            true
        });
    }

    #[test]
    fn failed_commit_does_not_block() {
        let s = ThreadSched::new();
        s.park(|| false);
    }

    #[test]
    fn park_until_ready_from_another_thread() {
        let s = ThreadSched::new();
        let me = s.current();
        let committed = Arc::new(AtomicBool::new(false));
        let c2 = committed.clone();
        let waker = s.spawn("waker", move || {
            while !c2.load(Ordering::SeqCst) {
                thread::yield_now();
            }
            thread::sleep(Duration::from_millis(20));
            ThreadSched.ready(me);
        });
        let start = Instant::now();
        s.park(|| {
            committed.store(true, Ordering::SeqCst);
            true
        });
        assert!(start.elapsed() >= Duration::from_millis(15));
        s.join(waker);
    }

    /// A binary semaphore with Go's netpoll shape: nil, ready, or a parked task.
    struct Sema(AtomicU32);

    const NIL: u32 = 0;
    const READY: u32 = 1;

    impl Sema {
        fn wait(&self) {
            let me = ThreadSched.current().0 + 2;
            loop {
                if self
                    .0
                    .compare_exchange(READY, NIL, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    return;
                }
                ThreadSched.park(|| {
                    self.0
                        .compare_exchange(NIL, me, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                });
            }
        }

        fn post(&self) {
            match self.0.swap(READY, Ordering::SeqCst) {
                NIL | READY => {}
                w => ThreadSched.ready(TaskId(w - 2)),
            }
        }
    }

    #[test]
    fn ping_pong_many_times() {
        let s = ThreadSched::new();
        let ping = Arc::new((Sema(AtomicU32::new(0)), Sema(AtomicU32::new(0))));
        let p2 = ping.clone();
        let h = s.spawn("pong", move || {
            for _ in 0..20_000 {
                p2.0.wait();
                p2.1.post();
            }
        });
        for _ in 0..20_000 {
            ping.0.post();
            ping.1.wait();
        }
        s.join(h);
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn join_propagates_panics() {
        let s = ThreadSched::new();
        let h = s.spawn("boom", || panic!("boom"));
        s.join(h);
    }

    #[test]
    fn ids_are_recycled() {
        let s = ThreadSched::new();
        let mut max = 0;
        for _ in 0..200 {
            let h = thread::spawn(|| ThreadSched.current().0);
            max = max.max(h.join().unwrap());
        }
        // Other tests run concurrently, so allow slack; without recycling this would be ≥ 200.
        assert!(max < 150, "{max}");
        let _ = s;
    }
}
