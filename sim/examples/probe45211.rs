use netpoll::Protocol;
use netpoll_sim::{scenario_check, Builder, MemoryModel, Strategy};
fn main() {
    for scen in ["close-unblocks-read", "deadline-unblocks-read"] {
        for (p, m) in [
            (Protocol::PreFix45211, MemoryModel::C11),
            (Protocol::Fixed, MemoryModel::C11),
            (Protocol::PreFix45211, MemoryModel::Sc),
        ] {
            for strat in [Strategy::Random, Strategy::Pct, Strategy::Dfs] {
                let b = Builder::default()
                    .seed(1)
                    .schedules(20000)
                    .strategy(strat)
                    .memory(m)
                    .preemption_bound(Some(3))
                    .stop_at_first_failure(true);
                let r = b.explore(scenario_check(scen, p).unwrap());
                println!("{scen} {p} {m:?} {strat:?}: schedules={} failures={} complete={} steps/s={:.0} first={:?}", r.schedules, r.failures, r.complete, r.steps_per_sec(), r.first_failure.as_ref().map(|f| (f.schedule_index, f.failure.to_string())));
            }
        }
    }
}
