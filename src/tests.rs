//! Unit tests of the core's state machine on the single-threaded test platform.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use crate::pd::{info, sema_name, task_word, word_task, PollInfo, PD_NIL, PD_READY, PD_WAIT};
use crate::platform::{Atomic, Event, Mode, PlainCell, TaskId, TimerFunc, Token};
use crate::testplat::{TestPlatform, CAS32_FAILURES, LAST_COMMIT};
use crate::{NetPoll, Pd, PollError, Protocol};

fn np(protocol: Protocol) -> Arc<NetPoll<TestPlatform>> {
    Arc::new(NetPoll::new(TestPlatform::default(), protocol))
}

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn token_of(np: &NetPoll<TestPlatform>, fd: i32) -> Token {
    let regs = np.platform().backend.registered.lock().unwrap();
    regs.iter().find(|r| r.0 == fd).expect("fd registered").1
}

#[test]
fn double_wait_panics() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    // Another task has announced a wait on the read semaphore.
    np.pd(pd).rg.store(PD_WAIT, SeqCst);
    let msg = panic_message(|| {
        np.wait(pd, Mode::Read).ok();
    });
    assert!(msg.contains("double wait"), "{msg}");
    // A parked task in the semaphore is just as much a second waiter.
    np.pd(pd).rg.store(task_word(TaskId(9)), SeqCst);
    let msg = panic_message(|| {
        np.netpollblock(np.pd(pd), Mode::Read, false);
    });
    assert!(msg.contains("double wait"), "{msg}");
}

#[test]
fn netpollunblock_on_ready_pd_does_nothing() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    let tok = token_of(&np, 3);
    np.platform().backend.queued.lock().unwrap().push(Event {
        token: tok,
        mode: Mode::Read,
        error: false,
    });
    assert_eq!(np.poll(0).unwrap(), 0, "nobody waited, nobody to wake");
    let p = np.pd(pd);
    assert_eq!(p.rg.load(SeqCst), PD_READY);
    for ioready in [false, true] {
        let mut delta = 0;
        assert_eq!(np.netpollunblock(p, Mode::Read, ioready, &mut delta), None);
        assert_eq!(delta, 0);
        assert_eq!(
            p.rg.load(SeqCst),
            PD_READY,
            "ready must survive (ioready={ioready})"
        );
    }
    // The pending notification is consumed by the next wait without parking.
    assert_eq!(np.wait(pd, Mode::Read), Ok(()));
    assert_eq!(p.rg.load(SeqCst), PD_NIL);
    // On a nil semaphore a non-I/O unblock leaves nothing behind.
    let mut delta = 0;
    assert_eq!(np.netpollunblock(p, Mode::Read, false, &mut delta), None);
    assert_eq!(p.rg.load(SeqCst), PD_NIL);
}

#[test]
fn set_deadline_bumps_seq_and_stale_firing_is_harmless() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    let p = np.pd(pd);
    let seq0 = p.rseq.get();
    np.set_deadline(pd, 1_000, Mode::Read);
    assert!(p.rrun.get());
    assert_eq!(p.rseq.get(), seq0, "first arming uses the current seq");
    let first = np.platform().clock.armed.lock().unwrap()[0].2;
    assert_eq!(first.func, TimerFunc::ReadDeadline);
    assert_eq!(first.seq, seq0);

    np.set_deadline(pd, 2_000, Mode::Read);
    assert_eq!(p.rseq.get(), seq0 + 1, "moving the deadline bumps rseq");
    let armed = np.platform().clock.armed.lock().unwrap().clone();
    assert_eq!(armed.len(), 1);
    assert_eq!(armed[0].2.seq, seq0 + 1);

    // The in-flight firing of the first arming finds a stale seq and does nothing.
    np.run_timer(first);
    assert!(p.rd.get() > 0, "stale timer must not expire the deadline");
    assert!(np.checkerr(p, Mode::Read).is_ok());
    // The current one expires it.
    np.run_timer(armed[0].2);
    assert_eq!(p.rd.get(), -1);
    assert_eq!(np.checkerr(p, Mode::Read), Err(PollError::Timeout));
    assert_eq!(np.checkerr(p, Mode::Write), Ok(()));

    // Clearing stops the timer and bumps again.
    np.set_deadline(pd, 0, Mode::Read);
    assert_eq!(p.rseq.get(), seq0 + 2);
    assert!(!p.rrun.get());
    assert!(np.platform().clock.armed.lock().unwrap().is_empty());
    assert_eq!(np.checkerr(p, Mode::Read), Ok(()));
}

