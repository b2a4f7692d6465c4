//! The poll descriptor (Go: `pollDesc`) and its atomic summary word (Go: `pollInfo`).
//!
//! # The state machine
//!
//! Each pd has two binary semaphores, `rg` (read) and `wg` (write). Each holds one of:
//!
//! * [`PD_NIL`]: nothing happened and nobody waits;
//! * [`PD_READY`]: an I/O readiness notification is pending (the next `netpollblock` consumes it
//!   and returns at once);
//! * [`PD_WAIT`]: a task has announced it is about to park but has not committed yet;
//! * a task word (`task_word(id)`): that task is parked and waits to be made ready.
//!
//! Transitions: a waiter moves NIL → WAIT → task (the commit step, after it is descheduled) and
//! back to NIL when it wakes; the poller moves anything → READY (making a parked task ready);
//! timers and close move WAIT or task → NIL (making a parked task ready), after publishing the
//! reason (closing, expired deadline) in `atomic_info`, which the waiter rechecks after setting
//! WAIT. That publish-then-load on one side and set-then-check on the other is the Dekker pair
//! at the heart of golang/go#45211: both sides' accesses must be sequentially consistent.
//!
//! # Who protects what
//!
//! * `fd`: constant while the pd is in use.
//! * `fdseq`, `atomic_info`, `rg`, `wg`: atomics, read and written without the lock.
//! * `closing`, `everr`, `rrun`, `wrun`, `user`, `rseq`, `rt`, `rd`, `wseq`, `wt`, `wd`: written only
//!   with `lock` held. The fixed protocol reads them only under the lock too (`netpollcheckerr`
//!   reads `atomic_info` instead); the pre-#45211 protocol reads `closing`, `rd`, `wd` and `everr`
//!   without it, which is the bug.
//! * `link`: the free-list link, protected by the poll cache's lock.

use std::sync::atomic::Ordering::SeqCst;

use crate::platform::{Atomic, Clock, LocName, PlainCell, Platform, ProtectedBy, RawLock, TaskId};

/// `rg`/`wg`: nothing pending, nobody waiting (Go: `pdNil`).
pub const PD_NIL: usize = 0;
/// `rg`/`wg`: an I/O notification is pending (Go: `pdReady`).
pub const PD_READY: usize = 1;
/// `rg`/`wg`: a task is about to park (Go: `pdWait`).
pub const PD_WAIT: usize = 2;
/// The first semaphore value that denotes a parked task.
const PD_FIRST_TASK: usize = 3;

/// The semaphore word for a parked task (Go stores the `g` pointer).
pub fn task_word(task: TaskId) -> usize {
    task.0 as usize + PD_FIRST_TASK
}

/// The task a semaphore word names, if it names one.
pub fn word_task(word: usize) -> Option<TaskId> {
    (word >= PD_FIRST_TASK).then(|| TaskId((word - PD_FIRST_TASK) as u32))
}

/// Human-readable semaphore value, for reports.
pub fn sema_name(word: usize) -> String {
    match word {
        PD_NIL => "nil".into(),
        PD_READY => "ready".into(),
        PD_WAIT => "wait".into(),
        w => format!("task{}", w - PD_FIRST_TASK),
    }
}

/// Bits of `atomic_info` (Go: `pollClosing`, `pollEventErr`, `pollExpiredReadDeadline`,
/// `pollExpiredWriteDeadline`, `pollFDSeq`).
pub mod info {
    /// The pd is closing.
    pub const CLOSING: u32 = 1 << 0;
    /// The last poll event for the fd was an error alone.
    pub const EVENT_ERR: u32 = 1 << 1;
    /// The read deadline has passed (rd < 0).
    pub const EXPIRED_READ_DEADLINE: u32 = 1 << 2;
    /// The write deadline has passed (wd < 0).
    pub const EXPIRED_WRITE_DEADLINE: u32 = 1 << 3;
    /// Where the low bits of fdseq start.
    pub const FDSEQ_SHIFT: u32 = 4;
    /// How many bits of fdseq are kept.
    pub const FDSEQ_BITS: u32 = 20;
    /// Mask of the kept fdseq bits (before shifting).
    pub const FDSEQ_MASK: u32 = (1 << FDSEQ_BITS) - 1;
}

/// A snapshot of `atomic_info` (Go: `pollInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollInfo(pub u32);

impl PollInfo {
    /// Go: `pollInfo.closing`.
    pub fn closing(self) -> bool {
        self.0 & info::CLOSING != 0
    }
    /// Go: `pollInfo.eventErr`.
    pub fn event_err(self) -> bool {
        self.0 & info::EVENT_ERR != 0
    }
    /// Go: `pollInfo.expiredReadDeadline`.
    pub fn expired_read_deadline(self) -> bool {
        self.0 & info::EXPIRED_READ_DEADLINE != 0
    }
    /// Go: `pollInfo.expiredWriteDeadline`.
    pub fn expired_write_deadline(self) -> bool {
        self.0 & info::EXPIRED_WRITE_DEADLINE != 0
    }
    /// The fdseq tag bits.
    pub fn fdseq(self) -> u32 {
        (self.0 >> info::FDSEQ_SHIFT) & info::FDSEQ_MASK
    }
}

