//! `netpoll-sim`: explore the netpoll scenarios on the simulator, replay and render traces,
//! regenerate the committed ones, tell the golang/go#45211 story (`netpoll-sim demo`), and
//! run the historical bug zoo (`netpoll-sim zoo`).
//!
//! Exit codes: 0 success (no failure found, a trace reproduced, a demo as expected), 1 a
//! failure found or a replay that diverged, 2 bad usage or an unusable trace file.

mod args;
mod common;
mod demo;
mod explore;
mod list;
mod merge;
mod regen;
mod replay;
mod show;
mod zoo;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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
    Explore(args::ExploreArgs),
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
    Demo(demo::DemoArgs),
    /// Add up the result files of a campaign's shards (`explore --shard i/n`): check they
    /// are one campaign, every shard once, and print the single-process run's verdict.
    /// Exit 0 no failure, 1 a failure found, 2 a missing, duplicate or foreign shard.
    Merge {
        /// Directories holding the shards' `shard-I-of-N.json` files (searched a few levels
        /// deep), or the files themselves.
        #[arg(required = true, value_name = "DIR")]
        paths: Vec<PathBuf>,
    },
    /// Regenerate every trace of a directory from its MANIFEST (the explore flags of each).
    Regen {
        /// The traces directory (the repository's `traces/`).
        dir: PathBuf,
    },
    /// The historical bug zoo: find each of Go's netpoll bugs in its variant, and check the
    /// fixed protocol on the same budget (exit 0 only when all are found and it is clean).
    Zoo,
}

/// A closed standard output ends the program quietly, as it does `cat`: restore the default
/// action of SIGPIPE, which Rust's runtime sets to "ignore" (turning a closed pipe into a
/// panic in `println!`).
fn quiet_on_closed_stdout() {
    // SAFETY: `signal` with `SIG_DFL` only changes this process's disposition of SIGPIPE; it
    // runs at the start of `main`, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A usage error as one line: what is wrong, and the valid values when clap lists them.
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let parts: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:")
        })
        .map(|l| l.strip_prefix("error: ").unwrap_or(l).to_string())
        .collect();
    parts.join("; ")
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("netpoll-sim: {}", one_line(&e));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Explore(a) => explore::run(&a),
        Command::List => {
            list::run();
            Ok(())
        }
        Command::Replay { file } => replay::run(&file),
        Command::Show { file, svg, full } => show::run(&file, svg.as_deref(), full),
        Command::Demo(a) => demo::run(&a),
        Command::Merge { paths } => merge::run(&paths),
        Command::Regen { dir } => regen::run(&dir),
        Command::Zoo => zoo::run(),
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
