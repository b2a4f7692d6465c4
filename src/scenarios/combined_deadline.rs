//! `combined-deadline`: the combined timer. With equal read and write deadlines one timer
//! serves both directions (Go: `netpollDeadline`); moved apart, each direction gets its own;
//! made equal again, one serves both once more. Each direction times out at its own deadline.

use std::sync::Arc;

use super::{assert_timed_out, close_raw, now_ns, sleep_ns, socket_fd_full, spawn_op, Pending};
use crate::fd::Fd;
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// The unit of the deadlines below.
pub const STEP_NS: i64 = 10_000_000;
/// A deadline no run reaches (one hour): where a deadline is left that must be overridden.
pub const FAR_NS: i64 = 3_600_000_000_000;

/// Start a one-shot reader and writer on `fd`.
fn start<P: Platform>(np: &Arc<NetPoll<P>>, fd: &Arc<Fd<P>>) -> (Pending<P>, Pending<P>) {
    let f = fd.clone();
    let reader = spawn_op(np, "reader", move || f.read(&mut [0u8; 8]));
    let f = fd.clone();
    let writer = spawn_op(np, "writer", move || f.write(&[1u8; 8]));
    (reader, writer)
}

/// One end of a socket pair with a full send buffer; its peer never writes or reads. Three
/// phases, each with a fresh reader and writer blocked on the FD:
///
/// 1. equal: both deadlines `t + STEP` (one timer): both time out, neither early;
/// 2. apart: both `t + 2 STEP` (one timer); while the operations block, the write deadline
///    moves to `t + 3 STEP`. The reader times out no earlier than `t + 2 STEP`, the writer no earlier
///    than `t + 3 STEP`;
/// 3. equal again: read `t + FAR`, write `t + STEP` (two timers); while the operations
///    block, the read deadline moves to `t + STEP` too. Both time out no earlier than
///    `t + STEP`, and the reader long before its old far deadline.
///
/// On a real machine a change that arrives after the deadline it replaces cannot override
/// it; phase 2 then checks only what still holds.
pub fn combined_deadline<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, peer) = socket_fd_full(np);

    // 1. Equal.
    let t = now_ns(np);
    fd.set_deadline(Some(t + STEP_NS)).expect("phase 1: set");
    let (reader, writer) = start(np, &fd);
    assert_timed_out(&reader.join(), t + STEP_NS, "phase 1 reader");
    assert_timed_out(&writer.join(), t + STEP_NS, "phase 1 writer");

    // 2. Apart.
    let t = now_ns(np);
    fd.set_deadline(Some(t + 2 * STEP_NS))
        .expect("phase 2: set");
    let (reader, writer) = start(np, &fd);
    sleep_ns(np, STEP_NS / 2);
    fd.set_write_deadline(Some(t + 3 * STEP_NS))
        .expect("phase 2: move the write deadline");
    let in_time = now_ns(np) < t + 2 * STEP_NS;
    assert_timed_out(&reader.join(), t + 2 * STEP_NS, "phase 2 reader");
    let writer_deadline = t + if in_time { 3 } else { 2 } * STEP_NS;
    assert_timed_out(&writer.join(), writer_deadline, "phase 2 writer");

    // 3. Equal again.
    let t = now_ns(np);
    fd.set_read_deadline(Some(t + FAR_NS))
        .expect("phase 3: set read");
    fd.set_write_deadline(Some(t + STEP_NS))
        .expect("phase 3: set write");
    let (reader, writer) = start(np, &fd);
    sleep_ns(np, STEP_NS / 2);
    // Once this is due, it wakes the reader whether or not the writer's timer has fired.
    fd.set_read_deadline(Some(t + STEP_NS))
        .expect("phase 3: move the read deadline");
    let ended = reader.join();
    assert_timed_out(&ended, t + STEP_NS, "phase 3 reader");
    assert!(
        ended.at_ns < t + FAR_NS,
        "phase 3: the reader waited for its old deadline"
    );
    assert_timed_out(&writer.join(), t + STEP_NS, "phase 3 writer");

    fd.close().expect("close");
    close_raw(np, peer);
}
