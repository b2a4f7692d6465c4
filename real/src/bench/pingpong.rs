//! One byte back and forth over a socket pair, in round trips per second: netpoll on the
//! coroutine scheduler and on the OS-thread scheduler, plain blocking threads, and Go's
//! program (run as a child process); plus the cost of a pd open+close.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crate::{sys, CoroRuntime, Runtime};

/// Round trips per second through netpoll on the coroutine scheduler: two tasks, two `Fd`s.
pub fn coroutines(rt: &CoroRuntime, round_trips: u64) -> f64 {
    let (a, b) = sys::socketpair().expect("socketpair");
    let ping = Arc::new(rt.fd(a).expect("fd"));
    let pong = Arc::new(rt.fd(b).expect("fd"));
    let p = pong.clone();
    let ponger = rt.spawn(move || {
        let mut buf = [0u8; 1];
        for _ in 0..round_trips {
            assert_eq!(p.read(&mut buf).expect("pong read"), 1);
            p.write(&buf).expect("pong write");
        }
    });
    let p = ping.clone();
    let elapsed = rt.block_on(move || {
        let mut buf = [7u8; 1];
        let start = Instant::now();
        for _ in 0..round_trips {
            p.write(&buf).expect("ping write");
            assert_eq!(p.read(&mut buf).expect("ping read"), 1);
        }
        start.elapsed()
    });
    ponger.join().expect("ponger");
    ping.close().expect("close");
    pong.close().expect("close");
    round_trips as f64 / elapsed.as_secs_f64()
}

/// Round trips per second through netpoll on the OS-thread scheduler: two threads.
pub fn threads(rt: &Runtime, round_trips: u64) -> f64 {
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
pub fn plain(round_trips: u64) -> f64 {
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

/// Round trips per second of the Go program's ping-pong (two goroutines, `net.Conn`s).
pub fn go(exe: &Path, round_trips: u64) -> Result<f64, String> {
    let out = Command::new(exe)
        .args(["pingpong", &round_trips.to_string()])
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .strip_prefix("pingpong ")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("go pingpong: unexpected output {:?}", text.trim()))
}

/// ns per pd open + unblock + close on one fd (two `epoll_ctl` calls included).
pub fn open_close_ns(rt: &Runtime, iters: u32) -> f64 {
    let np = rt.netpoll();
    let (a, b) = sys::socketpair().expect("socketpair");
    let cycle = || {
        let pd = np.open(a).expect("open");
        np.unblock(pd);
        np.close(pd).expect("close");
    };
    for _ in 0..iters {
        cycle();
    }
    let start = Instant::now();
    for _ in 0..iters {
        cycle();
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(iters);
    sys::close(a).expect("close");
    sys::close(b).expect("close");
    ns
}
