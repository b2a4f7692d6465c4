//! The engine: one execution of a test closure, its tasks on coroutines, the choice log, the
//! event log, vector clocks, virtual time.
//!
//! All tasks of an execution run on the calling OS thread, each on its own corosensei
//! coroutine. A task yields to the engine before every operation another task could observe
//! (a *step*); the engine then draws the next task to run from the one choice source. The
//! state of the execution lives in a thread-local [`Exec`], reached through [`with`]; a task
//! never holds a borrow of it across a switch.

pub(crate) mod log;
pub(crate) mod vc;

use crate::explore::{ChoiceCtx, ChoiceSource};
use crate::memory::Memory;
use crate::report::{BlockedTask, Failure};
use crate::MemoryModel;
use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use log::{Choice, ChoiceKind, Event, EventLog, Op, NONE};
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::rc::Rc;
use vc::{slot, VClock, MAX_TASKS};

/// Stack size of a task's coroutine. Stacks are pooled per OS thread and reused.
const STACK_SIZE: usize = 256 * 1024;

type Yld = Yielder<bool, ()>;
type Coro = Coroutine<bool, (), (), DefaultStack>;

/// The payload that unwinds an aborted task's stack (never reported as a panic).
struct Abort;

/// A task's scheduling state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// May be chosen to run.
    Runnable,
    /// Waits for lock `id`.
    BlockedLock(u32),
    /// Waits for task `id` to finish.
    BlockedJoin(u32),
    /// Descheduled by `park`, its commit step not yet run (it still counts as runnable: the
    /// commit is the next step it takes).
    Parking,
    /// Parked until some task readies it.
    Parked,
    /// Asleep until the virtual time.
    Sleeping(i64),
    /// Its function returned.
    Finished,
}

/// Per-task state: scheduling plus the memory model's clocks.
pub(crate) struct Task {
    pub(crate) name: &'static str,
    pub(crate) status: Status,
    /// Happens-before clock.
    pub(crate) clock: VClock,
    /// What relaxed loads acquired, made visible by an acquire fence.
    pub(crate) fence_acq: VClock,
    /// The clock at the last release fence, released by relaxed stores.
    pub(crate) fence_rel: VClock,
    /// Per task: the SC writes this task must not read past (via SC fences).
    pub(crate) write_sc: VClock,
    /// Per task: the stores an SC load must not read past (via SC fences).
    pub(crate) read_sc: VClock,
    /// Released by `ready`, acquired when the task resumes from `park`.
    park_vc: VClock,
    /// A `ready` arrived while the task was not (yet) parked.
    wake_pending: bool,
    /// This task's coroutine yielder, valid while its coroutine is alive.
    yielder: *const Yld,
    /// Where it blocked, for deadlock reports.
    site: Option<&'static Location<'static>>,
    /// What it parked for (`park`'s reason).
    park_reason: &'static str,
    /// It just called `yield_now`: prefer others at the next choice.
    yielded: bool,
}

/// A pending virtual-time timer; its callback runs as a new task when it fires.
struct Timer {
    id: u64,
    when_ns: i64,
    name: &'static str,
    f: Box<dyn FnOnce()>,
    /// The arming task's clock: arming happens-before the callback (as Go's timer lock gives).
    clock: VClock,
}

/// Per-execution configuration.
#[derive(Clone, Copy)]
pub(crate) struct ExecConfig {
    pub(crate) memory: MemoryModel,
    pub(crate) max_steps: u64,
    pub(crate) fail_on_race: bool,
    /// Fault probabilities for platforms built on the engine (the simulated fds).
    pub(crate) faults: crate::Faults,
}

/// Virtual time at the start of every execution (Go's `nanotime` is never 0).
pub(crate) const START_TIME_NS: i64 = 1_000_000_000;

