fn main() {
    use netpoll_sim::{Builder, MemoryModel, Strategy};
    let n: u32 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(4);
    let r = Builder::default().strategy(Strategy::Graph).memory(MemoryModel::C11).schedules(u64::MAX).explore(netpoll_sim::bench::graph::close_block_model(n, false));
    println!("{r}");
}
