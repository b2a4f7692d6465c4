//! [`Checker::SyscallAfterDestroy`]: no system call on an FD's descriptor once the FD has
//! been destroyed (its pd released and its descriptor closed): the number may already name
//! another file. Go's fdMutex reference count is what prevents it; the checker attributes
//! each system call to the operation its task is in.

use netpoll::platform::RawFd;

use super::watch::{Finding, Watch};
use super::Checker;
use crate::engine::sched;
use crate::engine::trace::vtime;

/// Task `task` is about to make a system call on `fd`.
pub(super) fn check(w: &Watch, task: u32, fd: RawFd) -> Finding {
    let op = w.ops.get(&task)?;
    let life = &w.fds[op.fd];
    let (by, at) = life.destroyed?;
    Some((
        Checker::SyscallAfterDestroy,
        format!(
            "{} makes a system call on fd {fd} after task {by} ({}) destroyed the FD at {} \
             (its descriptor was fd {})",
            w.describe_op(task, op),
            sched::task_name(by),
            vtime(at),
            life.fd
        ),
    ))
}
