//! The SVG timeline: one lane per task, one mark per event.

use super::names::Names;
use super::rows::{rows, Row};
use super::text::lanes;
use super::{failure_lines, heading, Renderer};
use crate::engine::event::Op;
use crate::engine::trace::meta::{Builtin, Trace};
use std::collections::BTreeMap;
use std::fmt::Write as _;

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
pub(crate) fn render<B: Builtin>(r: &Renderer<'_>, trace: &Trace<B>) -> String {
    let log = &trace.events;
    let n = Names::new(log);
    let lanes = lanes(log);
    let rows = rows(r, &n, log);
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
                    Op::Load { .. } | Op::PlainRead { .. } | Op::CasFail { .. } => "load",
                    Op::Store { .. }
                    | Op::PlainWrite { .. }
                    | Op::Rmw { .. }
                    | Op::Flush { .. } => "store",
                    Op::Park { .. }
                    | Op::ParkCommit { .. }
                    | Op::Unpark { .. }
                    | Op::Ready { .. }
                    | Op::Lock { .. }
                    | Op::LockBlocked { .. }
                    | Op::Unlock { .. } => "sync",
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
