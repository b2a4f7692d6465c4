//! Workloads written once against the generic API, run by the simulator (where every
//! interleaving and weak-memory outcome is explored) and on real epoll (where they must pass).
//!
//! A scenario runs in a task of the platform, spawns what it needs through the platform's
//! scheduler, and checks its outcome with assertions: a failed assertion is a panic, which the
//! simulator reports as a failure and a real test as a test failure. A deadlock (the #45211
//! symptom) shows up as tasks that never finish.

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

/// A scenario's name and what it exercises.
#[derive(Clone, Copy, Debug)]
pub struct ScenarioInfo {
    /// The command-line name.
    pub name: &'static str,
    /// One line about it.
    pub description: &'static str,
}

/// Every scenario, in a stable order.
pub const ALL: &[ScenarioInfo] = &[
    ScenarioInfo {
        name: "close-unblocks-read",
        description:
            "a task blocks reading an empty pipe while another closes it (golang/go#45211)",
    },
    ScenarioInfo {
        name: "deadline-unblocks-read",
        description: "a task starts reading an empty pipe just as its read deadline expires",
    },
    ScenarioInfo {
        name: "close-unblocks-write",
        description:
            "a task blocks writing a full pipe while another closes it (#45211, write side)",
    },
    ScenarioInfo {
        name: "reused-pd-stale-error",
        description: "an error event in flight for a closed fd meets the pd's next use (#59545)",
    },
    ScenarioInfo {
        name: "write-wakes-read",
        description: "a task blocks reading a pipe until another writes to it and closes it",
    },
];

/// The scenario called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static ScenarioInfo> {
    ALL.iter().find(|s| s.name == name)
}

/// Run the scenario called `name` on `np`, in the current task of its platform.
/// Returns an error naming the known scenarios when `name` is unknown.
pub fn run<P: Platform>(name: &str, np: &Arc<NetPoll<P>>) -> Result<(), String> {
    match name {
        "close-unblocks-read" => close_unblocks_read(np),
        "deadline-unblocks-read" => deadline_unblocks_read(np),
        "close-unblocks-write" => close_unblocks_write(np),
        "reused-pd-stale-error" => reused_pd_stale_error(np),
        "write-wakes-read" => write_wakes_read(np),
        _ => {
            let names: Vec<_> = ALL.iter().map(|s| s.name).collect();
            return Err(format!(
                "unknown scenario '{name}' (known: {})",
                names.join(", ")
            ));
        }
    }
    Ok(())
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
