//! `netpoll-sim`: explore the netpoll scenarios on the simulator, replay and render traces, and
//! tell the golang/go#45211 story (`netpoll-sim demo`).
//!
//! Exit codes: 0 success (no failure found, a trace reproduced, a demo as expected), 1 a
//! failure found or a replay that diverged, 2 bad usage or an unusable trace file.

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_sim::shrink::{cost, shrink_failure};
use netpoll_sim::trace::{
    encode, read_file, render_svg, render_text, render_text_compact, replay_trace, save_in,
    ReplayError, Trace, TraceError,
};
use netpoll_sim::{scenario_check, Builder, FailureInfo, Faults, MemoryModel, Report, Strategy};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Oracle runs spent shrinking a failing schedule before it is saved.
const SHRINK_RUNS: u64 = 5_000;
/// How often (in schedules) the progress bar is updated.
const PROGRESS_EVERY: u64 = 256;
/// The demo's budget of schedules per exploration.
const DEMO_SCHEDULES: u64 = 10_000;

#[derive(Parser)]
#[command(
    name = "netpoll-sim",
    version,
    about = "Deterministic simulator for netpoll: explore schedules, replay and render traces",
    long_about = "Deterministic simulator for netpoll: explore schedules of a scenario under a \
                  memory model, save a failing schedule as a trace, replay it byte for byte and \
                  render it. Exit codes: 0 no failure / reproduced, 1 failure found / replay \
                  diverged, 2 bad usage or unusable trace."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Explore schedules of a scenario; save the first failure as a trace.
    Explore(ExploreArgs),
    /// Name the scenarios, protocols, memory models and strategies.
    List,
    /// Replay a trace: exit 0 if it reproduces byte for byte, 1 if it diverges, 2 if unusable.
    Replay {
        /// The trace file.
        file: PathBuf,
    },
    /// Print a trace's text swimlane, or write its SVG timeline.
    Show {
        /// The trace file.
        file: PathBuf,
        /// Write the SVG timeline to this file instead of printing the swimlane.
        #[arg(long, value_name = "OUT")]
        svg: Option<PathBuf>,
        /// Print every row, including the first task's set-up before the tasks interleave
        /// (by default those rows are collapsed into one).
        #[arg(long)]
        full: bool,
    },
    /// The golang/go#45211 story end to end: find, shrink, save, replay, show; then the fix.
    Demo(DemoArgs),
}

#[derive(Args)]
struct ExploreArgs {
    /// The scenario (see `netpoll-sim list`).
    #[arg(long, value_name = "NAME")]
    scenario: String,
    /// The protocol: fixed or prefix-45211.
    #[arg(long, default_value = "fixed")]
    protocol: String,
    /// The memory model: sc, c11 or tso.
    #[arg(long, default_value = "c11")]
    memory: String,
    /// Faults on the simulated fds: none, or e.g. error=0.1,spurious=0.1,delay=0.1
    /// (probabilities of an error-only event, a spurious event, a delayed delivery).
    #[arg(long, default_value = "none", value_name = "FAULTS")]
    faults: String,
    /// How schedules are chosen: random, pct or dfs.
    #[arg(long, default_value = "random")]
    strategy: String,
    /// Most schedules to run.
    #[arg(long, default_value_t = 1000)]
    schedules: u64,
    /// Seed of the random and pct strategies.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Depth of pct (at least 1).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    depth: u32,
    /// Preemption bound of dfs (runs the bounds 0..=P in turn); unbounded if absent.
    #[arg(long)]
    preemptions: Option<u32>,
    /// Steps one schedule may take before it fails as a livelock.
    #[arg(long, default_value_t = 100_000)]
    max_steps: u64,
    /// Where a failing schedule's trace is saved. The default stays out of the repository's
    /// traces/, which tests/replay.rs replays: move a trace there to keep it as a regression
    /// test.
    #[arg(long, default_value = "target/netpoll-sim/traces", value_name = "DIR")]
    out: PathBuf,
    /// Save the failing schedule as found, without shrinking it.
    #[arg(long)]
    no_shrink: bool,
    /// Keep exploring after the first failure (to count failures).
    #[arg(long)]
    keep_going: bool,
}

