//! Go's `internal/poll.fdMutex` (`fd_mutex.go`): the lock word of an FD.
//!
//! One atomic word holds, from the low bit up:
//!
//! | bits | meaning |
//! |---|---|
//! | 1 | closed: Close has begun; every later lock or reference fails |
//! | 1 | the read lock is held |
//! | 1 | the write lock is held |
//! | [`COUNT_BITS`] | references: every operation in progress (reads, writes, deadlines, Close) |
//! | [`COUNT_BITS`] | tasks waiting for the read lock |
//! | [`COUNT_BITS`] | tasks waiting for the write lock |
//!
//! A task that finds the read (write) lock taken counts itself in the read (write) waiters and
//! parks on the read (write) [`Sema`]; the unlocker that sees a waiter removes one from the
//! count and releases the semaphore. Close sets the closed bit, clears both waiter counts and
//! releases each semaphore once per waiter removed, so every waiter wakes, sees the closed bit
//! and fails. The last reference dropped after Close (the unlock or decref that leaves the
//! word at exactly "closed, no references") tells its caller to destroy the fd.
//!
//! Go's word is 64 bits with 20-bit counts. The platform's word here is `usize`: on 64-bit
//! targets the layout is Go's exactly; on 32-bit targets the counts have 9 bits each.

use std::sync::atomic::Ordering::SeqCst;

use crate::platform::{Atomic, LocName, Platform};
use crate::sema::{Sema, SemaNames};

/// Bits per count (references, read waiters, write waiters): Go's 20 on 64-bit targets.
pub const COUNT_BITS: u32 = (usize::BITS - 3) / 3;

/// Close has begun (Go: `mutexClosed`).
pub const CLOSED: usize = 1 << 0;
/// The read lock is held (Go: `mutexRLock`).
pub const RLOCK: usize = 1 << 1;
/// The write lock is held (Go: `mutexWLock`).
pub const WLOCK: usize = 1 << 2;
/// One reference (Go: `mutexRef`).
pub const REF: usize = 1 << 3;
/// All reference bits (Go: `mutexRefMask`).
pub const REF_MASK: usize = ((1 << COUNT_BITS) - 1) * REF;
/// One read waiter (Go: `mutexRWait`).
pub const RWAIT: usize = 1 << (3 + COUNT_BITS);
/// All read-waiter bits (Go: `mutexRMask`).
pub const RWAIT_MASK: usize = ((1 << COUNT_BITS) - 1) * RWAIT;
/// One write waiter (Go: `mutexWWait`).
pub const WWAIT: usize = 1 << (3 + 2 * COUNT_BITS);
/// All write-waiter bits (Go: `mutexWMask`).
pub const WWAIT_MASK: usize = ((1 << COUNT_BITS) - 1) * WWAIT;

/// Go: `overflowMsg`.
const OVERFLOW: &str = "netpoll: too many concurrent operations on a single file or socket";
/// Go: "inconsistent poll.fdMutex".
const INCONSISTENT: &str = "netpoll: inconsistent fd mutex";

/// A human-readable decoding of a state word (traces and reports).
pub fn describe(state: usize) -> String {
    let mut parts = Vec::new();
    if state & CLOSED != 0 {
        parts.push("closed".to_string());
    }
    if state & RLOCK != 0 {
        parts.push("rlock".to_string());
    }
    if state & WLOCK != 0 {
        parts.push("wlock".to_string());
    }
    parts.push(format!("refs={}", (state & REF_MASK) / REF));
    let rw = (state & RWAIT_MASK) / RWAIT;
    if rw != 0 {
        parts.push(format!("rwait={rw}"));
    }
    let ww = (state & WWAIT_MASK) / WWAIT;
    if ww != 0 {
        parts.push(format!("wwait={ww}"));
    }
    parts.join(",")
}

/// Which of the two locks (Go passes `read bool`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The read lock.
    Read,
    /// The write lock.
    Write,
}

impl Side {
    /// (lock bit, one waiter, waiter mask) for this side.
    fn bits(self) -> (usize, usize, usize) {
        match self {
            Side::Read => (RLOCK, RWAIT, RWAIT_MASK),
            Side::Write => (WLOCK, WWAIT, WWAIT_MASK),
        }
    }
}

/// Go: `fdMutex`. See the module documentation.
pub struct FdMutex<P: Platform> {
    /// The lock word (Go: `state`).
    state: P::AtomicUsize,
    /// Read-lock waiters park here (Go: `rsema`).
    rsema: Sema<P>,
    /// Write-lock waiters park here (Go: `wsema`).
    wsema: Sema<P>,
}

impl<P: Platform> FdMutex<P> {
    /// An open, unlocked mutex for the FD whose pd has cache index `index` (trace names).
    pub fn new(index: u32) -> Self {
        let n = |field| LocName::indexed("fd", index, field);
        FdMutex {
            state: P::AtomicUsize::new(0, n("state")),
            rsema: Sema::new(
                0,
                SemaNames {
                    count: n("rsema"),
                    nwait: n("rsema.nwait"),
                    lock: n("rsema.lock"),
                },
            ),
            wsema: Sema::new(
                0,
                SemaNames {
                    count: n("wsema"),
                    nwait: n("wsema.nwait"),
                    lock: n("wsema.lock"),
                },
            ),
        }
    }

