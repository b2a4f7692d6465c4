//! `write-timeout-must-not-return`: Go's TestWriteTimeoutMustNotReturn. Deadlines set in the
//! past and then cleared for writing: writes go on until the buffer is full, then block until
//! Close, which ends them with Closed.

use std::sync::Arc;

use super::{close_raw, now_ns, outcome, sleep_ns, socket_fd, spawn_op};
use crate::fd::Error;
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// How far in the past the deadlines lie (Go: -5 s).
pub const PAST_NS: i64 = 5_000_000_000;
/// How long the writes must go on before Close (Go: 100 ms).
pub const BLOCKED_NS: i64 = 20_000_000;
/// Bytes per write (Go writes one byte at a time; larger writes fill a real socket buffer
/// sooner and block the same way).
const CHUNK_BYTES: usize = 1024;

/// On one end of a socket pair nobody reads: both deadlines set in the past, the read
/// deadline set in the past again, then the write deadline cleared. A writer writes until a
/// write fails: after `BLOCKED_NS` none has. Close ends the writes with Closed (not a
/// timeout).
pub fn write_timeout_must_not_return<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, peer) = socket_fd(np);
    fd.set_deadline(Some(now_ns(np) - PAST_NS))
        .expect("set both deadlines in the past");
    fd.set_read_deadline(Some(now_ns(np) - PAST_NS))
        .expect("set the read deadline in the past");
    fd.set_write_deadline(None)
        .expect("clear the write deadline");

    let writer_fd = fd.clone();
    let writer = spawn_op(np, "writer", move || {
        let chunk = [0x5a_u8; CHUNK_BYTES];
        loop {
            writer_fd.write(&chunk)?;
        }
    });
    sleep_ns(np, BLOCKED_NS);
    assert!(
        !writer.is_done(),
        "the writes stopped although the write deadline was cleared"
    );
    fd.close().expect("close");
    let ended = writer.join();
    assert!(
        matches!(ended.res, Err(Error::Closed)),
        "writer: expected Closed, got {}",
        outcome(&ended.res)
    );
    close_raw(np, peer);
}
