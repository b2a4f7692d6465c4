//! Workloads written once against the generic API, run by the simulator (where every
//! interleaving and weak-memory outcome is explored) and on real epoll (where they must pass).
//!
//! A scenario runs in a task of the platform, spawns what it needs through the platform's
//! scheduler, and checks its outcome with assertions: a failed assertion is a panic, which the
//! simulator reports as a failure and a real test as a test failure. A deadlock (the #45211
//! symptom) shows up as tasks that never finish.

use std::fmt;
use std::io;
use std::str::FromStr;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};

use crate::fd::{Error, Fd};
use crate::netpoll::NetPoll;
use crate::platform::{Atomic, Backend, Clock, LocName, Platform, RawFd, Scheduler};

mod close_blocked_read_write;
mod close_races_deadline;
mod close_unblocks_read;
mod close_unblocks_write;
mod combined_deadline;
mod deadline_extended_while_blocked;
mod deadline_moved_earlier;
mod deadline_moved_to_past_unblocks;
mod deadline_now_and_zero;
mod deadline_race;
mod deadline_reset_at_expiry;
mod deadline_unblocks_read;
mod dial_refused_reused_pd;
mod peer_close_eof;
mod read_timeout;
mod read_timeout_must_not_return;
mod reused_pd_stale_error;
mod reused_pd_stale_event;
mod socket_churn;
mod various_deadlines;
mod write_timeout;
mod write_timeout_must_not_return;
mod write_wakes_read;

pub use close_blocked_read_write::close_blocked_read_write;
pub use close_races_deadline::close_races_deadline;
pub use close_unblocks_read::close_unblocks_read;
pub use close_unblocks_write::close_unblocks_write;
pub use combined_deadline::combined_deadline;
pub use deadline_extended_while_blocked::deadline_extended_while_blocked;
pub use deadline_moved_earlier::deadline_moved_earlier;
pub use deadline_moved_to_past_unblocks::deadline_moved_to_past_unblocks;
pub use deadline_now_and_zero::deadline_now_and_zero;
pub use deadline_race::deadline_race;
pub use deadline_reset_at_expiry::deadline_reset_at_expiry;
pub use deadline_unblocks_read::deadline_unblocks_read;
pub use dial_refused_reused_pd::dial_refused_reused_pd;
pub use peer_close_eof::peer_close_eof;
pub use read_timeout::read_timeout;
pub use read_timeout_must_not_return::read_timeout_must_not_return;
pub use reused_pd_stale_error::reused_pd_stale_error;
pub use reused_pd_stale_event::reused_pd_stale_event;
pub use socket_churn::socket_churn;
pub use various_deadlines::various_deadlines;
pub use write_timeout::write_timeout;
pub use write_timeout_must_not_return::write_timeout_must_not_return;
pub use write_wakes_read::write_wakes_read;

