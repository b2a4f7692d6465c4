//! What a person reads to understand a failing run: a text swimlane and an SVG timeline.
//!
//! Both are pure functions of the trace, so their output is deterministic and can be
//! snapshot-tested. The swimlane has one column per task and one row per event (its step in
//! the left column). A load that did not read the newest store says so: which of its
//! candidate stores it read, the newest value it could have read (and the step that stored
//! it), and which older store it took (a step, or the location's initial value). Virtual time
//! advances and timer firings are full-width rows; the failure comes last.
//!
//! Values are the raw 64-bit words of the event log: `0`/`1` for booleans, and a word above
//! `i64::MAX` is shown signed (`-1`), which is how Go's negative deadlines appear.
//! Virtual times are shown relative to the start of the run (`+1ms`).

use super::format::Trace;
use crate::rt::log::{Event, EventLog, Op, Ord, NONE};
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

/// A word as shown: signed when it only makes sense as a negative i64.
fn word(v: u64) -> String {
    if v > i64::MAX as u64 {
        (v as i64).to_string()
    } else {
        v.to_string()
    }
}

/// A value as shown for the location it belongs to. The netpoll core's fields are decoded
/// by name, so a swimlane reads like the protocol: `pd0.closing := true`,
/// `pd0.rg: nil -> wait`, `pd0.atomic_info = closing|fdseq=1`. Other locations show the
/// plain word.
fn value(n: &Names<'_>, loc: &str, v: u64) -> String {
    let field = loc.rsplit('.').next().unwrap_or("");
    let is_pd = loc.starts_with("pd");
    let is_fd = loc.starts_with("fd");
    match field {
        "closing" | "everr" | "rrun" | "wrun" if is_pd && v <= 1 => (v == 1).to_string(),
        "rg" | "wg" if is_pd => semaphore(n, v, "ready"),
        "atomic_info" if is_pd && v <= u32::MAX as u64 => info_bits(v as u32),
        "state" if is_fd && v <= usize::MAX as u64 => netpoll::fd_mutex::describe(v as usize),
        _ => word(v),
    }
}

/// A pd semaphore (nil, ready, wait, or the parked task).
fn semaphore(n: &Names<'_>, v: u64, one: &str) -> String {
    match v {
        0 => "nil".to_string(),
        1 => one.to_string(),
        2 => "wait".to_string(),
        t if t - 3 <= u32::MAX as u64 => format!("parked:{}", n.task((t - 3) as u32)),
        t => word(t),
    }
}

/// The bits of a pd's `atomic_info` (netpoll::pd::info).
fn info_bits(v: u32) -> String {
    let mut parts = Vec::new();
    for (bit, name) in [
        (1, "closing"),
        (2, "eventerr"),
        (4, "rd-expired"),
        (8, "wd-expired"),
    ] {
        if v & bit != 0 {
            parts.push(name.to_string());
        }
    }
    let seq = (v >> 4) & ((1 << 20) - 1);
    if seq != 0 {
        parts.push(format!("fdseq={seq}"));
    }
    if parts.is_empty() {
        "0".to_string()
    } else {
        parts.join("|")
    }
}

/// A virtual time (absolute ns) relative to the start of the run, with a unit.
fn vtime(abs_ns: u64) -> String {
    let d = abs_ns as i128 - crate::rt::START_TIME_NS as i128;
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

/// Replace control characters (a name from a hostile file could hold a newline).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn ord_suffix(o: Ord) -> &'static str {
    match o {
        Ord::None => "",
        Ord::Relaxed => "(rlx)",
        Ord::Acquire => "(acq)",
        Ord::Release => "(rel)",
        Ord::AcqRel => "(acqrel)",
        Ord::SeqCst => "(sc)",
    }
}

/// Names for tasks and locations; duplicate task names get `#id`.
struct Names<'a> {
    log: &'a EventLog,
    task_names: Vec<String>,
}

