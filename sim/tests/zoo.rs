//! The historical bug zoo (`netpoll_sim::zoo`, `netpoll-sim zoo`): every bug is found by
//! exploring its variant within its budget, the fixed protocol is clean on the same scenario,
//! faults and budget, and every bug's exploration is a line of `traces/MANIFEST`, so its
//! shrunk trace is committed and replayed byte for byte by `tests/replay.rs`.

use std::path::Path;

use netpoll::Protocol;
use netpoll_sim::zoo::{run_bug, run_contract, BugClass, BUGS};

#[test]
fn every_bug_is_found_within_its_budget_and_the_fixed_protocol_is_clean() {
    for bug in BUGS {
        let row = run_bug(bug);
        assert!(
            row.is_found(),
            "#{}: not found in {} schedules of {}",
            bug.issue,
            bug.budget,
            bug.explore_flags()
        );
        assert!(
            row.fixed_clean(),
            "#{}: the fixed protocol failed on the same budget: {}",
            bug.issue,
            row.fixed
                .first_failure
                .map(|f| f.failure.to_string())
                .unwrap_or_default()
        );
        assert_eq!(row.fixed.schedules, bug.budget, "#{}", bug.issue);
        assert!(row.shrunk.is_some(), "#{}", bug.issue);
    }
}

#[test]
fn the_contract_misuse_hangs_and_the_correct_use_does_not() {
    let row = run_contract();
    assert_eq!(row.class, BugClass::Contract);
    assert!(row.is_found(), "the misuse of #70373 must hang");
    assert!(row.fixed_clean(), "the correct use must never hang");
}

#[test]
fn every_bug_has_its_trace_in_the_manifest() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/MANIFEST");
    let text = std::fs::read_to_string(&manifest).expect("traces/MANIFEST");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for bug in BUGS {
        let flags = bug.explore_flags();
        assert!(
            lines.contains(&flags.as_str()),
            "#{}: no manifest line {flags:?}",
            bug.issue
        );
    }
}

#[test]
fn every_historical_protocol_is_in_the_zoo() {
    for p in Protocol::ALL {
        if p == Protocol::Fixed {
            continue;
        }
        assert!(
            BUGS.iter().any(|b| b.protocol == p),
            "{p} has no row in the zoo"
        );
    }
    // One row per bug.
    let mut issues: Vec<u32> = BUGS.iter().map(|b| b.issue).collect();
    issues.sort_unstable();
    issues.dedup();
    assert_eq!(issues.len(), BUGS.len());
}
