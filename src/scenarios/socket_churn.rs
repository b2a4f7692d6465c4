//! `socket-churn`: short-lived connections, one after the other, each on the pd the previous
//! one freed - the pd's fdseq grows with every use (the aging behind golang/go#72900).

use std::sync::Arc;

use super::{close_raw, outcome, sleep_ns, socket_fd, spawn_op, write_raw};
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// How many connections, one after the other.
pub const CONNECTIONS: usize = 5;
/// How long each reader is left waiting before its byte is sent.
pub const SETTLE_NS: i64 = 1_000_000;

/// `CONNECTIONS` times: a socket pair whose first end is an FD (on the same pd each time, as
/// the poll cache hands the freed one back), a reader that blocks for one byte, the byte
/// sent by the peer after `SETTLE_NS`, the reader's check that it got exactly that byte, and
/// both ends closed. Every read must get its byte; nothing may take a pd's event for
/// something else.
pub fn socket_churn<P: Platform>(np: &Arc<NetPoll<P>>) {
    for round in 0..CONNECTIONS {
        let (fd, peer) = socket_fd(np);
        let byte = b'a' + round as u8;
        let reader_fd = fd.clone();
        let reader = spawn_op(np, "reader", move || {
            let mut b = [0u8; 1];
            let res = reader_fd.read(&mut b);
            assert!(
                matches!(res, Ok(1)) && b[0] == byte,
                "connection {round}: expected the byte {byte}, got {} ({})",
                outcome(&res),
                b[0]
            );
            res
        });
        sleep_ns(np, SETTLE_NS);
        write_raw(np, peer, &[byte]);
        reader.join();
        fd.close().expect("close the connection");
        close_raw(np, peer);
    }
}
