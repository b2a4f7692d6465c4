//! # netpoll
//!
//! Go's runtime network poller (`runtime/netpoll.go`, after the fix for golang/go#45211),
//! ported to Rust and made generic over a [`platform::Platform`]: a clock, an I/O backend, a
//! scheduler and the shared-memory primitives. The pre-fix protocol is selectable at run time
//! ([`protocol::Protocol`]) so that a simulator can show the bug and the fix side by side.
//!
//! The core never performs a system call or touches the wall clock; `netpoll-real` runs it on
//! epoll/kqueue and OS threads, `netpoll-sim` on a deterministic simulator.
#![warn(missing_docs)]

pub mod platform;
pub mod protocol;

pub use platform::*;
pub use protocol::Protocol;
