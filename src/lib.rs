//! # netpoll
//!
//! Go's runtime network poller (`runtime/netpoll.go`, after the fix for golang/go#45211),
//! ported to Rust and made generic over a [`platform::Platform`]: a clock, an I/O backend, a
//! scheduler and the shared-memory primitives. The pre-fix protocol is selectable at run time
//! ([`protocol::Protocol`]) so that a simulator can show the bug and the fix side by side.
//!
//! The core never performs a system call or touches the wall clock; `netpoll-real` runs it on
//! epoll/kqueue and OS threads, `netpoll-sim` on a deterministic simulator.
//!
//! * [`netpoll::NetPoll`]: the poller's operations (open, close, reset, wait, set_deadline,
//!   unblock, poll, timers);
//! * [`pd::PollDesc`]: the poll descriptor and its state machine;
//! * [`fd::Fd`]: Go's `internal/poll.FD`, blocking reads/writes with deadlines and close, on
//!   [`fd_mutex::FdMutex`] and [`sema::Sema`] (Go's `fdMutex` and runtime semaphore);
//! * [`scenarios`]: workloads written once, run by the simulator and on real epoll;
//! * [`observe`]: what the FD layer tells a platform that watches it (checkers).
#![warn(missing_docs)]

pub mod cache;
pub mod fd;
pub mod fd_mutex;
pub mod netpoll;
pub mod observe;
pub mod pd;
pub mod platform;
pub mod protocol;
pub mod scenarios;
pub mod sema;

#[cfg(test)]
mod testplat;
#[cfg(test)]
mod tests;

pub use crate::netpoll::{NetPoll, PollError};
pub use crate::pd::Pd;
pub use platform::*;
pub use protocol::Protocol;
