//! The coroutine scheduler: an M:N runtime with the OS poller in its loop.
//!
//! Tasks are stackful coroutines (corosensei) run by N worker threads (default: one per
//! core). A task that waits parks by switching to its worker's loop; whatever makes it ready
//! pushes it onto a run queue. Each worker has its own run queue (idle workers steal half of a
//! busy one's) and its own timer heap. An idle worker polls the OS poller without blocking and
//! runs what became ready on its own thread; only one worker at a time blocks in the poller,
//! until the earliest timer of any worker; a ready aimed at sleeping workers wakes one
//! (through the poller's break when the only idle one is the one in the poller). This is the
//! shape of Go's scheduler (`findrunnable`, `netpoll`, `wakep`, per-P timers), and the
//! readiness path costs no thread switch: the worker that polls runs the woken task.
//!
//! * [`CoroPlatform`]: the core's platform on it (std atomics, the futex lock, the OS poller,
//!   [`CoroClock`], [`CoroSched`]).
//! * [`CoroRuntime`]: the workers and their poller; built by [`Builder`].
//!
//! # Blocking calls inside a task
//!
//! A task must not block its thread in the kernel, or the other tasks of its worker stall:
//!
//! * waiting on a pollable fd goes through [`netpoll::fd::Fd`] (it parks the task);
//! * sleeping: [`netpoll::platform::Scheduler::sleep_ns`] parks the task on a timer;
//! * a descriptor that epoll cannot watch (a regular file) is refused by `Fd::new` with the
//!   kernel's error (`EPERM`, "operation not permitted"): read it inside
//!   [`CoroSched::blocking`], which hands the worker to another thread for the duration of
//!   the call (Go: `entersyscall`/`handoffp`), as any other blocking code should be.
//!
//! Nothing watches for a task that blocks without saying so (there is no sysmon): its worker's
//! queue is then served only by the other workers' stealing.
//!
//! # Caveats
//!
//! A task may resume on another worker thread after any park: it must not hold a reference
//! into a thread-local across a park. Tasks still parked when the runtime shuts down are
//! abandoned (their stacks and what they own leak; their destructors never run), like
//! goroutines at exit.

mod sched;
pub mod stack;
mod task;
mod timers;
mod trim;
mod worker;

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use netpoll::fd::Fd;
use netpoll::platform::{Platform, RawFd, Word};
use netpoll::{NetPoll, Protocol};

pub use sched::{CoroSched, CoroTask, Stats, FOREIGN};
pub use stack::Stacks;
pub use timers::CoroClock;

use crate::{FutexLock, PollerBackend, RelaxedCell, StdAtomicU32, StdAtomicUsize};

/// Default usable bytes per task stack (reserved address space; only touched pages cost
/// memory).
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Default time after which a parked task's stack is trimmed ([`Builder::trim_idle_stacks`]).
pub const DEFAULT_TRIM_AFTER: Duration = Duration::from_secs(1);

/// Default rounds an idle worker spins looking for work before it sleeps.
pub const DEFAULT_SPIN_ROUNDS: u32 = 16;

/// The core's platform on the coroutine scheduler.
#[derive(Debug)]
pub struct CoroPlatform {
    backend: Arc<PollerBackend>,
    clock: CoroClock,
    sched: CoroSched,
}

// The FD layer's observation points cost nothing here (see `RealPlatform`).
const _: () = assert!(!<CoroPlatform as Platform>::OBSERVES);

impl Platform for CoroPlatform {
    type AtomicU32 = StdAtomicU32;
    type AtomicUsize = StdAtomicUsize;
    type Plain<T: Word> = RelaxedCell<T>;
    type Lock = FutexLock;
    type Clock = CoroClock;
    type Backend = PollerBackend;
    type Sched = CoroSched;

    #[inline]
    fn clock(&self) -> &CoroClock {
        &self.clock
    }

    #[inline]
    fn backend(&self) -> &PollerBackend {
        &self.backend
    }

    #[inline]
    fn sched(&self) -> &CoroSched {
        &self.sched
    }
}

/// The netpoll type on the coroutine platform.
pub type CoroNetPoll = NetPoll<CoroPlatform>;
/// The FD type on the coroutine platform.
pub type CoroFd = Fd<CoroPlatform>;

/// Settings for a [`CoroRuntime`]; every field has a default.
#[derive(Clone, Copy, Debug)]
pub struct Builder {
    workers: usize,
    stacks: Stacks,
    stack_size: usize,
    spin_rounds: u32,
    trim_after: Option<Duration>,
    protocol: Protocol,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Defaults: one worker per core (`std::thread::available_parallelism`), guarded stacks of
    /// [`DEFAULT_STACK_SIZE`], [`DEFAULT_SPIN_ROUNDS`], the fixed protocol.
    pub fn new() -> Builder {
        Builder {
            workers: thread::available_parallelism().map_or(1, |n| n.get()),
            stacks: Stacks::Guarded,
            stack_size: DEFAULT_STACK_SIZE,
            spin_rounds: DEFAULT_SPIN_ROUNDS,
            trim_after: Some(DEFAULT_TRIM_AFTER),
            protocol: Protocol::Fixed,
        }
    }

    /// Worker threads (at least 1).
    pub fn workers(mut self, n: usize) -> Builder {
        self.workers = n.max(1);
        self
    }

