//! What the FD layer tells a platform that watches it: the observation points of checkers
//! (the simulator's; TigerBeetle keeps its checkers apart from its workloads the same way).
//!
//! [`Fd`](crate::fd::Fd) reports the start and end of each operation with its outcome, each
//! system call it makes on its descriptor, each deadline it is given, and the steps of its
//! Close. A platform that wants them sets [`Platform::OBSERVES`](crate::Platform::OBSERVES)
//! and implements [`Platform::observe`](crate::Platform::observe); every other platform
//! keeps the defaults (`false`, and an empty method), so the FD layer's `if P::OBSERVES`
//! is false at compile time and no observation is even built: the real platforms pay
//! nothing.
//!
//! An observation names the FD by its pd's cache index (fixed for the FD's life), as a
//! [`TimerFiring`](crate::platform::TimerFiring) does. Which task reports it and when are the
//! platform's to know (the running task, the platform's clock). This module is a leaf: it
//! depends on nothing else of the crate.

use std::io;

/// A file descriptor number (as [`RawFd`](crate::platform::RawFd)).
type RawFd = i32;

/// An operation of the FD layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// [`Fd::read`](crate::fd::Fd::read).
    Read,
    /// [`Fd::write`](crate::fd::Fd::write) / [`Fd::write_some`](crate::fd::Fd::write_some).
    Write,
    /// [`Fd::raw_read`](crate::fd::Fd::raw_read) (an accept, say).
    RawRead,
    /// [`Fd::connect`](crate::fd::Fd::connect).
    Connect,
}

impl OpKind {
    /// Whether the read deadline applies to the operation (else the write deadline does).
    pub fn reads(self) -> bool {
        matches!(self, OpKind::Read | OpKind::RawRead)
    }

    /// A short name (`read`, `write`, `raw-read`, `connect`).
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Write => "write",
            OpKind::RawRead => "raw-read",
            OpKind::Connect => "connect",
        }
    }
}

/// How an operation ended, as a checker needs to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpOutcome {
    /// Bytes were transferred (or, for a connect, the connection is up: `Data(0)`).
    Data(usize),
    /// A read found end of file.
    Eof,
    /// The deadline of the operation's direction passed.
    DeadlineExceeded,
    /// The FD was closed.
    Closed,
    /// The poller reported an error event for the fd.
    NotPollable,
    /// A system call failed: its errno, when it has one.
    Io(io::ErrorKind, Option<i32>),
}

/// One observation point of the FD layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    /// [`Fd::new`](crate::fd::Fd::new) opened pd `pd` for descriptor `fd`.
    Opened {
        /// The FD's pd (its cache index).
        pd: u32,
        /// Its descriptor.
        fd: RawFd,
    },
    /// An operation begins (before it takes its lock).
    OpStart {
        /// The FD's pd (its cache index).
        pd: u32,
        /// Which operation.
        op: OpKind,
    },
    /// The operation that the running task began last ends with `outcome`.
    OpEnd {
        /// The FD's pd (its cache index).
        pd: u32,
        /// Which operation.
        op: OpKind,
        /// How it ended.
        outcome: OpOutcome,
    },
    /// The running task is about to make a system call on descriptor `fd` for the FD.
    Syscall {
        /// The FD's pd (its cache index).
        pd: u32,
        /// The descriptor it uses.
        fd: RawFd,
    },
    /// A deadline is being set for reads, writes or both (`Some(t)`: absolute time `t` on
    /// the platform's clock; `None`: cleared). `done` is false just before the core is told,
    /// true once it has been.
    Deadline {
        /// The FD's pd (its cache index).
        pd: u32,
        /// For reads.
        read: bool,
        /// For writes.
        write: bool,
        /// The deadline.
        deadline_ns: Option<i64>,
        /// Whether the core has applied it.
        done: bool,
    },
    /// Close has marked the FD closed and woken its blocked operations (Go: after
    /// `pollDesc.evict`).
    Evicted {
        /// The FD's pd (its cache index).
        pd: u32,
    },
    /// The FD is destroyed: its pd released and descriptor `fd` about to be closed (Go:
    /// `FD.destroy`).
    Destroy {
        /// The FD's pd (its cache index).
        pd: u32,
        /// The descriptor being closed.
        fd: RawFd,
    },
}
