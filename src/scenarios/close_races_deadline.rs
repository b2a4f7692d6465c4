//! `close-races-deadline`: Close racing a deadline timer that is already firing. The firing
//! is harmless, also to the next user of the reused poll descriptor.

use std::sync::Arc;

use super::{close_raw, outcome, pipe_fd, sleep_ns, spawn_op, write_raw};
use crate::fd::Error;
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// The read deadline, and when Close runs: the same instant.
pub const DEADLINE_NS: i64 = 10_000_000;
/// The byte the second pipe carries.
const BYTE: u8 = b'z';

/// A reader blocks on an empty pipe with a read deadline `DEADLINE_NS` ahead; exactly then
/// the FD is closed, so the timer's firing and Close race (in the simulator every order of
/// their steps is possible, including a firing that is still running after Close returned).
/// The reader ends with DeadlineExceeded or Closed. A second pipe's FD then reuses the poll
/// descriptor; a reader on it without a deadline must get the byte the scenario writes after
/// `DEADLINE_NS` more: a stale firing must neither time it out nor break the descriptor.
pub fn close_races_deadline<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, w) = pipe_fd(np);
    fd.set_read_timeout_ns(DEADLINE_NS)
        .expect("set the read deadline");
    let f = fd.clone();
    let reader = spawn_op(np, "reader", move || f.read(&mut [0u8; 8]));
    sleep_ns(np, DEADLINE_NS);
    fd.close().expect("close while the deadline fires");
    let ended = reader.join();
    assert!(
        matches!(ended.res, Err(Error::DeadlineExceeded | Error::Closed)),
        "first reader: expected DeadlineExceeded or Closed, got {}",
        outcome(&ended.res)
    );
    close_raw(np, w);

    let (fd2, w2) = pipe_fd(np);
    assert_eq!(
        fd2.pd(),
        fd.pd(),
        "scenario: the second FD should reuse the poll descriptor"
    );
    let f = fd2.clone();
    let reader = spawn_op(np, "reader2", move || {
        let mut b = [0u8; 1];
        f.read(&mut b).map(|n| if b[0] == BYTE { n } else { 0 })
    });
    sleep_ns(np, DEADLINE_NS);
    write_raw(np, w2, &[BYTE]);
    let ended = reader.join();
    assert!(
        matches!(ended.res, Ok(1)),
        "reader of the reused descriptor: expected the byte, got {}",
        outcome(&ended.res)
    );
    fd2.close().expect("close the second FD");
    close_raw(np, w2);
}
