//! `netpoll-sim explore`: explore a scenario check; save the first failure as a trace.

use crate::args::ExploreArgs;
use crate::common::{explore_with_bar, indent, stats, Exit};
use netpoll_sim::builder::save::save_failure;
use netpoll_sim::{Builder, Strategy, Subject};
use std::fmt::Write as _;

pub fn run(a: &ExploreArgs) -> Result<(), Exit> {
    let b = a.builder().map_err(Exit::usage)?;
    let check = a.check();
    let mut how = format!("strategy {}", b.strategy);
    match b.strategy {
        Strategy::Random => write!(how, ", seed {}", b.seed),
        Strategy::Pct => write!(how, " (depth {}), seed {}", b.pct_depth, b.seed),
        Strategy::Dfs => match b.preemption_bound {
            Some(p) => write!(how, " (preemption bound {p})"),
            None => write!(how, " (unbounded)"),
        },
        Strategy::Graph => write!(how, " (every execution graph once)"),
    }
    .ok();
    if !b.faults.is_none() {
        write!(how, ", faults {}", b.faults).ok();
    }
    println!(
        "explore {} with protocol {}, memory {}, {how}, up to {} schedules",
        a.scenario, a.protocol, b.memory, b.schedules
    );
    let r = explore_with_bar(&b, check);
    println!("{}", stats(&r));
    let Some(ff) = &r.first_failure else {
        println!("no failure ({})", r.verdict());
        return Ok(());
    };
    println!(
        "{} failing schedule{}; the first is schedule {}:",
        r.failures,
        if r.failures == 1 { "" } else { "s" },
        ff.schedule_index
    );
    print!("{}", indent(&ff.failure.to_string(), "  "));
    save(&b, a, ff)?;
    Err(Exit::found())
}

/// Save `ff` of the check in `a` with the one failure path, and say where.
fn save(b: &Builder, a: &ExploreArgs, ff: &netpoll_sim::FailureInfo) -> Result<(), Exit> {
    let c = b.prepare(a.check());
    let subject: Subject = c.subject.expect("a scenario check always has a subject");
    let saved = save_failure(b, &subject, ff, &c.body, !a.no_shrink, &a.out)
        .map_err(|e| Exit::usage(format!("cannot save the trace: {e}")))?;
    println!("{}", saved.describe());
    Ok(())
}
