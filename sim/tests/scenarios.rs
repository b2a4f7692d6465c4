//! Every scenario of `netpoll::scenarios` on the simulator with the fixed protocol, under each
//! memory model (sc, c11, tso), explored by random and PCT schedules. A failure shrinks its
//! schedule, saves the trace (see the README) and names the command that replays it.

use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_sim::{scenario_check, Builder, Faults, MemoryModel, Strategy};

/// Random schedules per scenario and memory model.
const RANDOM_SCHEDULES: u64 = 2_000;
/// PCT schedules per scenario and memory model.
const PCT_SCHEDULES: u64 = 2_000;
/// The seed of both strategies (any fixed value: the runs are deterministic).
const SEED: u64 = 8;

/// Explore `scenario` with the fixed protocol under sc, c11 and tso, random then PCT; panic
/// (with the saved trace's replay command) on the first failure.
fn check_fixed(scenario: Scenario) {
    for memory in [MemoryModel::Sc, MemoryModel::C11, MemoryModel::Tso] {
        for (strategy, schedules) in [
            (Strategy::Random, RANDOM_SCHEDULES),
            (Strategy::Pct, PCT_SCHEDULES),
        ] {
            let check = scenario_check(scenario, Protocol::Fixed);
            // Builder::new() for NETPOLL_SIM_REPLAY and NETPOLL_SIM_TRACE_DIR; what this test
            // means (no faults, this model, strategy and budget) is set explicitly.
            Builder::new()
                .memory(memory)
                .strategy(strategy)
                .seed(SEED)
                .schedules(schedules)
                .faults(Faults::NONE)
                .check(check);
        }
    }
}

/// One test per scenario, named after it, and the list they cover.
macro_rules! scenario_tests {
    ($($test:ident => $scenario:ident,)*) => {
        $(
            #[test]
            fn $test() {
                check_fixed(Scenario::$scenario);
            }
        )*
        /// The scenarios the tests above cover.
        const COVERED: &[Scenario] = &[$(Scenario::$scenario),*];
    };
}

scenario_tests! {
    close_unblocks_read => CloseUnblocksRead,
    deadline_unblocks_read => DeadlineUnblocksRead,
    close_unblocks_write => CloseUnblocksWrite,
    reused_pd_stale_error => ReusedPdStaleError,
    write_wakes_read => WriteWakesRead,
    read_timeout => ReadTimeout,
    write_timeout => WriteTimeout,
    read_timeout_must_not_return => ReadTimeoutMustNotReturn,
    write_timeout_must_not_return => WriteTimeoutMustNotReturn,
    various_deadlines => VariousDeadlines,
    deadline_extended_while_blocked => DeadlineExtendedWhileBlocked,
    deadline_moved_to_past_unblocks => DeadlineMovedToPastUnblocks,
    deadline_race => DeadlineRace,
    combined_deadline => CombinedDeadline,
    deadline_now_and_zero => DeadlineNowAndZero,
    close_blocked_read_write => CloseBlockedReadWrite,
    close_races_deadline => CloseRacesDeadline,
    peer_close_eof => PeerCloseEof,
    reused_pd_stale_event => ReusedPdStaleEvent,
    deadline_moved_earlier => DeadlineMovedEarlier,
    deadline_reset_at_expiry => DeadlineResetAtExpiry,
    socket_churn => SocketChurn,
    dial_refused_reused_pd => DialRefusedReusedPd,
}

#[test]
fn every_scenario_has_a_test() {
    let missing: Vec<_> = Scenario::ALL
        .iter()
        .filter(|s| !COVERED.contains(s))
        .map(|s| s.name())
        .collect();
    assert!(
        missing.is_empty(),
        "scenarios without a simulator test: {missing:?}"
    );
}

#[test]
fn spurious_and_delayed_events_break_no_scenario() {
    // Go's poller may wake a waiter for nothing, and events may come late; every scenario's
    // outcome must stay the same. (Error-only events change outcomes by design: not here.)
    let faults: Faults = "spurious=0.25,delay=0.25".parse().expect("fault spec");
    for &scenario in Scenario::ALL {
        let check = scenario_check(scenario, Protocol::Fixed);
        Builder::new()
            .memory(MemoryModel::C11)
            .strategy(Strategy::Random)
            .seed(SEED)
            .schedules(RANDOM_SCHEDULES / 2)
            .faults(faults)
            .check(check);
    }
}