#[test]
fn combo_timer_when_read_and_write_deadlines_match() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    let p = np.pd(pd);
    np.set_deadline(pd, 5_000, Mode::ReadWrite);
    let armed = np.platform().clock.armed.lock().unwrap().clone();
    assert_eq!(armed.len(), 1, "rd == wd arms one combined timer");
    assert_eq!(armed[0].2.func, TimerFunc::Deadline);
    assert!(p.rrun.get() && !p.wrun.get());
    np.run_timer(armed[0].2);
    assert_eq!(np.checkerr(p, Mode::Read), Err(PollError::Timeout));
    assert_eq!(np.checkerr(p, Mode::Write), Err(PollError::Timeout));

    // Splitting the deadlines re-arms both timers separately and bumps both seqs.
    let pd2 = np.open(4).unwrap();
    let p2 = np.pd(pd2);
    np.set_deadline(pd2, 5_000, Mode::ReadWrite);
    let (r0, w0) = (p2.rseq.get(), p2.wseq.get());
    np.set_deadline(pd2, 9_000, Mode::Write);
    assert_eq!(
        p2.rseq.get(),
        r0 + 1,
        "combo -> read-only timer invalidates the combo"
    );
    assert!(p2.wrun.get());
    assert_eq!(p2.wseq.get(), w0, "write timer armed fresh");
    let funcs: Vec<_> = np
        .platform()
        .clock
        .armed
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.2.func)
        .collect();
    assert!(funcs.contains(&TimerFunc::ReadDeadline) && funcs.contains(&TimerFunc::WriteDeadline));
}

#[test]
fn past_deadline_fails_wait_at_once() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    np.set_deadline(pd, -1, Mode::Write);
    assert_eq!(np.wait(pd, Mode::Write), Err(PollError::Timeout));
    assert_eq!(np.reset(pd, Mode::Write), Err(PollError::Timeout));
    // The read side has no deadline.
    assert_eq!(np.reset(pd, Mode::Read), Ok(()));
}

#[test]
fn wait_parks_and_readiness_wakes_and_waiters_return_to_zero() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    let tok = token_of(&np, 3);
    let np2 = np.clone();
    *np.platform().sched.on_park.lock().unwrap() = Some(Box::new(move || {
        // While parked: the task is in rg and counted as a waiter.
        assert_eq!(np2.pd(Pd(0)).rg.load(SeqCst), task_word(TaskId(7)));
        assert_eq!(np2.waiters(), 1);
        np2.platform().backend.queued.lock().unwrap().push(Event {
            token: tok,
            mode: Mode::ReadWrite,
            error: false,
        });
        assert_eq!(np2.poll(0).unwrap(), 1);
    }));
    assert_eq!(np.wait(pd, Mode::Read), Ok(()));
    assert_eq!(LAST_COMMIT.with(|c| *c.borrow()), Some(true));
    assert_eq!(np.waiters(), 0);
    assert_eq!(
        np.pd(pd).wg.load(SeqCst),
        PD_READY,
        "write readiness stays pending"
    );
}

#[test]
fn close_wakes_parked_waiter_with_closing() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    let np2 = np.clone();
    *np.platform().sched.on_park.lock().unwrap() = Some(Box::new(move || np2.unblock(pd)));
    assert_eq!(np.wait(pd, Mode::Read), Err(PollError::Closing));
    assert_eq!(np.waiters(), 0);
    np.close(pd).unwrap();
    assert!(np.platform().backend.registered.lock().unwrap().is_empty());
}

#[test]
fn deadline_wakes_parked_waiter_with_timeout() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    np.set_deadline(pd, 100, Mode::Read);
    let np2 = np.clone();
    *np.platform().sched.on_park.lock().unwrap() = Some(Box::new(move || {
        let firing = np2.platform().clock.armed.lock().unwrap()[0].2;
        np2.run_timer(firing);
    }));
    assert_eq!(np.wait(pd, Mode::Read), Err(PollError::Timeout));
    assert_eq!(np.waiters(), 0);
}

#[test]
fn commit_fails_when_woken_between_announce_and_park() {
    // The waker changes wait -> nil before the commit: the commit must fail and the task
    // must not stay parked.
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    let p = np.pd(pd);
    assert!(p.rg.cas(PD_NIL, PD_WAIT));
    np.set_deadline(pd, -5, Mode::Read); // publishes, then unblocks: wait -> nil
    assert_eq!(p.rg.load(SeqCst), PD_NIL);
    assert!(!p.rg.cas(PD_WAIT, task_word(TaskId(7))), "commit must fail");
    assert_eq!(np.waiters(), 0);
}

