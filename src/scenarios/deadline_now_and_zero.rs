//! `deadline-now-and-zero`: a deadline of exactly the current time has already expired; no
//! deadline (Go's zero time) clears one, even one whose timer is armed.

use std::sync::Arc;

use super::{
    assert_timed_out, close_raw, drain_raw, now_ns, outcome, sleep_ns, socket_fd, spawn_op,
    write_raw,
};
use crate::fd::Error;
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// The deadline that is cleared before it fires, from the time it is set.
pub const TIMEOUT_NS: i64 = 10_000_000;
/// More than a socket buffers (the simulator's hold 64 bytes; Linux's a few hundred KiB).
const FLOOD_BYTES: usize = 4 << 20;
/// What the peer sends.
const DATA: &[u8] = b"now";

/// One end of a socket pair, with `DATA` from the peer waiting to be read:
///
/// 1. read deadline = now: a read fails with DeadlineExceeded although data is ready;
///    cleared: the read returns the data;
/// 2. write deadline = now: a write fails with DeadlineExceeded having written nothing;
///    cleared: it writes;
/// 3. read deadline `TIMEOUT_NS` ahead, then cleared: a reader blocks past that time, and
///    returns the data the peer then sends;
/// 4. a reader blocks with no deadline; read deadline = now: it times out, not before;
/// 5. a writer fills the socket and blocks with no deadline; write deadline = now: it times
///    out, not before.
pub fn deadline_now_and_zero<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, peer) = socket_fd(np);
    write_raw(np, peer, DATA);

    // 1. Read.
    fd.set_read_deadline(Some(now_ns(np)))
        .expect("read deadline now");
    let mut buf = [0u8; 16];
    let res = fd.read(&mut buf);
    assert!(
        matches!(res, Err(Error::DeadlineExceeded)),
        "read with deadline now and data ready: expected DeadlineExceeded, got {}",
        outcome(&res)
    );
    fd.set_read_deadline(None).expect("clear read deadline");
    let res = fd.read(&mut buf);
    assert!(
        matches!(res, Ok(n) if buf[..n] == *DATA),
        "read after clearing the deadline: expected the data, got {}",
        outcome(&res)
    );

    // 2. Write.
    fd.set_write_deadline(Some(now_ns(np)))
        .expect("write deadline now");
    let (n, res) = fd.write_some(DATA);
    assert!(
        n == 0 && matches!(res, Err(Error::DeadlineExceeded)),
        "write with deadline now: expected 0 bytes and DeadlineExceeded, got {n} and {:?}",
        res.map_err(|e| e.kind_name())
    );
    fd.set_write_deadline(None).expect("clear write deadline");
    let res = fd.write(DATA);
    assert!(
        matches!(res, Ok(n) if n == DATA.len()),
        "write after clearing the deadline: got {}",
        outcome(&res)
    );
    assert_eq!(
        drain_raw(np, peer),
        (DATA.to_vec(), false),
        "the peer's bytes"
    );

    // 3. A cleared deadline whose timer was armed does not fire.
    fd.set_read_deadline(Some(now_ns(np) + TIMEOUT_NS))
        .expect("read deadline ahead");
    fd.set_read_deadline(None)
        .expect("clear the armed read deadline");
    let f = fd.clone();
    let reader = spawn_op(np, "reader", move || f.read(&mut [0u8; 16]));
    sleep_ns(np, 2 * TIMEOUT_NS);
    assert!(
        !reader.is_done(),
        "the read returned although its deadline was cleared"
    );
    write_raw(np, peer, DATA);
    let ended = reader.join();
    assert!(
        matches!(ended.res, Ok(n) if n == DATA.len()),
        "reader: expected the data, got {}",
        outcome(&ended.res)
    );

    // 4. Now wakes a blocked reader.
    let f = fd.clone();
    let reader = spawn_op(np, "reader", move || f.read(&mut [0u8; 16]));
    sleep_ns(np, TIMEOUT_NS);
    let set_ns = now_ns(np);
    fd.set_read_deadline(Some(set_ns))
        .expect("read deadline now while blocked");
    assert_timed_out(&reader.join(), set_ns, "blocked reader");

    // 5. Now wakes a blocked writer (one that has filled the socket and waits for room).
    let f = fd.clone();
    let writer = spawn_op(np, "writer", move || {
        let (n, res) = f.write_some(&vec![0x77_u8; FLOOD_BYTES]);
        res.map(|()| n)
    });
    sleep_ns(np, TIMEOUT_NS);
    let set_ns = now_ns(np);
    fd.set_write_deadline(Some(set_ns))
        .expect("write deadline now while blocked");
    assert_timed_out(&writer.join(), set_ns, "blocked writer");

    fd.close().expect("close");
    close_raw(np, peer);
}
