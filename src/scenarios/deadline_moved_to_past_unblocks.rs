//! `deadline-moved-to-past-unblocks`: Go's TestReadTimeoutUnblocksRead, both directions.
//! Moving a deadline into the past while an operation is blocked wakes it at once.

use std::sync::Arc;

use super::{assert_timed_out, close_raw, now_ns, sleep_ns, socket_fd_full, spawn_op};
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// The deadlines the operations block with: far beyond any run (one hour).
pub const FAR_NS: i64 = 3_600_000_000_000;
/// How long the operations are left blocked before their deadline moves.
pub const SETTLE_NS: i64 = 5_000_000;
/// How far in the past a moved deadline lies.
pub const PAST_NS: i64 = 1_000_000_000;

/// One end of a socket pair with a full send buffer; its peer never writes or reads. A reader
/// and a writer block with deadlines `FAR_NS` ahead. After `SETTLE_NS` the read deadline
/// moves into the past: the reader times out, not before the move and long before the far
/// deadline, while the writer stays blocked. Then the write deadline moves into the past, and
/// the writer times out the same way.
pub fn deadline_moved_to_past_unblocks<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, peer) = socket_fd_full(np);
    let far_ns = now_ns(np) + FAR_NS;
    fd.set_deadline(Some(far_ns)).expect("set far deadlines");

    let reader_fd = fd.clone();
    let reader = spawn_op(np, "reader", move || reader_fd.read(&mut [0u8; 8]));
    let writer_fd = fd.clone();
    let writer = spawn_op(np, "writer", move || writer_fd.write(&[1u8; 8]));
    sleep_ns(np, SETTLE_NS);

    let moved_ns = now_ns(np);
    fd.set_read_deadline(Some(moved_ns - PAST_NS))
        .expect("move the read deadline into the past");
    let ended = reader.join();
    assert_timed_out(&ended, moved_ns, "reader");
    assert!(
        ended.at_ns < far_ns,
        "the reader waited for its old deadline"
    );
    assert!(
        !writer.is_done(),
        "moving the read deadline woke the writer"
    );

    let moved_ns = now_ns(np);
    fd.set_write_deadline(Some(moved_ns - PAST_NS))
        .expect("move the write deadline into the past");
    let ended = writer.join();
    assert_timed_out(&ended, moved_ns, "writer");
    assert!(
        ended.at_ns < far_ns,
        "the writer waited for its old deadline"
    );
    fd.close().expect("close");
    close_raw(np, peer);
}
