//! The `netpoll-sim` command line: exit codes, one-line errors for every kind of bad input,
//! and no panics.

use netpoll_sim::trace::{decode, encode, encode_body, frame, Trace, FORMAT_VERSION, HEADER_LEN};
use netpoll_sim::Op;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const BIN: &str = env!("CARGO_BIN_EXE_netpoll-sim");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run netpoll-sim")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh directory for one test.
fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("netpoll-sim-cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Explore the pre-fix protocol under c11 into `out`; returns the output and the trace path.
fn explore_prefix(out: &Path) -> (Output, PathBuf) {
    let o = run(&[
        "explore",
        "--scenario",
        "close-unblocks-read",
        "--protocol",
        "prefix-45211",
        "--memory",
        "c11",
        "--strategy",
        "random",
        "--schedules",
        "1000",
        "--seed",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let files: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .collect();
    assert_eq!(files.len(), 1, "one trace in {}: {files:?}", out.display());
    (o, files[0].clone())
}

/// A good trace, found once per test binary.
fn good_trace() -> &'static PathBuf {
    static T: OnceLock<PathBuf> = OnceLock::new();
    T.get_or_init(|| explore_prefix(&tmp("good")).1)
}

fn good_bytes() -> Vec<u8> {
    std::fs::read(good_trace()).unwrap()
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let p = tmp(name).join("t.trace");
    std::fs::write(&p, bytes).unwrap();
    p
}

/// `replay path` fails with exit code 2, one line on stderr containing `what`, no panic.
fn assert_unusable(path: &Path, what: &str) {
    let o = run(&["replay", path.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.to_lowercase().contains(what),
        "{err:?} should name {what:?}"
    );
    // `show` refuses it the same way.
    let o = run(&["show", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn explore_prefix_c11_finds_the_bug_and_saves_a_trace() {
    let out = tmp("explore-prefix");
    let (o, path) = explore_prefix(&out);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", stderr(&o));
    assert!(text.contains("checker parked-on-closed-pd"), "{text}");
    assert!(text.contains("closing=true"), "{text}");
    assert!(
        text.contains("schedules/s") && text.contains("steps/s"),
        "{text}"
    );
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("close-unblocks-read-prefix-45211-c11-"),
        "{name}"
    );
    let abs = std::fs::canonicalize(&path).unwrap();
    let cmd = format!(
        "cargo run --release -p netpoll-sim -- replay {}",
        abs.display()
    );
    assert_eq!(
        text.lines().filter(|l| l.contains(&cmd)).count(),
        1,
        "the one replay command: {text}"
    );
}

#[test]
fn explore_fixed_is_clean() {
    let out = tmp("explore-fixed");
    let o = run(&[
        "explore",
        "--scenario",
        "close-unblocks-read",
        "--protocol",
        "fixed",
        "--memory",
        "c11",
        "--strategy",
        "pct",
        "--schedules",
        "2000",
        "--seed",
        "3",
        "--depth",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("2000 schedules"), "{}", stdout(&o));
    assert!(stdout(&o).contains("no failure"));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "no trace");

    let o = run(&[
        "explore",
        "--scenario",
        "deadline-unblocks-read",
        "--strategy",
        "dfs",
        "--preemptions",
        "1",
        "--schedules",
        "100000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("complete"), "{}", stdout(&o));
}

#[test]
fn bad_usage_exits_2_naming_the_valid_values() {
    for (args, names) in [
        (
            vec!["explore", "--scenario", "nope"],
            vec!["nope", "close-unblocks-read", "deadline-unblocks-read"],
        ),
        (
            vec![
                "explore",
                "--scenario",
                "close-unblocks-read",
                "--protocol",
                "pre-fix",
            ],
            vec!["pre-fix", "fixed", "prefix-45211"],
        ),
        (
            vec![
                "explore",
                "--scenario",
                "close-unblocks-read",
                "--memory",
                "armv8",
            ],
            vec!["armv8", "sc", "c11"],
        ),
        (
            vec![
                "explore",
                "--scenario",
                "close-unblocks-read",
                "--strategy",
                "bfs",
            ],
            vec!["bfs", "random", "pct", "dfs"],
        ),
    ] {
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        for n in names {
            assert!(err.contains(n), "{args:?}: {err:?} should name {n}");
        }
    }
    // clap's own usage errors.
    for args in [
        vec!["explore", "--bogus"],
        vec!["explore"],
        vec![
            "explore",
            "--scenario",
            "close-unblocks-read",
            "--schedules",
            "many",
        ],
        vec![
            "explore",
            "--scenario",
            "close-unblocks-read",
            "--depth",
            "0",
        ],
        vec!["frobnicate"],
        vec![],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
}

#[test]
fn list_names_scenarios_protocols_models_and_strategies() {
    let o = run(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    for s in netpoll::scenarios::Scenario::ALL {
        assert!(
            text.contains(s.name()) && text.contains(s.description()),
            "{text}"
        );
    }
    for w in ["fixed", "prefix-45211", "sc", "c11", "random", "pct", "dfs"] {
        assert!(text.contains(w), "{w}: {text}");
    }
}

#[test]
fn replay_of_a_good_trace_exits_0() {
    let o = run(&["replay", good_trace().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("byte for byte"), "{}", stdout(&o));
    assert!(stdout(&o).contains("parked-on-closed-pd"), "{}", stdout(&o));
}

#[test]
fn show_prints_the_swimlane_and_writes_the_svg() {
    let p = good_trace().to_str().unwrap();
    let o = run(&["show", p]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("reader") && text.contains("FAILURE (checker)"),
        "{text}"
    );
    assert!(text.contains("stale"), "{text}");

    let svg = tmp("svg").join("t.svg");
    let o = run(&["show", p, "--svg", svg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = std::fs::read_to_string(&svg).unwrap();
    assert!(doc.starts_with("<svg") || doc.starts_with("<?xml"), "{doc}");
    assert!(doc.trim_end().ends_with("</svg>"));
}

#[test]
fn a_tampered_but_valid_trace_diverges_with_exit_1() {
    let mut t: Trace = decode(&good_bytes()).unwrap();
    // Change the value of the first store the log records.
    let i = t
        .events
        .events
        .iter()
        .position(|e| matches!(e.op, Op::Store { .. }))
        .expect("a store");
    let Op::Store { loc, ord, val: w } = t.events.events[i].op else {
        unreachable!()
    };
    t.events.events[i].op = Op::Store {
        loc,
        ord,
        val: w + 7,
    };
    let step = t.events.events[i].step;
    let p = write("tampered", &encode(&t).unwrap());
    let o = run(&["replay", p.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{}{err}", stdout(&o));
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("diverged"), "{err}");
    assert!(err.contains(&format!("step {step}")), "{err}");
    assert!(
        err.contains("expected") && err.contains(&(w + 7).to_string()),
        "{err}"
    );

    // Changed choices: the run no longer matches the log.
    let mut t: Trace = decode(&good_bytes()).unwrap();
    let c = t.choices.iter_mut().find(|c| c.n > 1).unwrap();
    c.chosen = (c.chosen + 1) % c.n;
    let p = write("tampered-choices", &encode(&t).unwrap());
    let o = run(&["replay", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn a_truncated_file_is_refused() {
    let b = good_bytes();
    assert_unusable(&write("truncated", &b[..b.len() / 2]), "truncated");
    assert_unusable(&write("truncated-header", &b[..10]), "truncated");
}

#[test]
fn a_flipped_byte_in_the_body_is_refused() {
    let mut b = good_bytes();
    let at = HEADER_LEN + (b.len() - HEADER_LEN) / 2;
    b[at] ^= 0x20;
    assert_unusable(&write("flipped", &b), "corrupt");
}

#[test]
fn wrong_magic_is_refused() {
    let mut b = good_bytes();
    b[0] = b'X';
    assert_unusable(&write("magic", &b), "magic");
    assert_unusable(&write("text", b"hello, world\n"), "magic");
}

#[test]
fn a_future_format_version_is_refused() {
    let b = good_bytes();
    let future = frame(FORMAT_VERSION + 1, &b[HEADER_LEN..]);
    assert_unusable(&write("future", &future), "version");
}

#[test]
fn an_empty_file_is_refused() {
    assert_unusable(&write("empty", b""), "empty");
}

#[test]
fn a_directory_is_refused() {
    assert_unusable(&tmp("a-directory"), "directory");
    assert_unusable(&tmp("missing").join("no-such.trace"), "no such file");
}

/// `bytes` with every occurrence of `from` replaced by `to` (the same length).
fn replace_bytes(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let (f, t) = (from.as_bytes(), to.as_bytes());
    let mut i = 0;
    let mut n = 0;
    while i + f.len() <= out.len() {
        if &out[i..i + f.len()] == f {
            out[i..i + f.len()].copy_from_slice(t);
            n += 1;
            i += f.len();
        } else {
            i += 1;
        }
    }
    assert!(n > 0, "{from} not found");
    out
}

#[test]
fn a_trace_of_an_unknown_scenario_or_protocol_is_refused() {
    let t: Trace = decode(&good_bytes()).unwrap();
    let body = encode_body(&t).unwrap();
    for (from, to, what) in [
        (
            "close-unblocks-read",
            "close-unblocks-xxxx",
            "unknown scenario",
        ),
        ("prefix-45211", "prefix-99999", "unknown protocol"),
    ] {
        let forged = frame(FORMAT_VERSION, &replace_bytes(&body, from, to));
        let p = write(to, &forged);
        let o = run(&["replay", p.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(what) && err.contains(to), "{err}");
    }
}

#[test]
fn explore_says_whether_the_search_was_complete() {
    let out = tmp("complete");
    let args = |schedules: &'static str, preemptions: &'static str| {
        vec![
            "explore",
            "--scenario",
            "close-unblocks-read",
            "--strategy",
            "dfs",
            "--memory",
            "sc",
            "--preemptions",
            preemptions,
            "--schedules",
            schedules,
            "--out",
            out.to_str().unwrap(),
        ]
    };
    // `none` is a preemption bound the command line takes (no bound).
    let o = run(&args("5", "none"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("stopped after 5 schedules: not a complete search"),
        "{}",
        stdout(&o)
    );
    let o = run(&args("100000", "1"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("; complete") && text.contains("no failure (complete)"),
        "{text}"
    );
    // Random sampling never claims completeness.
    let o = run(&[
        "explore",
        "--scenario",
        "close-unblocks-read",
        "--schedules",
        "50",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        stdout(&o).contains("50 sampled schedules: not a complete search"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_version_2_trace_is_refused_naming_both_versions() {
    let b = good_bytes();
    let old = frame(2, &b[HEADER_LEN..]);
    let p = write("version-2", &old);
    let o = run(&["replay", p.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("version 2") && err.contains(&format!("version {FORMAT_VERSION}")),
        "{err}"
    );
}

/// `explore` reads the `NETPOLL_SIM_*` variables its `--help` names: a variable sets the
/// default, a flag wins over it, and an unknown variable or a bad value is a one-line error
/// naming it (exit 2).
#[test]
fn explore_reads_the_variables_and_flags_win() {
    let env_run = |vars: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["explore", "--scenario", "close-unblocks-read"];
        args.extend_from_slice(extra);
        Command::new(BIN)
            .args(&args)
            .envs(vars.iter().copied())
            .output()
            .expect("run netpoll-sim")
    };
    let o = env_run(&[("NETPOLL_SIM_SCHEDULES", "7")], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("up to 7 schedules"), "{}", stdout(&o));
    let o = env_run(&[("NETPOLL_SIM_SCHEDULES", "7")], &["--schedules", "9"]);
    assert!(stdout(&o).contains("up to 9 schedules"), "{}", stdout(&o));
    for (var, value, says) in [
        ("NETPOLL_SIM_SCHEDULES", "0", "NETPOLL_SIM_SCHEDULES"),
        ("NETPOLL_SIM_SEEDS", "3", "did you mean NETPOLL_SIM_SEED?"),
        ("NETPOLL_SIM_MEMORY", "arm", "NETPOLL_SIM_MEMORY"),
    ] {
        let o = env_run(&[(var, value)], &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{var}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{var}: one line: {err}");
        assert!(err.contains(says), "{var}: {err}");
    }
}

/// The main job, `netpoll-sim demo`: finds, shrinks, saves and replays #45211 in both
/// scenarios, shows the fix clean and the bug absent under sc and tso, then the complete
/// verdicts of the graph strategy (fixed complete under c11 and imm, pre-fix failing on
/// imm); exit 0 only when all of it came out so.
#[test]
fn the_demo_tells_the_whole_story() {
    let out = tmp("demo");
    let o = run(&["demo", "--out", out.to_str().unwrap()]);
    let s = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{s}\n{}", stderr(&o));
    for want in [
        "Found at schedule",
        "the event log is byte-for-byte identical",
        "under C11: clean, complete: 293 executions (0 blocked)",
        "the pre-fix protocol under IMM: FAILED after",
        "As expected",
    ] {
        assert!(s.contains(want), "missing {want:?} in:\n{s}");
    }
    let saved = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(saved, 2, "one trace per scenario");
}
