//! [`CoroSched`]: the coroutine scheduler's [`Scheduler`], and [`Shared`], the state its
//! workers share (run queues, idle workers, the poller role, the task table, the stacks).
//!
//! # Who runs what
//!
//! * A task is a corosensei coroutine. `park` runs the commit on the task's own stack, then
//!   switches to its worker, which marks it PARKED (see [`super::task`]).
//! * `ready` called on a worker puts the task in that worker's `runnext` slot (it runs next,
//!   on the same thread: the readiness relay costs no thread switch), pushing the previous
//!   occupant to the local queue; called elsewhere, it pushes onto the global queue and wakes
//!   a worker (Go: `ready`, `runqput`, `injectglist`).
//! * A worker that finds surplus work while another worker sleeps and none spins wakes one
//!   (Go: `wakep`): a sleeping worker is woken through its futex, the worker blocked in the
//!   poller through the poller's break.
//! * Callers that are not tasks of this scheduler (a test's main thread, another runtime's
//!   thread) are "foreign": their ids carry [`FOREIGN`], and they park their OS thread
//!   exactly as [`ThreadSched`] does. So an `Fd` of a coroutine runtime works from any thread.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::thread;
use std::time::Duration;

use corosensei::{Coroutine, CoroutineResult, Yielder};
use netpoll::platform::{Backend, Scheduler, TaskId};

use super::stack::{StackPool, Stacks};
use super::task::{
    JoinState, SendCoro, Suspend, TaskTable, FREE, NOTIFIED, PARKED, PARKING, RUNNABLE, RUNNING,
    TRIMMING, TRIM_NOTIFIED,
};
use super::timers::{WorkerTimers, NO_TIMER};
use super::trim::{self, Trimmer};
use super::CoroNetPoll;
use crate::sched::ThreadSched;
use crate::PollerBackend;

/// Task ids with this bit set are foreign threads (their low bits: a [`ThreadSched`] id).
pub const FOREIGN: u32 = 1 << 31;

/// `Shared::poller` when no worker holds the poller role.
pub const NO_POLLER: usize = usize::MAX;

/// `Shared::poll_until` when no worker blocks in the poller.
pub const NOT_BLOCKING: i64 = i64::MIN;

/// How the scheduler is set up. See [`super::Builder`].
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Worker threads.
    pub workers: usize,
    /// Kind of task stacks.
    pub stacks: Stacks,
    /// Usable bytes per task stack.
    pub stack_size: usize,
    /// Rounds an idle worker looks for work before it sleeps.
    pub spin_rounds: u32,
    /// Trim the stacks of tasks parked this long (`None`: never).
    pub trim_after: Option<Duration>,
}

/// The scheduler's counters, summed over the workers (see [`CoroSched::stats`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Non-blocking polls of the OS poller.
    pub polls_nonblocking: u64,
    /// Blocking polls of the OS poller.
    pub polls_blocking: u64,
    /// Times a worker went to sleep on its futex.
    pub sleeps: u64,
    /// Futex wakes of a sleeping worker.
    pub wakes: u64,
    /// Poller breaks to wake the worker blocked in the poller.
    pub poller_breaks: u64,
    /// Steals of tasks from another worker's queue.
    pub steals: u64,
    /// Task switches (resumes).
    pub switches: u64,
    /// Workers handed to a new thread by `blocking`.
    pub handoffs: u64,
    /// The deepest stack use seen when a task switched out, in bytes (from the top of its
    /// stack to the switch; what a task needs at least).
    pub max_switch_depth: u64,
    /// Stacks of idle tasks trimmed.
    pub trims: u64,
    /// Trimmed stacks restored when their task ran again.
    pub restores: u64,
}

/// Live counters (all `Relaxed`): one set per worker, so that counting costs no shared cache
/// line, and one for events that happen outside a worker's loop.
#[derive(Debug, Default)]
pub struct Counters {
    pub(crate) polls_nonblocking: AtomicU64,
    pub(crate) polls_blocking: AtomicU64,
    pub(crate) sleeps: AtomicU64,
    pub(crate) wakes: AtomicU64,
    pub(crate) poller_breaks: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) switches: AtomicU64,
    pub(crate) handoffs: AtomicU64,
    pub(crate) max_switch_depth: AtomicU64,
    pub(crate) trims: AtomicU64,
    pub(crate) restores: AtomicU64,
}

