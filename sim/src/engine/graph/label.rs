//! What an event of an execution graph is: its label.

use crate::engine::event::Ord;

/// An event of a graph: the task and its place in the task's program order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ERef {
    /// The task (its index in the graph's tasks).
    pub(crate) task: u32,
    /// The event's index in the task's program order.
    pub(crate) idx: u32,
}

/// A memory order as the consistency predicates see it: plain (non-atomic) accesses never
/// synchronise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum MemOrd {
    /// A plain access.
    Plain,
    /// An atomic access or fence with this ordering.
    Atomic(Ord),
}

impl MemOrd {
    pub(crate) const RLX: MemOrd = MemOrd::Atomic(Ord::Relaxed);
    pub(crate) const ACQ: MemOrd = MemOrd::Atomic(Ord::Acquire);
    pub(crate) const REL: MemOrd = MemOrd::Atomic(Ord::Release);

    /// At least acquire.
    pub(crate) fn is_acq(self) -> bool {
        matches!(
            self,
            MemOrd::Atomic(Ord::Acquire | Ord::AcqRel | Ord::SeqCst)
        )
    }
    /// At least release.
    pub(crate) fn is_rel(self) -> bool {
        matches!(
            self,
            MemOrd::Atomic(Ord::Release | Ord::AcqRel | Ord::SeqCst)
        )
    }
    pub(crate) fn is_sc(self) -> bool {
        matches!(self, MemOrd::Atomic(Ord::SeqCst))
    }
    pub(crate) fn is_atomic(self) -> bool {
        matches!(self, MemOrd::Atomic(_))
    }
    /// The ordering of the load part of an access with ordering `o`.
    pub(crate) fn load_part(o: Ord) -> MemOrd {
        MemOrd::Atomic(match o {
            Ord::Release => Ord::Relaxed,
            Ord::AcqRel => Ord::Acquire,
            o => o,
        })
    }
    /// The ordering of the store part of an access with ordering `o`.
    pub(crate) fn store_part(o: Ord) -> MemOrd {
        MemOrd::Atomic(match o {
            Ord::Acquire => Ord::Relaxed,
            Ord::AcqRel => Ord::Release,
            o => o,
        })
    }
}

/// What a blocking read waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Await {
    /// The value equals this (an unlocked lock's 0, a finished task's 1).
    Eq(u64),
    /// The value is at least this (a park's permit).
    AtLeast(u64),
    /// The value differs from this (a futex wait: the sync API's condition variables,
    /// read-write locks and once cells).
    Ne(u64),
}

impl Await {
    pub(crate) fn satisfied(self, v: u64) -> bool {
        match self {
            Await::Eq(x) => v == x,
            Await::AtLeast(x) => v >= x,
            Await::Ne(x) => v != x,
        }
    }
}

/// What kind of read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ReadKind {
    /// A load, or a plain read.
    Load,
    /// The read part of a read-modify-write: it succeeds (and its write part follows) when
    /// the value read equals `expected` (a compare-exchange) or always (`None`); its
    /// ordering is `ok` then and `fail` otherwise.
    Rmw {
        expected: Option<u64>,
        ok: MemOrd,
        fail: MemOrd,
    },
    /// A read that blocks its task until the value satisfies `until`: the task does not
    /// take it while the newest store does not. With `exclusive`, a write part follows (a
    /// lock taking itself, a park consuming its permit).
    Await { until: Await, exclusive: bool },
}

impl ReadKind {
    /// Whether a read of this kind reading `v` is the read part of a read-modify-write (a
    /// write part follows it).
    pub(crate) fn exclusive_with(self, v: u64) -> bool {
        match self {
            ReadKind::Load => false,
            ReadKind::Rmw { expected, .. } => expected.is_none_or(|x| x == v),
            ReadKind::Await { until, exclusive } => exclusive && until.satisfied(v),
        }
    }
    /// Whether a read of this kind may be the read part of a read-modify-write.
    pub(crate) fn may_be_exclusive(self) -> bool {
        match self {
            ReadKind::Load => false,
            ReadKind::Rmw { .. } => true,
            ReadKind::Await { exclusive, .. } => exclusive,
        }
    }
    /// The ordering of a read of this kind (declared `ord`) that read `v`.
    pub(crate) fn ord_with(self, ord: MemOrd, v: u64) -> MemOrd {
        match self {
            ReadKind::Rmw { expected, ok, fail } => {
                if expected.is_none_or(|x| x == v) {
                    ok
                } else {
                    fail
                }
            }
            _ => ord,
        }
    }
}

/// The label of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Label {
    /// A read of `loc`, reading from `rf` (`None`: the location's initial value). `ord` is
    /// the effective ordering (for a read-modify-write, that of its outcome).
    Read {
        loc: u32,
        ord: MemOrd,
        kind: ReadKind,
        rf: Option<ERef>,
    },
    /// A write of `val` to `loc`. `rmw`: the write part of a read-modify-write (it directly
    /// follows its read part). `barrier`: under `tso` it drains the store buffer like a
    /// locked instruction (an unlock, a task's end).
    Write {
        loc: u32,
        ord: MemOrd,
        val: u64,
        rmw: bool,
        barrier: bool,
    },
    /// A fence.
    Fence { ord: Ord },
    /// A choice of the check or platform: option `chosen` of `n`.
    Choice { n: u32, chosen: u32 },
    /// The task spawned graph task `child`.
    Spawn { child: u32 },
}

impl Label {
    /// The location the event accesses.
    pub(crate) fn loc(&self) -> Option<u32> {
        match *self {
            Label::Read { loc, .. } | Label::Write { loc, .. } => Some(loc),
            _ => None,
        }
    }
    pub(crate) fn is_read(&self) -> bool {
        matches!(self, Label::Read { .. })
    }
    pub(crate) fn is_write(&self) -> bool {
        matches!(self, Label::Write { .. })
    }
    /// The ordering of a memory access or fence.
    pub(crate) fn ord(&self) -> Option<MemOrd> {
        match *self {
            Label::Read { ord, .. } | Label::Write { ord, .. } => Some(ord),
            Label::Fence { ord } => Some(MemOrd::Atomic(ord)),
            _ => None,
        }
    }
    /// Whether the event is sequentially consistent (an SC access or fence).
    pub(crate) fn is_sc(&self) -> bool {
        self.ord().is_some_and(MemOrd::is_sc)
    }
    /// Whether the event is a fence.
    pub(crate) fn is_fence(&self) -> bool {
        matches!(self, Label::Fence { .. })
    }
    /// The write part of a read-modify-write.
    pub(crate) fn is_rmw_write(&self) -> bool {
        matches!(self, Label::Write { rmw: true, .. })
    }
}

/// An event of a graph: its label and the search's bookkeeping (GenMC's): whether it was
/// added with its first (maximal) option, and whether a later revisit may remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct GEvent {
    pub(crate) label: Label,
    /// Added maximally: a read reading the newest store, a write placed last in its
    /// location's modification order, a choice taking option 0.
    pub(crate) max: bool,
    /// May be deleted or re-read by a backward revisit (false once it was in the prefix of
    /// a store that revisited).
    pub(crate) revisitable: bool,
    /// Its place in the order the search added the graph's events (increasing along each
    /// task's program order; a restriction keeps the stamps it keeps).
    pub(crate) stamp: u32,
}
