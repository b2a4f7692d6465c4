//! The `graph` strategy's exploration loop: a stack of execution graphs, the empty graph
//! first. Each is run (replayed and extended on the coroutines); the run pushes the
//! alternatives the search found. Nothing remembers what was explored: every consistent
//! graph is reached exactly once by construction (TruSt), so memory is the stack.
//!
//! Also here: turning a failing run into a trace (the events in the order the run replayed
//! them, with what each chose), shrinking it to what the failure depends on, and replaying
//! such a trace.

use super::report::GraphCounts;
use super::runner::Observer;
use super::{Coverage, FailureInfo, Report};
use crate::engine::choice::{Choice, ChoiceCtx, ChoiceKind, ChoiceSource};
use crate::engine::failure::Failure;
use crate::engine::graph::exec_graph::Graph;
use crate::engine::graph::label::{ERef, Label};
use crate::engine::rt::{self, Engine, ExecConfig, GraphRun, Guide, Outcome, RunEnd};
use std::rc::Rc;
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
/// part 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    pub(crate) index: u32,
    pub(crate) of: u32,
}

const SPLIT_WIDTH: usize = 2;

/// Run the graph search of `f`.
pub(crate) fn explore(
    exec: ExecConfig,
    max_runs: u64,
    stop_at_first_failure: bool,
    split: Option<Split>,
    f: &Rc<dyn Fn()>,
    progress: &mut dyn FnMut(&Report),
    mut observe: Option<Observer<'_>>,
) -> Report {
    let start = Instant::now();
    let mut report = Report {
        graph: Some(GraphCounts::default()),
        ..Report::default()
    };
    let mut engine = Engine::new(exec, Box::new(NoChoices));
    let mut stack: Vec<Graph> = vec![Graph::new()];
    let mut coverage = Coverage::Complete;
    // Before the split: breadth-first, every part the same.
    let mut counting = split.is_none_or(|s| s.index == 0);
    let mut pre_split = split.is_some_and(|s| s.of > 1);
    let mut queue_front = 0usize;
    loop {
        let g = if pre_split {
            let of = split.expect("split").of as usize;
            if stack.len() - queue_front >= SPLIT_WIDTH * of || queue_front == stack.len() {
                // Split: keep every `of`-th pending graph.
                let s = split.expect("split");
                let pending: Vec<Graph> = stack.drain(queue_front..).collect();
                stack = pending
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| *i as u32 % s.of == s.index)
                    .map(|(_, g)| g)
                    .collect();
                pre_split = false;
                counting = true;
                continue;
            }
            queue_front += 1;
            std::mem::replace(&mut stack[queue_front - 1], Graph::new())
        } else {
            match stack.pop() {
                Some(g) => g,
                None => break,
            }
        };
        if report.schedules >= max_runs {
            coverage = Coverage::Capped;
            break;
        }
        let run = Box::new(GraphRun::new(exec.memory, g, rt::START_TIME_NS));
        let mut out = engine.run_graph(f, run);
        let mut gr = out.graph.take().expect("a graph run");
        if let Some(obs) = observe.as_mut() {
            obs(&out.log, out.failure.as_ref());
        }
        let found = std::mem::take(&mut gr.search.found);
        // Push in reverse so the first alternative found is explored first.
        stack.extend(found.into_iter().rev());
        if !counting {
            continue;
        }
        report.schedules += 1;
        report.steps += out.steps;
        report.races += out.races;
        let counts = report.graph.as_mut().expect("graph counts");
        match (&out.failure, gr.end) {
            (Some(_), _) => {}
            (None, Some(RunEnd::Complete)) => counts.executions += 1,
            (None, Some(RunEnd::Blocked)) => counts.blocked += 1,
            (None, Some(RunEnd::Dropped)) | (None, None) => counts.dropped += 1,
        }
        if let Some(failure) = out.failure.take() {
            report.failures += 1;
            if report.first_failure.is_none() {
                report.first_failure = Some(failure_info(
                    exec,
                    f,
                    &gr,
                    failure,
                    report.schedules - 1,
                    &mut engine,
                ));
            }
            if stop_at_first_failure {
                coverage = Coverage::StoppedAtFailure;
                break;
            }
        }
        progress(&report);
    }
    report.coverage = coverage;
    report.elapsed = start.elapsed();
    report
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
    let mut out = engine.run_graph(f, Box::new(run));
    let gr = out.graph.as_ref().expect("a graph run");
    if out.failure.is_none() {
        if let Some(g) = &gr.guide {
            if g.next < g.steps.len() {
                out.failure = Some(Failure::ReplayDiverged {
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
            failure: Some(Failure::ReplayDiverged { message }),
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