impl<'a> Names<'a> {
    fn new(log: &'a EventLog) -> Names<'a> {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &log.tasks {
            *seen.entry(t.as_str()).or_default() += 1;
        }
        let task_names = log
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let t2 = if t.is_empty() { "task" } else { t.as_str() };
                if seen.get(t.as_str()).copied().unwrap_or(0) > 1 || t.is_empty() {
                    clean(&format!("{t2}#{i}"))
                } else {
                    clean(t)
                }
            })
            .collect();
        Names { log, task_names }
    }

    fn task(&self, t: u32) -> String {
        if t == NONE {
            return "engine".to_string();
        }
        match self.task_names.get(t as usize) {
            Some(n) => n.clone(),
            None => format!("task#{t}"),
        }
    }

    fn loc(&self, l: u32) -> String {
        match self.log.locations.get(l as usize) {
            Some(n) if !n.is_empty() => clean(n),
            _ => format!("loc#{l}"),
        }
    }
}

/// One store seen in the log.
#[derive(Clone, Copy)]
struct SeenStore {
    val: u64,
    step: u32,
}

/// The stores of each location seen so far, to explain stale reads.
#[derive(Default)]
struct Stores {
    by_loc: BTreeMap<u32, Vec<SeenStore>>,
}

impl Stores {
    fn record(&mut self, ev: &Event) {
        let writes = matches!(ev.op, Op::Store | Op::Rmw | Op::PlainWrite);
        if let (true, Some(v)) = (writes, ev.written) {
            self.by_loc.entry(ev.loc).or_default().push(SeenStore {
                val: v,
                step: ev.step,
            });
        }
    }

    /// Explain a load of rank > 0: the newest value and which older store it took.
    fn explain(&self, n: &Names<'_>, ev: &Event) -> String {
        let loc = n.loc(ev.loc);
        let mut s = format!("stale: {} of {}", ev.rank, ev.candidates);
        let empty = Vec::new();
        let hist = self.by_loc.get(&ev.loc).unwrap_or(&empty);
        let Some(newest) = hist.last() else {
            s.push_str(", no store in the log");
            return s;
        };
        let _ = write!(
            s,
            ", newest is {} from step {}",
            value(n, &loc, newest.val),
            newest.step
        );
        // Candidates are the newest stores in order (an SC load may drop some SC ones, so
        // check the value and fall back to the newest older store holding it).
        let rank = ev.rank as usize;
        let by_rank = if rank < hist.len() {
            Some(hist[hist.len() - 1 - rank])
        } else {
            None
        };
        let read = ev.read;
        let which = match by_rank {
            Some(st) if Some(st.val) == read => Some(Some(st)),
            _ if rank == hist.len() => Some(None),
            _ => {
                let older = &hist[..hist.len() - 1];
                match older.iter().rev().find(|st| Some(st.val) == read) {
                    Some(st) => Some(Some(*st)),
                    None => Some(None),
                }
            }
        };
        match which {
            Some(Some(st)) => {
                let _ = write!(s, "; read the store of step {}", st.step);
            }
            _ => s.push_str("; read the initial value"),
        }
        s
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "?".to_string(), word)
}

/// A value read or written at `loc`, decoded for the location (see [`value`]).
fn val(n: &Names<'_>, loc: &str, v: Option<u64>) -> String {
    v.map_or_else(|| "?".to_string(), |v| value(n, loc, v))
}