/// Count one event on a counter that only its own worker's thread writes: a plain load and
/// store, no locked instruction (a rare lost count during a hand-off is harmless).
#[inline]
pub(crate) fn bump(c: &AtomicU64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

impl Counters {
    fn add_to(&self, s: &mut Stats) {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        s.polls_nonblocking += r(&self.polls_nonblocking);
        s.polls_blocking += r(&self.polls_blocking);
        s.sleeps += r(&self.sleeps);
        s.wakes += r(&self.wakes);
        s.poller_breaks += r(&self.poller_breaks);
        s.steals += r(&self.steals);
        s.switches += r(&self.switches);
        s.handoffs += r(&self.handoffs);
        s.max_switch_depth = s.max_switch_depth.max(r(&self.max_switch_depth));
        s.trims += r(&self.trims);
        s.restores += r(&self.restores);
    }
}

/// One worker (Go: a P): its run queue, its timers, its sleep word. Aligned so that two
/// workers never share a cache line.
#[repr(align(128))]
pub struct Worker {
    /// The task to run next (0: none; Go: `runnext`).
    pub runnext: AtomicU32,
    queue: Mutex<VecDeque<u32>>,
    /// `queue.len()`, readable without the lock.
    qlen: AtomicUsize,
    /// This worker's timers.
    pub timers: WorkerTimers,
    /// 1 while the worker sleeps (or is about to), on the idle list; 0 otherwise.
    sleep_word: AtomicU32,
    /// This worker's counters.
    pub stats: Counters,
}

impl Worker {
    fn new() -> Worker {
        Worker {
            runnext: AtomicU32::new(0),
            queue: Mutex::new(VecDeque::new()),
            qlen: AtomicUsize::new(0),
            timers: WorkerTimers::new(),
            sleep_word: AtomicU32::new(0),
            stats: Counters::default(),
        }
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<u32>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take the next local task: `runnext` first.
    pub fn pop(&self) -> Option<u32> {
        let next = self.runnext.swap(0, Ordering::AcqRel);
        if next != 0 {
            return Some(next);
        }
        if self.qlen.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut q = self.queue();
        let id = q.pop_front();
        self.qlen.store(q.len(), Ordering::Release);
        id
    }

    fn push_back(&self, id: u32) {
        let mut q = self.queue();
        q.push_back(id);
        self.qlen.store(q.len(), Ordering::Release);
    }

    /// Queued tasks (not counting `runnext`).
    pub fn queued(&self) -> usize {
        self.qlen.load(Ordering::Acquire)
    }
}

/// What a thread is doing for a scheduler, if anything.
#[derive(Clone, Copy, Debug)]
struct Ctx {
    /// The scheduler whose worker loop runs on this thread (null: none).
    shared: *const Shared,
    worker: usize,
    /// The task running on this thread (0: the worker loop itself).
    task: u32,
    /// The thread gave its worker away (`blocking`): it is not a worker any more.
    retired: bool,
}

impl Ctx {
    const NONE: Ctx = Ctx {
        shared: ptr::null(),
        worker: 0,
        task: 0,
        retired: false,
    };
}

thread_local! {
    static CTX: Cell<Ctx> = const { Cell::new(Ctx::NONE) };
}

// Thread-local accessors are never inlined: a task can resume on another thread after a park,
// and a thread-local address computed before the switch must not be reused after it.
#[inline(never)]
fn ctx() -> Ctx {
    CTX.with(Cell::get)
}

#[inline(never)]
fn set_ctx(c: Ctx) {
    CTX.with(|x| x.set(c));
}

/// Run by a worker thread around its loop: this thread serves `worker` of `shared`.
pub(crate) fn enter_worker(shared: &Shared, worker: usize) {
    set_ctx(Ctx {
        shared,
        worker,
        task: 0,
        retired: false,
    });
}

/// Run by a worker thread as it leaves its loop.
pub(crate) fn leave_worker() {
    set_ctx(Ctx::NONE);
}

/// Whether this thread has given its worker away.
pub(crate) fn retired() -> bool {
    ctx().retired
}

fn set_current_task(task: u32) {
    let mut c = ctx();
    c.task = task;
    set_ctx(c);
}

/// Go's `throw` for a broken scheduler invariant: the process cannot go on safely.
pub(crate) fn fatal(msg: &str) -> ! {
    crate::fatal(msg)
}

/// The state every worker and every handle of one coroutine scheduler shares.
pub struct Shared {
    /// The workers (Go: `allp`).
    pub workers: Box<[Worker]>,
    global: Mutex<VecDeque<u32>>,
    global_len: AtomicUsize,
    /// Sleeping workers (Go: `sched.pidle`), each with its `sleep_word` at 1.
    idle: Mutex<Vec<usize>>,
    /// `idle.len()`, readable without the lock.
    pub nidle: AtomicUsize,
    /// Workers looking for work (Go: `sched.nmspinning`).
    pub nspinning: AtomicUsize,
    /// The worker polling the OS poller, or [`NO_POLLER`] (at most one at a time).
    pub poller: AtomicUsize,
    /// When the worker blocked in the poller wakes at the latest ([`NOT_BLOCKING`]: none is).
    pub poll_until: AtomicI64,
    /// Tasks by id.
    pub tasks: TaskTable,
    /// Task stacks.
    pub stacks: StackPool,
    /// Tasks spawned and not finished.
    pub live: AtomicUsize,
    /// Set by shutdown: workers leave their loops.
    pub shutdown: AtomicBool,
    /// The OS poller, for its break.
    pub backend: Arc<PollerBackend>,
    /// Settings.
    pub config: Config,
    /// Counters of events outside a worker's own loop.
    pub stats: Counters,
    /// Worker threads to join at shutdown (hand-offs add more).
    pub threads: Mutex<Vec<thread::JoinHandle<()>>>,
    /// The poller this scheduler serves (set once the runtime is built).
    pub np: OnceLock<Weak<CoroNetPoll>>,
    /// Trims the stacks of idle tasks.
    pub trimmer: Trimmer,
}

impl Shared {
    /// State for `config.workers` workers on `backend`.
    pub fn new(config: Config, backend: Arc<PollerBackend>) -> Shared {
        Shared {
            workers: (0..config.workers).map(|_| Worker::new()).collect(),
            global: Mutex::new(VecDeque::new()),
            global_len: AtomicUsize::new(0),
            idle: Mutex::new(Vec::new()),
            nidle: AtomicUsize::new(0),
            nspinning: AtomicUsize::new(0),
            poller: AtomicUsize::new(NO_POLLER),
            poll_until: AtomicI64::new(NOT_BLOCKING),
            tasks: TaskTable::new(),
            stacks: StackPool::new(config.stacks, config.stack_size),
            live: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            backend,
            config,
            stats: Counters::default(),
            threads: Mutex::new(Vec::new()),
            np: OnceLock::new(),
            trimmer: Trimmer::new(
                config
                    .trim_after
                    .map_or(0, |d| d.as_nanos().clamp(1, i64::MAX as u128) as i64),
            ),
        }
    }

    /// The worker this thread serves for this scheduler, if any.
    #[inline]
    pub fn on_worker(&self) -> Option<usize> {
        let c = ctx();
        (ptr::eq(c.shared, self) && !c.retired).then_some(c.worker)
    }

    /// The task of this scheduler running on this thread, if any.
    #[inline]
    fn current_task(&self) -> Option<u32> {
        let c = ctx();
        (ptr::eq(c.shared, self) && c.task != 0).then_some(c.task)
    }

    /// The worker whose heap a timer armed now goes to.
    pub fn arming_worker(&self) -> usize {
        self.on_worker().unwrap_or(0)
    }

    fn global(&self) -> MutexGuard<'_, VecDeque<u32>> {
        self.global.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the global queue holds tasks.
    pub fn has_global(&self) -> bool {
        self.global_len.load(Ordering::SeqCst) > 0
    }

    fn push_global(&self, id: u32) {
        let mut g = self.global();
        g.push_back(id);
        self.global_len.store(g.len(), Ordering::SeqCst);
    }

    /// Take a task from the global queue, moving up to a fair share of the rest to worker
    /// `w`'s queue (Go: `globrunqget`).
    pub fn pop_global(&self, w: usize) -> Option<u32> {
        if self.global_len.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut g = self.global();
        let first = g.pop_front()?;
        let share = (g.len() / self.workers.len()).min(64);
        if share > 0 {
            let worker = &self.workers[w];
            let mut q = worker.queue();
            q.extend(g.drain(..share));
            worker.qlen.store(q.len(), Ordering::Release);
        }
        self.global_len.store(g.len(), Ordering::SeqCst);
        Some(first)
    }

    /// Go: `runqsteal`. Steal half of another worker's queue into `w`'s; one stolen task to
    /// run.
    pub fn steal(&self, w: usize, start: usize) -> Option<u32> {
        let n = self.workers.len();
        for i in 0..n {
            let v = (start + i) % n;
            if v == w || self.workers[v].queued() == 0 {
                continue;
            }
            let mut stolen = {
                let victim = &self.workers[v];
                let mut q = victim.queue();
                let take = q.len().div_ceil(2);
                let s: VecDeque<u32> = q.drain(..take).collect();
                victim.qlen.store(q.len(), Ordering::Release);
                s
            };
            let first = stolen.pop_front();
            if first.is_some() {
                bump(&self.workers[w].stats.steals);
                if !stolen.is_empty() {
                    let me = &self.workers[w];
                    let mut q = me.queue();
                    q.extend(stolen);
                    me.qlen.store(q.len(), Ordering::Release);
                }
                return first;
            }
        }
        None
    }

    /// Go: `goready`. See the module documentation.
    pub fn ready(&self, id: u32) {
        if id & FOREIGN != 0 {
            ThreadSched.ready(TaskId(id & !FOREIGN));
            return;
        }
        let Some(t) = self.tasks.get(id) else {
            fatal(&format!("netpoll: ready of unknown coroutine task {id}"));
        };
        loop {
            let s = t.state.load(Ordering::SeqCst);
            let next = match s {
                PARKED => RUNNABLE,
                PARKING => NOTIFIED,
                TRIMMING => TRIM_NOTIFIED,
                _ => fatal(&format!(
                    "netpoll: ready of coroutine task {id} that is not parked (state {s})"
                )),
            };
            if t.state
                .compare_exchange(s, next, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                if next == RUNNABLE {
                    self.push_ready(id);
                }
                return;
            }
        }
    }

    /// A task became runnable: next on this worker, or on the global queue with a wake.
    pub(crate) fn push_ready(&self, id: u32) {
        match self.on_worker() {
            Some(w) => {
                let worker = &self.workers[w];
                let old = worker.runnext.swap(id, Ordering::AcqRel);
                if old != 0 {
                    worker.push_back(old);
                    self.wakep();
                }
            }
            None => {
                self.push_global(id);
                self.wake_one();
            }
        }
    }

    /// A new task: at the back of this worker's queue, or on the global queue with a wake.
    fn push_new(&self, id: u32) {
        match self.on_worker() {
            Some(w) => {
                self.workers[w].push_back(id);
                self.wakep();
            }
            None => {
                self.push_global(id);
                self.wake_one();
            }
        }
    }

    /// Go: `wakep`. Wake an idle worker to take surplus work, unless one is already looking.
    pub fn wakep(&self) {
        if self.nspinning.load(Ordering::SeqCst) == 0 && self.nidle.load(Ordering::SeqCst) > 0 {
            self.wake_one();
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<usize>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wake one sleeping worker, or else the one blocked in the poller.
    pub fn wake_one(&self) {
        let woken = {
            let mut idle = self.idle();
            let w = idle.pop();
            if let Some(w) = w {
                self.workers[w].sleep_word.store(0, Ordering::SeqCst);
                self.nidle.store(idle.len(), Ordering::SeqCst);
            }
            w
        };
        match woken {
            Some(w) => {
                self.stats.wakes.fetch_add(1, Ordering::Relaxed);
                crate::sys::futex::wake_one(&self.workers[w].sleep_word);
            }
            None => self.break_poller(),
        }
    }

    /// Interrupt the worker blocked in the poller, if one is.
    pub fn break_poller(&self) {
        if self.poll_until.load(Ordering::SeqCst) != NOT_BLOCKING {
            self.stats.poller_breaks.fetch_add(1, Ordering::Relaxed);
            self.backend.wake();
        }
    }

    /// Wake every worker (shutdown).
    pub fn wake_all(&self) {
        let all: Vec<usize> = {
            let mut idle = self.idle();
            let all = std::mem::take(&mut *idle);
            for &w in &all {
                self.workers[w].sleep_word.store(0, Ordering::SeqCst);
            }
            self.nidle.store(0, Ordering::SeqCst);
            all
        };
        for w in all {
            crate::sys::futex::wake_one(&self.workers[w].sleep_word);
        }
        self.backend.wake();
    }

    /// The earliest timer of any worker ([`NO_TIMER`]: none).
    pub fn next_timer(&self) -> i64 {
        self.workers
            .iter()
            .map(|w| w.timers.next_when())
            .min()
            .unwrap_or(NO_TIMER)
    }

    /// A timer was armed for `when_ns`: make sure some worker will fire it in time.
    pub fn timer_armed(&self, when_ns: i64) {
        if when_ns < self.poll_until.load(Ordering::SeqCst) {
            // The poller sleeps past it (or is about to sleep): wake it to recompute.
            self.stats.poller_breaks.fetch_add(1, Ordering::Relaxed);
            self.backend.wake();
        } else if self.on_worker().is_none() {
            self.ensure_polling();
        }
    }

    /// Called for a caller outside the workers that starts waiting on the poller or a timer:
    /// if every worker sleeps and none polls, wake one (it will block in the poller).
    pub fn ensure_polling(&self) {
        if self.poll_until.load(Ordering::SeqCst) == NOT_BLOCKING
            && self.nidle.load(Ordering::SeqCst) == self.workers.len()
        {
            self.wake_one();
        }
    }

    /// Whether a worker about to sleep (on the idle list already) should look again: work
    /// anywhere, a vacant poller role with something to poll for and no active worker to take
    /// it, or shutdown.
    fn has_work(&self, waiters: u32) -> bool {
        self.shutdown.load(Ordering::SeqCst)
            || self.global_len.load(Ordering::SeqCst) > 0
            || self.workers.iter().any(|w| w.queued() > 0)
            || (self.poller.load(Ordering::SeqCst) == NO_POLLER
                && (waiters > 0 || self.next_timer() != NO_TIMER)
                && !self.others_active(true))
    }

    /// Put worker `w` to sleep until woken or `timeout` passes, unless work turns up (Go:
    /// `stopm` with the re-check of `findrunnable`'s end).
    pub fn sleep(&self, w: usize, waiters: impl Fn() -> u32, timeout: Option<Duration>) {
        {
            let mut idle = self.idle();
            self.workers[w].sleep_word.store(1, Ordering::SeqCst);
            idle.push(w);
            self.nidle.store(idle.len(), Ordering::SeqCst);
        }
        // A producer stores its work, then looks at `nidle`; we stored `nidle`, now look at
        // the work. Both sequentially consistent: one of us sees the other.
        if self.has_work(waiters()) {
            let mut idle = self.idle();
            if let Some(pos) = idle.iter().position(|&x| x == w) {
                idle.swap_remove(pos);
                self.workers[w].sleep_word.store(0, Ordering::SeqCst);
                self.nidle.store(idle.len(), Ordering::SeqCst);
            }
            return;
        }
        bump(&self.workers[w].stats.sleeps);
        let word = &self.workers[w].sleep_word;
        match timeout {
            None => {
                while word.load(Ordering::SeqCst) == 1 {
                    crate::sys::futex::wait(word, 1);
                }
            }
            Some(t) => {
                if word.load(Ordering::SeqCst) == 1 {
                    crate::sys::futex::wait_timeout(word, 1, t);
                }
                // Woken or not, leave the idle list (a waker may have taken us off already).
                let mut idle = self.idle();
                if let Some(pos) = idle.iter().position(|&x| x == w) {
                    idle.swap_remove(pos);
                    word.store(0, Ordering::SeqCst);
                    self.nidle.store(idle.len(), Ordering::SeqCst);
                }
            }
        }
    }

    /// Whether some worker other than the caller is running or looking for tasks (neither
    /// asleep nor blocked in the poller): it will poll the network when it runs out of work.
    /// `caller_asleep`: the caller is on the idle list already.
    pub fn others_active(&self, caller_asleep: bool) -> bool {
        let asleep = self.nidle.load(Ordering::SeqCst);
        let polling = usize::from(self.poll_until.load(Ordering::SeqCst) != NOT_BLOCKING);
        let me = usize::from(!caller_asleep);
        asleep + polling + me < self.workers.len()
    }

    /// Task switches so far, all workers (a trim pass is pointless if none happened).
    pub fn total_switches(&self) -> u64 {
        self.workers
            .iter()
            .map(|w| w.stats.switches.load(Ordering::Relaxed))
            .sum()
    }

    /// Tasks still alive at shutdown: a started one is abandoned with its stack (its
    /// destructors never run, like a goroutine at exit), a never-started one is dropped.
    pub fn abandon_tasks(&self) -> usize {
        let mut abandoned = 0;
        for id in 1..self.tasks.high_water() {
            let Some(t) = self.tasks.get(id) else {
                continue;
            };
            if t.state.load(Ordering::SeqCst) == FREE {
                continue;
            }
            // SAFETY: every worker thread has been joined, so nobody else owns the task.
            let coro = unsafe { t.coro() }.take();
            if let Some(c) = coro {
                if c.0.started() {
                    std::mem::forget(c);
                    self.stacks.leak_all();
                    abandoned += 1;
                } else {
                    drop(c);
                }
            }
            t.state.store(FREE, Ordering::SeqCst);
        }
        abandoned
    }
}

/// The coroutine scheduler. Cheap to clone (one `Arc`). See the module documentation.
#[derive(Clone)]
pub struct CoroSched {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for CoroSched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoroSched")
            .field("workers", &self.shared.workers.len())
            .field("live", &self.shared.live.load(Ordering::Relaxed))
            .finish()
    }
}

/// Switch from the running task `id` to its worker, saying why. Never inlined: the address of
/// its local marks the bottom of the task's live stack for the trimmer.
#[inline(never)]
fn suspend(shared: &Shared, id: u32, why: Suspend) {
    let t = shared
        .tasks
        .get(id)
        .unwrap_or_else(|| fatal("netpoll: running task missing from the table"));
    let y = t.yielder.load(Ordering::Relaxed) as *const Yielder<(), Suspend>;
    // SAFETY: the task stored the address of its coroutine's `Yielder` when it started; the
    // yielder lives on the coroutine's own stack for as long as the coroutine runs, and we are
    // running on that coroutine now (`id` is this thread's current task).
    let yielder = unsafe { &*y };
    // The yielder sits near the top of the stack: its distance to a local of this frame is
    // the stack this task uses right now.
    let here = 0u8;
    let here_addr = std::hint::black_box(&here) as *const u8 as usize;
    t.sp_hint.store(here_addr, Ordering::Relaxed);
    let depth = (y as usize).saturating_sub(here_addr) as u64;
    if let Some(w) = shared.on_worker() {
        let max = &shared.workers[w].stats.max_switch_depth;
        if depth > max.load(Ordering::Relaxed) {
            max.store(depth, Ordering::Relaxed);
        }
    }
    yielder.suspend(why);
}

/// A handle to a task spawned on a [`CoroSched`]: join it for its result.
pub struct CoroTask<T> {
    state: Arc<JoinState<T>>,
    sched: CoroSched,
}

impl<T> CoroTask<T> {
    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        self.state.is_done()
    }

    /// Wait for the task (parking this task, or blocking this thread if it is not a task) and
    /// return its result; `Err` holds the panic payload if it panicked.
    pub fn join(self) -> thread::Result<T> {
        loop {
            if self.state.is_done() {
                if let Some(r) = self.state.take() {
                    return r;
                }
                fatal("netpoll: a task's result was taken twice");
            }
            let me = self.sched.current().0;
            self.sched.park(|| self.state.wait_commit(me));
        }
    }
}

impl CoroSched {
    /// Spawn a task running `f`. Fails when no stack can be mapped or the task table is full.
    pub fn try_spawn<T, F>(&self, f: F) -> io::Result<CoroTask<T>>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let shared = &self.shared;
        let id = shared
            .tasks
            .alloc()
            .ok_or_else(|| io::Error::other("netpoll: too many live tasks"))?;
        let stack = match shared.stacks.get() {
            Ok(s) => s,
            Err(e) => {
                shared.tasks.release(id);
                return Err(e);
            }
        };
        let canary_at = stack.canary_at();
        let (stack_limit, stack_base) = stack.bounds();
        let join = JoinState::new();
        let done = join.clone();
        let inner = shared.clone();
        let body = move |y: &Yielder<(), Suspend>, ()| {
            if let Some(t) = inner.tasks.get(id) {
                t.yielder
                    .store(y as *const Yielder<(), Suspend> as usize, Ordering::Relaxed);
            }
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            if let Some(w) = done.complete(r) {
                inner.ready(w);
            }
        };
        let coro: Coroutine<(), Suspend, (), _> = Coroutine::with_stack(stack, body);
        let t = shared
            .tasks
            .get(id)
            .unwrap_or_else(|| fatal("netpoll: a new task's slot is missing"));
        t.canary_at.store(canary_at, Ordering::Relaxed);
        t.stack_limit.store(stack_limit, Ordering::Relaxed);
        t.stack_base.store(stack_base, Ordering::Relaxed);
        t.sp_hint.store(0, Ordering::Relaxed);
        t.is_trimmed.store(false, Ordering::Relaxed);
        // SAFETY: the id was just allocated: no queue, worker or waiter knows it yet.
        unsafe { *t.coro() = Some(SendCoro(coro)) };
        t.state.store(RUNNABLE, Ordering::SeqCst);
        shared.live.fetch_add(1, Ordering::SeqCst);
        shared.push_new(id);
        Ok(CoroTask {
            state: join,
            sched: self.clone(),
        })
    }

    /// Spawn a task running `f`; panics if it cannot (see [`CoroSched::try_spawn`]).
    pub fn spawn_task<T, F>(&self, f: F) -> CoroTask<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        match self.try_spawn(f) {
            Ok(t) => t,
            Err(e) => panic!("netpoll: cannot spawn a task: {e}"),
        }
    }

    /// Run blocking code (a read of a regular file, a `std::thread::sleep`, a lock held by a
    /// thread) from a task without stalling the other tasks of its worker: the worker is
    /// handed to a new thread before `f` runs (Go: `entersyscall` + `handoffp`), and once `f`
    /// returns the task queues itself on a worker again. Outside a task, `f` just runs. If no
    /// thread can be started, `f` runs in place (the worker stalls while it runs).
    pub fn blocking<R>(&self, f: impl FnOnce() -> R) -> R {
        let c = ctx();
        let shared = &*self.shared;
        if !ptr::eq(c.shared, shared) || c.task == 0 || c.retired {
            return f();
        }
        let Some(np) = shared.np.get().and_then(Weak::upgrade) else {
            return f();
        };
        set_ctx(Ctx { retired: true, ..c });
        if let Err(e) = super::worker::start_worker_thread(&np, c.worker) {
            // Keep the worker: run in place.
            eprintln!("netpoll: blocking: cannot hand the worker off ({e}); running in place");
            set_ctx(c);
            return f();
        }
        shared.stats.handoffs.fetch_add(1, Ordering::Relaxed);
        let r = f();
        suspend(shared, c.task, Suspend::Rejoin);
        r
    }

    /// Tasks spawned and not yet finished.
    pub fn live_tasks(&self) -> usize {
        self.shared.live.load(Ordering::SeqCst)
    }

    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.shared.workers.len()
    }

    /// The scheduler's counters, summed over its workers.
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        self.shared.stats.add_to(&mut s);
        for w in self.shared.workers.iter() {
            w.stats.add_to(&mut s);
        }
        s
    }

    /// Kernel memory mappings held by task stacks.
    pub fn stack_mappings(&self) -> usize {
        self.shared.stacks.mappings()
    }
}

