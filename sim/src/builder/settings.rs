//! The settings table: one row per setting (its name, environment variable, default, meaning
//! and parser). It drives [`Builder`]'s environment parsing, the command line's `explore`
//! flags and the README's settings table (a test checks that the README matches it).
//!
//! The environment is read in one place, [`Env::read`], and every `NETPOLL_SIM_*` variable
//! must be one of the table's: a misspelt one is an error naming the closest.

use super::{Builder, MAX_JOBS};
use crate::engine::explore::shard::MAX_SHARDS;
use crate::engine::explore::{Shard, Strategy};
use crate::engine::memory::MemoryModel;
use crate::platform::faults::Faults;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use crate::engine::MAX_STEPS_LIMIT;

/// The deepest PCT search accepted: each schedule draws `depth - 1` change points, and bugs
/// of depth beyond a handful are out of PCT's reach anyway.
pub const MAX_PCT_DEPTH: u32 = 10_000;

/// One setting.
pub struct Setting {
    /// The command-line flag (`--seed`), also the setting's name.
    pub name: &'static str,
    /// The environment variable (`NETPOLL_SIM_SEED`).
    pub env: &'static str,
    /// The default, as written in the README.
    pub default: &'static str,
    /// What it means, with its bounds.
    pub meaning: &'static str,
    /// Whether `netpoll-sim explore` takes it as a flag (the others are for tests).
    pub flag: bool,
    /// The values it can take, when they are a closed set (for the command line's help and
    /// parser).
    pub values: fn() -> Vec<&'static str>,
    apply: fn(&mut Builder, &str) -> Result<(), String>,
}

impl Setting {
    /// Set this setting of `b` from the text `value`.
    pub fn apply(&self, b: &mut Builder, value: &str) -> Result<(), String> {
        (self.apply)(b, value.trim())
    }
}

fn number<T: std::str::FromStr>(v: &str, what: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("expected {what}, got {v:?}"))
}

fn bounded(v: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let n: u64 = number(v, &format!("a whole number from {lo} to {hi}"))?;
    if n < lo || n > hi {
        return Err(format!("{n} is out of range: from {lo} to {hi}"));
    }
    Ok(n)
}

