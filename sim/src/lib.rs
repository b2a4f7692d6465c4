//! netpoll-sim: a deterministic simulator for small concurrent protocols, built to expose
//! golang/go#45211 in the netpoll core (see issue 3 and DESIGN.md §5).
//!
//! A check closure runs many times; each run (a *schedule*) executes its tasks on coroutines
//! on the calling thread, and every operation another task could observe — an atomic access, a
//! plain-cell access, a lock, spawn/join, park/ready, a sleep — is a scheduling point. Every
//! nondeterministic decision (which task runs, which store a load reads) is one draw from one
//! choice source, so a run is a pure function of (closure, configuration, choice sequence).
//!
//! ```no_run
//! use netpoll_sim::sync::atomic::{AtomicU32, Ordering};
//! use netpoll_sim::{thread, Builder};
//! use std::sync::Arc;
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

pub mod backend;
pub mod bench;
mod builder;
mod explore;
mod faults;
mod memory;
pub mod platform;
mod report;
mod rt;
pub mod scenario;
pub mod sched;
pub mod shrink;
pub mod sync;
pub mod thread;
pub mod trace;

pub use builder::{Builder, ConfigError, MemoryModel, Strategy};
pub use faults::Faults;
pub use platform::{SimNetPoll, SimPlatform};
pub use report::{BlockedTask, Failure, FailureInfo, Report};
pub use rt::log::{Choice, ChoiceKind, Event, EventLog, Op, Ord as EventOrd, NONE};
pub use scenario::scenario_check;
pub use trace::{replay_file, ReplayError, Trace, TraceError};
