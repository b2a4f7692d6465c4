//! fd reuse on real epoll: an event for an fd is in flight (harvested from the kernel but not
//! yet applied) when the fd is closed and its number reused by a new pd. Delivering it then
//! must neither wake the new pd's waiter nor set its event-error bit (the fdseq tag in the
//! token makes it stale; golang/go#59545 was the error half of this).
//!
//! One test in this binary (running both platforms in turn), so no other test opens fds and
//! the number reuse is predictable.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use netpoll::fd::Fd;
use netpoll::platform::{Backend, Event, Mode, Platform};
use netpoll_real::testing::{bounded, manual, wait_until};
use netpoll_real::{sys, CoroRuntime, RealRuntime, Runtime};

const LIMIT: Duration = Duration::from_secs(10);
const SECOND_NS: i64 = 1_000_000_000;

#[test]
fn stale_event_after_fd_reuse_is_ignored() {
    stale_event_after_fd_reuse::<Runtime>();
    stale_event_after_fd_reuse::<CoroRuntime>();
}

fn stale_event_after_fd_reuse<R: RealRuntime>() {
    bounded(LIMIT, || {
        // No poller thread: the test decides when events are harvested and applied.
        let np = manual::<R>();
        let backend = np.platform().backend();

        let (r1, w1) = sys::pipe().unwrap();
        let fd1 = Fd::new(np.clone(), r1).unwrap();
        let pd = fd1.pd();
        sys::write(w1, b"old").unwrap();
        // Take the readiness event out of the kernel: it is now in flight.
        let mut evs = Vec::new();
        backend.poll(SECOND_NS, &mut evs).unwrap();
        let stale = *evs
            .iter()
            .find(|e| e.token.index() == pd.0)
            .expect("an event for the first fd");
        assert!(stale.mode.has_read());

        fd1.close().unwrap();
        sys::close(w1).unwrap();

        // The kernel hands out the lowest free number: the one just closed.
        let (r2, w2) = sys::pipe().unwrap();
        assert_eq!(r2, r1, "the fd number is reused");
        let fd2 = Arc::new(Fd::new(np.clone(), r2).unwrap());
        assert_eq!(fd2.pd(), pd, "the pd is reused too (LIFO cache)");
        assert_ne!(
            np.pd(pd).info().fdseq(),
            stale.token.tag() as u32 & netpoll::pd::info::FDSEQ_MASK,
            "the reused pd has a new fdseq"
        );

        let reader = fd2.clone();
        let h = thread::spawn(move || {
            let mut buf = [0u8; 16];
            let n = reader.read(&mut buf);
            n.map(|n| buf[..n].to_vec())
        });
        wait_until(Duration::from_secs(5), "the reader to park", || {
            np.waiters() == 1
        });

        // Deliver the stale event, and an error-only one with the same stale token.
        backend.inject(stale);
        backend.inject(Event {
            token: stale.token,
            mode: Mode::ReadWrite,
            error: true,
        });
        assert_eq!(np.poll(0).unwrap(), 0, "a stale event wakes nobody");
        assert_eq!(np.waiters(), 1);
        assert!(!h.is_finished());
        assert!(!np.pd(pd).info().event_err(), "a stale event sets no error");

        // A real event for the new fd still works.
        sys::write(w2, b"new").unwrap();
        assert_eq!(np.poll(SECOND_NS).unwrap(), 1);
        assert_eq!(h.join().unwrap().unwrap(), b"new");
        assert_eq!(np.waiters(), 0);
        fd2.close().unwrap();
        sys::close(w2).unwrap();
    });
}
