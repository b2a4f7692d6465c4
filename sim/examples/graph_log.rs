use netpoll_sim::{Builder, MemoryModel, Strategy};
use netpoll_sim::scenario_check;
use netpoll::scenarios::Scenario;
use netpoll::Protocol;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let m: MemoryModel = args[1].parse().unwrap();
    let s: Scenario = args[2].parse().unwrap();
    let which: u64 = args[3].parse().unwrap();
    let b = Builder::new().strategy(Strategy::Graph).memory(m).schedules(which + 1);
    let mut n = 0u64;
    b.explore_observing(scenario_check(s, Protocol::Fixed), |log, _f| {
        if n == which {
            for ev in &log.events {
                let t = ev.task.map(|t| log.tasks[t as usize].to_string()).unwrap_or("-".into());
                let loc = |l: u32| log.locations.get(l as usize).map(|x| x.to_string()).unwrap_or_default();
                let d = match ev.op {
                    netpoll_sim::Op::Load{loc:l,val,..} => format!("load {} = {val}", loc(l)),
                    netpoll_sim::Op::Store{loc:l,val,..} => format!("store {} := {val}", loc(l)),
                    netpoll_sim::Op::Rmw{loc:l,read,written,..} => format!("rmw {} {read}->{written}", loc(l)),
                    netpoll_sim::Op::CasFail{loc:l,read,..} => format!("casfail {} {read}", loc(l)),
                    netpoll_sim::Op::PlainRead{loc:l,val,..} => format!("pread {} = {val}", loc(l)),
                    netpoll_sim::Op::PlainWrite{loc:l,val} => format!("pwrite {} := {val}", loc(l)),
                    netpoll_sim::Op::Lock{lock} => format!("lock {}", loc(lock)),
                    netpoll_sim::Op::Unlock{lock} => format!("unlock {}", loc(lock)),
                    o => format!("{o:?}"),
                };
                println!("{t:10} {d}");
            }
        }
        n += 1;
    });
}
