//! `write-timeout`: Go's TestWriteTimeout. A past write deadline fails at once even with room
//! to write; a short one lets writes through, then times out, never before the deadline.

use std::sync::Arc;

use super::{close_raw, drain_raw, now_ns, sleep_ns, socket_fd};
use crate::fd::Error;
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// How far in the past the first deadline lies (Go: -5 s).
pub const PAST_NS: i64 = 5_000_000_000;
/// The short deadline, from the time it is set.
pub const TIMEOUT_NS: i64 = 30_000_000;
/// What each write sends (Go's test writes this message).
const MESSAGE: &[u8] = b"WRITE TIMEOUT";

/// The FD is one end of a socket pair nobody reads, with room to write. With the write
/// deadline `PAST_NS` in the past, two writes fail with DeadlineExceeded having written
/// nothing. With a deadline `TIMEOUT_NS` ahead, writes of `MESSAGE` (a sleep of a third of
/// the timeout after each) succeed until one fails: that must be DeadlineExceeded, no earlier
/// than the deadline, having written nothing. The peer then holds exactly the messages whose
/// writes succeeded.
pub fn write_timeout<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, peer) = socket_fd(np);

    fd.set_write_deadline(Some(now_ns(np) - PAST_NS))
        .expect("set a past write deadline");
    for attempt in 0..2 {
        let (n, res) = fd.write_some(MESSAGE);
        assert!(
            n == 0 && matches!(res, Err(Error::DeadlineExceeded)),
            "write {attempt} with a past deadline and room: expected 0 bytes and \
             DeadlineExceeded, got {n} bytes and {:?}",
            res.map_err(|e| e.kind_name())
        );
    }

    let deadline_ns = now_ns(np) + TIMEOUT_NS;
    fd.set_write_deadline(Some(deadline_ns))
        .expect("set a short write deadline");
    let mut written = 0;
    loop {
        let (n, res) = fd.write_some(MESSAGE);
        let at_ns = now_ns(np);
        match res {
            Ok(()) => {
                assert_eq!(n, MESSAGE.len(), "a successful write wrote {n} bytes");
                written += 1;
                sleep_ns(np, TIMEOUT_NS / 3);
            }
            Err(Error::DeadlineExceeded) => {
                assert_eq!(n, 0, "the timed-out write wrote {n} bytes");
                assert!(
                    at_ns >= deadline_ns,
                    "write timed out {} ns before its deadline",
                    deadline_ns - at_ns
                );
                break;
            }
            Err(e) => panic!(
                "write with a short deadline: expected success or DeadlineExceeded, got {}",
                e.kind_name()
            ),
        }
    }
    let (got, eof) = drain_raw(np, peer);
    assert!(!eof, "the peer saw end of file before the FD was closed");
    assert_eq!(
        got,
        MESSAGE.repeat(written),
        "the peer must hold exactly the {written} messages written"
    );
    fd.close().expect("close");
    close_raw(np, peer);
}