/// The text of one event (without its task or step).
fn event_text(n: &Names<'_>, ev: &Event, stores: Option<&Stores>) -> String {
    let o = ord_suffix(ev.ord);
    let loc = || n.loc(ev.loc);
    let mut s = match ev.op {
        Op::Start => "start".to_string(),
        Op::Finish => "finish".to_string(),
        Op::Load => format!("load{o} {} = {}", loc(), val(n, &loc(), ev.read)),
        Op::Store => format!("store{o} {} := {}", loc(), val(n, &loc(), ev.written)),
        Op::Rmw => format!(
            "rmw{o} {}: {} -> {}",
            loc(),
            val(n, &loc(), ev.read),
            val(n, &loc(), ev.written)
        ),
        Op::CasFail => format!("cas-fail{o} {} = {}", loc(), val(n, &loc(), ev.read)),
        Op::Fence => format!("fence{o}"),
        Op::PlainRead => format!("read {} = {}", loc(), val(n, &loc(), ev.read)),
        Op::PlainWrite => format!("write {} := {}", loc(), val(n, &loc(), ev.written)),
        Op::Lock => format!("lock {}", loc()),
        Op::LockBlocked => format!("lock {}: blocked", loc()),
        Op::Unlock => format!("unlock {}", loc()),
        Op::Spawn => format!("spawn {}", n.task(ev.other)),
        Op::Join => format!("join {}", n.task(ev.other)),
        Op::JoinBlocked => format!("join {}: blocked", n.task(ev.other)),
        Op::Park => "park".to_string(),
        Op::ParkCommit => match ev.written {
            Some(0) => "park commit: resumes at once".to_string(),
            Some(_) => "park commit: stays parked".to_string(),
            None => "park commit".to_string(),
        },
        Op::Unpark => "unpark".to_string(),
        Op::Ready => format!("ready {}", n.task(ev.other)),
        Op::Yield => "yield".to_string(),
        Op::Sleep => format!("sleep until {}", ev.written.map_or("?".into(), vtime)),
        Op::TimerAdd => format!(
            "timer #{} armed for {}",
            opt(ev.written),
            ev.read.map_or("?".into(), vtime)
        ),
        Op::TimerCancel => match ev.read {
            Some(0) => format!("cancel timer #{} (already fired)", opt(ev.written)),
            _ => format!("cancel timer #{}", opt(ev.written)),
        },
        Op::TimeAdvance => {
            format!("time advances to {}", ev.written.map_or("?".into(), vtime))
        }
        Op::Race => format!("DATA RACE on {} with {}", loc(), n.task(ev.other)),
        Op::UserChoice => format!("choice -> {}", opt(ev.written)),
        Op::Flush => format!("flush{o} {} := {}", loc(), val(n, &loc(), ev.written)),
    };
    if matches!(ev.op, Op::Load | Op::PlainRead) && ev.rank > 0 {
        let why = match stores {
            Some(st) => st.explain(n, ev),
            None => format!("stale: {} of {}", ev.rank, ev.candidates),
        };
        let _ = write!(s, "  ({why})");
    }
    s
}

/// One event as a line for error messages: `step 12 reader: load(sc) pd0.closing = 0`.
pub fn describe_event(log: &EventLog, ev: &Event) -> String {
    let n = Names::new(log);
    format!(
        "step {} {}: {}",
        ev.step,
        n.task(ev.task),
        event_text(&n, ev, None)
    )
}

/// A row of the timeline.
enum Row {
    /// An event of a task; `stale` marks a load that did not read the newest store.
    Task {
        step: u32,
        task: u32,
        op: Op,
        text: String,
        stale: bool,
    },
    /// A full-width row (time advance, timer firing, engine event).
    Full { step: u32, text: String },
}

/// The rows of a log, with stale reads explained and timer firings made explicit.
fn rows(log: &EventLog) -> Vec<Row> {
    let n = Names::new(log);
    let mut stores = Stores::default();
    let mut spawned: BTreeSet<u32> = BTreeSet::new();
    let mut out = Vec::with_capacity(log.events.len());
    for ev in &log.events {
        if ev.op == Op::Spawn {
            spawned.insert(ev.other);
        }
        if ev.task == NONE || ev.op == Op::TimeAdvance {
            out.push(Row::Full {
                step: ev.step,
                text: event_text(&n, ev, Some(&stores)),
            });
            continue;
        }
        if ev.op == Op::Start && ev.task != 0 && !spawned.contains(&ev.task) {
            out.push(Row::Full {
                step: ev.step,
                text: format!("timer fires: {} starts", n.task(ev.task)),
            });
        }
        let stale = matches!(ev.op, Op::Load | Op::PlainRead) && ev.rank > 0;
        let text = event_text(&n, ev, Some(&stores));
        stores.record(ev);
        out.push(Row::Task {
            step: ev.step,
            task: ev.task,
            op: ev.op,
            text,
            stale,
        });
    }
    out
}

/// The lanes: every task named in the log or acting in it, in id order.
fn lanes(log: &EventLog) -> Vec<u32> {
    let mut ids: BTreeSet<u32> = (0..log.tasks.len() as u32).collect();
    for ev in &log.events {
        if ev.task != NONE {
            ids.insert(ev.task);
        }
    }
    ids.into_iter().collect()
}

