//! Every trace in `traces/` is a regression test: it must replay byte for byte against the
//! scenario and protocol it records, and its text swimlane must match the snapshot in
//! `snapshots/` (review changes with `cargo insta review`).

use netpoll::Protocol;
use netpoll_sim::scenario_check;
use netpoll_sim::trace::{read_file, render_text, replay_file, Trace};
use std::path::Path;

/// Runs `f` with the snapshot settings of this file: snapshots live in the top-level
/// `snapshots/`, named after the test and the trace file only.
fn with_snapshot_settings(f: impl FnOnce()) {
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
    }, {
        f();
    });
}

/// Every `*.trace` file in the repository's `traces/`, in name order.
fn trace_files() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "trace"))
        .collect();
    files.sort();
    files
}

/// Replay the trace at `path` with the scenario and protocol it names.
fn replay(path: &Path) -> Trace {
    let trace = read_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let m = &trace.meta;
    let protocol: Protocol = m
        .protocol
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let check =
        scenario_check(&m.scenario, protocol).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    replay_file(path, &m.scenario, &m.protocol, check).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\nreplay it with: cargo run -p netpoll-sim -- replay {}",
            path.display(),
            path.display()
        )
    })
}

/// Each trace replays byte for byte, and its swimlane is the committed snapshot.
#[test]
fn swimlane() {
    with_snapshot_settings(|| {
        insta::glob!("../traces", "*.trace", |path| {
            let trace = replay(path);
            insta::assert_snapshot!(render_text(&trace));
        });
    });
}

/// `traces/` holds the failing schedules of golang/go#45211 under c11, both variants.
#[test]
fn traces_hold_both_variants_of_45211() {
    let mut found = Vec::new();
    for path in trace_files() {
        let t = read_file(&path).unwrap();
        found.push((
            t.meta.scenario,
            t.meta.protocol,
            t.meta.memory,
            t.failure.kind,
        ));
    }
    for scenario in ["close-unblocks-read", "deadline-unblocks-read"] {
        let want = (
            scenario.to_string(),
            "prefix-45211".to_string(),
            "c11".to_string(),
            "deadlock".to_string(),
        );
        assert!(found.contains(&want), "no {want:?} in {found:?}");
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
