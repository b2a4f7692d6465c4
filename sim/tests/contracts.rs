//! Contract cases: misuse of the core that Go documents rather than fixes, shown in the
//! simulator next to the correct use.
//!
//! golang/go#70373: `reset` (Go's `pollReset`, called by internal/poll's `prepareRead`) erases
//! a readiness edge the poller has already recorded. A caller that then waits without first
//! trying the system call can wait forever for an edge that will not come again; one that
//! tries the call first finds the data.

use std::io;

use netpoll::platform::{Backend, Mode, Platform, Scheduler};
use netpoll::Protocol;
use netpoll_sim::{Builder, Failure, Faults, MemoryModel, SimPlatform, Strategy};

/// One pipe, one byte written (the edge), one reader on the pd that prepares with `reset` and
/// then either waits first (`try_first` false: the misuse) or reads first and waits only on
/// "would block" (the contract).
fn edge_then_reset(try_first: bool) -> impl Fn() + 'static {
    move || {
        let np = SimPlatform::netpoll(Protocol::Fixed, Faults::NONE);
        let backend = np.platform().backend();
        let (r, w) = backend.pipe().expect("pipe");
        let pd = np.open(r).expect("open a pd");
        assert_eq!(backend.write(w, b"x").expect("write the byte"), 1);
        let np2 = np.clone();
        let reader = np.platform().sched().spawn("reader", move || {
            np2.reset(pd, Mode::Read).expect("prepare to read");
            if !try_first {
                np2.wait(pd, Mode::Read).expect("wait");
            }
            let mut b = [0u8; 1];
            loop {
                match np2.platform().backend().read(r, &mut b) {
                    Ok(1) => return,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        np2.wait(pd, Mode::Read).expect("wait");
                    }
                    other => panic!("reader: {other:?}"),
                }
            }
        });
        np.platform().sched().join(reader);
        np.unblock(pd);
        np.close(pd).expect("close the pd");
        backend.close_fd(r).expect("close r");
        backend.close_fd(w).expect("close w");
    }
}

fn explore(try_first: bool, strategy: Strategy) -> netpoll_sim::Report {
    Builder::default()
        .memory(MemoryModel::C11)
        .strategy(strategy)
        .seed(70373)
        .schedules(2_000)
        .explore(edge_then_reset(try_first))
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
