//! A FastTrack-style data-race detector for plain cells: per location, the epoch of the last
//! write and the clock of the reads since it; an access races when an earlier conflicting one
//! does not happen-before it.

use super::Memory;
use crate::engine::event::{Op, Recorder};
use crate::engine::vc::{VClock, NOBODY};

#[derive(Clone, Default)]
pub(crate) struct RaceState {
    /// Slot and clock value of the last plain write (slot 0, time 0: the initial value).
    write_slot: usize,
    write_ts: u32,
    /// Per slot: that task's clock at its last read since the last write (0: none).
    reads: VClock,
}

impl Memory {
    /// Check a plain access of task `t` to `loc` and record it. When it races, log a
    /// [`Op::Race`] event, count it, and return the task of the earlier access.
    pub(crate) fn race_check(
        &mut self,
        t: u32,
        loc: u32,
        write: bool,
        rec: &mut Recorder,
    ) -> Option<u32> {
        let task = &self.tasks[t as usize];
        let s = task.slot;
        let clock = &task.clock;
        let r = &mut self.locs[loc as usize].race;
        let mut other: Option<(usize, u32)> = None;
        if r.write_slot != s && r.write_slot != NOBODY && r.write_ts > clock.get(r.write_slot) {
            other = Some((r.write_slot, r.write_ts));
        }
        if write {
            if other.is_none() {
                other = r
                    .reads
                    .entries()
                    .find(|&(u, ts)| u != s && ts > clock.get(u));
            }
            r.write_slot = s;
            r.write_ts = clock.get(s);
            r.reads.clear();
        } else {
            r.reads.set(s, clock.get(s));
        }
        let (slot, ts) = other?;
        let other_task = self.owner_of(slot, ts);
        self.races += 1;
        rec.push(
            t,
            Op::Race {
                loc,
                other: other_task,
            },
        );
        Some(other_task)
    }
}
