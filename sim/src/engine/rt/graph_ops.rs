//! The task operations in a `graph` run: every operation another task could observe is an
//! event of the execution graph. Memory accesses are reads and writes; the engine's own
//! synchronisation is made of them too, so that the search treats it like any other:
//! * a lock is a location: acquiring waits for 0 and writes 1 (a read-modify-write),
//!   releasing writes 0;
//! * a task's end writes 1 to its termination flag; joining waits for it;
//! * `ready` sets the parked task's permit (a read-modify-write), a park waits for the
//!   permit and consumes it; a park with a time limit first chooses between waiting and
//!   timing out;
//! * virtual time is per task: it flows along reads-from and task creation, a sleep adds
//!   to it, a time-out moves it to the time waited for.

use super::exec::{with, Exec};
use super::graph_run::{GOp, Step, Where, WritePart, WriteValue};
use super::schedule::suspend;
use super::task::{Status, Yld};
use crate::engine::event::{Op, Ord, Pick};
use crate::engine::failure::Failure;
use crate::engine::graph::label::{Await, MemOrd, ReadKind};
use std::cell::Cell;

thread_local! {
    /// Whether the execution on this thread is a graph run (read on every operation), and
    /// whether it keeps an event log.
    static GRAPH: Cell<Mode> = const { Cell::new(Mode { active: false, logged: false }) };
}

#[derive(Clone, Copy)]
struct Mode {
    active: bool,
    logged: bool,
}

/// Whether the running execution is a graph run.
#[inline]
pub(crate) fn active() -> bool {
    GRAPH.with(|g| g.get().active)
}

/// Make the execution on this thread a graph run (`on`), keeping an event log (`logged`)
/// or not: a search's runs need none (a failing one is run again with its log), a replay
/// of a trace, and a run shown to an observer, do.
pub(crate) fn set_active(on: bool, logged: bool) {
    GRAPH.with(|g| {
        g.set(Mode {
            active: on,
            logged: on && logged,
        })
    });
}

/// What `step` decided.
enum Next {
    Value(u64),
    Suspend(*const Yld),
}

impl Exec {
    /// The running task is about to do `op` (`timed`: a park's wait that could time out).
    fn graph_step(&mut self, op: GOp, timed: bool) -> Next {
        let me = self.cur;
        let y = self.tasks[me as usize].yielder;
        if self.aborting {
            // Tearing the run down: no event is added. A read (in a destructor that runs while
            // its task unwinds, such as the last owner's drop of an `Arc`'d value) sees the
            // newest value stored so far, as it would when the run ended there - not a 0
            // nobody stored, which such a destructor could fail on (and a panic while
            // unwinding aborts the process).
            let peeked = match op {
                GOp::Read {
                    at: Where::Loc(l), ..
                } => self.graph.as_mut().and_then(|g| g.peek_aborting(l)),
                _ => None,
            };
            return Next::Value(peeked.unwrap_or(0));
        }
        if self.failure.is_some() {
            return Next::Suspend(y);
        }
        if self.rec.step >= self.cfg.max_steps {
            self.fail(Failure::StepLimit {
                max_steps: self.cfg.max_steps,
            });
            return Next::Suspend(y);
        }
        let gr = self.graph.as_mut().expect("a graph run");
        match gr.step(me, op, timed) {
            Step::Value(v) => {
                // A step per event of the graph.
                self.rec.step += 1;
                Next::Value(v)
            }
            Step::Suspend => {
                self.next = None;
                Next::Suspend(y)
            }
            Step::Diverged(message) => {
                if gr.search.model == crate::engine::memory::MemoryModel::Imm && gr.guide.is_none()
                {
                    // Under IMM a revisited read may change what its task does next: that
                    // graph asked for a value to depend on itself, and is dropped.
                    gr.end = Some(super::graph_run::RunEnd::Dropped);
                    self.next = None;
                    return Next::Suspend(y);
                }
                self.fail(Failure::ReplayDiverged {
                    step: Some(self.rec.step),
                    message,
                });
                Next::Suspend(y)
            }
        }
    }
}

/// Do `op`, waiting as long as the graph run says; returns the value read (or the option
/// chosen, or the spawned graph task).
fn op(op: GOp, timed: bool) -> u64 {
    op_waiting(op, timed, None)
}

