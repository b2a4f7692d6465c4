//! golang/go#45211 on the simulator: the pre-fix protocol deadlocks under C11 weak memory,
//! the fixed protocol never does, and the pre-fix protocol is correct under sequential
//! consistency (the bug needs weak memory).

use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_sim::platform::checkers::Checker;
use netpoll_sim::{
    scenario_check, Builder, Failure, Faults, MemoryModel, Ratio, Report, Strategy, Subject,
};

const CLOSE: Scenario = Scenario::CloseUnblocksRead;
const DEADLINE: Scenario = Scenario::DeadlineUnblocksRead;
const CLOSE_WRITE: Scenario = Scenario::CloseUnblocksWrite;

fn explore(
    scenario: Scenario,
    protocol: Protocol,
    memory: MemoryModel,
    builder: Builder,
) -> Report {
    builder
        .memory(memory)
        .explore(scenario_check(scenario, protocol))
}

fn random(seed: u64, schedules: u64) -> Builder {
    Builder::default()
        .strategy(Strategy::Random)
        .seed(seed)
        .schedules(schedules)
        .stop_at_first_failure(true)
}

fn dfs(preemptions: u32) -> Builder {
    Builder::default()
        .strategy(Strategy::Dfs)
        .preemption_bound(Some(preemptions))
        .schedules(u64::MAX)
        .stop_at_first_failure(true)
}

/// The failure of an exploration, checked to be the #45211 symptom: the reader stays parked
/// on pd0's read semaphore (`rg=task`) although the waker ran, with `field` (closing=true or
/// rd=-1) visible in the pd. The platform's checkers name it before it becomes a deadlock:
/// `parked-on-closed-pd` for Close, `deadlines` for an expired deadline.
fn assert_45211_stuck_reader(report: &Report, checker: Checker, field: &str) {
    let info = report
        .first_failure
        .as_ref()
        .expect("the pre-fix protocol must leave the reader parked");
    let Failure::Checker {
        checker: name,
        message,
    } = &info.failure
    else {
        panic!("expected a checker failure, got: {}", info.failure);
    };
    assert_eq!(name, checker.name(), "{message}");
    for want in ["reader", "pd0", field, "rg=task"] {
        assert!(message.contains(want), "must show {want}: {message}");
    }
}

#[test]
fn prefix_close_deadlocks_under_c11() {
    let r = explore(
        CLOSE,
        Protocol::PreFix45211,
        MemoryModel::C11,
        random(1, 1_000),
    );
    assert_45211_stuck_reader(&r, Checker::ParkedOnClosedPd, "closing=true");
    // The fixed protocol publishes closing in atomic_info; the pre-fix one does not.
    let info = r.first_failure.as_ref().unwrap();
    assert!(
        info.failure.to_string().contains("info=0x0"),
        "{}",
        info.failure
    );
}

#[test]
fn prefix_deadline_deadlocks_under_c11() {
    let r = explore(
        DEADLINE,
        Protocol::PreFix45211,
        MemoryModel::C11,
        random(1, 1_000),
    );
    assert_45211_stuck_reader(&r, Checker::Deadlines, "rd=-1");
}

#[test]
fn prefix_close_deadlocks_the_writer_too() {
    let r = explore(
        CLOSE_WRITE,
        Protocol::PreFix45211,
        MemoryModel::C11,
        random(1, 1_000),
    );
    let info = r
        .first_failure
        .as_ref()
        .expect("the pre-fix protocol must leave the writer parked");
    let Failure::Checker { checker, message } = &info.failure else {
        panic!("expected a checker failure, got: {}", info.failure);
    };
    assert_eq!(checker, Checker::ParkedOnClosedPd.name(), "{message}");
    assert!(
        message.contains("writer") && message.contains("pd0 for Write"),
        "{message}"
    );
    assert!(message.contains("closing=true"), "{message}");
    for (protocol, memory) in [
        (Protocol::Fixed, MemoryModel::C11),
        (Protocol::PreFix45211, MemoryModel::Sc),
    ] {
        let r = explore(CLOSE_WRITE, protocol, memory, random(1, 20_000));
        assert_eq!(
            r.failures,
            0,
            "{protocol} {memory}: {}",
            r.first_failure.unwrap().failure
        );
    }
}

