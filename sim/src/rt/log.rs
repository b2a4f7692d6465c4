//! The event log of one execution: small, serialisable, one entry per operation.
//!
//! It is designed to be written with bincode (`config::standard()`, serde) into trace files and
//! rendered as a swimlane (one column per task, one row per step): every event carries its
//! step, its task, what it did, on which location, and the values it read or wrote.

use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;

/// No location / no task.
pub const NONE: u32 = u32::MAX;

/// What an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    /// The task started running.
    Start,
    /// The task's function returned.
    Finish,
    /// An atomic load; `read` is the value, `rank` which store it read.
    Load,
    /// An atomic store of `written`.
    Store,
    /// A read-modify-write (fetch_*, swap, successful CAS): read `read`, wrote `written`.
    Rmw,
    /// A failed compare-exchange: a load of `read`.
    CasFail,
    /// A fence.
    Fence,
    /// A read of a plain (non-atomic) cell.
    PlainRead,
    /// A write of a plain (non-atomic) cell.
    PlainWrite,
    /// Acquired a lock.
    Lock,
    /// Found a lock held and blocked on it.
    LockBlocked,
    /// Released a lock.
    Unlock,
    /// Spawned task `other`.
    Spawn,
    /// Joined task `other` (it had finished).
    Join,
    /// Blocked waiting for task `other` to finish.
    JoinBlocked,
    /// Descheduled itself to park (Go: gopark); the commit step follows.
    Park,
    /// The park's commit returned `written` (1: stays parked, 0: resumes at once).
    ParkCommit,
    /// Resumed after being parked.
    Unpark,
    /// Made task `other` runnable (Go: goready).
    Ready,
    /// Gave up the processor.
    Yield,
    /// Went to sleep until virtual time `written` (ns).
    Sleep,
    /// Armed timer `written` (id) to fire at virtual time `read` (ns).
    TimerAdd,
    /// Cancelled timer `written`; `read` is 1 if it was still pending.
    TimerCancel,
    /// Virtual time advanced to `written` (ns); task is [`NONE`].
    TimeAdvance,
    /// A data race on `loc` with task `other` was detected at this access.
    Race,
    /// A choice drawn by the scenario itself (`written` = the option chosen).
    UserChoice,
    /// Memory model `tso`: the oldest store in the store buffer of `task` reached memory
    /// (`loc` := `written`, `ord` as stored). Chosen by the scheduler, or drained by the task's
    /// own locked instruction, fence, lock or scheduler call.
    Flush,
}

/// A memory ordering as recorded in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ord {
    /// Not a memory-ordered operation (or a plain access).
    None,
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
            Ordering::SeqCst => Ord::SeqCst,
            _ => Ord::SeqCst,
        }
    }
}

/// One operation of one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The scheduling step at which it happened (steps count yield points; starts at 1).
    pub step: u32,
    /// The task (index into [`EventLog::tasks`]), or [`NONE`] for engine events.
    pub task: u32,
    /// What it did.
    pub op: Op,
    /// The memory ordering, if any.
    pub ord: Ord,
    /// The location (index into [`EventLog::locations`]) or [`NONE`].
    pub loc: u32,
    /// The value read, if it read one.
    pub read: Option<u64>,
    /// The value written, if it wrote one.
    pub written: Option<u64>,
    /// For a load: which store it read among its candidates, 0 = the newest.
    pub rank: u8,
    /// For a load: how many stores it could have read.
    pub candidates: u8,
    /// Another task involved (spawned, joined, readied, racing), or [`NONE`].
    pub other: u32,
}

impl Event {
    pub(crate) const fn new(step: u32, task: u32, op: Op) -> Event {
        Event {
            step,
            task,
            op,
            ord: Ord::None,
            loc: NONE,
            read: None,
            written: None,
            rank: 0,
            candidates: 0,
            other: NONE,
        }
    }
}

/// The kind of a nondeterministic choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChoiceKind {
    /// Which task runs next.
    Schedule,
    /// Which store a load reads.
    LoadStore,
    /// A choice made by the scenario or platform (timer against task, fault injection, ...).
    User,
    /// Memory model `tso`: whether to commit a buffered store before the next task runs.
    /// Option 0 commits nothing; option `i` commits the oldest store of the `i`-th task (in id
    /// order) whose store buffer is not empty. When no task can run, the buffers must drain:
    /// option `i` then names the `i + 1`-th such task.
    Flush,
}

/// One recorded choice. Choices with a single option are not drawn and not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// What was chosen.
    pub kind: ChoiceKind,
    /// How many options there were (at least 2).
    pub n: u32,
    /// The option taken, `< n`.
    pub chosen: u32,
}

/// The complete record of one execution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLog {
    /// Task names, indexed by task id (0 is the check closure, `main`).
    pub tasks: Vec<String>,
    /// Location names (`pd0.rg`, `x`), indexed by location id (ids follow creation order).
    pub locations: Vec<String>,
    /// The events, in execution order.
    pub events: Vec<Event>,
}

impl EventLog {
    /// The log as bincode bytes (`config::standard()`), for traces and comparisons.
    pub fn to_bytes(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, bincode::config::standard())
            .expect("an event log always encodes")
    }
}
