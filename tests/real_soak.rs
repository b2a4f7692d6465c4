//! The soak (run it with `cargo test --release --test real_soak -- --ignored --nocapture`):
//! 1,000 TCP loopback connections for 60 s (`NETPOLL_SOAK_SECS` to change) on each runtime,
//! each with an echo task and a client task using random deadlines, while mover tasks move
//! deadlines (into the past, the future, or clear them) and closer tasks close connections
//! and open fresh ones. No hang, no unexpected error, and at the end descriptors, tasks,
//! waiters and timers are back to where they started. The coroutine runtime trims the stacks
//! of tasks idle for 20 ms, so that stack trimming is stressed too.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::IntoRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netpoll::fd::{Error, Fd};
use netpoll::platform::{Platform, Scheduler};
use netpoll_real::clock::monotonic_ns;
use netpoll_real::testing::{bounded, wait_until, XorShift};
use netpoll_real::RealRuntime;

const CONNS: usize = 1000;
const MOVERS: u64 = 4;
const CLOSERS: u64 = 2;
const MS: i64 = 1_000_000;

type SFd<R> = Arc<Fd<<R as RealRuntime>::Platform>>;

#[derive(Default)]
struct Counts {
    bytes: AtomicU64,
    timeouts: AtomicU64,
    closed: AtomicU64,
    peer_gone: AtomicU64,
    moves: AtomicU64,
    closes: AtomicU64,
}

/// An outcome a connection may see under this load; anything else fails the soak.
fn expected(e: &Error, c: &Counts) -> bool {
    match e {
        Error::DeadlineExceeded => {
            c.timeouts.fetch_add(1, Ordering::Relaxed);
            true
        }
        Error::Closed => {
            c.closed.fetch_add(1, Ordering::Relaxed);
            true
        }
        Error::Io(io)
            if matches!(
                io.raw_os_error(),
                Some(libc::EPIPE) | Some(libc::ECONNRESET)
            ) =>
        {
            c.peer_gone.fetch_add(1, Ordering::Relaxed);
            true
        }
        _ => false,
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

struct Conn<R: RealRuntime> {
    client: SFd<R>,
    server: SFd<R>,
}

fn connect<R: RealRuntime>(rt: &R, listener: &TcpListener) -> Conn<R> {
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    for s in [&client, &server] {
        s.set_nonblocking(true).unwrap();
        s.set_nodelay(true).unwrap();
    }
    Conn {
        client: Arc::new(rt.fd(client.into_raw_fd()).unwrap()),
        server: Arc::new(rt.fd(server.into_raw_fd()).unwrap()),
    }
}

/// Spawn the echo task and the client task of `conn`.
fn serve<R: RealRuntime>(
    rt: &R,
    conn: &Conn<R>,
    seed: u64,
    counts: &Arc<Counts>,
    stop: &Arc<AtomicBool>,
    tasks: &Mutex<Vec<R::Task<()>>>,
) {
    let np = rt.netpoll().clone();
    let (server, c, st) = (conn.server.clone(), counts.clone(), stop.clone());
    let echo = rt.spawn(move || {
        let mut rng = XorShift::new(seed);
        let mut buf = [0u8; 256];
        while !st.load(Ordering::Relaxed) {
            if rng.below(4) == 0 {
                let _ = server.set_read_deadline(Some(monotonic_ns() + rng.below(50) as i64 * MS));
            }
            match server.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => match server.write(&buf[..n]) {
                    Ok(_) => {}
                    Err(Error::Closed) => return,
                    Err(e) => {
                        assert!(expected(&e, &c), "echo write: {e:?}");
                        if matches!(e, Error::Io(_)) {
                            return; // the peer is gone
                        }
                    }
                },
                Err(Error::Closed) => {
                    c.closed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    assert!(expected(&e, &c), "echo read: {e:?}");
                    if matches!(e, Error::Io(_)) {
                        return; // the peer is gone
                    }
                    // An expired deadline fails without parking: let others run.
                    np.platform().sched().yield_now();
                }
            }
        }
    });
    let np = rt.netpoll().clone();
    let (client, c, st) = (conn.client.clone(), counts.clone(), stop.clone());
    let client_task = rt.spawn(move || {
        let mut rng = XorShift::new(seed ^ 0xABCD);
        let mut buf = [0u8; 256];
        while !st.load(Ordering::Relaxed) {
            let len = 1 + rng.below(64) as usize;
            let _ = client.set_deadline(Some(monotonic_ns() + (1 + rng.below(50) as i64) * MS));
            match client.write(&buf[..len]) {
                Ok(_) => {}
                Err(Error::Closed) => return,
                Err(e) => {
                    assert!(expected(&e, &c), "client write: {e:?}");
                    if matches!(e, Error::Io(_)) {
                        return; // the peer is gone
                    }
                    np.platform().sched().yield_now();
                    continue;
                }
            }
            match client.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    c.bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(Error::Closed) => return,
                Err(e) => {
                    assert!(expected(&e, &c), "client read: {e:?}");
                    if matches!(e, Error::Io(_)) {
                        return; // the peer is gone
                    }
                    np.platform().sched().yield_now();
                }
            }
            // Some think time, parked on a timer.
            if rng.below(8) == 0 {
                np.platform().sched().sleep_ns(rng.below(5) as i64 * MS);
            }
        }
    });
    let mut t = tasks.lock().unwrap();
    t.push(echo);
    t.push(client_task);
}