#[test]
fn prefix_found_by_every_strategy() {
    for scenario in [CLOSE, DEADLINE] {
        let builders = [
            ("random", random(7, 1_000)),
            ("pct", random(7, 1_000).strategy(Strategy::Pct).pct_depth(3)),
            ("dfs", dfs(2)),
        ];
        for (name, b) in builders {
            let r = explore(scenario, Protocol::PreFix45211, MemoryModel::C11, b);
            assert!(
                r.failures > 0,
                "{scenario}: {name} did not find #45211 in {} schedules",
                r.schedules
            );
        }
    }
}

#[test]
fn fixed_clean_under_c11_random_100k() {
    for scenario in [CLOSE, DEADLINE] {
        let r = explore(
            scenario,
            Protocol::Fixed,
            MemoryModel::C11,
            random(2022, 100_000),
        );
        assert_eq!(r.schedules, 100_000);
        assert_eq!(
            r.failures,
            0,
            "{scenario}: {}",
            r.first_failure.unwrap().failure
        );
    }
}

#[test]
fn fixed_clean_under_c11_complete_dfs_bound_3() {
    for scenario in [CLOSE, DEADLINE] {
        let r = explore(scenario, Protocol::Fixed, MemoryModel::C11, dfs(3));
        assert!(
            r.complete(),
            "{scenario}: the bounded exploration must finish"
        );
        assert_eq!(
            r.failures,
            0,
            "{scenario}: {}",
            r.first_failure.unwrap().failure
        );
    }
}

#[test]
fn prefix_clean_under_sc() {
    for (scenario, protocol) in [
        (CLOSE, Protocol::PreFix45211),
        (DEADLINE, Protocol::PreFix45211),
        (CLOSE, Protocol::Fixed),
        (DEADLINE, Protocol::Fixed),
    ] {
        let r = explore(scenario, protocol, MemoryModel::Sc, random(3, 20_000));
        assert_eq!(
            r.failures,
            0,
            "{scenario} {protocol}: {}",
            r.first_failure.unwrap().failure
        );
        let r = explore(scenario, protocol, MemoryModel::Sc, dfs(3));
        assert!(r.complete());
        assert_eq!(
            r.failures,
            0,
            "{scenario}: {}",
            r.first_failure.unwrap().failure
        );
    }
}

const WRITE: Scenario = Scenario::WriteWakesRead;

#[test]
fn readiness_wakes_reader_in_every_protocol_but_the_waiters_leak() {
    // Every protocol wakes the reader; all but the pre-#60782 one also keep the waiters count
    // right (the platform's end check: back to 0 once every task has finished).
    for protocol in Protocol::ALL {
        // Pre-#61454 also wakes the reader, but the model of Go's idle check sees the count
        // drop before the reader is ready (tested with the zoo).
        if matches!(protocol, Protocol::PreFix60782 | Protocol::PreFix61454) {
            continue;
        }
        let r = explore(WRITE, protocol, MemoryModel::C11, random(5, 20_000));
        assert_eq!(
            r.failures,
            0,
            "{protocol}: {}",
            r.first_failure.unwrap().failure
        );
        let r = explore(WRITE, protocol, MemoryModel::C11, dfs(2));
        assert!(r.complete());
        assert_eq!(
            r.failures,
            0,
            "{protocol}: {}",
            r.first_failure.unwrap().failure
        );
    }
}

#[test]
fn spurious_and_delayed_events_do_not_break_the_fixed_protocol() {
    // A spurious event only makes a reader retry; a delayed one only delays it.
    let faults = Faults {
        error_event: Ratio::ZERO,
        spurious_event: Ratio::new(1, 4).unwrap(),
        delayed_delivery: Ratio::new(1, 4).unwrap(),
        ..Faults::NONE
    };
    for scenario in [CLOSE, DEADLINE, WRITE] {
        let check = scenario_check(scenario, Protocol::Fixed);
        let r = random(11, 5_000)
            .memory(MemoryModel::C11)
            .faults(faults)
            .explore(check);
        assert_eq!(
            r.failures,
            0,
            "{scenario}: {}",
            r.first_failure.unwrap().failure
        );
        let check = scenario_check(scenario, Protocol::Fixed);
        let r = dfs(1)
            .memory(MemoryModel::C11)
            .faults(faults)
            .explore(check);
        assert!(r.complete());
        assert_eq!(
            r.failures,
            0,
            "{scenario}: {}",
            r.first_failure.unwrap().failure
        );
    }
}

