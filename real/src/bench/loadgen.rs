//! The echo benchmark's client: one thread on raw epoll (not netpoll, so that it is the same
//! for every server), driving N connections in a closed loop: each sends a request, waits for
//! the whole echo, records the latency, sends the next.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use netpoll::platform::RawFd;

use crate::{net, sys};

/// Connections opened per batch before waiting for them to complete.
const CONNECT_BATCH: usize = 1000;
/// Events per `epoll_wait`.
const EVENTS: usize = 1024;
/// How long to wait for a batch of connects, or for progress in a round.
const STALL: Duration = Duration::from_secs(20);

/// An epoll instance owned by the client.
struct Ep(RawFd);

impl Ep {
    fn new() -> io::Result<Ep> {
        // SAFETY: epoll_create1 takes only flags.
        syscall!(epoll_create1(libc::EPOLL_CLOEXEC)).map(Ep)
    }

    fn add(&self, fd: RawFd, events: u32, data: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: data };
        // SAFETY: `ev` is a valid epoll_event for the call.
        syscall!(epoll_ctl(self.0, libc::EPOLL_CTL_ADD, fd, &mut ev)).map(drop)
    }

    fn wait(&self, buf: &mut [libc::epoll_event], timeout_ms: i32) -> io::Result<usize> {
        // SAFETY: `buf` has room for `buf.len()` events.
        match syscall!(epoll_wait(
            self.0,
            buf.as_mut_ptr(),
            buf.len() as i32,
            timeout_ms
        )) {
            Ok(n) => Ok(n as usize),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(0),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Ep {
    fn drop(&mut self) {
        let _ = sys::close(self.0);
    }
}

/// Client connections to one server.
pub struct Conns {
    fds: Vec<RawFd>,
}

impl Conns {
    /// Open `n` connections to `to`, spreading the local side over `sources` (each loopback
    /// address has its own ephemeral ports).
    pub fn open(to: SocketAddrV4, n: usize, sources: &[Ipv4Addr]) -> io::Result<Conns> {
        let mut conns = Conns { fds: Vec::new() };
        let mut buf = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        while conns.fds.len() < n {
            let ep = Ep::new()?;
            let batch = CONNECT_BATCH.min(n - conns.fds.len());
            let start = conns.fds.len();
            for i in 0..batch {
                let src = sources[(start + i) % sources.len()];
                let fd = net::connect_from(src, to)?;
                conns.fds.push(fd);
                ep.add(fd, libc::EPOLLOUT as u32, i as u64)?;
            }
            let mut done = vec![false; batch];
            let mut left = batch;
            let begun = Instant::now();
            while left > 0 {
                if begun.elapsed() > STALL {
                    return Err(io::Error::other(format!(
                        "{left} of {batch} connects to {to} did not complete in {STALL:?}"
                    )));
                }
                let k = ep.wait(&mut buf, 100)?;
                for ev in &buf[..k] {
                    let i = ev.u64 as usize;
                    if !done[i] {
                        done[i] = true;
                        left -= 1;
                        let err = so_error(conns.fds[start + i])?;
                        if err != 0 {
                            return Err(io::Error::from_raw_os_error(err));
                        }
                    }
                }
            }
        }
        Ok(conns)
    }

    /// How many connections.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.fds.len()
    }
}

impl Drop for Conns {
    fn drop(&mut self) {
        for &fd in &self.fds {
            let _ = sys::close(fd);
        }
    }
}

fn so_error(fd: RawFd) -> io::Result<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for writing; the kernel writes at most `len` bytes.
    syscall!(getsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_ERROR,
        (&mut v as *mut libc::c_int).cast(),
        &mut len
    ))?;
    Ok(v)
}

/// What a measured window saw.
#[derive(Debug, Default)]
pub struct Window {
    /// Requests answered inside the window.
    pub requests: u64,
    /// Their latencies, in ns, sorted.
    pub latencies_ns: Vec<u64>,
    /// The window's length.
    pub elapsed: Duration,
}

impl Window {
    /// The `q` quantile (0..=1) of the latencies, in µs.
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.latencies_ns.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_ns.len() - 1) as f64 * q).round() as usize;
        self.latencies_ns[i] as f64 / 1000.0
    }

    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Per-connection client state.
