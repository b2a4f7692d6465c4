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
}

impl Protocol {
    /// Every variant, in a stable order.
    pub const ALL: [Protocol; 5] = [
        Protocol::Fixed,
        Protocol::PreFix45211,
        Protocol::PreFix59545,
        Protocol::PreFix60782,
        Protocol::PreFix61454,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Fixed => "fixed",
            Protocol::PreFix45211 => "prefix-45211",
            Protocol::PreFix59545 => "prefix-59545",
            Protocol::PreFix60782 => "prefix-60782",
            Protocol::PreFix61454 => "prefix-61454",
        }
    }

    /// One line about the variant.
    pub fn description(self) -> &'static str {
        match self {
            Protocol::Fixed => {
                "Go's netpoll today: with the fixes for #45211, #59545, #60782 and #61454"
            }
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
