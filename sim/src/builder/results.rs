//! Shard result files: what one shard of a campaign writes (`netpoll-sim explore --shard
//! i/n`), and how the shards' files add up to the single-process run (`netpoll-sim merge`).
//!
//! A shard writes, in its output directory, `shard-{i}-of-{n}.json` (a [`ShardResult`]:
//! the campaign's parameters, the shard's figures and verdict, every unit it ran, its first
//! failure) and, beside it, `shard-{i}-of-{n}/` with that failure's shrunk trace. Both are
//! replaced when the shard runs again, which redoes exactly the same work.
//!
//! [`merge`] reads the files of all shards, checks that they are of one campaign and that
//! every shard is there once, adds the units up in campaign order (so the figures, the
//! verdict and the first failing schedule are those of the single-process run), and groups
//! the shards' failures by their shrunk trace.
//!
//! A `graph` search has no campaign order among its parts (each execution graph is reached
//! once, wherever it is searched): its shards write their graph counts instead of units,
//! the merge adds them up, and each shard's first failure is named by its run within that
//! shard.
//!
//! The files are JSON (serde_json): a person or a script can read them, and a damaged or
//! forged one is refused with an error naming the file, never a panic.

use super::save::{replay_command, save_failure, Saved};
use super::{Builder, IntoCheck, ShardRun, Subject, Trace};
use crate::engine::explore::shard::Shard;
use crate::engine::explore::unit::{tally, Slot, UnitKey, UnitResult};
use crate::engine::explore::{
    Coverage, FailureInfo, GraphCounts, Report, Strategy, PCT_WARMUP, SHARD_DEPTH, SPLIT_DEPTH,
};
use crate::engine::failure::FailureKind;
use crate::engine::memory::MemoryModel;
use crate::engine::trace::read_file;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `format` field of every result file.
pub const FORMAT: &str = "netpoll-sim shard result";
/// The version of the result file format this build writes and reads.
pub const VERSION: u32 = 1;
/// The largest result file [`merge`] reads.
pub const MAX_RESULT_BYTES: u64 = 256 << 20;
/// How deep [`find_results`] looks into the directories it is given.
const SEARCH_DEPTH: usize = 4;

/// Everything that decides which schedules a campaign runs and what they do: shards merge
/// only when their campaigns are equal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// The check (a scenario check, or a test's check).
    pub subject: Subject,
    /// The strategy.
    pub strategy: Strategy,
    /// The memory model.
    pub memory: MemoryModel,
    /// The seed.
    pub seed: u64,
    /// The schedule budget (a cap for dfs).
    pub schedules: u64,
    /// The dfs preemption bound.
    pub preemption_bound: Option<u32>,
    /// The PCT depth.
    pub pct_depth: u32,
    /// The step limit of a schedule.
    pub max_steps: u64,
    /// The most tasks alive at once.
    pub max_live_tasks: u32,
    /// Whether a data race fails a schedule.
    pub fail_on_data_race: bool,
    /// Whether the campaign stops at its first failure.
    pub stop_at_first_failure: bool,
    /// The depth at which systematic searches are cut into subtrees.
    pub split_depth: usize,
    /// The depth of the prefix that says which shard owns a subtree.
    pub shard_depth: usize,
    /// PCT's warm-up.
    pub pct_warmup: u64,
    /// `netpoll-sim`'s version.
    pub crate_version: String,
}

