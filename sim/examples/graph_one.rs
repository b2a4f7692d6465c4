use netpoll_sim::{Builder, MemoryModel, Strategy};
use netpoll_sim::scenario_check;
use netpoll::scenarios::Scenario;
use netpoll::Protocol;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let m: MemoryModel = args[1].parse().unwrap();
    let s: Scenario = args[2].parse().unwrap();
    let p = if args.get(3).map(|s| s.as_str()) == Some("prefix") { Protocol::PreFix45211 } else { Protocol::Fixed };
    let cap: u64 = args.get(4).map(|s| s.parse().unwrap()).unwrap_or(2_000_000);
    let b = Builder::new().strategy(Strategy::Graph).memory(m).schedules(cap);
    let t = std::time::Instant::now();
    let mut last = 0u64;
    let r = b.explore_observing(scenario_check(s, p), |log, f| {
        last += 1;
        if last % 2000 == 0 || (last < 5) { eprintln!("run {last}: {} events, fail {:?}", log.events.len(), f.map(|f| f.to_string().lines().next().unwrap_or("").to_string())); }
    });
    println!("{}: {} runs {} steps {} in {:.2}s {:?}", args[2], r.verdict(), r.schedules, r.steps, t.elapsed().as_secs_f64(), r.first_failure.as_ref().map(|f| f.failure.to_string()));
}
