//! The poller: a long-lived daemon task of the platform that does what Go's scheduler does
//! when it has nothing to run - block in `netpoll` and make ready whatever became ready. It
//! also stands for `sysmon`'s polls, so it runs from the poller's init on.

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
        // Once seen set, `inited` stays set: no need to simulate more loads of it.
        let mut inited = false;
        while !sched::shutting_down() {
            if np.protocol().polls_after_init_only() && !inited && !np.inited() {
                // Go (since golang/go#22606): sysmon and findrunnable poll only once
                // netpollinited(); until then, sleep (an event wakes it sooner).
                np.platform()
                    .backend
                    .wait_for_events(Some(sched::now_ns() + super::kernel::NOT_INITED_SLEEP_NS));
                continue;
            }
            inited = true;
            // The simulated kernel's poll only fails for a real system call.
            let _ = np.poll(-1);
        }
    })
}
