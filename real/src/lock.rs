//! [`FutexLock`]: Go's runtime `mutex` for the real platform. A three-state word (unlocked,
//! locked, locked with sleepers) that spins briefly, then sleeps on a futex (Linux) or a
//! condition variable (elsewhere). Unlike `std::sync::Mutex`, it is locked and unlocked by
//! plain calls, without a guard, as the core's `RawLock` needs.

use std::sync::atomic::{AtomicU32, Ordering};

use netpoll::platform::{LocName, RawLock};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
/// Locked, and someone may be sleeping: `unlock` must wake one.
const CONTENDED: u32 = 2;

/// Attempts to take the lock by spinning before going to sleep.
const SPINS: u32 = 100;

/// A lock word; see the module documentation.
#[derive(Debug, Default)]
pub struct FutexLock {
    state: AtomicU32,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    sleepers: fallback::Sleepers,
}

impl FutexLock {
    #[inline]
    fn try_lock(&self) -> bool {
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[cold]
    fn lock_contended(&self) {
        for _ in 0..SPINS {
            if self.state.load(Ordering::Relaxed) == UNLOCKED && self.try_lock() {
                return;
            }
            std::hint::spin_loop();
        }
        // From here on the word says CONTENDED whenever we hold it or wait for it.
        while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            self.sleep();
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[inline]
    fn sleep(&self) {
        crate::sys::futex::wait(&self.state, CONTENDED);
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[cold]
    fn wake(&self) {
        crate::sys::futex::wake_one(&self.state);
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn sleep(&self) {
        self.sleepers
            .sleep_while(|| self.state.load(Ordering::Relaxed) == CONTENDED);
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    #[cold]
    fn wake(&self) {
        self.sleepers.wake_one();
    }
}

impl RawLock for FutexLock {
    #[inline]
    fn new(_name: LocName) -> Self {
        FutexLock::default()
    }

    #[inline]
    fn lock(&self) {
        if !self.try_lock() {
            self.lock_contended();
        }
    }

    #[inline]
    fn unlock(&self) {
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            self.wake();
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod fallback {
    use std::sync::{Condvar, Mutex};

    /// A condition variable to sleep on while the lock word is contended.
    #[derive(Debug, Default)]
    pub struct Sleepers {
        m: Mutex<()>,
        c: Condvar,
    }

    impl Sleepers {
        pub fn sleep_while(&self, cond: impl Fn() -> bool) {
            let g = self.m.lock().unwrap_or_else(|e| e.into_inner());
            if cond() {
                drop(self.c.wait(g).unwrap_or_else(|e| e.into_inner()));
            }
        }

        pub fn wake_one(&self) {
            // Taking the mutex orders this wake after a sleeper's check-then-wait.
            drop(self.m.lock().unwrap_or_else(|e| e.into_inner()));
            self.c.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::UnsafeCell;
    use std::sync::Arc;

    struct Counter {
        lock: FutexLock,
        n: UnsafeCell<u64>,
    }
    // SAFETY: `n` is only accessed while `lock` is held.
    unsafe impl Sync for Counter {}

    #[test]
    fn mutual_exclusion() {
        const THREADS: u64 = 4;
        const ITERS: u64 = 50_000;
        let c = Arc::new(Counter {
            lock: FutexLock::new(LocName::single("t", "l")),
            n: UnsafeCell::new(0),
        });
        let hs: Vec<_> = (0..THREADS)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..ITERS {
                        c.lock.lock();
                        // SAFETY: we hold the lock.
                        unsafe { *c.n.get() += 1 };
                        c.lock.unlock();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        // SAFETY: all other threads have been joined.
        assert_eq!(unsafe { *c.n.get() }, THREADS * ITERS);
    }

    #[test]
    fn sleeps_while_held() {
        let l = Arc::new(FutexLock::new(LocName::single("t", "l")));
        l.lock();
        let l2 = l.clone();
        let h = std::thread::spawn(move || {
            l2.lock();
            l2.unlock();
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        l.unlock();
        h.join().unwrap();
        assert_eq!(l.state.load(Ordering::Relaxed), UNLOCKED);
    }
}
