//! Traces kept as regression tests: every `*.trace` file of a folder is replayed byte for byte
//! with a check, and its text swimlane is compared with a snapshot.
//!
//! A crate keeps its traces with one line in one of its tests (the snapshots are insta's, in
//! the `snapshots/` folder beside the test file, named after the test and the trace file):
//!
//! ```no_run
//! # fn dekker_flags() {}
//! #[test]
//! fn regressions() {
//!     netpoll_sim::replay_traces!("tests/traces", dekker_flags);
//! }
//! ```
//!
//! The repository's own `tests/replay.rs` replays `traces/` the same way, with the built-in
//! checks ([`BuiltinChecks`](super::replay::BuiltinChecks)).

use super::replay::{replay_file, ReplayWith};
use crate::platform::values::renderer;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The `*.trace` files of `dir`, in name order.
pub fn trace_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "trace") && p.is_file())
        .collect();
    v.sort();
    Ok(v)
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-string panic)".to_string())
}

/// Replay every `*.trace` file of `dir` with `with`, and hand each one's path and text
/// swimlane to `snapshot` (which asserts it against a snapshot, panicking when it differs).
/// Every file is tried; then, if any did not replay as recorded or did not match its
/// snapshot, this panics naming each of them. Returns the number of traces replayed.
///
/// Panics as well when `dir` cannot be read (a missing folder is most likely a typo). An
/// empty folder replays nothing.
#[track_caller]
pub fn replay_dir(
    dir: &Path,
    with: &dyn ReplayWith,
    snapshot: &mut dyn FnMut(&Path, &str),
) -> usize {
    let files = trace_files(dir).unwrap_or_else(|e| {
        panic!(
            "netpoll-sim: cannot read the trace folder {}: {e}",
            crate::engine::trace::safe::line(&dir.display().to_string())
        )
    });
    let mut problems = Vec::new();
    for path in &files {
        let shown = crate::engine::trace::safe::line(&path.display().to_string());
        match replay_file(path, with) {
            Ok(r) => {
                let text = renderer().text(&r.trace);
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| snapshot(path, &text))) {
                    let first = panic_text(&*p).lines().next().unwrap_or("").to_string();
                    problems.push(format!(
                        "{shown}: its swimlane differs from its snapshot ({first})"
                    ));
                }
            }
            Err(e) => problems.push(format!(
                "{shown}: {}\n  (see it with: cargo run --release -p netpoll-sim -- show {shown})",
                crate::engine::trace::safe::line(&e.to_string())
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "netpoll-sim: {} of the {} traces in {} did not replay as recorded:\n{}",
        problems.len(),
        files.len(),
        crate::engine::trace::safe::line(&dir.display().to_string()),
        problems.join("\n")
    );
    files.len()
}

/// Keep a folder of traces as regression tests, in one line of a test: replay every `*.trace`
/// file of `$dir` (relative to the crate's manifest directory) byte for byte with `$check`,
/// and snapshot each one's text swimlane with insta (in `snapshots/` beside the test file,
/// named `{test}@{trace file}.snap`; review new or changed ones with `cargo insta review`, or
/// write them with `INSTA_UPDATE=always`).
///
/// `$check` is a check written in a test (a function or closure: it replays traces recorded
/// from tests), or [`BuiltinChecks`](crate::BuiltinChecks) (each trace with the built-in check
/// it records). Every file is tried before the test fails, naming each that did not replay.
///
/// ```no_run
/// # fn dekker_flags() {}
/// #[test]
/// fn regressions() {
///     netpoll_sim::replay_traces!("tests/traces", dekker_flags);
/// }
/// ```
///
/// Needs netpoll-sim's `insta` feature (on by default); insta comes with it, so the crate
/// using the macro needs no dependency of its own.
#[cfg(feature = "insta")]
#[macro_export]
macro_rules! replay_traces {
    ($dir:expr, $check:expr $(,)?) => {{
        let dir = ::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($dir);
        $crate::builder::regress::replay_dir(
            &dir,
            &$check,
            &mut |path: &::std::path::Path, text: &str| {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                $crate::insta::with_settings!({
                    snapshot_suffix => name,
                    input_file => path,
                    prepend_module_to_snapshot => false,
                    omit_expression => true,
                }, {
                    $crate::insta::assert_snapshot!(text);
                });
            },
        )
    }};
}
