//! The netpoll operations (Go: `runtime/netpoll.go`, the `poll_runtime_*` entry points and
//! their helpers), generic over a [`Platform`].
//!
//! Entry points used by the FD layer: [`NetPoll::open`], [`NetPoll::close`],
//! [`NetPoll::reset`], [`NetPoll::wait`], [`NetPoll::set_deadline`], [`NetPoll::unblock`].
//! Entry points used by the platform: [`NetPoll::poll`] (the poller), [`NetPoll::run_timer`]
//! (deadline timers), [`NetPoll::break_poll`].

use std::fmt;
use std::io;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Mutex;

use crate::cache::PollCache;
use crate::pd::{task_word, word_task, Pd, PollDesc, PD_NIL, PD_READY, PD_WAIT};
use crate::platform::{
    Atomic, Backend, Clock, Event, LocName, Mode, PlainCell, Platform, RawLock, Scheduler, TaskId,
    TimerFiring, TimerFunc, Token,
};
use crate::protocol::Protocol;

/// Why a wait could not proceed (Go: `pollErrClosing`, `pollErrTimeout`, `pollErrNotPollable`;
/// `pollNoError` is `Ok(())`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PollError {
    /// The pd is closing.
    Closing,
    /// The deadline for this mode has passed.
    Timeout,
    /// The poller reported an error event for the fd.
    NotPollable,
}

impl fmt::Display for PollError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PollError::Closing => "pd is closing",
            PollError::Timeout => "deadline expired",
            PollError::NotPollable => "poll event error",
        })
    }
}

/// Largest deadline (Go clamps an overflowing `now + d` to this).
const MAX_DEADLINE_NS: i64 = i64::MAX;

/// Reusable buffers for [`NetPoll::poll`], so the poller does not allocate per call.
#[derive(Default)]
struct PollScratch {
    events: Vec<Event>,
    to_run: Vec<TaskId>,
}

/// Go's netpoll state: the poll cache, the waiters count, the platform and the protocol.
pub struct NetPoll<P: Platform> {
    platform: P,
    protocol: Protocol,
    cache: PollCache<P>,
    /// Go: `netpollWaiters`. Tasks parked in netpollblock (committed), adjusted by deltas.
    waiters: P::AtomicU32,
    /// Go: `netpollInited`. 1 once the backend's `init` has returned (stored after it, under
    /// `init_lock`; loaded without the lock by `generic_init` and by pollers).
    inited: P::AtomicU32,
    /// Go: `netpollInitLock`. Serialises the backend's `init`.
    init_lock: P::Lock,
    /// The poller's buffers; only the poller takes it (never contended in practice).
    scratch: Mutex<PollScratch>,
}

