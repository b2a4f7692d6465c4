//! `close-blocked-read-write`: Close while a read and a write are blocked on the same FD.

use std::sync::Arc;

use super::{close_raw, drain_raw, outcome, sleep_ns, socket_fd_full, spawn_op};
use crate::fd::Error;
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// How long the operations are left blocked before Close.
pub const SETTLE_NS: i64 = 5_000_000;

/// One end of a socket pair with a full send buffer; its peer never writes. A reader and a
/// writer block on the FD; Close runs. Close must succeed (the descriptor closed exactly once:
/// a second close(2) of it would fail), and by the time it returns every operation has left
/// and the descriptor is closed: the peer reads what was sent and then end of file. Both
/// operations end with Closed (had the descriptor been closed under them, they would have
/// failed with a system-call error instead). A second Close fails with Closed.
pub fn close_blocked_read_write<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, peer) = socket_fd_full(np);
    let f = fd.clone();
    let reader = spawn_op(np, "reader", move || f.read(&mut [0u8; 8]));
    let f = fd.clone();
    let writer = spawn_op(np, "writer", move || f.write(&[1u8; 8]));
    sleep_ns(np, SETTLE_NS);

    fd.close().expect("Close of an FD with blocked operations");
    let (sent, eof) = drain_raw(np, peer);
    assert!(
        eof,
        "Close returned but the peer has no end of file after {} bytes: the descriptor is \
         still open",
        sent.len()
    );
    for (name, op) in [("reader", reader), ("writer", writer)] {
        let ended = op.join();
        assert!(
            matches!(ended.res, Err(Error::Closed)),
            "{name}: expected Closed, got {}",
            outcome(&ended.res)
        );
    }
    assert!(
        matches!(fd.close(), Err(Error::Closed)),
        "a second Close must fail with Closed"
    );
    close_raw(np, peer);
}
