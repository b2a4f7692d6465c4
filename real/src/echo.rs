//! A TCP echo server on the FD layer: one task per connection, each reading and writing its
//! socket through an [`Fd`], so a waiting connection costs a parked task (a coroutine on
//! [`crate::CoroRuntime`]), not a thread. Run by `examples/echo_server.rs` and by the
//! benchmark's server process.

use std::sync::Arc;

use netpoll::fd::{Error, Fd};
use netpoll::platform::{Platform, RawFd, Scheduler};
use netpoll::NetPoll;

use crate::net;

/// Bytes each connection reads at a time.
pub const BUF_BYTES: usize = 512;

/// Echo what `conn` sends until it closes or fails; then close it.
pub fn echo_conn<P: Platform>(conn: &Fd<P>) {
    let mut buf = [0u8; BUF_BYTES];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if conn.write(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = conn.close();
}

/// Accept connections on `listener` (a non-blocking listening socket, see [`net::listen`])
/// forever, serving each in its own task. Returns only if the listener fails (an error other
/// than running out of descriptors, which is reported and retried after a pause).
pub fn serve<P: Platform>(np: &Arc<NetPoll<P>>, listener: RawFd) -> Error {
    let listener = match Fd::new(np.clone(), listener) {
        Ok(l) => l,
        Err(e) => return e,
    };
    let sched = np.platform().sched();
    loop {
        let c = match net::accept(&listener) {
            Ok(c) => c,
            Err(Error::Io(e)) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                eprintln!("echo: accept: {e}; retrying");
                sched.sleep_ns(10_000_000);
                continue;
            }
            Err(e) => return e,
        };
        match Fd::new(np.clone(), c) {
            Ok(conn) => {
                // Handles are not kept: a connection's task ends when its peer goes.
                let _ = sched.spawn("echo-conn", move || echo_conn(&conn));
            }
            Err(e) => {
                eprintln!("echo: register connection: {e}");
                let _ = crate::sys::close(c);
            }
        }
    }
}
