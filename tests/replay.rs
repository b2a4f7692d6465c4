//! Every trace in `traces/` is a regression test: it must replay byte for byte against the
//! scenario and protocol it records, and its text swimlane must match the snapshot in
//! `snapshots/` (review changes with `cargo insta review`).

use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_sim::trace::{read_file, render_text};
use netpoll_sim::{scenario_check, FailureKind, MemoryModel, Subject};
use std::path::Path;

/// Every `*.trace` file in the repository's `traces/`, in name order.
fn trace_files() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces");
    netpoll_sim::builder::regress::trace_files(&dir).unwrap()
}

/// Each trace replays byte for byte with the built-in check it records, and its swimlane is
/// the committed snapshot in the top-level `snapshots/` (the same mechanism a user's crate
/// keeps its own traces with: `replay_traces!`).
#[test]
fn swimlane() {
    insta::with_settings!({ snapshot_path => "../snapshots" }, {
        let n = netpoll_sim::replay_traces!("traces", netpoll_sim::BuiltinChecks);
        assert!(n >= 4, "{n} traces");
    });
}

/// `traces/` holds the failing schedules of golang/go#45211 under c11, both variants (found
/// by the platform's checkers: the reader stays parked on a closing pd, or past its
/// deadline).
#[test]
fn traces_hold_both_variants_of_45211() {
    let found: Vec<_> = trace_files()
        .iter()
        .map(|path| {
            let t = read_file(path).unwrap();
            (t.subject, t.meta.memory, t.failure.kind)
        })
        .collect();
    for scenario in [Scenario::CloseUnblocksRead, Scenario::DeadlineUnblocksRead] {
        let want = (
            Subject::Builtin(scenario_check(scenario, Protocol::PreFix45211)),
            MemoryModel::C11,
            FailureKind::Checker,
        );
        assert!(found.contains(&want), "no {want:?} in {found:?}");
    }
}

/// Every committed trace comes from a line of `traces/MANIFEST` (so `netpoll-sim regen`
/// regenerates it), and every trace is shrunk.
#[test]
fn every_trace_is_in_the_manifest_and_shrunk() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST")).unwrap();
    let lines: Vec<&str> = manifest
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let files = trace_files();
    assert_eq!(lines.len(), files.len(), "{lines:?} / {files:?}");
    for path in &files {
        let t = read_file(path).unwrap();
        let Subject::Builtin(c) = &t.subject else {
            panic!("{}: not a scenario trace", path.display())
        };
        let flags = format!(
            "--scenario {} --protocol {} --memory {} --strategy {}",
            c.scenario, c.protocol, t.meta.memory, t.meta.strategy
        );
        assert!(
            lines.iter().any(|l| l.starts_with(&flags)),
            "{}: no manifest line starts with {flags:?}",
            path.display()
        );
        assert!(t.meta.shrunk, "{}: not shrunk", path.display());
    }
}

/// `show` collapses the first task's set-up into one row; every row after it is exactly the
/// full rendering's.
#[test]
fn compact_swimlane_only_collapses_the_prologue() {
    use netpoll_sim::trace::render_text_compact;
    for path in trace_files() {
        let trace = read_file(&path).unwrap();
        let full = render_text(&trace);
        let compact = render_text_compact(&trace);
        let collapsed: Vec<&str> = compact.lines().filter(|l| l.contains(" alone, ")).collect();
        assert_eq!(collapsed.len(), 1, "{}: {compact}", path.display());
        let after = compact.split_once(collapsed[0]).unwrap().1;
        assert!(
            full.ends_with(after),
            "{}: the rows after the prologue differ",
            path.display()
        );
        assert!(compact.lines().count() < full.lines().count());
    }
}
