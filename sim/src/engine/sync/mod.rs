//! Simulated synchronisation primitives, shaped like `std::sync` (with `std`'s signatures):
//! a crate switches between the two with one `cfg`,
//!
//! ```
//! #[cfg(not(test))]
//! use std::sync::{atomic::{AtomicUsize, Ordering}, Arc, Mutex};
//! #[cfg(test)]
//! use netpoll_sim::sync::{atomic::{AtomicUsize, Ordering}, Arc, Mutex};
//! ```
//!
//! and `thread` the same way ([`netpoll_sim::thread`](crate::thread)). Every operation is a
//! scheduling point recorded in the event log, and each primitive is built on the engine's
//! own: the mutex on its locks, the others on simulated atomics (so the memory model orders
//! what they publish) and futex waits on them, as `std`'s are on Linux - [`Condvar`],
//! [`RwLock`], [`Once`], [`OnceLock`], [`LazyLock`]; [`Barrier`] and [`mpsc`] on the mutex and
//! condition variable, as `std`'s were; [`Arc`] counts its owners in a simulated atomic.
//!
//! Create them inside the check: an object belongs to the execution that made it. A `static`
//! outlives every execution, so statics are [`LazyLock`]s (or [`lazy_static!`
//! ](crate::lazy_static)), [`OnceLock`]s or [`Once`]s, which start afresh in each execution.
//! A panic fails the schedule, so nothing is ever poisoned.

mod arc;
pub mod atomic;
mod barrier;
mod condvar;
pub mod mpsc;
mod mutex;
mod once;
mod plain;
mod rwlock;
mod word;

pub use arc::Arc;
pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard, RawMutex};
pub use once::{LazyLock, Once, OnceLock, OnceState};
pub use plain::Plain;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
pub use word::Word;
