//! `netpoll-sim replay`: run a trace's recorded choices again and compare byte for byte.

use crate::common::{escaped, load, message, secs, shown, Exit};
use netpoll_sim::builder::replay::{replay_loaded, Replayed};
use netpoll_sim::{BuiltinChecks, Subject, Trace};
use std::path::Path;

/// Replay `trace` (read from `file`) with the built-in check it records (the one replay
/// path, `netpoll_sim::builder::replay`).
pub fn replay_run(trace: &Trace, file: &Path) -> Result<Replayed, Exit> {
    replay_loaded(trace.clone(), file, &BuiltinChecks).map_err(|e| Exit {
        code: e.exit_code() as u8,
        message: format!("{}: {}", shown(file), escaped(&e.to_string())),
    })
}

pub fn run(file: &Path) -> Result<(), Exit> {
    let trace = load(file)?;
    let r = replay_run(&trace, file)?;
    let m = &trace.meta;
    println!(
        "{}: reproduced byte for byte ({} events, {} choices) in {}",
        shown(file),
        trace.events.events.len(),
        trace.choices.len(),
        secs(r.took)
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
    print!("{}", message(&trace.failure.message, "  "));
    Ok(())
}