#[test]
fn event_error_reported_on_read_only() {
    for protocol in Protocol::ALL {
        let np = np(protocol);
        let pd = np.open(3).unwrap();
        let tok = token_of(&np, 3);
        np.platform().backend.queued.lock().unwrap().push(Event {
            token: tok,
            mode: Mode::ReadWrite,
            error: true,
        });
        np.poll(0).unwrap();
        assert_eq!(
            np.checkerr(np.pd(pd), Mode::Read),
            Err(PollError::NotPollable),
            "{protocol}"
        );
        assert_eq!(np.checkerr(np.pd(pd), Mode::Write), Ok(()), "{protocol}");
        // A later good event clears it.
        np.platform().backend.queued.lock().unwrap().push(Event {
            token: tok,
            mode: Mode::Read,
            error: false,
        });
        np.poll(0).unwrap();
        assert_eq!(np.checkerr(np.pd(pd), Mode::Read), Ok(()), "{protocol}");
    }
}

#[test]
fn stale_event_for_reused_pd_is_ignored() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    let old = token_of(&np, 3);
    np.unblock(pd);
    np.close(pd).unwrap();
    let pd2 = np.open(3).unwrap();
    assert_eq!(pd2, pd, "the cache reuses the freed pd");
    let new = token_of(&np, 3);
    assert_eq!(old.index(), new.index());
    assert_ne!(old.tag(), new.tag(), "fdseq moved on");
    np.platform().backend.queued.lock().unwrap().push(Event {
        token: old,
        mode: Mode::ReadWrite,
        error: true,
    });
    np.poll(0).unwrap();
    let p = np.pd(pd2);
    assert_eq!(
        p.rg.load(SeqCst),
        PD_NIL,
        "stale event must not ready the new pd"
    );
    assert_eq!(
        np.checkerr(p, Mode::Read),
        Ok(()),
        "stale error must not mark the new pd"
    );
    // A direct set_event_err with the old tag is refused too.
    p.set_event_err(true, old.tag());
    assert_eq!(np.checkerr(p, Mode::Read), Ok(()));
    // An error of the pd's current use is reported: only older uses' events are dropped.
    np.platform().backend.queued.lock().unwrap().push(Event {
        token: new,
        mode: Mode::ReadWrite,
        error: true,
    });
    np.poll(0).unwrap();
    assert_eq!(
        np.checkerr(p, Mode::Read),
        Err(PollError::NotPollable),
        "the current use's error event must be reported"
    );
    // Two uses later, an error of the second use is still refused: every kept bit of the tag
    // counts (tags 2 and 4 share the lowest bit).
    for _ in 0..2 {
        np.unblock(pd);
        np.close(pd).unwrap();
        assert_eq!(np.open(3).unwrap(), pd, "the cache reuses the freed pd");
    }
    let p = np.pd(pd);
    assert_eq!((new.tag(), token_of(&np, 3).tag()), (2, 4));
    p.set_event_err(true, new.tag());
    assert_eq!(
        np.checkerr(p, Mode::Read),
        Ok(()),
        "an error of the second use must not mark the fourth"
    );
}

#[test]
fn misuse_panics_with_go_meaning() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    let msg = panic_message(|| {
        np.close(pd).ok();
    });
    assert!(msg.contains("close polldesc w/o unblock"), "{msg}");
    np.unblock(pd);
    let msg = panic_message(|| np.unblock(pd));
    assert!(msg.contains("unblock on closing polldesc"), "{msg}");
}

#[test]
fn open_failure_returns_pd_to_cache() {
    let np = np(Protocol::Fixed);
    assert!(np.open(-1).is_err());
    let pd = np.open(5).unwrap();
    assert_eq!(pd, Pd(0), "the pd of the failed open was reused");
}

#[test]
fn prefix_checkerr_reads_plain_fields() {
    let np = np(Protocol::PreFix45211);
    let pd = np.open(3).unwrap();
    let p = np.pd(pd);
    np.unblock(pd);
    assert!(p.closing.get());
    assert_eq!(
        p.atomic_info.load(SeqCst) & crate::pd::info::CLOSING,
        0,
        "pre-fix publishes nothing"
    );
    assert_eq!(np.checkerr(p, Mode::Read), Err(PollError::Closing));
}

#[test]
fn cache_grows_in_blocks_and_reuses() {
    let np = np(Protocol::Fixed);
    let pds: Vec<Pd> = (0..40).map(|i| np.open(100 + i).unwrap()).collect();
    let mut sorted = pds.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 40);
    for &pd in &pds[..10] {
        np.unblock(pd);
        np.close(pd).unwrap();
    }
    let again: Vec<Pd> = (0..10).map(|i| np.open(200 + i).unwrap()).collect();
    for pd in again {
        assert!(pds[..10].contains(&pd));
    }
}