/// [`op`] for the read part of a read-modify-write: while the task waits at the frontier,
/// the run holds `part()`, its write part as a function of the value read, so that the
/// search can add both parts of an alternative at once.
fn read_part(op: GOp, timed: bool, part: impl Fn() -> WritePart) -> u64 {
    op_waiting(
        op,
        timed,
        Some(&|e: &mut Exec| {
            let me = e.cur;
            if let Some(gr) = e.graph.as_mut() {
                gr.offer_write_part(me, &part);
            }
        }),
    )
}

/// [`op`], doing `before_wait` (if any) each time the task is about to suspend.
fn op_waiting(op: GOp, timed: bool, before_wait: Option<&dyn Fn(&mut Exec)>) -> u64 {
    loop {
        match with(|e| e.graph_step(op, timed)) {
            Next::Value(v) => return v,
            Next::Suspend(y) => {
                if let Some(f) = before_wait {
                    with(f);
                }
                suspend(y)
            }
        }
    }
}

fn record(o: Op) {
    if !GRAPH.with(|g| g.get().logged) {
        return;
    }
    with(|e| {
        let me = e.cur;
        e.rec.push(me, o)
    });
}

fn me_gt() -> u32 {
    with(|e| {
        let me = e.cur;
        e.graph.as_ref().expect("a graph run").gt(me)
    })
}

/// `yield_now` in a graph run: the end of a spin loop's iteration. An iteration that only
/// read would read the same values and spin forever, so the task waits here for good (a
/// graph where one of its reads reads a later store lets it out: the search makes that one
/// too); otherwise nothing happens.
pub(crate) fn spin_point() {
    loop {
        let y = with(|e| {
            let me = e.cur;
            if e.aborting || e.failure.is_some() {
                return None;
            }
            let gr = e.graph.as_mut().expect("a graph run");
            if !gr.spin_point(me) {
                return None;
            }
            e.next = None;
            Some(e.tasks[me as usize].yielder)
        });
        match y {
            Some(y) => suspend(y),
            None => return,
        }
    }
}

pub(crate) fn load(loc: u32, ord: Ord) -> u64 {
    let v = op(
        GOp::Read {
            at: Where::Loc(loc),
            ord: MemOrd::Atomic(ord),
            kind: ReadKind::Load,
        },
        false,
    );
    record(Op::Load {
        loc,
        ord,
        val: v,
        pick: Pick::ONLY,
    });
    v
}

pub(crate) fn store(loc: u32, val: u64, ord: Ord) {
    op(
        GOp::Write {
            at: Where::Loc(loc),
            ord: MemOrd::Atomic(ord),
            val,
            rmw: false,
            barrier: false,
        },
        false,
    );
    record(Op::Store { loc, ord, val });
}

pub(crate) fn rmw(
    loc: u32,
    success: Ord,
    failure: Ord,
    expected: Option<u64>,
    f: impl Fn(u64) -> Option<u64> + Clone + 'static,
) -> Result<u64, u64> {
    let v = read_part(
        GOp::Read {
            at: Where::Loc(loc),
            ord: MemOrd::load_part(success),
            kind: ReadKind::Rmw {
                expected,
                ok: MemOrd::load_part(success),
                fail: MemOrd::load_part(failure),
            },
        },
        false,
        || WritePart {
            ord: MemOrd::store_part(success),
            barrier: false,
            value: WriteValue::Of(Box::new(f.clone())),
        },
    );
    match f(v) {
        Some(new) => {
            op(
                GOp::Write {
                    at: Where::Loc(loc),
                    ord: MemOrd::store_part(success),
                    val: new,
                    rmw: true,
                    barrier: false,
                },
                false,
            );
            record(Op::Rmw {
                loc,
                ord: success,
                read: v,
                written: new,
            });
            Ok(v)
        }
        None => {
            record(Op::CasFail {
                loc,
                ord: failure,
                read: v,
            });
            Err(v)
        }
    }
}

pub(crate) fn fence(ord: Ord) {
    op(GOp::Fence(ord), false);
    record(Op::Fence { ord });
}

