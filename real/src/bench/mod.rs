//! What netpoll costs on this machine, side by side with Go 1.19 (and tokio, from the root
//! bench command), the real-platform half of `cargo run --release --example bench`:
//!
//! * ping-pong: one byte back and forth over a socket pair: netpoll on coroutines, netpoll on
//!   OS threads, plain blocking threads, Go's goroutines (and tokio's current-thread runtime);
//!   interleaved rounds, best of each, ratios to Go;
//! * TCP echo at 1, 64, 1,000 and 10,000 connections, 64-byte requests in a closed loop from
//!   one client thread: requests/s, p50/p99 latency, server CPU per request, threads, RSS, for
//!   our coroutine server and Go's, each its own process;
//! * a hold test: 100,000 connections open at once (one echo each), server RSS and threads;
//! * pd open+close cost, bytes per `PollDesc`.
//!
//! Also `cargo run --release -p netpoll-real --bin netpoll-bench -- [OPTIONS]` (no tokio).
//! Prints figures, asserts nothing. Go is built from `real/bench/go` when a toolchain is found
//! (see `servers::build_go`); without one, its columns say why they are missing.

mod echo;
mod loadgen;
mod pingpong;
pub mod procstat;
mod servers;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use netpoll::pd::PollDesc;

use crate::{coro, echo as echo_server, net, CoroPlatform, RealPlatform, Runtime};

/// Round trips per ping-pong round, unless given.
pub const DEFAULT_ROUND_TRIPS: u64 = 100_000;
/// Interleaved rounds of each ping-pong variant.
const ROUNDS: usize = 3;
/// pd open+close iterations (after a warm-up of the same size).
const OPEN_CLOSE_ITERS: u32 = 100_000;
/// Descriptors the bench asks for (client and servers of the hold test).
const FD_LIMIT: u64 = 250_000;
/// Descriptors kept free for everything but the held connections.
const FD_HEADROOM: u64 = 500;
/// Stack per task of the benchmark's echo server.
const SERVER_STACK_BYTES: usize = 64 * 1024;

/// A ping-pong contributed by the caller (the root bench adds tokio's).
pub struct ExtraPingPong {
    /// Its name in the table.
    pub name: &'static str,
    /// Round trips per second for a run of the given round trips.
    pub run: fn(u64) -> f64,
}

/// What to run. Parsed from the command line by [`main`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Round trips per ping-pong round (0: skip the ping-pong).
    pub round_trips: u64,
    /// Connection counts of the echo table (empty: skip it).
    pub echo_conns: Vec<usize>,
    /// Connections of the hold test (0: skip it).
    pub hold_conns: usize,
    /// Warm-up before each echo window.
    pub warmup: Duration,
    /// Each echo window.
    pub window: Duration,
    /// Interleaved rounds of each echo measurement (the median is reported).
    pub echo_rounds: usize,
    /// Worker threads of our server (default: the core count, as Go's GOMAXPROCS).
    pub workers: usize,
    /// Leave Go out even if a toolchain is there.
    pub skip_go: bool,
    /// Spin rounds of our scheduler's idle workers.
    pub spin_rounds: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            round_trips: DEFAULT_ROUND_TRIPS,
            echo_conns: vec![1, 64, 1000, 10_000],
            hold_conns: 100_000,
            warmup: Duration::from_millis(500),
            window: Duration::from_secs(2),
            echo_rounds: 3,
            workers: thread::available_parallelism().map_or(1, |n| n.get()),
            skip_go: false,
            spin_rounds: coro::DEFAULT_SPIN_ROUNDS,
        }
    }
}

const USAGE: &str = "usage: netpoll-bench [ROUND_TRIPS] [--round-trips N] [--echo-conns N,N,..|none] \
[--echo-rounds N] [--hold N] [--window-ms MS] [--workers N] [--spin N] [--no-go]\n       netpoll-bench echo-server ADDR [--workers N] [--spin N]";

fn parse_num<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse()
        .map_err(|_| format!("{flag}: not a number: '{}'", v.escape_debug()))
}

