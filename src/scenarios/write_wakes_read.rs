//! `write-wakes-read`: the readiness path (poller → netpollready → the parked reader).

use std::sync::Arc;

use super::{close_raw, outcome, pipe_fd, spawn};
use crate::netpoll::NetPoll;
use crate::platform::{Backend, Platform, Scheduler};

/// The message the writer sends.
pub const MESSAGE: &[u8] = b"ping";

/// A reader reads an empty pipe until end of file while the scenario's task writes
/// `MESSAGE` and closes the write end. The reader must receive exactly the message and then
/// end of file: every readiness edge must wake it, and no spurious wake may lose data.
pub fn write_wakes_read<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, w) = pipe_fd(np);
    let reader_fd = fd.clone();
    let reader = spawn(np, "reader", move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        loop {
            let res = reader_fd.read(&mut buf);
            match res {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => panic!("reader: expected data or EOF, got {}", outcome(&res)),
            }
        }
        assert_eq!(got, MESSAGE, "reader: wrong bytes");
    });
    let n = np
        .platform()
        .backend()
        .write(w, MESSAGE)
        .expect("writer: write");
    assert_eq!(n, MESSAGE.len(), "writer: short write into an empty pipe");
    close_raw(np, w);
    np.platform().sched().join(reader);
    fd.close().expect("close after the read");
}
