//! Simulated synchronisation primitives, shaped like `std::sync`. Every operation is a
//! scheduling point and is recorded in the event log. Create them inside the check closure.

pub mod atomic;
mod mutex;
mod plain;
mod word;

pub use mutex::{Mutex, MutexGuard, RawMutex};
pub use plain::Plain;
pub use word::Word;
