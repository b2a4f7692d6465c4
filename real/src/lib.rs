//! netpoll-real: the netpoll core on real epoll (Linux) or kqueue (macOS/BSD), with two
//! schedulers chosen by type, both implementing [`RealRuntime`]:
//!
//! * [`Runtime`] on [`RealPlatform`]: tasks are OS threads that park on a per-thread permit
//!   ([`sched::ThreadSched`]); one poller thread blocks in the OS poller, wakes parked tasks
//!   and fires deadline timers from one heap ([`clock::RealClock`]).
//! * [`CoroRuntime`] on [`CoroPlatform`]: tasks are coroutines run by N worker threads with
//!   the poller in their loop, per-worker run queues and timers ([`coro`]).
//!
//! Std atomics (plain fields are `Relaxed` atomics), a futex lock, statically dispatched:
//! nothing on the read/write/park/ready path allocates. [`echo`] and [`net`] are a TCP echo
//! server and the socket calls it needs; [`mod@bench`] is the benchmark.
//!
//! ```no_run
//! use netpoll_real::{sys, CoroRuntime};
//! let rt = CoroRuntime::new().unwrap();
//! let (r, w) = sys::pipe().unwrap();
//! let reader = rt.fd(r).unwrap();
//! let timed_out = rt.block_on(move || {
//!     reader.set_read_timeout_ns(50_000_000).unwrap();
//!     reader.read(&mut [0u8; 1]).unwrap_err().is_timeout()
//! });
//! assert!(timed_out);
//! # let _ = w;
//! ```

#![warn(missing_docs)]

#[macro_use]
pub mod sys;

pub mod bench;
pub mod clock;
pub mod coro;
pub mod echo;
mod inject;
pub mod kqueue_translate;
pub mod lock;
pub mod net;
pub mod runtime;
pub mod sched;
mod shared;
pub mod testing;

// The one place where the OS backend is chosen.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub mod epoll;
#[cfg(any(target_os = "linux", target_os = "android"))]
/// The OS poller of this target.
pub type PollerBackend = epoll::Epoll;

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
pub mod kqueue;
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
/// The OS poller of this target.
pub type PollerBackend = kqueue::Kqueue;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use netpoll::fd::{self, Fd};
use netpoll::platform::{Clock, Platform, RawFd, TimerFiring, Word};
use netpoll::{NetPoll, Protocol};

pub use clock::RealClock;
pub use coro::{CoroFd, CoroPlatform, CoroRuntime, CoroSched};
pub use lock::FutexLock;
pub use runtime::RealRuntime;
pub use sched::ThreadSched;
pub use shared::{RelaxedCell, StdAtomicU32, StdAtomicUsize};

/// The core's platform on this machine. See the crate documentation.
#[derive(Debug)]
pub struct RealPlatform {
    backend: Arc<PollerBackend>,
    clock: RealClock,
    sched: ThreadSched,
}

impl RealPlatform {
    /// Go: `netpollinit`: a new OS poller, a clock that can wake it, and the thread scheduler.
    pub fn new() -> io::Result<RealPlatform> {
        let backend = Arc::new(PollerBackend::new()?);
        Ok(RealPlatform {
            clock: RealClock::new(Some(backend.clone())),
            backend,
            sched: ThreadSched::new(),
        })
    }
}

// The FD layer's observation points (for the simulator's checkers) cost nothing here: the
// platform keeps the default, so not even an observation is built.
const _: () = assert!(!<RealPlatform as Platform>::OBSERVES);

impl Platform for RealPlatform {
    type AtomicU32 = StdAtomicU32;
    type AtomicUsize = StdAtomicUsize;
    type Plain<T: Word> = RelaxedCell<T>;
    type Lock = FutexLock;
    type Clock = RealClock;
    type Backend = PollerBackend;
    type Sched = ThreadSched;

    #[inline]
    fn clock(&self) -> &RealClock {
        &self.clock
    }

    #[inline]
    fn backend(&self) -> &PollerBackend {
        &self.backend
    }

    #[inline]
    fn sched(&self) -> &ThreadSched {
        &self.sched
    }
}

/// The netpoll type on this platform.
pub type RealNetPoll = NetPoll<RealPlatform>;
/// The FD type on this platform.
pub type RealFd = Fd<RealPlatform>;

/// A netpoll instance plus the thread that polls the OS and fires deadline timers.
///
/// Dropping it (or [`Runtime::shutdown`]) stops and joins the poller thread. FDs still open
/// keep the [`NetPoll`] alive, but nothing wakes their waiters any more: close them first.
pub struct Runtime {
    np: Arc<RealNetPoll>,
    stop: Arc<AtomicBool>,
    /// Iterations of the poller loop so far (diagnostics: an idle poller must not spin).
    loops: Arc<AtomicU64>,
    poller: Option<thread::JoinHandle<()>>,
}

impl Runtime {
    /// A runtime running the fixed protocol.
    pub fn new() -> io::Result<Runtime> {
        Runtime::with_protocol(Protocol::Fixed)
    }

