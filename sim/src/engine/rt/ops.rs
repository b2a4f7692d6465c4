//! Task operations, called from inside tasks: spawn and join, park and ready, sleep,
//! choices, memory accesses, and the hooks a platform registers.

use super::exec::with;
use super::graph_ops;
use super::schedule::{suspend, yield_point};
use super::task::Status;
use crate::engine::choice::ChoiceKind;
use crate::engine::event::{Op, TaskName};
use crate::engine::failure::Failure;
use std::panic::Location;
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// Under `tso`, a spawn or join drains the task's store buffer, which other tasks can see:
/// then (and only then) it needs a scheduling point before it.
fn drain_point() {
    if with(|e| e.mem.has_buffered(e.cur)) {
        yield_point();
    }
}

/// Before a spawn: one more live task must fit the run's limit, else the run fails with an
/// engine-limit failure (and the spawning task stops here).
fn check_live_tasks() {
    let over = with(|e| {
        let live = e
            .tasks
            .iter()
            .filter(|t| t.status != Status::Finished)
            .count();
        if live < e.cfg.max_live_tasks as usize || e.aborting {
            return false;
        }
        let detail = format!(
            "{live} tasks alive and the run allows {}",
            e.cfg.max_live_tasks
        );
        e.fail(Failure::EngineLimit {
            limit: crate::engine::failure::EngineLimit::LiveTasks,
            detail,
        });
        true
    });
    if over {
        // The failure is recorded: the next scheduling point stops this task.
        yield_point();
    }
}

/// Spawn a task running `f`; returns its id. Not a scheduling point of its own (the new task
/// can run at the spawner's next one; spawning touches nothing another task can see), except
/// under `tso` when it drains stores.
pub(crate) fn spawn(name: TaskName, daemon: bool, f: Box<dyn FnOnce()>) -> u32 {
    if graph_ops::active() {
        return graph_spawn(name, daemon, f);
    }
    drain_point();
    check_live_tasks();
    with(|e| {
        e.drain();
        let me = e.cur;
        // The spawner's next scheduling point has a new task to choose: a real choice.
        e.tasks[me as usize].fresh = false;
        let id = e.new_task(name, daemon, f, Some(me));
        e.event(Op::Spawn { child: id });
        id
    })
}

/// Spawn in a graph run: the spawn event, then the engine task that runs `f`.
fn graph_spawn(name: TaskName, daemon: bool, f: Box<dyn FnOnce()>) -> u32 {
    check_live_tasks();
    let gt = graph_ops::spawn_event(daemon);
    with(|e| {
        let me = e.cur;
        let id = e.new_task(name, daemon, f, Some(me));
        e.graph.as_mut().expect("a graph run").task_created(id, gt);
        e.rec.push(me, Op::Spawn { child: id });
        id
    })
}

/// Spawn a task that starts parked: it runs `f` once some task readies it (or, if `until_ns`
/// is given or later brought forward, once that virtual time comes). Not a scheduling point
/// (it changes nothing that can run now), except under `tso` when it drains stores.
pub(crate) fn spawn_parked(
    name: TaskName,
    daemon: bool,
    until_ns: Option<i64>,
    f: Box<dyn FnOnce()>,
) -> u32 {
    if graph_ops::active() {
        // It starts with its park: a wait for `ready` or, with a time, a time-out.
        let body = Box::new(move || {
            if !graph_ops::park_wait(until_ns) {
                with(|e| {
                    let me = e.cur;
                    e.rec.push(me, Op::Unpark { timed_out: false });
                });
            }
            f()
        });
        return graph_spawn(name, daemon, body);
    }
    drain_point();
    check_live_tasks();
    with(|e| {
        e.drain();
        let me = e.cur;
        let id = e.new_task(name, daemon, f, Some(me));
        e.tasks[id as usize].status = Status::Parked { until: until_ns };
        e.event(Op::Spawn { child: id });
        id
    })
}