#[test]
fn error_event_surfaces_as_not_pollable() {
    // An EPOLLERR-only event sets the pd's event-error bit; Go's read then fails with
    // ErrNotPollable. The exploration must find that outcome (it is drawn, not planted).
    let faults = Faults {
        error_event: Ratio::new(1, 2).unwrap(),
        ..Faults::NONE
    };
    let check = scenario_check(WRITE, Protocol::Fixed);
    let builder = random(12, 1_000).memory(MemoryModel::C11).faults(faults);
    let r = builder.explore(check);
    let info = r
        .first_failure
        .expect("an error event must reach the reader");
    let msg = info.failure.to_string();
    assert!(msg.contains("not pollable"), "{msg}");
    // The faulty schedule replays exactly from its trace: the faults are in its metadata.
    let trace = builder.trace(Subject::Builtin(check.faults(faults)), &info, false);
    let bytes = netpoll_sim::trace::encode(&trace).unwrap();
    let decoded = netpoll_sim::trace::decode(&bytes).unwrap();
    let Subject::Builtin(recorded) = &decoded.subject else {
        panic!("a scenario trace")
    };
    assert_eq!(recorded.faults, faults);
    // Replayed with the check the trace names, faults included.
    Builder::replay_builtin(&decoded, std::path::Path::new("error-event.trace"))
        .expect("byte-identical replay");
}

#[test]
fn same_seed_same_event_log_bytes() {
    let run = || {
        let r = explore(
            CLOSE,
            Protocol::PreFix45211,
            MemoryModel::C11,
            random(99, 1_000),
        );
        let info = r.first_failure.expect("fails");
        (
            info.schedule_index,
            info.log.to_bytes(),
            info.choices.clone(),
        )
    };
    let a = run();
    let b = run();
    assert_eq!(a.0, b.0);
    assert_eq!(
        a.1, b.1,
        "event logs differ between two runs of the same seed"
    );
    assert_eq!(a.2, b.2);
    // And on two OS threads at once.
    let t1 = std::thread::spawn(run);
    let t2 = std::thread::spawn(run);
    let (c, d) = (t1.join().unwrap(), t2.join().unwrap());
    assert_eq!(c.1, a.1);
    assert_eq!(d.1, a.1);
}

#[test]
fn unknown_scenario_is_an_error() {
    let err = "nope".parse::<Scenario>().expect_err("error");
    assert!(
        err.contains("unknown scenario 'nope'") && err.contains(CLOSE.name()),
        "{err}"
    );
}

#[test]
fn race_detector_flags_the_prefix_plain_reads_only() {
    // The pre-fix netpollcheckerr reads pd.closing / pd.rd without the lock: a data race the
    // vector-clock detector must report when asked. The fixed core has none.
    for (scenario, field) in [(CLOSE, "closing"), (DEADLINE, "rd")] {
        let b = random(4, 2_000).fail_on_data_race(true);
        let r = explore(scenario, Protocol::PreFix45211, MemoryModel::C11, b);
        let info = r.first_failure.expect("the pre-fix protocol races");
        let Failure::DataRace { location, .. } = &info.failure else {
            panic!("expected a data race, got {}", info.failure);
        };
        assert_eq!(location, &format!("pd0.{field}"), "{scenario}");
    }
    for scenario in [CLOSE, DEADLINE, WRITE] {
        let b = random(4, 20_000).fail_on_data_race(true);
        let r = explore(scenario, Protocol::Fixed, MemoryModel::C11, b);
        assert_eq!(
            r.failures,
            0,
            "{scenario}: {}",
            r.first_failure.unwrap().failure
        );
        assert_eq!(r.races, 0, "{scenario}");
    }
}

/// Under x86-TSO (memory model `tso`) the pre-fix protocol is correct: its "barrier", a
/// SeqCst store to an unrelated location, is an XCHG that drains the closer's store buffer
/// before it reads rg. That is why #45211 only appeared on ARM64. The fixed protocol is clean
/// under TSO as well.
#[test]
fn prefix_and_fixed_clean_under_tso() {
    for protocol in [Protocol::PreFix45211, Protocol::Fixed] {
        for (scenario, bound) in [(CLOSE, 3), (DEADLINE, 3), (CLOSE_WRITE, 1)] {
            let r = explore(scenario, protocol, MemoryModel::Tso, random(3, 20_000));
            assert_eq!(r.schedules, 20_000);
            assert_eq!(
                r.failures,
                0,
                "{protocol} {scenario}: {}",
                r.first_failure.unwrap().failure
            );
            let r = explore(scenario, protocol, MemoryModel::Tso, dfs(bound));
            assert!(r.complete(), "{protocol} {scenario}: {r}");
            assert_eq!(
                r.failures,
                0,
                "{protocol} {scenario}: {}",
                r.first_failure.unwrap().failure
            );
        }
    }
}