impl Campaign {
    /// The campaign `b` runs on `subject`.
    pub fn new(b: &Builder, subject: Subject) -> Campaign {
        Campaign {
            subject,
            strategy: b.strategy,
            memory: b.memory,
            seed: b.seed,
            schedules: b.schedules,
            preemption_bound: b.preemption_bound,
            pct_depth: b.pct_depth,
            max_steps: b.max_steps,
            max_live_tasks: b.max_live_tasks,
            fail_on_data_race: b.fail_on_data_race,
            stop_at_first_failure: b.stop_at_first_failure,
            split_depth: SPLIT_DEPTH,
            shard_depth: SHARD_DEPTH,
            pct_warmup: PCT_WARMUP,
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The first parameter in which `other` differs: its name, this value, the other value.
    pub fn difference(&self, other: &Campaign) -> Option<(String, String, String)> {
        let (a, b) = (
            serde_json::to_value(self).ok()?,
            serde_json::to_value(other).ok()?,
        );
        let (serde_json::Value::Object(a), serde_json::Value::Object(b)) = (a, b) else {
            return None;
        };
        a.iter().find(|(k, v)| b.get(*k) != Some(v)).map(|(k, v)| {
            (
                k.clone(),
                v.to_string(),
                b.get(k).map_or("-".into(), |w| w.to_string()),
            )
        })
    }

    /// `close-unblocks-read / fixed, memory c11, strategy random, seed 0, 1000 schedules`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{}, memory {}, strategy {}",
            self.subject.label(),
            self.memory,
            self.strategy
        );
        match self.strategy {
            Strategy::Random => s.push_str(&format!(", seed {}", self.seed)),
            Strategy::Pct => {
                s.push_str(&format!(" (depth {}), seed {}", self.pct_depth, self.seed))
            }
            Strategy::Dfs => match self.preemption_bound {
                Some(p) => s.push_str(&format!(" (preemption bound {p})")),
                None => s.push_str(" (unbounded)"),
            },
            Strategy::Graph => {}
        }
        let (cap, stop) = (self.schedules, self.stop_at_first_failure);
        s.push_str(&format!(
            ", {} {cap} schedules{}",
            if self.strategy.systematic() {
                "at most"
            } else {
                ""
            },
            if stop {
                ", stopping at the first failure"
            } else {
                ""
            }
        ));
        s.replace(",  ", ", ")
    }
}

/// One unit a shard ran: its figures, and the offset of its first failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitRecord {
    /// The unit.
    pub unit: UnitKey,
    /// Schedules run from its start.
    pub schedules: u64,
    /// Steps over them.
    pub steps: u64,
    /// Data races over them.
    pub races: u64,
    /// Failing schedules among them.
    pub failures: u64,
    /// Whether it ran to its end.
    pub exhausted: bool,
    /// The offset of its first failing schedule.
    pub first_failure: Option<u64>,
}

impl UnitRecord {
    fn of(u: &UnitResult<FailureInfo>) -> UnitRecord {
        UnitRecord {
            unit: u.key.clone(),
            schedules: u.schedules,
            steps: u.steps,
            races: u.races,
            failures: u.failures,
            exhausted: u.exhausted,
            first_failure: u.first_failure.as_ref().map(|(o, _)| *o),
        }
    }

    /// The records of a shard's units: what ran, with consecutive schedule ranges joined
    /// into one (a sampling shard's part is one range).
    fn all(units: &[Slot<FailureInfo>]) -> Vec<UnitRecord> {
        let mut out: Vec<UnitRecord> = Vec::new();
        for slot in units {
            let Slot::Done(u) = slot else { continue };
            let r = UnitRecord::of(u);
            if let (Some(last), UnitKey::Range { start }) = (out.last_mut(), &r.unit) {
                if let UnitKey::Range { start: s0 } = last.unit {
                    if last.exhausted && s0 + last.schedules == *start {
                        if last.first_failure.is_none() {
                            last.first_failure = r.first_failure.map(|o| last.schedules + o);
                        }
                        last.schedules += r.schedules;
                        last.steps += r.steps;
                        last.races += r.races;
                        last.failures += r.failures;
                        last.exhausted = r.exhausted;
                        continue;
                    }
                }
            }
            out.push(r);
        }
        out
    }
}

