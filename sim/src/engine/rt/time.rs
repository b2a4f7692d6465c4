//! Virtual time: it starts at [`START_TIME_NS`] and advances only when no task can run, to
//! the earliest time some task waits for (a sleep, a timed park).

use super::exec::Exec;
use super::task::Status;
use crate::engine::event::Op;

/// Virtual time at the start of every execution (Go's `nanotime` is never 0).
pub const START_TIME_NS: i64 = 1_000_000_000;

impl Exec {
    /// The earliest virtual time a waiting task wakes at by itself, if any.
    pub(crate) fn next_wake(&self) -> Option<i64> {
        self.tasks.iter().filter_map(|t| t.status.wakes_at()).min()
    }

    /// Advance virtual time to `to_ns` and wake every task whose wait ends by then.
    pub(crate) fn advance_time(&mut self, to_ns: i64) {
        self.now_ns = self.now_ns.max(to_ns);
        let now = self.now_ns;
        for t in &mut self.tasks {
            match t.status {
                Status::Sleeping(u) if u <= now => t.status = Status::Runnable,
                Status::Parked { until: Some(u) } if u <= now => {
                    t.status = Status::Runnable;
                    t.timed_out = true;
                }
                _ => {}
            }
        }
        self.rec.push_engine(Op::TimeAdvance { to_ns: now });
    }
}
