//! The coroutine driver: runs one execution of a check, its tasks each on a corosensei
//! coroutine of the calling OS thread, switching whenever a task suspends.

use super::exec::{self, with, ExecConfig};
use super::schedule::{run_quiet_checks, yield_point, Idle};
use super::task::Yld;
use crate::engine::choice::{Choice, ChoiceSource};
use crate::engine::event::{EventLog, Op, TaskName};
use crate::engine::failure::{EngineLimit, Failure};
use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult};
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

/// Stack size of a task's coroutine. Stacks are pooled per OS thread and reused.
const STACK_SIZE: usize = 256 * 1024;

type Coro = Coroutine<bool, (), (), DefaultStack>;

/// Whether a task of a live execution is running on this thread: simulated objects dropped
/// elsewhere (when an execution is torn down, or outside any) must not touch the engine.
pub(crate) fn in_task() -> bool {
    IN_TASK.with(|t| t.get()) && super::exec::with(|e| !e.aborting)
}

/// The payload that unwinds an aborted task's stack (never reported as a panic).
pub(crate) struct Abort;

thread_local! {
    /// True while a task's coroutine runs on this thread (the panic hook stays quiet then).
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
    /// Where the last task panic happened, captured by the panic hook.
    static PANIC_SITE: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Coroutine stacks kept for reuse by later executions on this thread.
    static STACK_POOL: RefCell<Vec<DefaultStack>> = const { RefCell::new(Vec::new()) };
}

/// Install the panic hook wrapper once: panics inside simulated tasks are failures, reported
/// by the engine, so the hook records where they happened instead of printing.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_TASK.with(|t| t.get()) {
                let site = info.location().map(|l| l.to_string());
                PANIC_SITE.with(|p| *p.borrow_mut() = site);
            } else {
                prev(info);
            }
        }));
    });
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// What one run did: everything a caller needs, so nothing reaches into engine state after
/// a run. Give it back with [`Engine::recycle`] to reuse its storage.
pub(crate) struct Outcome {
    /// Scheduling points run.
    pub(crate) steps: u64,
    /// Data races seen.
    pub(crate) races: u64,
    /// Why the run failed, if it did.
    pub(crate) failure: Option<Failure>,
    /// The choices drawn, in order.
    pub(crate) choices: Vec<Choice>,
    /// The event log.
    pub(crate) log: EventLog,
    /// A graph run's state at its end.
    pub(crate) graph: Option<Box<super::graph_run::GraphRun>>,
}

/// Runs executions on the calling thread. Installs the thread-local state on creation and
/// removes it when dropped.
pub(crate) struct Engine {
    coros: Vec<Option<Coro>>,
    stacks: Vec<DefaultStack>,
}

impl Engine {
    pub(crate) fn new(cfg: ExecConfig, source: Box<dyn ChoiceSource>) -> Engine {
        install_panic_hook();
        exec::install(cfg, source);
        let stacks = STACK_POOL.with(|p| std::mem::take(&mut *p.borrow_mut()));
        Engine {
            coros: Vec::new(),
            stacks,
        }
    }

    /// Use `source` for the next schedules (the state and the stacks are kept).
    pub(crate) fn set_source(&mut self, source: Box<dyn ChoiceSource>) {
        let old = with(|e| std::mem::replace(&mut e.stream.source, source));
        drop(old);
    }

    /// Start schedule `index`; false when the strategy is exhausted.
    pub(crate) fn begin(&mut self, index: u64) -> bool {
        with(|e| e.stream.source.begin(index))
    }

    /// Give a finished run's storage back for the next run.
    pub(crate) fn recycle(&mut self, out: Outcome) {
        with(|e| {
            let mut choices = out.choices;
            choices.clear();
            e.stream.choices = choices;
            let mut log = out.log;
            let mut events = std::mem::take(&mut log.events);
            events.clear();
            e.rec.events = events;
            log.clear();
            e.names = log;
        })
    }

    /// Run one schedule of `f` (a fresh execution).
    pub(crate) fn run(&mut self, f: &Rc<dyn Fn()>) -> Outcome {
        self.run_with(f, None)
    }