    /// A runtime running `protocol`.
    pub fn with_protocol(protocol: Protocol) -> io::Result<Runtime> {
        let np = Arc::new(NetPoll::new(RealPlatform::new()?, protocol));
        let stop = Arc::new(AtomicBool::new(false));
        let loops = Arc::new(AtomicU64::new(0));
        let poller = {
            let np = np.clone();
            let stop = stop.clone();
            let loops = loops.clone();
            thread::Builder::new()
                .name("netpoll-poller".into())
                .spawn(move || poller_loop(&np, &stop, &loops))?
        };
        Ok(Runtime {
            np,
            stop,
            loops,
            poller: Some(poller),
        })
    }

    /// The netpoll instance (clone the `Arc` to share it with tasks).
    pub fn netpoll(&self) -> &Arc<RealNetPoll> {
        &self.np
    }

    /// The platform.
    pub fn platform(&self) -> &RealPlatform {
        self.np.platform()
    }

    /// The platform clock's current time: the scale of every deadline.
    pub fn now_ns(&self) -> i64 {
        self.np.platform().clock().now_ns()
    }

    /// Wrap a non-blocking `fd` in an [`Fd`] (registers it with the poller). On error the fd
    /// is left open.
    pub fn fd(&self, fd: RawFd) -> Result<RealFd, fd::Error> {
        Fd::new(self.np.clone(), fd)
    }

    /// How many times the poller thread has gone round its loop (one OS poll each).
    pub fn poll_loops(&self) -> u64 {
        self.loops.load(Ordering::Relaxed)
    }

    /// Stop the poller thread and wait for it. Idempotent.
    pub fn shutdown(&mut self) {
        if let Some(poller) = self.poller.take() {
            self.stop.store(true, Ordering::SeqCst);
            self.np.break_poll();
            if let Err(payload) = poller.join() {
                std::panic::resume_unwind(payload);
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if thread::panicking() {
            // Do not turn one panic into an abort with a second one from the poller.
            if let Some(poller) = self.poller.take() {
                self.stop.store(true, Ordering::SeqCst);
                self.np.break_poll();
                let _ = poller.join();
            }
        } else {
            self.shutdown();
        }
    }
}

/// The poller thread (Go: the `netpoll` calls of `findrunnable` plus `checkTimers`): block in
/// the OS poller until the next timer is due, ready the tasks it reports, fire due timers.
fn poller_loop(np: &RealNetPoll, stop: &AtomicBool, loops: &AtomicU64) {
    let clock = np.platform().clock();
    let mut due: Vec<TimerFiring> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        loops.fetch_add(1, Ordering::Relaxed);
        let delay_ns = clock.sleep_delay_ns();
        // `shutdown` sets `stop` before its wake, and a wake is remembered until a blocking
        // poll consumes it, so this cannot sleep through a shutdown.
        let res = np.poll(delay_ns);
        clock.woke();
        if let Err(e) = res {
            // Go throws here: with the poller gone every parked task would hang unseen, so end
            // the process with the reason instead of unwinding one thread.
            fatal(&format!("netpoll: the OS poller failed: {e}"));
        }
        clock.take_due(clock.now_ns(), &mut due);
        for firing in due.drain(..) {
            np.run_timer(firing);
        }
    }
}

/// Go's `throw` for an unrecoverable poller failure: print the reason and abort the process
/// (a panic would only end the poller thread, leaving every parked task hanging).
pub(crate) fn fatal(message: &str) -> ! {
    eprintln!("{message}");
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn shutdown_and_drop_join_the_poller() {
        let start = Instant::now();
        let mut rt = Runtime::new().unwrap();
        rt.shutdown();
        rt.shutdown();
        drop(rt);
        drop(Runtime::new().unwrap());
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn idle_poller_blocks() {
        let rt = Runtime::new().unwrap();
        thread::sleep(Duration::from_millis(200));
        // One loop to start blocking; a few more at most for stray wake-ups.
        assert!(rt.poll_loops() <= 3, "{} loops while idle", rt.poll_loops());
    }

    #[test]
    fn a_pending_timer_does_not_make_the_poller_spin() {
        let rt = Runtime::new().unwrap();
        let (r, w) = sys::pipe().unwrap();
        let fd = rt.fd(r).unwrap();
        fd.set_read_deadline(Some(rt.now_ns() + 10_000_000_000))
            .unwrap();
        thread::sleep(Duration::from_millis(200));
        assert!(rt.poll_loops() <= 4, "{} loops", rt.poll_loops());
        fd.set_read_deadline(Some(rt.now_ns() + 20_000_000))
            .unwrap();
        let start = Instant::now();
        assert!(fd.read(&mut [0u8; 1]).unwrap_err().is_timeout());
        assert!(start.elapsed() >= Duration::from_millis(19));
        fd.close().unwrap();
        sys::close(w).unwrap();
    }
}
