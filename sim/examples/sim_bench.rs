//! Engine micro benchmark: `cargo run --release -p netpoll-sim --example sim_bench [schedules]`.
fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    netpoll_sim::bench::sb_litmus(n, netpoll_sim::MemoryModel::C11);
    netpoll_sim::bench::sb_litmus(n, netpoll_sim::MemoryModel::Sc);
}