    /// Run `f` replaying and extending the graph of `graph` (a `graph` strategy run).
    /// `logged`: keep the run's event log (else the outcome's log has no events: a search
    /// that shows its runs to nobody runs a failing graph again for its log).
    pub(crate) fn run_graph(
        &mut self,
        f: &Rc<dyn Fn()>,
        graph: Box<super::graph_run::GraphRun>,
        logged: bool,
    ) -> Outcome {
        self.run_with(f, Some((graph, logged)))
    }

    fn run_with(
        &mut self,
        f: &Rc<dyn Fn()>,
        graph: Option<(Box<super::graph_run::GraphRun>, bool)>,
    ) -> Outcome {
        let left = with(|e| e.reset());
        drop(left);
        let logged = graph.as_ref().is_none_or(|g| g.1);
        let graph_run = graph.is_some();
        super::graph_ops::set_active(graph_run, logged);
        with(|e| {
            e.graph = graph.map(|g| g.0);
            e.rec.muted = !logged;
        });
        let main = f.clone();
        with(|e| {
            let id = e.new_task(
                TaskName::Borrowed("main"),
                false,
                Box::new(move || main()),
                None,
            );
            if let Some(g) = e.graph.as_mut() {
                g.task_created(id, 0);
            }
        });
        let mut next = Some(0u32);
        let mut checked = false;
        loop {
            let t = match next.take() {
                Some(t) => t,
                None => match with(|e| e.pick_idle(std::mem::take(&mut checked))) {
                    Idle::Quiet => {
                        if run_quiet_checks() {
                            break;
                        }
                        checked = true;
                        continue;
                    }
                    Idle::Run(t) => {
                        // (A graph run reaches no quiescent point: its idle states are
                        // the graph's to judge.)
                        if !graph_run && run_quiet_checks() {
                            break;
                        }
                        t
                    }
                    Idle::Done => {
                        self.run_end_checks();
                        break;
                    }
                    Idle::Deadlock => {
                        self.report_deadlock();
                        break;
                    }
                    Idle::Stop => break,
                },
            };
            self.resume(t, false);
            let stop = with(|e| {
                next = e.next.take();
                e.failure.is_some()
            });
            if stop {
                break;
            }
        }
        self.abort_all();
        let out = with(|e| {
            // No task runs until the next run (the watchdog watches only while one does).
            e.watch.running(None);
            e.stream.source.end(e.rec.step);
            let halted = e.stream.halt.take();
            let late = || e.stream.source.divergence().map(|m| (None, m));
            if let Some((step, message)) = halted.map(|(s, m)| (Some(s), m)).or_else(late) {
                e.failure = Some(Failure::ReplayDiverged { step, message });
            }
            let mut log = std::mem::take(&mut e.names);
            log.events = std::mem::take(&mut e.rec.events);
            Outcome {
                steps: e.rec.step,
                races: e.mem.races,
                failure: e.failure.take(),
                choices: std::mem::take(&mut e.stream.choices),
                log,
                graph: e.graph.take(),
            }
        });
        super::graph_ops::set_active(false, false);
        out
    }

    /// Every task that is not a daemon finished: run the registered end checks; the first
    /// complaint fails the run.
    fn run_end_checks(&mut self) {
        let checks = with(|e| e.end_checks.clone());
        for (checker, check) in checks {
            if let Some(message) = check() {
                with(|e| e.fail(Failure::Checker { checker, message }));
                return;
            }
        }
    }

    fn report_deadlock(&mut self) {
        let (mut blocked, hook) = with(|e| (e.blocked_tasks(), e.deadlock_hook.clone()));
        if let Some(h) = hook {
            for b in &mut blocked {
                if let Some(d) = h(b.task) {
                    b.detail = d;
                }
            }
        }
        with(|e| e.fail(Failure::Deadlock { blocked }));
    }

    /// A stack for a new coroutine: from the pool, or newly mapped.
    fn stack(&mut self) -> Result<DefaultStack, String> {
        match self.stacks.pop() {
            Some(s) => Ok(s),
            None => DefaultStack::new(STACK_SIZE).map_err(|e| e.to_string()),
        }
    }

