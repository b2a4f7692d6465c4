//! Each checker of the netpoll platform fires when its property is broken on purpose, and
//! names itself. Properties the core keeps are broken two ways: by the historical protocol
//! variants (the real bugs), and, where no variant breaks one, by feeding the checkers the
//! observations a broken FD layer would make (`Platform::observe` is what the FD layer
//! calls) or by misusing the simulated kernel the way a broken caller would. The fixed
//! protocol never fires any of them (sim/tests/scenarios.rs runs every scenario with them).

use netpoll::observe::{Observation, OpKind, OpOutcome};
use netpoll::platform::{Backend, Platform};
use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_sim::platform::checkers::Checker;
use netpoll_sim::{
    scenario_check, Builder, Failure, Faults, IntoCheck, MemoryModel, SimPlatform, Strategy,
};

fn random(seed: u64, schedules: u64) -> Builder {
    Builder::default()
        .strategy(Strategy::Random)
        .memory(MemoryModel::C11)
        .seed(seed)
        .schedules(schedules)
}

/// Explore `check` and return the checker failure it must find: (checker, message).
fn fires(b: Builder, check: impl IntoCheck) -> (String, String) {
    let r = b.explore(check);
    let info = r.first_failure.expect("the broken property must be found");
    match info.failure {
        Failure::Checker { checker, message } => (checker, message),
        other => panic!("expected a checker failure, got {other}"),
    }
}

fn assert_fires(b: Builder, check: impl IntoCheck, checker: Checker, want: &[&str]) {
    let (name, message) = fires(b, check);
    assert_eq!(name, checker.name(), "{message}");
    for w in want {
        assert!(message.contains(w), "must say {w:?}: {message}");
    }
}

