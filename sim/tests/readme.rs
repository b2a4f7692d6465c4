//! The README says what the code does: its settings table is the settings table.

use netpoll_sim::builder::settings::{markdown_table, SETTINGS};

fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    std::fs::read_to_string(path).expect("README.md")
}

#[test]
fn the_readme_settings_table_is_the_settings_table() {
    let text = readme();
    let start = "<!-- settings table: generated from sim/src/builder/settings.rs -->\n";
    let end = "<!-- end of settings table -->";
    let (_, rest) = text.split_once(start).expect("the table's start marker");
    let (table, _) = rest.split_once(end).expect("the table's end marker");
    assert_eq!(
        table,
        markdown_table(),
        "README.md's settings table is out of date; the settings table says:\n{}",
        markdown_table()
    );
    assert!(SETTINGS.len() >= 10);
}

// ---- The README's example, and the output it quotes ------------------------------------------

// README example begins
use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_sim::{scenario_check, Builder};

#[test]
#[ignore = "the README's example (a failing check): run by the_readme_example_prints_what_the_readme_quotes"]
#[rustfmt::skip]
fn close_unblocks_read_prefix() {
    Builder::new() // reads NETPOLL_SIM_*
        .check(scenario_check(Scenario::CloseUnblocksRead, Protocol::PreFix45211));
}
// README example ends

/// The fenced block after `marker` in `text`, its indentation removed.
fn block_after(text: &str, marker: &str) -> String {
    let (_, rest) = text
        .split_once(marker)
        .unwrap_or_else(|| panic!("README.md has no {marker:?}"));
    let mut lines = rest
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("```"));
    let open = lines.next().expect("a fenced block");
    let indent = open.len() - open.trim_start().len();
    let mut out = String::new();
    for l in lines {
        if l.trim_start().starts_with("```") {
            return out;
        }
        out.push_str(l.get(indent..).unwrap_or(l.trim_start()));
        out.push('\n');
    }
    panic!("unterminated block after {marker:?}")
}

