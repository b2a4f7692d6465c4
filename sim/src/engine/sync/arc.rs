//! A simulated `std::sync::Arc`: its reference count is a simulated atomic, moved as `std`'s
//! is (a relaxed increment per clone, a release decrement per drop, and an acquire fence
//! before the last owner drops the value), so a value's destructor sees everything every
//! owner did, and nothing more is ordered than `std` orders. Each clone and drop is a
//! scheduling point.
//!
//! The memory itself is a `std` `Arc`'s; what is not here: `Weak`, and coercing an
//! `Arc<T>` into an `Arc<dyn Trait>` (which needs unstable traits).

use super::atomic::{fence, AtomicUsize, Ordering};
use crate::engine::event::LocName;
use crate::engine::rt;
use std::borrow::Borrow;
use std::cmp::Ordering as CmpOrdering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::mem::ManuallyDrop;
use std::ops::Deref;

struct Inner<T: ?Sized> {
    count: AtomicUsize,
    data: T,
}

/// A simulated `std::sync::Arc`.
pub struct Arc<T: ?Sized> {
    inner: std::sync::Arc<Inner<T>>,
}

impl<T> Arc<T> {
    /// A new reference-counted `data` (its count named `arcN.count` in traces).
    pub fn new(data: T) -> Arc<T> {
        let name = LocName::indexed("arc", rt::location_count(), "count");
        Arc {
            inner: std::sync::Arc::new(Inner {
                count: AtomicUsize::named(1, name),
                data,
            }),
        }
    }

    /// The value, if this is the only owner (then no other owner can come).
    pub fn try_unwrap(this: Arc<T>) -> Result<T, Arc<T>> {
        if rt::in_task() {
            if this
                .inner
                .count
                .compare_exchange(1, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            {
                return Err(this);
            }
            fence(Ordering::Acquire);
        }
        let inner = Self::into_std(this);
        std::sync::Arc::try_unwrap(inner)
            .map(|i| i.data)
            .map_err(|inner| Arc { inner })
    }

    /// The value, if this was the last owner (`None` otherwise; the reference is dropped
    /// either way).
    pub fn into_inner(this: Arc<T>) -> Option<T> {
        if rt::in_task() {
            if this.inner.count.fetch_sub(1, Ordering::Release) != 1 {
                drop(Self::into_std(this));
                return None;
            }
            fence(Ordering::Acquire);
        }
        std::sync::Arc::into_inner(Self::into_std(this)).map(|i| i.data)
    }

    /// The value, made unique first by cloning it if other owners share it.
    pub fn make_mut(this: &mut Arc<T>) -> &mut T
    where
        T: Clone,
    {
        if Arc::get_mut(this).is_none() {
            *this = Arc::new((**this).clone());
        }
        Arc::get_mut(this).expect("a new Arc has one owner")
    }

    /// The `std` `Arc` inside, without running this one's drop (which would count it).
    fn into_std(this: Arc<T>) -> std::sync::Arc<Inner<T>> {
        let this = ManuallyDrop::new(this);
        // SAFETY: `this` is never used or dropped again; the `std` Arc is moved out once.
        unsafe { std::ptr::read(&this.inner) }
    }
}

impl<T: ?Sized> Arc<T> {
    /// The value, mutably, if this is the only owner (an acquire load of the count).
    pub fn get_mut(this: &mut Arc<T>) -> Option<&mut T> {
        if rt::in_task() && this.inner.count.load(Ordering::Acquire) != 1 {
            return None;
        }
        std::sync::Arc::get_mut(&mut this.inner).map(|i| &mut i.data)
    }

    /// How many owners share the value (a relaxed load of the count).
    pub fn strong_count(this: &Arc<T>) -> usize {
        if rt::in_task() {
            this.inner.count.load(Ordering::Relaxed)
        } else {
            std::sync::Arc::strong_count(&this.inner)
        }
    }

    /// Whether both point to the same value.
    pub fn ptr_eq(a: &Arc<T>, b: &Arc<T>) -> bool {
        std::sync::Arc::ptr_eq(&a.inner, &b.inner)
    }

    /// The value's address.
    pub fn as_ptr(this: &Arc<T>) -> *const T {
        &this.inner.data as *const T
    }
}

impl<T: ?Sized> Clone for Arc<T> {
    fn clone(&self) -> Arc<T> {
        if rt::in_task() {
            self.inner.count.fetch_add(1, Ordering::Relaxed);
        }
        Arc {
            inner: self.inner.clone(),
        }
    }
}

impl<T: ?Sized> Drop for Arc<T> {
    fn drop(&mut self) {
        if rt::in_task() && self.inner.count.fetch_sub(1, Ordering::Release) == 1 {
            // The last owner: everything the others did happens before the value's drop.
            fence(Ordering::Acquire);
        }
    }
}

impl<T: ?Sized> Deref for Arc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner.data
    }
}

impl<T: ?Sized> AsRef<T> for Arc<T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T: ?Sized> Borrow<T> for Arc<T> {
    fn borrow(&self) -> &T {
        self
    }
}

impl<T: Default> Default for Arc<T> {
    fn default() -> Arc<T> {
        Arc::new(T::default())
    }
}

impl<T> From<T> for Arc<T> {
    fn from(v: T) -> Arc<T> {
        Arc::new(v)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Arc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for Arc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized> fmt::Pointer for Arc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Pointer::fmt(&Arc::as_ptr(self), f)
    }
}

impl<T: ?Sized + PartialEq> PartialEq for Arc<T> {
    fn eq(&self, other: &Arc<T>) -> bool {
        **self == **other
    }
}

impl<T: ?Sized + Eq> Eq for Arc<T> {}

impl<T: ?Sized + PartialOrd> PartialOrd for Arc<T> {
    fn partial_cmp(&self, other: &Arc<T>) -> Option<CmpOrdering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: ?Sized + Ord> Ord for Arc<T> {
    fn cmp(&self, other: &Arc<T>) -> CmpOrdering {
        (**self).cmp(&**other)
    }
}

impl<T: ?Sized + Hash> Hash for Arc<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}
