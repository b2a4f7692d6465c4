//! The engine: a deterministic simulator for small concurrent protocols, with no netpoll in
//! it. Everything above it (the netpoll platform, the builder, the command line) uses it;
//! nothing in it uses them.
//!
//! * leaves: [`choice`] (the choice stream), [`event`] (the event log), [`failure`], `vc`
//!   (vector clocks);
//! * [`memory`]: the memory models, as a type with its own API;
//! * `rt`: the runtime - execution state, scheduling, virtual time, locks, task operations,
//!   the coroutine driver;
//! * [`explore`]: the strategies and the exploration loop; [`shrink`]: minimising a failure;
//! * [`trace`]: the trace format, replay and rendering;
//! * [`sync`], [`thread`], [`sched`]: the API checks and platforms are written against.

pub mod choice;
pub mod event;
pub mod explore;
pub mod failure;
pub(crate) mod graph;
pub mod hint;
pub mod memory;
pub(crate) mod rt;
pub mod sched;
pub mod shrink;
pub mod sync;
pub mod thread;
pub mod trace;
pub(crate) mod vc;

pub use rt::{set_watchdog, DEFAULT_WATCHDOG, MAX_STEPS_LIMIT, WATCHDOG_EXIT_CODE};
