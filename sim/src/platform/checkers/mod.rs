//! Checkers apart from workloads (TigerBeetle's way): properties of every run, checked by the
//! platform on every scenario and every check that builds a [`SimPlatform`], whatever the
//! workload asserts itself.
//!
//! They see the run through three kinds of observation points, none of which the real
//! platforms pay for:
//!
//! * the FD layer's observations ([`netpoll::observe`]: operations and their outcomes,
//!   system calls, deadlines, Close), recorded in a watch (one per run) by [`SimPlatform::observe`];
//! * the simulated kernel (fds opened and closed, error events delivered) and the timer heap;
//! * the engine's quiescent points ([`sched::at_quiet`]: nothing can run but time, or only
//!   the poller can) and the end of the run ([`sched::at_end`]), where they read the core's
//!   state with `peek`.
//!
//! A checker that finds a broken property fails the run with a [`Failure::Checker`]
//! naming it ([`Checker::name`]), so a trace records which
//! property broke. Each checker is its own module; this one names them and wires them up.
//!
//! [`SimPlatform`]: super::SimPlatform
//! [`SimPlatform::observe`]: super::SimPlatform
//! [`Failure::Checker`]: crate::Failure::Checker

mod checkdead;
mod close_once;
mod closed_pd;
mod deadlines;
mod destroyed;
mod outcomes;
mod timers;
mod waiters;
mod watch;

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use netpoll::observe::Observation;

use super::faults::Faults;
use super::SimNetPoll;
use crate::engine::sched;

pub use timers::SYSMON_PERIOD_NS;
pub(crate) use watch::Watch;

/// The checkers of the netpoll platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Checker {
    /// No task stays parked on a pd that is closing (checked whenever nothing can run).
    ParkedOnClosedPd,
    /// No DeadlineExceeded before the deadline; in virtual time none after it either (beyond
    /// the platform's timer bound, see [`Checker::TimersOnTime`]), and no task stays parked
    /// past its deadline.
    Deadlines,
    /// Every operation ends in data, end of file, DeadlineExceeded or Closed - or in what the
    /// kernel said: a broken pipe or reset from a closed peer, a refused connection, or "not
    /// pollable" after the kernel reported an error event for the fd.
    Outcomes,
    /// No system call on the descriptor of an FD after the FD was destroyed.
    SyscallAfterDestroy,
    /// Every fd is closed exactly once: no close(2) of a closed descriptor, no FD destroyed
    /// twice, nothing left open at the end of the run.
    ClosedOnce,
    /// `netpollWaiters` is back to 0 once every task has finished.
    WaitersBalanced,
    /// A due timer fires within the platform's bound of virtual time (0 when the kernel
    /// delivers every break; sysmon's period when breaks can be lost).
    TimersOnTime,
    /// Go's idle check (`findRunnable` + `checkdead`): when only the poller (which stands for
    /// `sysmon`, not counted as a running thread) can run, some task waits, no timer is
    /// pending and `netpollWaiters` is 0, Go throws "all goroutines are asleep".
    GoCheckdead,
}

impl Checker {
    /// Every checker, in a stable order.
    pub const ALL: [Checker; 8] = [
        Checker::ParkedOnClosedPd,
        Checker::Deadlines,
        Checker::Outcomes,
        Checker::SyscallAfterDestroy,
        Checker::ClosedOnce,
        Checker::WaitersBalanced,
        Checker::TimersOnTime,
        Checker::GoCheckdead,
    ];

    /// The name failures and traces carry.
    pub fn name(self) -> &'static str {
        match self {
            Checker::ParkedOnClosedPd => "parked-on-closed-pd",
            Checker::Deadlines => "deadlines",
            Checker::Outcomes => "outcomes",
            Checker::SyscallAfterDestroy => "syscall-after-destroy",
            Checker::ClosedOnce => "closed-once",
            Checker::WaitersBalanced => "waiters-balanced",
            Checker::TimersOnTime => "timers-on-time",
            Checker::GoCheckdead => "go-checkdead",
        }
    }

    /// One line about the property.
    pub fn description(self) -> &'static str {
        match self {
            Checker::ParkedOnClosedPd => "no task stays parked on a pd that is closing",
            Checker::Deadlines => {
                "no DeadlineExceeded before the deadline, none after it, no task parked past it"
            }
            Checker::Outcomes => {
                "every operation ends in data, EOF, DeadlineExceeded, Closed, or the kernel's error"
            }
            Checker::SyscallAfterDestroy => "no system call on an FD's descriptor once destroyed",
            Checker::ClosedOnce => "every fd closed exactly once, none left open",
            Checker::WaitersBalanced => "netpollWaiters back to 0 at the end",
            Checker::TimersOnTime => "a due timer fires within the platform's bound",
            Checker::GoCheckdead => {
                "Go's checkdead: not all goroutines asleep while only sysmon's poll runs"
            }
        }
    }

    /// Fail the run now with `message`.
    pub(crate) fn fail(self, message: String) {
        sched::fail(self.name(), message)
    }
}

