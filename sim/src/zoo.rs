//! The historical bug zoo: Go's netpoll bugs, each a [`Protocol`] variant switched at the
//! site of the old code, with the scenario (and the kernel's faults) in which the simulator
//! finds it by exploring, and the budget it must find it within. The fixed protocol must be
//! clean on the same scenario, faults and budget. `netpoll-sim zoo` runs the table; each row's
//! flags are a line of `traces/MANIFEST`, whose shrunk trace `tests/replay.rs` replays.
//!
//! One row is a contract rather than a bug ([`CONTRACT_70373`]): golang/go#70373, where a
//! caller waits after `reset` without trying the system call first. It has no old code to
//! switch back to; the row explores the misuse (it must hang) and the correct use (it must
//! not), both written as checks here.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use netpoll::platform::{Backend, Mode, Platform, Scheduler};
use netpoll::scenarios::Scenario;
use netpoll::Protocol;

use crate::engine::explore::{FailureInfo, Report, Strategy};
use crate::engine::failure::Failure;
use crate::engine::memory::MemoryModel;
use crate::platform::faults::Faults;
use crate::platform::SimPlatform;
use crate::{scenario_check, Builder};

/// What kind of bug a row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BugClass {
    /// Needs a weak-memory outcome (C11/ARMv8): sequential consistency hides it.
    WeakMemory,
    /// Needs an interleaving of tasks (any memory model).
    Interleaving,
    /// Needs a fault of the environment (the simulated kernel's).
    Fault,
    /// Needs the process to age: a counter that drifts, a tag that grows.
    Aging,
    /// Not a bug: a caller's contract, shown by exploring its misuse.
    Contract,
}

impl BugClass {
    /// The short name.
    pub fn name(self) -> &'static str {
        match self {
            BugClass::WeakMemory => "weak memory",
            BugClass::Interleaving => "interleaving",
            BugClass::Fault => "fault",
            BugClass::Aging => "aging",
            BugClass::Contract => "contract",
        }
    }
}

impl fmt::Display for BugClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One historical bug: how the simulator finds it.
#[derive(Clone, Copy, Debug)]
pub struct ZooBug {
    /// The golang/go issue.
    pub issue: u32,
    /// What it needs.
    pub class: BugClass,
    /// The variant with the old code.
    pub protocol: Protocol,
    /// The scenario that finds it.
    pub scenario: Scenario,
    /// The simulated kernel's faults (`none`, or the `--faults` syntax).
    pub faults: &'static str,
    /// The memory model.
    pub memory: MemoryModel,
    /// The strategy.
    pub strategy: Strategy,
    /// Its seed.
    pub seed: u64,
    /// The most schedules it may take to find the bug (and the fixed protocol's budget).
    pub budget: u64,
}

