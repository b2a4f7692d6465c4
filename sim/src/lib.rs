//! netpoll-sim: a deterministic simulator for small concurrent protocols, built to expose
//! golang/go#45211 in the netpoll core (DESIGN.md §5).
//!
//! A check runs many times; each run (a *schedule*) executes its tasks on coroutines on the
//! calling thread, and every operation another task could observe - an atomic access, a
//! plain-cell access, a lock, park/ready, a sleep - is a scheduling point. Every
//! nondeterministic decision (which task runs, which store a load reads) is one draw from one
//! choice stream, so a run is a pure function of (check, configuration, choice sequence).
//!
//! The crate has three layers that never import upward:
//!
//! * [`engine`]: coroutine tasks, the choice stream, memory models, strategies, the
//!   sync/thread API, traces, replay, shrinking, rendering - no netpoll in it;
//! * [`platform`]: the netpoll core on the engine (`SimPlatform`), the simulated kernel with
//!   its faults, the long-lived poller and timer tasks, the scenario checks, the value
//!   formats of swimlanes;
//! * [`builder`]: the [`Builder`] (configuration, the settings table, the one way a failure
//!   is saved, the one way a trace is replayed) that runs checks of either kind, and
//!   [`replay_traces!`] (a folder of traces kept as regression tests).
//!
//! A check of your own code is a closure in a test, written against [`sync`] and [`thread`],
//! which have `std`'s shapes (a crate switches between them and `std` with one `cfg`). When it
//! fails, its trace is saved and the panic message ends with the one command that replays it
//! in that test:
//!
//! ```no_run
//! use netpoll_sim::sync::atomic::{AtomicU32, Ordering};
//! use netpoll_sim::sync::Arc;
//! use netpoll_sim::{thread, Builder};
//!
//! Builder::new().check(|| {
//!     let x = Arc::new(AtomicU32::new(0));
//!     let x2 = x.clone();
//!     let h = thread::spawn(move || x2.fetch_add(1, Ordering::Relaxed));
//!     x.fetch_add(1, Ordering::Relaxed);
//!     h.join().unwrap();
//!     assert_eq!(x.load(Ordering::Relaxed), 2);
//! });
//! ```
#![warn(missing_docs)]

pub mod bench;
pub mod builder;
pub mod engine;
pub mod fuzz;
pub mod litmus;
pub mod platform;
pub mod trace;
pub mod zoo;

/// insta, the snapshot library [`replay_traces!`] asserts swimlanes with (so a crate using the
/// macro needs no insta dependency of its own). With the `insta` feature (on by default).
#[cfg(feature = "insta")]
pub use insta;

pub use builder::check::{Check, IntoCheck};
pub use builder::replay::{BuiltinChecks, ReplayWith};
pub use builder::settings::ConfigError;
pub use builder::{Builder, Subject, Trace};
pub use engine::choice::{Choice, ChoiceKind};
pub use engine::event::{Event, EventLog, LocName, Op, Ord as EventOrd, Pick};
pub use engine::explore::{Coverage, FailureInfo, Report, Strategy};
pub use engine::failure::{BlockedTask, EngineLimit, Failure, FailureKind};
pub use engine::memory::MemoryModel;
pub use engine::{hint, sched, shrink, sync, thread};
pub use platform::faults::{Faults, Ratio};
pub use platform::scenario::{scenario_check, ScenarioCheck};
pub use platform::{SimNetPoll, SimPlatform};
