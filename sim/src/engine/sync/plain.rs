//! A plain (non-atomic) cell: reads and writes behave like relaxed atomics, the data-race
//! detector checks every access, and a cell may name the lock that protects its writes.

use super::{RawMutex, Word};
use crate::engine::event::LocName;
use crate::engine::rt;
use std::marker::PhantomData;

/// A plain shared field (Go's lock-protected fields). Every access is a scheduling point.
///
/// A cell made with [`Plain::guarded`] names the lock that protects its writes: a write by a
/// task that does not hold it fails the run (`Failure::UnprotectedWrite`
/// (crate::Failure::UnprotectedWrite)), so a locking discipline written in comments is
/// checked on every explored schedule. Reads are not checked (racy reads are what the data-race
/// detector is for).
#[derive(Debug)]
pub struct Plain<T: Word> {
    loc: u32,
    guard: Option<u32>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Word> Plain<T> {
    /// A new cell holding `v`, named `name` in traces.
    pub fn named(v: T, name: LocName) -> Self {
        Plain {
            loc: rt::new_location(name, v.to_bits()),
            guard: None,
            _t: PhantomData,
        }
    }
    /// A new cell holding `v`, named `name`, whose writes `lock` protects.
    pub fn guarded(v: T, name: LocName, lock: &RawMutex) -> Self {
        Plain {
            loc: rt::new_location(name, v.to_bits()),
            guard: Some(lock.id()),
            _t: PhantomData,
        }
    }
    /// Read the cell.
    pub fn get(&self) -> T {
        T::from_bits(rt::plain_read(self.loc))
    }
    /// Write the cell.
    #[track_caller]
    pub fn set(&self, v: T) {
        rt::plain_write(self.loc, v.to_bits(), self.guard)
    }
    /// The newest value, outside the model (reports and debugging only).
    pub fn peek(&self) -> T {
        T::from_bits(rt::peek(self.loc))
    }
}
