//! netpoll-bench: the real-platform benchmarks (see `netpoll_real::bench`), and the echo
//! server process they measure.
//!
//! `cargo run --release -p netpoll-real --bin netpoll-bench -- [OPTIONS]`; `--help`-style
//! usage is printed on a bad option.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    netpoll_real::bench::main(&args, &[])
}