#[test]
fn prefix_59545_applies_stale_events_to_the_reused_pd() {
    let np = np(Protocol::PreFix59545);
    let pd = np.open(3).unwrap();
    let old = token_of(&np, 3);
    np.unblock(pd);
    np.close(pd).unwrap();
    let pd2 = np.open(3).unwrap();
    assert_eq!(pd2, pd);
    np.platform().backend.queued.lock().unwrap().push(Event {
        token: old,
        mode: Mode::ReadWrite,
        error: true,
    });
    np.poll(0).unwrap();
    // The old code: the stale error marks the new use and readies it.
    assert_eq!(
        np.checkerr(np.pd(pd2), Mode::Read),
        Err(PollError::NotPollable)
    );
    assert_eq!(np.pd(pd2).rg.load(SeqCst), PD_READY);
}

#[test]
fn protocol_names_round_trip() {
    for p in Protocol::ALL {
        assert_eq!(p.name().parse::<Protocol>(), Ok(p));
    }
    let err = "prefix-1".parse::<Protocol>().unwrap_err();
    assert!(err.contains("prefix-59545"), "{err}");
}

#[test]
fn prefix_60782_counts_waiters_only_in_goready() {
    // Readiness wakes the parked task without touching the count (the leak); close wakes it
    // and decrements in netpollgoready.
    for (wake_by_close, leaked) in [(false, 1), (true, 0)] {
        let np = np(Protocol::PreFix60782);
        let pd = np.open(3).unwrap();
        let tok = token_of(&np, 3);
        let np2 = np.clone();
        *np.platform().sched.on_park.lock().unwrap() = Some(Box::new(move || {
            assert_eq!(np2.waiters(), 1);
            if wake_by_close {
                np2.unblock(Pd(0));
            } else {
                np2.platform().backend.queued.lock().unwrap().push(Event {
                    token: tok,
                    mode: Mode::Read,
                    error: false,
                });
                np2.poll(0).unwrap();
            }
        }));
        let _ = np.wait(pd, Mode::Read);
        assert_eq!(np.waiters(), leaked, "wake_by_close={wake_by_close}");
    }
}

/// How a parked reader gets woken in the tests below.
#[derive(Clone, Copy, Debug)]
enum Waker {
    Readiness,
    Close,
    Deadline,
}

/// Park a reader on a fresh pd of a poller running `protocol`, wake it by `waker`, and return
/// the waiters count seen at the moment the reader was made ready, and the count after.
fn waiters_when_readied(protocol: Protocol, waker: Waker) -> (Vec<u32>, u32) {
    let np = np(protocol);
    let pd = np.open(3).unwrap();
    let tok = token_of(&np, 3);
    if matches!(waker, Waker::Deadline) {
        np.set_deadline(pd, 100, Mode::Read);
    }
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (weak, seen2) = (Arc::downgrade(&np), seen.clone());
    *np.platform().sched.on_ready.lock().unwrap() = Some(Box::new(move |_| {
        let np = weak.upgrade().expect("poller alive");
        seen2.lock().unwrap().push(np.waiters());
    }));
    let np2 = np.clone();
    *np.platform().sched.on_park.lock().unwrap() = Some(Box::new(move || {
        assert_eq!(np2.waiters(), 1, "the parked reader is counted");
        match waker {
            Waker::Readiness => {
                np2.platform().backend.queued.lock().unwrap().push(Event {
                    token: tok,
                    mode: Mode::Read,
                    error: false,
                });
                np2.poll(0).unwrap();
            }
            Waker::Close => np2.unblock(Pd(0)),
            Waker::Deadline => {
                let firing = np2.platform().clock.armed.lock().unwrap()[0].2;
                np2.run_timer(firing);
            }
        }
    }));
    let _ = np.wait(pd, Mode::Read);
    let seen = seen.lock().unwrap().clone();
    (seen, np.waiters())
}

#[test]
fn waiters_count_drops_only_after_the_task_is_ready() {
    // Go since #61454: whoever wakes a parked task makes it ready first and only then drops
    // the count, so "no waiters" never coexists with a woken task that is not yet runnable.
    for waker in [Waker::Readiness, Waker::Close, Waker::Deadline] {
        assert_eq!(
            waiters_when_readied(Protocol::Fixed, waker),
            (vec![1], 0),
            "{waker:?}"
        );
    }
}

#[test]
fn prefix_61454_drops_the_count_before_the_task_is_ready() {
    // Before #61454 the count was already 0 when the woken task was made ready (the window in
    // which Go's checkdead saw nobody waiting and nothing runnable); it still ends at 0.
    for waker in [Waker::Readiness, Waker::Close, Waker::Deadline] {
        assert_eq!(
            waiters_when_readied(Protocol::PreFix61454, waker),
            (vec![0], 0),
            "{waker:?}"
        );
    }
}

