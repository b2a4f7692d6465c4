//! What a person reads to understand a failing run: a text swimlane and an SVG timeline.
//!
//! Both are pure functions of the trace, so their output is deterministic and can be
//! snapshot-tested. Both are written row by row to any `io::Write` (the `String` forms collect
//! that), and a trace is data from a file: every name, value and message is escaped and cut
//! at a bound ([`safe`]), so the memory a rendering takes is
//! that of one row and its time proportional to the trace's size, whatever the trace holds. The swimlane has one column per task and one row per event (its step in
//! the left column). A load that did not read the newest store says so: which of its
//! candidate stores it read, the newest value it could have read (and the step that stored
//! it), and which older store it took (a step, or the location's initial value). Virtual time
//! advances are full-width rows; the failure comes last.
//!
//! Values are the raw 64-bit words of the event log (a word above `i64::MAX` is shown signed,
//! which is how negative deadlines appear), unless a platform registered a [`ValueFormat`]
//! with the [`Renderer`] that knows better: the netpoll platform shows `pd0.closing := true`,
//! `pd0.rg: wait -> parked:reader`, `pd0.atomic_info = closing|fdseq=1`.
//!
//! * `names`: task and location names as shown (escaped, cut);
//! * `rows`: the rows of a log, one at a time, stale reads explained;
//! * `text`: the swimlane; `svg`: the timeline.

mod names;
mod rows;
mod svg;
mod text;

use super::meta::{Builtin, Trace};
use super::safe;
use crate::engine::event::{Event, EventLog, LocName};
use names::Names;
use std::io;

/// A platform's way of showing the values of its locations.
pub trait ValueFormat {
    /// How value `v` of location `loc` is shown, or `None` for the plain word. `task` names
    /// a task by id (for values that hold a task, like a parked waiter).
    fn format(&self, loc: &LocName, v: u64, task: &dyn Fn(u32) -> String) -> Option<String>;
}

/// Renders traces, with the value formats platforms registered.
#[derive(Default, Clone)]
pub struct Renderer<'a> {
    values: Vec<&'a dyn ValueFormat>,
}

impl<'a> Renderer<'a> {
    /// A renderer that shows plain words.
    pub fn new() -> Renderer<'a> {
        Renderer { values: Vec::new() }
    }

    /// Register a value format: it is asked first, before the ones registered earlier.
    pub fn with(mut self, f: &'a dyn ValueFormat) -> Renderer<'a> {
        self.values.insert(0, f);
        self
    }

    /// The text swimlane of `trace`.
    pub fn text<B: Builtin>(&self, trace: &Trace<B>) -> String {
        collect(|out| self.write_text(trace, false, out))
    }

    /// The text swimlane with the prologue collapsed: the rows at the start in which only the
    /// first task runs (setting up: opening pds, pipes) become one line, so the picture
    /// starts where the tasks begin to interleave. [`Renderer::text`] shows every row.
    pub fn text_compact<B: Builtin>(&self, trace: &Trace<B>) -> String {
        collect(|out| self.write_text(trace, true, out))
    }

    /// Write the text swimlane of `trace` (`compact`: the prologue collapsed) to `out`, row by
    /// row.
    pub fn write_text<B: Builtin>(
        &self,
        trace: &Trace<B>,
        compact: bool,
        out: &mut dyn io::Write,
    ) -> io::Result<()> {
        text::write(self, trace, compact, out)
    }

    /// A self-contained SVG timeline of `trace`: one lane per task, one mark per event (hover
    /// for its full text), stale reads in red, full-width rows for time, the failure at the
    /// bottom.
    pub fn svg<B: Builtin>(&self, trace: &Trace<B>) -> String {
        collect(|out| self.write_svg(trace, out))
    }

    /// Write the SVG timeline of `trace` to `out`, row by row.
    pub fn write_svg<B: Builtin>(
        &self,
        trace: &Trace<B>,
        out: &mut dyn io::Write,
    ) -> io::Result<()> {
        svg::write(self, trace, out)
    }

    /// One event as a line for messages: `step 12 reader: load(sc) pd0.closing = 0`.
    pub fn describe_event(&self, log: &EventLog, ev: &Event) -> String {
        let n = Names::new(log);
        let task = ev.task.map_or_else(|| "engine".to_string(), |t| n.task(t));
        format!(
            "step {} {task}: {}",
            ev.step,
            rows::event_text(self, &n, ev, None)
        )
    }

    /// Value `v` of location `loc` as shown.
    fn value(&self, n: &Names<'_>, loc: u32, v: u64) -> String {
        if let Some(name) = n.loc_name(loc) {
            let task = |t: u32| n.task(t);
            for f in &self.values {
                if let Some(s) = f.format(name, v, &task) {
                    return names::clean(&s, names::MAX_VALUE_CHARS);
                }
            }
        }
        word(v)
    }
}

/// One event as a line for messages, with plain values.
pub fn describe_event(log: &EventLog, ev: &Event) -> String {
    Renderer::new().describe_event(log, ev)
}

/// A word as shown: signed when it only makes sense as a negative i64.
pub fn word(v: u64) -> String {
    if v > i64::MAX as u64 {
        (v as i64).to_string()
    } else {
        v.to_string()
    }
}

/// A virtual time (absolute ns) relative to the start of the run, with a unit (`+1ms`).
pub fn vtime(abs_ns: i64) -> String {
    let d = abs_ns as i128 - crate::engine::rt::START_TIME_NS as i128;
    let sign = if d < 0 { "-" } else { "+" };
    let a = d.unsigned_abs();
    if a == 0 {
        return "+0ns".to_string();
    }
    for (unit, per) in [("s", 1_000_000_000u128), ("ms", 1_000_000), ("us", 1_000)] {
        if (a / per) * per == a {
            return format!("{sign}{}{unit}", a / per);
        }
    }
    format!("{sign}{a}ns")
}

/// The most characters of a heading line.
const MAX_HEADING_CHARS: usize = 300;
/// The most lines of the failure's message shown, and the most characters of each.
const MAX_FAILURE_LINES: usize = 200;
const MAX_FAILURE_LINE_CHARS: usize = 400;

/// The heading lines shared by both renderings.
fn heading<B: Builtin>(trace: &Trace<B>) -> Vec<String> {
    let m = &trace.meta;
    let shrunk = if m.shrunk { " (shrunk)" } else { "" };
    vec![
        names::clean(
            &format!(
                "trace: {}, memory {}, strategy {}{shrunk}, seed {}, schedule {}",
                trace.subject.label(),
                m.memory,
                m.strategy,
                m.seed,
                m.schedule_index
            ),
            MAX_HEADING_CHARS,
        ),
        names::clean(
            &format!(
                "{} choices, {} events, written by netpoll-sim {}",
                trace.choices.len(),
                trace.events.events.len(),
                m.crate_version
            ),
            MAX_HEADING_CHARS,
        ),
    ]
}

/// The failure's lines (its message may span several; their number and length are bounded).
fn failure_lines<B: Builtin>(trace: &Trace<B>) -> Vec<String> {
    let mut v = vec![format!("FAILURE ({})", trace.failure.kind)];
    for l in safe::block(
        &trace.failure.message,
        MAX_FAILURE_LINES,
        MAX_FAILURE_LINE_CHARS,
    ) {
        v.push(format!("  {l}"));
    }
    v
}

/// What `write` writes, as a string (it writes only text).
fn collect(write: impl FnOnce(&mut dyn io::Write) -> io::Result<()>) -> String {
    let mut buf = Vec::new();
    // Writing to a vector cannot fail.
    let _ = write(&mut buf);
    String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