/// The zoo's bugs, in the order of their Go issues' story (see `notes/zoo.md`).
pub const BUGS: &[ZooBug] = &[
    ZooBug {
        issue: 45211,
        class: BugClass::WeakMemory,
        protocol: Protocol::PreFix45211,
        scenario: Scenario::CloseUnblocksRead,
        faults: "none",
        memory: MemoryModel::C11,
        strategy: Strategy::Random,
        seed: 0,
        budget: 10_000,
    },
    ZooBug {
        issue: 59545,
        class: BugClass::Interleaving,
        protocol: Protocol::PreFix59545,
        scenario: Scenario::ReusedPdStaleError,
        faults: "none",
        memory: MemoryModel::C11,
        strategy: Strategy::Pct,
        seed: 2,
        budget: 10_000,
    },
    ZooBug {
        issue: 60782,
        class: BugClass::Aging,
        protocol: Protocol::PreFix60782,
        scenario: Scenario::WriteWakesRead,
        faults: "none",
        memory: MemoryModel::C11,
        strategy: Strategy::Random,
        seed: 0,
        budget: 10_000,
    },
    ZooBug {
        issue: 61454,
        class: BugClass::Interleaving,
        protocol: Protocol::PreFix61454,
        scenario: Scenario::WriteWakesRead,
        faults: "none",
        memory: MemoryModel::C11,
        strategy: Strategy::Random,
        seed: 0,
        budget: 10_000,
    },
    ZooBug {
        issue: 19289,
        class: BugClass::Interleaving,
        protocol: Protocol::PreFix19289,
        scenario: Scenario::DialRefusedReusedPd,
        faults: "none",
        memory: MemoryModel::C11,
        strategy: Strategy::Pct,
        seed: 1,
        budget: 10_000,
    },
    ZooBug {
        issue: 22606,
        class: BugClass::Interleaving,
        protocol: Protocol::PreFix22606,
        scenario: Scenario::WriteWakesRead,
        faults: "enosys=1/2",
        memory: MemoryModel::C11,
        strategy: Strategy::Random,
        seed: 0,
        budget: 10_000,
    },
    ZooBug {
        issue: 35532,
        class: BugClass::Interleaving,
        protocol: Protocol::PreFix35532,
        scenario: Scenario::DeadlineResetAtExpiry,
        faults: "none",
        memory: MemoryModel::C11,
        strategy: Strategy::Random,
        seed: 0,
        budget: 10_000,
    },
    ZooBug {
        issue: 42515,
        class: BugClass::Fault,
        protocol: Protocol::PreFix42515,
        scenario: Scenario::DeadlineMovedEarlier,
        faults: "break=1/10",
        memory: MemoryModel::C11,
        strategy: Strategy::Random,
        seed: 1,
        budget: 10_000,
    },
    ZooBug {
        issue: 72900,
        class: BugClass::Aging,
        protocol: Protocol::PreFix72900,
        scenario: Scenario::SocketChurn,
        faults: "none",
        memory: MemoryModel::C11,
        strategy: Strategy::Random,
        seed: 0,
        budget: 10_000,
    },
];

impl ZooBug {
    /// The kernel's faults.
    pub fn faults(&self) -> Faults {
        self.faults
            .parse()
            .unwrap_or_else(|e| panic!("zoo: #{}: bad faults {:?}: {e}", self.issue, self.faults))
    }

    /// The builder of its exploration (the fixed protocol's too).
    pub fn builder(&self) -> Builder {
        Builder::default()
            .memory(self.memory)
            .strategy(self.strategy)
            .seed(self.seed)
            .schedules(self.budget)
            .faults(self.faults())
    }

    /// Its line in `traces/MANIFEST`: the `netpoll-sim explore` flags that find it.
    pub fn explore_flags(&self) -> String {
        let mut s = format!(
            "--scenario {} --protocol {} --memory {} --strategy {} --seed {} --schedules {}",
            self.scenario, self.protocol, self.memory, self.strategy, self.seed, self.budget
        );
        if self.faults != "none" {
            s.push_str(&format!(" --faults {}", self.faults));
        }
        s
    }
}

/// golang/go#70373, a contract case: a caller that resets a pd and then waits without
/// trying the system call can wait forever for an edge the poller already recorded.
pub const CONTRACT_70373: u32 = 70373;

/// The #70373 check: one pipe, one byte written (the edge), a reader that prepares with
/// `reset` and then waits first (`try_first` false: the misuse) or reads first and waits
/// only on "would block" (the contract).
pub fn reset_then_wait(try_first: bool) -> impl Fn() + 'static {
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

/// The #70373 row's exploration.
pub fn contract_builder() -> Builder {
    Builder::default()
        .memory(MemoryModel::C11)
        .strategy(Strategy::Random)
        .seed(70373)
        .schedules(2_000)
}

/// What one row of the zoo found.
#[derive(Clone, Debug)]
pub struct ZooRow {
    /// The Go issue.
    pub issue: u32,
    /// Its class.
    pub class: BugClass,
    /// The variant (`None` for the contract row).
    pub protocol: Option<Protocol>,
    /// What the row explores, in words (a scenario and its faults, or the contract's check).
    pub subject: String,
    /// The budget of schedules.
    pub budget: u64,
    /// The exploration of the old code (the misuse, for the contract).
    pub found: Report,
    /// How long finding it took.
    pub found_time: Duration,
    /// The shrunk failing schedule: (choices, events).
    pub shrunk: Option<(usize, usize)>,
    /// The failure found, in one line.
    pub failure: Option<String>,
    /// The fixed protocol's exploration on the same budget (the correct use, for the
    /// contract).
    pub fixed: Report,
}

