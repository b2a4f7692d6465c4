//! Task stacks for the coroutine scheduler, and the pool that reuses them.
//!
//! Stacks are carved out of slabs of [`SLAB_STACKS`] stacks, so that 100,000 tasks do not
//! need 100,000 kernel memory mappings (the kernel caps a process at `vm.max_map_count`,
//! 65,530 by default). Two kinds, chosen when the runtime is built ([`Stacks`]):
//!
//! * **Guarded** (the default): a guard page below every stack faults on overflow. On Linux
//!   6.13 and later the guard pages are installed inside the slab with
//!   `madvise(MADV_GUARD_INSTALL)`, which keeps the slab one mapping; on older kernels each
//!   stack falls back to its own mapping with a `PROT_NONE` guard page (two mappings per
//!   stack: about 30,000 tasks at most).
//! * **Packed**: no guard pages at all, for old kernels that must hold more tasks than that.
//!   An overflow is not caught by the hardware: a canary word at the bottom of each stack is
//!   checked every time the task switches out, and a damaged canary aborts the process (after
//!   the damage is done). Choosing packed stacks is `unsafe`
//!   ([`crate::coro::Builder::packed_stacks`]).
//!
//! Either way the memory is reserved, not committed: a task's resident memory is the pages
//! its deepest call chain touched (guard pages installed by `madvise` cost none). Stacks are
//! never unmapped while their task lives, and a finished task's stack goes back to the pool
//! for the next spawn.

use std::io;
use std::num::NonZeroUsize;
use std::ptr;
use std::sync::Mutex;

use corosensei::stack::{Stack, StackPointer, MIN_STACK_SIZE};

/// The word written at the bottom of a packed stack; an overflow overwrites it.
const CANARY: u64 = 0x6e65_7470_6f6c_6c21;

/// Stacks per slab (one mapping).
pub const SLAB_STACKS: usize = 256;

/// Linux's `MADV_GUARD_INSTALL` (6.13): turn pages into guard pages without splitting the
/// mapping. Not in the `libc` crate yet.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Which kind of stack tasks get. See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stacks {
    /// A guard page below every stack.
    Guarded,
    /// No guard pages; overflow detected late by a canary.
    Packed,
}

fn page_size() -> usize {
    // SAFETY: sysconf with a valid name has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p <= 0 {
        4096
    } else {
        p as usize
    }
}

/// `mmap` `len` bytes of private anonymous memory, reserved without swap accounting.
fn map(len: usize, prot: libc::c_int) -> io::Result<usize> {
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing touches no
    // existing memory.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(p as usize)
    }
}

/// A region that was mapped by [`map`]; unmapped on drop.
#[derive(Debug)]
struct Mapping {
    addr: usize,
    len: usize,
}