/// The semaphore words and the summary word's layout, as reports and the fdseq check read
/// them.
#[test]
fn semaphore_words_and_summary_bits() {
    assert_eq!(
        [PD_NIL, PD_READY, PD_WAIT].map(sema_name),
        ["nil", "ready", "wait"].map(String::from)
    );
    for t in [0u32, 1, 41] {
        let w = task_word(TaskId(t));
        assert!(w > PD_WAIT);
        assert_eq!(word_task(w), Some(TaskId(t)));
        assert_eq!(sema_name(w), format!("task{t}"));
    }
    assert_eq!(word_task(PD_WAIT), None);
    let bits = [
        info::CLOSING,
        info::EVENT_ERR,
        info::EXPIRED_READ_DEADLINE,
        info::EXPIRED_WRITE_DEADLINE,
    ];
    for (i, b) in bits.iter().enumerate() {
        assert_eq!(b.count_ones(), 1);
        assert!(b.trailing_zeros() < info::FDSEQ_SHIFT);
        assert!(bits[..i].iter().all(|c| c != b));
    }
    for seq in [0u32, 1, 2, 0x5_5555, info::FDSEQ_MASK] {
        let x = PollInfo((seq << info::FDSEQ_SHIFT) | info::EVENT_ERR);
        assert_eq!(x.fdseq(), seq);
        assert!(x.event_err() && !x.closing());
    }
    assert_eq!(info::FDSEQ_MASK, (1 << info::FDSEQ_BITS) - 1);
}

/// The user cookie (Go's `pollDesc.user`) keeps what was set, per pd.
#[test]
fn the_user_cookie_round_trips() {
    let np = np(Protocol::Fixed);
    let a = np.open(3).unwrap();
    let b = np.open(4).unwrap();
    assert_eq!(np.pd(a).user(), 0);
    np.pd(a).set_user(7);
    np.pd(b).set_user(9);
    assert_eq!((np.pd(a).user(), np.pd(b).user()), (7, 9));
}

/// The summary word's writers retry a compare-exchange that lost a race: an error event is
/// not lost to a concurrent publish (and a publish not lost to an error event).
#[test]
fn summary_updates_retry_a_lost_race() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    let p = np.pd(pd);
    CAS32_FAILURES.with(|k| k.set(2));
    p.set_event_err(true, 0);
    assert_eq!(
        CAS32_FAILURES.with(|k| k.get()),
        0,
        "both failures were met"
    );
    assert_eq!(np.checkerr(p, Mode::Read), Err(PollError::NotPollable));
    CAS32_FAILURES.with(|k| k.set(2));
    np.set_deadline(pd, -1, Mode::Read);
    assert_eq!(
        CAS32_FAILURES.with(|k| k.get()),
        0,
        "both failures were met"
    );
    assert_eq!(np.checkerr(p, Mode::Read), Err(PollError::Timeout));
}

/// The FD layer's errors: which is a timeout, their names and messages, and the io error
/// kinds they become.
#[test]
fn fd_errors_say_what_they_are() {
    use crate::fd::Error;
    use std::io;
    let all = || {
        [
            Error::Closed,
            Error::DeadlineExceeded,
            Error::NotPollable,
            Error::Io(io::Error::from_raw_os_error(9)),
        ]
    };
    assert_eq!(all().map(|e| e.is_timeout()), [false, true, false, false]);
    assert_eq!(
        all().map(|e| e.kind_name()),
        ["closed", "deadline exceeded", "not pollable", "io"]
    );
    let shown = all().map(|e| e.to_string());
    assert_eq!(shown[0], "use of closed file");
    assert_eq!(shown[1], "i/o timeout: deadline exceeded");
    assert_eq!(shown[2], "not pollable: poller reported an error");
    assert_eq!(shown[3], io::Error::from_raw_os_error(9).to_string());
    let kinds = all().map(|e| io::Error::from(e).kind());
    assert_eq!(kinds[1], io::ErrorKind::TimedOut);
    assert_eq!(kinds[3], io::Error::from_raw_os_error(9).kind());
}

/// An FD names its descriptor until it is closed, then -1.
#[test]
fn an_fd_names_its_descriptor() {
    let np = np(Protocol::Fixed);
    let fd = crate::fd::Fd::new(np.clone(), 5).unwrap();
    assert_eq!(fd.raw_fd(), 5);
    fd.close().unwrap();
    assert_eq!(fd.raw_fd(), -1);
}

