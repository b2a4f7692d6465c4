//! The `graph` strategy's exploration loop: a stack of execution graphs, the empty graph
//! first. Each is run (replayed and extended on the coroutines); the run pushes the
//! alternatives the search found. Nothing remembers what was explored: every consistent
//! graph is reached exactly once by construction (TruSt), so memory is the stack.
//!
//! Also here: turning a failing run into a trace (the events in the order the run replayed
//! them, with what each chose), shrinking it to what the failure depends on, and replaying
//! such a trace.

use super::pool::BodyFactory;
use super::report::GraphCounts;
use super::runner::Observer;
use super::{Coverage, FailureInfo, Report};
use crate::engine::choice::{Choice, ChoiceCtx, ChoiceKind, ChoiceSource};
use crate::engine::failure::Failure;
use crate::engine::graph::exec_graph::Graph;
use crate::engine::graph::label::{ERef, Label};
use crate::engine::rt::{self, Engine, ExecConfig, GraphRun, Guide, Outcome, RunEnd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// The choice source of graph runs: they draw no choices.
struct NoChoices;

impl ChoiceSource for NoChoices {
    fn begin(&mut self, _: u64) -> bool {
        true
    }
    fn choose(&mut self, _: &ChoiceCtx<'_>) -> usize {
        0
    }
}

/// A deterministic split of the search into `of` parts: graphs are run breadth-first,
/// identically in every part, until at least `SPLIT_WIDTH * of` are pending; part `index`
/// then explores every `of`-th of them (and counts the runs before the split only if it is
/// part 0). A shard's part is the same whatever the number of threads that explore it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    pub(crate) index: u32,
    pub(crate) of: u32,
}

const SPLIT_WIDTH: usize = 2;

/// Pending graphs per job when the search is handed out to threads: enough that a thread
/// which drew small subtrees finds more to take while another still works on a large one.
const HANDOUT_PER_JOB: usize = 32;

/// Runs a thread counts before it adds them to the threads' shared count.
const SHARED_COUNT_BATCH: u64 = 64;

/// What the threads of one parallel search share: the subtrees not taken yet, a flag that
/// stops them all, and the number of runs they counted (to stop where one thread would have
/// stopped at its cap). A thread that finds nothing to take waits for a thread that still
/// works to hand over part of its own stack; the search ends when every thread waits.
struct Shared {
    todo: Mutex<Todo>,
    /// Signalled when a subtree is handed over, and when the search ends.
    more: Condvar,
    /// The threads waiting for a subtree (read without the lock by the threads that work,
    /// to know when to hand one over).
    hungry: AtomicUsize,
    jobs: usize,
    cancel: AtomicBool,
    runs: AtomicU64,
}

/// The subtrees not taken yet, and the threads waiting for one.
#[derive(Default)]
struct Todo {
    graphs: Vec<Graph>,
    waiting: usize,
    /// Every thread waited at once: nothing is left anywhere.
    done: bool,
}