#[derive(Clone, Copy)]
struct State {
    sent_at: Instant,
    got: usize,
}

/// Run the closed loop on every connection with `req_bytes`-byte requests: `warmup` first,
/// then `on_start` is called and the window of `measure` is recorded, then `on_end`.
pub fn closed_loop(
    conns: &Conns,
    req_bytes: usize,
    warmup: Duration,
    measure: Duration,
    mut on_start: impl FnMut(),
    mut on_end: impl FnMut(),
) -> io::Result<Window> {
    let ep = Ep::new()?;
    let req = vec![0x5au8; req_bytes];
    let now = Instant::now();
    let mut states = vec![
        State {
            sent_at: now,
            got: 0
        };
        conns.len()
    ];
    for (i, &fd) in conns.fds.iter().enumerate() {
        ep.add(fd, libc::EPOLLIN as u32, i as u64)?;
        send(fd, &req)?;
        states[i].sent_at = Instant::now();
    }
    let mut buf = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
    let mut rbuf = vec![0u8; 64 * 1024];
    let start = Instant::now();
    let window_start = start + warmup;
    let window_end = window_start + measure;
    let mut measuring = false;
    let mut w = Window::default();
    let mut last_progress = Instant::now();
    loop {
        let now = Instant::now();
        if !measuring && now >= window_start {
            measuring = true;
            on_start();
        }
        if now >= window_end {
            on_end();
            w.elapsed = now - window_start;
            break;
        }
        if now - last_progress > STALL {
            return Err(io::Error::other("the server stopped answering"));
        }
        let k = ep.wait(&mut buf, 50)?;
        for ev in &buf[..k] {
            let i = ev.u64 as usize;
            let fd = conns.fds[i];
            let n = match sys::read(fd, &mut rbuf) {
                Ok(0) => return Err(io::Error::other("the server closed a connection")),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            };
            last_progress = Instant::now();
            let st = &mut states[i];
            st.got += n;
            while st.got >= req_bytes {
                st.got -= req_bytes;
                let done = Instant::now();
                if measuring && done < window_end {
                    w.requests += 1;
                    w.latencies_ns.push((done - st.sent_at).as_nanos() as u64);
                }
                send(fd, &req)?;
                st.sent_at = Instant::now();
            }
        }
    }
    w.latencies_ns.sort_unstable();
    Ok(w)
}

/// One echo round on every connection, all at once: send a request on each, then wait for
/// every answer. (The hold test uses it to make each server task run its read/write path.)
pub fn one_round(conns: &Conns, req_bytes: usize) -> io::Result<()> {
    let ep = Ep::new()?;
    let req = vec![0x33u8; req_bytes];
    let mut got = vec![0usize; conns.len()];
    for (i, &fd) in conns.fds.iter().enumerate() {
        ep.add(fd, libc::EPOLLIN as u32, i as u64)?;
        send(fd, &req)?;
    }
    let mut left = conns.len();
    let mut buf = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
    let mut rbuf = vec![0u8; 4096];
    let mut last_progress = Instant::now();
    while left > 0 {
        if last_progress.elapsed() > STALL {
            return Err(io::Error::other(format!(
                "{left} connections got no answer"
            )));
        }
        let k = ep.wait(&mut buf, 100)?;
        for ev in &buf[..k] {
            let i = ev.u64 as usize;
            match sys::read(conns.fds[i], &mut rbuf) {
                Ok(0) => return Err(io::Error::other("the server closed a connection")),
                Ok(n) => {
                    last_progress = Instant::now();
                    let before = got[i];
                    got[i] += n;
                    if before < req_bytes && got[i] >= req_bytes {
                        left -= 1;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

fn send(fd: RawFd, req: &[u8]) -> io::Result<()> {
    match sys::write(fd, req) {
        Ok(n) if n == req.len() => Ok(()),
        Ok(n) => Err(io::Error::other(format!(
            "short request write ({n} of {})",
            req.len()
        ))),
        Err(e) => Err(e),
    }
}
