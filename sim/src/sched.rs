//! Low-level task control for platforms built on the simulator (the netpoll `SimPlatform`):
//! Go-style park/ready, virtual time and timers, platform choices, the deadlock hook.
//! Everything here must be called inside a simulation.

use crate::rt;
use std::rc::Rc;

/// The running task's id (0 is the check closure; ids follow creation order).
pub fn current() -> u32 {
    rt::current()
}

/// Go's `gopark`: deschedule the running task, then run `commit` as its own step (other tasks
/// may run in between). If `commit` returns false the task continues at once; otherwise it
/// stays parked until some task calls [`ready`] on it. A `ready` that arrives before the task
/// has actually parked is not lost. `reason` and the caller's location appear in deadlock
/// reports.
#[track_caller]
pub fn park(reason: &'static str, commit: impl FnOnce() -> bool) {
    rt::park(reason, commit)
}

/// Go's `goready`: make `task` runnable (a scheduling point; the woken task acquires the
/// caller's clock).
pub fn ready(task: u32) {
    rt::ready(task)
}

/// Virtual time in nanoseconds. Time advances only when no task can run, to the next timer or
/// sleeper. Starts at 1 s.
pub fn now_ns() -> i64 {
    rt::now_ns()
}

/// Sleep `ns` nanoseconds of virtual time (a scheduling point).
#[track_caller]
pub fn sleep_ns(ns: i64) {
    rt::sleep_ns(ns)
}

/// A pending timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId(pub u64);

/// Arm a timer (a scheduling point): at virtual time `when_ns` (or at the next scheduling
/// point if that is not in the future), `f` starts as a new task named `name`, interleaved
/// with every task woken at the same time.
pub fn timer_add(name: &'static str, when_ns: i64, f: impl FnOnce() + 'static) -> TimerId {
    TimerId(rt::timer_add(name, when_ns, Box::new(f)))
}

/// Cancel a timer (a scheduling point); true if it had not fired.
pub fn timer_cancel(id: TimerId) -> bool {
    rt::timer_cancel(id.0)
}

/// A nondeterministic choice among `n` options made by a scenario or platform (a fault, a
/// delivery order): drawn from the one choice stream, recorded, replayed.
pub fn choose(n: usize) -> usize {
    rt::user_choice(n)
}

/// The fault probabilities of the running execution ([`Builder::faults`](crate::Builder)).
pub fn faults() -> crate::Faults {
    crate::rt::with(|e| e.cfg.faults)
}

/// Register, for the running execution, a check of its final state: it runs once every task
/// has finished, outside the model (read simulated objects with `peek` only), and a `Some`
/// fails the schedule with that message.
pub fn at_end(f: impl Fn() -> Option<String> + 'static) {
    rt::add_end_check(Rc::new(f))
}

/// Register, for the running execution, a function that adds detail to a deadlock report for
/// a blocked task (say, the fields of the pd it parked on). It runs outside the model after the
/// deadlock is found, so it must read simulated objects with `peek`, never `load`/`get`.
pub fn on_deadlock(f: impl Fn(u32) -> Option<String> + 'static) {
    rt::set_deadlock_hook(Rc::new(f))
}