impl Shared {
    fn new(jobs: usize) -> Shared {
        Shared {
            todo: Mutex::new(Todo::default()),
            more: Condvar::new(),
            hungry: AtomicUsize::new(0),
            jobs,
            cancel: AtomicBool::new(false),
            runs: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Todo> {
        self.todo.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A subtree to explore: one not taken yet, else one a working thread hands over;
    /// `None` once the search ended (every thread waits) or was stopped.
    /// The graph comes unshared (see [`Graph::unshared`]): what it shares with graphs
    /// another thread explores stays there.
    fn take(&self) -> Option<Graph> {
        let mut todo = self.lock();
        loop {
            if self.cancel.load(Ordering::Relaxed) || todo.done {
                return None;
            }
            if let Some(g) = todo.graphs.pop() {
                drop(todo);
                return Some(g.unshared());
            }
            todo.waiting += 1;
            if todo.waiting == self.jobs {
                todo.done = true;
                self.more.notify_all();
                return None;
            }
            self.hungry.store(todo.waiting, Ordering::Relaxed);
            todo = self.more.wait(todo).unwrap_or_else(|e| e.into_inner());
            todo.waiting -= 1;
            self.hungry.store(todo.waiting, Ordering::Relaxed);
        }
    }

    /// Hand the bottom of `stack` (the graph pushed first: the largest subtree it holds)
    /// to a waiting thread, if one waits and the stack holds more than the graph to run
    /// next.
    fn feed(&self, stack: &mut Vec<Graph>) {
        if self.hungry.load(Ordering::Relaxed) == 0 || stack.len() < 2 {
            return;
        }
        let g = stack.remove(0);
        self.lock().graphs.push(g);
        self.more.notify_one();
    }

    /// Stop every thread.
    fn stop(&self) {
        let _todo = self.lock();
        self.cancel.store(true, Ordering::Relaxed);
        self.more.notify_all();
    }
}

/// Run the graph search of `f` (or the part of it `split` names) on `jobs` threads: the
/// calling thread with `f`, the others with bodies from `factory` (without one, or with an
/// observer, one thread). The report is the one a single thread gives, exactly: the
/// calling thread runs the search breadth-first until it has a few dozen subtrees per job,
/// the threads then take subtrees one at a time until none is left, and their counts add up
/// to the whole; when the search stops early (the run cap, or the first failure when asked
/// to stop there), or when it found a failure, the first failure and the point where one
/// thread would have stopped come from re-running on one thread, in its order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn explore(
    exec: ExecConfig,
    max_runs: u64,
    stop_at_first_failure: bool,
    split: Option<Split>,
    jobs: usize,
    f: &Rc<dyn Fn()>,
    factory: Option<&BodyFactory>,
    progress: &mut dyn FnMut(&Report),
    observe: Option<Observer<'_>>,
) -> Report {
    let one = |progress: &mut dyn FnMut(&Report), observe, stop| {
        let p = Part {
            max_runs,
            stop_at_first_failure: stop,
            split,
            handout: None,
            shared: None,
        };
        explore_part(exec, &p, f, progress, observe).0
    };
    let factory = match factory {
        Some(fac) if jobs > 1 && observe.is_none() => fac,
        _ => return one(progress, observe, stop_at_first_failure),
    };
    let start = Instant::now();
    let shared = Shared::new(jobs);
    let part = |handout| Part {
        max_runs,
        stop_at_first_failure,
        split,
        handout,
        shared: Some(&shared),
    };
    // Breadth-first on this thread until there is enough to hand out.
    let (first, todo) = explore_part(exec, &part(Some(HANDOUT_PER_JOB * jobs)), f, progress, None);
    shared.lock().graphs = todo.into_iter().rev().collect();
    let reports: Vec<Report> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..jobs)
            .map(|t| {
                let p = part(None);
                std::thread::Builder::new()
                    .name(format!("netpoll-sim-graph-{t}"))
                    .spawn_scoped(scope, move || {
                        let body = factory();
                        explore_part(exec, &p, &body, &mut |_| {}, None).0
                    })
                    .expect("spawn a graph worker thread")
            })
            .collect();
        let mut v = vec![first, explore_part(exec, &part(None), f, progress, None).0];
        for h in handles {
            match h.join() {
                Ok(r) => v.push(r),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        v
    });
    let runs: u64 = reports.iter().map(|r| r.schedules).sum();
    if shared.cancel.load(Ordering::Relaxed) || runs > max_runs {
        // Stopped early (or the threads passed the cap between two counts): where and how
        // one thread stops is one thread's to say.
        let mut r = one(progress, None, stop_at_first_failure);
        r.elapsed = start.elapsed();
        return r;
    }
    let mut total = Report {
        graph: Some(GraphCounts::default()),
        coverage: Coverage::Complete,
        ..Report::default()
    };
    for r in &reports {
        total.schedules += r.schedules;
        total.steps += r.steps;
        total.failures += r.failures;
        total.races += r.races;
        let (t, g) = (
            total.graph.as_mut().expect("graph counts"),
            r.graph.expect("graph counts"),
        );
        t.executions += g.executions;
        t.blocked += g.blocked;
        t.dropped += g.dropped;
    }
    if total.failures > 0 {
        // Every subtree ran to its end; the first failure is the one one thread meets first.
        total.first_failure = one(&mut |_| {}, None, true).first_failure;
    }
    total.elapsed = start.elapsed();
    progress(&total);
    total
}

/// One thread's share of a search.
struct Part<'a> {
    max_runs: u64,
    stop_at_first_failure: bool,
    /// The shard's part of the search (the thread that starts the search applies it).
    split: Option<Split>,
    /// Stop breadth-first with this many graphs pending and return them (to hand out).
    handout: Option<usize>,
    /// What the threads share; with it, a part that does not hand out explores the
    /// subtrees it takes from there.
    shared: Option<&'a Shared>,
}

