//! A `std` blocking primitive inside a simulated task would hang the test forever (every task
//! runs on one OS thread): the watchdog ends the process instead, naming the task and its last
//! simulated step. The victims below are ignored tests, run by the tests above them in a child
//! process with a short watchdog.

use netpoll_sim::sync::atomic::{AtomicBool, Ordering};
use netpoll_sim::{thread, Builder};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Run the victim test `name` of this binary with `NETPOLL_SIM_WATCHDOG=1`, under a CPU limit
/// (a hang that the watchdog missed is then a killed child, not a hung test).
fn victim(name: &str) -> (Output, Duration) {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--ignored",
        "--exact",
        name,
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env("NETPOLL_SIM_WATCHDOG", "1")
    .env_remove("RUST_BACKTRACE");
    // SAFETY: only setrlimit between fork and exec, which is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            let l = libc::rlimit {
                rlim_cur: 30,
                rlim_max: 30,
            };
            if libc::setrlimit(libc::RLIMIT_CPU, &l) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let o = c.output().unwrap();
    (o, start.elapsed())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_std_mutex_held_across_a_step_is_named_instead_of_hanging() {
    let (o, took) = victim("victim_std_mutex");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(101), "{err}");
    assert!(err.contains("netpoll-sim watchdog"), "{err}");
    assert!(err.contains("task 0 (\"main\")"), "{err}");
    assert!(err.contains("last simulated step was step"), "{err}");
    // Wall time, loosely: a hang would have run into the CPU limit or the test's own timeout.
    assert!(took < Duration::from_secs(60), "{took:?}");
}

#[test]
fn a_std_channel_in_a_task_is_named_instead_of_hanging() {
    let (o, _) = victim("victim_std_channel");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(101), "{err}");
    assert!(err.contains("task 1 (\"consumer\")"), "{err}");
}

#[test]
fn the_watchdog_leaves_working_checks_alone() {
    let (o, _) = victim("victim_none");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// The worker holds a `std` mutex across a simulated step; the main task then locks it too,
/// which blocks the one OS thread for good.
#[test]
#[ignore = "run by a_std_mutex_held_across_a_step_is_named_instead_of_hanging"]
fn victim_std_mutex() {
    Builder::new().schedules(1).check(|| {
        let m = std::sync::Arc::new(std::sync::Mutex::new(0u32));
        let held = std::sync::Arc::new(AtomicBool::new(false));
        let (m2, h2) = (m.clone(), held.clone());
        let h = thread::spawn_named("worker", move || {
            let _g = m2.lock().unwrap();
            h2.store(true, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(1));
        });
        while !held.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        *m.lock().unwrap() += 1;
        h.join().unwrap();
    });
}

/// A task waits on a `std` channel nobody sends on.
#[test]
#[ignore = "run by a_std_channel_in_a_task_is_named_instead_of_hanging"]
fn victim_std_channel() {
    Builder::new().schedules(1).check(|| {
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        let h = thread::spawn_named("consumer", move || rx.recv());
        let _ = h.join();
        drop(tx);
    });
}

/// A check that takes many steps, and virtual time, but never blocks in `std`.
#[test]
#[ignore = "run by the_watchdog_leaves_working_checks_alone"]
fn victim_none() {
    Builder::new().schedules(300).check(|| {
        let flag = std::sync::Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        let h = thread::spawn(move || {
            thread::sleep(Duration::from_secs(3600));
            f2.store(true, Ordering::SeqCst);
        });
        h.join().unwrap();
        assert!(flag.load(Ordering::SeqCst));
    });
}
