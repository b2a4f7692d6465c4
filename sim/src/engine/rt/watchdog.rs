//! The watchdog: a task that stops reaching scheduling points while it runs is most likely
//! blocked in a `std` primitive the simulator cannot see - a `std::sync::Mutex` another task
//! holds across a simulated step, a `std` channel, `std::thread::park` or `join`, blocking
//! I/O. All tasks of an execution run on one OS thread, so that thread then sleeps forever and
//! the test with it. The watchdog, a thread of its own, notices that a running task has not
//! taken a step for the configured time, says which task and since which step, and ends the
//! process (exit code 101, as a failed test) instead of letting it hang.
//!
//! It looks at wall time, but only to end a process that cannot go on: nothing it does changes
//! what a run does. It stays quiet while a debugger is attached (a task stopped at a
//! breakpoint is not stuck).

use crate::engine::event::TaskName;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// The default time a task may run without a scheduling point.
pub const DEFAULT_WATCHDOG: Duration = Duration::from_secs(60);

/// The exit code of a process the watchdog ends (that of a failed test binary).
pub const WATCHDOG_EXIT_CODE: i32 = 101;

/// The configured time in milliseconds; 0: off.
static TIMEOUT_MS: AtomicU64 = AtomicU64::new(DEFAULT_WATCHDOG.as_millis() as u64);

/// Set how long a task may run without a scheduling point before the process is ended
/// (`None`: never). Process-wide.
pub fn set_watchdog(timeout: Option<Duration>) {
    let ms = timeout.map_or(0, |d| d.as_millis().clamp(1, u64::MAX as u128) as u64);
    TIMEOUT_MS.store(ms, Ordering::Relaxed);
}

/// Task names of a run, by id.
#[derive(Default)]
struct TaskNames(Vec<Option<TaskName>>);

impl TaskNames {
    fn set(&mut self, id: u32, name: TaskName) {
        let i = id as usize;
        if self.0.len() <= i {
            self.0.resize(i + 1, None);
        }
        self.0[i] = Some(name);
    }
    fn get(&self, id: u32) -> Option<String> {
        self.0.get(id as usize)?.as_ref().map(|n| n.to_string())
    }
}

/// What the watchdog sees of one engine thread.
pub(crate) struct Slot {
    /// A task of a live execution is running.
    in_task: AtomicBool,
    /// The running task.
    task: AtomicU32,
    /// Steps so far in the current run.
    step: AtomicU64,
    /// Runs so far (a new run with the same step count is progress too).
    runs: AtomicU64,
    /// Task names of the current run.
    names: Mutex<TaskNames>,
    /// The OS thread's name.
    thread: String,
}

impl Slot {
    /// A task runs (or stopped running).
    #[inline]
    pub(crate) fn running(&self, task: Option<u32>) {
        if let Some(t) = task {
            self.task.store(t, Ordering::Relaxed);
        }
        self.in_task.store(task.is_some(), Ordering::Relaxed);
    }

    /// The running task reached step `step`.
    #[inline]
    pub(crate) fn stepped(&self, step: u64) {
        self.step.store(step, Ordering::Relaxed);
    }

    /// A new run starts. (Only the engine thread writes the counters: no read-modify-write.)
    pub(crate) fn new_run(&self) {
        let runs = self.runs.load(Ordering::Relaxed);
        self.runs.store(runs.wrapping_add(1), Ordering::Relaxed);
        self.step.store(0, Ordering::Relaxed);
    }

    /// Task `id` was created with `name`. Names stay from one run to the next (the running
    /// task's id always has its run's name); `known` is the engine's copy of what was told, so
    /// the lock is taken only when a name changes - once per task of the first run, usually.
    pub(crate) fn named(&self, known: &mut Vec<Option<TaskName>>, id: u32, name: &TaskName) {
        let i = id as usize;
        if known.get(i).is_some_and(|k| k.as_ref() == Some(name)) {
            return;
        }
        if known.len() <= i {
            known.resize(i + 1, None);
        }
        known[i] = Some(name.clone());
        if let Ok(mut n) = self.names.lock() {
            n.set(id, name.clone());
        }
    }
}

/// The slots of every engine thread, watched by one thread.
struct Watchdog {
    slots: Mutex<Vec<Weak<Slot>>>,
}

