//! The bench command: `cargo run --release --example bench`.
//!
//! Real platform: ping-pong through netpoll against plain blocking I/O (side by side, ratio
//! printed), pd open+close cost, bytes per PollDesc. Simulator: schedules and wall time to find
//! golang/go#45211 from 20 seeds, schedules/s and steps/s. Prints figures; asserts nothing.

fn main() {
    netpoll_real::bench::run_all(netpoll_real::bench::DEFAULT_ROUND_TRIPS);
    println!();
    netpoll_sim::bench::run_all();
}
