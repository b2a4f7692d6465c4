//! The state of the running execution, reached through [`with`].

use super::futex::Futexes;
use super::globals::Values;
use super::graph_run::GraphRun;
use super::lock::Locks;
use super::pointers::Pointers;
use super::task::{Status, Task, Yld};
use super::time::START_TIME_NS;
use super::watchdog::{self, Slot};
use crate::engine::choice::{Choice, ChoiceCtx, ChoiceKind, ChoiceSource, Chooser};
use crate::engine::event::{EventLog, LocName, Op, Recorder, TaskName};
use crate::engine::failure::{BlockedTask, Failure};
use crate::engine::memory::{Memory, MemoryModel};
use std::cell::RefCell;
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;

/// The most steps one schedule may be allowed (a bound on memory: a schedule's log grows with
/// its steps). A trace asking for more is refused.
pub const MAX_STEPS_LIMIT: u64 = 100_000_000;

/// Per-execution configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExecConfig {
    pub(crate) memory: MemoryModel,
    pub(crate) max_steps: u64,
    /// The most tasks alive (started or not, unfinished) at once.
    pub(crate) max_live_tasks: u32,
    pub(crate) fail_on_race: bool,
}

/// The choice stream of a run: the strategy and the choices drawn so far.
pub(crate) struct Stream {
    pub(crate) source: Box<dyn ChoiceSource>,
    pub(crate) choices: Vec<Choice>,
    /// While the execution is being torn down nothing is drawn.
    pub(crate) off: bool,
    /// For the strategy's context.
    pub(crate) current: u32,
    pub(crate) step: u64,
    /// The source said the run no longer fits its choices (a replay that diverged, a
    /// depth-first search of a nondeterministic check): the run stops at its next scheduling
    /// point with this message.
    pub(crate) halt: Option<(u64, String)>,
    /// The source can diverge (a replay, a depth-first search): ask it after every choice.
    pub(crate) strict: bool,
}

impl Stream {
    /// Draw one choice (scheduling choices pass the runnable tasks). Choices with one option
    /// are neither drawn nor recorded.
    pub(crate) fn draw(
        &mut self,
        kind: ChoiceKind,
        n: usize,
        tasks: &[u32],
        preemptive: bool,
    ) -> usize {
        if n <= 1 || self.off {
            return 0;
        }
        let ctx = ChoiceCtx {
            kind,
            n,
            tasks,
            preemptive,
            current: self.current,
            step: self.step,
        };
        let c = self.source.choose(&ctx);
        if self.strict && self.halt.is_none() {
            self.halt = self.source.divergence().map(|m| (self.step, m));
        }
        let c = c.min(n - 1);
        self.choices.push(Choice {
            kind,
            n: n as u32,
            chosen: c as u32,
        });
        c
    }
}

impl Chooser for Stream {
    fn choose(&mut self, kind: ChoiceKind, n: usize) -> usize {
        self.draw(kind, n, &[], false)
    }
}

/// A hook that adds detail to a deadlock report for a blocked task.
pub(crate) type DeadlockHook = Rc<dyn Fn(u32) -> Option<String>>;
/// A named check of the final state.
pub(crate) type EndCheck = (String, Rc<dyn Fn() -> Option<String>>);
/// A check of quiescent points: a message when its property is broken.
pub(crate) type QuietFn = Rc<dyn Fn(&Quiet) -> Option<String>>;
/// A named check of a quiescent point (see [`Quiet`]).
pub(crate) type QuietCheck = (String, QuietFn);

/// A point of an execution at which checks of the platform look at its state from outside
/// the model (they may only peek): nothing can run but time, or only system tasks can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quiet {
    /// Which kind of point.
    pub kind: QuietKind,
    /// The virtual time.
    pub now_ns: i64,
    /// The earliest virtual time some task wakes by itself (a sleep, a timed park), if any.
    pub next_wake_ns: Option<i64>,
    /// Whether some task that is not a system task waits with a time limit (a sleep, a timed
    /// park): Go's "a timer is pending".
    pub timed_wait: bool,
    /// Whether some task that is not a daemon has not finished.
    pub unfinished: bool,
}

/// The kinds of quiescent points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuietKind {
    /// No task can run; next, virtual time advances (or the run ends in a deadlock). Not
    /// reached while a task waits for a lock: the deadlock report says who holds what.
    Idle,
    /// Tasks can run, but only system tasks (see `sched::mark_system`), and no task waits
    /// for a lock.
    OnlySystem,
}

