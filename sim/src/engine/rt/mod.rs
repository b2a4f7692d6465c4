//! The runtime: one execution of a check, its tasks on coroutines, the choice stream, the
//! event log, virtual time.
//!
//! All tasks of an execution run on the calling OS thread, each on its own corosensei
//! coroutine. A task yields to the engine before every operation another task could observe
//! (a *step*); the engine then draws the next task to run from the one choice stream. The
//! state of the execution lives in a thread-local `Exec`, reached through `with`; a task
//! never holds a borrow of it across a switch.
//!
//! * `exec`: the execution state and its bookkeeping;
//! * `task`: a task's scheduling state;
//! * `schedule`: the scheduling points and who runs next;
//! * `time`: virtual time;
//! * `lock`: locks; `futex`: sleeping on a location until woken (what condition variables,
//!   read-write locks and once cells block on);
//! * `ops`: the operations tasks call;
//! * `globals`: values that live for one execution (static sync objects) or one task
//!   (thread-locals); `pointers`: the numbers the log records for addresses;
//! * `driver`: the coroutines, one run from start to [`Outcome`];
//! * `watchdog`: ends a process whose running task stopped taking steps (blocked in `std`).

mod driver;
mod exec;
mod futex;
mod globals;
mod graph_ops;
mod graph_run;
mod lock;
mod ops;
mod pointers;
mod schedule;
mod task;
mod time;
mod watchdog;

pub(crate) use driver::{in_task, Engine, Outcome};
pub(crate) use exec::ExecConfig;
pub use exec::{Quiet, QuietKind, MAX_STEPS_LIMIT};
pub use futex::FutexWait;
pub(crate) use futex::{futex_wait, futex_wake};
pub use globals::Key;
pub(crate) use globals::{global, local, remove_global};
pub(crate) use graph_run::{GraphRun, Guide, RunEnd};
pub(crate) use lock::{lock, new_lock, try_lock, unlock};
pub use ops::Wake;
pub(crate) use ops::{
    add_end_check, add_quiet_check, bring_forward, current, fail_check, fence, is_finished, join,
    load, location_count, mark_system, new_location, now_ns, park, peek, plain_read, plain_write,
    ready, rmw, set_anonymous, set_deadlock_hook, shutting_down, sleep_ns, spawn, spawn_parked,
    store, task_label, task_name, user_choice, yield_now,
};
pub(crate) use pointers::{pointer_addr, pointer_id};
pub(crate) use time::duration_ns;
pub use time::START_TIME_NS;
pub use watchdog::{set_watchdog, DEFAULT_WATCHDOG, WATCHDOG_EXIT_CODE};
