//! A task's scheduling state.

use super::globals::Values;
use crate::engine::event::TaskName;
use crate::engine::vc::VClock;
use corosensei::Yielder;
use std::panic::Location;

/// The yielder of a task's coroutine: resumed with `true` to abort (unwind) the task.
pub(crate) type Yld = Yielder<bool, ()>;

/// Where a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// May be chosen to run.
    Runnable,
    /// Waits for lock `id`.
    BlockedLock(u32),
    /// Waits for task `id` to finish.
    BlockedJoin(u32),
    /// Descheduled by `park`, its commit step not yet run (it still counts as runnable: the
    /// commit is the next step it takes).
    Parking,
    /// Parked until some task readies it, or until the virtual time `until` if set.
    Parked {
        /// When the park times out.
        until: Option<i64>,
    },
    /// Asleep until the virtual time.
    Sleeping(i64),
    /// Asleep on a futex (location `loc`) until woken, or until the virtual time `until` if
    /// set.
    Futex {
        /// The location it sleeps on.
        loc: u32,
        /// When the wait times out.
        until: Option<i64>,
    },
    /// Its function returned.
    Finished,
}

impl Status {
    /// Whether the task may be chosen to run.
    #[inline]
    pub(crate) fn runnable(self) -> bool {
        matches!(self, Status::Runnable | Status::Parking)
    }

    /// The virtual time at which the task wakes by itself, if any.
    pub(crate) fn wakes_at(self) -> Option<i64> {
        match self {
            Status::Sleeping(t) => Some(t),
            Status::Parked { until } | Status::Futex { until, .. } => until,
            _ => None,
        }
    }
}

/// One task of an execution.
pub(crate) struct Task {
    pub(crate) name: TaskName,
    pub(crate) status: Status,
    /// A daemon (the platform's poller, its timer dispatcher): the execution ends when every
    /// task that is not a daemon has finished and nothing can run, whatever the daemons wait
    /// for; an idle daemon is never part of a deadlock.
    pub(crate) daemon: bool,
    /// A system task that does not count as a running thread in the platform's model of
    /// the scheduler's idle check (Go's `sysmon`); see `sched::mark_system`.
    pub(crate) system: bool,
    /// Released by `ready`, acquired when the task resumes from `park`.
    pub(crate) park_vc: VClock,
    /// A `ready` arrived while the task was not (yet) parked.
    pub(crate) wake_pending: bool,
    /// Its last park ended because its time ran out.
    pub(crate) timed_out: bool,
    /// A time its next park must end by (brought forward before it parked).
    pub(crate) wake_by: Option<i64>,
    /// This task's coroutine yielder, valid while its coroutine is alive.
    pub(crate) yielder: *const Yld,
    /// Where it blocked, for deadlock reports.
    pub(crate) site: Option<&'static Location<'static>>,
    /// What it parked for (`park`'s reason).
    pub(crate) park_reason: &'static str,
    /// It just called `yield_now`: prefer others at the next choice.
    pub(crate) yielded: bool,
    /// It was just started by a schedule choice and has not changed what can run since: its
    /// first scheduling point draws no choice (the choice to run it was already made; drawing
    /// another would only repeat schedules). Spawning a task clears it.
    pub(crate) fresh: bool,
    /// Spawned without a name (`std::thread::Thread::name` is then `None`).
    pub(crate) anonymous: bool,
    /// Its thread-locals (see `globals`).
    pub(crate) locals: Values,
    /// Its thread-locals are being (or have been) destroyed: they cannot be reached.
    pub(crate) locals_gone: bool,
}

impl Task {
    pub(crate) fn new(name: TaskName, daemon: bool) -> Task {
        Task {
            name,
            status: Status::Runnable,
            daemon,
            system: false,
            park_vc: VClock::ZERO,
            wake_pending: false,
            timed_out: false,
            wake_by: None,
            yielder: std::ptr::null(),
            site: None,
            park_reason: "",
            yielded: false,
            fresh: true,
            anonymous: false,
            locals: Values::default(),
            locals_gone: false,
        }
    }
}
