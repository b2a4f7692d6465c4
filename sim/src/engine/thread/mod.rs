//! Simulated threads (tasks), shaped like `std::thread`: `spawn`, `Builder`, `JoinHandle`,
//! `current`, `Thread::unpark`, `park`, `park_timeout`, `sleep`, `yield_now` and
//! `thread_local!`, with `std`'s signatures (spawned closures need not be `Send`: every task
//! runs on the thread that runs the check).
//!
//! `park` and `unpark` keep `std`'s token: an `unpark` before the `park` is not lost, and a
//! `park` that returns has synchronised with the `unpark` that released it. A `park` here
//! never wakes spuriously (a `std` one may). Time is virtual: `sleep` and `park_timeout` end
//! when the simulation's clock gets there, which it does only when no task can run. Not here:
//! `thread::scope` (a task's closure must be `'static`).

mod local;

/// `thread_local!` for simulated tasks. The macro is defined in `local`; `#[macro_export]`
/// puts it at the crate's root, hence the path.
pub use super::super::thread_local;
pub use local::{AccessError, LocalKey};

use crate::engine::event::TaskName;
use crate::engine::rt;
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

/// A task's identity within its execution (0 is the check's own task).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(u32);

impl ThreadId {
    /// The task id, as the event log and reports name it.
    pub fn as_u32(self) -> u32 {
        self.0
    }
}

/// A handle to a task: its id and name, and [`Thread::unpark`].
#[derive(Clone)]
pub struct Thread {
    id: u32,
    name: Option<TaskName>,
}

impl Thread {
    fn of(id: u32) -> Thread {
        let (name, anonymous) = rt::task_name(id);
        Thread {
            id,
            name: (!anonymous).then_some(name),
        }
    }

    /// The task's id.
    pub fn id(&self) -> ThreadId {
        ThreadId(self.id)
    }

    /// The task's name, if it was given one (the check's own task is `main`).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Give the task its token: its next [`park`] (or the one it is in) returns. A scheduling
    /// point; the woken `park` synchronises with it.
    pub fn unpark(&self) {
        rt::ready(self.id)
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish()
    }
}

/// The running task.
pub fn current() -> Thread {
    Thread::of(rt::current())
}

/// Sleep until this task's token is given ([`Thread::unpark`]), consuming it; at once if it
/// already was. A scheduling point.
#[track_caller]
pub fn park() {
    rt::park("thread::park", None, || true);
}

/// [`park`] for at most `dur` of virtual time.
#[track_caller]
pub fn park_timeout(dur: Duration) {
    let until = rt::now_ns().saturating_add(rt::duration_ns(dur));
    rt::park("thread::park_timeout", Some(until), || true);
}

/// Sleep `dur` of virtual time (a scheduling point).
#[track_caller]
pub fn sleep(dur: Duration) {
    rt::sleep_ns(rt::duration_ns(dur))
}

/// Whether the running task is unwinding from a panic.
pub fn panicking() -> bool {
    std::thread::panicking()
}

/// A handle to wait for a spawned task.
pub struct JoinHandle<T> {
    task: u32,
    result: Arc<StdMutex<Option<T>>>,
    thread: Thread,
}

impl<T> JoinHandle<T> {
    /// Wait for the task to finish (acquires everything it did) and return its result. A
    /// panic in a task fails the whole schedule, so this never returns `Err`.
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        rt::join(self.task);
        let v = self.result.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(v.expect("netpoll-sim: a joined task left no result"))
    }

    /// The task's id (0 is the check closure).
    pub fn id(&self) -> u32 {
        self.task
    }

    /// The task.
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Whether the task has finished (a scheduling point; no synchronisation: [`join`
    /// ](JoinHandle::join) it to see what it did).
    pub fn is_finished(&self) -> bool {
        rt::is_finished(self.task)
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("thread", &self.thread)
            .finish_non_exhaustive()
    }
}

/// Spawn a task running `f`. The new task starts with everything its parent did so far
/// (happens-before) and may run at the parent's next scheduling point.
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let h = spawn_task(TaskName::Borrowed("task"), false, f);
    rt::set_anonymous(h.task);
    JoinHandle {
        thread: Thread {
            id: h.task,
            name: None,
        },
        ..h
    }
}

/// [`spawn`] with a name for reports and traces.
pub fn spawn_named<F, T>(name: impl Into<TaskName>, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    spawn_task(name.into(), false, f)
}

pub(crate) fn spawn_task<F, T>(name: TaskName, daemon: bool, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let result = Arc::new(StdMutex::new(None));
    let slot = result.clone();
    let task = rt::spawn(
        name.clone(),
        daemon,
        Box::new(move || {
            let v = f();
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
        }),
    );
    JoinHandle {
        task,
        result,
        thread: Thread {
            id: task,
            name: Some(name),
        },
    }
}

/// Let other tasks run (a scheduling point; the next choice prefers another task and does not
/// count as a preemption).
///
/// Call it at the end of every iteration of a spin loop. Under the graph strategy it marks
/// the loop's back-edge: an iteration that only read since the previous `yield_now` would
/// read the same values forever, so the task waits there for good, and the graph in which
/// one of those reads sees a later store - which lets the loop out - is explored too (a
/// loop whose body changes local state, such as a bounded spin, is cut there).
pub fn yield_now() {
    rt::yield_now()
}

/// `std::thread::Builder`: a name for the task (its stack size is the engine's).
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
}

impl Builder {
    /// A builder with no name.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The task's name.
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Ignored: every task has the engine's coroutine stack.
    pub fn stack_size(self, _size: usize) -> Builder {
        self
    }

    /// Spawn the task (never an error here; a run with too many tasks fails as an engine
    /// limit instead).
    pub fn spawn<F, T>(self, f: F) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        Ok(match self.name {
            Some(n) => spawn_named(n, f),
            None => spawn(f),
        })
    }
}
