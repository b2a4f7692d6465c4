//! `close-unblocks-read`: the golang/go#45211 shape with Close as the waker.

use std::sync::Arc;

use super::{close_raw, outcome, pipe_fd, spawn};
use crate::fd::Error;
use crate::netpoll::NetPoll;
use crate::platform::{Platform, Scheduler};

/// One task reads an empty pipe (and so blocks in netpollblock); the scenario's own task
/// closes the FD concurrently. The reader must end with [`Error::Closed`] and Close must
/// return. Under the pre-#45211 protocol with weak memory the reader can park after Close has
/// looked at its semaphore, and both tasks hang: the deadlock the simulator must find.
pub fn close_unblocks_read<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, w) = pipe_fd(np);
    let reader_fd = fd.clone();
    let reader = spawn(np, "reader", move || {
        let mut buf = [0u8; 8];
        let res = reader_fd.read(&mut buf);
        assert!(
            matches!(res, Err(Error::Closed)),
            "reader: expected Closed, got {}",
            outcome(&res)
        );
    });
    fd.close().expect("closer: first close succeeds");
    np.platform().sched().join(reader);
    close_raw(np, w);
}
