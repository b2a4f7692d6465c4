//! Simulator benchmarks: `cargo run --release -p netpoll-sim --example sim_bench` runs them
//! all; `... -- throughput` only the throughput figures, `... -- litmus` only the litmus
//! report (schedules per distinct execution), `... -- relayer` the engine before and after
//! the re-layering side by side (it builds the old commit in a worktree under `target/`),
//! `... -- graph` the graph strategy's figures (executions and time, growth with readers,
//! executions/s beside random's schedules/s), `... -- parallel` the speed-up with 1, 2 and
//! all jobs.
//! (The project's full bench command, in the README, runs these too.)
fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("throughput") => netpoll_sim::bench::throughput(),
        Some("litmus") => netpoll_sim::bench::litmus_report(),
        Some("relayer") => netpoll_sim::bench::relayer_comparison(7, 100_000),
        Some("graph") => netpoll_sim::bench::graph::all(),
        Some("parallel") => netpoll_sim::bench::parallel_speedup(5, 100_000),
        _ => netpoll_sim::bench::run_all(),
    }
}