pub(crate) fn plain_read(loc: u32) -> u64 {
    let v = op(
        GOp::Read {
            at: Where::Loc(loc),
            ord: MemOrd::Plain,
            kind: ReadKind::Load,
        },
        false,
    );
    record(Op::PlainRead {
        loc,
        val: v,
        pick: Pick::ONLY,
    });
    v
}

pub(crate) fn plain_write(loc: u32, val: u64) {
    op(
        GOp::Write {
            at: Where::Loc(loc),
            ord: MemOrd::Plain,
            val,
            rmw: false,
            barrier: false,
        },
        false,
    );
    record(Op::PlainWrite { loc, val });
}

/// An exclusive wait until `at` holds what `until` asks (acquire), then the write of `val` that
/// makes the two one read-modify-write: a lock taken, a permit consumed. `timed`: the wait
/// could time out instead (so being stuck there is no deadlock).
fn await_and_write(at: Where, until: Await, val: u64, timed: bool) {
    read_part(
        GOp::Read {
            at,
            ord: MemOrd::ACQ,
            kind: ReadKind::Await {
                until,
                exclusive: true,
            },
        },
        timed,
        || WritePart {
            ord: MemOrd::RLX,
            barrier: true,
            value: WriteValue::Const(val),
        },
    );
    op(
        GOp::Write {
            at,
            ord: MemOrd::RLX,
            val,
            rmw: true,
            barrier: true,
        },
        false,
    );
}

/// Acquire lock `id` whose location is `loc`.
pub(crate) fn lock(id: u32, loc: u32) {
    with(|e| {
        let me = e.cur as usize;
        e.tasks[me].status = Status::BlockedLock(id);
    });
    await_and_write(Where::Loc(loc), Await::Eq(0), 1, false);
    with(|e| {
        let me = e.cur;
        e.tasks[me as usize].status = Status::Runnable;
        e.locks.get_mut(id).owner = Some(me);
        e.rec.push(me, Op::Lock { lock: loc });
    });
}

/// Try to acquire lock `id` (location `loc`) without waiting.
pub(crate) fn try_lock(id: u32, loc: u32) -> bool {
    let got = rmw(loc, Ord::Acquire, Ord::Relaxed, Some(0), |v| {
        (v == 0).then_some(1)
    })
    .is_ok();
    if got {
        with(|e| {
            let me = e.cur;
            e.locks.get_mut(id).owner = Some(me);
        });
    }
    got
}

/// Release lock `id` (location `loc`).
pub(crate) fn unlock(id: u32, loc: u32) {
    op(
        GOp::Write {
            at: Where::Loc(loc),
            ord: MemOrd::REL,
            val: 0,
            rmw: false,
            barrier: true,
        },
        false,
    );
    with(|e| {
        let me = e.cur;
        e.locks.get_mut(id).owner = None;
        e.rec.push(me, Op::Unlock { lock: loc });
    });
}

/// Spawn: the graph event first, then the engine task; returns (engine id, graph id).
pub(crate) fn spawn_event(daemon: bool) -> u32 {
    op(GOp::Spawn { daemon }, false) as u32
}

/// The running task's function returned: its termination flag.
pub(crate) fn finish() {
    let gt = me_gt();
    op(
        GOp::Write {
            at: Where::Done(gt),
            ord: MemOrd::REL,
            val: 1,
            rmw: false,
            barrier: true,
        },
        false,
    );
}

/// Wait for engine task `t` to finish.
/// Whether engine task `t` has finished: a relaxed read of its termination flag.
pub(crate) fn is_finished(t: u32) -> bool {
    let gt = with(|e| e.graph.as_ref().expect("a graph run").gt(t));
    op(
        GOp::Read {
            at: Where::Done(gt),
            ord: MemOrd::RLX,
            kind: ReadKind::Load,
        },
        false,
    ) == 1
}

pub(crate) fn join(t: u32) {
    let gt = with(|e| {
        let me = e.cur as usize;
        e.tasks[me].status = Status::BlockedJoin(t);
        e.graph.as_ref().expect("a graph run").gt(t)
    });
    op(
        GOp::Read {
            at: Where::Done(gt),
            ord: MemOrd::ACQ,
            kind: ReadKind::Await {
                until: Await::Eq(1),
                exclusive: false,
            },
        },
        false,
    );
    with(|e| {
        let me = e.cur;
        e.tasks[me as usize].status = Status::Runnable;
        e.rec.push(me, Op::Join { child: t });
    });
}