    /// Usable bytes per task stack (rounded up to whole pages, at least one page).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// Rounds an idle worker looks for work before it sleeps (0: sleep at once).
    pub fn spin_rounds(mut self, rounds: u32) -> Builder {
        self.spin_rounds = rounds;
        self
    }

    /// Trim the stack of a task parked for about `after` or longer: its live bytes move to
    /// the heap and its pages go back to the kernel until it runs again (`None`: never). An
    /// idle worker does it, at most once per `after`. Default: [`DEFAULT_TRIM_AFTER`].
    pub fn trim_idle_stacks(mut self, after: Option<Duration>) -> Builder {
        self.trim_after = after.filter(|d| !d.is_zero());
        self
    }

    /// The netpoll protocol to run.
    pub fn protocol(mut self, protocol: Protocol) -> Builder {
        self.protocol = protocol;
        self
    }

    /// Carve task stacks out of shared slabs instead of giving each its own mapping with a
    /// guard page (see [`stack`]): needed beyond about 30,000 live tasks.
    ///
    /// # Safety
    ///
    /// A packed stack has no guard page: a task that overflows its stack writes into another
    /// task's stack before the canary check notices and aborts. The caller promises that no
    /// task needs more than the stack size ([`Builder::stack_size`]).
    pub unsafe fn packed_stacks(mut self) -> Builder {
        self.stacks = Stacks::Packed;
        self
    }

    /// Start the workers.
    pub fn build(self) -> io::Result<CoroRuntime> {
        let np = self.build_netpoll()?;
        let mut rt = CoroRuntime { np, stopped: false };
        for w in 0..self.workers {
            if let Err(e) = worker::start_worker_thread(&rt.np, w) {
                rt.shutdown();
                return Err(e);
            }
        }
        Ok(rt)
    }

    /// The platform and its netpoll, with no worker thread started: nothing polls and no
    /// coroutine task runs. For tests that drive `NetPoll::poll` themselves from threads
    /// (foreign callers park their threads).
    pub fn build_manual(self) -> io::Result<Arc<CoroNetPoll>> {
        self.build_netpoll()
    }

    fn build_netpoll(self) -> io::Result<Arc<CoroNetPoll>> {
        let backend = Arc::new(PollerBackend::new()?);
        let shared = Arc::new(sched::Shared::new(
            sched::Config {
                workers: self.workers,
                stacks: self.stacks,
                stack_size: self.stack_size,
                spin_rounds: self.spin_rounds,
                trim_after: self.trim_after,
            },
            backend.clone(),
        ));
        let platform = CoroPlatform {
            backend,
            clock: CoroClock {
                shared: shared.clone(),
            },
            sched: CoroSched {
                shared: shared.clone(),
            },
        };
        let np = Arc::new(NetPoll::new(platform, self.protocol));
        // The slot is fresh: this is its only initialisation.
        let _ = shared.np.set(Arc::downgrade(&np));
        Ok(np)
    }
}

/// A coroutine scheduler with its workers, and the netpoll instance they poll.
///
/// Dropping it (or [`CoroRuntime::shutdown`]) stops and joins the workers; tasks that have
/// not finished are abandoned (see the module documentation).
pub struct CoroRuntime {
    np: Arc<CoroNetPoll>,
    stopped: bool,
}

impl CoroRuntime {
    /// A runtime with the default settings ([`Builder::new`]).
    pub fn new() -> io::Result<CoroRuntime> {
        Builder::new().build()
    }

    /// Settings for a runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// The netpoll instance (clone the `Arc` to give it to tasks).
    pub fn netpoll(&self) -> &Arc<CoroNetPoll> {
        &self.np
    }

    /// Wrap a non-blocking `fd` in an [`Fd`] (registers it with the poller). On error the fd
    /// is left open. A descriptor epoll cannot watch (a regular file) is refused with an error
    /// that says so: read such a file inside [`CoroSched::blocking`].
    pub fn fd(&self, fd: RawFd) -> Result<CoroFd, netpoll::fd::Error> {
        Fd::new(self.np.clone(), fd).map_err(|e| match e {
            netpoll::fd::Error::Io(io) if io.raw_os_error() == Some(libc::EPERM) => {
                netpoll::fd::Error::Io(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "fd {fd} cannot be watched by epoll (a regular file?): \
                         do its blocking I/O inside CoroSched::blocking"
                    ),
                ))
            }
            other => other,
        })
    }

    /// The scheduler.
    pub fn sched(&self) -> &CoroSched {
        self.np.platform().sched()
    }

    /// Spawn a task.
    pub fn spawn<T, F>(&self, f: F) -> CoroTask<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.sched().spawn_task(f)
    }

    /// Run `f` as a task and wait for it from this thread; a panic in it propagates.
    pub fn block_on<T, F>(&self, f: F) -> T
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        match self.spawn(f).join() {
            Ok(v) => v,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }

    /// Stop the workers and wait for them. Idempotent. Must not be called from one of this
    /// runtime's tasks (a worker cannot join itself).
    pub fn shutdown(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let shared = &self.sched().shared;
        shared.shutdown.store(true, Ordering::SeqCst);
        loop {
            shared.wake_all();
            let handles =
                std::mem::take(&mut *shared.threads.lock().unwrap_or_else(|e| e.into_inner()));
            if handles.is_empty() {
                break;
            }
            for h in handles {
                let _ = h.join();
            }
        }
        shared.abandon_tasks();
    }
}

impl Drop for CoroRuntime {
    fn drop(&mut self) {
        self.shutdown();
    }
}