/// A shard's first failing schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureRecord {
    /// The unit it is in (none for a `graph` shard, which has no units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<UnitKey>,
    /// Its offset in the unit (for a `graph` shard: its run within the shard).
    pub offset: u64,
    /// Its index in the campaign, when the shard can know it (random, PCT; a dfs shard does
    /// not know the sizes of other shards' subtrees: the merge computes it).
    pub index: Option<u64>,
    /// How it failed.
    pub kind: FailureKind,
    /// Its shrunk (or, with `--no-shrink`, as found) trace, relative to the result file's
    /// directory, `/`-separated.
    pub trace: String,
}

/// What a `graph` shard counted (see [`GraphCounts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphRecord {
    /// Complete executions.
    pub executions: u64,
    /// Blocked executions.
    pub blocked: u64,
    /// Runs dropped.
    pub dropped: u64,
}

/// Which shard a file is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardId {
    /// From 1.
    pub index: u32,
    /// Of how many.
    pub count: u32,
}

/// A shard's result file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardResult {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// The campaign.
    pub campaign: Campaign,
    /// Which shard.
    pub shard: ShardId,
    /// Schedules this shard ran (of its own part).
    pub schedules: u64,
    /// Steps over them.
    pub steps: u64,
    /// Failing schedules among them.
    pub failures: u64,
    /// Data races over them.
    pub races: u64,
    /// Whether the shard ran all of its part.
    pub complete: bool,
    /// The shard's verdict on its own part, in words.
    pub verdict: String,
    /// The units it ran, in campaign order (none for `graph`).
    pub units: Vec<UnitRecord>,
    /// For `graph`: the execution graphs its part counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphRecord>,
    /// Its first failure, if any.
    pub failure: Option<FailureRecord>,
    /// Wall time, in seconds (statistics only).
    pub elapsed_secs: f64,
}

impl ShardResult {
    /// The result file's name for `shard`.
    pub fn file_name(shard: Shard) -> String {
        format!("shard-{}-of-{}.json", shard.index(), shard.count())
    }

    /// The name of the directory beside the result file holding `shard`'s traces.
    pub fn trace_dir_name(shard: Shard) -> String {
        format!("shard-{}-of-{}", shard.index(), shard.count())
    }

    /// The shard as a [`Shard`].
    pub fn shard(&self) -> Result<Shard, String> {
        Shard::new(self.shard.index, self.shard.count)
    }

