//! A trivial single-threaded platform for the core's unit tests: std atomics, a manual clock
//! with a list of armed timers, a backend that records registrations and replays queued
//! events, and a scheduler with one task that may not really block.

use std::cell::RefCell;
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::platform::*;

thread_local! {
    /// How many of this thread's next 32-bit compare-exchanges fail as if another writer had
    /// come first (to test the retry loops).
    pub static CAS32_FAILURES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

pub struct StdAtomicU32(AtomicU32);
impl Atomic<u32> for StdAtomicU32 {
    fn new(v: u32, _: LocName) -> Self {
        StdAtomicU32(AtomicU32::new(v))
    }
    fn load(&self, o: Ordering) -> u32 {
        self.0.load(o)
    }
    fn store(&self, v: u32, o: Ordering) {
        self.0.store(v, o)
    }
    fn swap(&self, v: u32, o: Ordering) -> u32 {
        self.0.swap(v, o)
    }
    fn compare_exchange(&self, c: u32, n: u32, s: Ordering, f: Ordering) -> Result<u32, u32> {
        if CAS32_FAILURES.with(|k| k.replace(k.get().saturating_sub(1))) > 0 {
            // A lost race (another writer came between the load and the CAS).
            return Err(self.0.load(f));
        }
        self.0.compare_exchange(c, n, s, f)
    }
    fn fetch_add(&self, v: u32, o: Ordering) -> u32 {
        self.0.fetch_add(v, o)
    }
    fn fetch_sub(&self, v: u32, o: Ordering) -> u32 {
        self.0.fetch_sub(v, o)
    }
}

pub struct StdAtomicUsize(AtomicUsize);
impl Atomic<usize> for StdAtomicUsize {
    fn new(v: usize, _: LocName) -> Self {
        StdAtomicUsize(AtomicUsize::new(v))
    }
    fn load(&self, o: Ordering) -> usize {
        self.0.load(o)
    }
    fn store(&self, v: usize, o: Ordering) {
        self.0.store(v, o)
    }
    fn swap(&self, v: usize, o: Ordering) -> usize {
        self.0.swap(v, o)
    }
    fn compare_exchange(
        &self,
        c: usize,
        n: usize,
        s: Ordering,
        f: Ordering,
    ) -> Result<usize, usize> {
        self.0.compare_exchange(c, n, s, f)
    }
    fn fetch_add(&self, v: usize, o: Ordering) -> usize {
        self.0.fetch_add(v, o)
    }
    fn fetch_sub(&self, v: usize, o: Ordering) -> usize {
        self.0.fetch_sub(v, o)
    }
}

pub struct Plain<T>(AtomicU64, PhantomData<T>);
impl<T: Word> PlainCell<T, TestLock> for Plain<T> {
    fn new(v: T, _: LocName, _: ProtectedBy<'_, TestLock>) -> Self {
        Plain(AtomicU64::new(v.to_bits()), PhantomData)
    }
    fn get(&self) -> T {
        T::from_bits(self.0.load(Ordering::Relaxed))
    }
    fn set(&self, v: T) {
        self.0.store(v.to_bits(), Ordering::Relaxed)
    }
}

/// A lock that panics instead of blocking (single-threaded tests never contend).
pub struct TestLock(AtomicBool);
impl RawLock for TestLock {
    fn new(_: LocName) -> Self {
        TestLock(AtomicBool::new(false))
    }
    fn lock(&self) {
        assert!(
            !self.0.swap(true, Ordering::Acquire),
            "test lock: already held (self-deadlock)"
        );
    }
    fn unlock(&self) {
        assert!(
            self.0.swap(false, Ordering::Release),
            "test lock: unlock of unlocked lock"
        );
    }
}

#[derive(Default)]
pub struct TestClock {
    pub now: AtomicI64,
    /// Armed timers: (timer id, when, firing).
    pub armed: Mutex<Vec<(u32, i64, TimerFiring)>>,
    next_id: AtomicU32,
}
impl Clock for TestClock {
    type Timer = u32;
    fn now_ns(&self) -> i64 {
        self.now.load(Ordering::SeqCst) + 1
    }
    fn new_timer(&self, _pd: u32, _read: bool) -> u32 {
        self.next_id.fetch_add(1, Ordering::SeqCst)
    }
    fn modify_timer(&self, t: &u32, when: i64, firing: TimerFiring) {
        let mut a = self.armed.lock().unwrap();
        a.retain(|x| x.0 != *t);
        a.push((*t, when, firing));
    }
    fn stop_timer(&self, t: &u32) -> bool {
        let mut a = self.armed.lock().unwrap();
        let before = a.len();
        a.retain(|x| x.0 != *t);
        a.len() != before
    }
}

#[derive(Default)]
pub struct TestBackend {
    pub registered: Mutex<Vec<(RawFd, Token)>>,
    pub queued: Mutex<Vec<Event>>,
    /// Results the next reads and writes return, in order (then: a read would block, a
    /// write takes everything).
    pub syscalls: Mutex<std::collections::VecDeque<io::Result<usize>>>,
    /// What the next `connect` calls return, in order (then: unsupported).
    pub connects: Mutex<std::collections::VecDeque<io::Result<bool>>>,
    /// How many times the poller was woken (`wake`).
    pub wakes: AtomicU32,
}
impl Backend for TestBackend {
    fn open(&self, fd: RawFd, token: Token) -> io::Result<()> {
        if fd < 0 {
            return Err(io::Error::from_raw_os_error(9));
        }
        self.registered.lock().unwrap().push((fd, token));
        Ok(())
    }
    fn close(&self, fd: RawFd) -> io::Result<()> {
        self.registered.lock().unwrap().retain(|r| r.0 != fd);
        Ok(())
    }
    fn poll(&self, _delay: i64, events: &mut Vec<Event>) -> io::Result<usize> {
        let mut q = self.queued.lock().unwrap();
        let n = q.len();
        events.append(&mut q);
        Ok(n)
    }
    fn wake(&self) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
    fn read(&self, _: RawFd, _: &mut [u8]) -> io::Result<usize> {
        let next = self.syscalls.lock().unwrap().pop_front();
        next.unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into()))
    }
    fn write(&self, _: RawFd, b: &[u8]) -> io::Result<usize> {
        let next = self.syscalls.lock().unwrap().pop_front();
        next.unwrap_or(Ok(b.len()))
    }
    fn close_fd(&self, _: RawFd) -> io::Result<()> {
        Ok(())
    }
    fn connect(&self, _: RawFd, _: std::net::SocketAddrV4) -> io::Result<bool> {
        let next = self.connects.lock().unwrap().pop_front();
        next.unwrap_or_else(|| Err(io::ErrorKind::Unsupported.into()))
    }
    fn pipe(&self) -> io::Result<(RawFd, RawFd)> {
        Ok((10, 11))
    }
    fn socket_pair(&self) -> io::Result<(RawFd, RawFd)> {
        Ok((12, 13))
    }
}