    fn sema(&self, side: Side) -> &Sema<P> {
        match side {
            Side::Read => &self.rsema,
            Side::Write => &self.wsema,
        }
    }

    /// Go: `fdMutex.incref`. Add a reference; false once Close has begun.
    pub fn incref(&self) -> bool {
        loop {
            let old = self.state.load(SeqCst);
            if old & CLOSED != 0 {
                return false;
            }
            let new = old.wrapping_add(REF);
            if new & REF_MASK == 0 {
                panic!("{OVERFLOW}");
            }
            if self.state.cas(old, new) {
                return true;
            }
        }
    }

    /// Go: `fdMutex.increfAndClose`. Set the closed bit and add a reference, then wake every
    /// lock waiter (they see the closed bit and fail). False if Close had already begun.
    pub fn incref_and_close(&self, sched: &P::Sched) -> bool {
        loop {
            let old = self.state.load(SeqCst);
            if old & CLOSED != 0 {
                return false;
            }
            let mut new = (old | CLOSED).wrapping_add(REF);
            if new & REF_MASK == 0 {
                panic!("{OVERFLOW}");
            }
            new &= !(RWAIT_MASK | WWAIT_MASK);
            if self.state.cas(old, new) {
                let mut rest = old;
                while rest & RWAIT_MASK != 0 {
                    rest -= RWAIT;
                    self.rsema.release(sched);
                }
                while rest & WWAIT_MASK != 0 {
                    rest -= WWAIT;
                    self.wsema.release(sched);
                }
                return true;
            }
        }
    }

    /// Go: `fdMutex.decref`. Drop a reference; true when it was the last one after Close (the
    /// caller must then destroy the fd).
    pub fn decref(&self) -> bool {
        loop {
            let old = self.state.load(SeqCst);
            if old & REF_MASK == 0 {
                panic!("{INCONSISTENT}");
            }
            let new = old - REF;
            if self.state.cas(old, new) {
                return new & (CLOSED | REF_MASK) == CLOSED;
            }
        }
    }

    /// Go: `fdMutex.rwlock`. Take the read or write lock and a reference, parking the task
    /// while another holds that lock; false once Close has begun (also when Close wakes it).
    pub fn rwlock(&self, side: Side, sched: &P::Sched) -> bool {
        let (bit, wait, mask) = side.bits();
        loop {
            let old = self.state.load(SeqCst);
            if old & CLOSED != 0 {
                return false;
            }
            let new = if old & bit == 0 {
                // Free: take it, with a reference.
                let new = (old | bit).wrapping_add(REF);
                if new & REF_MASK == 0 {
                    panic!("{OVERFLOW}");
                }
                new
            } else {
                // Held: count ourselves among its waiters.
                let new = old.wrapping_add(wait);
                if new & mask == 0 {
                    panic!("{OVERFLOW}");
                }
                new
            };
            if self.state.cas(old, new) {
                if old & bit == 0 {
                    return true;
                }
                self.sema(side).acquire(sched);
                // Whoever released the semaphore removed us from the waiters count.
            }
        }
    }

    /// Go: `fdMutex.rwunlock`. Release the lock and its reference, waking one waiter of that
    /// lock if there is one; true when it was the last reference after Close (destroy).
    pub fn rwunlock(&self, side: Side, sched: &P::Sched) -> bool {
        let (bit, wait, mask) = side.bits();
        loop {
            let old = self.state.load(SeqCst);
            if old & bit == 0 || old & REF_MASK == 0 {
                panic!("{INCONSISTENT}");
            }
            let mut new = (old & !bit) - REF;
            if old & mask != 0 {
                new -= wait;
            }
            if self.state.cas(old, new) {
                if old & mask != 0 {
                    self.sema(side).release(sched);
                }
                return new & (CLOSED | REF_MASK) == CLOSED;
            }
        }
    }

    /// The state word, read outside the protocol (reports, `Drop`).
    pub fn peek(&self) -> usize {
        self.state.peek()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_gos_on_64_bit() {
        if usize::BITS == 64 {
            assert_eq!(COUNT_BITS, 20);
            assert_eq!(REF_MASK, ((1 << 20) - 1) << 3);
            assert_eq!(RWAIT, 1 << 23);
            assert_eq!(WWAIT, 1 << 43);
            assert_eq!(WWAIT_MASK, ((1 << 20) - 1) << 43);
        }
        // The fields do not overlap and fit in the word.
        let fields = [CLOSED, RLOCK, WLOCK, REF_MASK, RWAIT_MASK, WWAIT_MASK];
        for (i, a) in fields.iter().enumerate() {
            for b in &fields[i + 1..] {
                assert_eq!(a & b, 0);
            }
        }
    }

    #[test]
    fn describe_decodes_every_field() {
        let s = CLOSED | RLOCK | (3 * REF) | (2 * RWAIT) | WWAIT;
        assert_eq!(describe(s), "closed,rlock,refs=3,rwait=2,wwait=1");
        assert_eq!(describe(0), "refs=0");
    }
}
