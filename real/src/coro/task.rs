//! Coroutine tasks: their states, the table that finds a task by id without a lock, and the
//! join handle.
//!
//! # States (`Task::state`)
//!
//! ```text
//! spawn ─► RUNNABLE ─► RUNNING ─► (returns) FREE
//!             ▲           │ park: PARKING, commit runs on the task's own stack
//!             │           ▼
//!             │        PARKING ──(worker, after the switch)──► PARKED
//!             │           │ ready while switching: NOTIFIED      │ ready
//!             └───────────┴──────────────────────────────────────┘
//! ```
//!
//! A task id is in exactly one place at a time: a run queue (RUNNABLE), one worker (RUNNING,
//! PARKING, NOTIFIED), or nowhere (PARKED: only the id published by the park's commit names
//! it). Only the worker that took the id from a queue touches the coroutine, which is what
//! makes the `UnsafeCell` below sound. The move PARKING → PARKED is made by the worker once
//! the task's stack is no longer in use, so a `ready` can never resume a task that is still
//! switching out; a `ready` that lands before that turns PARKING into NOTIFIED and the worker
//! runs the task again instead of parking it.
//!
//! An idle worker may trim the stack of a task parked for a while ([`super::trim`]): it owns
//! the task while the state is TRIMMING (PARKED → TRIMMING → PARKED); a `ready` meanwhile
//! turns TRIMMING into TRIM_NOTIFIED, and the trimmer queues the task when it is done.

use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use corosensei::Coroutine;

use super::sched::fatal;
use super::stack::TaskStack;

/// The slot holds no task.
pub const FREE: u32 = 0;
/// In a run queue.
pub const RUNNABLE: u32 = 1;
/// On a worker.
pub const RUNNING: u32 = 2;
/// Parking: its commit is running or done; its worker has not finished switching away.
pub const PARKING: u32 = 3;
/// Parked: waits for a `ready`.
pub const PARKED: u32 = 4;
/// Readied while PARKING: its worker will run it again.
pub const NOTIFIED: u32 = 5;
/// Parked, and an idle worker is trimming its stack (see [`super::trim`]).
pub const TRIMMING: u32 = 6;
/// Readied while TRIMMING: the trimmer queues it when done.
pub const TRIM_NOTIFIED: u32 = 7;

/// Why a task switched back to its worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suspend {
    /// It parked (state PARKING, commit succeeded).
    Park,
    /// It yields: requeue it behind the others (Go: `Gosched`).
    Yield,
    /// It ran blocking code on a thread that gave its worker away: requeue it on a worker.
    Rejoin,
}

/// A task's coroutine.
pub type Coro = Coroutine<(), Suspend, (), TaskStack>;

/// A coroutine that may move between worker threads.
pub struct SendCoro(pub Coro);

// SAFETY: a task's closure is `Send` (spawn requires it), and its stack holds only what that
// closure and the code it calls create. Moving a suspended coroutine to another thread is then
// like moving the closure, with one caveat the scheduler documents: a task must not keep a
// reference to a thread-local across a park (it may resume on another thread).
unsafe impl Send for SendCoro {}

/// One task slot.
pub struct Task {
    /// See the module documentation.
    pub state: AtomicU32,
    /// The address of the coroutine's `Yielder`, stored by the task when it starts.
    pub yielder: AtomicUsize,
    /// The lowest address of a packed stack, whose canary is checked at each switch (0: a
    /// guarded stack).
    pub canary_at: AtomicUsize,
    /// The stack's usable range `[stack_limit, stack_base)`.
    pub stack_base: AtomicUsize,
    /// See `stack_base`.
    pub stack_limit: AtomicUsize,
    /// An address in the frame that last switched the task out: everything live on its stack
    /// lies above it, less a small margin for the switch itself.
    pub sp_hint: AtomicUsize,
    /// The trim epoch when the task last parked.
    pub parked_epoch: AtomicU32,
    /// Whether the stack is trimmed: its live bytes are in `trimmed`, its pages released.
    pub is_trimmed: std::sync::atomic::AtomicBool,
    /// The trimmed stack: (lowest address, bytes up to the stack's base).
    pub trimmed: Mutex<Option<(usize, Box<[u8]>)>>,
    coro: UnsafeCell<Option<SendCoro>>,
}

// SAFETY: `coro` is only reached through `Task::coro`, whose contract (one worker owns the
// task at a time, by the state machine above) makes the access exclusive; the other fields
// are atomics.
unsafe impl Sync for Task {}

impl Task {
    fn new() -> Task {
        Task {
            state: AtomicU32::new(FREE),
            yielder: AtomicUsize::new(0),
            canary_at: AtomicUsize::new(0),
            stack_base: AtomicUsize::new(0),
            stack_limit: AtomicUsize::new(0),
            sp_hint: AtomicUsize::new(0),
            parked_epoch: AtomicU32::new(0),
            is_trimmed: std::sync::atomic::AtomicBool::new(false),
            trimmed: Mutex::new(None),
            coro: UnsafeCell::new(None),
        }
    }