/// What a finished run leaves behind that may own simulated objects (dropped outside
/// [`with`]).
pub(crate) struct Leftovers {
    _pending: Vec<Option<Box<dyn FnOnce()>>>,
    /// Per-execution values and thread-locals no task dropped, newest first.
    _values: Vec<Box<dyn std::any::Any>>,
    _hook: Option<DeadlockHook>,
    _checks: Vec<EndCheck>,
    _quiet_checks: Vec<QuietCheck>,
}

/// The state of the running execution.
pub(crate) struct Exec {
    pub(crate) cfg: ExecConfig,
    pub(crate) tasks: Vec<Task>,
    /// The running task.
    pub(crate) cur: u32,
    /// The task the running one chose to switch to (set when it suspends at a yield point).
    pub(crate) next: Option<u32>,
    /// Set once the first failure is recorded or the run is being torn down.
    pub(crate) aborting: bool,
    pub(crate) failure: Option<Failure>,
    pub(crate) mem: Memory,
    pub(crate) locks: Locks,
    pub(crate) futexes: Futexes,
    /// Values of the execution's static sync objects (see `globals`).
    pub(crate) globals: Values,
    /// The numbers atomic pointers record for addresses.
    pub(crate) pointers: Pointers,
    /// What the watchdog sees of this thread, and the task names it was told.
    pub(crate) watch: Arc<Slot>,
    pub(crate) watch_names: Vec<Option<TaskName>>,
    pub(crate) stream: Stream,
    pub(crate) rec: Recorder,
    /// Task and location names, as the event log will carry them.
    pub(crate) names: EventLog,
    /// Scratch: the runnable tasks at a choice.
    pub(crate) runnable: Vec<u32>,
    /// Bodies of created tasks not yet started.
    pub(crate) pending: Vec<Option<Box<dyn FnOnce()>>>,
    pub(crate) now_ns: i64,
    pub(crate) deadlock_hook: Option<DeadlockHook>,
    /// Checks run when every task has finished (outside the model: they may only peek).
    pub(crate) end_checks: Vec<EndCheck>,
    /// Checks run at quiescent points (outside the model: they may only peek).
    pub(crate) quiet_checks: Vec<QuietCheck>,
    /// A quiescent point reached inside the engine, whose checks run once the engine state
    /// is no longer borrowed.
    pub(crate) quiet: Option<Quiet>,
    /// In a run of the `graph` strategy: the graph being replayed and extended.
    pub(crate) graph: Option<Box<GraphRun>>,
}

thread_local! {
    static EXEC: RefCell<Option<Box<Exec>>> = const { RefCell::new(None) };
}

/// Run `f` on the current execution's state.
///
/// Panics when no simulation runs on this thread: simulated objects must be created and used
/// inside the check closure.
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&mut Exec) -> R) -> R {
    EXEC.with(|c| {
        let mut b = c.borrow_mut();
        let e = b.as_deref_mut().expect(
            "netpoll-sim: a simulated object was used outside a simulation \
             (create and use it inside the check closure)",
        );
        f(e)
    })
}

/// Install a fresh execution state on this thread (panics if one is installed).
pub(crate) fn install(cfg: ExecConfig, source: Box<dyn ChoiceSource>) {
    EXEC.with(|c| {
        let mut b = c.borrow_mut();
        assert!(b.is_none(), "netpoll-sim: simulations cannot be nested");
        *b = Some(Box::new(Exec::new(cfg, source)));
    });
}

/// Remove this thread's execution state.
pub(crate) fn uninstall() {
    // Dropping the state may drop task bodies that own simulated objects: take it out first.
    let e = EXEC.with(|c| c.borrow_mut().take());
    drop(e);
}