/// A scenario: a workload written once against the generic API. Shaped like
/// [`Protocol`](crate::Protocol): a closed set of variants with a stable command-line name, a
/// description, and a typed run function, so a scenario's name is never typed by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// A task blocks reading an empty pipe while another closes it (golang/go#45211).
    CloseUnblocksRead,
    /// A task starts reading an empty pipe just as its read deadline expires.
    DeadlineUnblocksRead,
    /// A task blocks writing a full pipe while another closes it (#45211, write side).
    CloseUnblocksWrite,
    /// An error event in flight for a closed fd meets the pd's next use (#59545).
    ReusedPdStaleError,
    /// A task blocks reading a pipe until another writes to it and closes it.
    WriteWakesRead,
    /// A past read deadline fails at once even with data ready; a short one returns the data, then times out (Go: TestReadTimeout).
    ReadTimeout,
    /// A past write deadline fails at once even with room; a short one lets writes through, then times out (Go: TestWriteTimeout).
    WriteTimeout,
    /// Deadlines set in the past, then the read deadline cleared: a read blocks until Close (Go: TestReadTimeoutMustNotReturn).
    ReadTimeoutMustNotReturn,
    /// Deadlines set in the past, then the write deadline cleared: writes block until Close (Go: TestWriteTimeoutMustNotReturn).
    WriteTimeoutMustNotReturn,
    /// Deadlines from 1 ns to 1 s on a copy loop always end in a timeout, never early (Go: TestVariousDeadlines).
    VariousDeadlines,
    /// Deadlines extended while a read and a write block delay their timeouts (Go: TestReadWriteProlongedTimeout).
    DeadlineExtendedWhileBlocked,
    /// A deadline moved into the past wakes the blocked operation at once (Go: TestReadTimeoutUnblocksRead).
    DeadlineMovedToPastUnblocks,
    /// Deadlines reset constantly by two tasks while a reader and a writer run; nothing hangs (Go: TestReadWriteDeadlineRace, TestConcurrentSetDeadline).
    DeadlineRace,
    /// Equal read and write deadlines share one timer, apart they have two, equal again one; each direction times out at its own deadline.
    CombinedDeadline,
    /// A deadline of exactly now has expired; no deadline clears one, even an armed one.
    DeadlineNowAndZero,
    /// Close while a read and a write block: both get Closed; the fd is closed once, after them.
    CloseBlockedReadWrite,
    /// Close races a deadline timer already firing; the firing is harmless, also to the reused pd.
    CloseRacesDeadline,
    /// The peer closing wakes a blocked reader with end of file and a blocked writer with a broken pipe.
    PeerCloseEof,
    /// A readiness event in flight for a closed fd meets the pd's next user, who re-checks after
    /// every wake (as Go's connect does since #19289) and must get its data.
    ReusedPdStaleEvent,
    /// A deadline moved earlier (still ahead) while a read blocks brings the timeout forward
    /// (golang/go#42515's shape: the poller sleeping until the old deadline must be woken).
    DeadlineMovedEarlier,
    /// A deadline set again exactly as the previous one expires, while a read blocks
    /// (golang/go#35532's sequence).
    DeadlineResetAtExpiry,
    /// Short-lived connections one after the other on one reused pd, each read getting its
    /// byte (golang/go#72900's aging: the pd's fdseq grows with every use).
    SocketChurn,
    /// A dial cancelled while its refusal is in flight, then another on the reused pd: it
    /// must end refused, whatever woke it (golang/go#19289, #14548).
    DialRefusedReusedPd,
}

