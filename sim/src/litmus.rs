//! The standard litmus tests of `shared/reference/litmus-execution-counts.md`, as checks: the
//! threads and accesses of each row (main only spawns and joins), so that a search's counts of
//! schedules and distinct executions can be compared with the reference.

use crate::engine::event::{EventLog, Op};
use crate::engine::sync::atomic::{AtomicU32, Ordering, Ordering::*};
use crate::engine::thread;
use std::collections::BTreeSet;
use std::sync::Arc;

/// A litmus test: its name in the reference table and its body.
pub struct Litmus {
    /// The row's name (`SB-rlx`).
    pub name: &'static str,
    /// One run.
    pub body: fn(),
}

fn locs<const N: usize>() -> [Arc<AtomicU32>; N] {
    std::array::from_fn(|_| Arc::new(AtomicU32::new(0)))
}

fn sb(o: Ordering) {
    let [x, y] = locs::<2>();
    let (x1, y1) = (x.clone(), y.clone());
    let t0 = thread::spawn(move || {
        x1.store(1, o);
        y1.load(o)
    });
    let t1 = thread::spawn(move || {
        y.store(1, o);
        x.load(o)
    });
    t0.join().unwrap();
    t1.join().unwrap();
}

fn mp(st: Ordering, ld: Ordering) {
    let [d, f] = locs::<2>();
    let (d1, f1) = (d.clone(), f.clone());
    let t0 = thread::spawn(move || {
        d1.store(1, Relaxed);
        f1.store(1, st);
    });
    let t1 = thread::spawn(move || (f.load(ld), d.load(Relaxed)));
    t0.join().unwrap();
    t1.join().unwrap();
}

fn lb() {
    let [x, y] = locs::<2>();
    let (x1, y1) = (x.clone(), y.clone());
    let t0 = thread::spawn(move || {
        let r = x1.load(Relaxed);
        y1.store(1, Relaxed);
        r
    });
    let t1 = thread::spawn(move || {
        let r = y.load(Relaxed);
        x.store(1, Relaxed);
        r
    });
    t0.join().unwrap();
    t1.join().unwrap();
}

fn two_plus_two_w() {
    let [x, y] = locs::<2>();
    let (x1, y1) = (x.clone(), y.clone());
    let t0 = thread::spawn(move || {
        x1.store(1, Relaxed);
        y1.store(2, Relaxed);
    });
    let t1 = thread::spawn(move || {
        y.store(1, Relaxed);
        x.store(2, Relaxed);
    });
    t0.join().unwrap();
    t1.join().unwrap();
}

fn iriw(st: Ordering, ld: Ordering) {
    let [x, y] = locs::<2>();
    let (xw, yw) = (x.clone(), y.clone());
    let (x2, y2) = (x.clone(), y.clone());
    let hs = [
        thread::spawn(move || {
            xw.store(1, st);
        }),
        thread::spawn(move || {
            yw.store(1, st);
        }),
        thread::spawn(move || {
            x2.load(ld);
            y2.load(ld);
        }),
        thread::spawn(move || {
            y.load(ld);
            x.load(ld);
        }),
    ];
    for h in hs {
        h.join().unwrap();
    }
}

fn wrc() {
    let [x, y] = locs::<2>();
    let (x1, x2, y1) = (x.clone(), x.clone(), y.clone());
    let hs = [
        thread::spawn(move || {
            x.store(1, Relaxed);
        }),
        thread::spawn(move || {
            x1.load(Acquire);
            y1.store(1, Release);
        }),
        thread::spawn(move || {
            y.load(Acquire);
            x2.load(Relaxed);
        }),
    ];
    for h in hs {
        h.join().unwrap();
    }
}

fn corr() {
    let [x] = locs::<1>();
    let (x1, x2) = (x.clone(), x.clone());
    let hs = [
        thread::spawn(move || {
            x.store(1, Relaxed);
        }),
        thread::spawn(move || {
            x1.store(2, Relaxed);
        }),
        thread::spawn(move || {
            x2.load(Relaxed);
            x2.load(Relaxed);
        }),
    ];
    for h in hs {
        h.join().unwrap();
    }
}

