//! Simulated `std::sync::{Once, OnceLock, LazyLock}`: one-time initialisation, usable in a
//! `static` - each execution starts with them uninitialised.
//!
//! A `static` outlives every execution, so these objects hold no simulated state themselves:
//! each holds a [`Key`](crate::engine::rt::Key), and its state - a state word in a simulated
//! atomic, and the value - lives in the running execution, made on first use and dropped when
//! the execution ends (or when the object is dropped, if it is not a `static`). The state
//! word moves as `std`'s does on Linux: `INCOMPLETE -> RUNNING` by the task that initialises
//! (an acquire compare-exchange), `-> COMPLETE` with a release store once it is done, and an
//! acquire load by everyone else; tasks that find it `RUNNING` sleep on it (a futex wait)
//! until it completes. So a task that sees a value sees everything its initialiser did.
//!
//! A reference handed out (`OnceLock::get`, a `LazyLock`'s deref) is valid until the execution
//! ends: keeping one past it (in a `std` static) dangles, as with loom's `lazy_static`.

use super::atomic::{AtomicU8, Ordering};
use crate::engine::event::LocName;
use crate::engine::rt::{self, Key};
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

const INCOMPLETE: u8 = 0;
const RUNNING: u8 = 1;
const COMPLETE: u8 = 2;

/// The state word of one once-object in one execution.
struct Gate {
    word: AtomicU8,
}

impl Gate {
    fn new(object: &'static str) -> Gate {
        Gate {
            word: AtomicU8::named(
                INCOMPLETE,
                LocName::indexed(object, rt::location_count(), ""),
            ),
        }
    }

    fn is_completed(&self) -> bool {
        self.word.load(Ordering::Acquire) == COMPLETE
    }

    /// Run `f` if nobody has yet (and wait for whoever is running it).
    #[track_caller]
    fn call(&self, f: impl FnOnce()) {
        loop {
            match self.word.load(Ordering::Acquire) {
                COMPLETE => return,
                INCOMPLETE => {
                    if self
                        .word
                        .compare_exchange(INCOMPLETE, RUNNING, Ordering::Acquire, Ordering::Acquire)
                        .is_ok()
                    {
                        f();
                        self.word.store(COMPLETE, Ordering::Release);
                        rt::futex_wake(self.word.location(), u32::MAX);
                        return;
                    }
                }
                _ => {
                    rt::futex_wait(self.word.location(), RUNNING as u64, None);
                }
            }
        }
    }
}

/// Drop the running execution's state of the object keyed by `key`, if it has any (the
/// object is being dropped).
fn forget(key: &Key) {
    if let Some(k) = key.peek() {
        if rt::in_task() {
            drop(rt::remove_global(k));
        }
    }
}

/// A simulated `std::sync::Once`: `static INIT: Once = Once::new();` works, and every
/// execution starts with it not yet run.
pub struct Once {
    key: Key,
}

/// The state [`Once::call_once_force`] passes to its closure.
#[derive(Debug)]
pub struct OnceState {
    _private: (),
}

impl OnceState {
    /// Never: a panicking initialiser fails the whole schedule instead of poisoning.
    pub fn is_poisoned(&self) -> bool {
        false
    }
}

impl Once {
    /// A new `Once` (a `const fn`, for statics).
    pub const fn new() -> Once {
        Once { key: Key::new() }
    }

    fn state(&self) -> &Gate {
        let p = rt::global(self.key.get(), || Gate::new("once"));
        // SAFETY: the execution keeps the state boxed until it ends or this `Once` is dropped
        // (which needs `&mut self`, so no borrow of it is live).
        unsafe { &*p }
    }

    /// Run `f` if no task has run it in this execution; otherwise wait until that task has.
    #[track_caller]
    pub fn call_once(&self, f: impl FnOnce()) {
        self.state().call(f)
    }

    /// [`Once::call_once`] (nothing is ever poisoned here).
    #[track_caller]
    pub fn call_once_force(&self, f: impl FnOnce(&OnceState)) {
        self.state().call(|| f(&OnceState { _private: () }))
    }