impl Scenario {
    /// Every scenario, in a stable order.
    pub const ALL: &'static [Scenario] = &[
        Scenario::CloseUnblocksRead,
        Scenario::DeadlineUnblocksRead,
        Scenario::CloseUnblocksWrite,
        Scenario::ReusedPdStaleError,
        Scenario::WriteWakesRead,
        Scenario::ReadTimeout,
        Scenario::WriteTimeout,
        Scenario::ReadTimeoutMustNotReturn,
        Scenario::WriteTimeoutMustNotReturn,
        Scenario::VariousDeadlines,
        Scenario::DeadlineExtendedWhileBlocked,
        Scenario::DeadlineMovedToPastUnblocks,
        Scenario::DeadlineRace,
        Scenario::CombinedDeadline,
        Scenario::DeadlineNowAndZero,
        Scenario::CloseBlockedReadWrite,
        Scenario::CloseRacesDeadline,
        Scenario::PeerCloseEof,
        Scenario::ReusedPdStaleEvent,
        Scenario::DeadlineMovedEarlier,
        Scenario::DeadlineResetAtExpiry,
        Scenario::SocketChurn,
        Scenario::DialRefusedReusedPd,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::CloseUnblocksRead => "close-unblocks-read",
            Scenario::DeadlineUnblocksRead => "deadline-unblocks-read",
            Scenario::CloseUnblocksWrite => "close-unblocks-write",
            Scenario::ReusedPdStaleError => "reused-pd-stale-error",
            Scenario::WriteWakesRead => "write-wakes-read",
            Scenario::ReadTimeout => "read-timeout",
            Scenario::WriteTimeout => "write-timeout",
            Scenario::ReadTimeoutMustNotReturn => "read-timeout-must-not-return",
            Scenario::WriteTimeoutMustNotReturn => "write-timeout-must-not-return",
            Scenario::VariousDeadlines => "various-deadlines",
            Scenario::DeadlineExtendedWhileBlocked => "deadline-extended-while-blocked",
            Scenario::DeadlineMovedToPastUnblocks => "deadline-moved-to-past-unblocks",
            Scenario::DeadlineRace => "deadline-race",
            Scenario::CombinedDeadline => "combined-deadline",
            Scenario::DeadlineNowAndZero => "deadline-now-and-zero",
            Scenario::CloseBlockedReadWrite => "close-blocked-read-write",
            Scenario::CloseRacesDeadline => "close-races-deadline",
            Scenario::PeerCloseEof => "peer-close-eof",
            Scenario::ReusedPdStaleEvent => "reused-pd-stale-event",
            Scenario::DeadlineMovedEarlier => "deadline-moved-earlier",
            Scenario::DeadlineResetAtExpiry => "deadline-reset-at-expiry",
            Scenario::SocketChurn => "socket-churn",
            Scenario::DialRefusedReusedPd => "dial-refused-reused-pd",
        }
    }

    /// One line about what it exercises.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::CloseUnblocksRead => {
                "a task blocks reading an empty pipe while another closes it (golang/go#45211)"
            }
            Scenario::DeadlineUnblocksRead => {
                "a task starts reading an empty pipe just as its read deadline expires"
            }
            Scenario::CloseUnblocksWrite => {
                "a task blocks writing a full pipe while another closes it (#45211, write side)"
            }
            Scenario::ReusedPdStaleError => {
                "an error event in flight for a closed fd meets the pd's next use (#59545)"
            }
            Scenario::WriteWakesRead => {
                "a task blocks reading a pipe until another writes to it and closes it"
            }
            Scenario::ReadTimeout => "a past read deadline fails at once with data ready; a short one returns data, then times out",
            Scenario::WriteTimeout => "a past write deadline fails at once with room to write; a short one writes, then times out",
            Scenario::ReadTimeoutMustNotReturn => "past deadlines, read deadline cleared: a read blocks until Close, which gives Closed",
            Scenario::WriteTimeoutMustNotReturn => "past deadlines, write deadline cleared: writes block until Close, which gives Closed",
            Scenario::VariousDeadlines => "deadlines from 1 ns to 1 s on a copy loop end in a timeout, never early",
            Scenario::DeadlineExtendedWhileBlocked => "deadlines extended while a read and a write block delay their timeouts",
            Scenario::DeadlineMovedToPastUnblocks => "a deadline moved into the past wakes the blocked read, then the blocked write, at once",
            Scenario::DeadlineRace => "two tasks reset deadlines while a reader and a writer run; nothing hangs",
            Scenario::CombinedDeadline => "read and write deadlines equal, apart, equal again: each times out at its own",
            Scenario::DeadlineNowAndZero => "a deadline of exactly now has expired; clearing a deadline stops its timer",
            Scenario::CloseBlockedReadWrite => "Close while a read and a write block: both get Closed, the fd closes once, after them",
            Scenario::CloseRacesDeadline => "Close races a firing deadline timer; the firing is harmless, also to the pd's next use",
            Scenario::PeerCloseEof => "the peer closing gives a blocked reader EOF and a blocked writer a broken pipe",
            Scenario::ReusedPdStaleEvent => {
                "a stale readiness event meets the pd's next user, who re-checks each wake (#19289)"
            }
            Scenario::DeadlineMovedEarlier => {
                "a deadline moved earlier (still ahead) while a read blocks brings its timeout forward (#42515)"
            }
            Scenario::DeadlineResetAtExpiry => {
                "a deadline set again exactly as the previous one fires, a read blocked (#35532)"
            }
            Scenario::SocketChurn => {
                "short-lived connections reuse one pd, its fdseq growing; every read gets its byte (#72900)"
            }
            Scenario::DialRefusedReusedPd => {
                "a dial cancelled while refused, then another on the reused pd: it must end refused (#19289)"
            }
        }
    }

    /// Run the scenario on `np`, in the current task of its platform.
    pub fn run<P: Platform>(self, np: &Arc<NetPoll<P>>) {
        match self {
            Scenario::CloseUnblocksRead => close_unblocks_read(np),
            Scenario::DeadlineUnblocksRead => deadline_unblocks_read(np),
            Scenario::CloseUnblocksWrite => close_unblocks_write(np),
            Scenario::ReusedPdStaleError => reused_pd_stale_error(np),
            Scenario::WriteWakesRead => write_wakes_read(np),
            Scenario::ReadTimeout => read_timeout(np),
            Scenario::WriteTimeout => write_timeout(np),
            Scenario::ReadTimeoutMustNotReturn => read_timeout_must_not_return(np),
            Scenario::WriteTimeoutMustNotReturn => write_timeout_must_not_return(np),
            Scenario::VariousDeadlines => various_deadlines(np),
            Scenario::DeadlineExtendedWhileBlocked => deadline_extended_while_blocked(np),
            Scenario::DeadlineMovedToPastUnblocks => deadline_moved_to_past_unblocks(np),
            Scenario::DeadlineRace => deadline_race(np),
            Scenario::CombinedDeadline => combined_deadline(np),
            Scenario::DeadlineNowAndZero => deadline_now_and_zero(np),
            Scenario::CloseBlockedReadWrite => close_blocked_read_write(np),
            Scenario::CloseRacesDeadline => close_races_deadline(np),
            Scenario::PeerCloseEof => peer_close_eof(np),
            Scenario::ReusedPdStaleEvent => reused_pd_stale_event(np),
            Scenario::DeadlineMovedEarlier => deadline_moved_earlier(np),
            Scenario::DeadlineResetAtExpiry => deadline_reset_at_expiry(np),
            Scenario::SocketChurn => socket_churn(np),
            Scenario::DialRefusedReusedPd => dial_refused_reused_pd(np),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Scenario::ALL
            .iter()
            .copied()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Scenario::ALL.iter().map(|c| c.name()).collect();
                format!(
                    "unknown scenario '{s}' (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// A pipe whose read end is wrapped in an [`Fd`]; the write end stays a raw fd.
pub(crate) fn pipe_fd<P: Platform>(np: &Arc<NetPoll<P>>) -> (Arc<Fd<P>>, i32) {
    let (r, w) = np.platform().backend().pipe().expect("scenario: pipe");
    let fd = Fd::new(np.clone(), r).expect("scenario: open pd for pipe");
    (Arc::new(fd), w)
}

/// Close a raw fd created by a scenario.
pub(crate) fn close_raw<P: Platform>(np: &Arc<NetPoll<P>>, fd: i32) {
    np.platform()
        .backend()
        .close_fd(fd)
        .expect("scenario: close raw fd");
}

/// Spawn `f` on the platform and return its join handle.
pub(crate) fn spawn<P: Platform, F: FnOnce() + Send + 'static>(
    np: &Arc<NetPoll<P>>,
    name: &'static str,
    f: F,
) -> <P::Sched as Scheduler>::JoinHandle {
    np.platform().sched().spawn(name, f)
}

/// Describe an FD result for assertion messages.
pub(crate) fn outcome(res: &Result<usize, Error>) -> String {
    match res {
        Ok(n) => format!("Ok({n})"),
        Err(e) => format!("Err({})", e.kind_name()),
    }
}

/// A socket pair whose first end is wrapped in an [`Fd`]; the peer stays a raw fd.
pub(crate) fn socket_fd<P: Platform>(np: &Arc<NetPoll<P>>) -> (Arc<Fd<P>>, RawFd) {
    let (a, b) = np
        .platform()
        .backend()
        .socket_pair()
        .expect("scenario: socket pair");
    let fd = Fd::new(np.clone(), a).expect("scenario: open pd for socket");
    (Arc::new(fd), b)
}

/// A socket pair whose first end is wrapped in an [`Fd`] after its send buffer has been
/// filled (so a write through the FD blocks until the peer reads); the peer stays a raw fd.
pub(crate) fn socket_fd_full<P: Platform>(np: &Arc<NetPoll<P>>) -> (Arc<Fd<P>>, RawFd) {
    let (a, b) = np
        .platform()
        .backend()
        .socket_pair()
        .expect("scenario: socket pair");
    fill_raw(np, a);
    let fd = Fd::new(np.clone(), a).expect("scenario: open pd for socket");
    (Arc::new(fd), b)
}

/// Write through the raw fd `fd` until the kernel would block (large chunks first, then single
/// bytes, so that no room is left for a small write). Returns the bytes written.
pub(crate) fn fill_raw<P: Platform>(np: &Arc<NetPoll<P>>, fd: RawFd) -> usize {
    const CHUNK_BYTES: usize = 4096;
    let backend = np.platform().backend();
    let chunk = [0xa5_u8; CHUNK_BYTES];
    let mut total = 0;
    for len in [CHUNK_BYTES, 1] {
        loop {
            match backend.write(fd, &chunk[..len]) {
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("scenario: filling fd {fd}: {e}"),
            }
        }
    }
    total
}

/// Write all of `bytes` through the raw fd `fd`, which must have room for them.
pub(crate) fn write_raw<P: Platform>(np: &Arc<NetPoll<P>>, fd: RawFd, bytes: &[u8]) {
    let n = np
        .platform()
        .backend()
        .write(fd, bytes)
        .expect("scenario: raw write");
    assert_eq!(n, bytes.len(), "scenario: short raw write of {n} bytes");
}

/// Read through the raw fd `fd` until it would block or reports end of file; returns the bytes
/// and whether end of file was seen.
pub(crate) fn drain_raw<P: Platform>(np: &Arc<NetPoll<P>>, fd: RawFd) -> (Vec<u8>, bool) {
    let backend = np.platform().backend();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match backend.read(fd, &mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (got, false),
            Err(e) => panic!("scenario: draining fd {fd}: {e}"),
        }
    }
}

/// The platform clock's time: the scale of every deadline.
pub(crate) fn now_ns<P: Platform>(np: &Arc<NetPoll<P>>) -> i64 {
    np.platform().clock().now_ns()
}

/// Let `ns` of platform time pass.
pub(crate) fn sleep_ns<P: Platform>(np: &Arc<NetPoll<P>>, ns: i64) {
    np.platform().sched().sleep_ns(ns)
}

/// What an operation run by [`spawn_op`] ended with, and the platform time it ended at.
pub(crate) struct Ended {
    /// The operation's result.
    pub(crate) res: Result<usize, Error>,
    /// `now_ns()` just after it returned.
    pub(crate) at_ns: i64,
}

/// An operation running in its own task; [`Pending::join`] waits for it.
pub(crate) struct Pending<P: Platform> {
    np: Arc<NetPoll<P>>,
    handle: <P::Sched as Scheduler>::JoinHandle,
    slot: Arc<Mutex<Option<Ended>>>,
    /// Set (through the platform, so a simulator sees it) once the operation has returned.
    done: Arc<P::AtomicU32>,
}

impl<P: Platform> Pending<P> {
    /// Whether the operation has returned (one sequentially consistent load).
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(SeqCst) != 0
    }

    /// Wait for the task and return how its operation ended.
    pub(crate) fn join(self) -> Ended {
        self.np.platform().sched().join(self.handle);
        // The slot is written before the task ends and read after the join: no contention.
        let ended = self.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        ended.expect("scenario: the operation's task ended without a result")
    }
}