/// Make engine task `t`'s next (or current) park return. `ord`: release for `ready`,
/// relaxed for a timer brought forward (no synchronisation).
pub(crate) fn ready(t: u32, ord: Ord) {
    let gt = with(|e| e.graph.as_ref().expect("a graph run").gt(t));
    op(
        GOp::Read {
            at: Where::Permit(gt),
            ord: MemOrd::RLX,
            kind: ReadKind::Rmw {
                expected: None,
                ok: MemOrd::RLX,
                fail: MemOrd::RLX,
            },
        },
        false,
    );
    op(
        GOp::Write {
            at: Where::Permit(gt),
            ord: MemOrd::Atomic(ord),
            val: 1,
            rmw: true,
            barrier: true,
        },
        false,
    );
    record(Op::Ready { target: t });
}

/// A wait with a time limit: the search chooses between waiting and timing out; a time-out
/// moves the task's time to the limit. True when it timed out (never without a limit).
fn times_out(until_ns: Option<i64>) -> bool {
    let Some(u) = until_ns else {
        return false;
    };
    if op(GOp::Choice(2), false) != 1 {
        return false;
    }
    with(|e| {
        let me = e.cur;
        let gr = e.graph.as_mut().expect("a graph run");
        gr.set_now(me, u);
    });
    true
}

/// Park the running task (its commit already said to stay): wait for a permit, or - with a
/// time limit - time out, as the search chooses. Returns true when it timed out.
pub(crate) fn park_wait(until_ns: Option<i64>) -> bool {
    if times_out(until_ns) {
        return true;
    }
    let gt = with(|e| {
        let me = e.cur;
        e.tasks[me as usize].status = Status::Parked { until: until_ns };
        e.graph.as_ref().expect("a graph run").gt(me)
    });
    await_and_write(Where::Permit(gt), Await::AtLeast(1), 0, until_ns.is_some());
    with(|e| {
        let me = e.cur;
        e.tasks[me as usize].status = Status::Runnable;
    });
    false
}

/// A futex wait on `loc` while it holds `expected`: the read waits for a store of another
/// value (the graph search has no sleeping and waking, only what a read may read), or - with
/// a time limit - times out, as the search chooses. Returns the value read, or `None` when it
/// timed out.
pub(crate) fn futex_wait(loc: u32, expected: u64, until_ns: Option<i64>) -> Option<u64> {
    if times_out(until_ns) {
        return None;
    }
    with(|e| {
        let me = e.cur as usize;
        e.tasks[me].status = Status::Futex {
            loc,
            until: until_ns,
        };
    });
    let v = op(
        GOp::Read {
            at: Where::Loc(loc),
            ord: MemOrd::RLX,
            kind: ReadKind::Await {
                until: Await::Ne(expected),
                exclusive: false,
            },
        },
        until_ns.is_some(),
    );
    with(|e| {
        let me = e.cur;
        e.tasks[me as usize].status = Status::Runnable;
    });
    record(Op::FutexWait {
        loc,
        val: v,
        blocks: false,
    });
    Some(v)
}

/// A choice of the check among `n > 1` options.
pub(crate) fn choice(n: u32) -> u32 {
    op(GOp::Choice(n), false) as u32
}

/// The running task's virtual time.
pub(crate) fn now_ns() -> i64 {
    with(|e| {
        let me = e.cur;
        e.graph.as_ref().expect("a graph run").now(me)
    })
}

/// Sleep: the running task's virtual time moves on.
pub(crate) fn sleep_ns(ns: i64) {
    with(|e| {
        let me = e.cur;
        let gr = e.graph.as_mut().expect("a graph run");
        let t = gr.now(me).saturating_add(ns.max(0));
        gr.set_now(me, t);
    });
}

/// The newest value of `loc` among the stores replayed so far, outside the model.
pub(crate) fn peek(loc: u32) -> u64 {
    with(|e| e.graph.as_mut().expect("a graph run").peek(loc))
}
