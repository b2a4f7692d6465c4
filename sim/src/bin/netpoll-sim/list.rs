//! `netpoll-sim list`: the scenarios, protocols, memory models and strategies.

use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_sim::{MemoryModel, Strategy};

pub fn run() {
    let rows = |title: &str, items: &[(&str, &str)]| {
        println!("{title}:");
        let w = items.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, what) in items {
            println!("  {name:w$}  {what}");
        }
    };
    let scen: Vec<_> = Scenario::ALL
        .iter()
        .map(|s| (s.name(), s.description()))
        .collect();
    rows("scenarios (--scenario)", &scen);
    let prot: Vec<_> = Protocol::ALL
        .iter()
        .map(|p| (p.name(), p.description()))
        .collect();
    rows("protocols (--protocol)", &prot);
    let models: Vec<_> = MemoryModel::ALL
        .iter()
        .map(|m| (m.name(), m.description()))
        .collect();
    rows("memory models (--memory)", &models);
    let strategies: Vec<_> = Strategy::ALL
        .iter()
        .map(|s| (s.name(), s.description()))
        .collect();
    rows("strategies (--strategy)", &strategies);
}
