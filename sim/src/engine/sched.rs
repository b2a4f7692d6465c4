//! Low-level task control for platforms built on the engine (the netpoll `SimPlatform`):
//! Go-style park/ready, daemons, virtual time, platform choices, checkers and the deadlock
//! describer. Everything here must be called inside a simulation.

use crate::engine::rt;
pub use crate::engine::rt::{Quiet, QuietKind, Wake, START_TIME_NS};
use crate::engine::thread::JoinHandle;
use std::rc::Rc;

/// The running task's id (0 is the check closure; ids follow creation order).
pub fn current() -> u32 {
    rt::current()
}

/// Task `task`'s name, for checkers' messages (empty for an unknown task).
pub fn task_name(task: u32) -> String {
    rt::task_label(task)
}

/// Go's `gopark`: deschedule the running task, then run `commit` as its own step (other tasks
/// may run in between). If `commit` returns false the task continues at once; otherwise it
/// stays parked until some task calls [`ready`] on it. A `ready` that arrives before the task
/// has actually parked is not lost. `reason` and the caller's location appear in deadlock
/// reports.
#[track_caller]
pub fn park(reason: &'static str, commit: impl FnOnce() -> bool) -> Wake {
    rt::park(reason, None, commit)
}

/// [`park`] that also ends by itself at virtual time `until_ns` (Go's `notetsleep`): a
/// waiter with a deadline. Returns how it ended.
#[track_caller]
pub fn park_until(reason: &'static str, until_ns: i64, commit: impl FnOnce() -> bool) -> Wake {
    rt::park(reason, Some(until_ns), commit)
}

/// Go's `goready`: make `task` runnable (a scheduling point; the woken task acquires the
/// caller's clock).
pub fn ready(task: u32) {
    rt::ready(task)
}

/// Spawn a daemon: a long-lived task of the platform (a poller, a timer dispatcher). The run
/// ends when every other task has finished and nothing can run, whatever the daemons wait
/// for, and an idle daemon is never part of a deadlock (Go's system goroutines).
pub fn spawn_daemon<F>(name: &'static str, f: F) -> JoinHandle<()>
where
    F: FnOnce() + 'static,
{
    crate::engine::thread::spawn_task(name.into(), true, f)
}

/// Whether the run is over and its tasks are being torn down: a daemon's loop must then
/// return. (While shutting down, no operation blocks, no scheduling point switches and
/// nothing is recorded; a daemon that does not return is unwound, which is slower.)
pub fn shutting_down() -> bool {
    rt::shutting_down()
}

/// Spawn a daemon that starts parked: it runs `f` once some task [`ready`]s it, or once
/// virtual time reaches a time given with [`bring_forward`]. A platform's poller or timer
/// thread that has nothing to do until the first event or timer costs nothing until then.
/// Returns its task id.
pub fn spawn_parked_daemon<F>(name: &'static str, f: F) -> u32
where
    F: FnOnce() + 'static,
{
    rt::spawn_parked(name.into(), true, None, Box::new(f))
}

/// Bring the end of task `task`'s timed wait forward to `until_ns` (if earlier): a parked
/// task then wakes by itself at that virtual time, as if it had parked with that deadline
/// ([`park_until`]). If it is not parked yet, the deadline applies to its next park. Neither a
/// scheduling point nor a synchronisation.
pub fn bring_forward(task: u32, until_ns: i64) {
    rt::bring_forward(task, until_ns)
}

/// Virtual time in nanoseconds. Time advances only when no task can run, to the next task
/// that wakes by itself. Starts at [`START_TIME_NS`].
pub fn now_ns() -> i64 {
    rt::now_ns()
}

/// Sleep `ns` nanoseconds of virtual time (a scheduling point).
#[track_caller]
pub fn sleep_ns(ns: i64) {
    rt::sleep_ns(ns)
}

/// A nondeterministic choice among `n` options made by a check or platform (a fault, a
/// delivery order): drawn from the one choice stream, recorded, replayed.
pub fn choose(n: usize) -> usize {
    rt::user_choice(n)
}

/// Fail the run now with a checker's finding: the failure names `checker`.
pub fn fail(checker: &str, message: String) {
    rt::fail_check(checker, message)
}

/// Register, for the running execution, a check of its final state named `checker`: it runs
/// once every task that is not a daemon has finished and nothing can run, outside the model
/// (read simulated objects with `peek` only); a `Some` fails the schedule with that message.
pub fn at_end(checker: &str, f: impl Fn() -> Option<String> + 'static) {
    rt::add_end_check(checker.to_string(), Rc::new(f))
}

/// Register, for the running execution, a check named `checker` of its quiescent points
/// ([`Quiet`]): whenever no task can run (before virtual time advances or a deadlock is
/// declared; not while a task waits for a lock), and whenever only system tasks can run
/// ([`mark_system`]). It runs outside the model (read simulated objects with `peek` only); a
/// `Some` fails the schedule with that message, naming the checker.
pub fn at_quiet(checker: &str, f: impl Fn(&Quiet) -> Option<String> + 'static) {
    rt::add_quiet_check(checker.to_string(), Rc::new(f))
}

/// Mark task `task` as a system task: a daemon that does not count as a running thread in a
/// platform's model of the scheduler's idle check (Go's `sysmon`, which `checkdead` does not
/// count). When only system tasks can run, the [`at_quiet`] checks run.
pub fn mark_system(task: u32) {
    rt::mark_system(task)
}

/// Register, for the running execution, a function that adds detail to a deadlock report for
/// a blocked task (say, the fields of the pd it parked on). It runs outside the model after the
/// deadlock is found, so it must read simulated objects with `peek`, never `load`/`get`.
pub fn on_deadlock(f: impl Fn(u32) -> Option<String> + 'static) {
    rt::set_deadlock_hook(Rc::new(f))
}