/// The heading lines shared by both renderings.
fn heading(trace: &Trace) -> Vec<String> {
    let m = &trace.meta;
    let what = if m.protocol.is_empty() {
        clean(&m.scenario)
    } else {
        clean(&format!("{} / {}", m.scenario, m.protocol))
    };
    let faults = if m.faults.is_none() {
        String::new()
    } else {
        format!(", faults {}", m.faults)
    };
    vec![
        format!(
            "trace: {what}, memory {}, strategy {}, seed {}, schedule {}{faults}",
            clean(&m.memory),
            clean(&m.strategy),
            m.seed,
            m.schedule_index
        ),
        format!(
            "{} choices, {} events, written by netpoll-sim {}",
            trace.choices.len(),
            trace.events.events.len(),
            clean(&m.crate_version)
        ),
    ]
}

/// The failure's lines (its message may span several).
fn failure_lines(trace: &Trace) -> Vec<String> {
    let mut v = vec![format!("FAILURE ({})", clean(&trace.failure.kind))];
    for l in trace.failure.message.lines() {
        v.push(format!("  {}", clean(l)));
    }
    v
}

/// The text swimlane of `trace`.
pub fn render_text(trace: &Trace) -> String {
    render_text_with(trace, false)
}

/// Fewer rows than this alone at the start are not worth collapsing.
const MIN_PROLOGUE_ROWS: usize = 4;

