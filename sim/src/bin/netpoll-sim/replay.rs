//! `netpoll-sim replay`: run a trace's recorded choices again and compare byte for byte.

use crate::common::{escaped, indent, load, secs, Exit};
use netpoll_sim::trace::ReplayRun;
use netpoll_sim::{Builder, Subject, Trace};
use std::path::Path;
use std::time::{Duration, Instant};

/// Replay `trace` (read from `file`) with the check it names; the time the run took.
pub fn replay_run(trace: &Trace, file: &Path) -> Result<(ReplayRun, Duration), Exit> {
    let start = Instant::now();
    match Builder::replay_builtin(trace, file) {
        Ok(run) => Ok((run, start.elapsed())),
        Err(e) => Err(Exit {
            code: e.exit_code() as u8,
            message: format!("{}: {}", file.display(), escaped(&e.to_string())),
        }),
    }
}

pub fn run(file: &Path) -> Result<(), Exit> {
    let trace = load(file)?;
    let (_, took) = replay_run(&trace, file)?;
    let m = &trace.meta;
    println!(
        "{}: reproduced byte for byte ({} events, {} choices) in {}",
        file.display(),
        trace.events.events.len(),
        trace.choices.len(),
        secs(took)
    );
    let what = match &trace.subject {
        Subject::Builtin(c) => c.to_string(),
        Subject::Test(t) => t.label(),
    };
    println!(
        "{}, memory {}; found by {}{} (seed {}, schedule {})",
        escaped(&what),
        m.memory,
        m.strategy,
        if m.shrunk { ", shrunk" } else { "" },
        m.seed,
        m.schedule_index
    );
    println!("it fails as recorded:");
    print!("{}", indent(&escaped(&trace.failure.message), "  "));
    Ok(())
}
