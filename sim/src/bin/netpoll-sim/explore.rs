//! `netpoll-sim explore`: explore a scenario check; save the first failure as a trace.

use crate::args::ExploreArgs;
use crate::common::{escaped, explore_with_bar, indent, shard_with_bar, stats, Exit};
use netpoll_sim::builder::save::save_failure;
use netpoll_sim::builder::settings::Env;
use netpoll_sim::engine::explore::Shard;
use netpoll_sim::{Builder, Strategy, Subject};
use std::fmt::Write as _;

pub fn run(a: &ExploreArgs) -> Result<(), Exit> {
    let b = a.builder().map_err(Exit::usage)?;
    // Without --shard, a batch engine may say which part this process runs.
    let b = b.shard_from_batch_env(&Env::read()).map_err(|e| {
        Exit::usage(format!(
            "bad {}={}: {}",
            e.var,
            escaped(&format!("{:?}", e.value)),
            e.reason
        ))
    })?;
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
    let jobs = format!("{} job{}", b.jobs, if b.jobs == 1 { "" } else { "s" });
    println!(
        "explore {} with protocol {}, memory {}, {how}, up to {} schedules, on {jobs}{}",
        a.scenario,
        a.protocol,
        b.memory,
        b.schedules,
        b.shard.map_or(String::new(), |s| format!(", shard {s}"))
    );
    if let Some(shard) = b.shard {
        if b.strategy == Strategy::Graph && shard.count() > 1 {
            return Err(Exit::usage(
                "--shard with --strategy graph: graph shards run through the library \
                 (Builder::shard); their result files do not merge yet"
                    .to_string(),
            ));
        }
        return run_shard(a, &b, shard);
    }
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

/// Run one shard: its part of the campaign, its result file and first failure's trace in
/// `--out`. It exits 0 once the result is written, failure or not: the merge of all shards
/// gives the verdict (so a batch engine neither retries a shard that found a bug nor
/// cancels the others).
fn run_shard(a: &ExploreArgs, b: &Builder, shard: Shard) -> Result<(), Exit> {
    let out = shard_with_bar(b, a.check(), &a.out, !a.no_shrink)
        .map_err(|e| Exit::usage(format!("shard {shard}: {e}")))?;
    println!("shard {shard}: {}", stats(&out.report));
    if let (Some(f), Some(saved)) = (&out.result.failure, &out.saved) {
        let at = match f.index {
            Some(i) => format!("schedule {i}"),
            None => format!("schedule {} of {}", f.offset, f.unit),
        };
        let n = out.result.failures;
        println!(
            "shard {shard}: {n} failing schedule{}; the first is {at}:",
            if n == 1 { "" } else { "s" }
        );
        print!("{}", indent(&saved.trace.failure.message, "  "));
        println!("{}", saved.describe());
    }
    println!("shard {shard}: result written to {}", out.path.display());
    Ok(())
}