impl Mapping {
    /// Map `len` bytes whose lowest `guard` bytes are `PROT_NONE`.
    fn new(len: usize, guard: usize) -> io::Result<Mapping> {
        let addr = map(len, libc::PROT_NONE)?;
        let m = Mapping { addr, len };
        // SAFETY: the range lies inside the mapping just created, which nothing else uses.
        let rc = unsafe {
            libc::mprotect(
                (addr + guard) as *mut libc::c_void,
                len - guard,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(m)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping is owned by this value; nothing refers to it any more (the pool
        // drops mappings only when no task can still run on them).
        unsafe {
            libc::munmap(self.addr as *mut libc::c_void, self.len);
        }
    }
}

/// One task's stack: `[limit, base)`, the usable bytes, stack growing down from `base`.
#[derive(Debug)]
pub struct TaskStack {
    base: usize,
    limit: usize,
    /// Packed stacks carry a canary at `limit`.
    packed: bool,
}

impl TaskStack {
    /// The usable range, `(limit, base)`: the stack grows down from `base` to `limit`.
    pub fn bounds(&self) -> (usize, usize) {
        (self.limit, self.base)
    }

    /// Where the canary of a packed stack lives (its lowest word); 0 for a guarded stack.
    pub fn canary_at(&self) -> usize {
        if self.packed {
            self.limit
        } else {
            0
        }
    }

    fn arm_canary(&self) {
        if self.packed {
            // SAFETY: `limit` is the lowest, page-aligned word of this stack, inside a live
            // read-write mapping of the pool; no task runs on this stack now.
            unsafe { ptr::write_volatile(self.limit as *mut u64, CANARY) }
        }
    }
}

/// Whether the canary at `at` (from [`TaskStack::canary_at`] of a stack whose task is alive)
/// is intact. Only the task's own overflow can change it.
pub fn canary_intact(at: usize) -> bool {
    // SAFETY: `at` is the lowest word of a packed stack that is still in use, so it lies in a
    // read-write mapping the pool keeps while any task lives; it is 8-byte aligned.
    unsafe { ptr::read_volatile(at as *const u64) == CANARY }
}

// SAFETY: `base` and `limit` bound a read-write region of at least MIN_STACK_SIZE bytes, page
// aligned (so aligned to STACK_ALIGNMENT), that stays mapped while the stack is in use. A
// guarded stack has a guard page right below `limit`. A packed stack does not: that breach of
// the trait's contract is what `Builder::packed_stacks` makes its caller accept (`unsafe`),
// and the canary check narrows it.
unsafe impl Stack for TaskStack {
    fn base(&self) -> StackPointer {
        NonZeroUsize::new(self.base).expect("stack base is never 0")
    }

    fn limit(&self) -> StackPointer {
        NonZeroUsize::new(self.limit).expect("stack limit is never 0")
    }
}

/// Stacks of one runtime: the mappings they live in, and the free ones.
#[derive(Debug)]
pub struct StackPool {
    kind: Stacks,
    /// Usable bytes per stack (a multiple of the page size).
    size: usize,
    page: usize,
    inner: Mutex<PoolInner>,
}

/// How guarded stacks get their guard pages on this kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum GuardMode {
    /// Not known yet: try `MADV_GUARD_INSTALL` on the first slab.
    #[default]
    Unknown,
    /// Guard pages inside slabs.
    Lightweight,
    /// One mapping per stack with a `PROT_NONE` guard page.
    PerMapping,
}

#[derive(Debug, Default)]
struct PoolInner {
    free: Vec<TaskStack>,
    mappings: Vec<Mapping>,
    guards: GuardMode,
    /// Set when a task was abandoned with its stack: the mappings must then outlive the pool.
    leak: bool,
}

/// Keep transparent huge pages away from a slab: one touched byte per stack would commit
/// 2 MiB at a time.
fn no_huge_pages(m: &Mapping) {
    // SAFETY: advice on a range we own; failure is harmless and ignored.
    unsafe {
        libc::madvise(m.addr as *mut libc::c_void, m.len, libc::MADV_NOHUGEPAGE);
    }
}

impl StackPool {
    /// A pool of `kind` stacks of at least `size` usable bytes.
    pub fn new(kind: Stacks, size: usize) -> StackPool {
        let page = page_size();
        let size = size.max(MIN_STACK_SIZE).div_ceil(page) * page;
        StackPool {
            kind,
            size,
            page,
            inner: Mutex::new(PoolInner::default()),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, PoolInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A stack: a free one, or a new one.
    pub fn get(&self) -> io::Result<TaskStack> {
        let mut inner = self.inner();
        if let Some(s) = inner.free.pop() {
            return Ok(s);
        }
        match self.kind {
            Stacks::Guarded => {
                if inner.guards != GuardMode::PerMapping {
                    match self.guarded_slab(&mut inner) {
                        Ok(()) => {
                            inner.guards = GuardMode::Lightweight;
                            return Ok(inner.free.pop().expect("a slab has stacks"));
                        }
                        Err(e) if inner.guards == GuardMode::Lightweight => return Err(e),
                        // This kernel has no lightweight guards: one mapping per stack.
                        Err(_) => inner.guards = GuardMode::PerMapping,
                    }
                }
                let m = Mapping::new(self.size + self.page, self.page)?;
                let s = TaskStack {
                    base: m.addr + m.len,
                    limit: m.addr + self.page,
                    packed: false,
                };
                inner.mappings.push(m);
                Ok(s)
            }
            Stacks::Packed => {
                let m = Mapping::new(self.size * SLAB_STACKS + self.page, self.page)?;
                no_huge_pages(&m);
                let first = m.addr + self.page;
                for i in (0..SLAB_STACKS).rev() {
                    let s = TaskStack {
                        base: first + (i + 1) * self.size,
                        limit: first + i * self.size,
                        packed: true,
                    };
                    s.arm_canary();
                    inner.free.push(s);
                }
                inner.mappings.push(m);
                Ok(inner.free.pop().expect("a slab has stacks"))
            }
        }
    }

    /// A slab of guarded stacks, `[guard page][stack]` repeated, guards installed with
    /// `MADV_GUARD_INSTALL`; its stacks go to the free list.
    fn guarded_slab(&self, inner: &mut PoolInner) -> io::Result<()> {
        let step = self.page + self.size;
        let m = Mapping::new(step * SLAB_STACKS, 0)?;
        no_huge_pages(&m);
        for i in 0..SLAB_STACKS {
            let guard = m.addr + i * step;
            // SAFETY: advice on a page of a mapping we own and nothing uses yet.
            let rc =
                unsafe { libc::madvise(guard as *mut libc::c_void, self.page, MADV_GUARD_INSTALL) };
            if rc != 0 {
                // `m` is unmapped on return.
                return Err(io::Error::last_os_error());
            }
        }
        for i in (0..SLAB_STACKS).rev() {
            let limit = m.addr + i * step + self.page;
            inner.free.push(TaskStack {
                base: limit + self.size,
                limit,
                packed: false,
            });
        }
        inner.mappings.push(m);
        Ok(())
    }

    /// Return a stack whose task has finished.
    pub fn put(&self, s: TaskStack) {
        s.arm_canary();
        self.inner().free.push(s);
    }

    /// A task was abandoned while parked (shutdown): its stack can never be reclaimed safely,
    /// so no mapping is ever unmapped.
    pub fn leak_all(&self) {
        self.inner().leak = true;
    }

    /// How many kernel mappings the pool holds.
    pub fn mappings(&self) -> usize {
        self.inner().mappings.len()
    }
}

impl Drop for StackPool {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        if inner.leak {
            std::mem::forget(std::mem::take(&mut inner.mappings));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_stacks_are_reused() {
        let pool = StackPool::new(Stacks::Guarded, 10_000);
        let a = pool.get().unwrap();
        assert_eq!((a.base - a.limit) % pool.page, 0);
        assert!(a.base - a.limit >= 10_000);
        let base = a.base;
        pool.put(a);
        let b = pool.get().unwrap();
        assert_eq!(b.base, base);
        assert_eq!(b.canary_at(), 0, "guarded stacks need no canary");
        assert_eq!(pool.mappings(), 1);
    }

    /// Guarded stacks share slabs where the kernel has lightweight guard pages, and the page
    /// below each stack really is a guard: writing it faults (checked in a child process).
    #[test]
    fn guard_pages_fault() {
        let pool = StackPool::new(Stacks::Guarded, 16 * 1024);
        let stacks: Vec<_> = (0..300).map(|_| pool.get().unwrap()).collect();
        let lightweight = pool.inner().guards == GuardMode::Lightweight;
        if lightweight {
            assert_eq!(pool.mappings(), 2, "300 stacks in two slabs");
        } else {
            assert_eq!(pool.mappings(), 300);
        }
        let below = stacks[5].limit - 8;
        // SAFETY: fork in a test; the child only writes one word and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: deliberately writing the guard page: the child must die of SIGSEGV.
            unsafe { ptr::write_volatile(below as *mut u64, 1) };
            // SAFETY: _exit never returns.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFSIGNALED(status),
            "writing below a stack did not fault"
        );
        assert_eq!(libc::WTERMSIG(status), libc::SIGSEGV);
        for s in stacks {
            pool.put(s);
        }
    }

    #[test]
    fn packed_stacks_share_a_mapping_and_keep_a_canary() {
        let pool = StackPool::new(Stacks::Packed, 16 * 1024);
        let stacks: Vec<_> = (0..SLAB_STACKS + 1).map(|_| pool.get().unwrap()).collect();
        assert_eq!(pool.mappings(), 2);
        for s in &stacks {
            assert!(canary_intact(s.canary_at()));
        }
        // An "overflow" of stack 1 into the bottom word is noticed.
        let victim = &stacks[1];
        // SAFETY: the word is inside the pool's live mapping and no task uses it.
        unsafe { ptr::write_volatile(victim.limit as *mut u64, 0) };
        assert!(!canary_intact(victim.canary_at()));
        for s in stacks {
            pool.put(s);
        }
        let again = pool.get().unwrap();
        assert!(canary_intact(again.canary_at()), "put re-arms the canary");
    }
}
