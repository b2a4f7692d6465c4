//! Simulator benchmarks: `cargo run --release -p netpoll-sim --example sim_bench` runs them
//! all; `... -- throughput` only the throughput figures.
//! (The project's full bench command, in the README, runs these too.)
fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("throughput") => netpoll_sim::bench::throughput(),
        _ => netpoll_sim::bench::run_all(),
    }
}
