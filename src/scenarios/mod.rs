//! Workloads written once against the generic API, run by the simulator (where every
//! interleaving and weak-memory outcome is explored) and on real epoll (where they must pass).
//!
//! A scenario runs in a task of the platform, spawns what it needs through the platform's
//! scheduler, and checks its outcome with assertions: a failed assertion is a panic, which the
//! simulator reports as a failure and a real test as a test failure. A deadlock (the #45211
//! symptom) shows up as tasks that never finish.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::fd::{Error, Fd};
use crate::netpoll::NetPoll;
use crate::platform::{Backend, Platform, Scheduler};

mod close_unblocks_read;
mod close_unblocks_write;
mod deadline_unblocks_read;
mod reused_pd_stale_error;
mod write_wakes_read;

pub use close_unblocks_read::close_unblocks_read;
pub use close_unblocks_write::close_unblocks_write;
pub use deadline_unblocks_read::deadline_unblocks_read;
pub use reused_pd_stale_error::reused_pd_stale_error;
pub use write_wakes_read::write_wakes_read;

/// A scenario: a workload written once against the generic API. Shaped like
/// [`Protocol`](crate::Protocol): a closed set of variants with a stable command-line name, a
/// description, and a typed run function, so a scenario's name is never typed by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// A task blocks reading an empty pipe while another closes it (golang/go#45211).
    CloseUnblocksRead,
    /// A task starts reading an empty pipe just as its read deadline expires.
    DeadlineUnblocksRead,
    /// A task blocks writing a full pipe while another closes it (#45211, write side).
    CloseUnblocksWrite,
    /// An error event in flight for a closed fd meets the pd's next use (#59545).
    ReusedPdStaleError,
    /// A task blocks reading a pipe until another writes to it and closes it.
    WriteWakesRead,
}

impl Scenario {
    /// Every scenario, in a stable order.
    pub const ALL: &'static [Scenario] = &[
        Scenario::CloseUnblocksRead,
        Scenario::DeadlineUnblocksRead,
        Scenario::CloseUnblocksWrite,
        Scenario::ReusedPdStaleError,
        Scenario::WriteWakesRead,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::CloseUnblocksRead => "close-unblocks-read",
            Scenario::DeadlineUnblocksRead => "deadline-unblocks-read",
            Scenario::CloseUnblocksWrite => "close-unblocks-write",
            Scenario::ReusedPdStaleError => "reused-pd-stale-error",
            Scenario::WriteWakesRead => "write-wakes-read",
        }
    }

    /// One line about what it exercises.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::CloseUnblocksRead => {
                "a task blocks reading an empty pipe while another closes it (golang/go#45211)"
            }
            Scenario::DeadlineUnblocksRead => {
                "a task starts reading an empty pipe just as its read deadline expires"
            }
            Scenario::CloseUnblocksWrite => {
                "a task blocks writing a full pipe while another closes it (#45211, write side)"
            }
            Scenario::ReusedPdStaleError => {
                "an error event in flight for a closed fd meets the pd's next use (#59545)"
            }
            Scenario::WriteWakesRead => {
                "a task blocks reading a pipe until another writes to it and closes it"
            }
        }
    }

    /// Run the scenario on `np`, in the current task of its platform.
    pub fn run<P: Platform>(self, np: &Arc<NetPoll<P>>) {
        match self {
            Scenario::CloseUnblocksRead => close_unblocks_read(np),
            Scenario::DeadlineUnblocksRead => deadline_unblocks_read(np),
            Scenario::CloseUnblocksWrite => close_unblocks_write(np),
            Scenario::ReusedPdStaleError => reused_pd_stale_error(np),
            Scenario::WriteWakesRead => write_wakes_read(np),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Scenario::ALL
            .iter()
            .copied()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Scenario::ALL.iter().map(|c| c.name()).collect();
                format!(
                    "unknown scenario '{s}' (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// A pipe whose read end is wrapped in an [`Fd`]; the write end stays a raw fd.
pub(crate) fn pipe_fd<P: Platform>(np: &Arc<NetPoll<P>>) -> (Arc<Fd<P>>, i32) {
    let (r, w) = np.platform().backend().pipe().expect("scenario: pipe");
    let fd = Fd::new(np.clone(), r).expect("scenario: open pd for pipe");
    (Arc::new(fd), w)
}

/// Close a raw fd created by a scenario.
pub(crate) fn close_raw<P: Platform>(np: &Arc<NetPoll<P>>, fd: i32) {
    np.platform()
        .backend()
        .close_fd(fd)
        .expect("scenario: close raw fd");
}

/// Spawn `f` on the platform and return its join handle.
pub(crate) fn spawn<P: Platform, F: FnOnce() + Send + 'static>(
    np: &Arc<NetPoll<P>>,
    name: &'static str,
    f: F,
) -> <P::Sched as Scheduler>::JoinHandle {
    np.platform().sched().spawn(name, f)
}

/// Describe an FD result for assertion messages.
pub(crate) fn outcome(res: &Result<usize, Error>) -> String {
    match res {
        Ok(n) => format!("Ok({n})"),
        Err(e) => format!("Err({})", e.kind_name()),
    }
}
