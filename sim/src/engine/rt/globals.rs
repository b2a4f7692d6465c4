//! Values that live for one execution, found by a [`Key`]: the state of sync objects that may
//! sit in a `static` (a `LazyLock`, a `Once`, a `OnceLock`), which must start afresh in every
//! execution, and the values of thread-locals, one per task.
//!
//! A value is made on first use in an execution (outside the engine's state, so making it may
//! create simulated objects), in a deterministic order (that of the first uses), and dropped at
//! the end of the execution in the reverse order - a thread-local's at the end of its task,
//! inside the task, as `std` runs thread-local destructors when a thread exits.
//!
//! Values are boxed, so a reference to one stays valid until it is dropped: the end of the
//! execution (or of the task, or the owning object's drop). A reference kept past that (in a
//! `std` static, say) dangles; the simulated objects say so in their docs, as loom's do.

use super::exec::with;
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};

/// The next key to hand out, process-wide (0 means "none yet").
static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// Names one object for the whole process. Assigned on first use from a process-wide counter,
/// never from an address: it moves with the object, and no two objects share one. Only ever
/// used to find a value, never to order anything, so which number an object gets cannot
/// change a run.
#[derive(Debug)]
pub struct Key(AtomicU64);

impl Key {
    /// A key, assigned on first use.
    pub const fn new() -> Key {
        Key(AtomicU64::new(0))
    }

    /// The key's number, if it has one yet.
    pub(crate) fn peek(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Acquire)).filter(|&k| k != 0)
    }

    /// The key's number (assigning it if this is its first use).
    pub(crate) fn get(&self) -> u64 {
        let k = self.0.load(Ordering::Acquire);
        if k != 0 {
            return k;
        }
        let fresh = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        match self
            .0
            .compare_exchange(0, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => fresh,
            Err(other) => other,
        }
    }
}

impl Default for Key {
    fn default() -> Key {
        Key::new()
    }
}

/// One value: being made (`None`), or made.
type Slot = (u64, Option<Box<dyn Any>>);

/// Values found by key, in the order they were made. A check has few statics and a task few
/// thread-locals: a vector searched from the newest is all it takes (and costs nothing to make
/// for the many tasks that have none).
#[derive(Default)]
pub(crate) struct Values {
    slots: Vec<Slot>,
}

/// What making a value found.
enum Lookup<T> {
    Found(*const T),
    Making,
    Absent,
}

impl Values {
    fn position(&self, key: u64) -> Option<usize> {
        self.slots.iter().rposition(|(k, _)| *k == key)
    }

    fn lookup<T: 'static>(&self, key: u64) -> Lookup<T> {
        match self.position(key) {
            None => Lookup::Absent,
            Some(i) => match &self.slots[i].1 {
                None => Lookup::Making,
                Some(b) => match b.downcast_ref::<T>() {
                    Some(v) => Lookup::Found(v as *const T),
                    None => panic!("netpoll-sim: a per-execution value changed its type"),
                },
            },
        }
    }

    fn reserve(&mut self, key: u64) {
        self.slots.push((key, None));
    }

    fn fill(&mut self, key: u64, v: Box<dyn Any>) -> *const dyn Any {
        let i = self.position(key).expect("a reserved value");
        let b = self.slots[i].1.insert(v);
        &**b as *const dyn Any
    }

    /// Take the value of `key` out (to drop it outside the engine's state).
    fn remove(&mut self, key: u64) -> Option<Box<dyn Any>> {
        let i = self.position(key)?;
        self.slots.remove(i).1
    }

    /// Every value, newest first (the order to drop them in).
    pub(crate) fn take_all(&mut self) -> Vec<Box<dyn Any>> {
        let mut v: Vec<_> = self.slots.drain(..).filter_map(|(_, b)| b).collect();
        v.reverse();
        v
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// Which values a lookup is for.
#[derive(Clone, Copy)]
enum Scope {
    /// The execution's.
    Execution,
    /// The running task's thread-locals.
    Task,
}

fn values_of(e: &mut super::exec::Exec, scope: Scope) -> &mut Values {
    match scope {
        Scope::Execution => &mut e.globals,
        Scope::Task => {
            let me = e.cur as usize;
            &mut e.tasks[me].locals
        }
    }
}

fn value<T: 'static>(scope: Scope, key: u64, init: impl FnOnce() -> T) -> *const T {
    let found = with(|e| match values_of(e, scope).lookup::<T>(key) {
        Lookup::Absent => {
            values_of(e, scope).reserve(key);
            None
        }
        Lookup::Making => {
            panic!("netpoll-sim: a lazily initialised value was used while being initialised")
        }
        Lookup::Found(p) => Some(p),
    });
    if let Some(p) = found {
        return p;
    }
    let v: Box<dyn Any> = Box::new(init());
    let p = with(|e| values_of(e, scope).fill(key, v));
    p as *const T
}

/// The running execution's value for `key`, made with `init` on first use. The pointer is
/// valid until the value is removed or the execution ends.
pub(crate) fn global<T: 'static>(key: u64, init: impl FnOnce() -> T) -> *const T {
    value(Scope::Execution, key, init)
}

/// Remove the running execution's value for `key`, if it has one (its object is dropped);
/// the value is dropped by the caller's return, outside the engine's state.
pub(crate) fn remove_global(key: u64) -> Option<Box<dyn Any>> {
    with(|e| e.globals.remove(key))
}

/// The running task's thread-local for `key`, made with `init` on first use; `None` once the
/// task's thread-locals are being destroyed.
pub(crate) fn local<T: 'static>(key: u64, init: impl FnOnce() -> T) -> Option<*const T> {
    if with(|e| e.tasks[e.cur as usize].locals_gone) {
        return None;
    }
    Some(value(Scope::Task, key, init))
}

/// The running task ends: drop its thread-locals (newest first), inside the task, so their
/// destructors may use simulated objects. Thread-locals cannot be reached from then on.
pub(crate) fn destroy_locals() {
    let values = with(|e| {
        let t = &mut e.tasks[e.cur as usize];
        t.locals_gone = true;
        (!t.locals.is_empty()).then(|| t.locals.take_all())
    });
    drop(values);
}
