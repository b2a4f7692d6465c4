//! The TCP echo benchmark (ours against Go's server, side by side, each a separate process
//! measured from `/proc`), and the hold test (many idle connections, resident memory).

use std::io;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::loadgen::{self, Conns};
use super::procstat::{self, ProcSample};
use super::servers::{self, Server};

/// How long held connections stay idle before the server's memory is read.
pub const HOLD_IDLE: Duration = Duration::from_secs(3);

/// Bytes per request (and per echo).
pub const REQUEST_BYTES: usize = 64;

/// Local addresses the client connects from: each has its own ~28,000 ephemeral ports.
pub fn sources() -> Vec<Ipv4Addr> {
    (2..=9).map(|i| Ipv4Addr::new(127, 0, 0, i)).collect()
}

/// One server at one connection count.
#[derive(Debug)]
pub struct EchoRow {
    /// The server's name.
    pub server: String,
    /// Connections.
    pub conns: usize,
    /// Requests per second.
    pub rate: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// Server CPU time per request, µs.
    pub cpu_us_per_req: f64,
    /// The client's CPU time per request, µs (the same client for every server).
    pub client_cpu_us_per_req: f64,
    /// Server threads at the end of the window.
    pub threads: u64,
    /// Server resident memory at the end of the window, MiB.
    pub rss_mib: f64,
}

/// Drive `server` with `conns` connections: `warmup`, then a measured `window`.
pub fn measure(
    server: &Server,
    conns: usize,
    warmup: Duration,
    window: Duration,
) -> io::Result<EchoRow> {
    let c = Conns::open(server.addr, conns, &sources())?;
    let me = std::process::id();
    let mut before = Ok((ProcSample::default(), ProcSample::default()));
    let mut after = Ok((ProcSample::default(), ProcSample::default()));
    let both = || -> io::Result<(ProcSample, ProcSample)> {
        Ok((server.sample()?, procstat::sample(me)?))
    };
    let w = loadgen::closed_loop(
        &c,
        REQUEST_BYTES,
        warmup,
        window,
        || before = both(),
        || after = both(),
    )?;
    let ((before, client_before), (after, client_after)) = (before?, after?);
    let cpu_ns = after.cpu_ns.saturating_sub(before.cpu_ns);
    let client_ns = client_after.cpu_ns.saturating_sub(client_before.cpu_ns);
    Ok(EchoRow {
        server: server.name.clone(),
        conns,
        rate: w.rate(),
        p50_us: w.quantile_us(0.50),
        p99_us: w.quantile_us(0.99),
        cpu_us_per_req: cpu_ns as f64 / 1000.0 / w.requests.max(1) as f64,
        client_cpu_us_per_req: client_ns as f64 / 1000.0 / w.requests.max(1) as f64,
        threads: after.threads,
        rss_mib: after.rss_kib as f64 / 1024.0,
    })
}

/// What holding many idle connections costs a server.
#[derive(Debug)]
pub struct HoldRow {
    /// The server's name.
    pub server: String,
    /// Connections held.
    pub conns: usize,
    /// Resident memory with the connections open (after one echo on each), MiB.
    pub rss_mib: f64,
    /// Resident memory before the first connection, MiB.
    pub rss_idle_mib: f64,
    /// Threads with the connections open.
    pub threads: u64,
    /// Seconds to open the connections and echo once on each.
    pub setup_s: f64,
}

/// Open `conns` connections to `server`, echo once on each (so every connection's task has
/// run its read and write path), leave them idle for [`HOLD_IDLE`], then read the server's
/// memory and threads.
pub fn hold(server: &Server, conns: usize) -> io::Result<HoldRow> {
    let idle = server.sample()?;
    let start = Instant::now();
    let c = Conns::open(server.addr, conns, &sources())?;
    loadgen::one_round(&c, REQUEST_BYTES)?;
    let setup_s = start.elapsed().as_secs_f64();
    // The connections stay idle a while, as held connections do, before the reading (the same
    // for every server: each may tidy up when idle, as Go's scavenger and our stack trimming
    // do).
    std::thread::sleep(HOLD_IDLE);
    let s = server.sample()?;
    drop(c);
    Ok(HoldRow {
        server: server.name.clone(),
        conns,
        rss_mib: s.rss_kib as f64 / 1024.0,
        rss_idle_mib: idle.rss_kib as f64 / 1024.0,
        threads: s.threads,
        setup_s,
    })
}

/// Start ours (or Go's, given its executable) for one measurement.
pub fn start(go: Option<&Path>, workers: usize, spin_rounds: u32) -> io::Result<Server> {
    match go {
        None => servers::ours(workers, spin_rounds),
        Some(exe) => servers::go(exe),
    }
}