thread_local! {
    /// What the next park's commit decided, for assertions.
    pub static LAST_COMMIT: RefCell<Option<bool>> = const { RefCell::new(None) };
}

/// One task (id 7). `park` runs the commit; a committed park would block forever in a
/// single-threaded test, so it instead calls the `on_park` hook, which must wake the task
/// (e.g. by playing the poller) and then returns.
#[derive(Default)]
pub struct TestSched {
    pub readied: Mutex<Vec<TaskId>>,
    #[allow(clippy::type_complexity)]
    pub on_park: Mutex<Option<Box<dyn FnMut() + Send>>>,
    /// Called by `ready` before it records the task (to observe state at that moment).
    #[allow(clippy::type_complexity)]
    pub on_ready: Mutex<Option<Box<dyn FnMut(TaskId) + Send>>>,
}
impl Scheduler for TestSched {
    type JoinHandle = ();
    fn current(&self) -> TaskId {
        TaskId(7)
    }
    fn park<F: FnOnce() -> bool>(&self, commit: F) {
        let c = commit();
        LAST_COMMIT.with(|l| *l.borrow_mut() = Some(c));
        if c {
            let hook = self.on_park.lock().unwrap().take();
            match hook {
                Some(mut h) => h(),
                None => panic!("test scheduler: task would block forever"),
            }
            assert!(
                self.readied.lock().unwrap().contains(&TaskId(7)),
                "test scheduler: parked task was not made ready"
            );
        }
    }
    fn ready(&self, t: TaskId) {
        if let Some(h) = self.on_ready.lock().unwrap().as_mut() {
            h(t);
        }
        self.readied.lock().unwrap().push(t);
    }
    fn spawn<F: FnOnce() + Send + 'static>(&self, _: &'static str, f: F) {
        f()
    }
    fn join(&self, _: ()) {}
    fn sleep_ns(&self, ns: i64) {
        let _ = ns;
    }
    fn yield_now(&self) {}
}

#[derive(Default)]
pub struct TestPlatform {
    pub clock: TestClock,
    pub backend: TestBackend,
    pub sched: TestSched,
}
impl Platform for TestPlatform {
    type AtomicU32 = StdAtomicU32;
    type AtomicUsize = StdAtomicUsize;
    type Plain<T: Word> = Plain<T>;
    type Lock = TestLock;
    type Clock = TestClock;
    type Backend = TestBackend;
    type Sched = TestSched;
    fn clock(&self) -> &TestClock {
        &self.clock
    }
    fn backend(&self) -> &TestBackend {
        &self.backend
    }
    fn sched(&self) -> &TestSched {
        &self.sched
    }
}
