//! `close-unblocks-write`: the golang/go#45211 shape on the write side.

use std::sync::Arc;

use super::{close_raw, spawn};
use crate::fd::{Error, Fd};
use crate::netpoll::NetPoll;
use crate::platform::{Backend, Platform, Scheduler};

/// More than any pipe buffers (Linux: 64 KiB by default; the simulator: 64 bytes).
const PAYLOAD_BYTES: usize = 1 << 20;

/// The payload, made once per process (a simulator runs the scenario many thousand times:
/// filling a fresh megabyte each time was a tenth of its cost).
fn payload() -> &'static [u8] {
    static PAYLOAD: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PAYLOAD.get_or_init(|| vec![0x5a_u8; PAYLOAD_BYTES])
}

/// A writer writes more than the pipe can hold into a pipe nobody reads, so it blocks in
/// netpollblock on the write semaphore; the scenario's task closes the FD concurrently. The
/// writer must end with [`Error::Closed`] having written less than it asked, and Close must
/// return. Under the pre-#45211 protocol with weak memory the writer can miss `closing`.
pub fn close_unblocks_write<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (r, w) = np.platform().backend().pipe().expect("scenario: pipe");
    let fd = Arc::new(Fd::new(np.clone(), w).expect("scenario: open pd for pipe"));
    let writer_fd = fd.clone();
    let writer = spawn(np, "writer", move || {
        let (n, res) = writer_fd.write_some(payload());
        assert!(
            n < PAYLOAD_BYTES,
            "writer: wrote {n} bytes into a pipe nobody reads"
        );
        assert!(
            matches!(res, Err(Error::Closed)),
            "writer: expected Closed, got {:?}",
            res.map_err(|e| e.kind_name())
        );
    });
    fd.close().expect("closer: first close succeeds");
    np.platform().sched().join(writer);
    close_raw(np, r);
}