impl fmt::Display for Checker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Checker {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Checker::ALL
            .iter()
            .copied()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown checker '{s}'"))
    }
}

/// The checkers' state of one run, shared by the platform (which feeds it) and the checks
/// registered with the engine.
#[derive(Clone)]
pub(crate) struct Checkers {
    watch: Arc<Mutex<Watch>>,
}

impl Checkers {
    /// The checkers of a platform whose kernel has `faults`.
    pub(crate) fn new(faults: Faults) -> Checkers {
        let w = Watch::new(timers::slack_ns(faults));
        Checkers {
            watch: Arc::new(Mutex::new(w)),
        }
    }

    /// The kernel made descriptor `fd` for open file `file` (`what` it is).
    pub(crate) fn kernel_opened(
        &self,
        fd: netpoll::platform::RawFd,
        file: u64,
        what: &'static str,
    ) {
        self.watch().kernel_opened(fd, file, what);
    }

    /// The kernel is asked by the running task to close `fd`.
    pub(crate) fn kernel_closed(&self, fd: netpoll::platform::RawFd) {
        let found = self.watch().kernel_closed(sched::current(), fd);
        if let Some((checker, message)) = found {
            checker.fail(message);
        }
    }

    /// The kernel delivered an error event for open file `file`.
    pub(crate) fn kernel_error_event(&self, file: u64) {
        self.watch().kernel_error_event(file);
    }

    /// The state (never contended: one simulated run is one OS thread).
    pub(crate) fn watch(&self) -> MutexGuard<'_, Watch> {
        self.watch.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An observation of the FD layer, made by the running task.
    pub(crate) fn observe(&self, what: Observation) {
        let task = sched::current();
        let now = sched::now_ns();
        let found = self.watch().observe(task, now, what);
        if let Some((checker, message)) = found {
            checker.fail(message);
        }
    }

    /// Register the checks of the engine's quiescent points and of the end of the run, for
    /// the netpoll in `np` (weakly: the checks must not keep it alive).
    pub(crate) fn register(&self, np: Weak<SimNetPoll>, faults: Faults) {
        let slack = timers::slack_ns(faults);
        let (w, np2) = (self.watch.clone(), np.clone());
        sched::at_quiet(Checker::ParkedOnClosedPd.name(), move |q| {
            closed_pd::check(q, &*np2.upgrade()?)
        });
        let np2 = np.clone();
        sched::at_quiet(Checker::Deadlines.name(), move |q| {
            let np = np2.upgrade()?;
            let w = w.lock().unwrap_or_else(|e| e.into_inner());
            deadlines::check_parked(q, &w, &np, slack)
        });
        let np2 = np.clone();
        sched::at_quiet(Checker::TimersOnTime.name(), move |q| {
            timers::check_quiet(q, &*np2.upgrade()?, slack)
        });
        let np2 = np.clone();
        sched::at_quiet(Checker::GoCheckdead.name(), move |q| {
            checkdead::check(q, &*np2.upgrade()?)
        });
        let w = self.watch.clone();
        sched::at_end(Checker::ClosedOnce.name(), move || {
            close_once::check_end(&w.lock().unwrap_or_else(|e| e.into_inner()))
        });
    }

    /// Register the end check of the waiters count (it holds `np` strongly: by the end the
    /// check's own tasks may have dropped theirs).
    pub(crate) fn register_waiters(np: Arc<SimNetPoll>) {
        sched::at_end(Checker::WaitersBalanced.name(), move || {
            waiters::check_end(&np)
        });
    }
}