/// The FD layer's system-call loops: an interrupted call is retried, an error other than
/// "would block" is returned (not waited on), and a write that claims more than it was given
/// is an error (Go panics), never an overrun.
#[test]
fn fd_syscall_loops_retry_eintr_and_return_errors() {
    use std::io;
    let np = np(Protocol::Fixed);
    let fd = crate::fd::Fd::new(np.clone(), 5).unwrap();
    let script = |r: Vec<io::Result<usize>>| {
        *np.platform().backend.syscalls.lock().unwrap() = r.into();
    };
    let eintr = || Err(io::ErrorKind::Interrupted.into());
    script(vec![eintr(), Ok(3)]);
    assert_eq!(fd.read(&mut [0; 8]).unwrap(), 3);
    script(vec![Err(io::Error::from_raw_os_error(9))]);
    match fd.read(&mut [0; 8]) {
        Err(crate::fd::Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(9)),
        other => panic!("expected EBADF, got {other:?}"),
    }
    script(vec![eintr(), Ok(2), Ok(2)]);
    assert_eq!(fd.write(&[1; 4]).unwrap(), 4);
    script(vec![Ok(2), Ok(5)]);
    let (n, res) = fd.write_some(&[1; 4]);
    assert_eq!(n, 2);
    assert!(
        matches!(&res, Err(crate::fd::Error::Io(e)) if e.to_string().contains("write returned 5 for 2 bytes")),
        "{res:?}"
    );
    script(vec![Err(io::Error::from_raw_os_error(32))]);
    let (n, res) = fd.write_some(&[1; 4]);
    assert!(n == 0 && matches!(&res, Err(crate::fd::Error::Io(e)) if e.raw_os_error() == Some(32)));
    // The raw read loop (an accept): the same rules for the caller's system call.
    let mut calls = 0;
    let got = fd.raw_read(|_| {
        calls += 1;
        if calls == 1 {
            Err(io::ErrorKind::Interrupted.into())
        } else {
            Ok(7)
        }
    });
    assert_eq!((got.unwrap(), calls), (7, 2));
    let mut calls = 0;
    let got = fd.raw_read(|_| {
        calls += 1;
        if calls == 1 {
            Err(io::Error::from_raw_os_error(9))
        } else {
            Ok(7)
        }
    });
    assert!(
        matches!(got, Err(crate::fd::Error::Io(_))) && calls == 1,
        "{got:?}"
    );
    // Would block: it waits (here the read deadline passes meanwhile) rather than failing.
    let mut calls = 0;
    let got = fd.raw_read(|_| {
        calls += 1;
        np.set_deadline(fd.pd(), -1, Mode::Read);
        Err::<(), _>(io::ErrorKind::WouldBlock.into())
    });
    assert!(
        matches!(got, Err(crate::fd::Error::DeadlineExceeded)) && calls == 1,
        "{got:?}"
    );
}

/// A connect interrupted by a signal goes on waiting (Go: EINTR, "continue waiting"); one
/// that fails at once fails with that error.
#[test]
fn an_interrupted_connect_waits_and_a_refused_one_fails() {
    use std::io;
    let np = np(Protocol::Fixed);
    let fd = crate::fd::Fd::new(np.clone(), 5).unwrap();
    let addr = std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 9);
    let connect_with = |r: io::Result<bool>| {
        np.platform().backend.connects.lock().unwrap().push_back(r);
        fd.connect(addr)
    };
    // The write deadline has passed: a connect that waits ends with it.
    np.set_deadline(fd.pd(), -1, Mode::Write);
    let got = connect_with(Err(io::ErrorKind::Interrupted.into()));
    assert!(
        matches!(got, Err(crate::fd::Error::DeadlineExceeded)),
        "{got:?}"
    );
    let got = connect_with(Err(io::ErrorKind::ConnectionRefused.into()));
    assert!(
        matches!(&got, Err(crate::fd::Error::Io(e)) if e.kind() == io::ErrorKind::ConnectionRefused),
        "{got:?}"
    );
    assert!(connect_with(Ok(true)).is_ok());
}

/// A timeout of zero from now is a deadline that has passed, in its own direction only.
#[test]
fn timeouts_from_now_set_their_own_direction() {
    let np = np(Protocol::Fixed);
    let r = crate::fd::Fd::new(np.clone(), 5).unwrap();
    r.set_read_timeout_ns(0).unwrap();
    let p = np.pd(r.pd());
    assert_eq!(np.checkerr(p, Mode::Read), Err(PollError::Timeout));
    assert_eq!(np.checkerr(p, Mode::Write), Ok(()));
    let w = crate::fd::Fd::new(np.clone(), 6).unwrap();
    w.set_write_timeout_ns(0).unwrap();
    let p = np.pd(w.pd());
    assert_eq!(np.checkerr(p, Mode::Write), Err(PollError::Timeout));
    assert_eq!(np.checkerr(p, Mode::Read), Ok(()));
}