/// Who writes `everr`: the pre-#45211 poller writes it without the lock (old Go listed it
/// among the fields "manipulated in a lock-free way"), so the lock rule cannot be checked
/// for it; the fixed protocol writes it only in `open`, under the lock.
const EVERR_PROTECTION: &str =
    "pre-#45211: the poller, without the lock (a lock-free field in old Go); fixed: open, under the lock";

/// A handle to a pd: its index in the poll cache. Pds are never freed, only reused, so a
/// handle stays valid for the life of its [`NetPoll`](crate::netpoll::NetPoll).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pd(pub u32);

/// The platform's timer type, embedded in each pd as in Go.
type Timer<P> = <<P as Platform>::Clock as Clock>::Timer;

/// Go: `pollDesc`. See the module documentation for the state machine and the locking rules.
pub struct PollDesc<P: Platform> {
    /// Index in the poll cache (Go uses the pd's address).
    pub(crate) index: u32,
    /// Free-list link (`u32::MAX`: end). Protected by the cache lock.
    pub(crate) link: P::Plain<u32>,
    /// The fd; constant while the pd is in use.
    pub(crate) fd: P::Plain<i32>,
    /// Bumped on every free, so events registered under an older fdseq are recognised as stale.
    pub(crate) fdseq: P::AtomicUsize,
    /// The summary `netpollcheckerr` reads (fixed protocol). Written by `publish_info` under the
    /// lock, and by `set_event_err` from the poller.
    pub(crate) atomic_info: P::AtomicU32,
    /// Read semaphore.
    pub(crate) rg: P::AtomicUsize,
    /// Write semaphore.
    pub(crate) wg: P::AtomicUsize,
    /// The pre-#45211 code's "barrier": a sequentially consistent store to a location no one
    /// else reads (Go stored to a local variable or to `pd.rt.f`). Unused by the fixed protocol.
    pub(crate) unrelated: P::AtomicUsize,
    /// Protects the fields below.
    pub(crate) lock: P::Lock,
    /// Close has begun (Go: `closing`).
    pub(crate) closing: P::Plain<bool>,
    /// Pre-#45211 only: the last event was an error (Go's old plain `everr`). The fixed protocol
    /// keeps this bit only in `atomic_info`.
    pub(crate) everr: P::Plain<bool>,
    /// The read timer is armed (Go: `rrun`).
    pub(crate) rrun: P::Plain<bool>,
    /// The write timer is armed (Go: `wrun`).
    pub(crate) wrun: P::Plain<bool>,
    /// A cookie for the user of the pd (Go: `user`).
    pub(crate) user: P::Plain<u32>,
    /// Read timer sequence: a firing armed with an older value is stale.
    pub(crate) rseq: P::Plain<usize>,
    /// Read deadline timer.
    pub(crate) rt: Timer<P>,
    /// Read deadline: 0 none, > 0 a time in the future, < 0 expired.
    pub(crate) rd: P::Plain<i64>,
    /// Write timer sequence.
    pub(crate) wseq: P::Plain<usize>,
    /// Write deadline timer.
    pub(crate) wt: Timer<P>,
    /// Write deadline: as `rd`.
    pub(crate) wd: P::Plain<i64>,
}

impl<P: Platform> PollDesc<P> {
    /// A fresh, free pd with cache index `index`. Go: the loop in `pollCache.alloc`.
    pub(crate) fn new(platform: &P, index: u32, cache_lock: &P::Lock) -> Self {
        let n = |field| LocName::indexed("pd", index, field);
        let lock = P::Lock::new(n("lock"));
        let by_lock = || ProtectedBy::Lock(&lock);
        PollDesc {
            index,
            link: P::Plain::new(u32::MAX, n("link"), ProtectedBy::Lock(cache_lock)),
            fd: P::Plain::new(-1, n("fd"), by_lock()),
            fdseq: P::AtomicUsize::new(0, n("fdseq")),
            atomic_info: P::AtomicU32::new(0, n("atomic_info")),
            rg: P::AtomicUsize::new(PD_NIL, n("rg")),
            wg: P::AtomicUsize::new(PD_NIL, n("wg")),
            unrelated: P::AtomicUsize::new(0, n("unrelated")),
            closing: P::Plain::new(false, n("closing"), by_lock()),
            everr: P::Plain::new(false, n("everr"), ProtectedBy::Protocol(EVERR_PROTECTION)),
            rrun: P::Plain::new(false, n("rrun"), by_lock()),
            wrun: P::Plain::new(false, n("wrun"), by_lock()),
            user: P::Plain::new(0, n("user"), by_lock()),
            rseq: P::Plain::new(0, n("rseq"), by_lock()),
            rt: platform.clock().new_timer(index, true),
            rd: P::Plain::new(0, n("rd"), by_lock()),
            wseq: P::Plain::new(0, n("wseq"), by_lock()),
            wt: platform.clock().new_timer(index, false),
            wd: P::Plain::new(0, n("wd"), by_lock()),
            lock,
        }
    }

