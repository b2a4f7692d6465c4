//! The poller: a long-lived daemon task of the platform that does what Go's scheduler does
//! when it has nothing to run - block in `netpoll` and make ready whatever became ready.

use std::sync::{Arc, OnceLock, Weak};

use super::SimNetPoll;
use crate::engine::sched;

/// Start the poller daemon for the netpoll in `np` (once, at the first registration). It
/// starts parked, as if waiting in `poll`: the kernel readies it when it queues an event.
/// Returns its task id.
pub(crate) fn start(np: Arc<OnceLock<Weak<SimNetPoll>>>) -> u32 {
    sched::spawn_parked_daemon("netpoll", move || {
        let Some(np) = np.get().and_then(Weak::upgrade) else {
            return;
        };
        while !sched::shutting_down() {
            // The simulated kernel's poll only fails for a real system call.
            let _ = np.poll(-1);
        }
    })
}
