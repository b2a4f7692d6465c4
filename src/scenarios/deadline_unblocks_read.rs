//! `deadline-unblocks-read`: the golang/go#45211 shape with a deadline timer as the waker.

use std::sync::Arc;

use super::{close_raw, outcome, pipe_fd, spawn};
use crate::fd::Error;
use crate::netpoll::NetPoll;
use crate::platform::{Clock, Platform, Scheduler};

/// How far in the future the read deadline is set.
pub const DEADLINE_NS: i64 = 1_000_000;

/// The FD gets a read deadline `DEADLINE_NS` from now; a reader sleeps that long and then
/// reads the empty pipe, so the read starts just as the deadline timer fires. The reader must
/// end with [`Error::DeadlineExceeded`]. Under the pre-#45211 protocol with weak memory the
/// reader can park after the timer callback has looked at its semaphore, and never wake.
pub fn deadline_unblocks_read<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, w) = pipe_fd(np);
    let now = np.platform().clock().now_ns();
    fd.set_read_deadline(Some(now + DEADLINE_NS))
        .expect("set read deadline");
    let reader_fd = fd.clone();
    let np2 = np.clone();
    let reader = spawn(np, "reader", move || {
        np2.platform().sched().sleep_ns(DEADLINE_NS);
        let mut buf = [0u8; 8];
        let res = reader_fd.read(&mut buf);
        assert!(
            matches!(res, Err(Error::DeadlineExceeded)),
            "reader: expected DeadlineExceeded, got {}",
            outcome(&res)
        );
    });
    np.platform().sched().join(reader);
    fd.close().expect("close after the read");
    close_raw(np, w);
}
