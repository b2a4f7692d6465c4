//! What netpoll costs on this machine (the real-platform half of the bench command).
//!
//! * ping-pong: one byte back and forth over a socket pair between two threads, both blocked
//!   in netpoll's FD layer, against the same two threads doing plain blocking `read`/`write`
//!   on a blocking socket pair; interleaved rounds, best round of each, ratio printed;
//! * the cost of a pd open + unblock + close (Go: pollOpen, evict, pollClose), in ns;
//! * bytes per `PollDesc` on this platform.
//!
//! Run by `cargo run --release --example bench` (everything) or
//! `cargo run --release -p netpoll-real --bin netpoll-bench [-- ROUND_TRIPS]`. Prints figures,
//! asserts nothing.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crate::{sys, RealPlatform, Runtime};
use netpoll::pd::PollDesc;

/// Round trips per ping-pong round, unless given on the command line.
pub const DEFAULT_ROUND_TRIPS: u64 = 20_000;
/// Interleaved rounds of each ping-pong variant.
const ROUNDS: usize = 3;
/// pd open+close iterations (after a warm-up of the same size).
const OPEN_CLOSE_ITERS: u32 = 100_000;

/// Round trips per second through netpoll: two `Fd`s on one socket pair.
fn ping_pong_netpoll(rt: &Runtime, round_trips: u64) -> f64 {
    let (a, b) = sys::socketpair().expect("socketpair");
    let ping = Arc::new(rt.fd(a).expect("fd"));
    let pong = Arc::new(rt.fd(b).expect("fd"));
    let ponger = {
        let pong = pong.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 1];
            for _ in 0..round_trips {
                assert_eq!(pong.read(&mut buf).expect("pong read"), 1);
                pong.write(&buf).expect("pong write");
            }
        })
    };
    let mut buf = [7u8; 1];
    let start = Instant::now();
    for _ in 0..round_trips {
        ping.write(&buf).expect("ping write");
        assert_eq!(ping.read(&mut buf).expect("ping read"), 1);
    }
    let elapsed = start.elapsed();
    ponger.join().expect("ponger");
    ping.close().expect("close");
    pong.close().expect("close");
    round_trips as f64 / elapsed.as_secs_f64()
}

/// Round trips per second with plain blocking I/O on the same kind of socket pair.
fn ping_pong_plain(round_trips: u64) -> f64 {
    let (mut ping, mut pong) = UnixStream::pair().expect("socketpair");
    let ponger = thread::spawn(move || {
        let mut buf = [0u8; 1];
        for _ in 0..round_trips {
            pong.read_exact(&mut buf).expect("pong read");
            pong.write_all(&buf).expect("pong write");
        }
    });
    let mut buf = [7u8; 1];
    let start = Instant::now();
    for _ in 0..round_trips {
        ping.write_all(&buf).expect("ping write");
        ping.read_exact(&mut buf).expect("ping read");
    }
    let elapsed = start.elapsed();
    ponger.join().expect("ponger");
    round_trips as f64 / elapsed.as_secs_f64()
}

/// ns per pd open + unblock + close on one fd (two `epoll_ctl` calls included).
fn open_close_ns(rt: &Runtime) -> f64 {
    let np = rt.netpoll();
    let (a, b) = sys::socketpair().expect("socketpair");
    let cycle = || {
        let pd = np.open(a).expect("open");
        np.unblock(pd);
        np.close(pd).expect("close");
    };
    for _ in 0..OPEN_CLOSE_ITERS {
        cycle();
    }
    let start = Instant::now();
    for _ in 0..OPEN_CLOSE_ITERS {
        cycle();
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(OPEN_CLOSE_ITERS);
    sys::close(a).expect("close");
    sys::close(b).expect("close");
    ns
}

/// Every real-platform benchmark, printed: ping-pong with `round_trips` per round,
/// pd open+close, bytes per `PollDesc`.
pub fn run_all(round_trips: u64) {
    println!("== real platform (epoll, OS threads) ==");
    let rt = Runtime::new().expect("runtime");
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "netpoll-bench: {cpus} CPUs, {round_trips} round trips per round, {ROUNDS} rounds each"
    );

    // Warm up both paths once, then interleave rounds so drift hits both alike.
    ping_pong_netpoll(&rt, round_trips / 10 + 1);
    ping_pong_plain(round_trips / 10 + 1);
    let (mut best_np, mut best_plain) = (0f64, 0f64);
    for round in 1..=ROUNDS {
        let np = ping_pong_netpoll(&rt, round_trips);
        let plain = ping_pong_plain(round_trips);
        println!(
            "  round {round}: netpoll {np:>10.0} rt/s   plain blocking {plain:>10.0} rt/s   ratio {:.2}",
            np / plain
        );
        best_np = best_np.max(np);
        best_plain = best_plain.max(plain);
    }
    println!(
        "ping-pong (best round): netpoll {best_np:.0} round trips/s, plain blocking {best_plain:.0} \
         round trips/s, netpoll/plain = {:.2}",
        best_np / best_plain
    );
    println!(
        "  (per round trip: netpoll {:.2} us, plain {:.2} us)",
        1e6 / best_np,
        1e6 / best_plain
    );
    println!(
        "pd open+unblock+close: {:.0} ns (incl. epoll_ctl ADD and DEL)",
        open_close_ns(&rt)
    );
    println!(
        "bytes per PollDesc<RealPlatform>: {}",
        std::mem::size_of::<PollDesc<RealPlatform>>()
    );
}
