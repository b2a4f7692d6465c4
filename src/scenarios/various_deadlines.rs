//! `various-deadlines`: Go's TestVariousDeadlines. Deadlines from 1 ns to 1 s on a copy loop
//! always end in a timeout, never before the deadline.

use std::sync::Arc;

use super::{close_raw, now_ns, outcome, socket_fd};
use crate::fd::Error;
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// The timeouts tried, in order (Go's list).
pub const TIMEOUTS_NS: &[i64] = &[
    1,
    2,
    5,
    50,
    100,
    200,
    500,
    750,
    1_000,
    5_000,
    25_000,
    250_000,
    500_000,
    1_000_000,
    5_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
];

/// One end of a socket pair whose peer never writes. For each of `TIMEOUTS_NS`: set both
/// deadlines that far ahead, then copy what the FD delivers until it fails, as `io.Copy`
/// does. The copy must end in DeadlineExceeded (never end of file or another error), no
/// earlier than the deadline. One FD serves every timeout, so each new deadline re-arms the
/// timer after the last one fired (Go dials anew each time; the simulator's task budget
/// prefers one FD).
pub fn various_deadlines<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, peer) = socket_fd(np);
    let mut buf = [0u8; 64];
    for &timeout_ns in TIMEOUTS_NS {
        let t0 = now_ns(np);
        let deadline_ns = t0 + timeout_ns;
        fd.set_deadline(Some(deadline_ns)).expect("set deadline");
        let mut copied = 0;
        let res = loop {
            match fd.read(&mut buf) {
                Ok(0) => break Ok(0),
                Ok(n) => copied += n,
                Err(e) => break Err(e),
            }
        };
        let at_ns = now_ns(np);
        assert!(
            matches!(res, Err(Error::DeadlineExceeded)),
            "copy with a {timeout_ns} ns deadline: expected DeadlineExceeded after {copied} \
             bytes, got {}",
            outcome(&res)
        );
        assert!(
            at_ns >= deadline_ns,
            "copy with a {timeout_ns} ns deadline timed out {} ns early",
            deadline_ns - at_ns
        );
        assert_eq!(copied, 0, "the peer never writes");
    }
    fd.close().expect("close");
    close_raw(np, peer);
}