impl Scheduler for CoroSched {
    type JoinHandle = CoroTask<()>;

    #[inline]
    fn current(&self) -> TaskId {
        match self.shared.current_task() {
            Some(id) => TaskId(id),
            None => TaskId(FOREIGN | ThreadSched.current().0),
        }
    }

    fn park<F: FnOnce() -> bool>(&self, commit: F) {
        let shared = &*self.shared;
        let Some(id) = shared.current_task() else {
            // A foreign thread parks its thread; make sure a worker polls for it.
            ThreadSched.park(|| {
                let ok = commit();
                if ok {
                    shared.ensure_polling();
                }
                ok
            });
            return;
        };
        let t = shared
            .tasks
            .get(id)
            .unwrap_or_else(|| fatal("netpoll: running task missing from the table"));
        t.state.store(PARKING, Ordering::SeqCst);
        if !commit() {
            t.state.store(RUNNING, Ordering::SeqCst);
            return;
        }
        suspend(shared, id, Suspend::Park);
    }

    #[inline]
    fn ready(&self, task: TaskId) {
        self.shared.ready(task.0);
    }

    fn spawn<F: FnOnce() + Send + 'static>(&self, _name: &'static str, f: F) -> CoroTask<()> {
        self.spawn_task(f)
    }

    fn join(&self, handle: CoroTask<()>) {
        if let Err(payload) = handle.join() {
            panic::resume_unwind(payload);
        }
    }

    fn sleep_ns(&self, ns: i64) {
        let shared = &*self.shared;
        match shared.current_task() {
            Some(id) => {
                if ns <= 0 {
                    return;
                }
                let when = crate::clock::monotonic_ns().saturating_add(ns);
                let clock = super::timers::CoroClock {
                    shared: self.shared.clone(),
                };
                // The wake-up is armed by the commit, once this task counts as parking.
                self.park(|| {
                    clock.add_wake(when, TaskId(id));
                    true
                });
            }
            None => thread::sleep(Duration::from_nanos(ns.max(0) as u64)),
        }
    }

    fn yield_now(&self) {
        let shared = &*self.shared;
        match shared.current_task() {
            Some(id) => suspend(shared, id, Suspend::Yield),
            None => thread::yield_now(),
        }
    }
}

