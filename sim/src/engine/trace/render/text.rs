//! The text swimlane: one column per task, one row per event.

use super::names::Names;
use super::rows::{rows, Row};
use super::{failure_lines, heading, Renderer};
use crate::engine::event::{EventLog, Op};
use crate::engine::trace::meta::{Builtin, Trace};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Narrowest task column of the swimlane (characters).
const MIN_LANE_WIDTH: usize = 12;
/// Widest task column; longer cells run on into the columns to their right.
const MAX_LANE_WIDTH: usize = 40;
/// Spaces between columns.
const LANE_GAP: usize = 2;
/// Width of a full-width row when there are few tasks.
const MIN_FULL_WIDTH: usize = 60;
/// With more tasks than this the swimlane would be unreadable (and a hostile file could make
/// it huge): the rows are listed as `step task: event` instead.
const MAX_TEXT_LANES: usize = 24;
/// Fewer rows than this alone at the start are not worth collapsing.
const MIN_PROLOGUE_ROWS: usize = 4;

/// The lanes: every task that acts in the log, in id order (a task that never ran, like a
/// daemon that was never woken, has no lane).
pub(crate) fn lanes(log: &EventLog) -> Vec<u32> {
    let ids: BTreeSet<u32> = log.events.iter().filter_map(|ev| ev.task).collect();
    ids.into_iter().collect()
}

/// Replace the leading rows of `first` alone by one full-width row; returns the tasks that
/// started in them (alive when the drawing begins).
fn collapse_prologue(n: &Names<'_>, rows: &mut Vec<Row>, first: u32) -> BTreeSet<u32> {
    let k = rows
        .iter()
        .position(|r| !matches!(r, Row::Task { task, .. } if *task == first))
        .unwrap_or(rows.len());
    let mut started = BTreeSet::new();
    if k < MIN_PROLOGUE_ROWS {
        return started;
    }
    let (from, to) = (rows[0].step(), rows[k - 1].step());
    let mut finished = false;
    for r in &rows[..k] {
        if let Row::Task { op, .. } = r {
            match op {
                Op::Start => {
                    started.insert(first);
                }
                Op::Finish => finished = true,
                _ => {}
            }
        }
    }
    if finished {
        started.remove(&first);
    }
    let text = format!(
        "steps {from}-{to}: {} alone, {k} events of set-up (show --full lists them)",
        n.task(first)
    );
    rows.splice(..k, [Row::Full { step: from, text }]);
    started
}

fn pad_to(s: &mut String, col: usize) {
    let n = s.chars().count();
    if n < col {
        s.push_str(&" ".repeat(col - n));
    }
}

/// The rows as a list, for runs with too many tasks for lanes.
fn render_list(out: &mut String, n: &Names<'_>, rows: &[Row], step_w: usize) {
    for r in rows {
        match r {
            Row::Full { step, text } => {
                let _ = writeln!(out, "{step:>step_w$}  == {text} ==");
            }
            Row::Task {
                step, task, text, ..
            } => {
                let _ = writeln!(out, "{step:>step_w$}  {}: {text}", n.task(*task));
            }
        }
    }
}

pub(crate) fn render<B: Builtin>(r: &Renderer<'_>, trace: &Trace<B>, compact: bool) -> String {
    let log = &trace.events;
    let n = Names::new(log);
    let lanes = lanes(log);
    let mut rows = rows(r, &n, log);
    let lane_pos: BTreeMap<u32, usize> = lanes.iter().enumerate().map(|(i, t)| (*t, i)).collect();

    let max_step = log.events.iter().map(|e| e.step).max().unwrap_or(0);
    let step_w = max_step.to_string().len().max("step".len());
    let mut width = MIN_LANE_WIDTH;
    for t in &lanes {
        width = width.max(n.task(*t).chars().count().min(MAX_LANE_WIDTH));
    }
    for r in &rows {
        if let Row::Task { text, .. } = r {
            // A stale read's explanation may run on into the lanes to its right.
            let core = text.split("  (").next().unwrap_or(text);
            width = width.max(core.chars().count().min(MAX_LANE_WIDTH));
        }
    }
    // Collapse only after sizing the lanes, so both renderings share their layout.
    let mut alive: BTreeSet<u32> = BTreeSet::new();
    if compact && lanes.len() > 1 && lanes.len() <= MAX_TEXT_LANES {
        alive = collapse_prologue(&n, &mut rows, lanes[0]);
    }
    let col = width + LANE_GAP;
    let lane_start = |i: usize| step_w + LANE_GAP + i * col;
    let full_w = lane_start(lanes.len()).max(MIN_FULL_WIDTH);

    let mut out = String::new();
    for h in heading(trace) {
        out.push_str(&h);
        out.push('\n');
    }
    out.push('\n');
    if lanes.len() > MAX_TEXT_LANES {
        render_list(&mut out, &n, &rows, step_w);
        out.push_str(&"-".repeat(MIN_FULL_WIDTH));
        out.push('\n');
        for l in failure_lines(trace) {
            out.push_str(&l);
            out.push('\n');
        }
        return out;
    }

    // Header: names, then rules.
    let mut names = format!("{:>step_w$}", "step");
    let mut rule = "-".repeat(step_w);
    for (i, t) in lanes.iter().enumerate() {
        pad_to(&mut names, lane_start(i));
        names.push_str(&n.task(*t));
        pad_to(&mut rule, lane_start(i));
        rule.push_str(&"-".repeat(width));
    }
    out.push_str(names.trim_end());
    out.push('\n');
    out.push_str(&rule);
    out.push('\n');

    // Which lanes are alive (started, not finished) when each row is drawn.
    for row in &rows {
        match row {
            Row::Full { step, text } => {
                let mut line = format!("{step:>step_w$}");
                pad_to(&mut line, step_w + LANE_GAP);
                line.push_str("== ");
                line.push_str(text);
                line.push(' ');
                let have = line.chars().count();
                if have < full_w {
                    line.push_str(&"=".repeat(full_w - have));
                }
                out.push_str(&line);
            }
            Row::Task {
                step,
                task,
                op,
                text,
                ..
            } => {
                if *op == Op::Start {
                    alive.insert(*task);
                }
                let me = lane_pos.get(task).copied().unwrap_or(0);
                let mut line = format!("{step:>step_w$}");
                let mut len = line.chars().count();
                for (i, t) in lanes.iter().enumerate() {
                    let at = lane_start(i);
                    if len > at {
                        continue; // an overflowing cell covers this lane
                    }
                    if i == me {
                        pad_to(&mut line, at);
                        line.push_str(text);
                        len = at + text.chars().count();
                    } else if alive.contains(t) {
                        pad_to(&mut line, at);
                        line.push('|');
                        len = at + 1;
                    }
                }
                if *op == Op::Finish {
                    alive.remove(task);
                }
                out.push_str(line.trim_end());
            }
        }
        out.push('\n');
    }
    out.push_str(&"-".repeat(full_w));
    out.push('\n');
    for l in failure_lines(trace) {
        out.push_str(&l);
        out.push('\n');
    }
    out
}
