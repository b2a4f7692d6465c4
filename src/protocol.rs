//! Which version of the netpoll protocol the core runs.

use std::fmt;
use std::str::FromStr;

/// The protocol variant, chosen at run time so one build holds all of them.
///
/// Each historical variant is a small switch at the exact site of the old code; see the
/// `Protocol::...` checks in `netpoll.rs` and `pd.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// Go's netpoll today: `netpollcheckerr` reads one atomic summary word (`atomicInfo`)
    /// that every writer of `closing`/`rd`/`wd` publishes under the lock.
    #[default]
    Fixed,
    /// Before golang/go CL 378234 (#45211): `netpollcheckerr` reads the plain fields
    /// `closing`, `rd`, `wd` and `everr` without the lock, and writers rely on a sequentially
    /// consistent store to an unrelated location as a "full barrier" before loading `rg`/`wg`.
    /// Correct under x86-TSO, broken under ARMv8 / C11.
    ///
    /// Only the #45211 sites are switched back; the later fixes stay in place (the fdseq tag on
    /// events, rrun/wrun, the waiters delta), so this is "Go 1.21+ with #45211's old side"
    /// rather than any one Go release. One consequence: the fdseq check on an event and the
    /// plain `everr` store after it are not atomic together, so a pd reused in between can
    /// take a stale error (a #59545-like symptom that old Go had in a simpler form, with no
    /// fdseq check at all).
    PreFix45211,
    /// Before golang/go#59545 (Go 1.21): the poller applies every event to the pd its token
    /// names, without checking the pd's fdseq, and sets the event-error bit from it. An event
    /// still in flight for a closed fd then lands on the pd's next use: a stale EPOLLERR makes
    /// a read of the new fd fail with "not pollable". (The #45211 fix is in place.)
    PreFix59545,
    /// Before golang/go#60782 (Go 1.21): `netpollWaiters` was decremented in
    /// `netpollgoready`, which only the deadline and close paths call; a task woken by I/O
    /// readiness (through `netpollready`) stayed counted forever, so the count leaked.
    PreFix60782,
    /// Between golang/go#60782's fix and #61454's (Go's tip in July 2023, CL 503923 to
    /// CL 511455): `netpollunblock` decremented `netpollWaiters` itself, at the moment it took
    /// a parked task off the semaphore, before anyone had made that task ready. For a moment
    /// the count says nobody waits for the poller while the woken task is not runnable yet;
    /// a scheduler that skips polling when the count is 0 (Go's `findRunnable`) and then
    /// checks for deadlock (`checkdead`, with the poll done by `sysmon`, which does not count
    /// as running) reports "all goroutines are asleep". Go now returns the adjustment as a
    /// delta that callers apply after `goready`/`injectglist`. (The other fixes are in place.)
    PreFix61454,
    /// During Go 1.14's development (golang/go#35532, fixed by CL 207348): `runOneTimer` kept
    /// the timers lock while it ran the timer function. netpoll's deadline callbacks take the
    /// pd lock, and `set_deadline` holds the pd lock while it re-arms a timer (which takes the
    /// timers lock): a deadline changed just as the previous one fires deadlocks. The switch
    /// is in the platform's timer driver (the simulator's dispatcher; Go's `runOneTimer`),
    /// which reads [`Protocol::runs_timers_unlocked`].
    PreFix35532,
    /// Go 1.16 before CL 277332 (golang/go#42515): timers are run by the M that sleeps in
    /// `netpoll(delay)` until the earliest one, woken by `netpollBreak` when an earlier timer
    /// is armed. NetBSD's kernel sometimes lost that wake-up, and nothing else noticed an
    /// overdue timer: it fired only when the poller's old timeout ran out. The fix: `sysmon`
    /// checks for overdue timers and starts an M to run them. The switch is in the platform's
    /// model of sysmon ([`Protocol::sysmon_runs_overdue_timers`]); the lost break is a fault
    /// of the simulated kernel.
    PreFix42515,
    /// Go 1.23 to 1.25 on 32-bit little-endian machines (golang/go#72900, fixed by golang/go
    /// pull request #81037): `netpoll` told the break's eventfd from a pd by comparing only
    /// the low word of the event's data with the eventfd's address. A pd's low word is its
    /// fdseq tag, so once a pd has been reused often enough for its fdseq to equal that
    /// address, its events are taken for the break: "netpoll: eventfd ready for something
    /// unexpected", or a readiness swallowed. The switch is in the backend's `netpoll`
    /// ([`Protocol::compares_whole_tokens`]).
    PreFix72900,
    /// Go 1.8's `netFD.connect` (golang/go#19289, with #14548 before it): after a wake,
    /// `SO_ERROR` 0 meant "connected". But the poller may wake a waiter spuriously - an event
    /// in flight for a closed fd can wake the next user of its pd - and a socket still
    /// connecting has `SO_ERROR` 0 too, so Dial returned an unconnected socket, and its first
    /// Write reported the refusal meant for Dial. Go 1.9 checks `getpeername` and waits again
    /// if it fails. The switch is in the FD layer's connect ([`Protocol::connect_checks_peer`]).
    PreFix19289,
    /// Go 1.9 (golang/go#22606, fixed in Go 1.10): `sysmon` polled the network without
    /// checking that the poller had been initialised, and `netpoll` only checked that the
    /// descriptor was not -1. On a kernel without `epoll_create1`, `netpollinit` first stored
    /// that call's -ENOSYS in the descriptor and then the fallback's result: a poll in between
    /// used descriptor -38 and threw. The fix: every caller of `netpoll` checks
    /// `netpollinited()` first. The switch is in the platform's poller
    /// ([`Protocol::polls_after_init_only`]).
    PreFix22606,
}