impl Exec {
    fn new(cfg: ExecConfig, source: Box<dyn ChoiceSource>) -> Exec {
        let source_can_diverge = source.can_diverge();
        Exec {
            cfg,
            tasks: Vec::new(),
            cur: 0,
            next: None,
            aborting: false,
            failure: None,
            mem: Memory::new(cfg.memory),
            locks: Locks::default(),
            futexes: Futexes::default(),
            globals: Values::default(),
            pointers: Pointers::default(),
            watch: watchdog::register(),
            watch_names: Vec::new(),
            stream: Stream {
                source,
                choices: Vec::new(),
                off: false,
                current: 0,
                step: 0,
                halt: None,
                strict: source_can_diverge,
            },
            rec: Recorder::default(),
            names: EventLog::default(),
            runnable: Vec::new(),
            pending: Vec::new(),
            now_ns: START_TIME_NS,
            deadlock_hook: None,
            end_checks: Vec::new(),
            quiet_checks: Vec::new(),
            quiet: None,
            graph: None,
        }
    }

    /// Forget the previous run, keeping storage. Returns what the run left behind that may
    /// own simulated objects: the caller drops it outside [`with`], since dropping such an
    /// object may call into the engine.
    pub(crate) fn reset(&mut self) -> Leftovers {
        let mut values = Vec::new();
        for t in self.tasks.iter_mut().rev() {
            values.extend(t.locals.take_all());
        }
        values.extend(self.globals.take_all());
        let left = Leftovers {
            _values: values,
            _pending: self.pending.drain(..).collect(),
            _hook: self.deadlock_hook.take(),
            _checks: std::mem::take(&mut self.end_checks),
            _quiet_checks: std::mem::take(&mut self.quiet_checks),
        };
        self.quiet = None;
        self.tasks.clear();
        self.cur = 0;
        self.next = None;
        self.aborting = false;
        self.failure = None;
        self.mem.reset();
        self.locks.reset();
        self.futexes.reset();
        self.pointers.reset();
        self.watch.new_run();
        self.stream.choices.clear();
        self.stream.off = false;
        self.stream.current = 0;
        self.stream.step = 0;
        self.stream.halt = None;
        self.rec.reset();
        self.names.clear();
        self.now_ns = START_TIME_NS;
        left
    }

    /// Record a failure (the first one wins); the engine aborts at the next switch.
    pub(crate) fn fail(&mut self, f: Failure) {
        if self.failure.is_none() {
            self.failure = Some(f);
        }
    }

    /// Draw a scheduling choice among `self.runnable`.
    pub(crate) fn choose_task(&mut self, preemptive: bool) -> u32 {
        self.stream.current = self.cur;
        self.stream.step = self.rec.step;
        let n = self.runnable.len();
        let pick = self
            .stream
            .draw(ChoiceKind::Schedule, n, &self.runnable, preemptive);
        self.runnable[pick]
    }

    /// Log an event of the running task and advance its clock.
    #[inline]
    pub(crate) fn event(&mut self, op: Op) {
        self.rec.push(self.cur, op);
        self.mem.tick(self.cur);
    }

    /// TSO: the running task goes through a locked instruction (a scheduler call, a lock):
    /// its store buffer drains.
    #[inline]
    pub(crate) fn drain(&mut self) {
        if !self.aborting {
            self.mem.drain(self.cur, &mut self.rec);
        }
    }

    /// A new location holding `init`; its name goes into the event log.
    pub(crate) fn new_location(&mut self, name: LocName, init: u64) -> u32 {
        self.names.locations.push(name);
        let l = self.mem.new_location(init);
        if let Some(g) = self.graph.as_mut() {
            g.location_created(self.cur, l, init);
        }
        l
    }

    /// Create a task that will run `f`; its history starts after `parent`'s so far.
    pub(crate) fn new_task(
        &mut self,
        name: TaskName,
        daemon: bool,
        f: Box<dyn FnOnce()>,
        parent: Option<u32>,
    ) -> u32 {
        let id = self.tasks.len() as u32;
        self.watch.named(&mut self.watch_names, id, &name);
        self.names.tasks.push(name.clone());
        self.tasks.push(Task::new(name, daemon));
        if self.graph.is_none() {
            // A graph run keeps its own happens-before: the memory model's clocks stay
            // unused (no operation of a graph run reaches them).
            self.mem.add_task(id, parent);
        }
        self.pending.push(Some(f));
        self.stream.source.new_task(id);
        id
    }

