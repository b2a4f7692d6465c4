//! The poll cache (Go: `pollCache`): pds are allocated in blocks, never freed, and reused
//! through a free list, so a pd handle (its index) stays valid forever and the backend can hold
//! it as a token.

use std::sync::OnceLock;

use crate::pd::{Pd, PollDesc};
use crate::platform::{LocName, PlainCell, Platform, ProtectedBy, RawLock};

/// How many pds the first block holds; block `k` holds `FIRST_BLOCK_PDS << k`.
const FIRST_BLOCK_PDS: usize = 4;
/// How many blocks there can be (`FIRST_BLOCK_PDS << MAX_BLOCKS` pds in all).
const MAX_BLOCKS: usize = 24;
/// The free list's end marker.
const NO_PD: u32 = u32::MAX;

/// Go: `pollCache`.
pub struct PollCache<P: Platform> {
    /// Go: `pollCache.lock`; protects `first`, `len` and every pd's `link`.
    lock: P::Lock,
    /// Head of the free list (`NO_PD`: empty).
    first: P::Plain<u32>,
    /// How many pds have been created.
    len: P::Plain<u32>,
    /// The blocks; block `k` is set once, under `lock`, and never changes after.
    blocks: [OnceLock<Box<[PollDesc<P>]>>; MAX_BLOCKS],
}

/// Block number and offset in it for a pd index.
fn locate(index: u32) -> (usize, usize) {
    let j = index as usize + FIRST_BLOCK_PDS;
    let k =
        (usize::BITS - 1 - j.leading_zeros()) as usize - FIRST_BLOCK_PDS.trailing_zeros() as usize;
    (k, j - (FIRST_BLOCK_PDS << k))
}

impl<P: Platform> PollCache<P> {
    /// An empty cache.
    pub fn new() -> Self {
        let lock = P::Lock::new(LocName::single("cache", "lock"));
        PollCache {
            first: P::Plain::new(
                NO_PD,
                LocName::single("cache", "first"),
                ProtectedBy::Lock(&lock),
            ),
            len: P::Plain::new(0, LocName::single("cache", "len"), ProtectedBy::Lock(&lock)),
            blocks: std::array::from_fn(|_| OnceLock::new()),
            lock,
        }
    }

    /// The pd with handle `pd`. Panics on a handle this cache never gave out.
    pub fn get(&self, pd: Pd) -> &PollDesc<P> {
        match self.try_get(pd) {
            Some(p) => p,
            None => panic!("netpoll: bad pd handle {}", pd.0),
        }
    }

    /// The pd with handle `pd`, if its block exists (a backend token may be garbage).
    pub fn try_get(&self, pd: Pd) -> Option<&PollDesc<P>> {
        let (k, off) = locate(pd.0);
        self.blocks
            .get(k)
            .and_then(|b| b.get())
            .map(|block| &block[off])
    }

    /// Go: `pollCache.alloc`. Take a free pd, creating a new block when there is none.
    pub fn alloc(&self, platform: &P) -> &PollDesc<P> {
        self.lock.lock();
        if self.first.get() == NO_PD {
            let start = self.len.get();
            let (k, off) = locate(start);
            debug_assert_eq!(off, 0);
            if k >= MAX_BLOCKS {
                self.lock.unlock();
                panic!("netpoll: out of poll descriptors");
            }
            let count = FIRST_BLOCK_PDS << k;
            let block: Box<[PollDesc<P>]> = (0..count)
                .map(|i| PollDesc::new(platform, start + i as u32, &self.lock))
                .collect();
            // Chain the new pds into the free list, lowest index first.
            for (i, pd) in block.iter().enumerate() {
                let next = if i + 1 < count {
                    start + i as u32 + 1
                } else {
                    NO_PD
                };
                pd.link.set(next);
            }
            if self.blocks[k].set(block).is_err() {
                self.lock.unlock();
                panic!("netpoll: poll cache block {k} created twice");
            }
            self.len.set(start + count as u32);
            self.first.set(start);
        }
        let pd = self.get(Pd(self.first.get()));
        self.first.set(pd.link.get());
        self.lock.unlock();
        pd
    }

    /// Go: `pollCache.free`. Bump the pd's fdseq (so in-flight events for it become stale),
    /// republish its summary, and put it back on the free list.
    pub fn free(&self, pd: &PollDesc<P>, publish: bool) {
        use crate::platform::Atomic;
        use std::sync::atomic::Ordering::SeqCst;
        // Nobody else can use pd now, but publish_info's contract asks for the lock.
        pd.lock.lock();
        let fdseq = pd.fdseq.load(SeqCst).wrapping_add(1) & FDSEQ_LIMIT;
        pd.fdseq.store(fdseq, SeqCst);
        if publish {
            pd.publish_info();
        }
        pd.lock.unlock();

        self.lock.lock();
        pd.link.set(self.first.get());
        self.first.set(pd.index);
        self.lock.unlock();
    }

    /// How many pds exist, peeked without the lock (for reports).
    pub fn peek_capacity(&self) -> u32 {
        self.len.peek()
    }
}

/// fdseq wraps within the bits a [`Token`](crate::platform::Token) tag keeps (Go: the tagged
/// pointer's tag bits).
const FDSEQ_LIMIT: usize = u32::MAX as usize;

impl<P: Platform> Default for PollCache<P> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn locate_walks_doubling_blocks() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(3), (0, 3));
        assert_eq!(locate(4), (1, 0));
        assert_eq!(locate(11), (1, 7));
        assert_eq!(locate(12), (2, 0));
        assert_eq!(locate(27), (2, 15));
        assert_eq!(locate(28), (3, 0));
    }
}