fn faa_x2() {
    let [x] = locs::<1>();
    let x1 = x.clone();
    let t0 = thread::spawn(move || x.fetch_add(1, Relaxed));
    let t1 = thread::spawn(move || x1.fetch_add(1, Relaxed));
    t0.join().unwrap();
    t1.join().unwrap();
}

/// Every row of the reference table, in its order.
pub const ALL: &[Litmus] = &[
    Litmus {
        name: "SB-rlx",
        body: || sb(Relaxed),
    },
    Litmus {
        name: "SB-sc",
        body: || sb(SeqCst),
    },
    Litmus {
        name: "MP-rlx",
        body: || mp(Relaxed, Relaxed),
    },
    Litmus {
        name: "MP-relacq",
        body: || mp(Release, Acquire),
    },
    Litmus {
        name: "LB-rlx",
        body: lb,
    },
    Litmus {
        name: "2+2W-rlx",
        body: two_plus_two_w,
    },
    Litmus {
        name: "IRIW-sc",
        body: || iriw(SeqCst, SeqCst),
    },
    Litmus {
        name: "IRIW-relacq",
        body: || iriw(Release, Acquire),
    },
    Litmus {
        name: "WRC-relacq",
        body: wrc,
    },
    Litmus {
        name: "CoRR-rlx",
        body: corr,
    },
    Litmus {
        name: "FAA-x2",
        body: faa_x2,
    },
    Litmus {
        name: "SBx2-rlx",
        body: || {
            let a = thread::spawn(|| sb(Relaxed));
            sb(Relaxed);
            a.join().unwrap();
        },
    },
    Litmus {
        name: "SBx3-rlx",
        body: || {
            let a = thread::spawn(|| sb(Relaxed));
            let b = thread::spawn(|| sb(Relaxed));
            sb(Relaxed);
            a.join().unwrap();
            b.join().unwrap();
        },
    },
];

/// One access of an execution's signature: (location, value read or written, whether it
/// wrote).
type Access = (u32, u64, bool);

/// What identifies an execution of a litmus test, whose stores write distinct values per
/// location: each task's accesses in program order with the values its loads read (so, here,
/// which store each read: reads-from), and each location's stores in modification order. Two
/// schedules with the same signature differ only in the order of independent steps.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Signature {
    per_task: Vec<Vec<Access>>,
    mo: Vec<(u32, Vec<u64>)>,
}

/// The signature of the execution `log` records.
pub fn signature(log: &EventLog) -> Signature {
    let mut per_task: Vec<Vec<Access>> = vec![Vec::new(); log.tasks.len()];
    let mut mo: std::collections::BTreeMap<u32, Vec<u64>> = Default::default();
    for ev in &log.events {
        let Some(t) = ev.task else { continue };
        let access = match ev.op {
            Op::Load { loc, val, .. } | Op::PlainRead { loc, val, .. } => Some((loc, val, false)),
            Op::CasFail { loc, read, .. } => Some((loc, read, false)),
            Op::Store { loc, val, .. } | Op::PlainWrite { loc, val } => Some((loc, val, true)),
            Op::Rmw { loc, read, .. } => Some((loc, read, true)),
            _ => None,
        };
        if let Some(a) = access {
            per_task[t as usize].push(a);
        }
        // Modification order: the order stores are made (sc and c11; under tso a buffered
        // store's place is its flush, which this signature does not tell apart).
        match ev.op {
            Op::Store { loc, val, .. } | Op::PlainWrite { loc, val } => {
                mo.entry(loc).or_default().push(val)
            }
            Op::Rmw { loc, written, .. } => mo.entry(loc).or_default().push(written),
            _ => {}
        }
    }
    Signature {
        per_task,
        mo: mo.into_iter().collect(),
    }
}

/// The distinct signatures among `logs`.
pub fn distinct<'a>(logs: impl IntoIterator<Item = &'a EventLog>) -> usize {
    logs.into_iter()
        .map(signature)
        .collect::<BTreeSet<_>>()
        .len()
}
