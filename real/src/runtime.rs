//! [`RealRuntime`]: what both real runtimes offer, so that code and tests are written once and
//! run on either scheduler, chosen by type: [`crate::Runtime`] (tasks are OS threads, one
//! poller thread) or [`crate::CoroRuntime`] (tasks are coroutines on worker threads that poll).

use std::io;
use std::sync::Arc;
use std::thread;

use netpoll::fd::{self, Fd};
use netpoll::platform::{Platform, RawFd};
use netpoll::{NetPoll, Protocol};

use crate::clock::monotonic_ns;
use crate::coro::{CoroPlatform, CoroRuntime, CoroTask};
use crate::{PollerBackend, RealPlatform, Runtime};

/// A netpoll runtime on this machine's OS poller. See the module documentation.
pub trait RealRuntime: Sized + Send + Sync + 'static {
    /// The core's platform.
    type Platform: Platform<Backend = PollerBackend>;
    /// A spawned task, to join for its result.
    type Task<T: Send + 'static>: Send + 'static;
    /// A short name for reports ("threads", "coroutines").
    const NAME: &'static str;

    /// A runtime running `protocol`, with its defaults otherwise.
    fn with_protocol(protocol: Protocol) -> io::Result<Self>;

    /// A runtime running the fixed protocol.
    fn start() -> io::Result<Self> {
        Self::with_protocol(Protocol::Fixed)
    }

    /// The netpoll instance.
    fn netpoll(&self) -> &Arc<NetPoll<Self::Platform>>;

    /// A netpoll on this runtime's platform with nothing polling it and no worker: the caller
    /// polls, and tasks are OS threads (foreign callers, on the coroutine platform).
    fn manual() -> io::Result<Arc<NetPoll<Self::Platform>>>;

    /// The clock that deadlines are measured on.
    fn now_ns(&self) -> i64 {
        monotonic_ns()
    }

    /// Wrap a non-blocking `fd` in an [`Fd`] (on error the fd is left open).
    fn fd(&self, fd: RawFd) -> Result<Fd<Self::Platform>, fd::Error> {
        Fd::new(self.netpoll().clone(), fd)
    }

    /// Run `f` as a task.
    fn spawn<T, F>(&self, f: F) -> Self::Task<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static;

    /// Wait for a task from this thread (or task) and return its result; a panic in the task
    /// propagates.
    fn join<T: Send + 'static>(&self, task: Self::Task<T>) -> T;

    /// Whether the task has finished.
    fn is_finished<T: Send + 'static>(task: &Self::Task<T>) -> bool;

    /// Deadline timers (and sleeps) armed right now.
    fn armed_timers(&self) -> usize;

    /// Tasks spawned and not finished (threads: not tracked, always 0).
    fn live_tasks(&self) -> usize;

    /// The scheduler's counters as one line, for reports (threads: none kept).
    fn stats_line(&self) -> String {
        String::new()
    }
}

impl RealRuntime for Runtime {
    type Platform = RealPlatform;
    type Task<T: Send + 'static> = thread::JoinHandle<T>;
    const NAME: &'static str = "threads";

    fn with_protocol(protocol: Protocol) -> io::Result<Self> {
        Runtime::with_protocol(protocol)
    }

    fn netpoll(&self) -> &Arc<NetPoll<RealPlatform>> {
        Runtime::netpoll(self)
    }

    fn manual() -> io::Result<Arc<NetPoll<RealPlatform>>> {
        Ok(Arc::new(NetPoll::new(
            RealPlatform::new()?,
            Protocol::Fixed,
        )))
    }

    fn spawn<T, F>(&self, f: F) -> thread::JoinHandle<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        thread::spawn(f)
    }

    fn join<T: Send + 'static>(&self, task: thread::JoinHandle<T>) -> T {
        match task.join() {
            Ok(v) => v,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }

    fn is_finished<T: Send + 'static>(task: &thread::JoinHandle<T>) -> bool {
        task.is_finished()
    }

    fn armed_timers(&self) -> usize {
        self.platform().clock().armed()
    }

    fn live_tasks(&self) -> usize {
        0
    }
}

impl RealRuntime for CoroRuntime {
    type Platform = CoroPlatform;
    type Task<T: Send + 'static> = CoroTask<T>;
    const NAME: &'static str = "coroutines";

    fn with_protocol(protocol: Protocol) -> io::Result<Self> {
        CoroRuntime::builder().protocol(protocol).build()
    }

    fn netpoll(&self) -> &Arc<NetPoll<CoroPlatform>> {
        CoroRuntime::netpoll(self)
    }

    fn manual() -> io::Result<Arc<NetPoll<CoroPlatform>>> {
        CoroRuntime::builder().workers(1).build_manual()
    }

    fn spawn<T, F>(&self, f: F) -> CoroTask<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        CoroRuntime::spawn(self, f)
    }

    fn join<T: Send + 'static>(&self, task: CoroTask<T>) -> T {
        match task.join() {
            Ok(v) => v,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }

    fn is_finished<T: Send + 'static>(task: &CoroTask<T>) -> bool {
        task.is_finished()
    }

    fn armed_timers(&self) -> usize {
        self.netpoll().platform().clock().armed()
    }

    fn live_tasks(&self) -> usize {
        self.sched().live_tasks()
    }

    fn stats_line(&self) -> String {
        format!("{:?}", self.sched().stats())
    }
}
