//! `netpoll-sim demo`: the golang/go#45211 story end to end - find, shrink, save, replay,
//! show; then the fix, and the same protocol under sequential consistency and x86-TSO; then
//! complete verdicts: every execution graph of the fixed protocol under C11 and under IMM (a
//! model of ARMv8 itself), and the pre-fix deadlock found on IMM.

use crate::args::DEFAULT_OUT;
use crate::common::{explore_with_bar, indent, load, secs, stats, Exit};
use crate::replay::replay_run;
use clap::Args;
use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_sim::builder::save::save_failure;
use netpoll_sim::platform::values::renderer;
use netpoll_sim::trace::encode;
use netpoll_sim::{scenario_check, Builder, MemoryModel, Strategy};
use std::path::PathBuf;
use std::time::Instant;

/// The demo's budget of schedules per exploration.
const DEMO_SCHEDULES: u64 = 10_000;

#[derive(Args)]
pub struct DemoArgs {
    /// Schedules each exploration may run.
    #[arg(long, default_value_t = DEMO_SCHEDULES)]
    schedules: u64,
    /// Seed of the random explorations.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the traces are saved (never overwriting).
    #[arg(long, default_value = DEFAULT_OUT, value_name = "DIR")]
    out: PathBuf,
}

/// What one scenario's part of the demo found.
struct DemoOutcome {
    scenario: Scenario,
    found_at: Option<u64>,
    fixed_clean: bool,
    sc_clean: bool,
    tso_clean: bool,
    reproduced: bool,
    /// The graph strategy: fixed complete and clean under c11 and imm, pre-fix failing on imm.
    complete: bool,
}

fn demo_scenario(
    a: &DemoArgs,
    scenario: Scenario,
    part: &str,
    swimlane: bool,
) -> Result<DemoOutcome, Exit> {
    let buggy = scenario_check(scenario, Protocol::PreFix45211);
    let fixed = scenario_check(scenario, Protocol::Fixed);
    let b = Builder::default()
        .seed(a.seed)
        .schedules(a.schedules)
        .strategy(Strategy::Random)
        .memory(MemoryModel::C11);
    println!("{part}. {scenario}: {}", scenario.description());
    println!();

    println!(
        "  {part}.1 Explore the pre-fix protocol under C11 weak memory (random schedules, seed {}, at most {}).",
        a.seed, a.schedules
    );
    let r = explore_with_bar(&b, buggy);
    let mut outcome = DemoOutcome {
        scenario,
        found_at: None,
        fixed_clean: false,
        sc_clean: false,
        tso_clean: false,
        reproduced: false,
        complete: false,
    };
    let Some(ff) = &r.first_failure else {
        println!("      no failure in {} (unexpected!)", stats(&r));
        return Ok(outcome);
    };
    outcome.found_at = Some(ff.schedule_index);
    println!(
        "      Found at schedule {}: {}.",
        ff.schedule_index,
        stats(&r)
    );
    println!("      The reader is parked for good although the pd says it is closed (or its deadline passed):");
    print!("{}", indent(&ff.failure.to_string(), "        "));
    let per_schedule = r.elapsed / r.schedules.max(1) as u32;

    let c = b.prepare(buggy);
    let subject = c.subject.expect("a scenario check always has a subject");
    let saved = save_failure(&b, &subject, ff, &c.body, true, &a.out)
        .map_err(|e| Exit::usage(format!("cannot save the trace: {e}")))?;
    if let Some(st) = saved.shrink {
        println!(
            "  {part}.2 Shrink it: {} choices with {} departures from the default run -> {} choices with {} departures ({}).",
            st.before.0, st.before.1, st.after.0, st.after.1, secs(st.took)
        );
    }
    let steps = saved
        .trace
        .events
        .events
        .iter()
        .map(|e| e.step)
        .max()
        .unwrap_or(0)
        .max(1);
    let bytes = encode(&saved.trace).map(|v| v.len()).unwrap_or(0);
    println!(
        "  {part}.3 Save it: {} ({} bytes, {} steps, {:.1} bytes/step).",
        saved.path.display(),
        bytes,
        steps,
        bytes as f64 / steps as f64
    );
    let reread = load(&saved.path)?;
    match replay_run(&reread, &saved.path) {
        Ok(r) => {
            let took = r.took;
            outcome.reproduced = true;
            println!(
                "  {part}.4 Replay it from the file: the event log is byte-for-byte identical ({} events in {}; one explored schedule took {} on average).",
                reread.events.events.len(),
                secs(took),
                secs(per_schedule)
            );
        }
        Err(e) => println!("  {part}.4 Replay it from the file: FAILED: {}", e.message),
    }
    if swimlane {
        println!();
        for line in [
            "The swimlane: one column per task, one row per step. Close (main) stores",
            "pd0.closing := true and then finds pd0.rg = nil: no reader to wake. The reader moves",
            "pd0.rg from nil to wait and then re-reads pd0.closing: the rows marked stale read the",
            "old false although true was stored earlier. So it parks (pd0.rg: wait -> parked:reader)",
            "and nobody will ever wake it. Under SC that is impossible; with Go's plain (pre-fix)",
            "read of closing it is allowed, and the DATA RACE rows mark exactly those plain accesses.",
        ] {
            println!("      {line}");
        }
        println!();
        print!("{}", indent(&renderer().text_compact(&reread), "      "));
        println!();
    } else {
        println!(
            "      See it with: {}",
            saved.replay_command.replace(" replay ", " show ")
        );
    }

    let rf = explore_with_bar(&b, fixed);
    outcome.fixed_clean = rf.failures == 0;
    println!(
        "  {part}.5 The fixed protocol, same seed and budget: {}: {}.",
        if outcome.fixed_clean {
            "clean".to_string()
        } else {
            format!(
                "FAILED at schedule {:?}",
                rf.first_failure.as_ref().map(|f| f.schedule_index)
            )
        },
        stats(&rf)
    );
    let rs = explore_with_bar(&b.clone().memory(MemoryModel::Sc), buggy);
    outcome.sc_clean = rs.failures == 0;
    println!(
        "  {part}.6 The pre-fix protocol under sequential consistency: {}: {}{}.",
        if outcome.sc_clean { "clean" } else { "FAILED" },
        stats(&rs),
        if outcome.sc_clean {
            "; the bug needs weak memory"
        } else {
            ""
        }
    );
    let rt = explore_with_bar(&b.clone().memory(MemoryModel::Tso), buggy);
    outcome.tso_clean = rt.failures == 0;
    println!(
        "  {part}.7 The pre-fix protocol under x86-TSO: {}: {}{}.",
        if outcome.tso_clean { "clean" } else { "FAILED" },
        stats(&rt),
        if outcome.tso_clean {
            "; its SC store (XCHG) drains the store buffer: correct on x86, broken on ARM64"
        } else {
            ""
        }
    );
    let g = b.clone().strategy(Strategy::Graph).schedules(u64::MAX);
    let verdict = |r: &netpoll_sim::Report| {
        if r.failures == 0 {
            format!("clean, {}", r.verdict())
        } else {
            format!("FAILED after {} runs", r.schedules)
        }
    };
    let gc = explore_with_bar(&g, fixed);
    let gi = explore_with_bar(&g.clone().memory(MemoryModel::Imm), fixed);
    let bi = explore_with_bar(&g.clone().memory(MemoryModel::Imm), buggy);
    outcome.complete = gc.complete()
        && gc.failures == 0
        && gi.complete()
        && gi.failures == 0
        && bi.first_failure.is_some();
    println!(
        "  {part}.8 Every execution graph once (the graph strategy, no bound): the fixed protocol under C11: {}; under IMM (a model of ARMv8 itself, Go's atomics as LDAR/STLR): {}; the pre-fix protocol under IMM: {}{}.",
        verdict(&gc),
        verdict(&gi),
        verdict(&bi),
        if bi.first_failure.is_some() {
            " - broken on ARM64, shown on a model of ARM64"
        } else {
            ""
        }
    );
    println!();
    Ok(outcome)
}