/// The text swimlane with the prologue collapsed: the rows at the start in which only the
/// first task runs (setting up: opening pds, pipes) become one line, so the picture starts
/// where the tasks begin to interleave. [`render_text`] shows every row.
pub fn render_text_compact(trace: &Trace) -> String {
    render_text_with(trace, true)
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
    let step_of = |r: &Row| match r {
        Row::Task { step, .. } | Row::Full { step, .. } => *step,
    };
    let (from, to) = (step_of(&rows[0]), step_of(&rows[k - 1]));
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

fn render_text_with(trace: &Trace, compact: bool) -> String {
    let log = &trace.events;
    let n = Names::new(log);
    let lanes = lanes(log);
    let mut rows = rows(log);
    let lane_pos: BTreeMap<u32, usize> = lanes.iter().enumerate().map(|(i, t)| (*t, i)).collect();

    let max_step = log.events.iter().map(|e| e.step).max().unwrap_or(0);
    let step_w = max_step.to_string().len().max("step".len());
    let mut width = MIN_LANE_WIDTH;
    for t in &lanes {
        width = width.max(n.task(*t).chars().count());
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
    for r in &rows {
        match r {
            Row::Full { step, text } => {
                let mut line = format!("{step:>step_w$}");
                pad_to(&mut line, step_w + LANE_GAP);
                line.push_str("== ");
                line.push_str(text);
                line.push(' ');
                while line.chars().count() < full_w {
                    line.push('=');
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
                for (i, t) in lanes.iter().enumerate() {
                    let at = lane_start(i);
                    if line.chars().count() > at {
                        continue; // an overflowing cell covers this lane
                    }
                    if i == me {
                        pad_to(&mut line, at);
                        line.push_str(text);
                    } else if alive.contains(t) {
                        pad_to(&mut line, at);
                        line.push('|');
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

fn pad_to(s: &mut String, col: usize) {
    let n = s.chars().count();
    if n < col {
        s.push_str(&" ".repeat(col - n));
    }
}

/// Escape text for XML (and drop characters XML forbids).
fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if c.is_control() => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

/// The first `max` characters of `s`, with an ellipsis when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// SVG geometry (pixels).
const SVG_LANE_W: usize = 240;
const SVG_ROW_H: usize = 18;
const SVG_LEFT: usize = 56;
const SVG_TOP: usize = 72;
const SVG_LABEL_CHARS: usize = 34;
const SVG_FAILURE_LINE_H: usize = 15;
/// Approximate advance of one 11px monospace character.
const SVG_CHAR_W: usize = 7;

/// A self-contained SVG timeline of `trace`: one lane per task, one mark per event (hover
/// for its full text), stale reads in red, full-width rows for time and timers, the failure
/// at the bottom.
pub fn render_svg(trace: &Trace) -> String {
    let log = &trace.events;
    let n = Names::new(log);
    let lanes = lanes(log);
    let rows = rows(log);
    let lane_pos: BTreeMap<u32, usize> = lanes.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let fail = failure_lines(trace);
    let head = heading(trace);
    let longest = head
        .iter()
        .chain(fail.iter())
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let width = (SVG_LEFT + lanes.len().max(1) * SVG_LANE_W + 20).max(longest * SVG_CHAR_W + 16);
    let rows_bottom = SVG_TOP + rows.len() * SVG_ROW_H;
    let height = rows_bottom + 30 + fail.len() * SVG_FAILURE_LINE_H + 10;
    let lane_x = |i: usize| SVG_LEFT + i * SVG_LANE_W + 10;

    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">"#
    );
    o.push_str(
        "<style>\
         .lane{stroke:#c8c8c8;stroke-width:1}\
         .full{stroke:#888;stroke-dasharray:4 3}\
         .mark{fill:#607d8b}.load{fill:#1565c0}.store{fill:#2e7d32}.sync{fill:#6a1b9a}\
         .stale{fill:#d32f2f}.label{fill:#222}.slabel{fill:#d32f2f;font-weight:bold}\
         .step{fill:#888}.name{font-weight:bold;font-size:12px}.fail{fill:#b71c1c}\
         </style>\n",
    );
    let _ = writeln!(o, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    for (i, h) in head.iter().enumerate() {
        let _ = writeln!(o, r#"<text x="8" y="{}">{}</text>"#, 16 + i * 15, xml(h));
    }
    for (i, t) in lanes.iter().enumerate() {
        let x = lane_x(i);
        let _ = writeln!(
            o,
            r#"<text class="name" x="{x}" y="{}">{}</text>"#,
            SVG_TOP - 12,
            xml(&n.task(*t))
        );
        let _ = writeln!(
            o,
            r#"<line class="lane" x1="{x}" y1="{}" x2="{x}" y2="{rows_bottom}"/>"#,
            SVG_TOP - 6
        );
    }
    for (r, row) in rows.iter().enumerate() {
        let y = SVG_TOP + r * SVG_ROW_H + SVG_ROW_H / 2;
        match row {
            Row::Full { step, text } => {
                let _ = writeln!(
                    o,
                    r#"<g><title>step {step}: {t}</title><line class="full" x1="{SVG_LEFT}" y1="{y}" x2="{}" y2="{y}"/><text class="label" x="{}" y="{}">{t}</text></g>"#,
                    width - 10,
                    SVG_LEFT + 14,
                    y - 3,
                    t = xml(text)
                );
            }
            Row::Task {
                step,
                task,
                op,
                text,
                stale,
            } => {
                let i = lane_pos.get(task).copied().unwrap_or(0);
                let x = lane_x(i);
                let ev_class = match op {
                    _ if *stale => "stale",
                    Op::Load | Op::PlainRead | Op::CasFail => "load",
                    Op::Store | Op::PlainWrite | Op::Rmw | Op::Flush => "store",
                    Op::Park
                    | Op::ParkCommit
                    | Op::Unpark
                    | Op::Ready
                    | Op::Lock
                    | Op::LockBlocked
                    | Op::Unlock => "sync",
                    _ => "mark",
                };
                let r_px = if *stale { 6 } else { 4 };
                let label_class = if *stale { "slabel" } else { "label" };
                let _ = writeln!(
                    o,
                    r#"<text class="step" x="8" y="{}">{step}</text><g><title>step {step} {}: {}</title><circle class="{ev_class}" cx="{x}" cy="{y}" r="{r_px}"/><text class="{label_class}" x="{}" y="{}">{}</text></g>"#,
                    y + 4,
                    xml(&n.task(*task)),
                    xml(text),
                    x + 9,
                    y + 4,
                    xml(&shorten(text, SVG_LABEL_CHARS))
                );
            }
        }
    }
    for (i, l) in fail.iter().enumerate() {
        let _ = writeln!(
            o,
            r#"<text class="fail" x="8" y="{}" xml:space="preserve">{}</text>"#,
            rows_bottom + 24 + i * SVG_FAILURE_LINE_H,
            xml(l)
        );
    }
    o.push_str("</svg>\n");
    o
}