/// Every setting, in the order the README lists them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "seed",
        env: "NETPOLL_SIM_SEED",
        default: "0",
        meaning: "seed of the random and pct strategies",
        flag: true,
        values: Vec::new,
        apply: |b, v| {
            b.seed = number(v, "a whole number")?;
            Ok(())
        },
    },
    Setting {
        name: "schedules",
        env: "NETPOLL_SIM_SCHEDULES",
        default: "1000",
        meaning: "schedules to run, at least 1 (a cap for dfs, and on graph runs)",
        flag: true,
        values: Vec::new,
        apply: |b, v| {
            b.schedules = bounded(v, 1, u64::MAX)?;
            Ok(())
        },
    },
    Setting {
        name: "strategy",
        env: "NETPOLL_SIM_STRATEGY",
        default: "random",
        meaning: "`random`, `pct`, `dfs` or `graph` (every execution graph once)",
        flag: true,
        values: || Strategy::ALL.iter().map(|s| s.name()).collect(),
        apply: |b, v| {
            b.strategy = v.parse::<Strategy>()?;
            Ok(())
        },
    },
    Setting {
        name: "memory",
        env: "NETPOLL_SIM_MEMORY",
        default: "c11",
        meaning: "`sc`, `c11`, `tso`, or `imm` (ARMv8/POWER; graph only)",
        flag: true,
        values: || MemoryModel::ALL.iter().map(|m| m.name()).collect(),
        apply: |b, v| {
            b.memory = v.parse::<MemoryModel>()?;
            Ok(())
        },
    },
    Setting {
        name: "preemptions",
        env: "NETPOLL_SIM_PREEMPTIONS",
        default: "none",
        meaning: "dfs preemption bound (0 to 1000), or `none`",
        flag: true,
        values: Vec::new,
        apply: |b, v| {
            b.preemption_bound = if v == "none" {
                None
            } else {
                Some(bounded(v, 0, 1000)? as u32)
            };
            Ok(())
        },
    },
    Setting {
        name: "depth",
        env: "NETPOLL_SIM_DEPTH",
        default: "3",
        meaning: "PCT depth, from 1 to the step limit and at most 10000",
        flag: true,
        values: Vec::new,
        apply: |b, v| {
            b.pct_depth = bounded(v, 1, MAX_PCT_DEPTH as u64)? as u32;
            Ok(())
        },
    },
    Setting {
        name: "max-steps",
        env: "NETPOLL_SIM_MAX_STEPS",
        default: "100000",
        meaning: "steps before a schedule fails as a livelock (1 to 100000000)",
        flag: true,
        values: Vec::new,
        apply: |b, v| {
            b.max_steps = bounded(v, 1, MAX_STEPS_LIMIT)?;
            Ok(())
        },
    },
    Setting {
        name: "faults",
        env: "NETPOLL_SIM_FAULTS",
        default: "none",
        meaning: "simulated-kernel faults of scenario checks: `none` or `error=R,spurious=R,delay=R,break=R,enosys=R`, each R a ratio `N/D` or a decimal",
        flag: true,
        values: Vec::new,
        apply: |b, v| {
            b.faults = v.parse::<Faults>()?;
            Ok(())
        },
    },
    Setting {
        name: "watchdog",
        env: "NETPOLL_SIM_WATCHDOG",
        default: "60",
        meaning: "seconds a simulated task may run without a scheduling point before the process ends naming it (blocked in a `std` primitive, it would hang forever): 1 to 86400, or `off`",
        flag: false,
        values: Vec::new,
        apply: |b, v| {
            b.watchdog = if v == "off" {
                None
            } else {
                Some(std::time::Duration::from_secs(bounded(v, 1, 86_400)?))
            };
            Ok(())
        },
    },
    Setting {
        name: "jobs",
        env: "NETPOLL_SIM_JOBS",
        default: "the core count",
        meaning: "threads to explore on (1 to 1024); the results do not depend on it",
        flag: true,
        values: Vec::new,
        apply: |b, v| {
            b.jobs = bounded(v, 1, MAX_JOBS as u64)? as usize;
            Ok(())
        },
    },
    Setting {
        name: "shard",
        env: "NETPOLL_SIM_SHARD",
        default: "all of it",
        meaning: "run part `i/n` of the campaign (1-based); without it `explore` takes the part from `JOB_COMPLETION_INDEX` (Kubernetes, with `--shard-count`) or `SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT`",
        flag: true,
        values: Vec::new,
        apply: |b, v| {
            b.shard = Some(v.parse::<Shard>()?);
            Ok(())
        },
    },
    Setting {
        name: "shard-count",
        env: "NETPOLL_SIM_SHARD_COUNT",
        default: "unset",
        meaning: "shards of a Kubernetes Indexed Job (its completions), for `JOB_COMPLETION_INDEX`",
        flag: true,
        values: Vec::new,
        apply: |b, v| {
            b.shard_count = Some(bounded(v, 1, MAX_SHARDS as u64)? as u32);
            Ok(())
        },
    },
    Setting {
        name: "trace-dir",
        env: "NETPOLL_SIM_TRACE_DIR",
        default: "target/netpoll-sim/traces",
        meaning: "where failing checks save traces (never overwriting; `cargo test` replays only the repository's `traces/`)",
        flag: false,
        values: Vec::new,
        apply: |b, v| {
            b.trace_dir = Some(PathBuf::from(v));
            Ok(())
        },
    },
    Setting {
        name: "replay",
        env: "NETPOLL_SIM_REPLAY",
        default: "unset",
        meaning: "replay this trace instead of exploring (in the check it was recorded from)",
        flag: false,
        values: Vec::new,
        apply: |b, v| {
            b.replay_trace = Some(PathBuf::from(v));
            Ok(())
        },
    },
];

/// The setting with environment variable `env`.
pub fn by_env(env: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.env == env)
}