    /// Whether the initialisation has completed (an acquire load).
    pub fn is_completed(&self) -> bool {
        self.state().is_completed()
    }
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl Drop for Once {
    fn drop(&mut self) {
        forget(&self.key);
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}

/// A once-object's state and value in one execution.
struct Cell<T> {
    state: Gate,
    value: UnsafeCell<Option<T>>,
}

/// A simulated `std::sync::OnceLock`: `static CELL: OnceLock<T> = OnceLock::new();` works,
/// and every execution starts with it empty.
pub struct OnceLock<T> {
    key: Key,
    _t: PhantomData<T>,
}

// SAFETY: as `std`'s: the value is written once, by the one task that wins the state word,
// and read only after the word says it is complete.
unsafe impl<T: Sync + Send> Sync for OnceLock<T> {}
// SAFETY: the value moves with the execution's state, as `std`'s moves with the lock.
unsafe impl<T: Send> Send for OnceLock<T> {}

impl<T: 'static> OnceLock<T> {
    /// A new, empty cell (a `const fn`, for statics).
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            key: Key::new(),
            _t: PhantomData,
        }
    }

    fn cell(&self) -> &Cell<T> {
        let p = rt::global(self.key.get(), || Cell::<T> {
            state: Gate::new("oncelock"),
            value: UnsafeCell::new(None),
        });
        // SAFETY: as in `Once::state`.
        unsafe { &*p }
    }

    fn value(c: &Cell<T>) -> Option<&T> {
        // SAFETY: called once the state word is complete: the value was written before the
        // release store that completed it, and is never written again.
        unsafe { (*c.value.get()).as_ref() }
    }

    /// The value, if some task has set it (an acquire load of the state word).
    pub fn get(&self) -> Option<&T> {
        let c = self.cell();
        if c.state.is_completed() {
            Self::value(c)
        } else {
            None
        }
    }

    /// The value, made with `f` if no task has set it yet (waiting if another task is making
    /// it).
    #[track_caller]
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        let c = self.cell();
        c.state.call(|| {
            let v = f();
            // SAFETY: only the task that moved the word to RUNNING gets here, once; nobody
            // reads the value before the word is complete.
            unsafe { *c.value.get() = Some(v) };
        });
        Self::value(c).expect("netpoll-sim: a complete OnceLock holds a value")
    }

    /// Set the value if no task has; otherwise give `v` back.
    #[track_caller]
    pub fn set(&self, v: T) -> Result<(), T> {
        let mut v = Some(v);
        self.get_or_init(|| v.take().expect("the value is set once"));
        match v {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, through an exclusive borrow.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        let c = self.cell();
        // SAFETY: `&mut self` excludes every other borrow of the value.
        let v = unsafe { &mut *c.value.get() };
        v.as_mut()
    }

    /// Empty the cell, returning its value.
    pub fn take(&mut self) -> Option<T> {
        let k = self.key.peek()?;
        let b = rt::remove_global(k)?;
        let c = b.downcast::<Cell<T>>().ok()?;
        c.value.into_inner()
    }

    /// Consume the cell, returning its value.
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }
}

impl<T: 'static> Default for OnceLock<T> {
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        forget(&self.key);
    }
}

impl<T> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceLock").finish_non_exhaustive()
    }
}

/// A simulated `std::sync::LazyLock`: `static X: LazyLock<T> = LazyLock::new(|| ...);` works,
/// and every execution makes its own value, on first use, with `init` (which therefore must be
/// callable more than once: a `fn`, or a closure that captures nothing it moves out).
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    init: F,
}

impl<T: 'static, F: Fn() -> T> LazyLock<T, F> {
    /// A lazily made value (a `const fn`, for statics).
    pub const fn new(init: F) -> LazyLock<T, F> {
        LazyLock {
            cell: OnceLock::new(),
            init,
        }
    }

    /// The value, made now if this execution has not made it yet.
    #[track_caller]
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| (this.init)())
    }
}

impl<T: 'static, F: Fn() -> T> Deref for LazyLock<T, F> {
    type Target = T;
    #[track_caller]
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyLock").finish_non_exhaustive()
    }
}

/// Statics made afresh in every execution, `lazy_static`-style (as loom's `lazy_static!`):
///
/// ```no_run
/// netpoll_sim::lazy_static! {
///     static ref COUNTER: netpoll_sim::sync::Mutex<u32> = netpoll_sim::sync::Mutex::new(0);
/// }
/// ```
///
/// Each becomes a [`LazyLock`] static.
#[macro_export]
macro_rules! lazy_static {
    () => {};
    ($(#[$attr:meta])* $vis:vis static ref $name:ident : $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::sync::LazyLock<$t> = $crate::sync::LazyLock::new(|| $init);
        $crate::lazy_static!($($rest)*);
    };
}
