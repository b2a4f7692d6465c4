//! The scenarios of `netpoll::scenarios`, written once against the generic API, run on real
//! epoll and OS threads with the fixed protocol. They must pass every time.

use std::sync::mpsc;
use std::time::Duration;

use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_real::Runtime;

/// Run `name` `rounds` times on a fresh runtime, failing (not hanging) if a round takes longer
/// than `limit`.
fn run_rounds(name: Scenario, rounds: usize, limit: Duration) {
    let rt = Runtime::with_protocol(Protocol::Fixed).expect("runtime");
    let np = rt.netpoll().clone();
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        for round in 0..rounds {
            name.run(&np);
            tx.send(round).expect("report progress");
        }
    });
    for round in 0..rounds {
        match rx.recv_timeout(limit) {
            Ok(r) => assert_eq!(r, round),
            Err(_) => panic!("{name}: round {round} did not finish within {limit:?} (hang)"),
        }
    }
    worker.join().expect("scenario thread panicked");
    // The count drops just after the woken tasks are readied (golang/go#61454's order), so a
    // woken task may finish first: give the waker a moment.
    netpoll_real::testing::wait_until(limit, "the waiters count back to 0", || {
        rt.netpoll().waiters() == 0
    });
}

#[test]
fn close_unblocks_read_on_real_epoll() {
    run_rounds(Scenario::CloseUnblocksRead, 200, Duration::from_secs(10));
}

#[test]
fn deadline_unblocks_read_on_real_epoll() {
    // Each round sleeps DEADLINE_NS (1 ms).
    run_rounds(Scenario::DeadlineUnblocksRead, 100, Duration::from_secs(10));
}

#[test]
fn write_wakes_read_on_real_epoll() {
    run_rounds(Scenario::WriteWakesRead, 200, Duration::from_secs(10));
}

#[test]
fn every_scenario_runs_on_real_epoll() {
    for &s in Scenario::ALL {
        // One round of various-deadlines waits about 1.9 s (its timeouts add up to that).
        let rounds = if s == Scenario::VariousDeadlines {
            1
        } else {
            3
        };
        run_rounds(s, rounds, Duration::from_secs(10));
    }
}

// The scenarios from Go's net tests, each with a few more rounds than above (a round takes a
// few tens of milliseconds, most of it sleeping).

#[test]
fn read_timeout_on_real_epoll() {
    run_rounds(Scenario::ReadTimeout, 10, Duration::from_secs(10));
}

#[test]
fn write_timeout_on_real_epoll() {
    run_rounds(Scenario::WriteTimeout, 10, Duration::from_secs(10));
}

#[test]
fn timeouts_must_not_return_on_real_epoll() {
    run_rounds(
        Scenario::ReadTimeoutMustNotReturn,
        10,
        Duration::from_secs(10),
    );
    run_rounds(
        Scenario::WriteTimeoutMustNotReturn,
        10,
        Duration::from_secs(10),
    );
}

#[test]
fn deadlines_moved_while_blocked_on_real_epoll() {
    run_rounds(
        Scenario::DeadlineExtendedWhileBlocked,
        5,
        Duration::from_secs(10),
    );
    run_rounds(
        Scenario::DeadlineMovedToPastUnblocks,
        10,
        Duration::from_secs(10),
    );
}

#[test]
fn deadline_race_on_real_epoll() {
    // A round is a few microseconds of deadlines; many rounds stand in for Go's 1000 ops.
    run_rounds(Scenario::DeadlineRace, 300, Duration::from_secs(10));
}

#[test]
fn combined_deadline_on_real_epoll() {
    run_rounds(Scenario::CombinedDeadline, 5, Duration::from_secs(10));
}

#[test]
fn deadline_now_and_zero_on_real_epoll() {
    run_rounds(Scenario::DeadlineNowAndZero, 10, Duration::from_secs(10));
}

#[test]
fn close_scenarios_on_real_epoll() {
    run_rounds(Scenario::CloseBlockedReadWrite, 20, Duration::from_secs(10));
    run_rounds(Scenario::CloseRacesDeadline, 20, Duration::from_secs(10));
}

#[test]
fn peer_close_and_reuse_on_real_epoll() {
    run_rounds(Scenario::PeerCloseEof, 20, Duration::from_secs(10));
    run_rounds(Scenario::ReusedPdStaleEvent, 20, Duration::from_secs(10));
}

#[test]
fn unknown_scenario_is_an_error() {
    let err = "no-such".parse::<Scenario>().unwrap_err();
    assert!(err.contains("unknown scenario 'no-such'"), "{err}");
    assert!(err.contains("close-unblocks-read"), "{err}");
}