/// The state of the running execution.
pub(crate) struct Exec {
    pub(crate) cfg: ExecConfig,
    pub(crate) tasks: Vec<Task>,
    /// The running task.
    pub(crate) cur: u32,
    /// The task the running one chose to switch to (set when it suspends at a yield point).
    next: Option<u32>,
    pub(crate) step: u64,
    pub(crate) aborting: bool,
    pub(crate) failure: Option<Failure>,
    pub(crate) mem: Memory,
    source: Box<dyn ChoiceSource>,
    pub(crate) choices: Vec<Choice>,
    pub(crate) events: Vec<Event>,
    runnable: Vec<u32>,
    pending: Vec<Option<Box<dyn FnOnce()>>>,
    pub(crate) now_ns: i64,
    timers: Vec<Timer>,
    next_timer_id: u64,
    pub(crate) races: u64,
    deadlock_hook: Option<Rc<dyn Fn(u32) -> Option<String>>>,
    /// Checks run when every task has finished (outside the model: they may only peek).
    end_checks: Vec<Rc<dyn Fn() -> Option<String>>>,
}

thread_local! {
    static EXEC: RefCell<Option<Box<Exec>>> = const { RefCell::new(None) };
    /// True while a task's coroutine runs on this thread (the panic hook stays quiet then).
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
    /// Where the last task panic happened, captured by the panic hook.
    static PANIC_SITE: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Coroutine stacks kept for reuse by later executions on this thread.
    static STACK_POOL: RefCell<Vec<DefaultStack>> = const { RefCell::new(Vec::new()) };
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

/// Suspend the running task and switch to the engine. Unwinds the task if the engine is
/// aborting the execution.
fn suspend(y: *const Yld) {
    // SAFETY: `y` is the yielder of the running task's coroutine; it lives on that coroutine's
    // stack, which stays valid while the coroutine runs, and we are running inside it (only the
    // running task reaches a suspend: every path takes the pointer of `tasks[cur]`).
    let abort = unsafe { (*y).suspend(()) };
    if abort {
        std::panic::resume_unwind(Box::new(Abort));
    }
}

/// A scheduling point: the engine may run other tasks before the caller continues.
#[inline]
pub(crate) fn yield_point() {
    if let Some(y) = with(|e| e.at_yield_point()) {
        suspend(y);
    }
}

impl Exec {
    fn new(cfg: ExecConfig, source: Box<dyn ChoiceSource>) -> Exec {
        Exec {
            cfg,
            tasks: Vec::new(),
            cur: 0,
            next: None,
            step: 0,
            aborting: false,
            failure: None,
            mem: Memory::new(cfg.memory),
            source,
            choices: Vec::new(),
            events: Vec::new(),
            runnable: Vec::new(),
            pending: Vec::new(),
            now_ns: START_TIME_NS,
            timers: Vec::new(),
            next_timer_id: 0,
            races: 0,
            deadlock_hook: None,
            end_checks: Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.tasks.clear();
        self.cur = 0;
        self.next = None;
        self.step = 0;
        self.aborting = false;
        self.failure = None;
        self.mem.reset();
        self.choices.clear();
        self.events.clear();
        self.pending.clear();
        self.now_ns = START_TIME_NS;
        self.timers.clear();
        self.next_timer_id = 0;
        self.races = 0;
        self.deadlock_hook = None;
        self.end_checks.clear();
    }

    /// Append an event of the running task.
    #[inline]
    pub(crate) fn log(&mut self, mut ev: Event) {
        ev.step = self.step as u32;
        self.events.push(ev);
    }

    /// A new event of the running task.
    #[inline]
    pub(crate) fn ev(&self, op: Op) -> Event {
        Event::new(self.step as u32, self.cur, op)
    }

    /// After each event: the running task's own clock advances.
    #[inline]
    pub(crate) fn tick(&mut self) {
        let s = slot(self.cur);
        let t = &mut self.tasks[self.cur as usize];
        t.clock.set(s, t.clock.get(s) + 1);
    }

    /// Record a failure (the first one wins); the engine aborts at the next switch.
    pub(crate) fn fail(&mut self, f: Failure) {
        if self.failure.is_none() {
            self.failure = Some(f);
        }
    }

    /// Draw one choice from the source. Choices with one option are not drawn.
    pub(crate) fn choose(&mut self, kind: ChoiceKind, n: usize, preemptive: bool) -> usize {
        if n <= 1 || self.aborting {
            return 0;
        }
        let ctx = ChoiceCtx {
            kind,
            n,
            tasks: if kind == ChoiceKind::Schedule {
                &self.runnable
            } else {
                &[]
            },
            preemptive,
            current: self.cur,
            step: self.step,
        };
        let c = self.source.choose(&ctx);
        debug_assert!(c < n);
        self.choices.push(Choice {
            kind,
            n: n as u32,
            chosen: c as u32,
        });
        c
    }

    fn runnable_status(s: Status) -> bool {
        matches!(s, Status::Runnable | Status::Parking)
    }

    /// Fire every timer due at the current virtual time: each becomes a new task.
    fn fire_due_timers(&mut self) {
        while let Some(i) = self.due_timer() {
            let t = self.timers.remove(i);
            self.new_task(t.name, t.f, Some(t.clock));
        }
    }

    fn due_timer(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, t) in self.timers.iter().enumerate() {
            if t.when_ns <= self.now_ns
                && best
                    .is_none_or(|b| (t.when_ns, t.id) < (self.timers[b].when_ns, self.timers[b].id))
            {
                best = Some(i);
            }
        }
        best
    }

    /// The task reached a yield point: count the step, choose who runs next. Returns the
    /// yielder to suspend on when someone else (or the engine) must run.
    fn at_yield_point(&mut self) -> Option<*const Yld> {
        if self.aborting {
            return None;
        }
        self.step += 1;
        let me = self.cur;
        let y = self.tasks[me as usize].yielder;
        if self.failure.is_some() {
            return Some(y);
        }
        if self.step > self.cfg.max_steps {
            self.fail(Failure::StepLimit {
                max_steps: self.cfg.max_steps,
            });
            return Some(y);
        }
        if !self.timers.is_empty() {
            self.fire_due_timers();
        }
        let yielded = std::mem::take(&mut self.tasks[me as usize].yielded);
        self.runnable.clear();
        if !yielded {
            self.runnable.push(me);
        }
        for (i, t) in self.tasks.iter().enumerate() {
            if i as u32 != me && Self::runnable_status(t.status) {
                self.runnable.push(i as u32);
            }
        }
        if yielded {
            self.runnable.push(me);
        }
        let pick = self.choose(ChoiceKind::Schedule, self.runnable.len(), !yielded);
        let next = self.runnable[pick];
        if self.mem.buffered != 0 {
            // TSO: buffered stores may reach memory before the chosen task's step.
            self.tso_flush_choices(Some(next));
        }
        if next == me {
            None
        } else {
            self.next = Some(next);
            Some(y)
        }
    }

    /// The engine must pick a task because the running one blocked or finished.
    fn pick_idle(&mut self) -> Idle {
        loop {
            self.fire_due_timers();
            self.runnable.clear();
            for (i, t) in self.tasks.iter().enumerate() {
                if Self::runnable_status(t.status) {
                    self.runnable.push(i as u32);
                }
            }
            if !self.runnable.is_empty() {
                let pick = self.choose(ChoiceKind::Schedule, self.runnable.len(), false);
                let next = self.runnable[pick];
                if self.mem.buffered != 0 {
                    self.tso_flush_choices(Some(next));
                }
                return Idle::Run(next);
            }
            if self.mem.buffered != 0 {
                // TSO: when no task can run, the store buffers drain before time advances
                // or a deadlock is declared.
                self.tso_flush_choices(None);
            }
            // Nobody can run: advance virtual time to the next sleeper or timer.
            let mut wake: Option<i64> = self.timers.iter().map(|t| t.when_ns).min();
            for t in &self.tasks {
                if let Status::Sleeping(until) = t.status {
                    wake = Some(wake.map_or(until, |w| w.min(until)));
                }
            }
            if let Some(w) = wake {
                self.now_ns = self.now_ns.max(w);
                let now = self.now_ns;
                for t in &mut self.tasks {
                    if matches!(t.status, Status::Sleeping(u) if u <= now) {
                        t.status = Status::Runnable;
                    }
                }
                let mut ev = Event::new(self.step as u32, NONE, Op::TimeAdvance);
                ev.written = Some(now as u64);
                self.events.push(ev);
                continue;
            }
            if self.tasks.iter().all(|t| t.status == Status::Finished) {
                return Idle::Done;
            }
            return Idle::Deadlock;
        }
    }

    /// Create a task that will run `f`; its clock starts from `parent` (the spawner's clock, or
    /// the clock a timer was armed with).
    pub(crate) fn new_task(
        &mut self,
        name: &'static str,
        f: Box<dyn FnOnce()>,
        parent: Option<VClock>,
    ) -> u32 {
        let id = self.tasks.len() as u32;
        assert!(
            (id as usize) < MAX_TASKS,
            "netpoll-sim: more than {MAX_TASKS} tasks in one execution"
        );
        let mut clock = parent.unwrap_or(VClock::ZERO);
        clock.set(slot(id), 1);
        self.tasks.push(Task {
            name,
            status: Status::Runnable,
            clock,
            fence_acq: VClock::ZERO,
            fence_rel: VClock::ZERO,
            write_sc: VClock::ZERO,
            read_sc: VClock::ZERO,
            park_vc: VClock::ZERO,
            wake_pending: false,
            yielder: std::ptr::null(),
            site: None,
            park_reason: "",
            yielded: false,
        });
        self.pending.push(Some(f));
        self.source.new_task(id);
        id
    }

    fn task_finished(&mut self, id: u32) {
        self.tasks[id as usize].status = Status::Finished;
        self.tasks[id as usize].yielder = std::ptr::null();
        if !self.aborting {
            // TSO: a task's end goes through the scheduler (locked instructions).
            self.tso_drain(id);
            let ev = Event::new(self.step as u32, id, Op::Finish);
            self.events.push(ev);
        }
        for t in &mut self.tasks {
            if t.status == Status::BlockedJoin(id) {
                t.status = Status::Runnable;
            }
        }
    }

    /// Block the running task (its status already set); returns the yielder to suspend on.
    fn block(&mut self, site: &'static Location<'static>) -> Option<*const Yld> {
        let t = &mut self.tasks[self.cur as usize];
        t.site = Some(site);
        self.next = None;
        Some(t.yielder)
    }

    fn blocked_tasks(&self) -> Vec<BlockedTask> {
        let mut out = Vec::new();
        for (i, t) in self.tasks.iter().enumerate() {
            let state = match t.status {
                Status::Finished => continue,
                Status::Runnable | Status::Parking => "runnable".to_string(),
                Status::BlockedLock(l) => {
                    let lk = &self.mem.locks[l as usize];
                    match lk.owner {
                        Some(o) => format!("blocked on lock {} held by task {o}", lk.name),
                        None => format!("blocked on lock {}", lk.name),
                    }
                }
                Status::BlockedJoin(j) => format!("joining task {j}"),
                Status::Parked => format!("parked ({})", t.park_reason),
                Status::Sleeping(u) => format!("sleeping until {u}ns"),
            };
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

    /// The event log with names resolved.
    pub(crate) fn event_log(&self) -> EventLog {
        EventLog {
            tasks: self.tasks.iter().map(|t| t.name.to_string()).collect(),
            locations: self.mem.location_names(),
            events: self.events.clone(),
        }
    }
}

enum Idle {
    Run(u32),
    Done,
    Deadlock,
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

/// What one schedule did.
pub(crate) struct Outcome {
    pub(crate) steps: u64,
    pub(crate) races: u64,
    pub(crate) failure: Option<Failure>,
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
        EXEC.with(|c| {
            let mut b = c.borrow_mut();
            assert!(b.is_none(), "netpoll-sim: simulations cannot be nested");
            *b = Some(Box::new(Exec::new(cfg, source)));
        });
        let stacks = STACK_POOL.with(|p| std::mem::take(&mut *p.borrow_mut()));
        Engine {
            coros: Vec::new(),
            stacks,
        }
    }

    /// Access the installed state (between schedules).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Exec) -> R) -> R {
        with(f)
    }

    /// Start schedule `index`; false when the strategy is exhausted.
    pub(crate) fn begin(&mut self, index: u64) -> bool {
        with(|e| e.source.begin(index))
    }

    /// Run one schedule of `f` (a fresh execution).
    pub(crate) fn run(&mut self, f: &Rc<dyn Fn()>) -> Outcome {
        with(|e| e.reset());
        let main = f.clone();
        with(|e| e.new_task("main", Box::new(move || main()), None));
        let mut next = Some(0u32);
        loop {
            let t = match next.take() {
                Some(t) => t,
                None => match with(|e| e.pick_idle()) {
                    Idle::Run(t) => t,
                    Idle::Done => {
                        self.run_end_checks();
                        break;
                    }
                    Idle::Deadlock => {
                        self.report_deadlock();
                        break;
                    }
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
        with(|e| {
            e.source.end(e.step);
            if let Some(msg) = e.source.divergence() {
                e.failure = Some(Failure::ReplayDiverged { message: msg });
            }
            Outcome {
                steps: e.step,
                races: e.races,
                failure: e.failure.clone(),
            }
        })
    }

    /// Every task finished: run the registered end checks; the first complaint fails the run.
    fn run_end_checks(&mut self) {
        let checks = with(|e| e.end_checks.clone());
        for check in checks {
            if let Some(message) = check() {
                with(|e| e.fail(Failure::EndCheck { message }));
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

    fn resume(&mut self, t: u32, abort: bool) {
        let idx = t as usize;
        if self.coros.len() <= idx {
            self.coros.resize_with(idx + 1, || None);
        }
        if self.coros[idx].is_none() {
            let Some(f) = with(|e| e.pending.get_mut(idx).and_then(Option::take)) else {
                return;
            };
            let stack = match self.stacks.pop() {
                Some(s) => s,
                None => DefaultStack::new(STACK_SIZE).expect("netpoll-sim: cannot map a stack"),
            };
            self.coros[idx] = Some(Coroutine::with_stack(stack, move |y: &Yld, abort: bool| {
                if abort {
                    return;
                }
                with(|e| {
                    e.tasks[idx].yielder = y as *const Yld;
                    let ev = e.ev(Op::Start);
                    e.log(ev);
                });
                let body = move || {
                    f();
                    // TSO: a task's end drains its buffer; before that, others may run while
                    // its last stores are still buffered (no such point in other modes).
                    if with(|e| e.tso_has_buffered(e.cur)) {
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
        }
        with(|e| e.cur = t);
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

    /// Unwind every unfinished task (after a failure or deadlock), reclaiming stacks.
    fn abort_all(&mut self) {
        with(|e| e.aborting = true);
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
        with(|e| e.pending.clear());
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for c in &mut self.coros {
            *c = None;
        }
        let stacks = std::mem::take(&mut self.stacks);
        STACK_POOL.with(|p| p.borrow_mut().extend(stacks));
        EXEC.with(|c| c.borrow_mut().take());
    }
}

// ---- task operations (called from inside tasks) ------------------------------------------

/// Spawn a task running `f`; returns its id. A step.
pub(crate) fn spawn(name: &'static str, f: Box<dyn FnOnce()>) -> u32 {
    yield_point();
    with(|e| {
        e.tso_drain(e.cur);
        let parent = e.tasks[e.cur as usize].clock;
        let id = e.new_task(name, f, Some(parent));
        let mut ev = e.ev(Op::Spawn);
        ev.other = id;
        e.log(ev);
        e.tick();
        id
    })
}

/// Wait for task `t` to finish, then acquire its final clock. A step.
#[track_caller]
pub(crate) fn join(t: u32) {
    let site = Location::caller();
    yield_point();
    let mut first = true;
    loop {
        let blocked = with(|e| {
            e.tso_drain(e.cur);
            if e.tasks[t as usize].status == Status::Finished || e.aborting {
                let fin = e.tasks[t as usize].clock;
                let me = e.cur as usize;
                e.tasks[me].clock.join(&fin);
                let mut ev = e.ev(Op::Join);
                ev.other = t;
                e.log(ev);
                e.tick();
                None
            } else {
                if first {
                    let mut ev = e.ev(Op::JoinBlocked);
                    ev.other = t;
                    e.log(ev);
                }
                let me = e.cur as usize;
                e.tasks[me].status = Status::BlockedJoin(t);
                e.block(site)
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
    with(|e| {
        let me = e.cur as usize;
        e.tasks[me].yielded = true;
    });
    yield_point();
    with(|e| {
        e.tso_drain(e.cur);
        let ev = e.ev(Op::Yield);
        e.log(ev);
        e.tick();
    });
}

/// Acquire lock `id`, blocking while another task holds it. A step.
#[track_caller]
pub(crate) fn lock(id: u32) {
    let site = Location::caller();
    yield_point();
    let mut first = true;
    loop {
        let blocked = with(|e| {
            let me = e.cur;
            e.tso_drain(me);
            let lk = &mut e.mem.locks[id as usize];
            if lk.owner.is_none() || e.aborting {
                lk.owner = Some(me);
                let vc = lk.vc;
                e.tasks[me as usize].clock.join(&vc);
                let mut ev = e.ev(Op::Lock);
                ev.loc = e.mem.locks[id as usize].loc;
                e.log(ev);
                e.tick();
                None
            } else {
                if first {
                    let (loc, owner) = (lk.loc, lk.owner.unwrap_or(NONE));
                    let mut ev = e.ev(Op::LockBlocked);
                    ev.loc = loc;
                    ev.other = owner;
                    e.log(ev);
                }
                e.tasks[me as usize].status = Status::BlockedLock(id);
                e.block(site)
            }
        });
        first = false;
        match blocked {
            None => return,
            Some(y) => suspend(y),
        }
    }
}

/// Try to acquire lock `id` without blocking. A step.
pub(crate) fn try_lock(id: u32) -> bool {
    yield_point();
    with(|e| {
        let me = e.cur;
        e.tso_drain(me);
        let lk = &mut e.mem.locks[id as usize];
        if lk.owner.is_none() {
            lk.owner = Some(me);
            let vc = lk.vc;
            e.tasks[me as usize].clock.join(&vc);
            let mut ev = e.ev(Op::Lock);
            ev.loc = e.mem.locks[id as usize].loc;
            e.log(ev);
            e.tick();
            true
        } else {
            false
        }
    })
}

/// Release lock `id` (held by the running task). A step.
pub(crate) fn unlock(id: u32) {
    yield_point();
    with(|e| {
        let me = e.cur;
        e.tso_drain(me);
        let aborting = e.aborting;
        let clock = e.tasks[me as usize].clock;
        let lk = &mut e.mem.locks[id as usize];
        if lk.owner != Some(me) && !aborting {
            panic!(
                "netpoll-sim: task {me} unlocks {} which it does not hold",
                lk.name
            );
        }
        lk.owner = None;
        lk.vc = clock;
        let loc = lk.loc;
        for t in &mut e.tasks {
            if t.status == Status::BlockedLock(id) {
                t.status = Status::Runnable;
            }
        }
        if !aborting {
            let mut ev = e.ev(Op::Unlock);
            ev.loc = loc;
            e.log(ev);
            e.tick();
        }
    })
}

/// Go's `gopark`: deschedule the running task, run `commit` as its own step, and stay parked
/// (until [`ready`]) if it returns true.
#[track_caller]
pub(crate) fn park(reason: &'static str, commit: impl FnOnce() -> bool) {
    let site = Location::caller();
    yield_point();
    with(|e| {
        e.tso_drain(e.cur);
        let me = e.cur as usize;
        e.tasks[me].status = Status::Parking;
        e.tasks[me].park_reason = reason;
        e.tasks[me].site = Some(site);
        let ev = e.ev(Op::Park);
        e.log(ev);
        e.tick();
    });
    // The commit is a step of its own: others may run between the deschedule and it.
    yield_point();
    let stay = commit();
    let blocked = with(|e| {
        let me = e.cur as usize;
        let mut ev = e.ev(Op::ParkCommit);
        ev.written = Some(stay as u64);
        e.log(ev);
        e.tick();
        let t = &mut e.tasks[me];
        if !stay || e.aborting {
            t.status = Status::Runnable;
            None
        } else if std::mem::take(&mut t.wake_pending) {
            t.status = Status::Runnable;
            let vc = t.park_vc;
            t.clock.join(&vc);
            None
        } else {
            t.status = Status::Parked;
            e.block(site)
        }
    });
    if let Some(y) = blocked {
        suspend(y);
        with(|e| {
            let me = e.cur as usize;
            let t = &mut e.tasks[me];
            let vc = t.park_vc;
            t.clock.join(&vc);
            let ev = e.ev(Op::Unpark);
            e.log(ev);
            e.tick();
        });
    }
}

/// Go's `goready`: make parked task `t` runnable (or remember the wake-up if it has not
/// finished parking). A step.
pub(crate) fn ready(t: u32) {
    yield_point();
    with(|e| {
        e.tso_drain(e.cur);
        let me = e.cur as usize;
        let clock = e.tasks[me].clock;
        let mut ev = e.ev(Op::Ready);
        ev.other = t;
        e.log(ev);
        e.tick();
        let target = &mut e.tasks[t as usize];
        target.park_vc.join(&clock);
        match target.status {
            Status::Parked => target.status = Status::Runnable,
            Status::Finished => {}
            _ => target.wake_pending = true,
        }
    })
}

/// Sleep `ns` nanoseconds of virtual time. A step.
#[track_caller]
pub(crate) fn sleep_ns(ns: i64) {
    let site = Location::caller();
    yield_point();
    let blocked = with(|e| {
        e.tso_drain(e.cur);
        let until = e.now_ns.saturating_add(ns.max(0));
        let mut ev = e.ev(Op::Sleep);
        ev.written = Some(until as u64);
        e.log(ev);
        e.tick();
        if ns <= 0 || e.aborting {
            return None;
        }
        let me = e.cur as usize;
        e.tasks[me].status = Status::Sleeping(until);
        e.block(site)
    });
    if let Some(y) = blocked {
        suspend(y);
    }
}

/// Current virtual time. Not a step (time only changes when every task is blocked).
pub(crate) fn now_ns() -> i64 {
    with(|e| e.now_ns)
}

/// Arm a timer: at virtual time `when_ns`, `f` runs as a new task named `name`. A step.
pub(crate) fn timer_add(name: &'static str, when_ns: i64, f: Box<dyn FnOnce()>) -> u64 {
    yield_point();
    with(|e| {
        e.tso_drain(e.cur);
        let id = e.next_timer_id;
        e.next_timer_id += 1;
        let clock = e.tasks[e.cur as usize].clock;
        e.timers.push(Timer {
            id,
            when_ns,
            name,
            f,
            clock,
        });
        let mut ev = e.ev(Op::TimerAdd);
        ev.read = Some(when_ns as u64);
        ev.written = Some(id);
        e.log(ev);
        e.tick();
        id
    })
}

/// Cancel timer `id`; true if it was still pending. A step.
pub(crate) fn timer_cancel(id: u64) -> bool {
    yield_point();
    let removed = with(|e| {
        e.tso_drain(e.cur);
        let removed = e
            .timers
            .iter()
            .position(|t| t.id == id)
            .map(|i| e.timers.remove(i));
        let mut ev = e.ev(Op::TimerCancel);
        ev.read = Some(removed.is_some() as u64);
        ev.written = Some(id);
        e.log(ev);
        e.tick();
        removed
    });
    // The callback is dropped outside the engine's borrow.
    removed.is_some()
}

/// The running task's id.
pub(crate) fn current() -> u32 {
    with(|e| e.cur)
}

/// A choice made by the scenario or platform (`n` options). A step is not implied.
pub(crate) fn user_choice(n: usize) -> usize {
    with(|e| {
        let c = e.choose(ChoiceKind::User, n, false);
        if n > 1 {
            let mut ev = e.ev(Op::UserChoice);
            ev.written = Some(c as u64);
            e.log(ev);
        }
        c
    })
}

/// Register the deadlock hook of the running execution.
pub(crate) fn set_deadlock_hook(h: Rc<dyn Fn(u32) -> Option<String>>) {
    with(|e| e.deadlock_hook = Some(h));
}

/// Register a check of the running execution's final state.
pub(crate) fn add_end_check(h: Rc<dyn Fn() -> Option<String>>) {
    with(|e| e.end_checks.push(h));
}
