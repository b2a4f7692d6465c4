//! [`Checker::ClosedOnce`]: every fd is closed exactly once. The simulated kernel reports a
//! close(2) of a descriptor that is not open; the FD layer's destructions are counted per FD;
//! and at the end of the run no descriptor of the kernel and no FD is left open.

use netpoll::platform::RawFd;

use super::watch::{Finding, Watch};
use super::Checker;
use crate::engine::sched;
use crate::engine::trace::vtime;

/// FD `i` is being destroyed by `task` at `now`, closing `fd`.
pub(super) fn check_destroy(w: &mut Watch, i: usize, task: u32, now: i64, fd: RawFd) -> Finding {
    let life = &mut w.fds[i];
    if let Some((by, at)) = life.destroyed {
        return Some((
            Checker::ClosedOnce,
            format!(
                "task {task} ({}) destroys the FD on pd{} (fd {fd}) again; task {by} ({}) \
                 destroyed it at {}",
                sched::task_name(task),
                life.pd,
                sched::task_name(by),
                vtime(at)
            ),
        ));
    }
    life.destroyed = Some((task, now));
    if fd != life.fd {
        return Some((
            Checker::ClosedOnce,
            format!(
                "task {task} ({}) destroys the FD on pd{} by closing fd {fd}, but its \
                 descriptor is fd {}",
                sched::task_name(task),
                life.pd,
                life.fd
            ),
        ));
    }
    None
}

/// At the end of the run: nothing left open.
pub(super) fn check_end(w: &Watch) -> Option<String> {
    if let Some(life) = w.fds.iter().find(|l| l.destroyed.is_none()) {
        return Some(format!(
            "the FD on pd{} (fd {}) was never closed",
            life.pd, life.fd
        ));
    }
    let (fd, (_, what)) = w.kernel_fds.iter().next()?;
    Some(format!(
        "fd {fd} ({what}) was left open at the end of the run"
    ))
}
