//! The workflow of the README, end to end, for a crate outside this workspace: it depends on
//! netpoll-sim by path, writes a check of its own protocol in its own test, and
//!
//! 1. `cargo test` fails, saving a trace and printing the one command that replays it;
//! 2. that command, run as printed, replays the trace and fails the same way;
//! 3. the trace, moved into the crate's `tests/traces/`, is kept as a regression test by one
//!    line in its tests (`replay_traces!`), which replays it and snapshots its swimlane.
//!
//! The crate is built by cargo in a temporary directory, sharing this workspace's target
//! directory (with the same profiles and lock file, so netpoll-sim and its dependencies are
//! not built a second time).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The crate's name (so its replay command says `-p dekker-user`).
const CRATE: &str = "dekker-user";

/// The user's protocol: Dekker's flags with relaxed accesses (each side raises its flag, then
/// enters if the other's is down), and a check that at most one side is inside.
const FLAGS_RS: &str = r#"
use netpoll_sim::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use netpoll_sim::{thread, Builder};
use std::sync::Arc;

struct Shared {
    flags: [AtomicBool; 2],
    inside: AtomicU32,
}

fn side(s: &Shared, me: usize) {
    s.flags[me].store(true, Ordering::Relaxed);
    if !s.flags[1 - me].load(Ordering::Relaxed) {
        let n = s.inside.fetch_add(1, Ordering::SeqCst);
        assert_eq!(n, 0, "both sides are in the critical section");
        s.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

fn dekker() {
    let s = Arc::new(Shared {
        flags: [AtomicBool::new(false), AtomicBool::new(false)],
        inside: AtomicU32::new(0),
    });
    let s2 = s.clone();
    let h = thread::spawn(move || side(&s2, 1));
    side(&s, 0);
    h.join().unwrap();
}

#[test]
fn dekker_flags() {
    Builder::new().check(dekker);
}
"#;

/// The one line that keeps the crate's traces as regression tests.
const REGRESSIONS_RS: &str = r#"
#[test]
fn regressions() {
    netpoll_sim::replay_traces!("tests/traces", dekker);
}
"#;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The crate's manifest: netpoll-sim by path, and the workspace's test profiles (so the
/// dependencies built for this workspace's tests are reused).
fn manifest() -> String {
    let sim = Path::new(env!("CARGO_MANIFEST_DIR"));
    format!(
        r#"[package]
name = "{CRATE}"
version = "0.1.0"
edition = "2021"
publish = false

[dev-dependencies]
netpoll-sim = {{ path = "{}" }}

[profile.test]
opt-level = 3
debug-assertions = true
overflow-checks = true

[profile.dev.package."*"]
opt-level = 2

# As workspace members, netpoll and netpoll-sim get the test profile's level there.
[profile.test.package.netpoll]
opt-level = 3

[profile.test.package.netpoll-sim]
opt-level = 3

[workspace]
"#,
        sim.display()
    )
}

struct UserCrate {
    dir: PathBuf,
    target: PathBuf,
}

impl UserCrate {
    fn new() -> UserCrate {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("outside-crate");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("tests")).unwrap();
        std::fs::write(dir.join("Cargo.toml"), manifest()).unwrap();
        std::fs::write(dir.join("src/lib.rs"), "//! A user's crate.\n").unwrap();
        std::fs::write(dir.join("tests/flags.rs"), FLAGS_RS).unwrap();
        std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        // CARGO_TARGET_TMPDIR is `<target>/tmp`.
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .to_path_buf();
        UserCrate { dir, target }
    }

    /// A command run in the crate's directory with a clean environment: only what cargo and
    /// rustup need, and the shared target directory.
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.dir).env_clear();
        for k in [
            "PATH",
            "HOME",
            "CARGO_HOME",
            "RUSTUP_HOME",
            "RUSTUP_TOOLCHAIN",
        ] {
            if let Some(v) = std::env::var_os(k) {
                c.env(k, v);
            }
        }
        c.env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_TERM_COLOR", "never")
            .env("PWD", &self.dir);
        c
    }

    fn cargo(&self, args: &[&str]) -> Output {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        self.command(&cargo).args(args).output().expect("run cargo")
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The line of `out` that starts with `prefix`, without it.
fn after<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{out}"))
}