    /// Write the file into `dir` atomically (replacing an earlier run's); its path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, String> {
        let shard = self.shard()?;
        let path = dir.join(Self::file_name(shard));
        let mut text =
            serde_json::to_string_pretty(self).map_err(|e| format!("cannot encode: {e}"))?;
        text.push('\n');
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            Self::file_name(shard),
            std::process::id()
        ));
        let io = |e: std::io::Error, p: &Path| format!("{}: {e}", p.display());
        std::fs::write(&tmp, text).map_err(|e| io(e, &tmp))?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e, &path)
        })?;
        Ok(path)
    }

    /// Read and check a result file.
    pub fn read(path: &Path) -> Result<ShardResult, MergeError> {
        let bad = |reason: String| MergeError::NotAResult {
            path: path.to_path_buf(),
            reason,
        };
        let md = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        if md.len() > MAX_RESULT_BYTES {
            return Err(bad(format!(
                "{} bytes, more than a result file may have ({MAX_RESULT_BYTES})",
                md.len()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(bad(format!("its format is not {FORMAT:?}")));
        }
        match v.get("version").and_then(|f| f.as_u64()) {
            Some(n) if n == VERSION as u64 => {}
            found => {
                return Err(bad(format!(
                    "format version {}, but this netpoll-sim reads only version {VERSION}",
                    found.map_or("missing".to_string(), |n| n.to_string())
                )))
            }
        }
        let r: ShardResult = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
        let shard = r.shard().map_err(&bad)?;
        for u in &r.units {
            let mine = match (&u.unit, r.campaign.strategy.systematic()) {
                (UnitKey::Subtree(k), true) => shard.owns(k),
                (UnitKey::Range { start }, false) => {
                    shard.range(r.campaign.schedules).contains(start)
                        && start
                            .checked_add(u.schedules)
                            .is_some_and(|end| end <= shard.range(r.campaign.schedules).end)
                }
                _ => false,
            };
            let consistent = u.failures <= u.schedules
                && u.first_failure.is_none_or(|o| o < u.schedules)
                && u.first_failure.is_some() == (u.failures > 0);
            if !mine || !consistent {
                return Err(bad(format!(
                    "{} is not one of this shard's units, or its figures do not add up",
                    u.unit
                )));
            }
        }
        Ok(r)
    }
}

/// What running a shard produced.
#[derive(Clone, Debug)]
pub struct ShardOutput {
    /// The result, as written.
    pub result: ShardResult,
    /// Where it was written.
    pub path: PathBuf,
    /// The first failure's trace, if any.
    pub saved: Option<Saved>,
    /// The shard's own figures and verdict.
    pub report: Report,
}

/// Run `b`'s shard (all of the campaign, as shard 1/1, when none is set) of `check`, and
/// write its result and its first failure's trace (shrunk unless `shrink` is false) into
/// `dir`.
pub fn run_shard<C: IntoCheck>(
    b: &Builder,
    check: C,
    dir: &Path,
    shrink: bool,
    progress: impl FnMut(&Report),
) -> Result<ShardOutput, String> {
    let shard = b.shard.unwrap_or_else(|| Shard::new(1, 1).expect("1/1"));
    let c = b.prepare(check);
    let subject = c.subject.clone().ok_or(
        "the check has no subject (run it inside a cargo test), so its shards cannot be merged",
    )?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let traces = dir.join(ShardResult::trace_dir_name(shard));
    if traces.exists() {
        std::fs::remove_dir_all(&traces).map_err(|e| format!("{}: {e}", traces.display()))?;
    }
    let b = b.clone().shard(Some(shard));
    let run: ShardRun = b.explore_shard_prepared(&c, progress);
    let r = &run.report;
    let records = UnitRecord::all(&run.units);
    // The first failure, named by the record that holds it (ranges are joined).
    let first = run.units.iter().find_map(|s| match s {
        Slot::Done(u) => u.first_failure.as_ref().map(|(_, f)| f),
        Slot::NotRun(_) => None,
    });
    let first = first.and_then(|info| {
        let r = records.iter().find(|r| r.first_failure.is_some())?;
        Some((Some(r.unit.clone()), r.first_failure?, info))
    });
    // A graph shard has no units: its first failure is the report's, at its run.
    let first = first.or_else(|| {
        let info = r.first_failure.as_ref().filter(|_| r.graph.is_some())?;
        Some((None, info.schedule_index, info))
    });
    let mut saved = None;
    let mut failure = None;
    if let Some((unit, offset, info)) = first {
        let s = save_failure(&b, &subject, info, &c.body, shrink, &traces)
            .map_err(|e| format!("cannot save the trace: {e}"))?;
        let rel = s
            .path
            .strip_prefix(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()))
            .unwrap_or(&s.path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        failure = Some(FailureRecord {
            index: matches!(unit, Some(UnitKey::Range { .. })).then_some(info.schedule_index),
            unit,
            offset,
            kind: info.failure.kind(),
            trace: rel,
        });
        saved = Some(s);
    }
    let result = ShardResult {
        format: FORMAT.to_string(),
        version: VERSION,
        campaign: Campaign::new(&b, subject),
        shard: ShardId {
            index: shard.index(),
            count: shard.count(),
        },
        schedules: r.schedules,
        steps: r.steps,
        failures: r.failures,
        races: r.races,
        complete: r.complete(),
        verdict: r.verdict(),
        units: records,
        graph: r.graph.map(|g| GraphRecord {
            executions: g.executions,
            blocked: g.blocked,
            dropped: g.dropped,
        }),
        failure,
        elapsed_secs: r.elapsed.as_secs_f64(),
    };
    let path = result.write(dir)?;
    let mut report = run.report;
    report.first_failure = None;
    Ok(ShardOutput {
        result,
        path,
        saved,
        report,
    })
}

/// Why shards do not merge. Each displays as one line naming the file or the shards.
#[derive(Clone, Debug, PartialEq)]
pub enum MergeError {
    /// No result file in the paths given.
    NoResults(Vec<PathBuf>),
    /// A path that cannot be read.
    Unreadable {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file that is not a usable result file.
    NotAResult {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file of another campaign than the first file's.
    OtherCampaign {
        /// The first file.
        first: PathBuf,
        /// The other file.
        path: PathBuf,
        /// The first parameter that differs, and its two values.
        field: String,
        /// Its value in the first file.
        ours: String,
        /// Its value in the other.
        theirs: String,
    },
    /// The same shard twice.
    Duplicate {
        /// The shard.
        shard: Shard,
        /// One file.
        a: PathBuf,
        /// The other.
        b: PathBuf,
    },
    /// Shards missing.
    Missing {
        /// Their indices.
        missing: Vec<u32>,
        /// How many shards the campaign has.
        count: u32,
    },
    /// A failure's trace cannot be read.
    Trace {
        /// The trace's path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The shards' units do not add up to the campaign.
    Inconsistent(String),
}

/// A path as it may be printed: control characters escaped.
fn shown(p: &Path) -> String {
    escape(&p.display().to_string(), false)
}

/// Text from a file as one line.
fn text(s: &str) -> String {
    escape(s, false)
}

/// Text from a file, with its control characters escaped (line breaks too, unless
/// `lines`).
fn escape(s: &str, lines: bool) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() && !(lines && c == '\n') {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::NoResults(paths) => {
                let p: Vec<String> = paths.iter().map(|p| shown(p)).collect();
                write!(
                    f,
                    "no shard result files (shard-I-of-N.json) in {}",
                    p.join(", ")
                )
            }
            MergeError::Unreadable { path, reason } => {
                write!(f, "{}: {}", shown(path), text(reason))
            }
            MergeError::NotAResult { path, reason } => {
                write!(
                    f,
                    "{}: not a usable shard result: {}",
                    shown(path),
                    text(reason)
                )
            }
            MergeError::OtherCampaign {
                first,
                path,
                field,
                ours,
                theirs,
            } => write!(
                f,
                "{} is of another campaign than {}: {} is {} there and {} here; refusing to merge",
                shown(path),
                shown(first),
                text(field),
                text(theirs),
                text(ours)
            ),
            MergeError::Duplicate { shard, a, b } => write!(
                f,
                "shard {shard} appears twice: {} and {}; refusing to merge",
                shown(a),
                shown(b)
            ),
            MergeError::Missing { missing, count } => {
                let list: Vec<String> = missing.iter().take(20).map(|i| i.to_string()).collect();
                let more = if missing.len() > 20 { ", ..." } else { "" };
                write!(
                    f,
                    "missing {} of {count} shards: {}{more} (of {count}); the campaign is not covered",
                    missing.len(),
                    list.join(", ")
                )
            }
            MergeError::Trace { path, reason } => {
                write!(
                    f,
                    "{}: cannot read the trace: {}",
                    shown(path),
                    text(reason)
                )
            }
            MergeError::Inconsistent(why) => write!(f, "the shards do not add up: {}", text(why)),
        }
    }
}

impl std::error::Error for MergeError {}

/// Every result file (`shard-I-of-N.json`) among `paths`: files as given, directories
/// searched a few levels deep. Sorted.
pub fn find_results(paths: &[PathBuf]) -> Result<Vec<PathBuf>, MergeError> {
    fn is_result(p: &Path) -> bool {
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        let Some(rest) = name
            .strip_prefix("shard-")
            .and_then(|r| r.strip_suffix(".json"))
        else {
            return false;
        };
        rest.split_once("-of-").is_some_and(|(i, n)| {
            !i.is_empty()
                && !n.is_empty()
                && i.chars().all(|c| c.is_ascii_digit())
                && n.chars().all(|c| c.is_ascii_digit())
        })
    }
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), MergeError> {
        let rd = std::fs::read_dir(dir).map_err(|e| MergeError::Unreadable {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && depth > 0 {
                walk(&p, depth - 1, out)?;
            } else if ft.is_file() && is_result(&p) {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        let md = std::fs::metadata(p).map_err(|e| MergeError::Unreadable {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        if md.is_dir() {
            walk(p, SEARCH_DEPTH, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err(MergeError::NoResults(paths.to_vec()));
    }
    Ok(out)
}

/// A failure as the merge reports it.
#[derive(Clone, Debug)]
pub struct MergedFailure {
    /// Its index in the campaign.
    pub index: u64,
    /// The shard that found it.
    pub shard: Shard,
    /// Its trace.
    pub trace: PathBuf,
    /// How it failed (from the trace).
    pub kind: FailureKind,
    /// The failure's report (from the trace, control characters escaped).
    pub message: String,
}

/// Failures that shrank to the same trace.
#[derive(Clone, Debug)]
pub struct DistinctFailure {
    /// The trace of the first of them.
    pub trace: PathBuf,
    /// How it fails.
    pub kind: FailureKind,
    /// The shards whose first failure it is, with the failure's index in the campaign.
    pub found_by: Vec<(Shard, u64)>,
    /// The one command that replays its trace.
    pub replay_command: String,
}

/// All shards of one campaign, added up.
#[derive(Clone, Debug)]
pub struct Merged {
    /// The campaign.
    pub campaign: Campaign,
    /// The result files, by shard.
    pub files: Vec<PathBuf>,
    /// The campaign's figures and verdict (its `first_failure` is left out: see `first`).
    pub report: Report,
    /// The first failing schedule.
    pub first: Option<MergedFailure>,
    /// The shards' first failures within the campaign, grouped by shrunk trace (in campaign
    /// order of their first finding).
    pub distinct: Vec<DistinctFailure>,
    /// Schedules counted past a dfs cap: the subtree that reaches the cap ran further in its
    /// shard, and a merge cannot cut it (a process reruns it; see the README).
    pub overrun: u64,
    /// The longest shard's wall time.
    pub slowest: Duration,
    /// Failures are named by their run within their shard, not by an index in the campaign
    /// (a `graph` search: its parts have no order among them).
    pub per_shard: bool,
}

/// Merge the result files at `paths` (files or directories holding them).
pub fn merge(paths: &[PathBuf]) -> Result<Merged, MergeError> {
    let files = find_results(paths)?;
    let mut results: Vec<(PathBuf, ShardResult)> = Vec::new();
    for p in files {
        let r = ShardResult::read(&p)?;
        results.push((p, r));
    }
    let (first_path, first) = (results[0].0.clone(), results[0].1.clone());
    for (p, r) in &results[1..] {
        if let Some((field, ours, theirs)) = first.campaign.difference(&r.campaign) {
            return Err(MergeError::OtherCampaign {
                first: first_path,
                path: p.clone(),
                field: format!("the {}", field.replace('_', " ")),
                ours,
                theirs,
            });
        }
        if r.shard.count != first.shard.count {
            return Err(MergeError::OtherCampaign {
                first: first_path,
                path: p.clone(),
                field: "the shard count".into(),
                ours: first.shard.count.to_string(),
                theirs: r.shard.count.to_string(),
            });
        }
    }
    let count = first.shard.count;
    let mut by_index: Vec<Option<(PathBuf, ShardResult)>> = vec![None; count as usize];
    for (p, r) in results {
        let shard = r.shard().expect("checked when read");
        let slot = &mut by_index[r.shard.index as usize - 1];
        if let Some((a, _)) = slot {
            return Err(MergeError::Duplicate {
                shard,
                a: a.clone(),
                b: p,
            });
        }
        *slot = Some((p, r));
    }
    let missing: Vec<u32> = (1..=count)
        .filter(|i| by_index[*i as usize - 1].is_none())
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing, count });
    }
    let shards: Vec<(PathBuf, ShardResult)> = by_index.into_iter().flatten().collect();
    let campaign = shards[0].1.campaign.clone();
    if campaign.strategy == Strategy::Graph {
        return merge_graph(campaign, shards);
    }

    // Every unit, in campaign order, and where each shard's first failure lies.
    let mut slots: Vec<Slot<Shard>> = Vec::new();
    for (_, r) in &shards {
        let shard = r.shard().expect("checked when read");
        for u in &r.units {
            slots.push(Slot::Done(UnitResult {
                key: u.unit.clone(),
                schedules: u.schedules,
                steps: u.steps,
                races: u.races,
                failures: u.failures,
                exhausted: u.exhausted,
                first_failure: u.first_failure.map(|o| (o, shard)),
            }));
        }
    }
    slots.sort_by(|a, b| a.key().cmp(b.key()));
    if let Some(w) = slots.windows(2).find(|w| w[0].key() == w[1].key()) {
        return Err(MergeError::Inconsistent(format!(
            "two shards ran {}",
            w[0].key()
        )));
    }
    let mut starts = std::collections::BTreeMap::new();
    let mut at = 0u64;
    for s in &slots {
        if let Slot::Done(u) = s {
            starts.insert(u.key.clone(), at);
            at = at.saturating_add(u.schedules);
        }
    }
    let t = tally(
        slots,
        campaign.schedules,
        campaign.stop_at_first_failure,
        campaign.strategy.systematic(),
        |_, _| None,
    )
    .map_err(|e| MergeError::Inconsistent(e.to_string()))?;

    let mut failing: Vec<(u64, Shard, PathBuf, FailureKind)> = Vec::new();
    for (p, r) in &shards {
        let Some(f) = &r.failure else { continue };
        let shard = r.shard().expect("checked when read");
        let unit = f.unit.as_ref().ok_or_else(|| {
            MergeError::Inconsistent(format!("shard {shard}'s failure names no unit"))
        })?;
        let index = starts.get(unit).map(|s| s + f.offset).ok_or_else(|| {
            MergeError::Inconsistent(format!(
                "shard {shard}'s failure is in {unit}, which it did not run"
            ))
        })?;
        let within = match &t.first_failure {
            Some((first, _)) if campaign.stop_at_first_failure => index == *first,
            _ => index < t.schedules,
        };
        if !within {
            continue;
        }
        let dir = p.parent().unwrap_or(Path::new("."));
        let trace = dir.join(f.trace.split('/').collect::<PathBuf>());
        failing.push((index, shard, trace, f.kind));
    }
    failing.sort_by_key(|f| f.0);
    let (first_failure, distinct) = failures(failing)?;
    if t.first_failure.is_some() != first_failure.is_some()
        || first_failure.as_ref().map(|f| f.index) != t.first_failure.as_ref().map(|f| f.0)
    {
        return Err(MergeError::Inconsistent(
            "the first failing schedule has no failure record in its shard's result".into(),
        ));
    }
    let report = Report {
        schedules: t.schedules,
        steps: t.steps,
        failures: t.failures,
        races: t.races,
        coverage: t.coverage,
        first_failure: None,
        elapsed: Duration::ZERO,
        graph: None,
    };
    let slowest = slowest(&shards);
    Ok(Merged {
        campaign,
        files: shards.into_iter().map(|(p, _)| p).collect(),
        report,
        first: first_failure,
        distinct,
        overrun: t.overrun,
        slowest,
        per_shard: false,
    })
}

/// The shards' failures (index, shard, trace, kind), in order: the first, and the distinct
/// ones by shrunk trace.
#[allow(clippy::type_complexity)]
fn failures(
    failing: Vec<(u64, Shard, PathBuf, FailureKind)>,
) -> Result<(Option<MergedFailure>, Vec<DistinctFailure>), MergeError> {
    let mut distinct: Vec<(Trace, DistinctFailure)> = Vec::new();
    let mut first_failure = None;
    for (index, shard, path, kind) in failing {
        let trace: Trace = read_file(&path).map_err(|e| MergeError::Trace {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if first_failure.is_none() {
            first_failure = Some(MergedFailure {
                index,
                shard,
                trace: path.clone(),
                kind: trace.failure.kind,
                message: escape(&trace.failure.message, true),
            });
        }
        let same = |t: &Trace| {
            t.choices == trace.choices && t.events == trace.events && t.failure == trace.failure
        };
        match distinct.iter_mut().find(|(t, _)| same(t)) {
            Some((_, d)) => d.found_by.push((shard, index)),
            None => distinct.push((
                trace.clone(),
                DistinctFailure {
                    replay_command: replay_command(
                        &trace,
                        &std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone()),
                    ),
                    trace: path,
                    kind,
                    found_by: vec![(shard, index)],
                },
            )),
        }
    }
    Ok((
        first_failure,
        distinct.into_iter().map(|(_, d)| d).collect(),
    ))
}

/// Merge the shards of a `graph` search: their counts add up; each shard's first failure is
/// named by its run within the shard, the first listed is the lowest shard's.
fn merge_graph(
    campaign: Campaign,
    shards: Vec<(PathBuf, ShardResult)>,
) -> Result<Merged, MergeError> {
    let mut report = Report {
        graph: Some(GraphCounts::default()),
        coverage: Coverage::Complete,
        ..Report::default()
    };
    let mut failing = Vec::new();
    let (mut capped, mut stopped) = (false, false);
    for (p, r) in &shards {
        let shard = r.shard().expect("checked when read");
        let g = r.graph.ok_or_else(|| {
            MergeError::Inconsistent(format!(
                "shard {shard} of a graph search has no graph counts"
            ))
        })?;
        if !r.units.is_empty() {
            return Err(MergeError::Inconsistent(format!(
                "shard {shard} of a graph search lists units"
            )));
        }
        report.schedules += r.schedules;
        report.steps += r.steps;
        report.failures += r.failures;
        report.races += r.races;
        let t = report.graph.as_mut().expect("graph counts");
        t.executions += g.executions;
        t.blocked += g.blocked;
        t.dropped += g.dropped;
        if !r.complete {
            if r.failure.is_some() && campaign.stop_at_first_failure {
                stopped = true;
            } else {
                capped = true;
            }
        }
        if let Some(f) = &r.failure {
            let dir = p.parent().unwrap_or(Path::new("."));
            let trace = dir.join(f.trace.split('/').collect::<PathBuf>());
            failing.push((f.offset, shard, trace, f.kind));
        } else if r.failures > 0 {
            return Err(MergeError::Inconsistent(format!(
                "shard {shard} counts failures but has no failure record"
            )));
        }
    }
    report.coverage = if capped {
        Coverage::Capped
    } else if stopped {
        Coverage::StoppedAtFailure
    } else {
        Coverage::Complete
    };
    let (first, distinct) = failures(failing)?;
    let slowest = slowest(&shards);
    Ok(Merged {
        campaign,
        files: shards.into_iter().map(|(p, _)| p).collect(),
        report,
        first,
        distinct,
        overrun: 0,
        slowest,
        per_shard: true,
    })
}

/// The longest wall time among the shards' files.
fn slowest(shards: &[(PathBuf, ShardResult)]) -> Duration {
    shards
        .iter()
        .map(|(_, r)| Duration::try_from_secs_f64(r.elapsed_secs).unwrap_or_default())
        .max()
        .unwrap_or_default()
}
