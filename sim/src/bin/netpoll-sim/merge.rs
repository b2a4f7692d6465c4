//! `netpoll-sim merge DIR...`: add up the result files of a campaign's shards into the
//! single-process run's figures and verdict (see `netpoll_sim::builder::results`). Exit codes
//! as `explore`: 0 no failure, 1 a failure found, 2 bad input (a missing or duplicate shard,
//! a shard of another campaign, an unreadable file).

use crate::common::{escaped, indent, secs, Exit};
use netpoll_sim::builder::results::merge;
use std::path::PathBuf;

pub fn run(paths: &[PathBuf]) -> Result<(), Exit> {
    let m = merge(paths).map_err(|e| Exit::usage(e.to_string()))?;
    let r = &m.report;
    println!(
        "merge: {} shard{} of one campaign: {}",
        m.files.len(),
        if m.files.len() == 1 { "" } else { "s" },
        escaped(&m.campaign.describe())
    );
    println!(
        "{} schedule{}, {} steps, {} failures, {} races (slowest shard {}); {}",
        r.schedules,
        if r.schedules == 1 { "" } else { "s" },
        r.steps,
        r.failures,
        r.races,
        secs(m.slowest),
        r.verdict()
    );
    if m.overrun > 0 {
        println!(
            "note: the cap falls inside a subtree that its shard searched further: {} schedules past the cap are counted (a single process counts exactly the cap)",
            m.overrun
        );
    }
    let Some(first) = &m.first else {
        println!("no failure ({})", r.verdict());
        return Ok(());
    };
    println!(
        "{} failing schedule{}; the first is schedule {} (shard {}):",
        r.failures,
        if r.failures == 1 { "" } else { "s" },
        first.index,
        first.shard
    );
    print!("{}", indent(&first.message, "  "));
    println!(
        "{} distinct failure{} by shrunk trace (each shard keeps its first):",
        m.distinct.len(),
        if m.distinct.len() == 1 { "" } else { "s" }
    );
    for d in &m.distinct {
        let by: Vec<String> = d
            .found_by
            .iter()
            .map(|(s, i)| format!("shard {s} at schedule {i}"))
            .collect();
        println!(
            "  {} ({}; {})",
            escaped(&d.trace.display().to_string()),
            d.kind.name(),
            by.join(", ")
        );
        println!("    replay it with: {}", escaped(&d.replay_command));
    }
    Err(Exit::found())
}
