//! Simulator benchmarks: `cargo run --release -p netpoll-sim --example sim_bench`.
//! (The project's full bench command, in the README, runs these too.)
fn main() {
    netpoll_sim::bench::run_all();
}
