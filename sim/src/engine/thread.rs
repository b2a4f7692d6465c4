//! Simulated threads (tasks), shaped like `std::thread`.

use crate::engine::event::TaskName;
use crate::engine::rt;
use std::sync::{Arc, Mutex as StdMutex};

/// A handle to wait for a spawned task.
#[derive(Debug)]
pub struct JoinHandle<T> {
    task: u32,
    result: Arc<StdMutex<Option<T>>>,
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
}

/// Spawn a task running `f`. The new task starts with everything its parent did so far
/// (happens-before) and may run at the parent's next scheduling point.
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    spawn_named("task", f)
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
        name,
        daemon,
        Box::new(move || {
            let v = f();
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
        }),
    );
    JoinHandle { task, result }
}

/// Let other tasks run (a scheduling point; the next choice prefers another task and does not
/// count as a preemption).
pub fn yield_now() {
    rt::yield_now()
}