/// Bring the end of task `t`'s timed wait forward to `until_ns` (if that is earlier): a
/// parked task wakes by itself then (Go: waking the timer thread for an earlier timer). If
/// `t` is not parked yet, the time applies to its next park. Not a scheduling point and no
/// synchronisation (the two tasks synchronise through whatever guards the shared state).
pub(crate) fn bring_forward(t: u32, until_ns: i64) {
    if graph_ops::active() {
        // A graph run has no global clock: wake the task, which parks again with the
        // earlier time (a relaxed wake-up: no synchronisation, as here).
        graph_ops::ready(t, crate::engine::event::Ord::Relaxed);
        return;
    }
    with(|e| {
        let now = e.now_ns;
        let task = &mut e.tasks[t as usize];
        match task.status {
            Status::Parked { until } => {
                let u = until.map_or(until_ns, |u| u.min(until_ns));
                if u <= now {
                    task.status = Status::Runnable;
                    task.timed_out = true;
                } else {
                    task.status = Status::Parked { until: Some(u) };
                }
            }
            Status::Finished => {}
            _ => {
                task.wake_by = Some(task.wake_by.map_or(until_ns, |w| w.min(until_ns)));
            }
        }
    })
}

/// Wait for task `t` to finish, then acquire its final clock. Not a scheduling point unless
/// it blocks (whether `t` has finished is fixed by the choices before it), or under `tso`
/// when it drains stores.
#[track_caller]
pub(crate) fn join(t: u32) {
    let site = Location::caller();
    if graph_ops::active() {
        with(|e| {
            let me = e.cur as usize;
            e.tasks[me].site = Some(site);
        });
        graph_ops::join(t);
        return;
    }
    drain_point();
    let mut first = true;
    loop {
        let blocked = with(|e| {
            e.drain();
            let me = e.cur;
            if e.tasks[t as usize].status == Status::Finished || e.aborting {
                let fin = e.mem.clock(t).clone();
                e.mem.acquire(me, &fin);
                e.event(Op::Join { child: t });
                None
            } else {
                if first {
                    e.rec.push(me, Op::JoinBlocked { child: t });
                }
                e.tasks[me as usize].status = Status::BlockedJoin(t);
                Some(e.block(site))
            }
        });
        first = false;
        match blocked {
            None => return,
            Some(y) => suspend(y),
        }
    }
}

/// Let others run; the next choice prefers any other task (without counting a preemption).
pub(crate) fn yield_now() {
    if graph_ops::active() {
        // No schedule to influence (a graph run explores every order anyway); it ends a
        // spin loop's iteration.
        graph_ops::spin_point();
        return;
    }
    with(|e| {
        let me = e.cur as usize;
        e.tasks[me].yielded = true;
    });
    yield_point();
    with(|e| {
        e.drain();
        e.event(Op::Yield);
    });
}

/// How a park ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The commit step said not to stay parked.
    NotParked,
    /// Some task called `ready`.
    Readied,
    /// The park's time ran out.
    TimedOut,
}