/// A deadline of 0 clears, whatever the time: no deadline, no timer armed, nothing expires.
#[test]
fn a_zero_deadline_clears_at_any_time() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    np.platform().clock.now.store(5_000, SeqCst);
    np.set_deadline(pd, 1_000, Mode::ReadWrite);
    assert!(!np.platform().clock.armed.lock().unwrap().is_empty());
    np.set_deadline(pd, 0, Mode::ReadWrite);
    let p = np.pd(pd);
    assert_eq!((p.rd.get(), p.wd.get()), (0, 0));
    assert!(np.platform().clock.armed.lock().unwrap().is_empty());
    assert_eq!(np.checkerr(p, Mode::Read), Ok(()));
    assert_eq!(np.checkerr(p, Mode::Write), Ok(()));
}

/// Go's `poll_runtime_pollWaitCanceled`: the wait ends on readiness only. An expired deadline
/// does not end it (the task parks anyway), a pending notification ends it at once, and once
/// readiness woke it, it returns rather than waiting again.
#[test]
fn wait_canceled_waits_for_readiness_only() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    let tok = token_of(&np, 3);
    np.set_deadline(pd, -1, Mode::Read);
    let np2 = np.clone();
    *np.platform().sched.on_park.lock().unwrap() = Some(Box::new(move || {
        np2.platform().backend.queued.lock().unwrap().push(Event {
            token: tok,
            mode: Mode::Read,
            error: false,
        });
        assert_eq!(np2.poll(0).unwrap(), 1);
    }));
    np.wait_canceled(pd, Mode::Read);
    assert_eq!(
        LAST_COMMIT.with(|c| *c.borrow()),
        Some(true),
        "it parked despite the expired deadline"
    );
    assert_eq!(np.pd(pd).rg.load(SeqCst), PD_NIL);
    assert_eq!(np.waiters(), 0);
    // A pending notification is consumed without parking (no hook is set: a park would panic).
    np.platform().backend.queued.lock().unwrap().push(Event {
        token: tok,
        mode: Mode::Read,
        error: false,
    });
    np.poll(0).unwrap();
    np.wait_canceled(pd, Mode::Read);
    assert_eq!(np.pd(pd).rg.load(SeqCst), PD_NIL);
}

/// A failed open frees its pd as a close does, with the protocol's publishing: the fixed
/// protocol publishes the freed pd's new fdseq in the summary (Go's `pollCache.free`), the
/// pre-#45211 code has no summary word and writes none.
#[test]
fn a_failed_open_frees_its_pd_as_its_protocol_publishes() {
    for protocol in Protocol::ALL {
        let np = np(protocol);
        assert!(np.open(-1).is_err(), "{protocol}");
        let p = np.pd(Pd(0));
        if protocol.racy_checkerr() {
            assert_eq!(
                p.atomic_info.load(SeqCst),
                0,
                "{protocol}: pre-#45211 publishes nothing"
            );
        } else {
            assert_eq!(
                p.info().fdseq(),
                (p.fdseq.load(SeqCst) as u32) & info::FDSEQ_MASK,
                "{protocol}: the summary carries the freed pd's new fdseq"
            );
        }
    }
}

/// Clearing a deadline stops the timer of its direction, whichever it is; nothing stays
/// armed to fire later.
#[test]
fn clearing_a_deadline_stops_its_own_timer() {
    for mode in [Mode::Read, Mode::Write] {
        let np = np(Protocol::Fixed);
        let pd = np.open(3).unwrap();
        let p = np.pd(pd);
        np.set_deadline(pd, 1_000, mode);
        assert_eq!(
            (p.rrun.get(), p.wrun.get()),
            (mode == Mode::Read, mode == Mode::Write)
        );
        np.set_deadline(pd, 0, mode);
        assert_eq!((p.rrun.get(), p.wrun.get()), (false, false), "{mode:?}");
        assert!(
            np.platform().clock.armed.lock().unwrap().is_empty(),
            "{mode:?}: a cleared deadline leaves a timer armed"
        );
        assert_eq!(np.checkerr(p, mode), Ok(()));
    }
}

/// Under every protocol (the pre-#45211 code takes its own branch of `set_deadline`), a
/// deadline moved into the past wakes a waiter parked in its direction with a timeout, alone
/// or after the other direction's; the other direction's leaves the waiter parked.
#[test]
fn an_expired_deadline_wakes_its_own_direction_only() {
    for protocol in Protocol::ALL {
        for (mode, other) in [(Mode::Read, Mode::Write), (Mode::Write, Mode::Read)] {
            for other_first in [false, true] {
                let case = format!("{protocol}, {mode:?}, other first: {other_first}");
                let np = np(protocol);
                let pd = np.open(3).unwrap();
                let (np2, case2) = (np.clone(), case.clone());
                *np.platform().sched.on_park.lock().unwrap() = Some(Box::new(move || {
                    if other_first {
                        np2.set_deadline(pd, -1, other);
                        assert_eq!(
                            np2.pd(pd).sema(mode == Mode::Read).load(SeqCst),
                            task_word(TaskId(7)),
                            "{case2}: the other direction's deadline woke the waiter"
                        );
                        assert!(np2.platform().sched.readied.lock().unwrap().is_empty());
                    }
                    np2.set_deadline(pd, -1, mode);
                }));
                assert_eq!(np.wait(pd, mode), Err(PollError::Timeout), "{case}");
                assert_eq!(np.waiters(), 0, "{case}");
            }
        }
    }
}

