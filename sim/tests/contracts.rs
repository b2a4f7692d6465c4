//! Contract cases: misuse of the core that Go documents rather than fixes, shown in the
//! simulator next to the correct use.
//!
//! golang/go#70373: `reset` (Go's `pollReset`, called by internal/poll's `prepareRead`) erases
//! a readiness edge the poller has already recorded. A caller that then waits without first
//! trying the system call can wait forever for an edge that will not come again; one that
//! tries the call first finds the data.

use netpoll_sim::zoo::reset_then_wait;
use netpoll_sim::{Builder, Failure, MemoryModel, Strategy};

fn explore(try_first: bool, strategy: Strategy) -> netpoll_sim::Report {
    Builder::default()
        .memory(MemoryModel::C11)
        .strategy(strategy)
        .seed(70373)
        .schedules(2_000)
        .explore(reset_then_wait(try_first))
}

#[test]
fn waiting_after_reset_without_trying_can_hang() {
    let r = explore(false, Strategy::Random);
    let info = r
        .first_failure
        .as_ref()
        .expect("a wait after reset must hang when the edge came first");
    let Failure::Deadlock { blocked } = &info.failure else {
        panic!("expected a deadlock, got {}", info.failure);
    };
    let reader = blocked.iter().find(|b| b.name == "reader").expect("reader");
    assert!(
        reader.detail.contains("waits on pd0 for Read"),
        "{}",
        reader.detail
    );
}

#[test]
fn trying_the_syscall_after_reset_never_hangs() {
    for strategy in [Strategy::Random, Strategy::Pct] {
        let r = explore(true, strategy);
        assert_eq!(
            r.failures,
            0,
            "{strategy}: {}",
            r.first_failure
                .map(|f| f.failure.to_string())
                .unwrap_or_default()
        );
        assert_eq!(r.schedules, 2_000);
    }
}