/// Run `op` in a new task named `name`, recording its result and the time it returned.
pub(crate) fn spawn_op<P: Platform>(
    np: &Arc<NetPoll<P>>,
    name: &'static str,
    op: impl FnOnce() -> Result<usize, Error> + Send + 'static,
) -> Pending<P> {
    let slot = Arc::new(Mutex::new(None));
    let done = Arc::new(P::AtomicU32::new(0, LocName::single(name, "done")));
    let (np2, slot2, done2) = (np.clone(), slot.clone(), done.clone());
    let handle = spawn(np, name, move || {
        let res = op();
        let at_ns = now_ns(&np2);
        *slot2.lock().unwrap_or_else(|e| e.into_inner()) = Some(Ended { res, at_ns });
        done2.store(1, SeqCst);
    });
    Pending {
        np: np.clone(),
        handle,
        slot,
        done,
    }
}

/// Assert that `ended` is a timeout that came no earlier than `deadline_ns` (`what` names the
/// operation). Only "not before" holds on every platform: a timer may fire late.
pub(crate) fn assert_timed_out(ended: &Ended, deadline_ns: i64, what: &str) {
    assert!(
        matches!(ended.res, Err(Error::DeadlineExceeded)),
        "{what}: expected DeadlineExceeded, got {}",
        outcome(&ended.res)
    );
    assert!(
        ended.at_ns >= deadline_ns,
        "{what}: timed out {} ns before its deadline",
        deadline_ns - ended.at_ns
    );
}