#[derive(Args)]
struct DemoArgs {
    /// Schedules each exploration may run.
    #[arg(long, default_value_t = DEMO_SCHEDULES)]
    schedules: u64,
    /// Seed of the random explorations.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the traces are saved.
    #[arg(long, default_value = "traces", value_name = "DIR")]
    out: PathBuf,
}

/// A command's failure: an exit code and what to print on stderr (one line, or empty when
/// the command already printed why).
struct Exit {
    code: u8,
    message: String,
}

impl Exit {
    fn usage(message: impl Into<String>) -> Exit {
        Exit {
            code: 2,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explore(a) => explore(&a),
        Command::List => {
            list();
            Ok(())
        }
        Command::Replay { file } => replay(&file),
        Command::Show { file, svg, full } => show(&file, svg.as_deref(), full),
        Command::Demo(a) => demo(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("netpoll-sim: {}", e.message);
            }
            ExitCode::from(e.code)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// list

fn list() {
    let rows = |title: &str, items: &[(&str, &str)]| {
        println!("{title}:");
        let w = items.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, what) in items {
            println!("  {name:w$}  {what}");
        }
    };
    let scen: Vec<_> = Scenario::ALL
        .iter()
        .map(|s| (s.name(), s.description()))
        .collect();
    rows("scenarios (--scenario)", &scen);
    let prot: Vec<_> = Protocol::ALL
        .iter()
        .map(|p| (p.name(), p.description()))
        .collect();
    rows("protocols (--protocol)", &prot);
    let models: Vec<_> = [
        (
            "sc",
            "sequential consistency: every load reads the newest store; only interleavings vary",
        ),
        (
            "c11",
            "C11/Rust weak memory after Miri's emulation: loads may read older stores (default)",
        ),
        (
            "tso",
            "x86-TSO: per-task FIFO store buffers, drained by locked instructions and fences",
        ),
    ]
    .into_iter()
    // Only the models this build has.
    .filter(|(name, _)| name.parse::<MemoryModel>().is_ok())
    .collect();
    rows("memory models (--memory)", &models);
    rows(
        "strategies (--strategy)",
        &[
            ("random", "every choice uniformly random from a seeded stream per schedule (default)"),
            ("pct", "PCT: random task priorities with depth-1 change points (--depth)"),
            ("dfs", "depth-first enumeration, preemption bounds 0..=P (--preemptions): a complete bounded verdict"),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// explore

/// A validated scenario/protocol pair and its check closure factory.
struct Target {
    scenario: &'static str,
    protocol: Protocol,
}

impl Target {
    fn parse(scenario: &str, protocol: &str) -> Result<Target, Exit> {
        let info: Scenario = scenario.parse().map_err(Exit::usage)?;
        let protocol: Protocol = protocol.parse().map_err(Exit::usage)?;
        Ok(Target {
            scenario: info.name(),
            protocol,
        })
    }

    fn check(&self) -> impl Fn() + 'static {
        match scenario_check(self.scenario, self.protocol) {
            Ok(f) => f,
            // `parse` found the scenario, so scenario_check knows it too.
            Err(e) => unreachable!("{e}"),
        }
    }
}

fn unknown_scenario(name: &str) -> String {
    match name.parse::<Scenario>() {
        Err(e) => e,
        Ok(_) => unreachable!("unknown_scenario called with a known scenario"),
    }
}

fn progress_bar(b: &Builder) -> ProgressBar {
    let target = ProgressDrawTarget::stderr();
    let (len, template) = if b.strategy == Strategy::Dfs {
        (
            None,
            "{spinner} {human_pos} schedules  {rate} schedules/s  {elapsed}  {msg}",
        )
    } else {
        (
            Some(b.schedules),
            "{bar:20} {human_pos}/{human_len} schedules  {rate}/s  eta {eta}  {msg}",
        )
    };
    let pb = ProgressBar::with_draw_target(len, target);
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

/// Explore with a progress bar on stderr (hidden when stderr is not a terminal).
fn explore_with_bar(b: &Builder, f: impl Fn() + 'static) -> Report {
    let pb = progress_bar(b);
    let mut failures = 0;
    let r = b.explore_with_progress(f, |r| {
        if r.schedules % PROGRESS_EVERY == 0 || r.failures != failures {
            failures = r.failures;
            pb.set_position(r.schedules);
            if failures > 0 {
                pb.set_message(format!("{failures} failing"));
            }
        }
    });
    pb.finish_and_clear();
    r
}

fn rate(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2}s")
    } else {
        format!("{:.2}ms", s * 1e3)
    }
}

fn stats(r: &Report) -> String {
    format!(
        "{} schedule{}, {} steps in {} ({} schedules/s, {} steps/s)",
        r.schedules,
        if r.schedules == 1 { "" } else { "s" },
        r.steps,
        secs(r.elapsed),
        rate(r.schedules_per_sec()),
        rate(r.steps_per_sec())
    )
}

fn indent(s: &str, by: &str) -> String {
    s.lines().fold(String::new(), |mut out, l| {
        let _ = writeln!(out, "{by}{l}");
        out
    })
}

/// The replay command for `path`.
fn replay_command(path: &Path) -> String {
    format!(
        "cargo run --release -p netpoll-sim -- replay {}",
        path.display()
    )
}

/// The saved form of a failure: shrunk (unless asked not to), turned into a trace.
struct Saved {
    trace: Trace,
    path: PathBuf,
    bytes: usize,
    /// What shrinking did, if it ran.
    shrink: Option<ShrinkStats>,
}

/// (choices, departures from the default run) before and after shrinking, and its time.
#[derive(Clone, Copy)]
struct ShrinkStats {
    before: (usize, usize),
    after: (usize, usize),
    took: Duration,
}

fn save_failure(
    b: &Builder,
    t: &Target,
    info: &FailureInfo,
    shrink: bool,
    out: &Path,
) -> Result<Saved, Exit> {
    let (info, shrunk) = if shrink {
        let start = Instant::now();
        let small = shrink_failure(b, info, SHRINK_RUNS, t.check());
        let took = start.elapsed();
        let before = (info.choices.len(), cost(&info.choices).0);
        let after = (small.choices.len(), cost(&small.choices).0);
        (
            small,
            Some(ShrinkStats {
                before,
                after,
                took,
            }),
        )
    } else {
        (info.clone(), None)
    };
    let mut trace = Trace::from_failure_info(t.scenario, t.protocol.name(), b, &info);
    if shrunk.is_some_and(|s| s.before != s.after) {
        trace.meta.strategy = format!("{}-shrunk", b.strategy);
    }
    let path = save_in(out, &trace).map_err(|e| Exit {
        code: 2,
        message: format!("cannot save the trace: {e}"),
    })?;
    let bytes = encode(&trace).map(|v| v.len()).unwrap_or(0);
    Ok(Saved {
        trace,
        path,
        bytes,
        shrink: shrunk,
    })
}

fn explore(a: &ExploreArgs) -> Result<(), Exit> {
    let t = Target::parse(&a.scenario, &a.protocol)?;
    let memory: MemoryModel = a.memory.parse().map_err(Exit::usage)?;
    let strategy: Strategy = a.strategy.parse().map_err(Exit::usage)?;
    let faults: Faults = a.faults.parse().map_err(Exit::usage)?;
    let b = Builder::default()
        .faults(faults)
        .seed(a.seed)
        .schedules(a.schedules)
        .strategy(strategy)
        .memory(memory)
        .pct_depth(a.depth)
        .preemption_bound(a.preemptions)
        .max_steps(a.max_steps)
        .stop_at_first_failure(!a.keep_going);
    let mut how = format!("strategy {strategy}");
    match strategy {
        Strategy::Random => write!(how, ", seed {}", a.seed),
        Strategy::Pct => write!(how, " (depth {}), seed {}", a.depth, a.seed),
        Strategy::Dfs => match a.preemptions {
            Some(p) => write!(how, " (preemption bound {p})"),
            None => write!(how, " (unbounded)"),
        },
    }
    .ok();
    if !faults.is_none() {
        write!(how, ", faults {faults}").ok();
    }
    println!(
        "explore {} with protocol {}, memory {memory}, {how}, up to {} schedules",
        t.scenario,
        t.protocol.name(),
        a.schedules
    );
    let r = explore_with_bar(&b, t.check());
    println!("{}", stats(&r));
    let Some(ff) = &r.first_failure else {
        let verdict = if r.complete {
            " (complete: the exploration exhausted its space)"
        } else {
            ""
        };
        println!("no failure{verdict}");
        return Ok(());
    };
    println!(
        "{} failing schedule{}; the first is schedule {}:",
        r.failures,
        if r.failures == 1 { "" } else { "s" },
        ff.schedule_index
    );
    print!("{}", indent(&ff.failure.to_string(), "  "));
    let saved = save_failure(&b, &t, ff, !a.no_shrink, &a.out)?;
    if let Some(ShrinkStats {
        before: (c0, d0),
        after: (c1, d1),
        took,
    }) = saved.shrink
    {
        println!(
            "shrunk: {c0} choices ({d0} departures from the default run) -> {c1} choices ({d1} departures) in {}",
            secs(took)
        );
    }
    println!(
        "trace saved: {} ({} bytes, {} events)",
        saved.path.display(),
        saved.bytes,
        saved.trace.events.events.len()
    );
    println!("replay it with: {}", replay_command(&saved.path));
    Err(Exit {
        code: 1,
        message: String::new(),
    })
}

// ---------------------------------------------------------------------------------------------
// replay and show

fn load(file: &Path) -> Result<Trace, Exit> {
    read_file(file).map_err(|e| {
        Exit::usage(match e {
            // These already name the path.
            TraceError::NotAFile(_) | TraceError::Io { .. } => e.to_string(),
            _ => format!("{}: {e}", file.display()),
        })
    })
}

/// Replay `trace` with the scenario it names; the time the run took.
fn replay_run(trace: &Trace) -> Result<Duration, ReplayError> {
    let t = Target::parse(&trace.meta.scenario, &trace.meta.protocol).map_err(|e| {
        ReplayError::BadMeta(if trace.meta.scenario.parse::<Scenario>().is_err() {
            format!("the trace is of {}", unknown_scenario(&trace.meta.scenario))
        } else {
            format!("the trace names {}", e.message)
        })
    })?;
    let start = Instant::now();
    replay_trace(trace, t.check())?;
    Ok(start.elapsed())
}

fn replay(file: &Path) -> Result<(), Exit> {
    let trace = load(file)?;
    let m = &trace.meta;
    match replay_run(&trace) {
        Ok(took) => {
            println!(
                "{}: reproduced byte for byte ({} events, {} choices) in {}",
                file.display(),
                trace.events.events.len(),
                trace.choices.len(),
                secs(took)
            );
            println!(
                "scenario {}, protocol {}, memory {}, faults {}; found by {} (seed {}, schedule {})",
                m.scenario, m.protocol, m.memory, m.faults, m.strategy, m.seed, m.schedule_index
            );
            println!("it fails as recorded:");
            print!("{}", indent(&trace.failure.message, "  "));
            Ok(())
        }
        Err(e) => Err(Exit {
            code: e.exit_code() as u8,
            message: format!("{}: {e}", file.display()),
        }),
    }
}

fn show(file: &Path, svg: Option<&Path>, full: bool) -> Result<(), Exit> {
    let trace = load(file)?;
    match svg {
        None if full => print!("{}", render_text(&trace)),
        None => print!("{}", render_text_compact(&trace)),
        Some(out) => {
            let doc = render_svg(&trace);
            std::fs::write(out, &doc).map_err(|e| Exit {
                code: 2,
                message: format!("cannot write {}: {e}", out.display()),
            })?;
            println!("wrote {} ({} bytes)", out.display(), doc.len());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// demo

/// What one scenario's part of the demo found.
struct DemoOutcome {
    scenario: &'static str,
    found_at: Option<u64>,
    fixed_clean: bool,
    sc_clean: bool,
    tso_clean: bool,
    reproduced: bool,
}

fn demo_scenario(
    a: &DemoArgs,
    scenario: &'static str,
    part: &str,
    swimlane: bool,
) -> Result<DemoOutcome, Exit> {
    let buggy = Target {
        scenario,
        protocol: Protocol::PreFix45211,
    };
    let fixed = Target {
        scenario,
        protocol: Protocol::Fixed,
    };
    let b = Builder::default()
        .seed(a.seed)
        .schedules(a.schedules)
        .strategy(Strategy::Random)
        .memory(MemoryModel::C11);
    let desc = scenario.parse::<Scenario>().map_or("", |s| s.description());
    println!("{part}. {scenario}: {desc}");
    println!();

    println!(
        "  {part}.1 Explore the pre-fix protocol under C11 weak memory (random schedules, seed {}, at most {}).",
        a.seed, a.schedules
    );
    let r = explore_with_bar(&b, buggy.check());
    let mut outcome = DemoOutcome {
        scenario,
        found_at: None,
        fixed_clean: false,
        sc_clean: false,
        tso_clean: false,
        reproduced: false,
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

    let saved = save_failure(&b, &buggy, ff, true, &a.out)?;
    if let Some(ShrinkStats {
        before: (c0, d0),
        after: (c1, d1),
        took,
    }) = saved.shrink
    {
        println!(
            "  {part}.2 Shrink it: {c0} choices with {d0} departures from the default run -> {c1} choices with {d1} departures ({}).",
            secs(took)
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
    println!(
        "  {part}.3 Save it: {} ({} bytes, {} steps, {:.1} bytes/step).",
        saved.path.display(),
        saved.bytes,
        steps,
        saved.bytes as f64 / steps as f64
    );
    let reread = load(&saved.path)?;
    match replay_run(&reread) {
        Ok(took) => {
            outcome.reproduced = true;
            println!(
                "  {part}.4 Replay it from the file: the event log is byte-for-byte identical ({} events in {}; one explored schedule took {} on average).",
                reread.events.events.len(),
                secs(took),
                secs(per_schedule)
            );
        }
        Err(e) => println!("  {part}.4 Replay it from the file: FAILED: {e}"),
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
        print!("{}", indent(&render_text_compact(&reread), "      "));
        println!();
    } else {
        println!(
            "      See it with: cargo run --release -p netpoll-sim -- show {}",
            saved.path.display()
        );
    }

    let rf = explore_with_bar(&b, fixed.check());
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
    let rs = explore_with_bar(&b.clone().memory(MemoryModel::Sc), buggy.check());
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
    let rt = explore_with_bar(&b.clone().memory(MemoryModel::Tso), buggy.check());
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
    println!();
    Ok(outcome)
}

fn demo(a: &DemoArgs) -> Result<(), Exit> {
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
    let close = demo_scenario(a, "close-unblocks-read", "1", true)?;
    let deadline = demo_scenario(a, "deadline-unblocks-read", "2", false)?;
    println!("Summary");
    let mut ok = true;
    for o in [&close, &deadline] {
        let good =
            o.found_at.is_some() && o.reproduced && o.fixed_clean && o.sc_clean && o.tso_clean;
        ok &= good;
        println!(
            "  {:<24} pre-fix/c11: {}   replay: {}   fixed/c11: {}   pre-fix/sc: {}   pre-fix/tso: {}",
            o.scenario,
            o.found_at.map_or("not found".to_string(), |i| format!(
                "deadlock at schedule {i}"
            )),
            if o.reproduced { "identical" } else { "FAILED" },
            if o.fixed_clean { "clean" } else { "FAILED" },
            if o.sc_clean { "clean" } else { "FAILED" },
            if o.tso_clean { "clean" } else { "FAILED" },
        );
    }
    println!(
        "  {} ({})",
        if ok {
            "As expected: the pre-fix protocol deadlocks under C11 (ARM64-like) weak memory only; the fix holds."
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
