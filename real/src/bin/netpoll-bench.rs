//! netpoll-bench: the real-platform benchmarks (see `netpoll_real::bench`).
//!
//! `cargo run --release -p netpoll-real --bin netpoll-bench [-- ROUND_TRIPS]`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let round_trips = match std::env::args().nth(1) {
        None => netpoll_real::bench::DEFAULT_ROUND_TRIPS,
        Some(s) => match s.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("netpoll-bench: ROUND_TRIPS must be a positive number, got '{s}'");
                return ExitCode::from(2);
            }
        },
    };
    netpoll_real::bench::run_all(round_trips);
    ExitCode::SUCCESS
}
