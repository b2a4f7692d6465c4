//! The one way a failure is kept: shrink its schedule, save it as a trace that never
//! overwrites another, and say the one command that replays it. `Builder::check` and the
//! command line both use it.

use super::check::test_replay_command;
use super::{Builder, Subject, Trace};
use crate::engine::explore::FailureInfo;
use crate::engine::shrink::{cost, shrink_failure};
use crate::engine::trace::{save_in, Builtin, TraceError};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// (choices, departures from the default run) before and after shrinking, and its time.
#[derive(Clone, Copy, Debug)]
pub struct ShrinkStats {
    /// Choices and departures of the schedule found.
    pub before: (usize, usize),
    /// Choices and departures of the schedule saved.
    pub after: (usize, usize),
    /// How long shrinking took.
    pub took: Duration,
}

/// A saved failure.
#[derive(Clone, Debug)]
pub struct Saved {
    /// The trace written.
    pub trace: Trace,
    /// Where (absolute when it could be made so).
    pub path: PathBuf,
    /// The one command that replays it.
    pub replay_command: String,
    /// What shrinking did, if it ran.
    pub shrink: Option<ShrinkStats>,
}

impl Saved {
    /// The lines a failing check or the command line prints about it.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(st) = self.shrink {
            s.push_str(&format!(
                "shrunk: {} choices ({} departures from the default run) -> {} choices ({} departures) in {:.2}s\n",
                st.before.0, st.before.1, st.after.0, st.after.1, st.took.as_secs_f64()
            ));
        }
        s.push_str(&format!(
            "trace saved ({} choices, {} events): {}\nreplay it with: {}",
            self.trace.choices.len(),
            self.trace.events.events.len(),
            self.path.display(),
            self.replay_command
        ));
        s
    }
}

/// The command that replays `trace` saved at `path`.
pub fn replay_command(trace: &Trace, path: &Path) -> String {
    match &trace.subject {
        Subject::Builtin(b) => b.replay_command(path),
        Subject::Test(t) => test_replay_command(t, path),
    }
}

/// Shrink `ff` (unless `shrink` is false), save it in `dir` as a trace of `subject`, and
/// return what was saved.
pub fn save_failure(
    b: &Builder,
    subject: &Subject,
    ff: &FailureInfo,
    body: &Rc<dyn Fn()>,
    shrink: bool,
    dir: &Path,
) -> Result<Saved, TraceError> {
    let (info, stats) = if shrink {
        let start = Instant::now();
        let small = shrink_failure(b.exec_config(), b.strategy, ff, b.shrink_runs, body);
        let before = (ff.choices.len(), cost(&ff.choices).0);
        let after = (small.choices.len(), cost(&small.choices).0);
        let stats = ShrinkStats {
            before,
            after,
            took: start.elapsed(),
        };
        (small, Some(stats))
    } else {
        (ff.clone(), None)
    };
    // Shrunk: it went through the shrinker (which may find the schedule already minimal).
    let trace = b.trace(subject.clone(), &info, shrink);
    let path = save_in(dir, &trace)?;
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    let replay_command = replay_command(&trace, &path);
    Ok(Saved {
        trace,
        path,
        replay_command,
        shrink: stats,
    })
}
