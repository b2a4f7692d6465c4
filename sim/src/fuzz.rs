//! Hostile traces, and the in-tree fuzzer of the trace decoder, the renderers and replay.
//!
//! A trace is a file anyone can hand to `netpoll-sim show` or `replay`: whatever it holds,
//! decoding never panics and allocates a bounded amount, rendering takes memory proportional to
//! one row and time proportional to the trace, every line printed is bounded and free of
//! control characters, and a replay ends with the recorded failure or one line naming what
//! differs. This module makes such files ([`long_name_trace`], [`big_trace`], the mutations of
//! [`mutate`]) and checks those properties on each ([`check_trace`]); [`run`] is the seeded
//! fuzzer (`cargo test` runs it briefly with a fixed seed; `cargo run --release -p
//! netpoll-sim --example fuzz -- SEED CASES` runs it for longer).

use crate::builder::replay::{replay_loaded, BuiltinChecks};
use crate::engine::choice::{Choice, ChoiceKind};
use crate::engine::event::{Event, LocName, Op, Ord, Pick};
use crate::engine::trace::{decode, encode, encode_body, frame, safe, FORMAT_VERSION};
use crate::platform::values::renderer;
use crate::{scenario_check, Builder, MemoryModel, Strategy, Subject, Trace};
use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;
use std::io::{self, Write};
use std::path::Path;

/// The longest line a text swimlane may have: the step column, 24 lanes of at most 40
/// characters with their gaps, and one cut cell (160) running on, with room to spare.
pub const MAX_TEXT_LINE_CHARS: usize = 1400;

/// The longest line of an SVG timeline (XML escaping makes a character up to six).
pub const MAX_SVG_LINE_CHARS: usize = 6000;

/// The longest one-line error a replay may print.
pub const MAX_ERROR_CHARS: usize = 3000;

/// A real failing trace: golang/go#45211 in `close-unblocks-read` under the pre-fix protocol,
/// as found (not shrunk). It replays with the built-in check it records.
pub fn base_trace() -> Trace {
    let check = scenario_check(Scenario::CloseUnblocksRead, Protocol::PreFix45211);
    let b = Builder::default()
        .strategy(Strategy::Random)
        .memory(MemoryModel::C11)
        .schedules(10_000);
    let r = b.explore(check);
    let info = r
        .first_failure
        .expect("the pre-fix protocol fails under c11");
    b.trace(Subject::Builtin(check), &info, false)
}

/// [`base_trace`] with its last task that acts (the reader) renamed to `chars` characters (the
/// issue's 102 KB trace has a 100,000-character name).
pub fn long_name_trace(chars: usize) -> Trace {
    let mut t = base_trace();
    let last = t
        .events
        .events
        .iter()
        .filter_map(|e| e.task)
        .max()
        .unwrap_or(0);
    t.events.tasks[last as usize] = Cow::Owned("n".repeat(chars));
    t
}

/// A synthetic trace of `events` events over 24 tasks and 500 locations with long names, every
/// third event a stale load, a time advance every hundred: at 220,000 events it is about 3.8 MB
/// (the size at which the renderer before streaming needed 5.3 GB).
pub fn big_trace(events: usize) -> Trace {
    let mut t = base_trace();
    const TASKS: u32 = 24;
    const LOCS: u32 = 500;
    t.events.tasks = (0..TASKS)
        .map(|i| Cow::Owned(format!("worker-with-a-long-name-{i:02}-{}", "w".repeat(30))))
        .collect();
    t.events.locations = (0..LOCS)
        .map(|i| LocName {
            object: Cow::Owned(format!("object-with-a-long-name-{}", "o".repeat(40))),
            index: Some(i),
            field: Cow::Owned(format!("field-{}", "f".repeat(30))),
        })
        .collect();
    t.events.events = (0..events)
        .map(|i| {
            let loc = (i as u32 * 7) % LOCS;
            let op = match i % 100 {
                99 => Op::TimeAdvance {
                    to_ns: 1_000_000_000 + i as i64,
                },
                n if n % 3 == 0 => Op::Load {
                    loc,
                    ord: Ord::Acquire,
                    val: i as u64,
                    pick: Pick { rank: 2, of: 4 },
                },
                n if n % 3 == 1 => Op::Store {
                    loc,
                    ord: Ord::Release,
                    val: i as u64 * 3,
                },
                _ => Op::Rmw {
                    loc,
                    ord: Ord::SeqCst,
                    read: i as u64,
                    written: i as u64 + 1,
                },
            };
            let task = (!matches!(op, Op::TimeAdvance { .. })).then_some(i as u32 % TASKS);
            Event {
                step: i as u64 + 1,
                task,
                op,
            }
        })
        .collect();
    t
}

/// Counts what a rendering writes, line by line, keeping only the current line: the longest
/// line, the total, and whether a control character other than a newline was written.
#[derive(Default)]
pub struct Sink {
    /// Bytes written.
    pub bytes: u64,
    /// Lines written.
    pub lines: u64,
    /// The longest line, in characters.
    pub longest: usize,
    /// A control character (other than `\n`) or another dangerous character was written.
    pub dangerous: bool,
    line: Vec<u8>,
}