/// Go's `gopark`: deschedule the running task, run `commit` as its own step, and stay parked
/// (until [`ready`], or until virtual time `until_ns` if given) if it returns true.
#[track_caller]
pub(crate) fn park(
    reason: &'static str,
    until_ns: Option<i64>,
    commit: impl FnOnce() -> bool,
) -> Wake {
    let site = Location::caller();
    if graph_ops::active() {
        return graph_park(reason, until_ns, site, commit);
    }
    yield_point();
    with(|e| {
        e.drain();
        let me = e.cur as usize;
        let t = &mut e.tasks[me];
        t.status = Status::Parking;
        t.park_reason = reason;
        t.site = Some(site);
        t.timed_out = false;
        e.event(Op::Park { until_ns });
    });
    // The commit is a step of its own: others may run between the deschedule and it.
    yield_point();
    let stay = commit();
    let blocked = with(|e| {
        e.event(Op::ParkCommit { stays: stay });
        // A deadline brought forward while the task was on its way to park applies now.
        let until_ns = match (until_ns, e.tasks[e.cur as usize].wake_by.take()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let now = e.now_ns;
        let aborting = e.aborting;
        let me = e.cur;
        let t = &mut e.tasks[me as usize];
        if !stay || aborting {
            t.status = Status::Runnable;
            return Err(Wake::NotParked);
        }
        if std::mem::take(&mut t.wake_pending) {
            t.status = Status::Runnable;
            let vc = std::mem::take(&mut t.park_vc);
            e.mem.acquire(me, &vc);
            e.tasks[me as usize].park_vc = vc;
            return Err(Wake::Readied);
        }
        if until_ns.is_some_and(|u| u <= now) {
            t.status = Status::Runnable;
            return Err(Wake::TimedOut);
        }
        t.status = Status::Parked { until: until_ns };
        Ok(e.block(site))
    });
    match blocked {
        Err(w) => w,
        Ok(y) => {
            suspend(y);
            with(|e| {
                let me = e.cur;
                let t = &mut e.tasks[me as usize];
                let timed_out = std::mem::take(&mut t.timed_out);
                let vc = std::mem::take(&mut t.park_vc);
                e.mem.acquire(me, &vc);
                e.tasks[me as usize].park_vc = vc;
                e.event(Op::Unpark { timed_out });
                if timed_out {
                    Wake::TimedOut
                } else {
                    Wake::Readied
                }
            })
        }
    }
}

/// `park` in a graph run.
fn graph_park(
    reason: &'static str,
    until_ns: Option<i64>,
    site: &'static Location<'static>,
    commit: impl FnOnce() -> bool,
) -> Wake {
    with(|e| {
        let me = e.cur as usize;
        let t = &mut e.tasks[me];
        t.park_reason = reason;
        t.site = Some(site);
        e.rec.push(me as u32, Op::Park { until_ns });
    });
    let stay = commit();
    with(|e| {
        let me = e.cur;
        e.rec.push(me, Op::ParkCommit { stays: stay });
    });
    if !stay {
        return Wake::NotParked;
    }
    let timed_out = graph_ops::park_wait(until_ns);
    with(|e| {
        let me = e.cur;
        e.rec.push(me, Op::Unpark { timed_out });
    });
    if timed_out {
        Wake::TimedOut
    } else {
        Wake::Readied
    }
}

/// Go's `goready`: make parked task `t` runnable (or remember the wake-up if it has not
/// finished parking). A scheduling point.
pub(crate) fn ready(t: u32) {
    if graph_ops::active() {
        graph_ops::ready(t, crate::engine::event::Ord::Release);
        return;
    }
    yield_point();
    with(|e| {
        e.drain();
        let me = e.cur;
        let clock = e.mem.clock(me).clone();
        e.event(Op::Ready { target: t });
        let target = &mut e.tasks[t as usize];
        target.park_vc.join(&clock);
        match target.status {
            Status::Parked { .. } => {
                target.status = Status::Runnable;
                target.timed_out = false;
            }
            Status::Finished => {}
            _ => target.wake_pending = true,
        }
    })
}

/// Sleep `ns` nanoseconds of virtual time. A scheduling point.
#[track_caller]
pub(crate) fn sleep_ns(ns: i64) {
    let site = Location::caller();
    if graph_ops::active() {
        let _ = site;
        graph_ops::sleep_ns(ns);
        return;
    }
    yield_point();
    let blocked = with(|e| {
        e.drain();
        let until = e.now_ns.saturating_add(ns.max(0));
        e.event(Op::Sleep { until_ns: until });
        if ns <= 0 || e.aborting {
            return None;
        }
        let me = e.cur as usize;
        e.tasks[me].status = Status::Sleeping(until);
        Some(e.block(site))
    });
    if let Some(y) = blocked {
        suspend(y);
    }
}

/// Current virtual time. Not a step (time only changes when every task is blocked).
pub(crate) fn now_ns() -> i64 {
    if graph_ops::active() {
        return graph_ops::now_ns();
    }
    with(|e| e.now_ns)
}

/// Whether the execution is being torn down (a daemon should return).
pub(crate) fn shutting_down() -> bool {
    with(|e| e.aborting)
}

/// The running task's id.
pub(crate) fn current() -> u32 {
    with(|e| e.cur)
}

/// Task `t`'s name, and whether it was given none (a `std` thread's name is then `None`).
pub(crate) fn task_name(t: u32) -> (TaskName, bool) {
    with(|e| {
        let task = &e.tasks[t as usize];
        (task.name.clone(), task.anonymous)
    })
}

/// Task `t` was spawned without a name (its log still calls it something).
pub(crate) fn set_anonymous(t: u32) {
    with(|e| e.tasks[t as usize].anonymous = true)
}

/// Whether task `t` has finished. A scheduling point.
pub(crate) fn is_finished(t: u32) -> bool {
    if graph_ops::active() {
        return graph_ops::is_finished(t);
    }
    yield_point();
    with(|e| e.tasks[t as usize].status == Status::Finished)
}

/// A choice made by the check or its platform (`n` options). Not a scheduling point.
pub(crate) fn user_choice(n: usize) -> usize {
    if graph_ops::active() {
        if n <= 1 {
            return 0;
        }
        let c = graph_ops::choice(n as u32);
        with(|e| {
            let me = e.cur;
            e.rec.push(
                me,
                Op::UserChoice {
                    chosen: c,
                    of: n as u32,
                },
            );
        });
        return c as usize;
    }
    with(|e| {
        e.stream.current = e.cur;
        e.stream.step = e.rec.step;
        let c = e.stream.draw(ChoiceKind::User, n, &[], false);
        if n > 1 {
            let me = e.cur;
            e.rec.push(
                me,
                Op::UserChoice {
                    chosen: c as u32,
                    of: n as u32,
                },
            );
        }
        c
    })
}

/// Fail the run now: checker `checker` found `message`.
pub(crate) fn fail_check(checker: &str, message: String) {
    with(|e| {
        e.fail(Failure::Checker {
            checker: checker.to_string(),
            message,
        })
    });
    // Stop the task at once: the engine unwinds it.
    yield_point();
}

/// Register the deadlock describer of the running execution.
pub(crate) fn set_deadlock_hook(h: Rc<dyn Fn(u32) -> Option<String>>) {
    with(|e| e.deadlock_hook = Some(h));
}

/// Register a named check of the running execution's quiescent points.
pub(crate) fn add_quiet_check(checker: String, h: super::exec::QuietFn) {
    with(|e| e.quiet_checks.push((checker, h)));
}

/// Task `t`'s name as text (empty for an unknown task).
pub(crate) fn task_label(t: u32) -> String {
    with(|e| {
        e.tasks
            .get(t as usize)
            .map_or_else(String::new, |t| t.name.to_string())
    })
}

/// Mark task `t` as a system task (see `sched::mark_system`).
pub(crate) fn mark_system(t: u32) {
    with(|e| {
        if let Some(task) = e.tasks.get_mut(t as usize) {
            task.system = true;
        }
    })
}

/// Register a named check of the running execution's final state.
pub(crate) fn add_end_check(checker: String, h: Rc<dyn Fn() -> Option<String>>) {
    with(|e| e.end_checks.push((checker, h)));
}

// ---- memory accesses ------------------------------------------------------------------

/// Atomic load. A scheduling point.
pub(crate) fn load(loc: u32, ord: Ordering) -> u64 {
    if graph_ops::active() {
        return graph_ops::load(loc, ord.into());
    }
    yield_point();
    with(|e| {
        let me = e.cur;
        e.stream.current = me;
        e.stream.step = e.rec.step;
        e.mem.load(me, loc, ord, &mut e.stream, &mut e.rec)
    })
}

/// Atomic store. A scheduling point.
pub(crate) fn store(loc: u32, val: u64, ord: Ordering) {
    if graph_ops::active() {
        return graph_ops::store(loc, val, ord.into());
    }
    yield_point();
    with(|e| {
        let me = e.cur;
        e.mem.store(me, loc, val, ord, &mut e.rec)
    })
}

/// Read-modify-write; `f` gives the new value, or `None` for a failed compare-exchange
/// (which happens exactly when the value read is not `expected`, if given; without it `f`
/// always gives one). A scheduling point.
pub(crate) fn rmw(
    loc: u32,
    success: Ordering,
    failure: Ordering,
    expected: Option<u64>,
    f: impl Fn(u64) -> Option<u64> + Clone + 'static,
) -> Result<u64, u64> {
    if graph_ops::active() {
        return graph_ops::rmw(loc, success.into(), failure.into(), expected, f);
    }
    yield_point();
    with(|e| {
        let me = e.cur;
        e.mem.rmw(me, loc, success, failure, f, &mut e.rec)
    })
}

/// A fence. A scheduling point.
pub(crate) fn fence(ord: Ordering) {
    if graph_ops::active() {
        return graph_ops::fence(ord.into());
    }
    yield_point();
    with(|e| {
        let me = e.cur;
        e.mem.fence(me, ord, &mut e.rec)
    })
}

/// The newest value of `loc`, outside the model: no step, no event.
pub(crate) fn peek(loc: u32) -> u64 {
    if graph_ops::active() {
        return graph_ops::peek(loc);
    }
    with(|e| e.mem.peek(loc))
}

/// Report a data race at the running task's access (when the run asks for it).
fn on_race(e: &mut super::exec::Exec, loc: u32, other: Option<u32>) {
    if let (Some(other), true) = (other, e.cfg.fail_on_race) {
        let location = e.location_name(loc);
        let (task, step) = (e.cur, e.rec.step);
        e.fail(Failure::DataRace {
            location,
            task,
            other,
            step,
        });
    }
}

/// Read a plain cell. A scheduling point.
pub(crate) fn plain_read(loc: u32) -> u64 {
    if graph_ops::active() {
        return graph_ops::plain_read(loc);
    }
    yield_point();
    with(|e| {
        let me = e.cur;
        e.stream.current = me;
        e.stream.step = e.rec.step;
        let (v, race) = e.mem.plain_read(me, loc, &mut e.stream, &mut e.rec);
        on_race(e, loc, race);
        v
    })
}

/// Write a plain cell whose writes `guard` (a lock) protects, if any. A scheduling point.
/// A write without the guard held fails the run.
#[track_caller]
pub(crate) fn plain_write(loc: u32, val: u64, guard: Option<u32>) {
    let site = Location::caller();
    let graph = graph_ops::active();
    if !graph {
        yield_point();
    }
    with(|e| {
        let me = e.cur;
        if let Some(g) = guard {
            if !e.aborting && !e.locks.held_by(g, me) {
                let lock = e.location_name(e.locks.get(g).loc);
                let field = e.location_name(loc);
                let name = e.tasks[me as usize].name.to_string();
                e.fail(Failure::UnprotectedWrite {
                    field,
                    lock,
                    task: me,
                    name,
                    site: site.to_string(),
                });
            }
        }
        if graph {
            return;
        }
        let race = e.mem.plain_write(me, loc, val, &mut e.rec);
        on_race(e, loc, race);
    });
    if graph {
        graph_ops::plain_write(loc, val);
    }
}

/// A new location holding `init`.
pub(crate) fn new_location(name: crate::engine::event::LocName, init: u64) -> u32 {
    with(|e| e.new_location(name, init))
}

/// The number of locations so far (to name unnamed ones).
pub(crate) fn location_count() -> u32 {
    with(|e| e.mem.location_count())
}
