use netpoll_sim::{Builder, MemoryModel, Strategy};
use netpoll_sim::scenario_check;
use netpoll::scenarios::Scenario;
use netpoll::Protocol;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let names: Vec<&str> = if args.len() > 2 { vec![args[2].as_str()] } else { vec!["close-unblocks-read", "close-unblocks-write", "deadline-unblocks-read"] };
    let models: Vec<MemoryModel> = match args.get(1).map(|s| s.as_str()) { Some("all") | None => vec![MemoryModel::C11, MemoryModel::Sc, MemoryModel::Tso], Some(m) => vec![m.parse().unwrap()] };
    for n in names {
        let s: Scenario = n.parse().unwrap();
        for p in [Protocol::Fixed, Protocol::PreFix45211] {
            for &m in &models {
                let b = Builder::new().strategy(Strategy::Graph).memory(m).schedules(2_000_000);
                let t = std::time::Instant::now();
                let r = b.explore(scenario_check(s, p));
                println!("{n} {p:?} {m}: {} runs {} in {:.2}s {:?}", r.verdict(), r.schedules, t.elapsed().as_secs_f64(), r.first_failure.as_ref().map(|f| f.failure.to_string().lines().next().unwrap_or("").to_string()));
            }
        }
    }
}
