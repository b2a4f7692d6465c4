//! What the subcommands share: exit statuses, progress bars, figures, trace loading.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use netpoll_sim::builder::results::{run_shard, ShardOutput};
use netpoll_sim::trace::{read_file, TraceError};
use netpoll_sim::{Builder, IntoCheck, Report, Trace};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// How often (in schedules) the progress bar is updated.
const PROGRESS_EVERY: u64 = 256;

/// A command's failure: an exit code and what to print on stderr (one line, or empty when
/// the command already printed why).
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl Exit {
    /// Bad usage or an unusable input (exit 2).
    pub fn usage(message: impl Into<String>) -> Exit {
        Exit {
            code: 2,
            message: message.into(),
        }
    }
    /// A failure found, or a replay that diverged (exit 1), already reported.
    pub fn found() -> Exit {
        Exit {
            code: 1,
            message: String::new(),
        }
    }
}

fn progress_bar(b: &Builder) -> ProgressBar {
    let (len, template) = if b.strategy.systematic() {
        (
            None,
            "{spinner} {human_pos} schedules  {rate} schedules/s  {elapsed}  {msg}",
        )
    } else {
        // A shard runs its part of the schedules.
        let len = b.shard.map_or(b.schedules, |s| {
            let r = s.range(b.schedules);
            r.end - r.start
        });
        (
            Some(len),
            "{bar:20} {human_pos}/{human_len} schedules  {rate}/s  eta {eta}  {msg}",
        )
    };
    let pb = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.with_key(
            "rate",
            |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&rate(s.per_sec()));
            },
        ));
    }
    pb
}

/// Run `explore` with a live progress bar on stderr (drawn only when stderr is a terminal),
/// fed by the figures so far; the bar is cleared at the end.
fn with_bar<T>(b: &Builder, explore: impl FnOnce(&mut dyn FnMut(&Report)) -> T) -> T {
    let pb = progress_bar(b);
    let mut failures = 0;
    let mut shown = 0;
    let out = explore(&mut |r: &Report| {
        if r.schedules >= shown + PROGRESS_EVERY || r.failures != failures {
            shown = r.schedules;
            failures = r.failures;
            pb.set_position(r.schedules);
            if failures > 0 {
                pb.set_message(format!("{failures} failing"));
            }
        }
    });
    pb.finish_and_clear();
    out
}

/// Explore with a progress bar on stderr (hidden when stderr is not a terminal).
pub fn explore_with_bar(b: &Builder, check: impl IntoCheck) -> Report {
    with_bar(b, |progress| b.explore_with_progress(check, progress))
}

/// Run `b`'s shard of `check` with a progress bar, writing its result and trace into `dir`.
pub fn shard_with_bar(
    b: &Builder,
    check: impl IntoCheck,
    dir: &Path,
    shrink: bool,
) -> Result<ShardOutput, String> {
    with_bar(b, |progress| run_shard(b, check, dir, shrink, progress))
}

/// A rate as `83.5k`.
pub fn rate(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// A duration as `1.25s` or `3.10ms`.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2}s")
    } else {
        format!("{:.2}ms", s * 1e3)
    }
}

/// The figures of an exploration, its rate, and whether it was complete: the final line of
/// every exploration, on a terminal or not.
pub fn stats(r: &Report) -> String {
    format!(
        "{} schedule{}, {} steps in {} ({} schedules/s, {} steps/s); {}",
        r.schedules,
        if r.schedules == 1 { "" } else { "s" },
        r.steps,
        secs(r.elapsed),
        rate(r.schedules_per_sec()),
        rate(r.steps_per_sec()),
        r.verdict()
    )
}

/// Every line of `s` indented by `by`.
pub fn indent(s: &str, by: &str) -> String {
    s.lines().fold(String::new(), |mut out, l| {
        let _ = writeln!(out, "{by}{l}");
        out
    })
}

/// Text from a file, safe to print: control characters escaped.
pub fn escaped(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Read a trace, or exit 2 with one line naming the problem.
pub fn load(file: &Path) -> Result<Trace, Exit> {
    read_file(file).map_err(|e| {
        Exit::usage(match e {
            // These already name the path.
            TraceError::NotAFile(_) | TraceError::Io { .. } => e.to_string(),
            _ => format!("{}: {e}", file.display()),
        })
    })
}
