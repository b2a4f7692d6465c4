//! The worker loop (Go: `schedule` and `findrunnable`), one per worker thread.
//!
//! Looking for the next task, in order: due timers of this worker; every 61st round the
//! global queue first (fairness); `runnext` and the local queue; the global queue; a
//! non-blocking poll of the OS poller when tasks wait on it and no other worker polls (what
//! it readies lands on this worker: the readiness is handled on the thread that found it);
//! stealing half of another worker's queue, and running other workers' due timers. A worker
//! that found nothing spins a few rounds (at most half the workers spin at once), runs a
//! stack-trim pass if one is due ([`super::trim`]), then either takes the poller role and
//! blocks in the OS poller until the earliest timer of any worker (when tasks wait on the
//! poller or timers are armed, no other worker holds the role, and no other worker is active:
//! an active worker polls by itself when it runs out of work), or sleeps on its futex until
//! woken (with a 10 ms backstop while tasks wait on the network and nobody blocks in the
//! poller, in case the active workers stay busy).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::sched::{bump, enter_worker, leave_worker, run_task, Shared, NOT_BLOCKING, NO_POLLER};
use super::timers::{Due, NO_TIMER};
use super::CoroNetPoll;
use crate::clock::monotonic_ns;
use netpoll::platform::Platform;

/// Every this many rounds a worker looks at the global queue before its own (Go: 61).
const GLOBAL_FAIRNESS: u64 = 61;

/// A spinning worker polls the network on every this many rounds.
const SPIN_POLL_EVERY: u32 = 4;

/// The longest a sleeping worker waits while tasks wait on the network and no worker blocks
/// in the poller (Go's sysmon polls after 10 ms without a poll).
const BACKSTOP: Duration = Duration::from_millis(10);

/// Start a thread that serves worker `w` (at start-up, or to take over from `blocking`).
pub(crate) fn start_worker_thread(np: &Arc<CoroNetPoll>, w: usize) -> std::io::Result<()> {
    let shared = np.platform().sched().shared.clone();
    let np = np.clone();
    let h = thread::Builder::new()
        .name(format!("netpoll-worker-{w}"))
        .spawn(move || run_worker(np, w))?;
    shared
        .threads
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(h);
    Ok(())
}

/// A worker thread's own scratch state.
struct Local {
    w: usize,
    tick: u64,
    due: Vec<Due>,
    spinning: bool,
}

fn run_worker(np: Arc<CoroNetPoll>, w: usize) {
    let shared = np.platform().sched().shared.clone();
    enter_worker(&shared, w);
    let mut local = Local {
        w,
        tick: 0,
        due: Vec::new(),
        spinning: false,
    };
    while let Some(id) = find_runnable(&np, &shared, &mut local) {
        if !run_task(&shared, id) {
            // This thread gave its worker to another thread (`blocking`): it is done.
            break;
        }
    }
    if local.spinning {
        shared.nspinning.fetch_sub(1, Ordering::SeqCst);
    }
    leave_worker();
}

/// Fire the due timers of worker `v` (this thread's own, or another's when stealing).
fn run_timers(np: &CoroNetPoll, shared: &Shared, v: usize, now_ns: i64, due: &mut Vec<Due>) {
    shared.workers[v].timers.take_due(now_ns, due);
    for d in due.drain(..) {
        match d {
            Due::Pd(firing) => np.run_timer(firing),
            Due::Wake(task) => shared.ready(task.0),
        }
    }
}

/// Stop counting this worker as spinning; it found work, so wake another to look for more
/// if there is surplus (Go: `resetspinning`).
fn stop_spinning(shared: &Shared, local: &mut Local, found: bool) {
    if local.spinning {
        local.spinning = false;
        shared.nspinning.fetch_sub(1, Ordering::SeqCst);
        if found && shared.workers[local.w].queued() > 0 {
            shared.wakep();
        }
    }
}

