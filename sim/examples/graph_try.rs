use netpoll_sim::{Builder, MemoryModel, Strategy};
fn main() {
    for m in [MemoryModel::Sc, MemoryModel::Tso, MemoryModel::C11, MemoryModel::Imm] {
        for l in netpoll_sim::litmus::ALL {
            let b = Builder::new().strategy(Strategy::Graph).memory(m).schedules(10_000_000);
            let r = b.explore(l.body);
            println!("{m:5} {:12} {}  runs {} {:?}", l.name, r.verdict(), r.schedules, r.first_failure.as_ref().map(|f| f.failure.to_string()));
        }
    }
}