/// Run the part `p` of the graph search of `f` on this thread; return its report and, when
/// it hands out, the graphs still to explore.
fn explore_part(
    exec: ExecConfig,
    p: &Part<'_>,
    f: &Rc<dyn Fn()>,
    progress: &mut dyn FnMut(&Report),
    mut observe: Option<Observer<'_>>,
) -> (Report, Vec<Graph>) {
    let start = Instant::now();
    let mut report = Report {
        graph: Some(GraphCounts::default()),
        ..Report::default()
    };
    let mut engine = Engine::new(exec, Box::new(NoChoices));
    let takes = p.shared.is_some() && p.handout.is_none();
    let mut stack: Vec<Graph> = if takes {
        Vec::new()
    } else {
        vec![Graph::new()]
    };
    let mut coverage = Coverage::Complete;
    // Runs not yet added to the threads' shared count.
    let mut uncounted = 0u64;
    // Before the split and before handing out: breadth-first (the stack's front is a queue).
    let mut split = p.split.filter(|s| s.of > 1);
    let mut counting = split.is_none_or(|s| s.index == 0);
    let mut queue_front = 0usize;
    // The last run's tables, for the next run to reuse.
    let mut spare: Option<Box<GraphRun>> = None;
    loop {
        if p.shared.is_some_and(|s| s.cancel.load(Ordering::Relaxed)) {
            coverage = Coverage::Capped;
            break;
        }
        let breadth_first = split.map(|s| SPLIT_WIDTH * s.of as usize).or(p.handout);
        let g = if let Some(enough) = breadth_first {
            if stack.len() - queue_front >= enough || queue_front == stack.len() {
                let pending: Vec<Graph> = stack.drain(queue_front..).collect();
                queue_front = 0;
                match split.take() {
                    Some(s) => {
                        // Split: keep every `of`-th pending graph.
                        stack = pending
                            .into_iter()
                            .enumerate()
                            .filter(|(i, _)| *i as u32 % s.of == s.index)
                            .map(|(_, g)| g)
                            .collect();
                        counting = true;
                        continue;
                    }
                    None => {
                        report.coverage = Coverage::Complete;
                        report.elapsed = start.elapsed();
                        return (report, pending);
                    }
                }
            }
            queue_front += 1;
            std::mem::replace(&mut stack[queue_front - 1], Graph::new())
        } else {
            match stack.pop() {
                Some(g) => g,
                None if takes => match p.shared.and_then(Shared::take) {
                    Some(g) => g,
                    None => break,
                },
                None => break,
            }
        };
        if report.schedules >= p.max_runs {
            if let Some(sh) = p.shared {
                sh.stop();
            }
            coverage = Coverage::Capped;
            break;
        }
        let run = match spare.take() {
            Some(mut run) => {
                run.recycle(exec.memory, g, rt::START_TIME_NS);
                run
            }
            None => Box::new(GraphRun::new(exec.memory, g, rt::START_TIME_NS)),
        };
        let mut out = engine.run_graph(f, run, observe.is_some());
        let mut gr = out.graph.take().expect("a graph run");
        if let Some(obs) = observe.as_mut() {
            obs(&out.log, out.failure.as_ref());
        }
        // Push in reverse so the first alternative found is explored first.
        stack.extend(gr.search.found.drain(..).rev());
        if let (true, Some(sh)) = (takes, p.shared) {
            sh.feed(&mut stack);
        }
        let (failure, steps, races) = (out.failure.take(), out.steps, out.races);
        // The run's tables, event log and choices: room for the next run's.
        engine.recycle(out);
        let gr = &**spare.insert(gr);
        if !counting {
            continue;
        }
        if let Some(sh) = p.shared {
            // Counted together a batch at a time (the count is a cache line the threads
            // would otherwise pass back and forth every run): a thread may run a batch past
            // the cap before it sees it, and the capped report comes from one thread anyway.
            uncounted += 1;
            if uncounted == SHARED_COUNT_BATCH.min(p.max_runs) {
                let before = sh.runs.fetch_add(uncounted, Ordering::Relaxed);
                if before + uncounted > p.max_runs {
                    // Together the threads passed the cap one thread stops at.
                    sh.stop();
                    coverage = Coverage::Capped;
                    break;
                }
                uncounted = 0;
            }
        }
        report.schedules += 1;
        report.steps += steps;
        report.races += races;
        let counts = report.graph.as_mut().expect("graph counts");
        match (&failure, gr.end) {
            (Some(_), _) => {}
            (None, Some(RunEnd::Complete)) => counts.executions += 1,
            (None, Some(RunEnd::Blocked)) => counts.blocked += 1,
            (None, Some(RunEnd::Dropped)) | (None, None) => counts.dropped += 1,
        }
        if let Some(failure) = failure {
            report.failures += 1;
            if report.first_failure.is_none() {
                report.first_failure = Some(failure_info(
                    exec,
                    f,
                    gr,
                    failure,
                    report.schedules - 1,
                    &mut engine,
                ));
            }
            if p.stop_at_first_failure {
                if let Some(sh) = p.shared {
                    sh.stop();
                }
                coverage = Coverage::StoppedAtFailure;
                break;
            }
        }
        progress(&report);
    }
    report.coverage = coverage;
    report.elapsed = start.elapsed();
    (report, Vec::new())
}

