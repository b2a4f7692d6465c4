//! The text swimlane: one column per task, one row per event, written row by row.
//!
//! Two passes over the events: the first sizes the lanes (and finds the prologue), the second
//! writes each row as it is made. Memory is that of one row (plus the bounded store history
//! that explains stale reads), time proportional to the trace's size; every row is at most
//! `MAX_TEXT_LANES` lanes of at most `MAX_LANE_WIDTH` characters plus one cut cell.

use super::names::{clean, Names};
use super::rows::{event_text, row, Row, Stores};
use super::{failure_lines, heading, Renderer};
use crate::engine::event::{EventLog, Op};
use crate::engine::trace::meta::{Builtin, Trace};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

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

/// What the first pass finds.
struct Layout {
    lanes: Vec<u32>,
    lane_pos: BTreeMap<u32, usize>,
    step_w: usize,
    /// Width of a lane.
    width: usize,
    /// Events of the collapsed prologue (0: none).
    prologue: usize,
    /// Tasks alive when the drawing starts (started in the prologue, not finished in it).
    alive: BTreeSet<u32>,
}

impl Layout {
    fn lane_start(&self, i: usize) -> usize {
        self.step_w + LANE_GAP + i * (self.width + LANE_GAP)
    }
    fn full_width(&self) -> usize {
        self.lane_start(self.lanes.len()).max(MIN_FULL_WIDTH)
    }
}

fn layout(r: &Renderer<'_>, n: &Names<'_>, log: &EventLog, compact: bool) -> Layout {
    let lanes = lanes(log);
    let lane_pos = lanes.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let max_step = log.events.iter().map(|e| e.step).max().unwrap_or(0);
    let step_w = max_step.to_string().len().max("step".len());
    let mut width = MIN_LANE_WIDTH;
    for t in &lanes {
        width = width.max(n.task(*t).chars().count().min(MAX_LANE_WIDTH));
    }
    for ev in &log.events {
        if ev.task.is_some() && width < MAX_LANE_WIDTH {
            // A stale read's explanation may run on into the lanes to its right.
            let text = event_text(r, n, ev, None);
            let core = text.split("  (").next().unwrap_or(&text);
            width = width.max(core.chars().count().min(MAX_LANE_WIDTH));
        }
    }
    let mut l = Layout {
        lanes,
        lane_pos,
        step_w,
        width,
        prologue: 0,
        alive: BTreeSet::new(),
    };
    if compact && l.lanes.len() > 1 && l.lanes.len() <= MAX_TEXT_LANES {
        // The leading rows of the first task alone.
        let first = l.lanes[0];
        let k = log
            .events
            .iter()
            .position(|e| e.task != Some(first))
            .unwrap_or(log.events.len());
        if k >= MIN_PROLOGUE_ROWS {
            l.prologue = k;
            let ops = || log.events[..k].iter().map(|e| e.op);
            if ops().any(|o| o == Op::Start) && !ops().any(|o| o == Op::Finish) {
                l.alive.insert(first);
            }
        }
    }
    l
}

/// Pads `line` (of `len` characters) with spaces to column `col`; returns the new length.
fn pad(line: &mut String, len: usize, col: usize) -> usize {
    for _ in len..col {
        line.push(' ');
    }
    len.max(col)
}

/// Write the swimlane of `trace` to `out`, row by row.
pub(crate) fn write<B: Builtin>(
    r: &Renderer<'_>,
    trace: &Trace<B>,
    compact: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let log = &trace.events;
    let n = Names::new(log);
    let l = layout(r, &n, log, compact);
    for h in heading(trace) {
        writeln!(out, "{h}")?;
    }
    writeln!(out)?;
    let mut stores = Stores::default();
    if l.lanes.len() > MAX_TEXT_LANES {
        // A list: `step task: event`.
        let step_w = l.step_w;
        for ev in &log.events {
            match row(r, &n, ev, Some(&mut stores)) {
                Row::Full { step, text } => writeln!(out, "{step:>step_w$}  == {text} ==")?,
                Row::Task {
                    step, task, text, ..
                } => writeln!(out, "{step:>step_w$}  {}: {text}", n.task(task))?,
            }
        }
        writeln!(out, "{}", "-".repeat(MIN_FULL_WIDTH))?;
        for line in failure_lines(trace) {
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }

    // Header: names, then rules.
    let mut names = format!("{:>w$}", "step", w = l.step_w);
    let mut len = l.step_w;
    let mut rule = "-".repeat(l.step_w);
    for (i, t) in l.lanes.iter().enumerate() {
        len = pad(&mut names, len, l.lane_start(i));
        let name = n.task(*t);
        len += name.chars().count();
        names.push_str(&name);
        let have = rule.len();
        rule.push_str(&" ".repeat(l.lane_start(i) - have));
        rule.push_str(&"-".repeat(l.width));
    }
    writeln!(out, "{}", names.trim_end())?;
    writeln!(out, "{rule}")?;

    let full_w = l.full_width();
    let mut alive = l.alive.clone();
    let mut line = String::new();
    for (i, ev) in log.events.iter().enumerate() {
        let rw = row(r, &n, ev, Some(&mut stores));
        if i < l.prologue {
            if i + 1 == l.prologue {
                let text = format!(
                    "steps {}-{}: {} alone, {} events of set-up (show --full lists them)",
                    log.events[0].step,
                    ev.step,
                    n.task(l.lanes[0]),
                    l.prologue
                );
                write_full(out, &mut line, &l, full_w, log.events[0].step, &text)?;
            }
            continue;
        }
        match rw {
            Row::Full { step, text } => write_full(out, &mut line, &l, full_w, step, &text)?,
            Row::Task {
                step,
                task,
                op,
                text,
                ..
            } => {
                if op == Op::Start {
                    alive.insert(task);
                }
                let me = l.lane_pos.get(&task).copied().unwrap_or(0);
                line.clear();
                let _ =
                    std::fmt::Write::write_fmt(&mut line, format_args!("{step:>w$}", w = l.step_w));
                let mut len = line.len();
                for (i, t) in l.lanes.iter().enumerate() {
                    let at = l.lane_start(i);
                    if len > at {
                        continue; // an overflowing cell covers this lane
                    }
                    if i == me {
                        len = pad(&mut line, len, at);
                        line.push_str(&text);
                        len += text.chars().count();
                    } else if alive.contains(t) {
                        len = pad(&mut line, len, at);
                        line.push('|');
                        len += 1;
                    }
                }
                if op == Op::Finish {
                    alive.remove(&task);
                }
                writeln!(out, "{}", line.trim_end())?;
            }
        }
    }
    writeln!(out, "{}", "-".repeat(full_w))?;
    for f in failure_lines(trace) {
        writeln!(out, "{f}")?;
    }
    Ok(())
}

/// A full-width row: `step  == text ====`.
fn write_full(
    out: &mut dyn Write,
    line: &mut String,
    l: &Layout,
    full_w: usize,
    step: u64,
    text: &str,
) -> io::Result<()> {
    line.clear();
    let _ = std::fmt::Write::write_fmt(line, format_args!("{step:>w$}", w = l.step_w));
    let mut len = pad(line, l.step_w, l.step_w + LANE_GAP);
    line.push_str("== ");
    let text = clean(text, super::rows::MAX_CELL_CHARS);
    line.push_str(&text);
    line.push(' ');
    len += 4 + text.chars().count();
    for _ in len..full_w {
        line.push('=');
    }
    writeln!(out, "{line}")
}
