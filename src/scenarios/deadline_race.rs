//! `deadline-race`: Go's TestReadWriteDeadlineRace and TestConcurrentSetDeadline. Deadlines
//! are reset constantly by two tasks while a reader and a writer run: nothing hangs, and every
//! operation ends in data written or a timeout.

use std::sync::{Arc, Mutex};

use super::{close_raw, drain_raw, now_ns, outcome, sleep_ns, socket_fd, spawn};
use crate::fd::Error;
use crate::netpoll::NetPoll;
use crate::platform::{Platform, Scheduler};

/// Operations per task (Go: 1000, or 50 in short mode; the simulator explores every
/// interleaving of a few, a real run repeats the scenario instead).
pub const ROUNDS: i64 = 3;
/// The short deadline and the ticker period (Go: 2 µs).
pub const TICK_NS: i64 = 2_000;

/// One end of a socket pair; its peer never writes and reads only at the end. Task `ticker`
/// sets both deadlines `TICK_NS` ahead, then sleeps a tick, `ROUNDS` times; task `setter`
/// sets them at the same time, each round a little earlier than the last (Go's
/// TestConcurrentSetDeadline moves them steadily earlier to stir the timer heap). Meanwhile a
/// reader reads and a writer writes one byte, `ROUNDS` times each, ignoring timeouts. Every
/// read must time out (the peer never writes); every write must succeed or time out; every
/// task must finish; the peer then holds exactly one byte per successful write.
pub fn deadline_race<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, peer) = socket_fd(np);
    let sched = np.platform().sched();

    let (f, n) = (fd.clone(), np.clone());
    let ticker = spawn(np, "ticker", move || {
        for _ in 0..ROUNDS {
            let t = now_ns(&n);
            f.set_read_deadline(Some(t + TICK_NS))
                .expect("ticker: read");
            f.set_write_deadline(Some(t + TICK_NS))
                .expect("ticker: write");
            sleep_ns(&n, TICK_NS);
        }
    });
    let (f, n) = (fd.clone(), np.clone());
    let setter = spawn(np, "setter", move || {
        for j in (1..=ROUNDS).rev() {
            let t = now_ns(&n);
            f.set_read_deadline(Some(t + 2 * j * TICK_NS))
                .expect("setter: read");
            f.set_write_deadline(Some(t + j * TICK_NS))
                .expect("setter: write");
        }
    });
    let f = fd.clone();
    let reader = spawn(np, "reader", move || {
        for i in 0..ROUNDS {
            let res = f.read(&mut [0u8; 1]);
            assert!(
                matches!(res, Err(Error::DeadlineExceeded)),
                "read {i}: the peer never writes, expected DeadlineExceeded, got {}",
                outcome(&res)
            );
        }
    });
    let f = fd.clone();
    // The bytes whose writes succeeded: written by the writer, read after it is joined.
    let written = Arc::new(Mutex::new(Vec::new()));
    let w2 = written.clone();
    let writer = spawn(np, "writer", move || {
        for i in 0..ROUNDS {
            let byte = b'a' + i as u8;
            match f.write(&[byte]) {
                Ok(1) => w2.lock().unwrap_or_else(|e| e.into_inner()).push(byte),
                Err(Error::DeadlineExceeded) => {}
                other => panic!(
                    "write {i}: expected 1 byte or DeadlineExceeded, got {}",
                    outcome(&other)
                ),
            }
        }
    });
    for h in [ticker, setter, reader, writer] {
        sched.join(h);
    }
    let (got, eof) = drain_raw(np, peer);
    assert!(!eof, "the peer saw end of file before the FD was closed");
    let written = written.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(
        got, written,
        "the peer must hold the bytes of the successful writes"
    );
    fd.close().expect("close");
    close_raw(np, peer);
}
