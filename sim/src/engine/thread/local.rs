//! Thread-locals of simulated tasks: `netpoll_sim::thread_local!` declares a [`LocalKey`]
//! whose value each task makes on its first use and drops when it finishes (inside the task,
//! newest first, as `std` does when a thread exits). `std`'s own `thread_local!` would give
//! every task the same value: all tasks run on one OS thread.

use crate::engine::rt::{self, Key};
use std::cell::{Cell, RefCell};
use std::fmt;

/// A thread-local of simulated tasks, declared with [`thread_local!`](crate::thread_local).
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
    key: Key,
}

/// Why a thread-local cannot be reached: its task's thread-locals are being destroyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("already destroyed")
    }
}

impl std::error::Error for AccessError {}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey {
            init,
            key: Key::new(),
        }
    }

    /// Run `f` with the running task's value (made now if this is its first use). Panics once
    /// the task's thread-locals are being destroyed.
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        self.try_with(f)
            .expect("cannot access a thread-local value during or after destruction")
    }

    /// [`LocalKey::with`], or an error once the task's thread-locals are being destroyed.
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, AccessError> {
        let p = rt::local(self.key.get(), self.init).ok_or(AccessError)?;
        // SAFETY: the task's value stays boxed until the task ends; `f` runs now, inside it.
        Ok(f(unsafe { &*p }))
    }
}

impl<T: 'static> LocalKey<Cell<T>> {
    /// Set the running task's value.
    pub fn set(&'static self, v: T) {
        self.with(|c| c.set(v))
    }
    /// The running task's value.
    pub fn get(&'static self) -> T
    where
        T: Copy,
    {
        self.with(Cell::get)
    }
    /// Take the running task's value, leaving the default.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(Cell::take)
    }
    /// Replace the running task's value, returning the old one.
    pub fn replace(&'static self, v: T) -> T {
        self.with(|c| c.replace(v))
    }
}

impl<T: 'static> LocalKey<RefCell<T>> {
    /// Run `f` with a shared borrow of the running task's value.
    pub fn with_borrow<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        self.with(|c| f(&c.borrow()))
    }
    /// Run `f` with an exclusive borrow of the running task's value.
    pub fn with_borrow_mut<R>(&'static self, f: impl FnOnce(&mut T) -> R) -> R {
        self.with(|c| f(&mut c.borrow_mut()))
    }
    /// Set the running task's value.
    pub fn set(&'static self, v: T) {
        self.with(|c| *c.borrow_mut() = v)
    }
    /// Take the running task's value, leaving the default.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(RefCell::take)
    }
    /// Replace the running task's value, returning the old one.
    pub fn replace(&'static self, v: T) -> T {
        self.with(|c| c.replace(v))
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// Declare thread-locals of simulated tasks, as `std::thread_local!` does for threads: each
/// task gets its own value, made on its first use and dropped when it finishes.
///
/// ```no_run
/// use std::cell::Cell;
/// netpoll_sim::thread_local! {
///     static DEPTH: Cell<u32> = Cell::new(0);
/// }
/// ```
#[macro_export]
macro_rules! thread_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty = const { $init:expr } $(; $($rest:tt)*)?) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init $(; $($rest)*)?);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty = $init:expr $(; $($rest:tt)*)?) => {
        $(#[$attr])*
        $vis static $name: $crate::thread::LocalKey<$t> = $crate::thread::LocalKey::new({
            fn init() -> $t {
                $init
            }
            init
        });
        $crate::thread_local!($($($rest)*)?);
    };
}
