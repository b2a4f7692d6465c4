//! Trimming the stacks of idle tasks (Go shrinks the stacks of goroutines at GC time).
//!
//! A task parked for a while (across a whole trim interval) keeps a page or more of its stack
//! resident although it may stay idle for minutes: with 100,000 idle connections that page is
//! most of the memory. An idle worker, at most once per interval, takes such tasks one by one
//! (PARKED → TRIMMING, see [`super::task`]), copies the live part of the stack to the heap
//! (from the frame that switched the task out, less [`switch_margin`], up to the stack's base:
//! usually 1-3 KiB), and gives every page of the stack back to the kernel
//! (`MADV_DONTNEED`). The first worker to run the task again copies the bytes back (the pages
//! come back zero-filled on first touch) before resuming it, at the same addresses, so every
//! pointer into the stack stays valid.
//!
//! Only guarded stacks are trimmed (a packed stack's canary page would come straight back).

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, OnceLock};

use corosensei::stack::{DefaultStack, Stack};
use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::sched::{fatal, Shared};
use super::task::{Suspend, Task, PARKED, RUNNABLE, TRIMMING};
use super::timers::NO_TIMER;

/// How many bytes below the switching frame's marker (the local of `suspend` whose address
/// each switch records) may still be live: the rest of that frame, the yielder's frame and the
/// words the context switch pushes. Measured once per process ([`calibrate`]), doubled for
/// safety: a build's frame sizes depend on its optimisation level (about 40 bytes optimised,
/// 300 unoptimised on x86-64). `None` if it could not be measured: then nothing is trimmed.
pub fn switch_margin() -> Option<usize> {
    static MARGIN: OnceLock<Option<usize>> = OnceLock::new();
    *MARGIN.get_or_init(calibrate)
}

/// A stand-in for `suspend` with the same shape: its marker, then the same yielder call.
#[inline(never)]
fn calibration_switch(y: &Yielder<(), Suspend>, marker: &Cell<usize>) {
    let here = 0u8;
    marker.set(std::hint::black_box(&here) as *const u8 as usize);
    y.suspend(Suspend::Park);
}

/// Switch out of a coroutine on a fresh (all-zero) stack and find the lowest word the switch
/// wrote (the return address it pushes last is never zero): the distance from the marker to
/// it is what a switch keeps live below the marker.
fn calibrate() -> Option<usize> {
    const CALIBRATION_STACK: usize = 64 * 1024;
    let stack = DefaultStack::new(CALIBRATION_STACK).ok()?;
    // The limit includes the guard page; the usable stack is the top CALIBRATION_STACK bytes.
    let limit = stack.base().get() - CALIBRATION_STACK;
    let marker = std::rc::Rc::new(Cell::new(0usize));
    let m = marker.clone();
    let mut coro: Coroutine<(), Suspend, (), DefaultStack> =
        Coroutine::with_stack(stack, move |y: &Yielder<(), Suspend>, ()| {
            calibration_switch(y, &m);
        });
    let suspended = matches!(coro.resume(()), CoroutineResult::Yield(Suspend::Park));
    let here = marker.get();
    let mut lowest = None;
    if suspended && here > limit {
        let mut a = limit;
        while a < here {
            // SAFETY: [limit, here) is inside the coroutine's stack, mapped read-write and
            // suspended; reading it races with nothing.
            if unsafe { std::ptr::read_volatile(a as *const u64) } != 0 {
                lowest = Some(a);
                break;
            }
            a += 8;
        }
    }
    // Finish the coroutine so its stack is released normally.
    let _ = coro.resume(());
    let used = here.checked_sub(lowest?)?;
    Some((2 * used).max(MIN_MARGIN).next_multiple_of(64))
}

/// The smallest margin used, whatever the calibration says.
const MIN_MARGIN: usize = 128;

/// The trimmer's bookkeeping (one pass at a time).
#[derive(Debug, Default)]
pub struct TrimState {
    /// When the last pass ran (monotonic ns; 0: never).
    last_ns: i64,
    /// Task switches counted when it ran: if none happened since, no task parked since.
    switches_seen: u64,
    /// Parked tasks it found too recently parked to trim (candidates for the next pass).
    young: usize,
}

/// Trimming settings and state of one scheduler.
#[derive(Debug)]
pub struct Trimmer {
    /// Interval in ns (0: trimming off).
    interval_ns: i64,
    /// Bumped by each pass; a task records it when it parks.
    pub epoch: std::sync::atomic::AtomicU32,
    state: Mutex<TrimState>,
}

