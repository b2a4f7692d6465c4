//! The bench command: `cargo run --release --example bench [-- OPTIONS]`.
//!
//! Real platform (`netpoll_real::bench`): ping-pong on the coroutine scheduler, the OS-thread
//! scheduler, plain blocking threads, Go 1.19 (when a toolchain is found) and tokio's
//! current-thread runtime (below); TCP echo at 1, 64, 1,000 and 10,000 connections against
//! Go's server; the hold test; pd open+close cost, bytes per PollDesc. Then the simulator:
//! schedules and wall time to find golang/go#45211 from 20 seeds, schedules/s and steps/s.
//! Prints figures; asserts nothing. `echo-server ADDR` runs our echo server process (the
//! benchmark starts it), `--help` shows the options.

use std::process::ExitCode;
use std::time::Instant;

use netpoll_real::bench::ExtraPingPong;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Round trips per second of a one-byte ping-pong between two tokio tasks over a Unix
/// socket pair, on tokio's current-thread runtime.
fn tokio_ping_pong(round_trips: u64) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let (mut ping, mut pong) = tokio::net::UnixStream::pair().expect("socketpair");
        let ponger = tokio::spawn(async move {
            let mut buf = [0u8; 1];
            for _ in 0..round_trips {
                pong.read_exact(&mut buf).await.expect("pong read");
                pong.write_all(&buf).await.expect("pong write");
            }
        });
        let mut buf = [7u8; 1];
        let start = Instant::now();
        for _ in 0..round_trips {
            ping.write_all(&buf).await.expect("ping write");
            ping.read_exact(&mut buf).await.expect("ping read");
        }
        let elapsed = start.elapsed();
        ponger.await.expect("ponger");
        round_trips as f64 / elapsed.as_secs_f64()
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serving = args.first().map(String::as_str) == Some("echo-server");
    let extra = [ExtraPingPong {
        name: "tokio current_thread",
        run: tokio_ping_pong,
    }];
    let code = netpoll_real::bench::main(&args, &extra);
    if serving || code != ExitCode::SUCCESS {
        return code;
    }
    println!();
    netpoll_sim::bench::run_all();
    ExitCode::SUCCESS
}
