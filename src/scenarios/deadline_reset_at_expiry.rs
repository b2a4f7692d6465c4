//! `deadline-reset-at-expiry`: a deadline set again exactly when the previous one expires,
//! while a read is blocked (the race of Go's TestReadWriteDeadlineRace at its sharpest; the
//! sequence of golang/go#35532, where re-arming the timer from `set_deadline` and running it
//! took the pd and timers locks in opposite orders).

use std::sync::Arc;

use super::{assert_timed_out, close_raw, now_ns, pipe_fd, sleep_ns, spawn_op};
use crate::netpoll::NetPoll;
use crate::platform::Platform;

/// The read deadline, from the start; the reset happens at this time too.
pub const DEADLINE_NS: i64 = 1_000_000;

/// A pipe's read end; nothing is ever written. A reader blocks with a read deadline
/// `DEADLINE_NS` ahead; the main task sleeps exactly that long and sets the deadline again,
/// `DEADLINE_NS` further, racing the timer that fires at that instant. The reader times out
/// at the first deadline or the second (whichever the race let stand), never earlier.
pub fn deadline_reset_at_expiry<P: Platform>(np: &Arc<NetPoll<P>>) {
    let (fd, w) = pipe_fd(np);
    let t0 = now_ns(np);
    fd.set_read_deadline(Some(t0 + DEADLINE_NS))
        .expect("set the read deadline");
    let reader_fd = fd.clone();
    let reader = spawn_op(np, "reader", move || reader_fd.read(&mut [0u8; 8]));
    sleep_ns(np, DEADLINE_NS);
    let again = now_ns(np) + DEADLINE_NS;
    fd.set_read_deadline(Some(again))
        .expect("set the read deadline again");
    let ended = reader.join();
    // The first deadline may have won the race; either way not before it.
    assert_timed_out(&ended, t0 + DEADLINE_NS, "reader");
    fd.close().expect("close");
    close_raw(np, w);
}