    /// The coroutine slot.
    ///
    /// # Safety
    ///
    /// The caller owns the task: it is the worker that took its id from a run queue (or is
    /// creating or freeing it), and no other reference into the slot is live.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn coro(&self) -> &mut Option<SendCoro> {
        // SAFETY: exclusive by the caller's contract.
        unsafe { &mut *self.coro.get() }
    }
}

/// Task slots per chunk.
const CHUNK_LEN: usize = 256;
/// Chunks: at most `CHUNK_LEN * MAX_CHUNKS` live tasks (about a million).
const MAX_CHUNKS: usize = 4096;

type Chunk = [Task; CHUNK_LEN];

/// Id → task, with two loads and no lock. Ids are `1..`; slots are reused.
pub struct TaskTable {
    chunks: Box<[AtomicPtr<Chunk>]>,
    ids: Mutex<IdAlloc>,
}

struct IdAlloc {
    next: u32,
    free: Vec<u32>,
}

impl TaskTable {
    /// An empty table.
    pub fn new() -> TaskTable {
        TaskTable {
            chunks: (0..MAX_CHUNKS)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            ids: Mutex::new(IdAlloc {
                next: 1,
                free: Vec::new(),
            }),
        }
    }

    fn locate(id: u32) -> (usize, usize) {
        let i = id as usize - 1;
        (i / CHUNK_LEN, i % CHUNK_LEN)
    }

    /// The task with id `id`, if its chunk exists.
    #[inline]
    pub fn get(&self, id: u32) -> Option<&Task> {
        if id == 0 {
            return None;
        }
        let (c, off) = Self::locate(id);
        let p = self.chunks.get(c)?.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-null chunk pointer came from `Box::into_raw` in `alloc` and is freed
        // only in `Drop`, which needs `&mut self`: it is valid for the borrow of `self`.
        Some(unsafe { &(*p)[off] })
    }

    /// A free slot's id (the slot is FREE with no coroutine); `None` when the table is full.
    pub fn alloc(&self) -> Option<u32> {
        let id = {
            let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
            match ids.free.pop() {
                Some(id) => id,
                None => {
                    let id = ids.next;
                    if Self::locate(id).0 >= MAX_CHUNKS {
                        return None;
                    }
                    ids.next += 1;
                    id
                }
            }
        };
        let (c, _) = Self::locate(id);
        if self.chunks[c].load(Ordering::Acquire).is_null() {
            // Built on the heap: a chunk is tens of KiB, too much for a task's stack.
            let slots: Box<[Task]> = (0..CHUNK_LEN).map(|_| Task::new()).collect();
            let chunk: Box<Chunk> = match slots.try_into() {
                Ok(c) => c,
                Err(_) => fatal("netpoll: task chunk of the wrong length"),
            };
            let fresh = Box::into_raw(chunk);
            if self.chunks[c]
                .compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // SAFETY: `fresh` came from `Box::into_raw` above and was never published.
                drop(unsafe { Box::from_raw(fresh) });
            }
        }
        Some(id)
    }

    /// Return a finished task's id for reuse (its slot must be FREE, its coroutine gone).
    pub fn release(&self, id: u32) {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .free
            .push(id);
    }

    /// Every id handed out so far (for shutdown).
    pub fn high_water(&self) -> u32 {
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).next
    }
}

impl Drop for TaskTable {
    fn drop(&mut self) {
        for c in self.chunks.iter() {
            let p = c.swap(ptr::null_mut(), Ordering::AcqRel);
            if !p.is_null() {
                // SAFETY: the pointer came from `Box::into_raw` and is dropped once. Any
                // coroutine still in a slot was either finished or deliberately forgotten by
                // shutdown, which empties those slots first.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

/// `JoinState::waiter` once the task has finished.
const JOIN_DONE: u32 = u32::MAX;

/// What a task leaves for whoever joins it.
pub struct JoinState<T> {
    /// 0: nobody waits; a task id: that task waits; [`JOIN_DONE`]: finished.
    pub waiter: AtomicU32,
    result: Mutex<Option<thread::Result<T>>>,
}

impl<T> JoinState<T> {
    /// A state for a task that has not finished.
    pub fn new() -> Arc<JoinState<T>> {
        Arc::new(JoinState {
            waiter: AtomicU32::new(0),
            result: Mutex::new(None),
        })
    }

    /// Store the result and mark the task finished; the waiter to make ready, if any.
    pub fn complete(&self, r: thread::Result<T>) -> Option<u32> {
        *self.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        match self.waiter.swap(JOIN_DONE, Ordering::SeqCst) {
            0 => None,
            w => Some(w),
        }
    }

    /// Whether the task has finished.
    pub fn is_done(&self) -> bool {
        self.waiter.load(Ordering::SeqCst) == JOIN_DONE
    }

    /// The park commit of a joiner `me`: publish it, unless the task already finished.
    pub fn wait_commit(&self, me: u32) -> bool {
        self.waiter
            .compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The result, once [`JoinState::is_done`].
    pub fn take(&self) -> Option<thread::Result<T>> {
        self.result.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}