/// The setting named `name` (its flag).
pub fn by_name(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// The README's settings table, as the table says it should read.
pub fn markdown_table() -> String {
    let mut out = String::from("| variable | flag | meaning | default |\n|---|---|---|---|\n");
    for s in SETTINGS {
        let flag = if s.flag {
            format!("`--{}`", s.name)
        } else {
            "-".to_string()
        };
        out.push_str(&format!(
            "| `{}` | {flag} | {} | {} |\n",
            s.env, s.meaning, s.default
        ));
    }
    out
}

/// A bad setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable or flag.
    pub var: String,
    /// Its value.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "netpoll-sim: bad {}={}: {}",
            self.var,
            escape(&self.value),
            self.reason
        )
    }
}

impl std::error::Error for ConfigError {}

/// The most characters of a bad value an error quotes.
const MAX_VALUE_SHOWN: usize = 200;

/// A value as it may be printed: quoted, escaped and cut.
pub(crate) fn escape(s: &str) -> String {
    format!(
        "\"{}\"",
        crate::engine::trace::safe::cut(s, MAX_VALUE_SHOWN)
    )
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The environment, as read once: the `NETPOLL_SIM_*` variables and what cargo tells a test
/// about itself.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

/// The prefix of every setting's variable.
pub const PREFIX: &str = "NETPOLL_SIM_";

/// Variables read besides the settings: what cargo sets for a test, the shell's directory,
/// and what a batch engine tells a task of an array (see [`Env::batch_shard`]).
const CONTEXT: [&str; 9] = [
    "CARGO_PKG_NAME",
    "CARGO_MANIFEST_DIR",
    "CARGO_TARGET_DIR",
    "PWD",
    K8S_INDEX,
    SLURM_ID,
    SLURM_COUNT,
    SLURM_MIN,
    SLURM_STEP,
];

/// The shard count of a Kubernetes Indexed Job (the setting `--shard-count`).
const SHARD_COUNT: &str = "NETPOLL_SIM_SHARD_COUNT";
/// A Kubernetes Indexed Job's index of this pod, from 0.
pub const K8S_INDEX: &str = "JOB_COMPLETION_INDEX";
/// A Slurm job array's index of this task.
pub const SLURM_ID: &str = "SLURM_ARRAY_TASK_ID";
/// How many tasks the Slurm job array has.
pub const SLURM_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
/// The Slurm job array's lowest index (0 when unset).
pub const SLURM_MIN: &str = "SLURM_ARRAY_TASK_MIN";
/// The Slurm job array's index step (1 when unset).
pub const SLURM_STEP: &str = "SLURM_ARRAY_TASK_STEP";

impl Env {
    /// Read the process environment (the only place it is read).
    pub fn read() -> Env {
        Env::from_pairs(std::env::vars_os().filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            let keep = k.starts_with(PREFIX) || CONTEXT.contains(&k.as_str());
            // A value that is not UTF-8 is kept lossily: a setting then fails to parse with
            // the replacement character in its message.
            keep.then(|| (k, v.to_string_lossy().into_owned()))
        }))
    }

    /// An environment with exactly these variables (for tests and tools).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Env {
        Env {
            vars: pairs.into_iter().collect(),
        }
    }

    /// A variable's value.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.vars.get(k).map(String::as_str)
    }

    /// A path variable: relative paths resolve against the shell's directory (`PWD`), which
    /// cargo keeps even when it runs a test in its package's directory.
    pub fn path(&self, k: &str) -> Option<PathBuf> {
        let v = self.get(k).filter(|v| !v.is_empty())?;
        let p = Path::new(v);
        Some(match (p.is_relative(), self.get("PWD")) {
            (true, Some(pwd)) if !pwd.is_empty() => Path::new(pwd).join(p),
            _ => p.to_path_buf(),
        })
    }

    /// The shard a batch engine gives this process, if it runs as a task of an array: a
    /// Kubernetes Indexed Job (`JOB_COMPLETION_INDEX` from 0, with `count` shards, which
    /// Kubernetes does not tell the pod: a flag or `NETPOLL_SIM_SHARD_COUNT`), else a Slurm
    /// job array (`SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT`; an array `--array=M-N:S`
    /// numbers its tasks `M, M+S, ...`, taken from `SLURM_ARRAY_TASK_MIN` and
    /// `SLURM_ARRAY_TASK_STEP`, 0 and 1 when unset). A bad or inconsistent value is an error
    /// naming the variable.
    pub fn batch_shard(&self, count: Option<u32>) -> Result<Option<Shard>, ConfigError> {
        let num = |var: &str| -> Result<Option<u64>, ConfigError> {
            let Some(v) = self.get(var) else {
                return Ok(None);
            };
            v.trim().parse::<u64>().map(Some).map_err(|_| ConfigError {
                var: var.to_string(),
                value: v.to_string(),
                reason: "expected a whole number".into(),
            })
        };
        let err = |var: &str, reason: String| ConfigError {
            var: var.to_string(),
            value: self.get(var).unwrap_or("").to_string(),
            reason,
        };
        if let Some(index) = num(K8S_INDEX)? {
            let count = match count {
                Some(n) => Some(n),
                None => match num(SHARD_COUNT)? {
                    Some(n) if (1..=MAX_SHARDS as u64).contains(&n) => Some(n as u32),
                    Some(_) => {
                        return Err(err(
                            SHARD_COUNT,
                            format!("the shard count must be from 1 to {MAX_SHARDS}"),
                        ))
                    }
                    None => None,
                },
            };
            let Some(count) = count else {
                return Err(err(
                    K8S_INDEX,
                    "a Kubernetes Indexed Job does not say how many shards it has: give --shard-count or NETPOLL_SIM_SHARD_COUNT (its completions)".into(),
                ));
            };
            if index >= count as u64 {
                return Err(err(
                    K8S_INDEX,
                    format!("the index counts from 0 and must be below the shard count {count}"),
                ));
            }
            return Shard::new(index as u32 + 1, count)
                .map(Some)
                .map_err(|e| err(K8S_INDEX, e));
        }
        let Some(id) = num(SLURM_ID)? else {
            return Ok(None);
        };
        let Some(n) = num(SLURM_COUNT)? else {
            return Err(err(
                SLURM_ID,
                format!("{SLURM_COUNT} is not set: how many shards?"),
            ));
        };
        let min = num(SLURM_MIN)?.unwrap_or(0);
        let step = num(SLURM_STEP)?.unwrap_or(1).max(1);
        if id < min || (id - min) % step != 0 || (id - min) / step >= n {
            return Err(err(
                SLURM_ID,
                format!("not one of the {n} tasks of an array from {min} by {step}"),
            ));
        }
        let count = u32::try_from(n).unwrap_or(u32::MAX);
        Shard::new(((id - min) / step) as u32 + 1, count)
            .map(Some)
            .map_err(|e| err(SLURM_COUNT, e))
    }

    /// Apply every setting present to `b`; an unknown `NETPOLL_SIM_*` variable or a bad value
    /// is an error naming it.
    pub fn apply(&self, b: &mut Builder) -> Result<(), ConfigError> {
        self.set(b)?;
        self.validate(b)
    }

    /// [`Env::apply`] without the final check of the settings together (for a caller that
    /// sets more before checking: the command line's flags).
    pub fn set(&self, b: &mut Builder) -> Result<(), ConfigError> {
        for (k, v) in &self.vars {
            if !k.starts_with(PREFIX) {
                continue;
            }
            let Some(s) = by_env(k) else {
                let closest = SETTINGS
                    .iter()
                    .min_by_key(|s| distance(k, s.env))
                    .map(|s| s.env)
                    .unwrap_or("");
                return Err(ConfigError {
                    var: k.clone(),
                    value: v.clone(),
                    reason: format!("no such setting (did you mean {closest}?)"),
                });
            };
            let value = match s.name {
                "trace-dir" | "replay" => match self.path(k) {
                    Some(p) => p.to_string_lossy().into_owned(),
                    None => continue,
                },
                _ => v.clone(),
            };
            s.apply(b, &value).map_err(|reason| ConfigError {
                var: k.clone(),
                value: v.clone(),
                reason,
            })?;
        }
        Ok(())
    }

    /// Check `b`'s settings together; an error names the variable.
    pub fn validate(&self, b: &Builder) -> Result<(), ConfigError> {
        b.validate().map_err(|(var, reason)| ConfigError {
            var: var.to_string(),
            value: self.get(var).unwrap_or("").to_string(),
            reason,
        })
    }
}
