//! `read-timeout-must-not-return`: Go's TestReadTimeoutMustNotReturn. Deadlines set in the
//! past and then cleared for reading: a read blocks until Close, which ends it with Closed.

use std::sync::Arc;

use super::{close_raw, now_ns, outcome, pipe_fd, sleep_ns, spawn_op};
use crate::fd::Error;
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// How far in the past the deadlines lie (Go: -5 s).
pub const PAST_NS: i64 = 5_000_000_000;
/// How long the read must stay blocked before Close (Go: 100 ms).
pub const BLOCKED_NS: i64 = 20_000_000;

/// On a pipe that stays empty: both deadlines set in the past, the write deadline set in the
/// past again, then the read deadline cleared. A reader must then block: after
/// `BLOCKED_NS` it has not returned. Close wakes it with Closed (not a timeout).
pub fn read_timeout_must_not_return<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, w) = pipe_fd(np);
    fd.set_deadline(Some(now_ns(np) - PAST_NS))
        .expect("set both deadlines in the past");
    fd.set_write_deadline(Some(now_ns(np) - PAST_NS))
        .expect("set the write deadline in the past");
    fd.set_read_deadline(None).expect("clear the read deadline");

    let reader_fd = fd.clone();
    let reader = spawn_op(np, "reader", move || reader_fd.read(&mut [0u8; 1]));
    sleep_ns(np, BLOCKED_NS);
    assert!(
        !reader.is_done(),
        "the read returned although its deadline was cleared"
    );
    fd.close().expect("close");
    let ended = reader.join();
    assert!(
        matches!(ended.res, Err(Error::Closed)),
        "reader: expected Closed, got {}",
        outcome(&ended.res)
    );
    close_raw(np, w);
}
