//! Replay (byte-for-byte comparison, divergences, refusal of a foreign trace) and rendering.

mod trace_common;

use netpoll_sim::trace::{
    check_run, compare_logs, read_file, render_svg, render_text, replay_trace, write_file,
    Divergence, ReplayError, TraceError, TraceFailure, TraceMeta,
};
use netpoll_sim::{
    Builder, Event, EventLog, EventOrd, Failure, FailureKind, LocName, MemoryModel, Op, Pick,
    Strategy, Subject, Trace,
};

#[test]
fn replay_reproduces_byte_for_byte() {
    let t = trace_common::sb_trace();
    let run = replay_trace(&t, trace_common::sb(1)).unwrap();
    assert_eq!(run.log.to_bytes(), t.events.to_bytes());
    assert!(matches!(run.failure, Some(Failure::Panic { .. })));
}

#[test]
fn replay_of_a_changed_scenario_names_the_first_differing_step() {
    let t = trace_common::sb_trace();
    // The same shape, another stored value: the first store differs.
    let e = replay_trace(&t, trace_common::sb(2)).unwrap_err();
    assert_eq!(e.exit_code(), 1);
    let ReplayError::Diverged(Divergence::Event {
        index,
        step,
        expected,
        actual,
    }) = &e
    else {
        panic!("{e:?}");
    };
    let first_store = t
        .events
        .events
        .iter()
        .position(|e| matches!(e.op, Op::Store { .. }));
    assert_eq!(Some(*index), first_store);
    assert_eq!(*step, t.events.events[*index].step);
    assert!(
        expected.contains(":= 1") && actual.contains(":= 2"),
        "{expected} / {actual}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("step {step}")) && !msg.contains('\n'),
        "{msg}"
    );
}