#[test]
fn a_crate_outside_the_workspace_replays_and_keeps_its_traces() {
    let c = UserCrate::new();

    // 1. The check fails, saves a trace and prints the one command that replays it.
    let o = c.cargo(&["test", "--test", "flags"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(101), "{out}");
    assert!(
        out.contains("both sides are in the critical section"),
        "{out}"
    );
    let saved = PathBuf::from(after(&out, "trace saved").split(": ").nth(1).unwrap());
    assert!(
        saved.is_absolute() && saved.is_file(),
        "{}",
        saved.display()
    );
    assert!(
        saved.starts_with(c.target.join("netpoll-sim/traces")),
        "saved outside the traces cargo test replays: {}",
        saved.display()
    );
    let command = after(&out, "replay it with: ");
    assert_eq!(
        command,
        format!(
            "NETPOLL_SIM_REPLAY={} cargo test -p {CRATE} --test flags -- --exact dekker_flags",
            saved.display()
        )
    );

    // 2. The command, run as printed, replays the trace and fails the same way.
    let o = c.command("sh").args(["-c", command]).output().unwrap();
    let replayed = text(&o);
    assert_eq!(o.status.code(), Some(101), "{replayed}");
    assert!(
        replayed.contains("byte for byte") && replayed.contains("it fails as recorded"),
        "{replayed}"
    );
    let failure = |s: &str| {
        s.lines()
            .find(|l| l.contains("panicked at") && l.contains("critical section"))
            .map(str::to_string)
    };
    assert_eq!(failure(&replayed), failure(&out), "{out}\n---\n{replayed}");
    assert!(failure(&out).is_some(), "{out}");

    // 3. Kept as a regression test: one line replays the folder and snapshots each trace.
    let kept = c.dir.join("tests/traces");
    std::fs::create_dir_all(&kept).unwrap();
    let name = saved.file_name().unwrap().to_str().unwrap().to_string();
    std::fs::rename(&saved, kept.join(&name)).unwrap();
    let mut flags = FLAGS_RS.to_string();
    flags.push_str(REGRESSIONS_RS);
    std::fs::write(c.dir.join("tests/flags.rs"), flags).unwrap();
    let o = c
        .cargo(&["test", "--test", "flags", "--", "--exact", "regressions"])
        .clone();
    let first = text(&o);
    // insta writes the new snapshot for review and fails the test (it is new).
    assert_ne!(o.status.code(), Some(0), "{first}");
    let pending = c
        .dir
        .join(format!("tests/snapshots/regressions@{name}.snap.new"));
    assert!(pending.is_file(), "{first}");
    // Accepting it (what `cargo insta review` does) makes the test pass, and stay passing.
    let snap = c
        .dir
        .join(format!("tests/snapshots/regressions@{name}.snap"));
    std::fs::rename(&pending, &snap).unwrap();
    let swimlane = std::fs::read_to_string(&snap).unwrap();
    assert!(
        swimlane.contains("dekker-user / flags / dekker_flags")
            && swimlane.contains("FAILURE (panic)")
            && swimlane.contains("critical section"),
        "{swimlane}"
    );
    let o = c
        .command(&std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["test", "--test", "flags", "--", "--exact", "regressions"])
        .env("CI", "true")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A snapshot that no longer matches fails the regression test, naming the trace.
    std::fs::write(
        &snap,
        swimlane.replace("critical section", "critical region"),
    )
    .unwrap();
    let o = c
        .command(&std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["test", "--test", "flags", "--", "--exact", "regressions"])
        .env("CI", "true")
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(101), "{out}");
    assert!(out.contains(&name) && out.contains("snapshot"), "{out}");
}