/// A check on a fresh platform whose FD layer reports `observations` (as a broken one would)
/// for an FD it opened on a pipe, which it then closes properly.
fn observing(observations: &'static [Observation]) -> impl Fn() + 'static {
    move || {
        let np = SimPlatform::netpoll(Protocol::Fixed, Faults::NONE);
        let (r, w) = np.platform().backend().pipe().expect("pipe");
        let fd = netpoll::fd::Fd::new(np.clone(), r).expect("fd");
        for &o in observations {
            np.platform().observe(o);
        }
        fd.close().expect("close");
        np.platform().backend().close_fd(w).expect("close w");
    }
}

#[test]
fn parked_on_closed_pd_fires_on_45211() {
    assert_fires(
        random(1, 1_000),
        scenario_check(Scenario::CloseUnblocksRead, Protocol::PreFix45211),
        Checker::ParkedOnClosedPd,
        &["stays parked on pd0", "closing=true"],
    );
}

#[test]
fn deadlines_fires_on_a_reader_parked_past_its_deadline() {
    // #45211's deadline variant: the reader misses the expired deadline and parks for good.
    assert_fires(
        random(1, 1_000),
        scenario_check(Scenario::DeadlineUnblocksRead, Protocol::PreFix45211),
        Checker::Deadlines,
        &["past its deadline", "rd=-1"],
    );
}

#[test]
fn deadlines_fires_on_a_timeout_before_any_deadline() {
    // A read that ends with DeadlineExceeded though no deadline was ever set.
    static OBS: &[Observation] = &[
        Observation::OpStart {
            pd: 0,
            op: OpKind::Read,
        },
        Observation::OpEnd {
            pd: 0,
            op: OpKind::Read,
            outcome: OpOutcome::DeadlineExceeded,
        },
    ];
    assert_fires(
        random(0, 1),
        observing(OBS),
        Checker::Deadlines,
        &["before any deadline in force passed"],
    );
}

#[test]
fn outcomes_fires_on_59545_and_on_a_bad_descriptor() {
    // #59545: the stale error event makes the new fd's read "not pollable", though the
    // kernel reported no error for it.
    assert_fires(
        Builder::default()
            .strategy(Strategy::Pct)
            .seed(2)
            .schedules(10_000),
        scenario_check(Scenario::ReusedPdStaleError, Protocol::PreFix59545),
        Checker::Outcomes,
        &["NotPollable", "no error event for its descriptor"],
    );
    // A read that ends with EBADF (a descriptor closed under it).
    static OBS: &[Observation] = &[
        Observation::OpStart {
            pd: 0,
            op: OpKind::Read,
        },
        Observation::OpEnd {
            pd: 0,
            op: OpKind::Read,
            outcome: OpOutcome::Io(std::io::ErrorKind::Other, Some(9)),
        },
    ];
    assert_fires(
        random(0, 1),
        observing(OBS),
        Checker::Outcomes,
        &["Some(9)"],
    );
}

#[test]
fn syscall_after_destroy_fires() {
    // An operation that still makes a system call after Close destroyed the FD.
    static OBS: &[Observation] = &[
        Observation::OpStart {
            pd: 0,
            op: OpKind::Read,
        },
        Observation::Destroy { pd: 0, fd: 3 },
        Observation::Syscall { pd: 0, fd: 3 },
    ];
    assert_fires(
        random(0, 1),
        observing(OBS),
        Checker::SyscallAfterDestroy,
        &["after task 0 (main) destroyed the FD"],
    );
}

#[test]
fn closed_once_fires_on_a_double_close_a_double_destroy_and_a_leak() {
    let double_close = || {
        let np = SimPlatform::netpoll(Protocol::Fixed, Faults::NONE);
        let (r, w) = np.platform().backend().pipe().expect("pipe");
        np.platform().backend().close_fd(r).expect("close r");
        np.platform().backend().close_fd(w).expect("close w");
        let _ = np.platform().backend().close_fd(r);
    };
    assert_fires(
        random(0, 1),
        double_close,
        Checker::ClosedOnce,
        &["closed fd 3, which is not open"],
    );
    static OBS: &[Observation] = &[Observation::Destroy { pd: 0, fd: 3 }];
    assert_fires(
        random(0, 1),
        observing(OBS),
        Checker::ClosedOnce,
        &["destroys the FD on pd0 (fd 3) again"],
    );
    let leak = || {
        let np = SimPlatform::netpoll(Protocol::Fixed, Faults::NONE);
        let (r, _w) = np.platform().backend().pipe().expect("pipe");
        np.platform().backend().close_fd(r).expect("close r");
    };
    assert_fires(
        random(0, 1),
        leak,
        Checker::ClosedOnce,
        &["fd 4 (a pipe's write end) was left open"],
    );
}

#[test]
fn waiters_balanced_fires_on_60782() {
    assert_fires(
        random(0, 1_000),
        scenario_check(Scenario::WriteWakesRead, Protocol::PreFix60782),
        Checker::WaitersBalanced,
        &["netpoll.waiters = 1"],
    );
}

#[test]
fn timers_on_time_fires_on_42515() {
    assert_fires(
        random(1, 1_000).faults("break=1/10".parse().expect("faults")),
        scenario_check(Scenario::DeadlineMovedEarlier, Protocol::PreFix42515),
        Checker::TimersOnTime,
        &["was due at +2ms and has not fired"],
    );
}

#[test]
fn go_checkdead_fires_on_61454() {
    assert_fires(
        random(0, 1_000),
        scenario_check(Scenario::WriteWakesRead, Protocol::PreFix61454),
        Checker::GoCheckdead,
        &["all goroutines are asleep"],
    );
}

#[test]
fn checker_names_round_trip_and_are_distinct() {
    for c in Checker::ALL {
        assert_eq!(c.name().parse::<Checker>(), Ok(c));
        assert!(!c.description().is_empty());
    }
    let mut names: Vec<_> = Checker::ALL.iter().map(|c| c.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Checker::ALL.len());
    assert_eq!(
        Checker::WaitersBalanced.name(),
        netpoll_sim::platform::WAITERS_CHECK
    );
}

/// Explore `check` and require that nothing fails.
fn assert_quiet(what: &str, b: Builder, check: impl IntoCheck) {
    let r = b.explore(check);
    if let Some(info) = r.first_failure {
        panic!("{what}: must stay quiet, got {}", info.failure);
    }
}

#[test]
fn quiet_on_the_fixed_protocol_with_the_same_explorations() {
    // Each exploration above that finds a historical variant, with the fixed protocol.
    let cases = [
        (random(1, 1_000), Scenario::CloseUnblocksRead),
        (random(1, 1_000), Scenario::DeadlineUnblocksRead),
        (
            Builder::default()
                .strategy(Strategy::Pct)
                .seed(2)
                .schedules(10_000),
            Scenario::ReusedPdStaleError,
        ),
        (random(0, 1_000), Scenario::WriteWakesRead),
        (
            random(1, 1_000).faults("break=1/10".parse().expect("faults")),
            Scenario::DeadlineMovedEarlier,
        ),
    ];
    for (b, s) in cases {
        assert_quiet(
            &format!("{s} under the fixed protocol"),
            b,
            scenario_check(s, Protocol::Fixed),
        );
    }
}

#[test]
fn quiet_on_a_correct_fd_layer_and_kernel_use() {
    // The synthetic workloads above without the planted violation: no extra observation, a
    // read that makes its system call on a live FD and ends with data, and a pipe whose two
    // ends are each closed once.
    static NONE: &[Observation] = &[];
    static GOOD_READ: &[Observation] = &[
        Observation::OpStart {
            pd: 0,
            op: OpKind::Read,
        },
        Observation::Syscall { pd: 0, fd: 3 },
        Observation::OpEnd {
            pd: 0,
            op: OpKind::Read,
            outcome: OpOutcome::Data(1),
        },
    ];
    assert_quiet("no observation", random(0, 1), observing(NONE));
    assert_quiet("a good read", random(0, 1), observing(GOOD_READ));
    let closed_once = || {
        let np = SimPlatform::netpoll(Protocol::Fixed, Faults::NONE);
        let (r, w) = np.platform().backend().pipe().expect("pipe");
        np.platform().backend().close_fd(r).expect("close r");
        np.platform().backend().close_fd(w).expect("close w");
    };
    assert_quiet("each end closed once", random(0, 1), closed_once);
}
