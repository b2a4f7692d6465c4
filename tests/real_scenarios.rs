//! The scenarios of `netpoll::scenarios`, written once against the generic API, run on real
//! epoll with the fixed protocol, on both schedulers: the scenario runs as a task (a thread,
//! or a coroutine whose own tasks are coroutines too). They must pass every time.

use std::sync::mpsc;
use std::time::Duration;

use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_real::RealRuntime;

/// Run `name` `rounds` times on a fresh runtime, failing (not hanging) if a round takes longer
/// than `limit`.
fn run_rounds<R: RealRuntime>(name: Scenario, rounds: usize, limit: Duration) {
    let rt = R::with_protocol(Protocol::Fixed).expect("runtime");
    let np = rt.netpoll().clone();
    let (tx, rx) = mpsc::channel();
    let task = rt.spawn(move || {
        for round in 0..rounds {
            name.run(&np);
            tx.send(round).expect("report progress");
        }
    });
    for round in 0..rounds {
        match rx.recv_timeout(limit) {
            Ok(r) => assert_eq!(r, round),
            Err(_) => panic!(
                "{name} on {}: round {round} did not finish within {limit:?} (hang)",
                R::NAME
            ),
        }
    }
    rt.join(task);
    // The count drops just after the woken tasks are readied (golang/go#61454's order), so a
    // woken task may finish first: give the waker a moment.
    netpoll_real::testing::wait_until(limit, "the waiters count back to 0", || {
        rt.netpoll().waiters() == 0
    });
}

fn close_unblocks_read<R: RealRuntime>() {
    run_rounds::<R>(Scenario::CloseUnblocksRead, 200, Duration::from_secs(10));
}

fn deadline_unblocks_read<R: RealRuntime>() {
    // Each round sleeps DEADLINE_NS (1 ms).
    run_rounds::<R>(Scenario::DeadlineUnblocksRead, 100, Duration::from_secs(10));
}

fn write_wakes_read<R: RealRuntime>() {
    run_rounds::<R>(Scenario::WriteWakesRead, 200, Duration::from_secs(10));
}

fn every_scenario_runs<R: RealRuntime>() {
    for &s in Scenario::ALL {
        // One round of various-deadlines waits about 1.9 s (its timeouts add up to that).
        let rounds = if s == Scenario::VariousDeadlines {
            1
        } else {
            3
        };
        run_rounds::<R>(s, rounds, Duration::from_secs(10));
    }
}

// The scenarios from Go's net tests, each with a few more rounds than above (a round takes a
// few tens of milliseconds, most of it sleeping).

fn read_timeout<R: RealRuntime>() {
    run_rounds::<R>(Scenario::ReadTimeout, 10, Duration::from_secs(10));
}

fn write_timeout<R: RealRuntime>() {
    run_rounds::<R>(Scenario::WriteTimeout, 10, Duration::from_secs(10));
}

fn timeouts_must_not_return<R: RealRuntime>() {
    run_rounds::<R>(
        Scenario::ReadTimeoutMustNotReturn,
        10,
        Duration::from_secs(10),
    );
    run_rounds::<R>(
        Scenario::WriteTimeoutMustNotReturn,
        10,
        Duration::from_secs(10),
    );
}

fn deadlines_moved_while_blocked<R: RealRuntime>() {
    run_rounds::<R>(
        Scenario::DeadlineExtendedWhileBlocked,
        5,
        Duration::from_secs(10),
    );
    run_rounds::<R>(
        Scenario::DeadlineMovedToPastUnblocks,
        10,
        Duration::from_secs(10),
    );
}

fn deadline_race<R: RealRuntime>() {
    // A round is a few microseconds of deadlines; many rounds stand in for Go's 1000 ops.
    run_rounds::<R>(Scenario::DeadlineRace, 300, Duration::from_secs(10));
}

fn combined_deadline<R: RealRuntime>() {
    run_rounds::<R>(Scenario::CombinedDeadline, 5, Duration::from_secs(10));
}

fn deadline_now_and_zero<R: RealRuntime>() {
    run_rounds::<R>(Scenario::DeadlineNowAndZero, 10, Duration::from_secs(10));
}

fn close_scenarios<R: RealRuntime>() {
    run_rounds::<R>(Scenario::CloseBlockedReadWrite, 20, Duration::from_secs(10));
    run_rounds::<R>(Scenario::CloseRacesDeadline, 20, Duration::from_secs(10));
}

fn peer_close_and_reuse<R: RealRuntime>() {
    run_rounds::<R>(Scenario::PeerCloseEof, 20, Duration::from_secs(10));
    run_rounds::<R>(Scenario::ReusedPdStaleEvent, 20, Duration::from_secs(10));
}

netpoll_real::on_both_runtimes!(
    close_unblocks_read,
    deadline_unblocks_read,
    write_wakes_read,
    every_scenario_runs,
    read_timeout,
    write_timeout,
    timeouts_must_not_return,
    deadlines_moved_while_blocked,
    deadline_race,
    combined_deadline,
    deadline_now_and_zero,
    close_scenarios,
    peer_close_and_reuse,
);

#[test]
fn unknown_scenario_is_an_error() {
    let err = "no-such".parse::<Scenario>().unwrap_err();
    assert!(err.contains("unknown scenario 'no-such'"), "{err}");
    assert!(err.contains("close-unblocks-read"), "{err}");
}
