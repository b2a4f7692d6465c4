//! Hostile inputs cannot hurt: each case of issue 12 as a test. The command line runs under
//! hard limits on memory (address space) and CPU time, so a regression is a killed process,
//! not a slow test; it must end with the right exit code and, on error, one escaped line. The
//! figures (time and peak memory) are printed by the bench: `cargo run --release -p
//! netpoll-sim --example sim_bench -- hostile`.

use netpoll_sim::fuzz::{base_trace, big_trace, check_render, long_name_trace, Sink};
use netpoll_sim::trace::{encode, safe};
use netpoll_sim::Trace;
use std::io::{BufRead, BufReader};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const BIN: &str = env!("CARGO_BIN_EXE_netpoll-sim");

/// Address space a command may map: the simulator's coroutine stacks and the trace fit well
/// inside; the renderer before streaming needed 5.3 GB for the big trace.
const MEMORY_LIMIT_BYTES: u64 = 1 << 30;
/// CPU seconds a command may use: the renderer before streaming spent 42 s on the long name;
/// now it takes milliseconds, so this only turns a hang into a failure.
const CPU_LIMIT_SECS: u64 = 30;

fn limited(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("RUST_BACKTRACE");
    for (k, v) in env {
        c.env(k, v);
    }
    // SAFETY: the closure runs in the child between fork and exec and only calls setrlimit,
    // which is async-signal-safe; it touches no memory of the parent's other threads.
    unsafe {
        c.pre_exec(|| {
            for (res, lim) in [
                (libc::RLIMIT_AS, MEMORY_LIMIT_BYTES),
                (libc::RLIMIT_CPU, CPU_LIMIT_SECS),
            ] {
                let l = libc::rlimit {
                    rlim_cur: lim,
                    rlim_max: lim,
                };
                if libc::setrlimit(res, &l) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    c
}

fn run(args: &[&str]) -> Output {
    limited(args, &[]).output().expect("run netpoll-sim")
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("netpoll-sim-hostile")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(name: &str, t: &Trace) -> PathBuf {
    let p = tmp(name).join("t.trace");
    std::fs::write(&p, encode(t).unwrap()).unwrap();
    p
}

fn base() -> &'static Trace {
    static T: OnceLock<Trace> = OnceLock::new();
    T.get_or_init(base_trace)
}

/// What a command printed is safe: no control character but newlines, no line over `max`.
fn assert_printable(what: &str, bytes: &[u8], max: usize) {
    let s = String::from_utf8_lossy(bytes);
    for l in s.lines() {
        assert!(
            !l.chars().any(safe::dangerous),
            "{what}: a control character in {l:?}"
        );
        assert!(
            l.chars().count() <= max,
            "{what}: a line of {} characters",
            l.chars().count()
        );
    }
}

/// The command failed with `code` and one printable line on stderr containing `what`.
fn assert_one_line_error(o: &Output, code: i32, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(what), "{err:?} should contain {what:?}");
    assert_printable("stderr", &o.stderr, safe::MAX_LINE_CHARS + 200);
}

#[test]
fn a_100000_character_name_renders_small_and_fast() {
    let t = long_name_trace(100_000);
    let bytes = encode(&t).unwrap();
    assert!(bytes.len() > 100_000, "{} bytes", bytes.len());
    let p = write("long-name", &t);
    for args in [
        vec!["show", p.to_str().unwrap()],
        vec!["show", "--full", p.to_str().unwrap()],
    ] {
        let o = run(&args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_printable("show", &o.stdout, netpoll_sim::fuzz::MAX_TEXT_LINE_CHARS);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("nnnnnnnn…"), "the name is cut with a marker");
        // Smaller than the name it shows.
        assert!(
            o.stdout.len() < 50_000,
            "{} bytes of output",
            o.stdout.len()
        );
    }
    let svg = tmp("long-name-svg").join("t.svg");
    let o = run(&["show", p.to_str().unwrap(), "--svg", svg.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(std::fs::metadata(&svg).unwrap().len() < 200_000);
    // The run names that task otherwise: the replay says so, in one bounded line.
    let o = run(&["replay", p.to_str().unwrap()]);
    assert_one_line_error(&o, 1, "was named \"nnnn");
    assert!(o.stderr.len() < 2_000, "{} bytes", o.stderr.len());
}

#[test]
fn a_4_mb_trace_renders_within_the_memory_limit() {
    let t = big_trace(220_000);
    let bytes = encode(&t).unwrap();
    assert!(bytes.len() > 3_500_000, "{} bytes", bytes.len());
    let p = write("big", &t);
    let o = run(&["show", "--full", p.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_printable("show", &o.stdout, netpoll_sim::fuzz::MAX_TEXT_LINE_CHARS);
    let lines = o.stdout.iter().filter(|&&b| b == b'\n').count();
    assert!((220_000..220_300).contains(&lines), "{lines} lines");
    let svg = tmp("big-svg").join("t.svg");
    let o = run(&["show", p.to_str().unwrap(), "--svg", svg.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_forged_failure_message_is_a_divergence() {
    let mut t = base().clone();
    t.failure.message = "\u{1b}[2J\u{1b}[Hall is well\nnothing to see".into();
    let o = run(&["replay", write("forged-message", &t).to_str().unwrap()]);
    assert_one_line_error(&o, 1, "recorded message is");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("\\u{1b}[2J"), "escaped: {err}");
    assert!(o.stdout.is_empty(), "nothing printed as reproduced");
}

#[test]
fn a_choice_out_of_range_is_a_divergence_at_its_step() {
    let mut t = base().clone();
    let i = t.choices.len() / 2;
    t.choices[i].chosen = t.choices[i].n + 3;
    let o = run(&["replay", write("out-of-range", &t).to_str().unwrap()]);
    assert_one_line_error(&o, 1, &format!("choice {i} takes option"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("diverged at step "));
}

#[test]
fn names_and_messages_from_a_file_are_escaped() {
    let evil = "\u{1b}[2J\u{1b}[H\u{202e}evil\nname\u{9b}";
    // A successful replay prints what the trace says about itself.
    let mut t = base().clone();
    t.meta.crate_version = evil.into();
    let p = write("evil-meta", &t);
    for args in [
        vec!["replay", p.to_str().unwrap()],
        vec!["show", p.to_str().unwrap()],
    ] {
        let o = run(&args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_printable("stdout", &o.stdout, 2_000);
    }
    // A renamed task, location, test or message.
    let mut t = base().clone();
    t.events.tasks[1] = evil.into();
    t.events.locations[0].object = evil.into();
    let p = write("evil-names", &t);
    let o = run(&["replay", p.to_str().unwrap()]);
    assert_one_line_error(&o, 1, "diverged");
    let o = run(&["show", "--full", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert_printable("show", &o.stdout, 2_000);
    let mut t = base().clone();
    t.subject = netpoll_sim::Subject::Test(netpoll_sim::trace::TestId {
        package: evil.into(),
        target: evil.into(),
        name: evil.repeat(1000),
    });
    let o = run(&["replay", write("evil-test", &t).to_str().unwrap()]);
    assert_one_line_error(&o, 2, "replay it with");
    // A path with control characters is escaped too.
    let dir = tmp("evil-path");
    let p = dir.join("a\u{1b}[2Jb.trace");
    std::fs::write(&p, b"not a trace").unwrap();
    let o = run(&["replay", p.to_str().unwrap()]);
    assert_one_line_error(&o, 2, "magic");
}

#[test]
fn a_trace_asking_for_an_unbounded_run_is_refused() {
    for steps in [0, u64::MAX] {
        let mut t = base().clone();
        t.meta.max_steps = steps;
        let o = run(&[
            "replay",
            write(&format!("steps-{steps}"), &t).to_str().unwrap(),
        ]);
        assert_one_line_error(&o, 2, "step limit");
    }
}

#[test]
fn numeric_settings_are_bounded() {
    let scenario = ["explore", "--scenario", "close-unblocks-read"];
    for (flag, value, what) in [
        ("--depth", "4294967295", "depth"),
        ("--depth", "100001", "depth"),
        ("--schedules", "0", "schedules"),
        ("--max-steps", "0", "1 to 100000000"),
        ("--max-steps", "100000001", "1 to 100000000"),
        ("--preemptions", "1001", "0 to 1000"),
    ] {
        let mut args = scenario.to_vec();
        args.extend([flag, value]);
        let o = run(&args);
        assert_one_line_error(&o, 2, what);
    }
    use netpoll_sim::builder::settings::Env;
    use netpoll_sim::Builder;
    for (var, value, what) in [
        ("NETPOLL_SIM_DEPTH", "4294967295", "from 1 to 10000"),
        ("NETPOLL_SIM_DEPTH", "200", "step limit (100)"),
        ("NETPOLL_SIM_SCHEDULES", "0", "from 1"),
        ("NETPOLL_SIM_MAX_STEPS", "0", "1 to 100000000"),
        ("NETPOLL_SIM_SEEDS", "1", "did you mean NETPOLL_SIM_SEED?"),
        ("NETPOLL_SIM_DEPTH", "\u{1b}[2J", "\\u{1b}[2J"),
    ] {
        let mut pairs = vec![(var.to_string(), value.to_string())];
        if value == "200" {
            pairs.push(("NETPOLL_SIM_MAX_STEPS".into(), "100".into()));
        }
        let e = Builder::with_env(Env::from_pairs(pairs))
            .unwrap_err()
            .to_string();
        assert!(e.contains(var) && e.contains(what), "{e}");
        assert!(
            !e.contains('\n') && !e.chars().any(safe::dangerous),
            "{e:?}"
        );
    }
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let mut child = limited(
        &[
            "explore",
            "--scenario",
            "close-unblocks-read",
            "--schedules",
            "100000",
        ],
        &[],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // `| head -1`: read a line, then close the pipe.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("explore"), "{first}");
    let o = child.wait_with_output().unwrap();
    // Ended by SIGPIPE, as `cat` would be (the shell says 141), without a word.
    assert_eq!(o.status.signal(), Some(libc::SIGPIPE), "{:?}", o.status);
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The in-tree fuzzer, briefly, with a fixed seed (longer runs: `cargo run --release -p
/// netpoll-sim --example fuzz -- SEED CASES`).
#[test]
fn fuzz_the_decoder_renderer_and_replay() {
    let stats = netpoll_sim::fuzz::run(base(), 0x1212, 600).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.cases, 600);
    assert!(stats.decoded > 300 && stats.replayed > 30, "{stats:?}");
    // What the fuzzer checks on each rendering can be seen: a raw control character, a long
    // line.
    use std::io::Write;
    let mut s = Sink::default();
    s.write_all(b"fine\nnot \x1b[2J fine\n").unwrap();
    assert!(s.finish().dangerous);
    let mut s = Sink::default();
    s.write_all("x".repeat(5000).as_bytes()).unwrap();
    let s = s.finish();
    assert!(!s.dangerous && s.longest == 5000 && s.lines == 1);
    assert!(check_render(base()).is_ok());
}