static WATCHDOG: OnceLock<Watchdog> = OnceLock::new();

/// Register the calling engine thread; starts the watchdog thread on first use.
pub(crate) fn register() -> Arc<Slot> {
    let slot = Arc::new(Slot {
        in_task: AtomicBool::new(false),
        task: AtomicU32::new(0),
        step: AtomicU64::new(0),
        runs: AtomicU64::new(0),
        names: Mutex::new(TaskNames::default()),
        thread: std::thread::current()
            .name()
            .unwrap_or("unnamed thread")
            .to_string(),
    });
    let w = WATCHDOG.get_or_init(|| {
        // The watchdog cannot start: simulations run unwatched (as before it existed).
        let _ = std::thread::Builder::new()
            .name("netpoll-sim-watchdog".into())
            .spawn(watch);
        Watchdog {
            slots: Mutex::new(Vec::new()),
        }
    });
    if let Ok(mut s) = w.slots.lock() {
        s.retain(|w| w.strong_count() > 0);
        s.push(Arc::downgrade(&slot));
    }
    slot
}

/// Whether a debugger (or another tracer) is attached to this process.
fn traced() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("TracerPid:"))
                .map(|v| v.trim() != "0")
        })
        .unwrap_or(false)
}

/// What a slot showed: (task, step, runs).
type Seen = (u32, u64, u64);

/// The watchdog thread: check every slot a few times per timeout.
fn watch() {
    // (slot, what it showed, since when) for each slot seen.
    let mut seen: Vec<(Weak<Slot>, Seen, Instant)> = Vec::new();
    loop {
        let ms = TIMEOUT_MS.load(Ordering::Relaxed);
        let timeout = Duration::from_millis(ms);
        let poll = (timeout / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
        std::thread::sleep(if ms == 0 {
            Duration::from_secs(1)
        } else {
            poll
        });
        let Some(w) = WATCHDOG.get() else { continue };
        let slots: Vec<Arc<Slot>> = match w.slots.lock() {
            Ok(s) => s.iter().filter_map(Weak::upgrade).collect(),
            Err(_) => continue,
        };
        seen.retain(|(s, _, _)| s.strong_count() > 0);
        let now = Instant::now();
        for slot in slots {
            let state = (
                slot.task.load(Ordering::Relaxed),
                slot.step.load(Ordering::Relaxed),
                slot.runs.load(Ordering::Relaxed),
            );
            let busy = slot.in_task.load(Ordering::Relaxed);
            let entry = seen
                .iter_mut()
                .find(|(s, _, _)| std::ptr::eq(s.as_ptr(), Arc::as_ptr(&slot)));
            let since = match entry {
                Some(e) if e.1 == state && busy => e.2,
                Some(e) => {
                    e.1 = state;
                    e.2 = now;
                    now
                }
                None => {
                    seen.push((Arc::downgrade(&slot), state, now));
                    now
                }
            };
            if ms != 0 && busy && now.duration_since(since) >= timeout && !traced() {
                fire(&slot, state, now.duration_since(since));
            }
        }
    }
}

/// Say what is stuck, and end the process.
fn fire(slot: &Slot, (task, step, _): Seen, stuck: Duration) -> ! {
    let name = slot
        .names
        .lock()
        .ok()
        .and_then(|n| n.get(task))
        .unwrap_or_else(|| "?".to_string());
    eprintln!(
        "netpoll-sim watchdog: task {task} ({:?}) of the simulation on thread {:?} has run for \
         {:.1}s without reaching a scheduling point; its last simulated step was step {step}. \
         It is most likely blocked in a std primitive the simulator cannot see (a \
         std::sync::Mutex held across a simulated step, a std channel, std::thread::park or \
         join, blocking I/O) or spinning in a loop with no simulated operation, which would \
         hang this process forever: simulated code needs the primitives of netpoll_sim::sync \
         and netpoll_sim::thread. Ending the process \
         (NETPOLL_SIM_WATCHDOG=SECONDS or off changes this).",
        name.chars().take(80).collect::<String>(),
        slot.thread,
        stuck.as_secs_f64()
    );
    std::process::exit(WATCHDOG_EXIT_CODE)
}
