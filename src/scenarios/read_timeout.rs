//! `read-timeout`: Go's TestReadTimeout. A past read deadline fails at once even with data
//! ready; a short one lets the data through, then times out, never before the deadline.

use std::sync::Arc;

use super::{close_raw, now_ns, outcome, pipe_fd, sleep_ns, write_raw};
use crate::fd::Error;
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// How far in the past the first deadline lies (Go: -5 s).
pub const PAST_NS: i64 = 5_000_000_000;
/// The short deadline, from the time it is set.
pub const TIMEOUT_NS: i64 = 30_000_000;
/// Data waiting in the pipe (it fits the simulator's 64-byte pipes): far more than the three
/// or four one-byte reads, each followed by a sleep of `TIMEOUT_NS / 3`, that fit before the
/// deadline, so data is still ready when it expires, even if a loaded machine fires the timer
/// several hundred milliseconds late.
const DATA: &[u8] = b"READ TIMEOUT TEST: a deadline wins over data that is ready....";

/// The FD reads a pipe that already holds `DATA`. With the read deadline `PAST_NS` in the
/// past, two reads fail with DeadlineExceeded without reading anything. With a deadline
/// `TIMEOUT_NS` ahead, one-byte reads (a sleep of a third of the timeout after each) return
/// the data in order until a read fails: that must be DeadlineExceeded, no earlier than the
/// deadline. The bytes left in the pipe are then still there.
pub fn read_timeout<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, w) = pipe_fd(np);
    write_raw(np, w, DATA);

    fd.set_read_deadline(Some(now_ns(np) - PAST_NS))
        .expect("set a past read deadline");
    for attempt in 0..2 {
        let mut b = [0u8; 1];
        let res = fd.read(&mut b);
        assert!(
            matches!(res, Err(Error::DeadlineExceeded)),
            "read {attempt} with a past deadline and data ready: expected DeadlineExceeded, got {}",
            outcome(&res)
        );
    }

    let deadline_ns = now_ns(np) + TIMEOUT_NS;
    fd.set_read_deadline(Some(deadline_ns))
        .expect("set a short read deadline");
    let mut got = Vec::new();
    loop {
        let mut b = [0u8; 1];
        let res = fd.read(&mut b);
        let at_ns = now_ns(np);
        match res {
            Ok(1) => {
                got.push(b[0]);
                sleep_ns(np, TIMEOUT_NS / 3);
            }
            Err(Error::DeadlineExceeded) => {
                assert!(
                    at_ns >= deadline_ns,
                    "read timed out {} ns before its deadline",
                    deadline_ns - at_ns
                );
                break;
            }
            other => panic!(
                "read with a short deadline: expected data or DeadlineExceeded, got {}",
                outcome(&other)
            ),
        }
    }
    assert!(
        got.len() < DATA.len(),
        "every byte was read before the deadline"
    );
    assert_eq!(got, DATA[..got.len()], "the data came out of order");

    // The deadline cleared, the rest of the data is still there.
    fd.set_read_deadline(None).expect("clear the read deadline");
    let mut rest = [0u8; 64];
    let res = fd.read(&mut rest);
    let n = *res.as_ref().unwrap_or(&0);
    assert!(
        n > 0 && rest[..n] == DATA[got.len()..got.len() + n],
        "read after clearing the deadline: expected the rest of the data, got {}",
        outcome(&res)
    );
    fd.close().expect("close");
    close_raw(np, w);
}