/// The pre-#45211 `set_deadline` stores its "barrier" where Go's old code did: only when a
/// deadline is in the past, before it unblocks (a deadline in the future or a cleared one
/// stores nothing).
#[test]
fn prefix_45211_stores_its_barrier_only_for_an_expired_deadline() {
    const MARK: usize = 7;
    let np = np(Protocol::PreFix45211);
    let pd = np.open(3).unwrap();
    let p = np.pd(pd);
    p.unrelated.store(MARK, SeqCst);
    for (d, mode) in [
        (5_000, Mode::Write),
        (5_000, Mode::Read),
        (0, Mode::Read),
        (6_000, Mode::ReadWrite),
        (0, Mode::ReadWrite),
    ] {
        np.set_deadline(pd, d, mode);
        assert_eq!(p.unrelated.load(SeqCst), MARK, "{d} {mode:?}");
    }
    np.set_deadline(pd, -1, Mode::Write);
    assert_eq!(p.unrelated.load(SeqCst), 0, "the barrier was stored");
}

/// `checkerr` under every protocol (the pre-#45211 code reads the plain fields, the others
/// the summary word): an expired deadline fails its own direction only, a cleared one fails
/// nothing, an event error fails reads only and after a timeout, closing fails both.
#[test]
fn checkerr_reports_each_condition_in_its_direction() {
    use PollError::{Closing, NotPollable, Timeout};
    for protocol in Protocol::ALL {
        let np = np(protocol);
        let pd = np.open(3).unwrap();
        let p = np.pd(pd);
        let both = || (np.checkerr(p, Mode::Read), np.checkerr(p, Mode::Write));
        assert_eq!(both(), (Ok(()), Ok(())), "{protocol}: fresh");
        np.set_deadline(pd, 5_000, Mode::ReadWrite);
        assert_eq!(both(), (Ok(()), Ok(())), "{protocol}: future deadlines");
        np.set_deadline(pd, -1, Mode::Read);
        assert_eq!(both(), (Err(Timeout), Ok(())), "{protocol}: read expired");
        np.set_deadline(pd, 0, Mode::Read);
        np.set_deadline(pd, -1, Mode::Write);
        assert_eq!(both(), (Ok(()), Err(Timeout)), "{protocol}: write expired");
        np.set_deadline(pd, 0, Mode::Write);
        assert_eq!(both(), (Ok(()), Ok(())), "{protocol}: cleared");
        np.platform().backend.queued.lock().unwrap().push(Event {
            token: token_of(&np, 3),
            mode: Mode::ReadWrite,
            error: true,
        });
        np.poll(0).unwrap();
        assert_eq!(
            both(),
            (Err(NotPollable), Ok(())),
            "{protocol}: event error"
        );
        np.set_deadline(pd, -1, Mode::ReadWrite);
        assert_eq!(
            both(),
            (Err(Timeout), Err(Timeout)),
            "{protocol}: a timeout comes before an event error"
        );
        np.unblock(pd);
        assert_eq!(both(), (Err(Closing), Err(Closing)), "{protocol}: closing");
    }
}

/// Go's `netpollBreak`: each call wakes the backend's poller (the real runtime's shutdown
/// relies on it to get its poller thread out of a blocking poll).
#[test]
fn break_poll_wakes_the_poller() {
    let np = np(Protocol::Fixed);
    let wakes = || np.platform().backend.wakes.load(SeqCst);
    assert_eq!(wakes(), 0);
    np.break_poll();
    assert_eq!(wakes(), 1);
    np.break_poll();
    assert_eq!(wakes(), 2);
}

/// Go's `netpollAnyWaiters`: true exactly while a task is parked waiting for the poller.
#[test]
fn any_waiters_is_true_while_a_task_is_parked() {
    let np = np(Protocol::Fixed);
    let pd = np.open(3).unwrap();
    assert!(!np.any_waiters(), "nobody parked yet");
    let np2 = np.clone();
    *np.platform().sched.on_park.lock().unwrap() = Some(Box::new(move || {
        assert!(np2.any_waiters(), "a task is parked");
        np2.unblock(pd);
    }));
    assert_eq!(np.wait(pd, Mode::Read), Err(PollError::Closing));
    assert!(!np.any_waiters(), "the parked task was woken");
}