/// What the worker loop does with a task after resuming it. Returns false if this thread
/// gave its worker away meanwhile.
pub(crate) fn run_task(shared: &Shared, id: u32) -> bool {
    let Some(t) = shared.tasks.get(id) else {
        fatal(&format!(
            "netpoll: runnable task {id} missing from the table"
        ));
    };
    // Nobody else reads RUNNING: a ready seeing it is an error whatever the ordering.
    t.state.store(RUNNING, Ordering::Relaxed);
    set_current_task(id);
    if let Some(w) = shared.on_worker() {
        bump(&shared.workers[w].stats.switches);
    }
    if trim::restore(t) {
        if let Some(w) = shared.on_worker() {
            bump(&shared.workers[w].stats.restores);
        }
    }
    // SAFETY: this worker took `id` from a run queue: it owns the task until it parks.
    let coro = unsafe { t.coro() };
    let Some(c) = coro.as_mut() else {
        fatal(&format!("netpoll: runnable task {id} has no coroutine"));
    };
    let res = c.0.resume(());
    set_current_task(0);
    let canary_at = t.canary_at.load(Ordering::Relaxed);
    if canary_at != 0 && !super::stack::canary_intact(canary_at) {
        fatal(&format!(
            "netpoll: task {id} overflowed its stack (packed stacks: raise the stack size)"
        ));
    }
    match res {
        CoroutineResult::Yield(Suspend::Park) => {
            t.parked_epoch.store(
                shared.trimmer.epoch.load(Ordering::Relaxed),
                Ordering::Relaxed,
            );
            if t.state
                .compare_exchange(PARKING, PARKED, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                // Readied while it was switching out (NOTIFIED): it runs again.
                t.state.store(RUNNABLE, Ordering::SeqCst);
                shared.push_ready(id);
            }
        }
        CoroutineResult::Yield(Suspend::Yield) => {
            t.state.store(RUNNABLE, Ordering::SeqCst);
            shared.push_global(id);
        }
        CoroutineResult::Yield(Suspend::Rejoin) => {
            t.state.store(RUNNABLE, Ordering::SeqCst);
            shared.push_global(id);
            shared.wake_one();
        }
        CoroutineResult::Return(()) => {
            // SAFETY: as above; the task is finished and nobody else can name it.
            if let Some(c) = unsafe { t.coro() }.take() {
                shared.stacks.put(c.0.into_stack());
            }
            t.yielder.store(0, Ordering::Relaxed);
            t.state.store(FREE, Ordering::SeqCst);
            shared.tasks.release(id);
            shared.live.fetch_sub(1, Ordering::SeqCst);
        }
    }
    !retired()
}