impl Trimmer {
    /// A trimmer with passes `interval_ns` apart (0: off; also off when the switch margin
    /// could not be measured).
    pub fn new(interval_ns: i64) -> Trimmer {
        let interval_ns = if switch_margin().is_some() {
            interval_ns
        } else {
            0
        };
        Trimmer {
            interval_ns,
            epoch: std::sync::atomic::AtomicU32::new(0),
            state: Mutex::new(TrimState::default()),
        }
    }

    /// When an idle worker should run the next pass ([`NO_TIMER`]: nothing to trim).
    pub fn due_ns(&self, total_switches: u64) -> i64 {
        if self.interval_ns == 0 {
            return NO_TIMER;
        }
        let Ok(st) = self.state.try_lock() else {
            return NO_TIMER; // a pass is running
        };
        if st.young > 0 || total_switches != st.switches_seen {
            st.last_ns.saturating_add(self.interval_ns)
        } else {
            NO_TIMER
        }
    }

    /// Run a pass if one is due at `now_ns` (called by idle workers).
    pub fn maybe_pass(&self, shared: &Shared, now_ns: i64, total_switches: u64) {
        if self.due_ns(total_switches) > now_ns {
            return;
        }
        let Ok(mut st) = self.state.try_lock() else {
            return;
        };
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        let mut young = 0;
        for id in 1..shared.tasks.high_water() {
            let Some(t) = shared.tasks.get(id) else {
                continue;
            };
            if t.state.load(Ordering::Relaxed) != PARKED
                || t.is_trimmed.load(Ordering::Relaxed)
                || t.canary_at.load(Ordering::Relaxed) != 0
            {
                continue;
            }
            // Parked before the previous pass: idle for a whole interval at least.
            if t.parked_epoch.load(Ordering::Relaxed).wrapping_add(2) > epoch {
                young += 1;
                continue;
            }
            self.trim(shared, id, t);
        }
        st.last_ns = now_ns;
        st.switches_seen = total_switches;
        st.young = young;
    }

    fn trim(&self, shared: &Shared, id: u32, t: &Task) {
        if t.state
            .compare_exchange(PARKED, TRIMMING, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return;
        }
        let base = t.stack_base.load(Ordering::Relaxed);
        let limit = t.stack_limit.load(Ordering::Relaxed);
        let sp = t.sp_hint.load(Ordering::Relaxed);
        let margin = switch_margin().unwrap_or(usize::MAX);
        if sp > limit.saturating_add(margin) && sp < base {
            let lo = sp - margin;
            // SAFETY: [lo, base) lies inside this task's stack, which stays mapped while the
            // task lives; the task is suspended and we own it (TRIMMING), so nothing else
            // reads or writes its stack meanwhile.
            let bytes: Box<[u8]> =
                unsafe { std::slice::from_raw_parts(lo as *const u8, base - lo) }.into();
            *t.trimmed.lock().unwrap_or_else(|e| e.into_inner()) = Some((lo, bytes));
            // SAFETY: [limit, base) is the usable part of this task's own stack (page
            // aligned); everything live in it has just been copied, and below `lo` lies only
            // dead frames. The pages come back zero-filled when touched.
            let rc = unsafe {
                libc::madvise(
                    limit as *mut libc::c_void,
                    base - limit,
                    libc::MADV_DONTNEED,
                )
            };
            if rc == 0 {
                t.is_trimmed.store(true, Ordering::SeqCst);
                shared.stats.trims.fetch_add(1, Ordering::Relaxed);
            } else {
                // Nothing was released: keep the stack as it is.
                *t.trimmed.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
        }
        if t.state
            .compare_exchange(TRIMMING, PARKED, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            // Readied meanwhile (TRIM_NOTIFIED): it is ours to queue.
            t.state.store(RUNNABLE, Ordering::SeqCst);
            shared.push_ready(id);
        }
    }
}

/// Before a worker resumes a task: put a trimmed stack back. True if it was trimmed.
pub fn restore(t: &Task) -> bool {
    if !t.is_trimmed.load(Ordering::SeqCst) {
        return false;
    }
    let Some((lo, bytes)) = t.trimmed.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        fatal("netpoll: a trimmed stack has no saved bytes");
    };
    // SAFETY: [lo, lo + len) is the part of this task's stack that was saved by `trim`; the
    // stack is still mapped (its pages were only released), the task is suspended and owned
    // by this worker, and the source is our own heap copy.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), lo as *mut u8, bytes.len()) };
    t.is_trimmed.store(false, Ordering::SeqCst);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_margin_is_measured() {
        let m = switch_margin().expect("calibration");
        println!("switch margin: {m} bytes");
        assert!((MIN_MARGIN..=8192).contains(&m), "{m}");
    }
}