/// `s` with what changes from run to run made fixed: durations and rates, the trace
/// directory's absolute path.
fn normalised(s: &str, trace_dir: &str) -> String {
    let s = s.replace(trace_dir, "/path/to/netpoll/target/netpoll-sim/traces");
    s.lines()
        .map(|l| {
            let mut out = String::new();
            let mut rest = l;
            // `in 0.002s (8229 schedules/s, 709487 steps/s)` and `in 0.08s`.
            while let Some(i) = rest.find(" in ") {
                out.push_str(&rest[..i + 4]);
                rest = &rest[i + 4..];
                let num: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                if !num.is_empty() && rest[num.len()..].starts_with('s') {
                    out.push_str("<time>");
                    rest = &rest[num.len() + 1..];
                    if let Some(r) = rest.strip_prefix(" (") {
                        if let Some(j) = r.find(" steps/s)") {
                            out.push_str(" (<rates>)");
                            rest = &r[j + " steps/s)".len()..];
                        }
                    }
                }
            }
            out.push_str(rest);
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_readme_example_prints_what_the_readme_quotes() {
    let text = readme();
    // The README shows this file's example, verbatim (but for the attributes that keep it out
    // of ordinary runs and out of rustfmt's way).
    let me = include_str!("readme.rs");
    let (_, rest) = me.split_once("// README example begins\n").unwrap();
    let (example, _) = rest.split_once("// README example ends").unwrap();
    let example: String = example
        .lines()
        .filter(|l| !l.starts_with("#[ignore") && !l.starts_with("#[rustfmt"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        block_after(&text, "## Workflow: when a check fails"),
        example,
        "README.md's example is not this test's"
    );

    // Run it, as `cargo test` would, with a fresh trace directory and no other settings.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-example");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = std::fs::canonicalize(&dir).unwrap();
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ignored", "--exact", "close_unblocks_read_prefix"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("NETPOLL_SIM_") {
            cmd.env_remove(k);
        }
    }
    let o = cmd.env("NETPOLL_SIM_TRACE_DIR", &dir).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let start = out
        .find("netpoll-sim: check failed")
        .unwrap_or_else(|| panic!("no failure in:\n{out}"));
    let printed: String = out[start..]
        .lines()
        .scan(false, |done, l| {
            if *done {
                return None;
            }
            *done = l.starts_with("replay it with:");
            Some(format!("{l}\n"))
        })
        .collect();
    let quoted = block_after(&text, "ends its panic message with the");
    let d = dir.to_str().unwrap();
    assert_eq!(
        normalised(&quoted, d),
        normalised(&printed, d),
        "README.md's sample output is not what the example prints; it prints:\n{printed}"
    );
}

/// The paths a README names, as written: in backticks, in command lines, and the layout.
fn mentioned_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut keep = |t: &str| {
        // A folder of the reader's own repository (where a CI workflow goes).
        if t.trim_start_matches(|c: char| "(`'\"".contains(c))
            .starts_with(".github/")
        {
            return;
        }
        // A leading dot is part of a name (`.cargo/mutants.toml`); a trailing one ends a
        // sentence.
        let t = t
            .trim_start_matches(|c: char| ",;:()`'\"".contains(c))
            .trim_end_matches(|c: char| ",.;:()`'\"".contains(c));
        // `../shared/...` is outside the repository (the project's shared folder).
        let looks_like_path = t.contains('/')
            && !t.starts_with("../")
            && !t.starts_with("http")
            && !t.starts_with('-')
            && !t.starts_with('/')
            && !t.starts_with("$")
            && !t.contains("::")
            && !t.contains('=')
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-./*".contains(c));
        // A file has an extension (or is all capitals, like MANIFEST); a folder ends in `/`:
        // this leaves out ratios (`9/10`) and units (`steps/s`).
        let last = t.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        let ext = last.rsplit_once('.').map(|(_, e)| e);
        let file_or_dir = t.ends_with('/')
            || ext.is_some_and(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_lowercase()))
            || (last.len() > 1 && last.chars().all(|c| c.is_ascii_uppercase()));
        // Placeholders (`shard-I-of-N/`), what runs make, and Go's sources (`net/timeout_test.go`,
        // `internal/poll.FD`) are not files of the repository.
        let placeholder = ["FILE", "PACKAGE", "TARGET", "NAME", "I-of-N", "*"]
            .iter()
            .any(|p| t.contains(p));
        if looks_like_path
            && file_or_dir
            && !placeholder
            && !t.starts_with("target/")
            && !t.ends_with(".go")
        {
            out.push(t.to_string());
        }
    };
    let mut in_layout = false;
    let mut top = String::new();
    for line in text.lines() {
        if line.starts_with("## Layout") {
            in_layout = true;
        } else if line.starts_with("## ") {
            in_layout = false;
        }
        if in_layout && !line.starts_with("```") && !line.trim().is_empty() {
            let first = line.split_whitespace().next().unwrap_or("");
            if !line.starts_with(' ') {
                top = first.to_string();
                keep(&top);
            } else if line.starts_with("  ") && !line.starts_with("   ") {
                keep(&format!("{top}{first}"));
            }
            continue;
        }
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 1 {
                part.split_whitespace().for_each(&mut keep);
            }
        }
        if line.trim_start().starts_with("cargo ") || line.trim_start().starts_with("mv ") {
            line.split_whitespace().for_each(&mut keep);
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn every_path_the_readme_mentions_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let paths = mentioned_paths(&readme());
    assert!(
        paths.iter().any(|p| p == "sim/src/builder/settings.rs")
            && paths.iter().any(|p| p == "src/platform.rs"),
        "the test sees the README's paths: {paths:?}"
    );
    let missing: Vec<&String> = paths.iter().filter(|p| !root.join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "README.md names paths that do not exist: {missing:?}"
    );
}
