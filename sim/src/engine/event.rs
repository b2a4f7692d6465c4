//! The event log of one execution: one entry per operation, small and serialisable.
//!
//! It is written with bincode (`config::standard()`, serde) into trace files, compared byte for
//! byte on replay, and rendered as a swimlane (one column per task, one row per step). Each
//! [`Op`] variant carries exactly the fields it has: no overloaded fields, no sentinels.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::Ordering;

/// A memory ordering as recorded in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ord {
    /// `Relaxed`
    Relaxed,
    /// `Acquire`
    Acquire,
    /// `Release`
    Release,
    /// `AcqRel`
    AcqRel,
    /// `SeqCst`
    SeqCst,
}

impl From<Ordering> for Ord {
    fn from(o: Ordering) -> Ord {
        match o {
            Ordering::Relaxed => Ord::Relaxed,
            Ordering::Acquire => Ord::Acquire,
            Ordering::Release => Ord::Release,
            Ordering::AcqRel => Ord::AcqRel,
            _ => Ord::SeqCst,
        }
    }
}

/// Which of its candidate stores a load read: `rank` 0 is the newest of `of` candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pick {
    /// The store read, counted from the newest (0).
    pub rank: u8,
    /// How many stores the load could have read.
    pub of: u8,
}

impl Pick {
    /// The only candidate.
    pub const ONLY: Pick = Pick { rank: 0, of: 1 };

    /// Whether the load read an older store than the newest.
    pub fn stale(self) -> bool {
        self.rank > 0
    }
}

/// What an event did. Locations (`loc`) and locks index [`EventLog::locations`]; tasks index
/// [`EventLog::tasks`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// The task started running.
    Start,
    /// The task's function returned.
    Finish,
    /// An atomic load of `val`.
    Load {
        /// The location.
        loc: u32,
        /// Its ordering.
        ord: Ord,
        /// The value read.
        val: u64,
        /// Which store it read.
        pick: Pick,
    },
    /// An atomic store of `val`.
    Store {
        /// The location.
        loc: u32,
        /// Its ordering.
        ord: Ord,
        /// The value written.
        val: u64,
    },
    /// A read-modify-write (fetch_*, swap, successful compare-exchange).
    Rmw {
        /// The location.
        loc: u32,
        /// Its (success) ordering.
        ord: Ord,
        /// The value read.
        read: u64,
        /// The value written.
        written: u64,
    },
    /// A failed compare-exchange: a load of the newest store.
    CasFail {
        /// The location.
        loc: u32,
        /// Its failure ordering.
        ord: Ord,
        /// The value read.
        read: u64,
    },
    /// A fence.
    Fence {
        /// Its ordering.
        ord: Ord,
    },
    /// A read of a plain (non-atomic) cell.
    PlainRead {
        /// The location.
        loc: u32,
        /// The value read.
        val: u64,
        /// Which store it read.
        pick: Pick,
    },
    /// A write of a plain (non-atomic) cell.
    PlainWrite {
        /// The location.
        loc: u32,
        /// The value written.
        val: u64,
    },
    /// Acquired a lock.
    Lock {
        /// The lock (its location).
        lock: u32,
    },
    /// Found a lock held and blocked on it.
    LockBlocked {
        /// The lock (its location).
        lock: u32,
        /// The task holding it.
        owner: u32,
    },
    /// Released a lock.
    Unlock {
        /// The lock (its location).
        lock: u32,
    },
    /// Spawned a task.
    Spawn {
        /// The new task.
        child: u32,
    },
    /// Joined a task that had finished.
    Join {
        /// The joined task.
        child: u32,
    },
    /// Blocked waiting for a task to finish.
    JoinBlocked {
        /// The awaited task.
        child: u32,
    },
    /// Descheduled itself to park (Go: gopark); the commit step follows.
    Park {
        /// The virtual time at which the park times out, if it does.
        until_ns: Option<i64>,
    },
    /// The park's commit step ran.
    ParkCommit {
        /// True: the task stays parked; false: it resumes at once.
        stays: bool,
    },
    /// Resumed after being parked.
    Unpark {
        /// True when the park's time ran out (no `ready` woke it).
        timed_out: bool,
    },
    /// Made a task runnable (Go: goready).
    Ready {
        /// The task readied.
        target: u32,
    },
    /// Gave up the processor.
    Yield,
    /// Went to sleep.
    Sleep {
        /// Until this virtual time.
        until_ns: i64,
    },
    /// Virtual time advanced (an event of the engine, not of a task).
    TimeAdvance {
        /// The new virtual time.
        to_ns: i64,
    },
    /// A data race on a plain cell was detected at this access.
    Race {
        /// The location.
        loc: u32,
        /// The task whose earlier access is not ordered with this one.
        other: u32,
    },
    /// A choice drawn by the check or its platform.
    UserChoice {
        /// The option taken.
        chosen: u32,
        /// Among how many.
        of: u32,
    },
    /// Memory model `tso`: the oldest store in the task's store buffer reached memory.
    /// Chosen by the scheduler, or drained by the task's own locked instruction, fence, lock
    /// or scheduler call.
    Flush {
        /// The location.
        loc: u32,
        /// The store's ordering (`None`: a plain write).
        ord: Option<Ord>,
        /// The value.
        val: u64,
    },
}