impl<P: Platform> NetPoll<P> {
    /// A poller on `platform` running `protocol`. The backend is initialised lazily, by the
    /// first [`NetPoll::open`] ([`NetPoll::generic_init`]).
    pub fn new(platform: P, protocol: Protocol) -> Self {
        NetPoll {
            platform,
            protocol,
            cache: PollCache::new(),
            waiters: P::AtomicU32::new(0, LocName::single("netpoll", "waiters")),
            inited: P::AtomicU32::new(0, LocName::single("netpoll", "inited")),
            init_lock: P::Lock::new(LocName::single("netpoll", "init_lock")),
            scratch: Mutex::new(PollScratch::default()),
        }
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The protocol this poller runs.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The pd behind a handle.
    pub fn pd(&self, pd: Pd) -> &PollDesc<P> {
        self.cache.get(pd)
    }

    /// The poll cache.
    pub fn cache(&self) -> &PollCache<P> {
        &self.cache
    }

    /// Go: `netpollGenericInit` (reached through `poll_runtime_pollServerInit`, which
    /// internal/poll calls once before its first pd). Initialise the backend once: the first
    /// caller takes the init lock, calls the backend's `init`, then publishes
    /// [`NetPoll::inited`]; later callers see it set and return.
    pub fn generic_init(&self) -> io::Result<()> {
        if self.inited.load(SeqCst) != 0 {
            return Ok(());
        }
        self.init_lock.lock();
        let res = if self.inited.load(SeqCst) == 0 {
            let res = self.platform.backend().init();
            if res.is_ok() {
                self.inited.store(1, SeqCst);
            }
            res
        } else {
            Ok(())
        };
        self.init_lock.unlock();
        res
    }

    /// Go: `netpollinited`. Whether the backend has been initialised: what a poller must
    /// check before it polls (golang/go#22606).
    pub fn inited(&self) -> bool {
        self.inited.load(SeqCst) != 0
    }

    /// Go: `poll_runtime_pollOpen`. Take a pd from the cache, reset it for `fd`, and register
    /// `fd` with the backend (token: index tagged with fdseq). Initialises the backend first
    /// if nothing has ([`NetPoll::generic_init`]).
    ///
    /// Panics ("blocked read/write on free polldesc") if a task is still parked on the pd.
    pub fn open(&self, fd: i32) -> io::Result<Pd> {
        self.generic_init()?;
        let pd = self.cache.alloc(&self.platform);
        pd.lock.lock();
        let wg = pd.wg.load(SeqCst);
        if wg != PD_NIL && wg != PD_READY {
            pd.lock.unlock();
            panic!("netpoll: blocked write on free polldesc");
        }
        let rg = pd.rg.load(SeqCst);
        if rg != PD_NIL && rg != PD_READY {
            pd.lock.unlock();
            panic!("netpoll: blocked read on free polldesc");
        }
        pd.fd.set(fd);
        if pd.fdseq.load(SeqCst) == 0 {
            // 0 means "any" to set_event_err; never hand it out.
            pd.fdseq.store(1, SeqCst);
        }
        pd.closing.set(false);
        if self.protocol.racy_checkerr() {
            pd.everr.set(false);
        } else {
            pd.set_event_err(false, 0);
        }
        pd.rseq.set(pd.rseq.get().wrapping_add(1));
        pd.rg.store(PD_NIL, SeqCst);
        pd.rd.set(0);
        pd.wseq.set(pd.wseq.get().wrapping_add(1));
        pd.wg.store(PD_NIL, SeqCst);
        pd.wd.set(0);
        if !self.protocol.racy_checkerr() {
            pd.publish_info();
        }
        let token = Token::pack(pd.index, pd.fdseq.load(SeqCst));
        pd.lock.unlock();

        if let Err(e) = self.platform.backend().open(fd, token) {
            self.cache.free(pd, !self.protocol.racy_checkerr());
            return Err(e);
        }
        Ok(pd.handle())
    }

    /// Go: `poll_runtime_pollClose`. Deregister the fd and return the pd to the cache.
    ///
    /// Contract: [`NetPoll::unblock`] ran first and no task is parked on the pd; otherwise this
    /// panics with Go's message.
    pub fn close(&self, pd: Pd) -> io::Result<()> {
        let pd = self.pd(pd);
        if !pd.closing.get() {
            panic!("netpoll: close polldesc w/o unblock");
        }
        let wg = pd.wg.load(SeqCst);
        if wg != PD_NIL && wg != PD_READY {
            panic!("netpoll: blocked write on closing polldesc");
        }
        let rg = pd.rg.load(SeqCst);
        if rg != PD_NIL && rg != PD_READY {
            panic!("netpoll: blocked read on closing polldesc");
        }
        let res = self.platform.backend().close(pd.fd.get());
        self.cache.free(pd, !self.protocol.racy_checkerr());
        res
    }

    /// Go: `poll_runtime_pollReset`. Prepare for a read or write: fail if the pd cannot be
    /// waited on, else clear any stale readiness notification.
    ///
    /// Contract (golang/go#70373): the caller must then try the system call before it
    /// [`wait`](NetPoll::wait)s. Readiness is edge-triggered: the poller records an edge that
    /// arrived before this call as a pending notification, and this call erases it; if the
    /// caller waited without trying, no new edge would come for data already there, and the
    /// wait could last forever. Go's `internal/poll` keeps the contract (prepare, syscall,
    /// wait on EAGAIN, syscall again); a `RawConn` callback that returns "not done" without
    /// trying the syscall breaks it.
    pub fn reset(&self, pd: Pd, mode: Mode) -> Result<(), PollError> {
        let pd = self.pd(pd);
        self.checkerr(pd, mode)?;
        match mode {
            Mode::Read => pd.rg.store(PD_NIL, SeqCst),
            Mode::Write => pd.wg.store(PD_NIL, SeqCst),
            Mode::ReadWrite => {}
        }
        Ok(())
    }

    /// Go: `poll_runtime_pollWait`. Block the current task until the fd is ready for `mode`,
    /// or the pd is closing, or the deadline for `mode` has passed.
    ///
    /// Contract: at most one task waits per pd and mode (else "double wait" panics).
    pub fn wait(&self, pd: Pd, mode: Mode) -> Result<(), PollError> {
        let pd = self.pd(pd);
        self.checkerr(pd, mode)?;
        while !self.netpollblock(pd, mode, false) {
            self.checkerr(pd, mode)?;
            // Woken by a deadline that was then moved into the future again before we ran:
            // as in Go, pretend it did not happen and wait again.
        }
        Ok(())
    }

    /// Go: `poll_runtime_pollWaitCanceled`. Wait for I/O readiness only, ignoring closing and
    /// deadlines.
    pub fn wait_canceled(&self, pd: Pd, mode: Mode) {
        let pd = self.pd(pd);
        while !self.netpollblock(pd, mode, true) {}
    }

    /// Go: `poll_runtime_pollSetDeadline`. `d_ns` is relative, as Go's internal/poll passes it:
    /// 0 clears the deadline, > 0 sets it `d_ns` from now, < 0 means already expired (and wakes
    /// a blocked waiter). `mode` is read, write or both.
    pub fn set_deadline(&self, pd: Pd, d_ns: i64, mode: Mode) {
        let pd = self.pd(pd);
        pd.lock.lock();
        if pd.closing.get() {
            pd.lock.unlock();
            return;
        }
        let rd0 = pd.rd.get();
        let wd0 = pd.wd.get();
        let combo0 = rd0 > 0 && rd0 == wd0;
        let mut d = d_ns;
        if d > 0 {
            d = d.wrapping_add(self.platform.clock().now_ns());
            if d <= 0 {
                // now + d overflowed: the deadline is as far away as can be.
                d = MAX_DEADLINE_NS;
            }
        }
        if mode.has_read() {
            pd.rd.set(d);
        }
        if mode.has_write() {
            pd.wd.set(d);
        }
        if !self.protocol.racy_checkerr() {
            pd.publish_info();
        }
        let rd = pd.rd.get();
        let wd = pd.wd.get();
        let combo = rd > 0 && rd == wd;
        let rfunc = if combo {
            TimerFunc::Deadline
        } else {
            TimerFunc::ReadDeadline
        };
        // A timer carries the seq current when it is armed; a later change bumps the seq, so
        // a firing of an older arming finds it stale and does nothing.
        let clock = self.platform.clock();
        let arm = |timer, when_ns, func, seq| {
            clock.modify_timer(
                timer,
                when_ns,
                TimerFiring {
                    func,
                    pd: pd.index,
                    seq,
                },
            );
        };
        if !pd.rrun.get() {
            if rd > 0 {
                arm(&pd.rt, rd, rfunc, pd.rseq.get());
                pd.rrun.set(true);
            }
        } else if rd != rd0 || combo != combo0 {
            pd.rseq.set(pd.rseq.get().wrapping_add(1));
            if rd > 0 {
                arm(&pd.rt, rd, rfunc, pd.rseq.get());
            } else {
                clock.stop_timer(&pd.rt);
                pd.rrun.set(false);
            }
        }
        // With rd == wd the read timer (netpollDeadline) serves both directions.
        if !pd.wrun.get() {
            if wd > 0 && !combo {
                arm(&pd.wt, wd, TimerFunc::WriteDeadline, pd.wseq.get());
                pd.wrun.set(true);
            }
        } else if wd != wd0 || combo != combo0 {
            pd.wseq.set(pd.wseq.get().wrapping_add(1));
            if wd > 0 && !combo {
                arm(&pd.wt, wd, TimerFunc::WriteDeadline, pd.wseq.get());
            } else {
                clock.stop_timer(&pd.wt);
                pd.wrun.set(false);
            }
        }
        // A deadline set in the past wakes a pending waiter. The fixed protocol has already
        // published the expiry above; the pre-#45211 code relied on this "barrier" instead.
        let mut delta = 0i32;
        let mut rg = None;
        let mut wg = None;
        if self.protocol.racy_checkerr() {
            if rd < 0 || wd < 0 {
                pd.unrelated.store(0, SeqCst);
                if rd < 0 {
                    rg = self.netpollunblock(pd, Mode::Read, false, &mut delta);
                }
                if wd < 0 {
                    wg = self.netpollunblock(pd, Mode::Write, false, &mut delta);
                }
            }
        } else {
            if rd < 0 {
                rg = self.netpollunblock(pd, Mode::Read, false, &mut delta);
            }
            if wd < 0 {
                wg = self.netpollunblock(pd, Mode::Write, false, &mut delta);
            }
        }
        pd.lock.unlock();
        self.goready_all(rg, wg);
        self.adjust_waiters(delta);
    }

    /// Go: `poll_runtime_pollUnblock`. Begin closing: mark the pd closing, invalidate its
    /// timers, and wake both waiters (they return `PollError::Closing`).
    ///
    /// Panics ("unblock on closing polldesc") when called twice.
    pub fn unblock(&self, pd: Pd) {
        let pd = self.pd(pd);
        pd.lock.lock();
        if pd.closing.get() {
            pd.lock.unlock();
            panic!("netpoll: unblock on closing polldesc");
        }
        pd.closing.set(true);
        pd.rseq.set(pd.rseq.get().wrapping_add(1));
        pd.wseq.set(pd.wseq.get().wrapping_add(1));
        if self.protocol.racy_checkerr() {
            // The old "full memory barrier between store to closing and read of rg/wg":
            // a sequentially consistent store to a location nobody reads.
            pd.unrelated.store(0, SeqCst);
        } else {
            pd.publish_info();
        }
        let mut delta = 0i32;
        let rg = self.netpollunblock(pd, Mode::Read, false, &mut delta);
        let wg = self.netpollunblock(pd, Mode::Write, false, &mut delta);
        let clock = self.platform.clock();
        if pd.rrun.get() {
            clock.stop_timer(&pd.rt);
            pd.rrun.set(false);
        }
        if pd.wrun.get() {
            clock.stop_timer(&pd.wt);
            pd.wrun.set(false);
        }
        pd.lock.unlock();
        self.goready_all(rg, wg);
        self.adjust_waiters(delta);
    }

    /// Go: `netpollready`. The poller found the pd's fd ready for `mode`: mark the semaphores
    /// ready and collect the tasks to run. Returns the delta to apply to the waiters count once
    /// those tasks have been made ready.
    pub fn netpollready(&self, to_run: &mut Vec<TaskId>, pd: &PollDesc<P>, mode: Mode) -> i32 {
        let mut delta = 0;
        if mode.has_read() {
            if let Some(t) = self.netpollunblock(pd, Mode::Read, true, &mut delta) {
                to_run.push(t);
            }
        }
        if mode.has_write() {
            if let Some(t) = self.netpollunblock(pd, Mode::Write, true, &mut delta) {
                to_run.push(t);
            }
        }
        delta
    }

    /// Go: `netpollcheckerr`. Whether a wait in `mode` must fail, without taking the lock.
    ///
    /// Fixed: one sequentially consistent load of `atomic_info`. Pre-#45211: plain reads of
    /// `closing`, `rd`/`wd` and `everr`, racing with writers that hold the lock.
    pub fn checkerr(&self, pd: &PollDesc<P>, mode: Mode) -> Result<(), PollError> {
        let read = mode == Mode::Read;
        let write = mode == Mode::Write;
        if self.protocol.racy_checkerr() {
            if pd.closing.get() {
                return Err(PollError::Closing);
            }
            if (read && pd.rd.get() < 0) || (write && pd.wd.get() < 0) {
                return Err(PollError::Timeout);
            }
            // Only reads report an event error; a write finds the specific error itself.
            if read && pd.everr.get() {
                return Err(PollError::NotPollable);
            }
            return Ok(());
        }
        let info = pd.info();
        if info.closing() {
            return Err(PollError::Closing);
        }
        if (read && info.expired_read_deadline()) || (write && info.expired_write_deadline()) {
            return Err(PollError::Timeout);
        }
        if read && info.event_err() {
            return Err(PollError::NotPollable);
        }
        Ok(())
    }

    /// Go: `netpollblock`. Wait on the pd's semaphore for `mode`: returns true if I/O is ready,
    /// false if woken by a deadline or close (or, with `waitio`, only true).
    ///
    /// Contract: called by the waiting task itself, at most one per pd and mode; a second
    /// concurrent waiter panics ("double wait").
    pub fn netpollblock(&self, pd: &PollDesc<P>, mode: Mode, waitio: bool) -> bool {
        assert!(
            mode != Mode::ReadWrite,
            "netpoll: wait for read and write at once"
        );
        let gpp = pd.sema(mode == Mode::Read);
        // Announce the wait: consume a pending notification, or move nil -> wait.
        loop {
            if gpp.cas(PD_READY, PD_NIL) {
                return true;
            }
            if gpp.cas(PD_NIL, PD_WAIT) {
                break;
            }
            let v = gpp.load(SeqCst);
            if v != PD_READY && v != PD_NIL {
                panic!("netpoll: double wait");
            }
        }
        // Re-check after announcing: unblock/set_deadline/deadline timers do the mirror image
        // (publish the reason, then load the semaphore), so one of the two sides sees the other.
        if waitio || self.checkerr(pd, mode).is_ok() {
            let sched = self.platform.sched();
            let me = sched.current();
            sched.park(|| self.netpollblockcommit(gpp, me));
        }
        // Whoever woke us left nil or ready; don't lose a concurrent ready.
        let old = gpp.swap(PD_NIL, SeqCst);
        if old > PD_WAIT {
            panic!("netpoll: corrupted polldesc");
        }
        old == PD_READY
    }

    /// Go: `netpollblockcommit`. The park's commit step: publish the parked task in the
    /// semaphore unless someone already changed it from wait. Counts the waiter on success.
    fn netpollblockcommit(&self, gpp: &P::AtomicUsize, me: TaskId) -> bool {
        let ok = gpp.cas(PD_WAIT, task_word(me));
        if ok {
            self.adjust_waiters(1);
        }
        ok
    }

    /// Go: `netpollunblock`. Move the semaphore for `mode` to ready (`ioready`) or nil, and
    /// return the task parked on it, if any. Adds the waiter-count adjustment to `delta`, to be
    /// applied after the task has been made ready (the pre-#61454 protocol applies it at once).
    ///
    /// Contract: lock-free; the deadline and close paths call it with the pd lock held after
    /// publishing why they wake.
    pub fn netpollunblock(
        &self,
        pd: &PollDesc<P>,
        mode: Mode,
        ioready: bool,
        delta: &mut i32,
    ) -> Option<TaskId> {
        let gpp = pd.sema(mode == Mode::Read);
        loop {
            let old = gpp.load(SeqCst);
            if old == PD_READY {
                return None;
            }
            if old == PD_NIL && !ioready {
                // Only I/O readiness leaves a notification; a waiter that comes later will
                // find the closing/deadline condition by itself.
                return None;
            }
            let new = if ioready { PD_READY } else { PD_NIL };
            if gpp.cas(old, new) {
                if old == PD_WAIT {
                    return None;
                }
                let task = word_task(old);
                if task.is_some() && self.protocol.unblock_counts_waiters() {
                    if self.protocol.defers_waiters_delta() {
                        *delta -= 1;
                    } else {
                        // Before golang/go#61454: the count drops here, while `task` is still
                        // parked; whoever called us makes it ready only later.
                        self.adjust_waiters(-1);
                    }
                }
                return task;
            }
        }
    }

    /// Go: `netpolldeadlineimpl`. A deadline timer fired: unless it is stale, mark the deadline
    /// expired, publish it, and wake the waiter(s).
    fn netpolldeadlineimpl(&self, pd: &PollDesc<P>, seq: usize, read: bool, write: bool) {
        pd.lock.lock();
        let current = if read { pd.rseq.get() } else { pd.wseq.get() };
        if seq != current {
            // Reused pd, or the deadline changed since the timer was armed.
            pd.lock.unlock();
            return;
        }
        let mut delta = 0i32;
        let mut rg = None;
        if read {
            if pd.rd.get() <= 0 || !pd.rrun.get() {
                pd.lock.unlock();
                panic!("netpoll: inconsistent read deadline");
            }
            pd.rd.set(-1);
            self.publish_or_barrier(pd, true);
            rg = self.netpollunblock(pd, Mode::Read, false, &mut delta);
        }
        let mut wg = None;
        if write {
            if pd.wd.get() <= 0 || (!pd.wrun.get() && !read) {
                pd.lock.unlock();
                panic!("netpoll: inconsistent write deadline");
            }
            pd.wd.set(-1);
            self.publish_or_barrier(pd, false);
            wg = self.netpollunblock(pd, Mode::Write, false, &mut delta);
        }
        pd.lock.unlock();
        self.goready_all(rg, wg);
        self.adjust_waiters(delta);
    }

    /// After changing `rd` (`read`) or `wd` in a deadline callback: the fixed protocol
    /// publishes the summary. The pre-#45211 code instead cleared the fired timer's function
    /// field with an atomic store and counted on that as its "barrier"; clearing the field
    /// also marked the timer as not armed, which is `rrun`/`wrun` here.
    fn publish_or_barrier(&self, pd: &PollDesc<P>, read: bool) {
        if self.protocol.racy_checkerr() {
            if read {
                pd.rrun.set(false);
            } else {
                pd.wrun.set(false);
            }
            pd.unrelated.store(0, SeqCst);
        } else {
            pd.publish_info();
        }
    }

    /// Run a deadline timer's callback. Go: `netpollReadDeadline`, `netpollWriteDeadline` and
    /// `netpollDeadline`, all through `netpolldeadlineimpl`.
    ///
    /// Contract: called by the platform's timer driver with the firing the timer was armed
    /// with; may race with `set_deadline`, `unblock` and reuse of the pd (the seq check makes
    /// a stale firing harmless).
    pub fn run_timer(&self, firing: TimerFiring) {
        let pd = self.pd(Pd(firing.pd));
        match firing.func {
            TimerFunc::ReadDeadline => self.netpolldeadlineimpl(pd, firing.seq, true, false),
            TimerFunc::WriteDeadline => self.netpolldeadlineimpl(pd, firing.seq, false, true),
            TimerFunc::Deadline => self.netpolldeadlineimpl(pd, firing.seq, true, true),
        }
    }

    /// Go: `netpoll(delay)` plus what `findrunnable` does with its result: poll the backend
    /// (at most `delay_ns`; < 0 blocks, 0 does not), apply each event to its pd unless the
    /// event is stale (fdseq changed), make the woken tasks ready, then apply the waiters delta.
    /// Returns how many tasks were made ready.
    ///
    /// Contract: one poller at a time (as in Go, where at most one M blocks in netpoll).
    pub fn poll(&self, delay_ns: i64) -> io::Result<usize> {
        let mut guard = match self.scratch.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                panic!("netpoll: two pollers at once (poll's contract allows one)")
            }
        };
        let scratch = &mut *guard;
        scratch.events.clear();
        scratch.to_run.clear();
        self.platform
            .backend()
            .poll(delay_ns, &mut scratch.events)?;
        let mut delta = 0;
        for ev in &scratch.events {
            let Some(pd) = self.cache.try_get(Pd(ev.token.index())) else {
                continue;
            };
            let tag = ev.token.tag();
            if !self.protocol.checks_event_fdseq() {
                // Before golang/go#59545: whatever use of the pd the event was for, it marks
                // (and readies) the pd's current one.
                pd.set_event_err(ev.error, 0);
            } else if pd.fdseq.load(SeqCst) != tag {
                // An event registered for an earlier use of this pd.
                continue;
            } else if self.protocol.racy_checkerr() {
                // The old code: clear, then set on an error-only event (two plain stores).
                pd.everr.set(false);
                if ev.error {
                    pd.everr.set(true);
                }
            } else {
                pd.set_event_err(ev.error, tag);
            }
            delta += self.netpollready(&mut scratch.to_run, pd, ev.mode);
        }
        let sched = self.platform.sched();
        for &t in &scratch.to_run {
            sched.ready(t);
        }
        // Only after the tasks are ready (golang/go#61454).
        self.adjust_waiters(delta);
        Ok(scratch.to_run.len())
    }

    /// Go: `netpollBreak`. Wake the poller if it is blocked.
    pub fn break_poll(&self) {
        self.platform.backend().wake();
    }

    /// Go: `netpollgoready` for the tasks an unblock returned.
    fn goready_all(&self, rg: Option<TaskId>, wg: Option<TaskId>) {
        let sched = self.platform.sched();
        for t in [rg, wg].into_iter().flatten() {
            if !self.protocol.unblock_counts_waiters() {
                // Before golang/go#60782 the count dropped here, and only here.
                self.adjust_waiters(-1);
            }
            sched.ready(t);
        }
    }

    /// Go: `netpollAdjustWaiters`.
    pub fn adjust_waiters(&self, delta: i32) {
        if delta != 0 {
            self.waiters.fetch_add(delta as u32, SeqCst);
        }
    }

    /// Go: `netpollWaiters.Load()`: tasks parked waiting for the poller.
    pub fn waiters(&self) -> u32 {
        self.waiters.load(SeqCst)
    }

    /// The waiters count read outside the protocol, for end-of-run checks and reports.
    pub fn peek_waiters(&self) -> u32 {
        self.waiters.peek()
    }

    /// Go: `netpollAnyWaiters`.
    pub fn any_waiters(&self) -> bool {
        self.waiters() > 0
    }
}
