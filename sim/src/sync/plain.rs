//! A plain (non-atomic) cell: reads and writes behave like relaxed atomics, and the data-race
//! detector checks every access.

use crate::rt;
use netpoll::{LocName, Word};
use std::marker::PhantomData;

/// A plain shared field (Go's lock-protected fields). Every access is a scheduling point.
#[derive(Debug)]
pub struct Plain<T: Word> {
    loc: u32,
    _t: PhantomData<fn() -> T>,
}

impl<T: Word> Plain<T> {
    /// A new cell holding `v`, named `name` in traces.
    pub fn named(v: T, name: LocName) -> Self {
        let loc = rt::with(|e| e.mem.new_location(name, v.to_bits()));
        Plain {
            loc,
            _t: PhantomData,
        }
    }
    /// Read the cell.
    pub fn get(&self) -> T {
        rt::yield_point();
        T::from_bits(rt::with(|e| e.plain_read(self.loc)))
    }
    /// Write the cell.
    pub fn set(&self, v: T) {
        rt::yield_point();
        rt::with(|e| e.plain_write(self.loc, v.to_bits()))
    }
    /// The newest value, outside the model (reports and debugging only).
    pub fn peek(&self) -> T {
        T::from_bits(rt::with(|e| e.mem.peek(self.loc)))
    }
}

impl<T: Word> netpoll::PlainCell<T> for Plain<T> {
    fn new(v: T, name: LocName) -> Self {
        Plain::named(v, name)
    }
    fn get(&self) -> T {
        Plain::get(self)
    }
    fn set(&self, v: T) {
        Plain::set(self, v)
    }
    fn peek(&self) -> T {
        Plain::peek(self)
    }
}
