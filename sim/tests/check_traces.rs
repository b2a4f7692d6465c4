//! A named failing check saves its (shrunk) trace and prints the replay command;
//! `NETPOLL_SIM_REPLAY` makes a check replay a trace instead of exploring, refusing a trace of
//! another scenario or protocol.

use netpoll::Protocol;
use netpoll_sim::trace::{read_file, replay_trace};
use netpoll_sim::{scenario_check, Builder, MemoryModel, Strategy};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

const CLOSE: &str = "close-unblocks-read";

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("netpoll-sim-check")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn prefix_builder() -> Builder {
    Builder::default()
        .strategy(Strategy::Random)
        .memory(MemoryModel::C11)
        .seed(1)
        .schedules(1000)
}

fn check_prefix(b: &Builder) -> String {
    let check = scenario_check(CLOSE, Protocol::PreFix45211).unwrap();
    let err = catch_unwind(AssertUnwindSafe(|| b.check(check))).expect_err("the check fails");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn traces_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// A named failing check in `dir`: its message and its trace.
fn failing_named_check(dir: &Path) -> (String, PathBuf) {
    let b = prefix_builder()
        .name(CLOSE, Protocol::PreFix45211.name())
        .trace_dir(dir);
    let msg = check_prefix(&b);
    let files = traces_in(dir);
    assert_eq!(files.len(), 1, "{files:?}\n{msg}");
    (msg, files[0].clone())
}

#[test]
fn a_named_failing_check_saves_its_trace_and_prints_the_replay_command() {
    let dir = tmp("named");
    let (msg, path) = failing_named_check(&dir);
    assert!(msg.contains("deadlock"), "{msg}");
    let cmd = format!("cargo run -p netpoll-sim -- replay {}", path.display());
    assert_eq!(msg.lines().filter(|l| l.contains(&cmd)).count(), 1, "{msg}");
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("close-unblocks-read-prefix-45211-c11-random"),
        "{name}"
    );
    let trace = read_file(&path).unwrap();
    assert_eq!(trace.meta.scenario, CLOSE);
    assert_eq!(trace.meta.protocol, "prefix-45211");
    assert_eq!(trace.failure.kind, "deadlock");
    let check = scenario_check(CLOSE, Protocol::PreFix45211).unwrap();
    replay_trace(&trace, check).expect("the saved trace replays byte for byte");
}

#[test]
fn an_unnamed_failing_check_saves_nothing() {
    let dir = tmp("unnamed");
    let msg = check_prefix(&prefix_builder().trace_dir(&dir));
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(!msg.contains("replay"), "{msg}");
    assert!(traces_in(&dir).is_empty());
}

#[test]
fn the_trace_dir_comes_from_the_environment() {
    let mut b = Builder::default();
    b.apply_env(|k| (k == "CARGO_MANIFEST_DIR").then(|| "/some/crate".to_string()))
        .unwrap();
    assert_eq!(b.trace_dir, Some(PathBuf::from("/some/crate/traces")));
    let mut b = Builder::default();
    b.apply_env(|k| match k {
        "CARGO_MANIFEST_DIR" => Some("/some/crate".to_string()),
        "NETPOLL_SIM_TRACE_DIR" => Some("/elsewhere".to_string()),
        "NETPOLL_SIM_REPLAY" => Some("/x/y.trace".to_string()),
        _ => None,
    })
    .unwrap();
    assert_eq!(b.trace_dir, Some(PathBuf::from("/elsewhere")));
    assert_eq!(b.replay_trace, Some(PathBuf::from("/x/y.trace")));
    assert_eq!(Builder::default().trace_dir, None);
    assert_eq!(Builder::default().replay_trace, None);
}

#[test]
fn netpoll_sim_replay_replays_the_trace_instead_of_exploring() {
    let dir = tmp("replay");
    let (_, path) = failing_named_check(&dir);

    // Replaying reproduces the failure (the check still fails: that is the bug, on demand).
    let b = Builder::default()
        .name(CLOSE, "prefix-45211")
        .replay_trace(Some(path.clone()))
        // Exploring with these would find nothing: proof that the check replays.
        .memory(MemoryModel::Sc)
        .schedules(0);
    let msg = check_prefix(&b);
    assert!(
        msg.contains("replayed") && msg.contains("byte for byte") && msg.contains("deadlock"),
        "{msg}"
    );

    // A trace of another protocol or scenario is refused with a clear error.
    let msg = check_prefix(&b.clone().name(CLOSE, "fixed"));
    assert!(
        msg.contains("protocol") && msg.contains("prefix-45211") && msg.contains("fixed"),
        "{msg}"
    );
    let msg = check_prefix(&b.clone().name("deadline-unblocks-read", "prefix-45211"));
    assert!(
        msg.contains("scenario") && msg.contains("deadline-unblocks-read"),
        "{msg}"
    );

    // An unnamed check cannot be matched against the trace.
    let mut unnamed = b.clone();
    unnamed.name = None;
    let msg = check_prefix(&unnamed);
    assert!(msg.contains("no name"), "{msg}");

    // A missing file is named.
    let msg = check_prefix(&b.clone().replay_trace(Some(dir.join("missing.trace"))));
    assert!(msg.contains("missing.trace"), "{msg}");
}