/// The trace of a failing graph run: its events in replay order, encoded as choices, then
/// replayed once in guided mode for the event log a replay reproduces.
fn failure_info(
    exec: ExecConfig,
    f: &Rc<dyn Fn()>,
    gr: &GraphRun,
    failure: Failure,
    index: u64,
    engine: &mut Engine,
) -> FailureInfo {
    let choices = encode(&gr.g, &gr.order);
    let out = run_guided_on(engine, exec, &choices, f);
    let (failure, log) = match out {
        Ok(out) if out.failure.as_ref().is_some_and(|x| x.same_as(&failure)) => {
            (out.failure.expect("failed"), out.log)
        }
        Ok(out) => (failure, out.log),
        Err(_) => (failure, Default::default()),
    };
    FailureInfo {
        failure,
        seed: 0,
        schedule_index: index,
        choices,
        log,
    }
}

/// Encode the events `order` (of graph `g`, in the order they were added or replayed) as
/// choices: per event, the engine task that did it (engine ids as a replay in this order
/// assigns them) and what it chose.
pub(crate) fn encode(g: &Graph, order: &[ERef]) -> Vec<Choice> {
    let mut added = vec![0u32; g.tasks.len()];
    let mut engine_id = vec![u32::MAX; g.tasks.len()];
    engine_id[0] = 0;
    let mut tasks = 1u32;
    let mut out = Vec::with_capacity(order.len() * 2);
    for &e in order {
        let is_added = |x: ERef| x.idx < added[x.task as usize];
        let (opt, n) = match *g.label(e) {
            Label::Read { loc, rf, .. } => {
                let co = &g.locs[loc as usize].co;
                let n = 1 + co.iter().filter(|&&x| is_added(x)).count() as u32;
                let opt = rf.map_or(0, |w| {
                    1 + co
                        .iter()
                        .take_while(|&&x| x != w)
                        .filter(|&&x| is_added(x))
                        .count() as u32
                });
                (opt, n)
            }
            Label::Write { loc, .. } => {
                let co = &g.locs[loc as usize].co;
                let n = 1 + co.iter().filter(|&&x| is_added(x)).count() as u32;
                let opt = co
                    .iter()
                    .take_while(|&&x| x != e)
                    .filter(|&&x| is_added(x))
                    .count() as u32;
                (opt, n)
            }
            Label::Choice { n, chosen } => (chosen, n),
            Label::Spawn { child } => {
                engine_id[child as usize] = tasks;
                tasks += 1;
                (0, 1)
            }
            Label::Fence { .. } => (0, 1),
        };
        let et = engine_id[e.task as usize];
        let created = if matches!(g.label(e), Label::Spawn { .. }) {
            tasks - 1
        } else {
            tasks
        };
        out.push(Choice {
            kind: ChoiceKind::Schedule,
            n: created,
            chosen: et,
        });
        out.push(Choice {
            kind: ChoiceKind::Graph,
            n,
            chosen: opt,
        });
        added[e.task as usize] += 1;
    }
    out
}

