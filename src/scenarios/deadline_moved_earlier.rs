//! `deadline-moved-earlier`: a deadline moved earlier while an operation is blocked - still in
//! the future - brings its timeout forward (Go's TestReadTimeoutUnblocksRead moves it into
//! the past; here it stays ahead, so a timer, not the setter, must wake the reader). The
//! shape of golang/go#42515: the poller sleeps until the old deadline and must be woken to
//! sleep until the new one.

use std::sync::Arc;

use super::{assert_timed_out, close_raw, now_ns, pipe_fd, sleep_ns, spawn_op};
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// The first read deadline, from the start.
pub const FIRST_NS: i64 = 1_000_000_000;
/// When the deadline is moved, from the start.
pub const MOVE_AT_NS: i64 = 1_000_000;
/// The new deadline, from the start.
pub const MOVED_NS: i64 = 2_000_000;

/// A pipe's read end; nothing is ever written. A reader blocks with a read deadline
/// `FIRST_NS` ahead; at `MOVE_AT_NS` the deadline moves to `MOVED_NS` from the start. The
/// reader must time out no earlier than the new deadline and well before the old one.
pub fn deadline_moved_earlier<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, w) = pipe_fd(np);
    let t0 = now_ns(np);
    fd.set_read_deadline(Some(t0 + FIRST_NS))
        .expect("set the read deadline");
    let reader_fd = fd.clone();
    let reader = spawn_op(np, "reader", move || reader_fd.read(&mut [0u8; 8]));
    sleep_ns(np, MOVE_AT_NS);
    let moved = t0 + MOVED_NS;
    fd.set_read_deadline(Some(moved))
        .expect("move the read deadline earlier");
    let ended = reader.join();
    assert_timed_out(&ended, moved, "reader");
    assert!(
        ended.at_ns < t0 + FIRST_NS,
        "reader: timed out at the old deadline, not the moved one"
    );
    fd.close().expect("close");
    close_raw(np, w);
}
