//! `sysmon`'s check for overdue timers (Go: `sysmon` in `runtime/proc.go`, the NetBSD
//! workaround for golang/go#42515): a daemon that wakes every [`SYSMON_PERIOD_NS`] of
//! virtual time while a timer is armed, and, if one is overdue (its time has passed and the
//! dispatcher, asleep in a `netpoll` whose break was lost, has not run it), wakes the
//! dispatcher (Go: `startm` to get something to run the timer).
//!
//! It runs only where breaks can be lost (the `break` fault; Go: only on NetBSD), and its
//! check only under protocols that have the fix (`Protocol::sysmon_runs_overdue_timers`):
//! before it, a lost break left a timer unfired until the poller's own timeout.

use std::sync::{Arc, OnceLock, Weak};

use super::SimNetPoll;
use crate::engine::sched;

/// How long sysmon sleeps between checks at most (Go: 10 ms, sysmon's longest delay): the
/// bound on how late a due timer may fire when breaks can be lost.
pub const SYSMON_PERIOD_NS: i64 = 10_000_000;

/// Start sysmon for the netpoll in `np` (once, when the first timer is armed); returns its
/// task, which [`poke`] wakes when a timer is armed while it sleeps for want of one.
pub(crate) fn start(np: Arc<OnceLock<Weak<SimNetPoll>>>) -> u32 {
    let task = sched::spawn_parked_daemon("sysmon", move || {
        loop {
            if sched::shutting_down() {
                return;
            }
            let Some(np) = np.get().and_then(Weak::upgrade) else {
                return;
            };
            let armed = np.platform().clock.armed();
            let now = sched::now_ns();
            if np.protocol().sysmon_runs_overdue_timers()
                && armed.first().is_some_and(|t| t.0 <= now)
            {
                // Go: "netbsd has a kernel bug that sometimes misses netpollBreak wake-ups
                // ... If we detect this overrun, then startm to get something to handle the
                // timer."
                super::timers::kick_dispatcher(&np);
            }
            drop(np);
            if armed.is_empty() {
                // Nothing to watch: sleep until a timer is armed (Go's sysmon sleeps deeply
                // while every P is idle).
                sched::park("sysmon", || true);
            } else {
                sched::park_until("sysmon", now + SYSMON_PERIOD_NS, || true);
            }
        }
    });
    sched::mark_system(task);
    poke(task);
    task
}

/// A timer was armed: sysmon, if it sleeps for want of one, looks again within its period.
pub(crate) fn poke(task: u32) {
    sched::bring_forward(task, sched::now_ns() + SYSMON_PERIOD_NS);
}
