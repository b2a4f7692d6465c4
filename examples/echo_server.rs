//! A TCP echo server on the coroutine scheduler, one task per connection, using the FD layer.
//!
//! `cargo run --release --example echo_server -- [ADDR]` (default `127.0.0.1:7878`), then
//! e.g. `nc 127.0.0.1 7878`. Ends on Ctrl-C.

use std::net::SocketAddrV4;
use std::process::ExitCode;

use netpoll_real::{echo, net, CoroRuntime};

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    let addr: SocketAddrV4 = match arg.as_deref().unwrap_or("127.0.0.1:7878").parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!("echo_server: ADDR must be an IPv4 address and port, like 127.0.0.1:7878");
            return ExitCode::from(2);
        }
    };
    let rt = match CoroRuntime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("echo_server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match net::listen(addr) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("echo_server: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match net::local_addr(listener) {
        Ok(a) => println!("echo server listening on {a}"),
        Err(e) => eprintln!("echo_server: getsockname: {e}"),
    }
    // The accept loop is a task too: it parks while no connection is pending.
    let np = rt.netpoll().clone();
    let err = rt.block_on(move || echo::serve(&np, listener));
    eprintln!("echo_server: {err}");
    ExitCode::FAILURE
}