pub fn run(a: &DemoArgs) -> Result<(), Exit> {
    let start = Instant::now();
    println!("golang/go#45211 on the netpoll simulator");
    println!("========================================");
    println!();
    println!(
        "A reader announces itself in pd.rg, then re-checks closing/rd; Close (or an expiring"
    );
    println!("deadline) writes closing/rd, then looks at pd.rg. Each side stores, then loads: a");
    println!(
        "store-buffering pair. Before the fix the reader's re-check was a plain load, so under"
    );
    println!("C11 (as on ARM64) both loads may read the old values: the reader parks, and nobody");
    println!("wakes it. The fix publishes those fields in one atomic word read with one SC load.");
    println!();
    let close = demo_scenario(a, Scenario::CloseUnblocksRead, "1", true)?;
    let deadline = demo_scenario(a, Scenario::DeadlineUnblocksRead, "2", false)?;
    println!("Summary");
    let mut ok = true;
    for o in [&close, &deadline] {
        let good = o.found_at.is_some()
            && o.reproduced
            && o.fixed_clean
            && o.sc_clean
            && o.tso_clean
            && o.complete;
        ok &= good;
        println!(
            "  {:<24} pre-fix/c11: {}   replay: {}   fixed/c11: {}   pre-fix/sc: {}   pre-fix/tso: {}   every graph: {}",
            o.scenario.name(),
            o.found_at.map_or("not found".to_string(), |i| format!(
                "deadlock at schedule {i}"
            )),
            if o.reproduced { "identical" } else { "FAILED" },
            if o.fixed_clean { "clean" } else { "FAILED" },
            if o.sc_clean { "clean" } else { "FAILED" },
            if o.tso_clean { "clean" } else { "FAILED" },
            if o.complete {
                "fixed complete, pre-fix fails on imm"
            } else {
                "NOT as expected"
            },
        );
    }
    println!(
        "  {} ({})",
        if ok {
            "As expected: the pre-fix protocol deadlocks under C11 and IMM (ARM64-like) weak memory only; the fix holds on every execution graph."
        } else {
            "NOT as expected."
        },
        secs(start.elapsed())
    );
    if ok {
        Ok(())
    } else {
        Err(Exit {
            code: 1,
            message: "the demo did not come out as expected".into(),
        })
    }
}
