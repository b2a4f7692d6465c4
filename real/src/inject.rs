//! Fault injection for tests: events handed to the backend that its next `poll` reports as if
//! the kernel had, before the kernel's own. The fd-reuse test uses it to re-deliver a real
//! event harvested before its fd was closed and its number reused (an event "in flight").
//! The cost when unused is one relaxed load per poll.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use netpoll::platform::Event;

/// A queue of injected events.
#[derive(Debug, Default)]
pub(crate) struct Injected {
    any: AtomicBool,
    events: Mutex<Vec<Event>>,
}

impl Injected {
    /// Queue `ev` for the next poll.
    pub(crate) fn push(&self, ev: Event) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ev);
        self.any.store(true, Ordering::SeqCst);
    }

    /// Move the queued events into `out`; true if there were any.
    #[inline]
    pub(crate) fn drain_into(&self, out: &mut Vec<Event>) -> bool {
        if !self.any.load(Ordering::Relaxed) || !self.any.swap(false, Ordering::SeqCst) {
            return false;
        }
        let mut q = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let any = !q.is_empty();
        out.append(&mut q);
        any
    }
}