    fn start(&mut self, idx: usize) -> bool {
        let Some(f) = with(|e| e.pending.get_mut(idx).and_then(Option::take)) else {
            return false;
        };
        let stack = match self.stack() {
            Ok(s) => s,
            Err(err) => {
                with(|e| {
                    e.fail(Failure::EngineLimit {
                        limit: EngineLimit::CoroutineStacks,
                        detail: format!("task {idx}: {err} ({} tasks created)", e.tasks.len()),
                    })
                });
                return false;
            }
        };
        self.coros[idx] = Some(Coroutine::with_stack(stack, move |y: &Yld, abort: bool| {
            if abort {
                return;
            }
            with(|e| {
                let t = &mut e.tasks[idx];
                t.yielder = y as *const Yld;
                // A task created parked starts when readied: it acquires what the `ready`
                // released (zero for every other task).
                if e.graph.is_none() {
                    let vc = std::mem::take(&mut t.park_vc);
                    e.mem.acquire(idx as u32, &vc);
                    e.tasks[idx].park_vc = vc;
                }
                e.rec.push(idx as u32, Op::Start);
            });
            let body = move || {
                f();
                // `std` drops a thread's thread-locals when it exits; so does a task.
                super::globals::destroy_locals();
                if super::graph_ops::active() {
                    super::graph_ops::finish();
                }
                // TSO: a task's end drains its buffer; before that, others may run while
                // its last stores are still buffered (no such point in other models).
                if with(|e| e.mem.has_buffered(e.cur)) {
                    yield_point();
                }
            };
            if let Err(p) = catch_unwind(AssertUnwindSafe(body)) {
                if !p.is::<Abort>() {
                    let location = PANIC_SITE
                        .with(|s| s.borrow_mut().take())
                        .unwrap_or_default();
                    with(|e| {
                        let name = e.tasks[idx].name.to_string();
                        e.fail(Failure::Panic {
                            task: idx as u32,
                            name,
                            message: panic_message(&*p),
                            location,
                        });
                    });
                }
            }
        }));
        true
    }

    fn resume(&mut self, t: u32, abort: bool) {
        let idx = t as usize;
        if self.coros.len() <= idx {
            self.coros.resize_with(idx + 1, || None);
        }
        if self.coros[idx].is_none() && (abort || !self.start(idx)) {
            return;
        }
        with(|e| {
            e.cur = t;
            e.watch.running(Some(t));
        });
        let coro = self.coros[idx].as_mut().expect("coroutine exists");
        IN_TASK.with(|c| c.set(true));
        let r = coro.resume(abort);
        IN_TASK.with(|c| c.set(false));
        if let CoroutineResult::Return(()) = r {
            let c = self.coros[idx].take().expect("coroutine exists");
            self.stacks.push(c.into_stack());
            with(|e| e.task_finished(t));
        }
    }

    /// Unwind every unfinished task (after a failure, a deadlock, or at the end with idle
    /// daemons), reclaiming stacks.
    fn abort_all(&mut self) {
        with(|e| {
            e.aborting = true;
            e.stream.off = true;
            e.rec.muted = true;
        });
        // Daemons first, cooperatively: in a shutting-down execution nothing blocks and no
        // scheduling point switches, so a daemon that checks `sched::shutting_down` returns on
        // its own - much cheaper than unwinding its stack. One that does not is unwound below.
        let daemons: Vec<usize> = with(|e| {
            (0..self.coros.len())
                .filter(|&i| e.tasks.get(i).is_some_and(|t| t.daemon))
                .collect()
        });
        for i in daemons {
            if self.coros[i].is_some() {
                self.resume(i as u32, false);
            }
        }
        for i in 0..self.coros.len() {
            let mut tries = 0;
            while self.coros[i].is_some() {
                tries += 1;
                if tries > 3 {
                    // Should not happen: aborting yield points never suspend. Dropping the
                    // coroutine force-unwinds it; its stack is lost, not reused.
                    self.coros[i] = None;
                    break;
                }
                self.resume(i as u32, true);
            }
        }
        let mut pending = with(|e| {
            e.rec.muted = false;
            std::mem::take(&mut e.pending)
        });
        // The bodies of tasks that never started may own simulated objects: dropped here,
        // outside `with`; the emptied table goes back for the next run's tasks.
        pending.clear();
        with(|e| {
            if e.pending.is_empty() {
                e.pending = pending;
            }
        });
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for c in &mut self.coros {
            *c = None;
        }
        let stacks = std::mem::take(&mut self.stacks);
        STACK_POOL.with(|p| p.borrow_mut().extend(stacks));
        // What the last run left behind is dropped while the state is still installed.
        let left = with(|e| e.reset());
        drop(left);
        exec::uninstall();
    }
}
