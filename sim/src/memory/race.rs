//! A FastTrack-style data-race detector for plain cells: per location, the epoch of the last
//! write and the clock of the reads since it; an access races when an earlier conflicting one
//! does not happen-before it.

use crate::report::Failure;
use crate::rt::log::Op;
use crate::rt::vc::{slot, VClock};
use crate::rt::Exec;

#[derive(Clone, Copy)]
pub(crate) struct RaceState {
    /// Slot and clock value of the last plain write (slot 0, time 0: the initial value).
    write_slot: usize,
    write_ts: u32,
    /// Per slot: that task's clock at its last read since the last write (0: none).
    reads: VClock,
}

impl Default for RaceState {
    fn default() -> Self {
        RaceState {
            write_slot: 0,
            write_ts: 0,
            reads: VClock::ZERO,
        }
    }
}

impl Exec {
    /// Check a plain access of the running task to `loc`; record it.
    pub(crate) fn race_check(&mut self, loc: u32, write: bool) {
        let me = self.cur;
        let s = slot(me);
        let clock = self.tasks[me as usize].clock;
        let r = &mut self.mem.loc(loc).race;
        let mut other: Option<usize> = None;
        if r.write_slot != s && r.write_ts > clock.get(r.write_slot) {
            other = Some(r.write_slot);
        }
        if write {
            if other.is_none() {
                for (u, &t) in r.reads.0.iter().enumerate() {
                    if u != s && t > clock.get(u) {
                        other = Some(u);
                        break;
                    }
                }
            }
            r.write_slot = s;
            r.write_ts = clock.get(s);
            r.reads = VClock::ZERO;
        } else {
            r.reads.set(s, clock.get(s));
        }
        if let Some(u) = other {
            let other_task = (u - 1) as u32;
            self.races += 1;
            let mut ev = self.ev(Op::Race);
            ev.loc = loc;
            ev.other = other_task;
            self.log(ev);
            if self.cfg.fail_on_race {
                let location = self.mem.loc(loc).name.to_string();
                let step = self.step as u32;
                self.fail(Failure::DataRace {
                    location,
                    task: me,
                    other: other_task,
                    step,
                });
            }
        }
    }
}