    /// Task `id`'s function returned.
    pub(crate) fn task_finished(&mut self, id: u32) {
        if let Some(g) = self.graph.as_mut() {
            g.task_finished(id);
            if !self.aborting {
                self.rec.push(id, Op::Finish);
            }
            self.tasks[id as usize].status = Status::Finished;
            self.tasks[id as usize].yielder = std::ptr::null();
            return;
        }
        if !self.aborting {
            // TSO: a task's end goes through the scheduler (locked instructions).
            self.mem.drain(id, &mut self.rec);
            self.rec.push(id, Op::Finish);
        }
        self.mem.finish_task(id);
        let t = &mut self.tasks[id as usize];
        t.status = Status::Finished;
        t.yielder = std::ptr::null();
        for t in &mut self.tasks {
            if t.status == Status::BlockedJoin(id) {
                t.status = Status::Runnable;
            }
        }
    }

    /// Block the running task (its status already set); returns the yielder to suspend on.
    pub(crate) fn block(&mut self, site: &'static Location<'static>) -> *const Yld {
        let t = &mut self.tasks[self.cur as usize];
        t.site = Some(site);
        self.next = None;
        t.yielder
    }

    /// The name of location `loc`, as shown in reports.
    pub(crate) fn location_name(&self, loc: u32) -> String {
        self.names
            .locations
            .get(loc as usize)
            .map_or_else(|| format!("loc#{loc}"), |n| n.to_string())
    }

    /// The quiescent point of kind `kind` now, if a check wants to see it.
    pub(crate) fn quiet_point(&self, kind: QuietKind) -> Option<Quiet> {
        if self.quiet_checks.is_empty() || self.aborting || self.failure.is_some() {
            return None;
        }
        Some(Quiet {
            kind,
            now_ns: self.now_ns,
            next_wake_ns: self.next_wake(),
            timed_wait: self
                .tasks
                .iter()
                .any(|t| !t.system && t.status.wakes_at().is_some()),
            unfinished: !self.only_daemons_left(),
        })
    }

    /// Whether some task waits for a lock.
    pub(crate) fn lock_wait(&self) -> bool {
        self.tasks
            .iter()
            .any(|t| matches!(t.status, Status::BlockedLock(_)))
    }

    /// Whether every task that is not a daemon has finished.
    pub(crate) fn only_daemons_left(&self) -> bool {
        self.tasks
            .iter()
            .all(|t| t.daemon || t.status == Status::Finished)
    }

    /// The unfinished tasks that are part of a deadlock: every task that is not a daemon,
    /// and daemons that are stuck on something other than their idle wait.
    pub(crate) fn blocked_tasks(&self) -> Vec<BlockedTask> {
        let mut out = Vec::new();
        for (i, t) in self.tasks.iter().enumerate() {
            let idle_daemon = t.daemon
                && matches!(
                    t.status,
                    Status::Parked { .. }
                        | Status::Sleeping(_)
                        | Status::Runnable
                        | Status::Futex { .. }
                );
            if t.status == Status::Finished || idle_daemon {
                continue;
            }
            let spinning = self.graph.as_ref().is_some_and(|g| g.spinning(i as u32));
            let mut state = match t.status {
                Status::Finished => continue,
                _ if spinning => {
                    "spinning in a loop (yield_now) on values no task will change".to_string()
                }
                Status::Runnable | Status::Parking => "runnable".to_string(),
                Status::BlockedLock(l) => self.locks.describe_wait(l, &self.names, |o| {
                    self.tasks
                        .get(o as usize)
                        .map_or_else(String::new, |t| t.name.to_string())
                }),
                Status::BlockedJoin(j) => format!("joining task {j}"),
                Status::Parked { until: None } => format!("parked ({})", t.park_reason),
                Status::Parked { until: Some(u) } => {
                    format!("parked ({}) until {u}ns", t.park_reason)
                }
                Status::Sleeping(u) => format!("sleeping until {u}ns"),
                Status::Futex { loc, until: None } => {
                    format!("waiting on {} (futex)", self.location_name(loc))
                }
                Status::Futex {
                    loc,
                    until: Some(u),
                } => format!("waiting on {} (futex) until {u}ns", self.location_name(loc)),
            };
            let held = self.locks.held_names(i as u32, &self.names);
            if !held.is_empty() {
                state.push_str(&format!(", holding {}", held.join(" and ")));
            }
            out.push(BlockedTask {
                task: i as u32,
                name: t.name.to_string(),
                state,
                site: t.site.map(|l| l.to_string()).unwrap_or_default(),
                detail: String::new(),
            });
        }
        out
    }
}