/// Parse the bench's options (without the program name).
pub fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter().cloned();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--round-trips" => o.round_trips = parse_num(&a, it.next())?,
            "--echo-conns" => {
                let v = it.next().ok_or("--echo-conns needs a value")?;
                o.echo_conns = if v == "none" {
                    Vec::new()
                } else {
                    v.split(',')
                        .map(|x| parse_num("--echo-conns", Some(x.to_string())))
                        .collect::<Result<_, _>>()?
                };
            }
            "--hold" => o.hold_conns = parse_num(&a, it.next())?,
            "--window-ms" => o.window = Duration::from_millis(parse_num(&a, it.next())?),
            "--echo-rounds" => o.echo_rounds = parse_num::<usize>(&a, it.next())?.max(1),
            "--workers" => o.workers = parse_num::<usize>(&a, it.next())?.max(1),
            "--no-go" => o.skip_go = true,
            "--spin" => o.spin_rounds = parse_num(&a, it.next())?,
            n if n.parse::<u64>().is_ok() => o.round_trips = parse_num(&a, Some(a.clone()))?,
            other => return Err(format!("unknown option '{}'", other.escape_debug())),
        }
    }
    Ok(o)
}

/// The bench's command line: `echo-server ADDR [--workers N]` runs our server process (used
/// by the echo benchmark), anything else the benchmarks. `extra` ping-pongs join the table.
pub fn main(args: &[String], extra: &[ExtraPingPong]) -> ExitCode {
    if args.first().map(String::as_str) == Some("echo-server") {
        return echo_server_main(&args[1..]);
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match parse_options(args) {
        Ok(o) => {
            run_all(&o, extra);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("netpoll-bench: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Our echo server process: listens on ADDR, prints `listening ADDR`, serves until its
/// standard input closes.
fn echo_server_main(args: &[String]) -> ExitCode {
    let Some(addr) = args.first() else {
        eprintln!("netpoll-bench: echo-server needs an address\n{USAGE}");
        return ExitCode::from(2);
    };
    let Ok(addr) = addr.parse() else {
        eprintln!(
            "netpoll-bench: echo-server: bad address '{}'",
            addr.escape_debug()
        );
        return ExitCode::from(2);
    };
    let (workers, spin) = match parse_options(&args[1..]) {
        Ok(o) => (o.workers, o.spin_rounds),
        Err(e) => {
            eprintln!("netpoll-bench: echo-server: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match coro::Builder::new()
        .workers(workers)
        .spin_rounds(spin)
        .stack_size(SERVER_STACK_BYTES)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("netpoll-bench: echo-server: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match net::listen(addr).and_then(|l| net::local_addr(l).map(|a| (l, a))) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("netpoll-bench: echo-server: listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening {}", listener.1);
    let _ = std::io::stdout().flush();
    // Serve until the parent closes our standard input; with NETPOLL_BENCH_STATS set, print
    // the scheduler's counters first.
    let sched = rt.sched().clone();
    thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        if std::env::var_os("NETPOLL_BENCH_STATS").is_some() {
            eprintln!("echo-server: {:?}", sched.stats());
        }
        std::process::exit(0);
    });
    let np = rt.netpoll().clone();
    let l = listener.0;
    let err = rt.block_on(move || echo_server::serve(&np, l));
    eprintln!("netpoll-bench: echo-server: {err}");
    ExitCode::FAILURE
}

fn ratio(a: f64, b: Option<f64>) -> String {
    match b {
        Some(b) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".to_string(),
    }
}

/// Every real-platform benchmark, printed.
pub fn run_all(o: &Options, extra: &[ExtraPingPong]) {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    println!("== real platform (epoll) ==");
    println!(
        "netpoll-bench: {cpus} CPUs; our runtimes use {} workers",
        o.workers
    );
    let fd_limit = match net::raise_fd_limit(FD_LIMIT) {
        Ok(n) => {
            println!("RLIMIT_NOFILE: {n} (asked for {FD_LIMIT}; servers inherit it)");
            n
        }
        Err(e) => {
            println!("RLIMIT_NOFILE could not be raised: {e}");
            0
        }
    };
    let go: Option<PathBuf> = if o.skip_go {
        println!("Go: left out (--no-go)");
        None
    } else {
        match servers::build_go() {
            Ok((exe, version)) => {
                println!("Go: {version}, program built at {}", exe.display());
                Some(exe)
            }
            Err(why) => {
                println!("Go: skipped: {why}");
                None
            }
        }
    };
    if o.round_trips > 0 {
        run_ping_pong(o, go.as_deref(), extra);
    }
    if !o.echo_conns.is_empty() {
        run_echo(o, go.as_deref());
    }
    if o.hold_conns > 0 {
        // The client and each server hold one descriptor per connection.
        let most = fd_limit.saturating_sub(FD_HEADROOM) as usize;
        if o.hold_conns > most {
            println!();
            println!(
                "hold test: {} connections cannot be measured here: RLIMIT_NOFILE is {fd_limit} \
                 and cannot be raised (no CAP_SYS_RESOURCE); holding {most} instead",
                o.hold_conns
            );
        }
        run_hold(o.hold_conns.min(most), o, go.as_deref());
    }
    let rt = Runtime::new().expect("runtime");
    println!(
        "pd open+unblock+close: {:.0} ns (incl. epoll_ctl ADD and DEL)",
        pingpong::open_close_ns(&rt, OPEN_CLOSE_ITERS)
    );
    println!(
        "bytes per PollDesc: {} (OS threads), {} (coroutines)",
        std::mem::size_of::<PollDesc<RealPlatform>>(),
        std::mem::size_of::<PollDesc<CoroPlatform>>()
    );
}

fn run_ping_pong(o: &Options, go: Option<&std::path::Path>, extra: &[ExtraPingPong]) {
    let n = o.round_trips;
    println!();
    println!(
        "-- ping-pong: 1 byte over a socket pair, {n} round trips per round, {ROUNDS} rounds, \
         best of each --"
    );
    let coro_rt = coro::Builder::new()
        .workers(o.workers)
        .spin_rounds(o.spin_rounds)
        .build()
        .expect("coroutine runtime");
    let thread_rt = Runtime::new().expect("thread runtime");
    let mut names: Vec<String> = vec![
        "netpoll coroutines".into(),
        "netpoll OS threads".into(),
        "plain blocking threads".into(),
    ];
    names.extend(extra.iter().map(|e| e.name.to_string()));
    if go.is_some() {
        names.push("Go 1.19 goroutines".into());
    }
    let mut best = vec![0f64; names.len()];
    // Warm up each once at a tenth of the size.
    pingpong::coroutines(&coro_rt, n / 10 + 1);
    pingpong::threads(&thread_rt, n / 10 + 1);
    for round in 1..=ROUNDS {
        let mut got = vec![
            pingpong::coroutines(&coro_rt, n),
            pingpong::threads(&thread_rt, n),
            pingpong::plain(n),
        ];
        for e in extra {
            got.push((e.run)(n));
        }
        if let Some(exe) = go {
            match pingpong::go(exe, n) {
                Ok(v) => got.push(v),
                Err(e) => {
                    println!("  Go ping-pong failed: {e}");
                    got.push(0.0);
                }
            }
        }
        let line: Vec<String> = names
            .iter()
            .zip(&got)
            .map(|(n, v)| format!("{n} {v:.0}"))
            .collect();
        println!("  round {round}: {}", line.join(" | "));
        for (b, v) in best.iter_mut().zip(got) {
            *b = b.max(v);
        }
    }
    let go_best = go.map(|_| best[best.len() - 1]);
    println!(
        "  {:<26} {:>12} {:>10} {:>9}",
        "variant", "round trips/s", "us/trip", "vs Go"
    );
    for (name, b) in names.iter().zip(&best) {
        println!(
            "  {:<26} {:>12.0} {:>10.2} {:>9}",
            name,
            b,
            1e6 / b,
            ratio(*b, go_best)
        );
    }
    let stats = coro_rt.sched().stats();
    let (switches, sleeps) = (stats.switches, stats.sleeps);
    println!(
        "  (coroutine scheduler over all rounds: {switches} task switches, {sleeps} worker sleeps)"
    );
}

fn print_echo_header() {
    println!(
        "  {:<22} {:>6} {:>10} {:>9} {:>9} {:>11} {:>8} {:>8} {:>11}",
        "server",
        "conns",
        "req/s",
        "p50 us",
        "p99 us",
        "CPU us/req",
        "threads",
        "RSS MiB",
        "client CPU"
    );
}

fn print_echo_row(r: &echo::EchoRow, note: &str) {
    println!(
        "  {:<22} {:>6} {:>10.0} {:>9.1} {:>9.1} {:>11.2} {:>8} {:>8.1} {:>11.2}{note}",
        r.server,
        r.conns,
        r.rate,
        r.p50_us,
        r.p99_us,
        r.cpu_us_per_req,
        r.threads,
        r.rss_mib,
        r.client_cpu_us_per_req
    );
}

/// The row whose server CPU per request is the median of `rows` (rounds of one server).
fn median_row(mut rows: Vec<echo::EchoRow>) -> Option<echo::EchoRow> {
    rows.sort_by(|a, b| a.cpu_us_per_req.total_cmp(&b.cpu_us_per_req));
    let mid = rows.len() / 2;
    rows.into_iter().nth(mid)
}

fn run_echo(o: &Options, go: Option<&std::path::Path>) {
    println!();
    println!(
        "-- TCP echo over loopback: {}-byte requests, closed loop, one client thread (raw epoll); \
         {:?} warm-up, {:?} window; each server its own process; {} interleaved rounds --",
        echo::REQUEST_BYTES,
        o.warmup,
        o.window,
        o.echo_rounds
    );
    print_echo_header();
    let servers: Vec<Option<&std::path::Path>> = match go {
        Some(exe) => vec![None, Some(exe)],
        None => vec![None],
    };
    let mut summary = Vec::new();
    for &conns in &o.echo_conns {
        let mut rows: Vec<Vec<echo::EchoRow>> = servers.iter().map(|_| Vec::new()).collect();
        for round in 1..=o.echo_rounds {
            for (i, which) in servers.iter().enumerate() {
                let label = if which.is_some() {
                    "Go 1.19"
                } else {
                    "netpoll (coroutines)"
                };
                match echo::start(*which, o.workers, o.spin_rounds)
                    .and_then(|s| echo::measure(&s, conns, o.warmup, o.window))
                {
                    Ok(r) => {
                        print_echo_row(&r, &format!("   (round {round})"));
                        rows[i].push(r);
                    }
                    Err(e) => println!("  {label:<22} {conns:>6}  failed: {e}"),
                }
            }
        }
        summary.push(rows.into_iter().map(median_row).collect::<Vec<_>>());
    }
    println!("  median round of each (by server CPU per request):");
    print_echo_header();
    for medians in summary {
        let ours = medians
            .first()
            .and_then(|r| r.as_ref())
            .map(|r| r.cpu_us_per_req);
        for (i, r) in medians.iter().enumerate() {
            let Some(r) = r else { continue };
            let note = match (i, ours) {
                (1, Some(ours)) => {
                    format!("   ours/Go CPU per request: {:.2}", ours / r.cpu_us_per_req)
                }
                _ => String::new(),
            };
            print_echo_row(r, &note);
        }
    }
}

fn run_hold(n: usize, o: &Options, go: Option<&std::path::Path>) {
    println!();
    println!(
        "-- hold: {n} connections open at once (from {} loopback addresses), one echo on each, \
         then {:?} idle --",
        echo::sources().len(),
        echo::HOLD_IDLE
    );
    println!(
        "  {:<22} {:>8} {:>12} {:>13} {:>13} {:>8} {:>9}",
        "server", "conns", "RSS MiB", "idle RSS MiB", "KiB per conn", "threads", "setup s"
    );
    let mut ours_rss = None;
    for which in [None, go] {
        let label = if which.is_some() {
            "Go 1.19"
        } else {
            "netpoll (coroutines)"
        };
        match echo::start(which, o.workers, o.spin_rounds).and_then(|s| echo::hold(&s, n)) {
            Ok(r) => {
                let per = (r.rss_mib - r.rss_idle_mib) * 1024.0 / r.conns as f64;
                let vs = match (which, ours_rss) {
                    (Some(_), Some(ours)) => format!("   ours/Go RSS: {:.2}", ours / r.rss_mib),
                    _ => String::new(),
                };
                println!(
                    "  {:<22} {:>8} {:>12.1} {:>13.1} {:>13.2} {:>8} {:>9.1}{vs}",
                    r.server, r.conns, r.rss_mib, r.rss_idle_mib, per, r.threads, r.setup_s
                );
                if which.is_none() {
                    ours_rss = Some(r.rss_mib);
                }
            }
            Err(e) => println!("  {label:<22} {n:>8}  failed: {e}"),
        }
        if go.is_none() {
            break;
        }
    }
}
