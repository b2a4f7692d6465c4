//! `reused-pd-stale-error`: an event in flight for a closed fd meets the pd's next use
//! (golang/go#59545).

use std::io;
use std::sync::Arc;

use super::{close_raw, outcome, pipe_fd, spawn};
use crate::fd::Fd;
use crate::netpoll::NetPoll;
use crate::platform::{Backend, Platform, Scheduler};

/// The byte the second pipe carries.
const BYTE: u8 = b'y';

/// The write end of a first pipe is an FD; the scenario fills that pipe and closes its read
/// end, so the kernel reports EPOLLERR alone for the FD (a full pipe with no reader). While
/// that event may still be in flight, the FD is closed and a second pipe is opened: its read
/// end reuses the pd. A reader then reads one byte from it, which the scenario writes, and
/// after it the scenario reads a second byte. Both reads must return their byte: the error
/// belonged to the first fd. Go before #59545 applied the stale event to the reused pd, and
/// the read failed with "not pollable". (The second read catches an error bit set after the
/// first read: the fdseq check and the setting of the bit are not one atomic step, so only
/// the tag check inside `set_event_err` stops a stale event whose check came just before the
/// pd was closed and reopened.)
pub fn reused_pd_stale_error<P: Platform>(np: &Arc<NetPoll<P>>) {
    let backend = np.platform().backend();
    let (r1, w1) = backend.pipe().expect("scenario: first pipe");
    let fd1 = Fd::new(np.clone(), w1).expect("scenario: open pd for the first pipe");
    let fill = [0u8; 4096];
    loop {
        match backend.write(w1, &fill) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("scenario: filling the first pipe: {e}"),
        }
    }
    close_raw(np, r1); // EPOLLERR alone for fd1's pd: no reader, no room
    fd1.close().expect("close the first fd");

    let (fd2, w2) = pipe_fd(np);
    let reader_fd = fd2.clone();
    let reader = spawn(np, "reader", move || {
        let mut buf = [0u8; 4];
        let res = reader_fd.read(&mut buf);
        assert!(
            matches!(res, Ok(1)) && buf[0] == BYTE,
            "reader of the reused pd: expected Ok(1) with the byte, got {}",
            outcome(&res)
        );
    });
    let n = backend
        .write(w2, &[BYTE])
        .expect("scenario: write the byte");
    assert_eq!(n, 1);
    np.platform().sched().join(reader);
    // A stale error can also land after the first read (the poller may still be applying the
    // old event): the next read must not fail either.
    let n = backend
        .write(w2, &[BYTE])
        .expect("scenario: write the second byte");
    assert_eq!(n, 1);
    let mut buf = [0u8; 4];
    let res = fd2.read(&mut buf);
    assert!(
        matches!(res, Ok(1)) && buf[0] == BYTE,
        "second read of the reused pd: expected Ok(1) with the byte, got {}",
        outcome(&res)
    );
    fd2.close().expect("close the second fd");
    close_raw(np, w2);
}