/// Decode choices made by [`encode`] into a guide; `Err` names what is wrong.
fn decode(choices: &[Choice]) -> Result<Guide, String> {
    if !choices.len().is_multiple_of(2) {
        return Err(format!(
            "a graph trace holds two choices per event; this one holds {}",
            choices.len()
        ));
    }
    let mut steps = Vec::with_capacity(choices.len() / 2);
    for (i, pair) in choices.chunks(2).enumerate() {
        let (s, c) = (pair[0], pair[1]);
        if s.kind != ChoiceKind::Schedule || c.kind != ChoiceKind::Graph {
            return Err(format!(
                "event {i} of the graph trace is not a task and a graph choice"
            ));
        }
        if s.chosen >= s.n || c.chosen >= c.n {
            return Err(format!(
                "event {i} of the graph trace takes an option out of range (the trace is corrupt)"
            ));
        }
        steps.push((s.chosen, c.chosen));
    }
    Ok(Guide { steps, next: 0 })
}

fn run_guided_on(
    engine: &mut Engine,
    exec: ExecConfig,
    choices: &[Choice],
    f: &Rc<dyn Fn()>,
) -> Result<Outcome, String> {
    let guide = decode(choices)?;
    let mut run = GraphRun::new(exec.memory, Graph::new(), rt::START_TIME_NS);
    run.guide = Some(guide);
    let mut out = engine.run_graph(f, Box::new(run), true);
    let gr = out.graph.as_ref().expect("a graph run");
    if out.failure.is_none() {
        if let Some(g) = &gr.guide {
            if g.next < g.steps.len() {
                out.failure = Some(Failure::ReplayDiverged {
                    step: None,
                    message: format!(
                        "the execution ended after {} of the trace's {} events",
                        g.next,
                        g.steps.len()
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// Replay a graph trace's choices once (guided, no search). A malformed choice sequence is
/// a replay divergence.
pub(crate) fn run_guided(exec: ExecConfig, choices: &[Choice], f: &Rc<dyn Fn()>) -> Outcome {
    let mut engine = Engine::new(exec, Box::new(NoChoices));
    match run_guided_on(&mut engine, exec, choices, f) {
        Ok(out) => out,
        Err(message) => Outcome {
            steps: 0,
            races: 0,
            failure: Some(Failure::ReplayDiverged {
                step: None,
                message,
            }),
            choices: Vec::new(),
            log: Default::default(),
            graph: None,
        },
    }
}

/// Shrink a graph failure to what it depends on: when the failure is a task's (a panic, a
/// write without its lock, a race), keep only the events that task's last event depends on
/// (its porf-prefix, both tasks' for a race) and replay that. `info` itself if the smaller
/// trace does not fail the same way.
pub(crate) fn shrink(exec: ExecConfig, info: &FailureInfo, f: &Rc<dyn Fn()>) -> FailureInfo {
    let tasks: Vec<u32> = match &info.failure {
        Failure::Panic { task, .. } | Failure::UnprotectedWrite { task, .. } => vec![*task],
        Failure::DataRace { task, other, .. } => vec![*task, *other],
        _ => return info.clone(),
    };
    let mut engine = Engine::new(exec, Box::new(NoChoices));
    let Ok(mut out) = run_guided_on(&mut engine, exec, &info.choices, f) else {
        return info.clone();
    };
    let Some(gr) = out.graph.take() else {
        return info.clone();
    };
    let g = &gr.g;
    let mut keep = vec![0u32; g.tasks.len()];
    for et in tasks {
        let gt = gr.gt(et);
        let n = g.tasks[gt as usize].events.len() as u32;
        let prefix = if n > 0 {
            g.porf_prefix(ERef {
                task: gt,
                idx: n - 1,
            })
        } else {
            match g.spawn_of(gt) {
                Some(s) => g.porf_prefix(s),
                None => vec![0; g.tasks.len()],
            }
        };
        for (k, p) in keep.iter_mut().zip(prefix) {
            *k = (*k).max(p);
        }
    }
    let order: Vec<ERef> = gr
        .order
        .iter()
        .copied()
        .filter(|e| e.idx < keep[e.task as usize])
        .collect();
    if order.len() == gr.order.len() {
        return info.clone();
    }
    let choices = encode(g, &order);
    match run_guided_on(&mut engine, exec, &choices, f) {
        Ok(out)
            if out
                .failure
                .as_ref()
                .is_some_and(|x| x.same_as(&info.failure)) =>
        {
            FailureInfo {
                failure: out.failure.expect("failed"),
                choices,
                log: out.log,
                ..info.clone()
            }
        }
        _ => info.clone(),
    }
}
