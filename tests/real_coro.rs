//! The coroutine scheduler itself: two readers of one fd on a single worker, tasks parking
//! in the FD's lock queue, sleeps, yields, joins between tasks, panics, hand-off of blocking
//! code, many tasks across workers, packed stacks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpoll::fd::Error;
use netpoll::platform::Scheduler;
use netpoll_real::testing::{bounded, wait_until};
use netpoll_real::{sys, CoroRuntime};

const LIMIT: Duration = Duration::from_secs(20);

/// Two tasks read one fd on a one-worker scheduler. The first parks in the poller holding the
/// FD's read lock; the second parks in the read lock's queue (Go's fdMutex semaphore), which
/// must park the task, not the only worker thread. Both complete.
#[test]
fn two_readers_of_one_fd_on_one_worker_both_complete() {
    bounded(LIMIT, || {
        let rt = CoroRuntime::builder().workers(1).build().unwrap();
        let (r, w) = sys::pipe().unwrap();
        let fd = Arc::new(rt.fd(r).unwrap());
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let fd = fd.clone();
                rt.spawn(move || {
                    let mut buf = [0u8; 1];
                    fd.read(&mut buf).map(|n| buf[..n].to_vec())
                })
            })
            .collect();
        wait_until(LIMIT, "one reader in the poller", || {
            rt.netpoll().waiters() == 1
        });
        // The writer is a task on the same single worker: it runs only if neither reader
        // holds the thread.
        let wfd = Arc::new(rt.fd(w).unwrap());
        let writer = {
            let wfd = wfd.clone();
            rt.spawn(move || wfd.write(b"ab").unwrap())
        };
        assert_eq!(writer.join().unwrap(), 2);
        let mut got: Vec<u8> = readers
            .into_iter()
            .flat_map(|h| h.join().unwrap().unwrap())
            .collect();
        got.sort();
        assert_eq!(got, b"ab");
        fd.close().unwrap();
        wfd.close().unwrap();
    });
}

/// Many tasks queue on one FD's write lock on one worker; each writes one byte; all finish.
#[test]
fn many_writers_queue_on_the_write_lock() {
    bounded(LIMIT, || {
        let rt = CoroRuntime::builder().workers(1).build().unwrap();
        let (a, b) = sys::socketpair().unwrap();
        let fd = Arc::new(rt.fd(a).unwrap());
        const N: usize = 200;
        let writers: Vec<_> = (0..N)
            .map(|i| {
                let fd = fd.clone();
                rt.spawn(move || {
                    // A big write fills the socket and parks while holding the lock, so the
                    // others wait in the lock's queue.
                    let big = vec![i as u8; 64 * 1024];
                    fd.write(&big).unwrap()
                })
            })
            .collect();
        let peer = Arc::new(rt.fd(b).unwrap());
        let p = peer.clone();
        let reader = rt.spawn(move || {
            let mut total = 0;
            let mut buf = vec![0u8; 1 << 16];
            while total < N * 64 * 1024 {
                total += p.read(&mut buf).unwrap();
            }
            total
        });
        for h in writers {
            assert_eq!(h.join().unwrap(), 64 * 1024);
        }
        assert_eq!(reader.join().unwrap(), N * 64 * 1024);
        fd.close().unwrap();
        peer.close().unwrap();
    });
}

#[test]
fn sleep_parks_the_task_not_the_worker() {
    bounded(LIMIT, || {
        let rt = CoroRuntime::builder().workers(1).build().unwrap();
        let sched = rt.sched().clone();
        let start = Instant::now();
        let sleepers: Vec<_> = (0..50)
            .map(|_| {
                let s = sched.clone();
                rt.spawn(move || s.sleep_ns(50_000_000))
            })
            .collect();
        for h in sleepers {
            h.join().unwrap();
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(50), "{took:?}");
        // Fifty 50 ms sleeps on one worker overlap: far less than 50 × 50 ms.
        assert!(took < Duration::from_millis(1500), "{took:?}");
    });
}

