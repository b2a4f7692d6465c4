// The old engine's side of the re-layering benchmark (`cargo run --release --example bench --
// relayer`): copied into a worktree of commit 5ef04b1 (the engine before issue 7) as
// `sim/examples/probe_5ef04b1.rs`, built there, and run beside the new engine. It is written
// against that commit's API and is not part of this crate's build.
use netpoll::Protocol;
use netpoll_sim::{scenario_check, Builder, MemoryModel, Strategy};

fn main() {
    let schedules: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let check = scenario_check("close-unblocks-read", Protocol::Fixed).expect("scenario");
    let r = Builder::default()
        .strategy(Strategy::Random)
        .memory(MemoryModel::C11)
        .seed(1)
        .schedules(schedules)
        .explore(check);
    // schedules steps seconds
    println!("{} {} {}", r.schedules, r.steps, r.elapsed.as_secs_f64());
}