fn soak<R: RealRuntime>(make: fn() -> std::io::Result<R>) {
    let secs: u64 = std::env::var("NETPOLL_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    bounded(Duration::from_secs(secs + 120), move || {
        let fds_before = open_fds();
        let rt = Arc::new(make().unwrap());
        let fds_with_rt = open_fds();
        let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Arc<Mutex<Vec<R::Task<()>>>> = Arc::new(Mutex::new(Vec::new()));
        let conns: Arc<Mutex<Vec<Conn<R>>>> = Arc::new(Mutex::new(Vec::new()));
        for i in 0..CONNS {
            let c = connect(&*rt, &listener);
            serve(&*rt, &c, i as u64 + 1, &counts, &stop, &tasks);
            conns.lock().unwrap().push(c);
        }
        let listener = Arc::new(listener);
        let mut helpers = Vec::new();
        for m in 0..MOVERS {
            let (conns, c, st, np) = (
                conns.clone(),
                counts.clone(),
                stop.clone(),
                rt.netpoll().clone(),
            );
            helpers.push(rt.spawn(move || {
                let mut rng = XorShift::new(0x5EED_0000 + m);
                while !st.load(Ordering::Relaxed) {
                    let fd = {
                        let v = conns.lock().unwrap();
                        let conn = &v[rng.below(v.len() as u64) as usize];
                        if rng.below(2) == 0 {
                            conn.client.clone()
                        } else {
                            conn.server.clone()
                        }
                    };
                    let when = match rng.below(4) {
                        0 => None,
                        1 => Some(monotonic_ns() - MS),
                        _ => Some(monotonic_ns() + rng.below(100) as i64 * MS),
                    };
                    let res = match rng.below(3) {
                        0 => fd.set_deadline(when),
                        1 => fd.set_read_deadline(when),
                        _ => fd.set_write_deadline(when),
                    };
                    assert!(matches!(res, Ok(()) | Err(Error::Closed)), "move: {res:?}");
                    c.moves.fetch_add(1, Ordering::Relaxed);
                    np.platform().sched().sleep_ns(100_000);
                }
            }));
        }
        for k in 0..CLOSERS {
            let (conns, c, st, rtc, l, tasks, stop2) = (
                conns.clone(),
                counts.clone(),
                stop.clone(),
                rt.clone(),
                listener.clone(),
                tasks.clone(),
                stop.clone(),
            );
            let np = rt.netpoll().clone();
            helpers.push(rt.spawn(move || {
                let mut rng = XorShift::new(0xC105E + k);
                let mut n = 0;
                while !st.load(Ordering::Relaxed) {
                    let i = rng.below(CONNS as u64) as usize;
                    // Replace connection i with a fresh one, then close both ends of the old
                    // one from this task while its own tasks may be blocked on them. (A
                    // loopback connect and the accept of it do not wait.)
                    let conn = connect(&*rtc, &l);
                    let old = std::mem::replace(&mut conns.lock().unwrap()[i], conn);
                    let _ = old.client.close();
                    let _ = old.server.close();
                    c.closes.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                    let v = conns.lock().unwrap();
                    serve(
                        &*rtc,
                        &v[i],
                        0x1000_0000 + k * 1_000_000 + n,
                        &c,
                        &stop2,
                        &tasks,
                    );
                    drop(v);
                    np.platform().sched().sleep_ns(5 * MS);
                }
            }));
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(secs) {
            std::thread::sleep(Duration::from_millis(200));
        }
        stop.store(true, Ordering::SeqCst);
        for h in helpers {
            rt.join(h);
        }
        // Close every connection: the tasks still waiting see Closed and end.
        for conn in conns.lock().unwrap().drain(..) {
            let _ = conn.client.close();
            let _ = conn.server.close();
        }
        let all: Vec<_> = tasks.lock().unwrap().drain(..).collect();
        let n_tasks = all.len();
        for t in all {
            rt.join(t);
        }
        wait_until(Duration::from_secs(10), "waiters back to 0", || {
            rt.netpoll().waiters() == 0
        });
        wait_until(Duration::from_secs(10), "timers back to 0", || {
            rt.armed_timers() == 0
        });
        wait_until(Duration::from_secs(10), "tasks back to 0", || {
            rt.live_tasks() == 0
        });
        drop(listener);
        assert_eq!(open_fds(), fds_with_rt, "descriptors leaked");
        let c = &counts;
        println!(
            "soak ({}): {secs} s, {CONNS} connections, {n_tasks} connection tasks, {} KiB echoed, \
             {} timeouts, {} closed, {} peer gone, {} deadline moves, {} closes; \
             fds, tasks, waiters, timers back to baseline",
            R::NAME,
            c.bytes.load(Ordering::Relaxed) / 1024,
            c.timeouts.load(Ordering::Relaxed),
            c.closed.load(Ordering::Relaxed),
            c.peer_gone.load(Ordering::Relaxed),
            c.moves.load(Ordering::Relaxed),
            c.closes.load(Ordering::Relaxed),
        );
        let stats = rt.stats_line();
        if !stats.is_empty() {
            println!("  scheduler: {stats}");
        }
        assert!(c.closes.load(Ordering::Relaxed) > 0 && c.moves.load(Ordering::Relaxed) > 0);
        drop(rt);
        assert_eq!(
            open_fds(),
            fds_before,
            "the runtime's own descriptors leaked"
        );
    });
}

#[test]
#[ignore = "a 60 s soak per runtime: cargo test --release --test real_soak -- --ignored"]
fn soak_threads() {
    soak::<netpoll_real::Runtime>(netpoll_real::Runtime::new);
}

#[test]
#[ignore = "a 60 s soak per runtime: cargo test --release --test real_soak -- --ignored"]
fn soak_coroutines() {
    // Stacks of tasks idle for 20 ms are trimmed, so that trimming races with wake-ups,
    // deadlines and closes all the time.
    soak::<netpoll_real::CoroRuntime>(|| {
        netpoll_real::CoroRuntime::builder()
            .trim_idle_stacks(Some(Duration::from_millis(20)))
            .build()
    });
}