    /// The pd's handle.
    pub fn handle(&self) -> Pd {
        Pd(self.index)
    }

    /// Go: `pollDesc.info`. One sequentially consistent load of the summary word.
    pub fn info(&self) -> PollInfo {
        PollInfo(self.atomic_info.load(SeqCst))
    }

    /// Go: `pollDesc.publishInfo`. Recompute the summary from `closing`, `rd`, `wd` and fdseq,
    /// keeping the event-error bit, and store it with a CAS loop.
    ///
    /// Contract: the caller holds `self.lock` and has just changed something the summary
    /// reflects. Code that then calls `netpollunblock` must publish first: the publish is what
    /// stops a concurrent `netpollblock` from parking anew.
    pub(crate) fn publish_info(&self) {
        let mut bits = 0;
        if self.closing.get() {
            bits |= info::CLOSING;
        }
        if self.rd.get() < 0 {
            bits |= info::EXPIRED_READ_DEADLINE;
        }
        if self.wd.get() < 0 {
            bits |= info::EXPIRED_WRITE_DEADLINE;
        }
        bits |= ((self.fdseq.load(SeqCst) as u32) & info::FDSEQ_MASK) << info::FDSEQ_SHIFT;
        let mut old = self.atomic_info.load(SeqCst);
        while !self.atomic_info.cas(old, (old & info::EVENT_ERR) | bits) {
            old = self.atomic_info.load(SeqCst);
        }
    }

    /// Go: `pollDesc.setEventErr`. Set the event-error bit to `b`, but only if `seq` is 0 or
    /// matches the fdseq bits in the summary (an event for an older use of this pd must not
    /// mark the new one, golang/go#59545).
    ///
    /// Contract: lock-free; called by the poller and by `open` (with `seq` 0, under the lock).
    pub(crate) fn set_event_err(&self, b: bool, seq: usize) {
        let want_seq = (seq as u32) & info::FDSEQ_MASK;
        let stale = |x: u32| seq != 0 && PollInfo(x).fdseq() != want_seq;
        let mut x = self.atomic_info.load(SeqCst);
        if stale(x) {
            return;
        }
        while PollInfo(x).event_err() != b && !self.atomic_info.cas(x, x ^ info::EVENT_ERR) {
            x = self.atomic_info.load(SeqCst);
            if stale(x) {
                return;
            }
        }
    }

    /// The semaphore for `read` (true) or write (false).
    pub(crate) fn sema(&self, read: bool) -> &P::AtomicUsize {
        if read {
            &self.rg
        } else {
            &self.wg
        }
    }

    /// A one-line description of the pd's fields, for deadlock reports. Reads every field
    /// with `peek` (outside the protocol: not a scheduling point in a simulator).
    pub fn describe(&self) -> String {
        format!(
            "pd{} fd={} closing={} rd={} wd={} rg={} wg={} info={:#x} everr={} rseq={} wseq={} rrun={} wrun={}",
            self.index,
            self.fd.peek(),
            self.closing.peek(),
            self.rd.peek(),
            self.wd.peek(),
            sema_name(self.rg.peek()),
            sema_name(self.wg.peek()),
            self.atomic_info.peek(),
            self.everr.peek(),
            self.rseq.peek(),
            self.wseq.peek(),
            self.rrun.peek(),
            self.wrun.peek(),
        )
    }

    /// Whether the pd is closing, peeked (outside the protocol: for reports and checkers).
    pub fn peek_closing(&self) -> bool {
        self.closing.peek()
    }

    /// The tasks parked on the pd's semaphores, read first, peeked (outside the protocol:
    /// for reports and checkers).
    pub fn peek_parked(&self) -> Vec<(crate::platform::Mode, TaskId)> {
        [
            (crate::platform::Mode::Read, self.rg.peek()),
            (crate::platform::Mode::Write, self.wg.peek()),
        ]
        .into_iter()
        .filter_map(|(m, w)| word_task(w).map(|t| (m, t)))
        .collect()
    }

    /// Which of this pd's semaphores names `task` as parked, if any (peeked, for reports).
    pub fn parked_mode(&self, task: TaskId) -> Option<crate::platform::Mode> {
        let w = task_word(task);
        if self.rg.peek() == w {
            Some(crate::platform::Mode::Read)
        } else if self.wg.peek() == w {
            Some(crate::platform::Mode::Write)
        } else {
            None
        }
    }

    /// The user cookie (Go: `pollDesc.user`), under the lock.
    pub fn user(&self) -> u32 {
        self.lock.lock();
        let u = self.user.get();
        self.lock.unlock();
        u
    }

    /// Set the user cookie, under the lock.
    pub fn set_user(&self, user: u32) {
        self.lock.lock();
        self.user.set(user);
        self.lock.unlock();
    }
}
