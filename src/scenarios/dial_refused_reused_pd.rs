//! `dial-refused-reused-pd`: golang/go#19289's sequence. A dial is cancelled while its
//! refusal is on the way, its socket closed, and the next dial gets the same pd; the first
//! dial's readiness event may still be in flight, and may wake the second.

use std::io;
use std::sync::Arc;

use super::{now_ns, outcome, sleep_ns, spawn_op};
use crate::fd::{Error, Fd};
use crate::netpoll::NetPoll;
use crate::platform::{Backend, Platform};

/// When the first dial is cancelled, from its start: about when its refusal arrives in the
/// simulator (a real loopback refuses at once).
pub const CANCEL_AT_NS: i64 = 1_000_000;

/// Whether `res` is a refused connect.
fn refused(res: &Result<usize, Error>) -> bool {
    matches!(res, Err(Error::Io(e)) if e.raw_os_error() == Some(REFUSED_ERRNO)
        || e.kind() == io::ErrorKind::ConnectionRefused)
}

/// ECONNREFUSED (Linux).
const REFUSED_ERRNO: i32 = 111;

/// Two dials to an address where nothing listens, on one pd. The first is cancelled after
/// `CANCEL_AT_NS` the way Go's dialer cancels (a write deadline in the past) and ends
/// refused or with DeadlineExceeded; its FD is closed. The second, on the reused pd, must end
/// refused: a dial that claims a connection there lies - as Go 1.8's did when a stale wake
/// found `SO_ERROR` 0 on a socket still connecting, and the refusal reached the first Write.
pub fn dial_refused_reused_pd<P: Platform>(np: &Arc<NetPoll<P>>) {
    let backend = np.platform().backend();
    let addr = backend
        .refused_addr()
        .expect("scenario: a refusing address");

    let s1 = backend.tcp_socket().expect("scenario: first socket");
    let fd1 = Arc::new(Fd::new(np.clone(), s1).expect("scenario: first FD"));
    let f = fd1.clone();
    let dial1 = spawn_op(np, "dialer1", move || f.connect(addr).map(|()| 0));
    sleep_ns(np, CANCEL_AT_NS);
    fd1.set_write_deadline(Some(now_ns(np)))
        .expect("cancel the first dial");
    let first = dial1.join();
    assert!(
        refused(&first.res) || matches!(first.res, Err(Error::DeadlineExceeded)),
        "first dial: expected refused or DeadlineExceeded, got {}",
        outcome(&first.res)
    );
    fd1.close().expect("close the first socket");

    let s2 = backend.tcp_socket().expect("scenario: second socket");
    let fd2 = Fd::new(np.clone(), s2).expect("scenario: second FD");
    assert_eq!(fd2.pd(), fd1.pd(), "scenario: the pd should be reused");
    let second = fd2.connect(addr).map(|()| 0);
    if second.is_ok() {
        // What a caller does with a connection: its first write reports the refusal.
        let write = fd2.write(b"x");
        panic!(
            "second dial: connected to an address that refuses (its first write: {})",
            outcome(&write)
        );
    }
    assert!(
        refused(&second),
        "second dial: expected refused, got {}",
        outcome(&second)
    );
    fd2.close().expect("close the second socket");
}