impl Sink {
    fn end_line(&mut self) {
        let s = String::from_utf8_lossy(&self.line);
        self.longest = self.longest.max(s.chars().count());
        self.dangerous |= s.chars().any(safe::dangerous);
        self.line.clear();
        self.lines += 1;
    }
    /// Count the last line, if it has no newline; the figures are then final.
    pub fn finish(mut self) -> Sink {
        if !self.line.is_empty() {
            self.end_line();
        }
        self
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes += buf.len() as u64;
        for &b in buf {
            if b == b'\n' {
                self.end_line();
            } else {
                self.line.push(b);
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Render `t` every way `show` does and check what is written: no control characters, every
/// line bounded, the total proportional to the trace. Returns what was wrong, if anything.
pub fn check_render(t: &Trace) -> Result<(), String> {
    let r = renderer();
    let rows = t.events.events.len() as u64;
    for (what, max_line, compact) in [
        ("text", MAX_TEXT_LINE_CHARS, Some(false)),
        ("compact text", MAX_TEXT_LINE_CHARS, Some(true)),
        ("svg", MAX_SVG_LINE_CHARS, None),
    ] {
        let mut sink = Sink::default();
        let res = match compact {
            Some(c) => r.write_text(t, c, &mut sink),
            None => r.write_svg(t, &mut sink),
        };
        res.map_err(|e| format!("{what}: {e}"))?;
        let s = sink.finish();
        if s.dangerous {
            return Err(format!("{what}: a control character was written"));
        }
        if s.longest > max_line {
            return Err(format!("{what}: a line of {} characters", s.longest));
        }
        // Rows, the heading, the rules and at most a few hundred lines of failure.
        if s.lines > rows + 300 {
            return Err(format!("{what}: {} lines for {rows} events", s.lines));
        }
    }
    Ok(())
}

/// Replay `t` as `netpoll-sim replay` does and check the outcome: the recorded failure, or an
/// error that is one bounded line of printable characters. Returns what was wrong.
pub fn check_replay(t: &Trace) -> Result<(), String> {
    match replay_loaded(t.clone(), Path::new("fuzz.trace"), &BuiltinChecks) {
        Ok(_) => Ok(()),
        Err(e) => {
            let s = e.to_string();
            if s.contains('\n') || s.chars().any(safe::dangerous) {
                return Err(format!("replay error is not one printable line: {s:?}"));
            }
            if s.chars().count() > MAX_ERROR_CHARS {
                return Err(format!("replay error of {} characters", s.chars().count()));
            }
            Ok(())
        }
    }
}

/// Check one trace: it round-trips through the file format, renders within bounds, and (if
/// `replay`) replays to its failure or a bounded one-line error.
pub fn check_trace(t: &Trace, replay: bool) -> Result<(), String> {
    let bytes = encode(t).map_err(|e| format!("encode: {e}"))?;
    let back: Trace = decode(&bytes).map_err(|e| format!("decode of an encoded trace: {e}"))?;
    if back != *t {
        return Err("the trace does not round-trip".into());
    }
    check_render(t)?;
    if replay {
        check_replay(t)?;
    }
    Ok(())
}

/// Text a mutation may put where a name or message was.
fn hostile_text(rng: &mut ChaCha8Rng) -> String {
    match rng.next_u32() % 8 {
        0 => "\u{1b}[2J\u{1b}[H".to_string(),
        1 => "evil\nname\r\twith\u{0}nul".to_string(),
        2 => "\u{202e}txt.exe\u{2066}".to_string(),
        3 => "n".repeat(1 + (rng.next_u32() % 100_000) as usize),
        4 => String::new(),
        5 => "line\n".repeat(1 + (rng.next_u32() % 5_000) as usize),
        6 => "\u{85}\u{9b}31m\u{2028}".to_string(),
        _ => (0..(rng.next_u32() % 64))
            .map(|_| char::from_u32(rng.next_u32() % 0x3000).unwrap_or('?'))
            .collect(),
    }
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, v: &'a mut [T]) -> Option<&'a mut T> {
    if v.is_empty() {
        return None;
    }
    let i = (rng.next_u32() as usize) % v.len();
    v.get_mut(i)
}

/// A value that may be out of any range: small, at a boundary, or huge.
fn wild_u32(rng: &mut ChaCha8Rng) -> u32 {
    match rng.next_u32() % 4 {
        0 => rng.next_u32() % 8,
        1 => u32::MAX - rng.next_u32() % 4,
        2 => 1 << (rng.next_u32() % 32),
        _ => rng.next_u32(),
    }
}

/// Mutate `t` in place: one to four structure-aware changes (names, messages, metadata,
/// events, choices).
pub fn mutate(t: &mut Trace, rng: &mut ChaCha8Rng) {
    for _ in 0..1 + rng.next_u32() % 4 {
        match rng.next_u32() % 12 {
            0 => {
                let s = hostile_text(rng);
                if let Some(n) = pick(rng, &mut t.events.tasks) {
                    *n = Cow::Owned(s);
                }
            }
            1 => {
                let (a, b) = (hostile_text(rng), hostile_text(rng));
                if let Some(l) = pick(rng, &mut t.events.locations) {
                    l.object = Cow::Owned(a);
                    l.field = Cow::Owned(b);
                }
            }
            2 => t.failure.message = hostile_text(rng),
            3 => t.meta.crate_version = hostile_text(rng),
            4 => {
                t.subject = Subject::Test(crate::trace::TestId {
                    package: hostile_text(rng),
                    target: hostile_text(rng),
                    name: hostile_text(rng),
                })
            }
            5 => {
                t.meta.max_steps = match rng.next_u32() % 3 {
                    0 => 0,
                    1 => u64::MAX,
                    _ => rng.next_u64() % 1_000,
                }
            }
            6 => {
                let w = wild_u32(rng);
                if let Some(e) = pick(rng, &mut t.events.events) {
                    e.task = Some(w);
                }
            }
            7 => {
                let (loc, rank, of, val) = (
                    wild_u32(rng),
                    rng.next_u32() as u8,
                    rng.next_u32() as u8,
                    rng.next_u64(),
                );
                if let Some(e) = pick(rng, &mut t.events.events) {
                    e.op = Op::Load {
                        loc,
                        ord: Ord::Relaxed,
                        val,
                        pick: Pick { rank, of },
                    };
                }
            }
            8 => {
                let step = rng.next_u64() >> (rng.next_u32() % 64);
                if let Some(e) = pick(rng, &mut t.events.events) {
                    e.step = step;
                }
            }
            9 => {
                let (n, chosen) = (wild_u32(rng), wild_u32(rng));
                if let Some(c) = pick(rng, &mut t.choices) {
                    c.n = n;
                    c.chosen = chosen;
                }
            }
            10 => match rng.next_u32() % 3 {
                0 => {
                    let k = (rng.next_u32() as usize) % (t.choices.len() + 1);
                    t.choices.truncate(k);
                }
                1 => t.choices.push(Choice {
                    kind: ChoiceKind::ALL[(rng.next_u32() % 4) as usize],
                    n: wild_u32(rng),
                    chosen: wild_u32(rng),
                }),
                _ => {
                    if let Some(c) = pick(rng, &mut t.choices) {
                        c.kind = ChoiceKind::ALL[(rng.next_u32() % 4) as usize];
                    }
                }
            },
            _ => {
                // Many copies of one event (a long trace from a short one).
                let copies = (rng.next_u32() % 2_000) as usize;
                if let Some(e) = t.events.events.first().copied() {
                    t.events.events.extend(std::iter::repeat_n(e, copies));
                }
            }
        }
    }
}

/// Mutate the bytes of `body` (flips, insertions, deletions, a large length prefix).
fn mutate_bytes(body: &mut Vec<u8>, rng: &mut ChaCha8Rng) {
    for _ in 0..1 + rng.next_u32() % 4 {
        let at = (rng.next_u32() as usize) % (body.len() + 1);
        match rng.next_u32() % 4 {
            0 if at < body.len() => body[at] ^= 1 << (rng.next_u32() % 8),
            1 => body.insert(at, rng.next_u32() as u8),
            2 if at < body.len() => {
                body.remove(at);
            }
            _ => {
                body.splice(
                    at..at,
                    [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
                );
            }
        }
    }
}

/// What a fuzzing run did.
#[derive(Clone, Debug, Default)]
pub struct FuzzStats {
    /// Cases run.
    pub cases: u64,
    /// Cases whose bytes decoded (and were then rendered).
    pub decoded: u64,
    /// Cases replayed.
    pub replayed: u64,
}

/// Run `cases` fuzz cases from `seed`, starting from `base` (a real trace): each either
/// mutates the trace's structure (then renders it, and replays every eighth) or its encoded
/// bytes (then decodes them, and renders what decodes). Returns the first property broken, with
/// the case's number, or what was done.
pub fn run(base: &Trace, seed: u64, cases: u64) -> Result<FuzzStats, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let body = encode_body(base).map_err(|e| e.to_string())?;
    let mut stats = FuzzStats::default();
    for case in 0..cases {
        stats.cases += 1;
        let fail = |e: String| format!("seed {seed}, case {case}: {e}");
        if rng.next_u32() % 2 == 0 {
            let mut t = base.clone();
            mutate(&mut t, &mut rng);
            let replay = case % 8 == 0;
            stats.replayed += replay as u64;
            stats.decoded += 1;
            check_trace(&t, replay).map_err(fail)?;
        } else {
            let mut b = body.clone();
            mutate_bytes(&mut b, &mut rng);
            let r: Result<Trace, _> = decode(&frame(FORMAT_VERSION, &b));
            match r {
                Ok(t) => {
                    stats.decoded += 1;
                    check_render(&t).map_err(fail)?;
                }
                Err(e) => {
                    let s = e.to_string();
                    if s.contains('\n') || s.chars().any(safe::dangerous) {
                        return Err(fail(format!("decode error not one printable line: {s:?}")));
                    }
                }
            }
        }
    }
    Ok(stats)
}
