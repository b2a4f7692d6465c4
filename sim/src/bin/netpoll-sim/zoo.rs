//! `netpoll-sim zoo`: the historical bug zoo. For each of Go's netpoll bugs, explore its
//! variant on its scenario and report whether it was found, after how many schedules and how
//! long, and how small its shrunk trace is; then explore the fixed protocol on the same
//! scenario and budget. Exit 0 only when every bug is found and the fixed protocol is clean.

use crate::common::Exit;
use netpoll_sim::zoo::{run_all, table_header, table_row};

pub fn run() -> Result<(), Exit> {
    println!("{}", table_header());
    let rows = run_all(|row| println!("{}", table_row(row)));
    let missed: Vec<String> = rows
        .iter()
        .filter(|r| !r.is_found())
        .map(|r| format!("#{}", r.issue))
        .collect();
    let dirty: Vec<String> = rows
        .iter()
        .filter(|r| !r.fixed_clean())
        .map(|r| {
            let why = r
                .fixed
                .first_failure
                .as_ref()
                .map(|f| f.failure.to_string())
                .unwrap_or_default();
            format!("#{}: {}", r.issue, why.lines().next().unwrap_or_default())
        })
        .collect();
    println!();
    for r in &rows {
        if let Some(f) = &r.failure {
            println!("#{}: {f}", r.issue);
        }
    }
    if missed.is_empty() && dirty.is_empty() {
        println!(
            "\nevery bug found within its budget, and the fixed protocol clean on the same budget"
        );
        return Ok(());
    }
    let mut msg = Vec::new();
    if !missed.is_empty() {
        msg.push(format!("not found: {}", missed.join(", ")));
    }
    if !dirty.is_empty() {
        msg.push(format!("the fixed protocol failed: {}", dirty.join("; ")));
    }
    Err(Exit {
        code: 1,
        message: msg.join("; "),
    })
}