impl Protocol {
    /// Every variant, in a stable order.
    pub const ALL: [Protocol; 10] = [
        Protocol::Fixed,
        Protocol::PreFix45211,
        Protocol::PreFix59545,
        Protocol::PreFix60782,
        Protocol::PreFix61454,
        Protocol::PreFix35532,
        Protocol::PreFix42515,
        Protocol::PreFix72900,
        Protocol::PreFix19289,
        Protocol::PreFix22606,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Fixed => "fixed",
            Protocol::PreFix45211 => "prefix-45211",
            Protocol::PreFix59545 => "prefix-59545",
            Protocol::PreFix60782 => "prefix-60782",
            Protocol::PreFix61454 => "prefix-61454",
            Protocol::PreFix35532 => "prefix-35532",
            Protocol::PreFix42515 => "prefix-42515",
            Protocol::PreFix72900 => "prefix-72900",
            Protocol::PreFix19289 => "prefix-19289",
            Protocol::PreFix22606 => "prefix-22606",
        }
    }

    /// One line about the variant.
    pub fn description(self) -> &'static str {
        match self {
            Protocol::Fixed => "Go's netpoll today: with the fixes of every other variant",
            Protocol::PreFix45211 => {
                "before golang/go#45211: checkerr reads closing/rd/wd/everr without the lock"
            }
            Protocol::PreFix59545 => {
                "before golang/go#59545: poll events are not checked against the pd's fdseq"
            }
            Protocol::PreFix60782 => {
                "before golang/go#60782: the waiters count is decremented only in netpollgoready"
            }
            Protocol::PreFix61454 => {
                "before golang/go#61454: netpollunblock drops the waiters count before the task is ready"
            }
            Protocol::PreFix35532 => {
                "before golang/go#35532: timers run with the timers lock held (pd lock order inverted)"
            }
            Protocol::PreFix42515 => {
                "before golang/go#42515: nothing notices a timer overdue after a lost poller break"
            }
            Protocol::PreFix72900 => {
                "before golang/go#72900: the break is told from a pd by the token's low word alone"
            }
            Protocol::PreFix19289 => {
                "before golang/go#19289: connect takes any wake with SO_ERROR 0 for a connection"
            }
            Protocol::PreFix22606 => {
                "before golang/go#22606: the poller polls before init has published the descriptor"
            }
        }
    }

    /// Whether `netpollcheckerr` reads the plain fields (the pre-#45211 code).
    pub fn racy_checkerr(self) -> bool {
        matches!(self, Protocol::PreFix45211)
    }

    /// Whether `netpollunblock` counts the waiter it wakes (false only for the pre-#60782
    /// code, which decremented in `netpollgoready` instead).
    pub fn unblock_counts_waiters(self) -> bool {
        !matches!(self, Protocol::PreFix60782)
    }

    /// Whether `netpollunblock` hands its waiters adjustment back as a delta for the caller to
    /// apply once the woken task is ready (false only for the pre-#61454 code, which applied
    /// it at once).
    pub fn defers_waiters_delta(self) -> bool {
        !matches!(self, Protocol::PreFix61454)
    }

    /// Whether the platform's timer driver runs a timer's function without the timers lock
    /// (false only for the pre-#35532 code). Read by platforms, not by the core.
    pub fn runs_timers_unlocked(self) -> bool {
        !matches!(self, Protocol::PreFix35532)
    }

    /// Whether the platform's sysmon starts a thread for timers that are overdue (false only
    /// for the pre-#42515 code). Read by platforms, not by the core.
    pub fn sysmon_runs_overdue_timers(self) -> bool {
        !matches!(self, Protocol::PreFix42515)
    }

    /// Whether the backend's `netpoll` compares whole tokens to tell its break from a pd
    /// (false only for the pre-#72900 code, which compared the low word). Read by platforms.
    pub fn compares_whole_tokens(self) -> bool {
        !matches!(self, Protocol::PreFix72900)
    }

    /// Whether the FD layer's connect checks that a socket whose `SO_ERROR` is 0 really is
    /// connected (`getpeername`) before returning (false only for the pre-#19289 code).
    pub fn connect_checks_peer(self) -> bool {
        !matches!(self, Protocol::PreFix19289)
    }

    /// Whether a platform's poller waits for [`NetPoll::inited`](crate::NetPoll::inited)
    /// before it polls (false only for the pre-#22606 code). Read by platforms.
    pub fn polls_after_init_only(self) -> bool {
        !matches!(self, Protocol::PreFix22606)
    }

    /// Whether the poller drops events whose token carries an older fdseq than the pd's
    /// (false only for the pre-#59545 code).
    pub fn checks_event_fdseq(self) -> bool {
        !matches!(self, Protocol::PreFix59545)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Protocol::ALL
            .iter()
            .copied()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Protocol::ALL.iter().map(|p| p.name()).collect();
                format!(
                    "unknown protocol '{s}' (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}
