//! The in-tree fuzzer of the trace decoder, the renderers and replay, for longer runs than the
//! test's: `cargo run --release -p netpoll-sim --example fuzz -- [SEED [CASES]]` (defaults: a
//! seed from the clock, 100,000 cases). Prints the seed first, so a failure can be run again;
//! exits 1 with the failing seed and case.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let cases = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    println!("fuzz: seed {seed}, {cases} cases");
    let base = netpoll_sim::fuzz::base_trace();
    let start = Instant::now();
    match netpoll_sim::fuzz::run(&base, seed, cases) {
        Ok(s) => println!(
            "fuzz: {} cases ({} rendered, {} replayed) in {:.1}s: no property broken",
            s.cases,
            s.decoded,
            s.replayed,
            start.elapsed().as_secs_f64()
        ),
        Err(e) => {
            println!("fuzz: {}", netpoll_sim::trace::safe::line(&e));
            std::process::exit(1);
        }
    }
}
