//! A failing check saves its (shrunk) trace and prints the one command that replays it;
//! `NETPOLL_SIM_REPLAY` makes a check replay a trace instead of exploring, refusing a trace of
//! another check.

use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_sim::builder::settings::Env;
use netpoll_sim::sync::atomic::{AtomicU32, Ordering};
use netpoll_sim::trace::{read_file, replay_trace};
use netpoll_sim::{
    scenario_check, thread, Builder, FailureKind, MemoryModel, ScenarioCheck, Strategy, Subject,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CLOSE: Scenario = Scenario::CloseUnblocksRead;

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

fn prefix() -> ScenarioCheck {
    scenario_check(CLOSE, Protocol::PreFix45211)
}

/// Run `f` (which must panic) and return its panic message.
fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("the check fails");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn traces_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The failing pre-fix scenario check, saving into `dir`: its message and its trace.
fn failing_scenario_check(dir: &Path) -> (String, PathBuf) {
    let b = prefix_builder().trace_dir(dir);
    let msg = panic_message(|| b.check(prefix()));
    let files = traces_in(dir);
    assert_eq!(files.len(), 1, "{files:?}\n{msg}");
    (msg, files[0].clone())
}

/// SB whose (0, 0) outcome fails: a check written in a test.
fn sb() {
    let x = Arc::new(AtomicU32::new(0));
    let y = Arc::new(AtomicU32::new(0));
    let (x1, y1) = (x.clone(), y.clone());
    let h = thread::spawn(move || {
        x1.store(1, Ordering::Relaxed);
        y1.load(Ordering::Relaxed)
    });
    y.store(1, Ordering::Relaxed);
    let r2 = x.load(Ordering::Relaxed);
    let r1 = h.join().unwrap();
    assert!(r1 == 1 || r2 == 1, "store buffering: both loads read 0");
}

#[test]
fn a_failing_scenario_check_saves_its_trace_and_prints_the_replay_command() {
    let dir = tmp("scenario");
    let (msg, path) = failing_scenario_check(&dir);
    // The reader parks on the closing pd: the checker says so (before the deadlock).
    assert!(msg.contains("checker parked-on-closed-pd"), "{msg}");
    let abs = std::fs::canonicalize(&path).unwrap();
    let cmd = format!(
        "cargo run --release -p netpoll-sim -- replay {}",
        abs.display()
    );
    assert_eq!(msg.lines().filter(|l| l.contains(&cmd)).count(), 1, "{msg}");
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("close-unblocks-read-prefix-45211-c11-random-shrunk"),
        "{name}"
    );
    let trace = read_file(&path).unwrap();
    assert_eq!(trace.subject, Subject::Builtin(prefix()));
    assert_eq!(trace.failure.kind, FailureKind::Checker);
    assert!(trace.meta.shrunk);
    replay_trace(&trace, prefix()).expect("the saved trace replays byte for byte");
    // Saving again never overwrites.
    let _ = failing_scenario_check_again(&dir);
}

fn failing_scenario_check_again(dir: &Path) -> Vec<PathBuf> {
    let b = prefix_builder().trace_dir(dir);
    let _ = panic_message(|| b.check(prefix()));
    let files = traces_in(dir);
    assert_eq!(files.len(), 2, "{files:?}");
    files
}

#[test]
fn a_failing_check_in_a_test_names_the_test_in_its_replay_command() {
    let dir = tmp("in-test");
    let b = Builder::with_env(Env::read())
        .unwrap()
        .trace_dir(&dir)
        .seed(7)
        .schedules(10_000);
    let msg = panic_message(|| b.check(sb));
    let files = traces_in(&dir);
    assert_eq!(files.len(), 1, "{files:?}\n{msg}");
    let trace = read_file(&files[0]).unwrap();
    let Subject::Test(t) = &trace.subject else {
        panic!("a check in a test is recorded as one: {:?}", trace.subject)
    };
    assert_eq!(t.package, "netpoll-sim");
    assert_eq!(t.target, "check_traces");
    assert_eq!(
        t.name,
        "a_failing_check_in_a_test_names_the_test_in_its_replay_command"
    );
    let abs = std::fs::canonicalize(&files[0]).unwrap();
    let cmd = format!(
        "NETPOLL_SIM_REPLAY={} cargo test -p netpoll-sim --test check_traces -- --exact {}",
        abs.display(),
        t.name
    );
    assert!(msg.contains(&cmd), "{msg}");
    replay_trace(&trace, sb).expect("the saved trace replays byte for byte");
}

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn the_trace_dir_and_the_replay_trace_come_from_the_environment() {
    let b = Builder::with_env(env(&[
        ("NETPOLL_SIM_TRACE_DIR", "/elsewhere"),
        ("NETPOLL_SIM_REPLAY", "/x/y.trace"),
    ]))
    .unwrap();
    assert_eq!(b.trace_dir, Some(PathBuf::from("/elsewhere")));
    assert_eq!(b.replay_trace, Some(PathBuf::from("/x/y.trace")));
    // Relative paths resolve against the shell's directory, not the test's.
    let b = Builder::with_env(env(&[
        ("NETPOLL_SIM_REPLAY", "t/y.trace"),
        ("PWD", "/home/me/project"),
    ]))
    .unwrap();
    assert_eq!(
        b.replay_trace,
        Some(PathBuf::from("/home/me/project/t/y.trace"))
    );
    // By default traces go to the cargo target directory, which `cargo test` never replays.
    let b = Builder::with_env(env(&[("CARGO_TARGET_DIR", "/tgt")])).unwrap();
    assert_eq!(b.traces_dir(), PathBuf::from("/tgt/netpoll-sim/traces"));
    assert_eq!(Builder::default().trace_dir, None);
    assert_eq!(Builder::default().replay_trace, None);
}

#[test]
fn netpoll_sim_replay_replays_the_trace_instead_of_exploring() {
    let dir = tmp("replay");
    let (_, path) = failing_scenario_check(&dir);

    // Replaying reproduces the failure (the check still fails: that is the bug, on demand).
    let b = Builder::default()
        .replay_trace(Some(path.clone()))
        // Exploring with these would find nothing: proof that the check replays.
        .memory(MemoryModel::Sc)
        .schedules(1);
    let msg = panic_message(|| b.check(prefix()));
    assert!(
        msg.contains("replayed")
            && msg.contains("byte for byte")
            && msg.contains("parked-on-closed-pd"),
        "{msg}"
    );

    // A trace of another protocol or scenario is refused with a clear error.
    let msg = panic_message(|| b.check(scenario_check(CLOSE, Protocol::Fixed)));
    assert!(
        msg.contains("refusing") && msg.contains("prefix-45211") && msg.contains("fixed"),
        "{msg}"
    );
    let msg = panic_message(|| {
        b.check(scenario_check(
            Scenario::DeadlineUnblocksRead,
            Protocol::PreFix45211,
        ))
    });
    assert!(
        msg.contains("refusing") && msg.contains("deadline-unblocks-read"),
        "{msg}"
    );

    // A missing file is named.
    let msg = panic_message(|| {
        b.clone()
            .replay_trace(Some(dir.join("missing.trace")))
            .check(prefix())
    });
    assert!(msg.contains("missing.trace"), "{msg}");
}
