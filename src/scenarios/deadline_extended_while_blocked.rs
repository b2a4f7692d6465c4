//! `deadline-extended-while-blocked`: Go's TestReadWriteProlongedTimeout, deadline side.
//! Extending a deadline while an operation is blocked delays its timeout: it never comes at
//! the old time.

use std::sync::Arc;

use super::{assert_timed_out, close_raw, now_ns, sleep_ns, socket_fd_full, spawn_op};
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// The first read deadline, from the start.
pub const READ_FIRST_NS: i64 = 40_000_000;
/// The first write deadline, from the start (apart from the read deadline, so each direction
/// has its own timer).
pub const WRITE_FIRST_NS: i64 = 50_000_000;
/// When both deadlines are extended, from the start: well before either expires.
pub const EXTEND_AT_NS: i64 = 5_000_000;
/// How much later the extended deadlines are than the first ones.
pub const EXTENSION_NS: i64 = 40_000_000;

/// One end of a socket pair; its peer never writes and never reads, and the FD's send buffer
/// is full. A reader and a writer block with deadlines `READ_FIRST_NS` and
/// `WRITE_FIRST_NS` ahead; at `EXTEND_AT_NS` both deadlines move `EXTENSION_NS` later.
/// Each then times out, no earlier than its extended deadline.
///
/// On a real machine the extension itself may be late (a loaded scheduler); only when it
/// returned before an old deadline is that deadline known to be overridden, so otherwise the
/// scenario checks the old one.
pub fn deadline_extended_while_blocked<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, peer) = socket_fd_full(np);
    let t0 = now_ns(np);
    let (read_old, write_old) = (t0 + READ_FIRST_NS, t0 + WRITE_FIRST_NS);
    fd.set_read_deadline(Some(read_old))
        .expect("set the read deadline");
    fd.set_write_deadline(Some(write_old))
        .expect("set the write deadline");

    let reader_fd = fd.clone();
    let reader = spawn_op(np, "reader", move || reader_fd.read(&mut [0u8; 8]));
    let writer_fd = fd.clone();
    let writer = spawn_op(np, "writer", move || writer_fd.write(&[1u8; 8]));

    sleep_ns(np, EXTEND_AT_NS);
    let (read_new, write_new) = (read_old + EXTENSION_NS, write_old + EXTENSION_NS);
    fd.set_read_deadline(Some(read_new))
        .expect("extend the read deadline");
    fd.set_write_deadline(Some(write_new))
        .expect("extend the write deadline");
    let extended_ns = now_ns(np);
    let read_expect = if extended_ns < read_old {
        read_new
    } else {
        read_old
    };
    let write_expect = if extended_ns < write_old {
        write_new
    } else {
        write_old
    };

    assert_timed_out(&reader.join(), read_expect, "reader");
    assert_timed_out(&writer.join(), write_expect, "writer");
    fd.close().expect("close");
    close_raw(np, peer);
}