/// Go: `findrunnable`. The next task for this worker; `None` at shutdown.
fn find_runnable(np: &CoroNetPoll, shared: &Shared, local: &mut Local) -> Option<u32> {
    let w = local.w;
    let worker = &shared.workers[w];
    let nworkers = shared.workers.len();
    let mut spins = 0;
    loop {
        if shared.shutdown.load(Ordering::Relaxed) {
            return None;
        }
        local.tick += 1;
        let now = if worker.timers.next_when() != NO_TIMER {
            let now = monotonic_ns();
            run_timers(np, shared, w, now, &mut local.due);
            now
        } else {
            0
        };
        if local.tick.is_multiple_of(GLOBAL_FAIRNESS) {
            if let Some(id) = shared.pop_global(w) {
                stop_spinning(shared, local, true);
                return Some(id);
            }
        }
        if let Some(id) = worker.pop() {
            stop_spinning(shared, local, true);
            // Surplus work while others sleep: get help.
            if worker.queued() > 0 {
                shared.wakep();
            }
            return Some(id);
        }
        if let Some(id) = shared.pop_global(w) {
            stop_spinning(shared, local, true);
            return Some(id);
        }
        // The network, without blocking, if someone waits on it and nobody else polls (while
        // spinning, only every few rounds: each poll is a system call).
        if spins % SPIN_POLL_EVERY == 0
            && np.waiters() > 0
            && shared
                .poller
                .compare_exchange(NO_POLLER, w, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            bump(&shared.workers[w].stats.polls_nonblocking);
            let res = np.poll(0);
            shared.poller.store(NO_POLLER, Ordering::SeqCst);
            if let Err(e) = res {
                crate::fatal(&format!("netpoll: the OS poller failed: {e}"));
            }
            if let Some(id) = worker.pop() {
                stop_spinning(shared, local, true);
                if worker.queued() > 0 {
                    shared.wakep();
                }
                return Some(id);
            }
        }
        // Other workers: their queues, and their due timers.
        let now = if now == 0 { monotonic_ns() } else { now };
        for i in 1..nworkers {
            let v = (w + i) % nworkers;
            if shared.workers[v].timers.next_when() <= now {
                run_timers(np, shared, v, now, &mut local.due);
            }
        }
        if let Some(id) = worker.pop() {
            stop_spinning(shared, local, true);
            return Some(id);
        }
        if nworkers > 1 {
            if let Some(id) = shared.steal(w, (local.tick as usize) % nworkers) {
                stop_spinning(shared, local, true);
                return Some(id);
            }
        }
        // Nothing: spin a little before giving up the thread.
        if !local.spinning
            && spins < shared.config.spin_rounds
            && 2 * shared.nspinning.load(Ordering::SeqCst) < nworkers.max(2)
        {
            local.spinning = true;
            shared.nspinning.fetch_add(1, Ordering::SeqCst);
        }
        if local.spinning && spins < shared.config.spin_rounds {
            spins += 1;
            std::hint::spin_loop();
            continue;
        }
        stop_spinning(shared, local, false);
        spins = 0;
        // Idle: trim the stacks of long-parked tasks if a pass is due.
        shared
            .trimmer
            .maybe_pass(shared, monotonic_ns(), shared.total_switches());
        // Block in the poller if there is something to wait for, nobody else polls, and no
        // other worker is active (an active worker polls when it runs out of work, on its own
        // thread: blocking here would make the kernel wake this thread for events the active
        // one could take without a switch).
        let waiters = np.waiters();
        let next_timer = shared
            .next_timer()
            .min(shared.trimmer.due_ns(shared.total_switches()));
        let something = waiters > 0 || next_timer != NO_TIMER;
        if something
            && !shared.others_active(false)
            && shared
                .poller
                .compare_exchange(NO_POLLER, w, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            block_in_poller(np, shared, local);
            continue;
        }
        // Sleep. While nobody blocks in the poller and something waits on it, wake up now and
        // then (and by the next timer) in case the active workers stay busy: a backstop, as
        // Go's sysmon polls the network when no one has for a while.
        let timeout =
            (something && shared.poll_until.load(Ordering::SeqCst) == NOT_BLOCKING).then(|| {
                let until_timer = next_timer.saturating_sub(monotonic_ns()).max(0) as u64;
                Duration::from_nanos(until_timer).min(BACKSTOP)
            });
        shared.sleep(w, || np.waiters(), timeout);
    }
}

/// Go: the blocking `netpoll(delay)` at the end of `findrunnable`. Holding the poller role:
/// block in the OS poller until an event, a break, or the earliest timer of any worker (or
/// the next stack-trim pass); then release the role and fire every due timer.
fn block_in_poller(np: &CoroNetPoll, shared: &Shared, local: &mut Local) {
    let w = local.w;
    // Announce a blocking poll before reading the timers: a timer armed from now on sees
    // `poll_until` and breaks the poll if it is earlier than what we compute.
    shared.poll_until.store(i64::MAX, Ordering::SeqCst);
    let work_arrived = shared.workers[w].queued() > 0
        || shared.workers[w].runnext.load(Ordering::SeqCst) != 0
        || shared.has_global()
        || shared.shutdown.load(Ordering::SeqCst);
    if !work_arrived {
        let next = shared
            .next_timer()
            .min(shared.trimmer.due_ns(shared.total_switches()));
        shared.poll_until.store(next, Ordering::SeqCst);
        let delay_ns = if next == NO_TIMER {
            -1
        } else {
            next.saturating_sub(monotonic_ns()).max(0)
        };
        bump(&shared.workers[w].stats.polls_blocking);
        let res = np.poll(delay_ns);
        if let Err(e) = res {
            crate::fatal(&format!("netpoll: the OS poller failed: {e}"));
        }
    }
    shared.poll_until.store(NOT_BLOCKING, Ordering::SeqCst);
    shared.poller.store(NO_POLLER, Ordering::SeqCst);
    let now = monotonic_ns();
    for v in 0..shared.workers.len() {
        if shared.workers[v].timers.next_when() <= now {
            run_timers(np, shared, v, now, &mut local.due);
        }
    }
}
