//! `netpoll-sim regen DIR`: regenerate every committed trace from the manifest `DIR/MANIFEST`.
//!
//! Each line of the manifest (blank lines and `#` comments aside) holds the `explore` flags
//! whose exploration finds one committed trace. `regen` runs each, shrinks and saves the
//! failure, and only when every line found its failure replaces the `*.trace` files of `DIR`
//! with the new ones, so a deliberate change of the core's event log is one command away
//! from fresh traces (review the snapshots afterwards with `cargo insta review`).

use crate::args::ExploreArgs;
use crate::common::{escaped, stats, Exit};
use clap::{Args, Command, FromArgMatches};
use netpoll_sim::builder::save::save_failure;
use netpoll_sim::builder::settings::Env;
use std::path::{Path, PathBuf};

/// The manifest's file name in the traces directory.
pub const MANIFEST: &str = "MANIFEST";

fn parse_line(line: &str) -> Result<ExploreArgs, String> {
    let cmd = ExploreArgs::augment_args(Command::new("explore").no_binary_name(true));
    let m = cmd
        .try_get_matches_from(line.split_whitespace())
        .map_err(|e| e.to_string().lines().next().unwrap_or("").to_string())?;
    ExploreArgs::from_arg_matches(&m).map_err(|e| e.to_string())
}

fn trace_files(dir: &Path) -> Result<Vec<PathBuf>, Exit> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| Exit::usage(format!("cannot read {}: {e}", dir.display())))?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "trace"))
        .collect();
    v.sort();
    Ok(v)
}

pub fn run(dir: &Path) -> Result<(), Exit> {
    let manifest = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| Exit::usage(format!("cannot read {}: {e}", manifest.display())))?;
    let staging = dir.join(".regen");
    let _ = std::fs::remove_dir_all(&staging);
    let mut made = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let where_ = format!("{}:{}", manifest.display(), i + 1);
        let a = parse_line(line).map_err(|e| Exit::usage(format!("{where_}: {}", escaped(&e))))?;
        // The manifest alone decides: no NETPOLL_SIM_* variable changes a committed trace.
        let b = a
            .builder(&Env::from_pairs(std::iter::empty()))
            .map_err(|e| Exit::usage(format!("{where_}: {e}")))?;
        let c = b.prepare(a.check());
        let r = b.explore(a.check());
        let Some(ff) = &r.first_failure else {
            return Err(Exit {
                code: 1,
                message: format!(
                    "{where_}: found no failure ({}); the traces are unchanged",
                    stats(&r)
                ),
            });
        };
        let subject = c.subject.expect("a scenario check always has a subject");
        let saved = save_failure(&b, &subject, ff, &c.body, !a.no_shrink, &staging)
            .map_err(|e| Exit::usage(format!("{where_}: cannot save: {e}")))?;
        println!(
            "{}: {} ({} choices, {} events)",
            where_,
            saved
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            saved.trace.choices.len(),
            saved.trace.events.events.len()
        );
        made.push(saved.path);
    }
    for old in trace_files(dir)? {
        std::fs::remove_file(&old)
            .map_err(|e| Exit::usage(format!("cannot remove {}: {e}", old.display())))?;
    }
    for new in &made {
        let to = dir.join(new.file_name().unwrap_or_default());
        std::fs::rename(new, &to)
            .map_err(|e| Exit::usage(format!("cannot move {}: {e}", new.display())))?;
    }
    let _ = std::fs::remove_dir_all(&staging);
    println!(
        "regenerated {} traces in {}; review the swimlanes with: cargo insta review",
        made.len(),
        dir.display()
    );
    Ok(())
}