impl Op {
    /// The location the event reads or writes, if any (locks included).
    pub fn loc(&self) -> Option<u32> {
        match *self {
            Op::Load { loc, .. }
            | Op::Store { loc, .. }
            | Op::Rmw { loc, .. }
            | Op::CasFail { loc, .. }
            | Op::PlainRead { loc, .. }
            | Op::PlainWrite { loc, .. }
            | Op::Race { loc, .. }
            | Op::Flush { loc, .. } => Some(loc),
            Op::Lock { lock } | Op::LockBlocked { lock, .. } | Op::Unlock { lock } => Some(lock),
            _ => None,
        }
    }

    /// The value stored by the event, if it makes one visible to later loads.
    pub fn stored(&self) -> Option<(u32, u64)> {
        match *self {
            Op::Store { loc, val, .. } | Op::PlainWrite { loc, val } => Some((loc, val)),
            Op::Rmw { loc, written, .. } => Some((loc, written)),
            _ => None,
        }
    }
}

/// One operation of one task (or of the engine).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The scheduling step at which it happened (steps count scheduling points, from 1).
    pub step: u64,
    /// The task, or `None` for an event of the engine itself (time advancing).
    pub task: Option<u32>,
    /// What it did.
    pub op: Op,
}

/// A location's name: `pd0.rg` is object `pd`, index 0, field `rg`; `x` is object `x` with
/// no index and no field.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LocName {
    /// The object the location belongs to (`pd`, `netpoll`, `x`).
    pub object: Cow<'static, str>,
    /// Which object of that kind, when there are several.
    pub index: Option<u32>,
    /// The field (`rg`, `closing`), or empty for a location that is a whole object.
    pub field: Cow<'static, str>,
}

impl LocName {
    /// A location that is a whole object: `x`.
    pub const fn object(object: &'static str) -> LocName {
        LocName {
            object: Cow::Borrowed(object),
            index: None,
            field: Cow::Borrowed(""),
        }
    }
    /// A field of a singleton object: `netpoll.waiters`.
    pub const fn single(object: &'static str, field: &'static str) -> LocName {
        LocName {
            object: Cow::Borrowed(object),
            index: None,
            field: Cow::Borrowed(field),
        }
    }
    /// A field of an indexed object: `pd0.rg`.
    pub const fn indexed(object: &'static str, index: u32, field: &'static str) -> LocName {
        LocName {
            object: Cow::Borrowed(object),
            index: Some(index),
            field: Cow::Borrowed(field),
        }
    }
}

impl fmt::Display for LocName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.object)?;
        if let Some(i) = self.index {
            write!(f, "{i}")?;
        }
        if !self.field.is_empty() {
            write!(f, ".{}", self.field)?;
        }
        Ok(())
    }
}

/// A task's name.
pub type TaskName = Cow<'static, str>;

/// The complete record of one execution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLog {
    /// Task names, indexed by task id (0 is the check closure, `main`).
    pub tasks: Vec<TaskName>,
    /// Location names, indexed by location id (ids follow creation order).
    pub locations: Vec<LocName>,
    /// The events, in execution order.
    pub events: Vec<Event>,
}

impl EventLog {
    /// The log as bincode bytes (`config::standard()`), for traces and comparisons.
    pub fn to_bytes(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, bincode::config::standard())
            .expect("an event log always encodes")
    }

    /// Empty the log, keeping its storage.
    pub(crate) fn clear(&mut self) {
        self.tasks.clear();
        self.locations.clear();
        self.events.clear();
    }

    /// The name of task `t`, if it exists.
    pub fn task_name(&self, t: u32) -> Option<&str> {
        self.tasks.get(t as usize).map(|n| n.as_ref())
    }
}

/// Where the engine appends events while a run executes: the step counter and the events.
#[derive(Default)]
pub(crate) struct Recorder {
    /// The current step (scheduling points so far).
    pub(crate) step: u64,
    /// The events so far.
    pub(crate) events: Vec<Event>,
    /// When set, nothing is recorded (an execution being torn down).
    pub(crate) muted: bool,
}

impl Recorder {
    /// Append an event of task `task` at the current step.
    #[inline]
    pub(crate) fn push(&mut self, task: u32, op: Op) {
        if !self.muted {
            self.events.push(Event {
                step: self.step,
                task: Some(task),
                op,
            });
        }
    }

    /// Append an event of the engine itself at the current step.
    pub(crate) fn push_engine(&mut self, op: Op) {
        if !self.muted {
            self.events.push(Event {
                step: self.step,
                task: None,
                op,
            });
        }
    }

    pub(crate) fn reset(&mut self) {
        self.step = 0;
        self.events.clear();
        self.muted = false;
    }
}
