//! Helpers for tests on the real platform (`tests/real_*.rs` and this crate's unit tests):
//! time bounds that turn a hang into a failure, polling for a condition, and a [`NetPoll`]
//! without a poller thread for tests that drive `poll` themselves.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use netpoll::NetPoll;

use crate::RealRuntime;

/// How often [`wait_until`] re-checks its condition.
const POLL_INTERVAL: Duration = Duration::from_micros(200);

/// Run `f` on its own thread and return its result; panic if it takes longer than `limit`
/// (the stuck thread is abandoned; the test process ends it on exit). A panic in `f`
/// propagates.
pub fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let h = thread::Builder::new()
        .name("bounded".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn");
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = h.join();
            v
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match h.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!("the closure returned without sending"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("test did not finish within {limit:?} (hang?)")
        }
    }
}

/// Poll `cond` until it holds; panic naming `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// A netpoll on runtime `R`'s platform with nothing polling it: the test calls `poll` itself
/// and uses OS threads as tasks (see [`RealRuntime::manual`]).
pub fn manual<R: RealRuntime>() -> Arc<NetPoll<R::Platform>> {
    R::manual().expect("create the OS poller")
}

/// A tiny xorshift generator, so tests need no RNG crate.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from a non-zero-ized seed.
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Instantiate generic test functions `fn name<R: RealRuntime>()` once per runtime: a module
/// `threads` ([`crate::Runtime`]) and a module `coroutines` ([`crate::CoroRuntime`]), each
/// with one `#[test]` per name. Every real test runs on both schedulers this way.
///
/// ```ignore
/// fn reader_wakes<R: RealRuntime>() { /* ... */ }
/// netpoll_real::on_both_runtimes!(reader_wakes);
/// ```
#[macro_export]
macro_rules! on_both_runtimes {
    ($($name:ident),* $(,)?) => {
        mod threads {
            $(
                #[test]
                fn $name() {
                    super::$name::<$crate::Runtime>();
                }
            )*
        }
        mod coroutines {
            $(
                #[test]
                fn $name() {
                    super::$name::<$crate::CoroRuntime>();
                }
            )*
        }
    };
}