#[test]
fn compare_logs_names_every_kind_of_difference() {
    let t = trace_common::sb_trace();
    let rec = &t.events;
    assert_eq!(compare_logs(rec, rec), Ok(()));

    let mut changed = rec.clone();
    let k = changed.events.len() / 2;
    changed.events[k].step += 100;
    match compare_logs(rec, &changed) {
        Err(Divergence::Event { index, .. }) => assert_eq!(index, k),
        other => panic!("{other:?}"),
    }

    let mut shorter = rec.clone();
    shorter.events.truncate(k);
    match compare_logs(rec, &shorter) {
        Err(Divergence::RecordedLonger {
            index,
            recorded,
            replayed,
            ..
        }) => {
            assert_eq!((index, recorded, replayed), (k, rec.events.len(), k));
        }
        other => panic!("{other:?}"),
    }
    match compare_logs(&shorter, rec) {
        Err(Divergence::RecordedShorter { index, .. }) => assert_eq!(index, k),
        other => panic!("{other:?}"),
    }

    let mut renamed = rec.clone();
    renamed.locations[0] = LocName::object("elsewhere");
    match compare_logs(rec, &renamed) {
        Err(Divergence::Name {
            what: "location",
            index: 0,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn check_run_checks_the_failure_kind_and_message() {
    let t = trace_common::sb_trace();
    let other = Failure::StepLimit { max_steps: 1 };
    match check_run(&t, &t.events, Some(&other)) {
        Err(Divergence::Failure { expected, actual }) => {
            assert_eq!(
                (expected, actual),
                (FailureKind::Panic, Some(FailureKind::StepLimit))
            );
        }
        other => panic!("{other:?}"),
    }
    match check_run(&t, &t.events, None) {
        Err(Divergence::Failure { actual: None, .. }) => {}
        other => panic!("{other:?}"),
    }
    let diverged = Failure::ReplayDiverged {
        message: "choice 3: ...".into(),
    };
    assert!(matches!(
        check_run(&t, &t.events, Some(&diverged)),
        Err(Divergence::Choices { .. })
    ));
    // The same kind with another message (a trace whose message was edited) diverges too.
    let mut forged = t.clone();
    forged.failure.message = "everything is fine".into();
    let run = replay_trace(&forged, trace_common::sb(1)).unwrap_err();
    let ReplayError::Diverged(Divergence::Message { expected, actual }) = &run else {
        panic!("{run:?}")
    };
    assert_eq!(expected, "everything is fine");
    assert!(actual.contains("store buffering"), "{actual}");
    assert_eq!(run.exit_code(), 1);
}

#[test]
fn a_recorded_choice_out_of_range_is_a_divergence() {
    let mut t = trace_common::sb_trace();
    let c = &mut t.choices[0];
    c.chosen = c.n + 5;
    let e = replay_trace(&t, trace_common::sb(1)).unwrap_err();
    assert!(
        e.to_string().contains("choice 0 takes option") && e.to_string().contains("of only"),
        "{e}"
    );
    assert_eq!(e.exit_code(), 1);
}

#[test]
fn a_trace_of_a_test_replays_in_that_test_and_bad_files_are_named() {
    let t = trace_common::sb_trace();
    let dir = std::env::temp_dir().join(format!("netpoll-sim-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(t.file_name());
    write_file(&path, &t).unwrap();
    let read = read_file(&path).unwrap();
    assert_eq!(read, t);
    // The command line cannot run a test's code: it names the command that can.
    let e = Builder::replay_builtin(&read, &path).unwrap_err();
    let ReplayError::ElsewhereTest { command, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(
        command.contains("cargo test -p netpoll-sim --test trace_common -- --exact sb-litmus"),
        "{command}"
    );
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        read_file(&dir).unwrap_err(),
        TraceError::NotAFile(dir.clone())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn swimlane_shows_stale_reads_and_the_failure() {
    let t = trace_common::sb_trace();
    let text = render_text(&t);
    // Deterministic.
    assert_eq!(text, render_text(&t.clone()));
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("step"))
        .unwrap();
    assert!(header.contains("main") && header.contains("left"), "{text}");
    // In the failing SB outcome the second load reads the initial 0 although 1 was stored
    // (the first one ran before the other task's store: not stale).
    let stale: Vec<&str> = text.lines().filter(|l| l.contains("stale:")).collect();
    assert_eq!(stale.len(), 1, "{text}");
    let l = stale[0];
    assert!(
        l.contains("= 0") && l.contains("newest is 1 from step") && l.contains("initial value"),
        "{l}"
    );
    assert!(text.contains("FAILURE (panic)"), "{text}");
    assert!(
        text.trim_end()
            .ends_with("store buffering: both loads read 0"),
        "{text}"
    );
}

#[test]
fn svg_is_self_contained_and_marks_stale_reads() {
    let t = trace_common::sb_trace();
    let svg = render_svg(&t);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("class=\"stale\"").count(), 1);
    assert_eq!(
        svg.matches("<title>").count(),
        svg.matches("</title>").count()
    );
    assert!(
        !svg.contains("http://") || svg.matches("http://").count() == 1,
        "no external refs"
    );
    assert_eq!(svg, render_svg(&t));
}

/// A hand-made trace with everything the swimlane shows: a timed park, virtual time
/// advancing, a sleep, a stale read of an older (non-initial) store, a negative word.
fn timers_trace() -> Trace {
    const T0: i64 = 1_000_000_000;
    let ev = |step, task, op| Event {
        step,
        task: Some(task),
        op,
    };
    let events = vec![
        ev(0, 0, Op::Start),
        ev(1, 0, Op::Spawn { child: 1 }),
        ev(1, 0, Op::Spawn { child: 2 }),
        ev(
            3,
            0,
            Op::Store {
                loc: 1,
                ord: EventOrd::SeqCst,
                val: 1,
            },
        ),
        ev(
            4,
            0,
            Op::Store {
                loc: 1,
                ord: EventOrd::SeqCst,
                val: 2,
            },
        ),
        ev(4, 1, Op::Start),
        ev(
            5,
            1,
            Op::Load {
                loc: 1,
                ord: EventOrd::SeqCst,
                val: 1,
                pick: Pick { rank: 1, of: 3 },
            },
        ),
        ev(6, 1, Op::Park { until_ns: None }),
        ev(
            7,
            0,
            Op::Sleep {
                until_ns: T0 + 10_000_000,
            },
        ),
        Event {
            step: 7,
            task: None,
            op: Op::TimeAdvance {
                to_ns: T0 + 5_000_000,
            },
        },
        ev(7, 2, Op::Start),
        ev(
            8,
            2,
            Op::Store {
                loc: 0,
                ord: EventOrd::Relaxed,
                val: u64::MAX,
            },
        ),
        ev(9, 2, Op::Ready { target: 1 }),
        ev(9, 2, Op::Finish),
    ];
    let b = Builder::default()
        .memory(MemoryModel::C11)
        .strategy(Strategy::Random)
        .seed(1)
        .max_steps(1000);
    let meta = TraceMeta {
        memory: b.memory,
        strategy: b.strategy,
        shrunk: false,
        seed: 1,
        schedule_index: 2,
        max_steps: 1000,
        fail_on_data_race: false,
        crate_version: "0.0.0".into(),
    };
    Trace {
        subject: Subject::Test(netpoll_sim::trace::TestId {
            package: "hand".into(),
            target: "made".into(),
            name: "timers".into(),
        }),
        meta,
        choices: vec![],
        events: EventLog {
            tasks: vec!["main".into(), "poller".into(), "deadline".into()],
            locations: vec![
                LocName::indexed("pd", 0, "rd"),
                LocName::indexed("pd", 0, "closing"),
            ],
            events,
        },
        failure: TraceFailure {
            kind: FailureKind::Deadlock,
            message: "deadlock: first\n  second".into(),
        },
    }
}

#[test]
fn swimlane_shows_time_timers_and_older_stores() {
    let text = render_text(&timers_trace());
    insta::assert_snapshot!(text, @r"
trace: hand / made / timers, memory c11, strategy random, seed 1, schedule 2
0 choices, 14 events, written by netpoll-sim 0.0.0

step  main                           poller                         deadline
----  -----------------------------  -----------------------------  -----------------------------
   0  start
   1  spawn poller
   1  spawn deadline
   3  store(sc) pd0.closing := true
   4  store(sc) pd0.closing := 2
   4  |                              start
   5  |                              load(sc) pd0.closing = true  (stale: 1 of 3, newest is 2 from step 4; read the store of step 3)
   6  |                              park
   7  sleep until +10ms              |
   7  == time advances to +5ms ====================================================================
   7  |                              |                              start
   8  |                              |                              store(rlx) pd0.rd := -1
   9  |                              |                              ready poller
   9  |                              |                              finish
---------------------------------------------------------------------------------------------------
FAILURE (deadlock)
  deadlock: first
    second
");
}

#[test]
fn replay_that_stops_failing_still_names_the_first_differing_step() {
    let t = trace_common::sb_trace();
    let changed = || {
        netpoll_sim::thread::yield_now();
    };
    match replay_trace(&t, changed) {
        Err(ReplayError::Diverged(Divergence::Event {
            index: 1,
            expected,
            actual,
            ..
        })) => {
            assert!(
                expected.contains("spawn left") && actual.contains("yield"),
                "{expected} / {actual}"
            );
        }
        other => panic!("{other:?}"),
    }
}