const STALE: Scenario = Scenario::ReusedPdStaleError;

fn pct(seed: u64, schedules: u64) -> Builder {
    random(seed, schedules).strategy(Strategy::Pct).pct_depth(3)
}

#[test]
fn prefix_59545_stale_error_reaches_the_reused_pd() {
    // golang/go#59545: an EPOLLERR in flight for a closed fd lands on the pd's next use. The
    // window is narrow (the poller must run between the reopen and the read): uniform random
    // scheduling rarely hits it, PCT's priorities and the bounded DFS do.
    for seed in 1..=5 {
        let r = explore(
            STALE,
            Protocol::PreFix59545,
            MemoryModel::C11,
            pct(seed, 2_000),
        );
        let info = r
            .first_failure
            .unwrap_or_else(|| panic!("seed {seed}: PCT did not find #59545 in 2000 schedules"));
        // The outcomes checker sees it first: the new fd's read ends "not pollable" though
        // the kernel reported no error for that descriptor.
        let msg = info.failure.to_string();
        assert!(
            msg.contains("checker outcomes")
                && msg.contains("NotPollable")
                && msg.contains("no error event for its descriptor"),
            "{msg}"
        );
    }
    let r = explore(STALE, Protocol::PreFix59545, MemoryModel::C11, dfs(2));
    assert!(
        r.failures > 0,
        "DFS with preemption bound 2 must find #59545"
    );
}

#[test]
fn fixed_reused_pd_ignores_stale_events() {
    let r = explore(STALE, Protocol::Fixed, MemoryModel::C11, pct(1, 20_000));
    assert_eq!(r.failures, 0, "{}", r.first_failure.unwrap().failure);
    let r = explore(STALE, Protocol::Fixed, MemoryModel::C11, dfs(2));
    assert!(r.complete());
    assert_eq!(r.failures, 0, "{}", r.first_failure.unwrap().failure);
}

#[test]
fn prefix_45211_plain_everr_also_takes_a_stale_error() {
    // The pre-#45211 protocol checks the event's fdseq but then stores the plain everr: a
    // reuse between the check and the store still marks the new fd (Go before 1.21 had no
    // fdseq check at all, so it had #59545 too). Found, not planted: a bounded DFS reaches it.
    let r = explore(STALE, Protocol::PreFix45211, MemoryModel::C11, dfs(2));
    let info = r
        .first_failure
        .expect("the plain everr store races with reuse");
    assert!(
        info.failure.to_string().contains("NotPollable"),
        "{}",
        info.failure
    );
}

#[test]
fn prefix_60782_leaks_waiters_on_the_readiness_path_only() {
    // golang/go#60782: netpollWaiters was decremented in netpollgoready, which the readiness
    // path never calls. A reader woken by data stays counted; one woken by close does not.
    let r = explore(WRITE, Protocol::PreFix60782, MemoryModel::C11, dfs(2));
    let info = r.first_failure.expect("the readiness path leaks a waiter");
    let Failure::Checker { checker, message } = &info.failure else {
        panic!("expected the end check to fail, got {}", info.failure);
    };
    assert_eq!(checker, netpoll_sim::platform::WAITERS_CHECK);
    assert!(message.contains("netpoll.waiters = 1"), "{message}");
    for scenario in [CLOSE, DEADLINE] {
        let r = explore(scenario, Protocol::PreFix60782, MemoryModel::C11, dfs(2));
        assert!(r.complete());
        assert_eq!(
            r.failures,
            0,
            "{scenario}: {}",
            r.first_failure.unwrap().failure
        );
    }
}

#[test]
fn fixed_waiters_count_returns_to_zero_in_every_scenario() {
    // The end check runs in every finished schedule; across every scenario and strategy the
    // fixed core's waiters count is back to 0.
    for &info in Scenario::ALL {
        for b in [random(21, 5_000), pct(21, 5_000)] {
            let r = explore(info, Protocol::Fixed, MemoryModel::C11, b);
            assert_eq!(
                r.failures,
                0,
                "{}: {}",
                info.name(),
                r.first_failure.unwrap().failure
            );
        }
    }
}