#[test]
fn yield_lets_the_other_task_run() {
    bounded(LIMIT, || {
        let rt = CoroRuntime::builder().workers(1).build().unwrap();
        let turn = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..2)
            .map(|me| {
                let turn = turn.clone();
                let sched = rt.sched().clone();
                rt.spawn(move || {
                    for i in 0..1000 {
                        // Strict alternation is only possible if yield really switches.
                        while turn.load(Ordering::SeqCst) % 2 != me {
                            sched.yield_now();
                        }
                        turn.store(2 * i + me + 1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(turn.load(Ordering::SeqCst), 2000);
    });
}

#[test]
fn tasks_join_tasks_and_panics_propagate() {
    bounded(LIMIT, || {
        let rt = CoroRuntime::builder().workers(2).build().unwrap();
        let rt_sched = rt.sched().clone();
        let total = rt.block_on(move || {
            let hs: Vec<_> = (0..100u64)
                .map(|i| rt_sched.spawn_task(move || i * i))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        assert_eq!(total, (0..100u64).map(|i| i * i).sum());
        let h = rt.spawn(|| panic!("task boom"));
        let err = h.join().unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"task boom"));
        assert_eq!(
            rt.block_on(|| 7),
            7,
            "a panicking task does not hurt the workers"
        );
    });
}

/// Blocking code run through `blocking` hands the worker to another thread: on a one-worker
/// scheduler, another task keeps running while it blocks.
#[test]
fn blocking_hands_the_worker_off() {
    bounded(LIMIT, || {
        let rt = CoroRuntime::builder().workers(1).build().unwrap();
        let sched = rt.sched().clone();
        let progress = Arc::new(AtomicUsize::new(0));
        let p = progress.clone();
        let ticker = {
            let sched = sched.clone();
            rt.spawn(move || {
                for _ in 0..20 {
                    sched.sleep_ns(5_000_000);
                    p.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let p = progress.clone();
        let blocker = rt.spawn(move || {
            let during = sched.blocking(|| {
                let before = p.load(Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(60));
                p.load(Ordering::SeqCst) - before
            });
            // Back on a worker afterwards: parking still works.
            sched.sleep_ns(1_000_000);
            during
        });
        let during = blocker.join().unwrap();
        assert!(
            during >= 3,
            "the other task ran {during} ticks while we blocked"
        );
        ticker.join().unwrap();
        assert!(rt.sched().stats().handoffs >= 1);
    });
}

/// Thousands of tasks parked on pipes across two workers, woken in bulk: work spreads
/// (stealing) and every task finishes; the task count returns to 0.
#[test]
fn thousands_of_parked_tasks_wake_and_finish() {
    bounded(LIMIT, || {
        let rt = CoroRuntime::builder().workers(2).build().unwrap();
        const N: usize = 2000;
        let mut pipes = Vec::new();
        let mut hs = Vec::new();
        for _ in 0..N {
            let (r, w) = sys::pipe().unwrap();
            let fd = Arc::new(rt.fd(r).unwrap());
            let f = fd.clone();
            hs.push(rt.spawn(move || {
                let mut buf = [0u8; 1];
                let n = f.read(&mut buf).unwrap();
                f.close().unwrap();
                n
            }));
            pipes.push(w);
        }
        wait_until(LIMIT, "every task parked", || {
            rt.netpoll().waiters() == N as u32
        });
        for &w in &pipes {
            sys::write(w, b"x").unwrap();
        }
        for h in hs {
            assert_eq!(h.join().unwrap(), 1);
        }
        for w in pipes {
            sys::close(w).unwrap();
        }
        wait_until(LIMIT, "no live task", || rt.sched().live_tasks() == 0);
    });
}

/// Packed stacks: many tasks in few mappings, and they run like any other.
#[test]
fn packed_stacks_hold_many_tasks_in_few_mappings() {
    bounded(LIMIT, || {
        // SAFETY: these tasks use a few hundred bytes of stack, far below 64 KiB.
        let rt = unsafe { CoroRuntime::builder().packed_stacks() }
            .workers(2)
            .stack_size(64 * 1024)
            .build()
            .unwrap();
        let sched = rt.sched().clone();
        let hs: Vec<_> = (0..3000u64)
            .map(|i| {
                let s = sched.clone();
                rt.spawn(move || {
                    s.sleep_ns(10_000_000);
                    i
                })
            })
            .collect();
        let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, (0..3000u64).sum());
        let maps = rt.sched().stack_mappings();
        assert!(maps <= 3000 / 256 + 2, "{maps} mappings for 3000 stacks");
    });
}

/// A regular file cannot be watched by epoll: `Fd::new` refuses it with the kernel's error
/// (the documented way to read it is `blocking`).
#[test]
fn a_regular_file_is_refused() {
    let rt = CoroRuntime::builder().workers(1).build().unwrap();
    let path = std::env::temp_dir().join(format!("netpoll-regular-{}", std::process::id()));
    std::fs::write(&path, b"data").unwrap();
    let path_for_task = path.clone();
    let f = std::fs::File::open(&path).unwrap();
    use std::os::fd::IntoRawFd;
    let raw = f.into_raw_fd();
    let err = match netpoll::fd::Fd::new(rt.netpoll().clone(), raw) {
        Err(Error::Io(e)) => e,
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a regular file was accepted"),
    };
    assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
    // The runtime's own constructor says what to do instead.
    let msg = match rt.fd(raw) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a regular file was accepted"),
    };
    assert!(msg.contains("cannot be watched by epoll"), "{msg}");
    assert!(msg.contains("CoroSched::blocking"), "{msg}");
    // And `blocking` reads it without stalling the worker's other tasks.
    let sched = rt.sched().clone();
    let data = rt.block_on(move || sched.blocking(|| std::fs::read(&path_for_task).unwrap()));
    assert_eq!(data, b"data");
    sys::close(raw).unwrap();
    let _ = std::fs::remove_file(path);
}

/// A chain of frames, each with its own pattern on the stack, parked at the bottom: after the
/// stack is trimmed (copied to the heap, pages released) and restored, every frame still
/// holds its pattern and the chain returns correctly.
fn deep_then_park(depth: u32, seed: u64, park: &dyn Fn()) -> u64 {
    let mut local = [0u64; 16];
    for (i, x) in local.iter_mut().enumerate() {
        *x = seed
            .wrapping_mul(31)
            .wrapping_add(i as u64 * 7 + u64::from(depth));
    }
    let below = if depth == 0 {
        park();
        0
    } else {
        deep_then_park(depth - 1, seed ^ u64::from(depth), park)
    };
    let local = std::hint::black_box(local);
    for (i, x) in local.iter().enumerate() {
        assert_eq!(
            *x,
            seed.wrapping_mul(31)
                .wrapping_add(i as u64 * 7 + u64::from(depth)),
            "frame {depth} lost its data across the trim"
        );
    }
    below.wrapping_add(local.iter().sum::<u64>())
}

#[test]
fn trimmed_stacks_come_back_intact() {
    bounded(LIMIT, || {
        let rt = CoroRuntime::builder()
            .workers(2)
            .trim_idle_stacks(Some(Duration::from_millis(20)))
            .build()
            .unwrap();
        const N: usize = 300;
        let mut hs = Vec::new();
        let mut ws = Vec::new();
        for i in 0..N {
            let (r, w) = sys::pipe().unwrap();
            let fd = Arc::new(rt.fd(r).unwrap());
            ws.push(w);
            let depth = (i % 40) as u32;
            hs.push(rt.spawn(move || {
                let park = || {
                    let mut b = [0u8; 1];
                    assert_eq!(fd.read(&mut b).unwrap(), 1);
                };
                let expected = deep_then_park(depth, i as u64, &|| {});
                let got = deep_then_park(depth, i as u64, &park);
                fd.close().unwrap();
                (expected, got)
            }));
        }
        wait_until(LIMIT, "every task parked", || {
            rt.netpoll().waiters() == N as u32
        });
        wait_until(LIMIT, "the stacks trimmed", || {
            rt.sched().stats().trims >= N as u64
        });
        for w in &ws {
            sys::write(*w, b"x").unwrap();
        }
        for h in hs {
            let (expected, got) = h.join().unwrap();
            assert_eq!(expected, got);
        }
        let s = rt.sched().stats();
        assert!(s.restores >= N as u64, "{s:?}");
        for w in ws {
            sys::close(w).unwrap();
        }
    });
}

/// Tasks spawned from a task on small stacks: whatever the scheduler allocates while spawning
/// (new chunks of its task table, new stack slabs) must not live on the spawning task's stack.
#[test]
fn spawning_many_from_a_task_with_small_stacks() {
    bounded(LIMIT, || {
        let rt = CoroRuntime::builder()
            .workers(2)
            .stack_size(16 * 1024)
            .build()
            .unwrap();
        let sched = rt.sched().clone();
        let total = rt.block_on(move || {
            let hs: Vec<_> = (0..1000u64).map(|i| sched.spawn_task(move || i)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        assert_eq!(total, (0..1000u64).sum());
    });
}
