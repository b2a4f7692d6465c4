//! `peer-close-eof`: Go's TestCloseUnblocksRead (net_test.go). The peer closing its end wakes
//! a blocked reader with end of file, and a blocked writer with a broken pipe.

use std::io;
use std::sync::Arc;

use super::{close_raw, fill_raw, outcome, sleep_ns, socket_fd, spawn_op, write_raw};
use crate::fd::{Error, Fd};
use crate::netpoll::NetPoll;
use crate::platform::{Backend, Platform};

/// How long the operations are left blocked before the peer closes.
pub const SETTLE_NS: i64 = 5_000_000;
/// What the peer sends before closing.
const DATA: &[u8] = b"bye";

/// Reader: one end of a socket pair; a reader reads until end of file while the peer writes
/// `DATA` and closes after `SETTLE_NS`. It must get exactly the data, then end of file.
/// Writer: the write end of a pipe, full; a writer blocks; after `SETTLE_NS` the read end
/// closes. The write must fail with a broken pipe, not hang.
pub fn peer_close_eof<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, peer) = socket_fd(np);
    let f = fd.clone();
    let reader = spawn_op(np, "reader", move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        loop {
            match f.read(&mut buf)? {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        // The length stands for the bytes; a mismatch turns into a distinct count.
        Ok(if got == DATA { got.len() } else { usize::MAX })
    });
    write_raw(np, peer, DATA);
    sleep_ns(np, SETTLE_NS);
    close_raw(np, peer);
    let ended = reader.join();
    assert!(
        matches!(ended.res, Ok(n) if n == DATA.len()),
        "reader: expected the data then end of file, got {}",
        outcome(&ended.res)
    );
    fd.close().expect("close the socket");

    let (r, w) = np.platform().backend().pipe().expect("scenario: pipe");
    fill_raw(np, w);
    let wfd = Arc::new(Fd::new(np.clone(), w).expect("scenario: open pd for pipe"));
    let f = wfd.clone();
    let writer = spawn_op(np, "writer", move || f.write(&[1u8; 8]));
    sleep_ns(np, SETTLE_NS);
    close_raw(np, r);
    let ended = writer.join();
    assert!(
        matches!(&ended.res, Err(Error::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe),
        "writer: expected a broken pipe, got {}",
        outcome(&ended.res)
    );
    wfd.close().expect("close the pipe");
}
