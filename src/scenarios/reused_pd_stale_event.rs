//! `reused-pd-stale-event`: a readiness event still in flight for a closed fd meets the pd's
//! next use (the shape of golang/go#14548 and #19289, where Dial "connected" on such a wake).

use std::io;
use std::sync::Arc;

use super::{close_raw, pipe_fd, sleep_ns, spawn, write_raw};
use crate::netpoll::NetPoll;
use crate::platform::{Backend, Mode, Platform, Scheduler};

/// How long the waiter is left waiting before its fd becomes readable.
pub const SETTLE_NS: i64 = 5_000_000;
/// The byte that makes the second fd readable.
const BYTE: u8 = b'r';

/// A first pipe's read end is an FD; a byte written to the pipe makes the poller report it
/// readable, and while that event may still be in flight the FD is closed. A second pipe's
/// read end then gets a poll descriptor straight from the poller (the pd, and in the
/// simulator also the fd number, of the first). A task prepares it for reading and then, as
/// [`NetPoll::reset`]'s contract asks, tries the read before each wait; like Go's connect it
/// re-checks after every wake and waits again if the fd is not really ready. After
/// `SETTLE_NS` the scenario writes a byte to the second pipe; the waiter must get it, and the
/// stale event must break nothing (no panic, no lost wake, no wrong error). The waiter may
/// start before or after the write (on a loaded machine a new thread can wait longer than
/// `SETTLE_NS` for a CPU): neither order may hang.
///
/// The re-check is the contract, not caution: Go's poller may wake a waiter spuriously, and
/// one source is exactly this. The fdseq check on an event (golang/go#59545) happens before
/// `netpollready`, not atomically with it, so an event whose tag matched can still wake the
/// pd's next user if the pd is closed and reopened in between (the simulator finds that
/// window). Go's connect re-checks since #14548/#19289 for that reason.
pub fn reused_pd_stale_event<P: Platform>(np: &Arc<NetPoll<P>>) {
    let backend = np.platform().backend();
    let (fd1, w1) = pipe_fd(np);
    write_raw(np, w1, b"stale");
    fd1.close().expect("close the first fd");
    close_raw(np, w1);

    let (r2, w2) = backend.pipe().expect("scenario: second pipe");
    let pd = np
        .open(r2)
        .expect("scenario: open a pd for the second pipe");
    assert_eq!(pd, fd1.pd(), "scenario: the pd should be reused");
    let np2 = np.clone();
    let waiter = spawn(np, "waiter", move || {
        np2.reset(pd, Mode::Read).expect("waiter: prepare to read");
        // Try the read before every wait, the first one included: `reset` erases a readiness
        // notification the poller already recorded, so if the byte came before this task
        // first ran (a thread that starts late on a loaded machine), only the read finds it.
        loop {
            let mut b = [0u8; 1];
            match np2.platform().backend().read(r2, &mut b) {
                Ok(1) if b[0] == BYTE => return,
                // Not yet, or a spurious wake: wait (again), as Go's connect does.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => panic!("waiter: expected the byte, got {other:?}"),
            }
            np2.wait(pd, Mode::Read)
                .expect("waiter: wait for readability");
        }
    });
    sleep_ns(np, SETTLE_NS);
    write_raw(np, w2, &[BYTE]);
    np.platform().sched().join(waiter);
    np.unblock(pd);
    np.close(pd).expect("close the pd");
    close_raw(np, r2);
    close_raw(np, w2);
}