impl ZooRow {
    /// Whether the bug was found within its budget.
    pub fn is_found(&self) -> bool {
        self.found.first_failure.is_some()
    }
    /// Whether the fixed side stayed clean.
    pub fn fixed_clean(&self) -> bool {
        self.fixed.failures == 0
    }
    /// The schedules it took to find the bug (1-based), if found.
    pub fn schedules_to_find(&self) -> Option<u64> {
        self.found
            .first_failure
            .as_ref()
            .map(|f| f.schedule_index + 1)
    }
}

fn first_line(f: &Failure) -> String {
    f.to_string().lines().next().unwrap_or_default().to_string()
}

/// The size of a shrunk failing schedule: (choices, events).
fn size(s: &FailureInfo) -> (usize, usize) {
    (s.choices.len(), s.log.events.len())
}

/// Run one bug's row: explore the old code, shrink what it finds, explore the fixed code.
pub fn run_bug(bug: &ZooBug) -> ZooRow {
    let b = bug.builder();
    let start = Instant::now();
    let found = b.explore(scenario_check(bug.scenario, bug.protocol));
    let found_time = start.elapsed();
    let shrunk = found
        .first_failure
        .as_ref()
        .map(|ff| size(&b.shrink(ff, scenario_check(bug.scenario, bug.protocol))));
    let failure = found
        .first_failure
        .as_ref()
        .map(|ff| first_line(&ff.failure));
    let fixed = b.explore(scenario_check(bug.scenario, Protocol::Fixed));
    let subject = if bug.faults == "none" {
        bug.scenario.to_string()
    } else {
        format!("{} (faults {})", bug.scenario, bug.faults)
    };
    ZooRow {
        issue: bug.issue,
        class: bug.class,
        protocol: Some(bug.protocol),
        subject,
        budget: bug.budget,
        found,
        found_time,
        shrunk,
        failure,
        fixed,
    }
}

/// Run the contract row (#70373): the misuse must hang, the correct use must not.
pub fn run_contract() -> ZooRow {
    let b = contract_builder();
    let start = Instant::now();
    let found = b.explore(reset_then_wait(false));
    let found_time = start.elapsed();
    let shrunk = found
        .first_failure
        .as_ref()
        .map(|ff| size(&b.shrink(ff, reset_then_wait(false))));
    let failure = found
        .first_failure
        .as_ref()
        .map(|ff| first_line(&ff.failure));
    let fixed = b.explore(reset_then_wait(true));
    ZooRow {
        issue: CONTRACT_70373,
        class: BugClass::Contract,
        protocol: None,
        subject: "reset, then wait without trying the read".to_string(),
        budget: b.schedules,
        found,
        found_time,
        shrunk,
        failure,
        fixed,
    }
}

/// Every row: the bugs, then the contract.
pub fn run_all(mut each: impl FnMut(&ZooRow)) -> Vec<ZooRow> {
    let mut rows = Vec::new();
    for bug in BUGS {
        let row = run_bug(bug);
        each(&row);
        rows.push(row);
    }
    let row = run_contract();
    each(&row);
    rows.push(row);
    rows
}

/// The table's header line.
pub fn table_header() -> String {
    "| Go issue | class | variant | scenario | found | schedules to find | time to find | shrunk trace | fixed clean (same budget) |\n|---|---|---|---|---|---|---|---|---|".to_string()
}

/// One row of the table.
pub fn table_row(r: &ZooRow) -> String {
    let found = if r.is_found() { "yes" } else { "**no**" };
    let schedules = r
        .schedules_to_find()
        .map_or(format!("not in {}", r.budget), |n| {
            format!("{n} of {}", r.budget)
        });
    let time = if r.is_found() {
        format!("{:.1} ms", r.found_time.as_secs_f64() * 1e3)
    } else {
        "-".to_string()
    };
    let shrunk = r
        .shrunk
        .map_or("-".to_string(), |(c, e)| format!("{c} choices, {e} events"));
    let clean = if r.fixed_clean() {
        format!("yes ({} schedules)", r.fixed.schedules)
    } else {
        "**no**".to_string()
    };
    let variant = r
        .protocol
        .map_or("none (contract)".to_string(), |p| format!("`{p}`"));
    format!(
        "| #{} | {} | {variant} | {} | {found} | {schedules} | {time} | {shrunk} | {clean} |",
        r.issue, r.class, r.subject
    )
}
