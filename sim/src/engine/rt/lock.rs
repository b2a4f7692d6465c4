//! Locks: acquire on lock, release on unlock; blocking is a scheduling point.

use super::exec::with;
use super::graph_ops;
use super::schedule::{suspend, yield_point};
use super::task::Status;
use crate::engine::event::{EventLog, LocName, Op};
use crate::engine::vc::VClock;
use std::panic::Location;

/// One lock.
pub(crate) struct LockState {
    /// The location id naming it in the event log.
    pub(crate) loc: u32,
    /// The task holding it.
    pub(crate) owner: Option<u32>,
    /// The clock released by the last unlock.
    pub(crate) vc: VClock,
}

/// The locks of one execution.
#[derive(Default)]
pub(crate) struct Locks {
    v: Vec<LockState>,
    n: usize,
}

impl Locks {
    pub(crate) fn reset(&mut self) {
        self.n = 0;
    }

    /// A new, unlocked lock whose name is location `loc`.
    pub(crate) fn add(&mut self, loc: u32) -> u32 {
        let id = self.n;
        self.n += 1;
        if id == self.v.len() {
            self.v.push(LockState {
                loc,
                owner: None,
                vc: VClock::ZERO,
            });
        } else {
            let l = &mut self.v[id];
            l.loc = loc;
            l.owner = None;
            l.vc.clear();
        }
        id as u32
    }

    pub(crate) fn get(&self, id: u32) -> &LockState {
        &self.v[id as usize]
    }

    pub(crate) fn get_mut(&mut self, id: u32) -> &mut LockState {
        &mut self.v[id as usize]
    }

    /// Whether task `t` holds lock `id`.
    pub(crate) fn held_by(&self, id: u32, t: u32) -> bool {
        self.v[id as usize].owner == Some(t)
    }

    /// The name of lock `id` in the event log.
    fn name(&self, id: u32, names: &EventLog) -> String {
        let l = &self.v[id as usize];
        names
            .locations
            .get(l.loc as usize)
            .map_or_else(|| format!("loc#{}", l.loc), |n| n.to_string())
    }

    /// For deadlock reports: what waiting for lock `id` means now (`task_name` names the
    /// holder).
    pub(crate) fn describe_wait(
        &self,
        id: u32,
        names: &EventLog,
        task_name: impl Fn(u32) -> String,
    ) -> String {
        let name = self.name(id, names);
        match self.v[id as usize].owner {
            Some(o) => format!("blocked on lock {name} held by task {o} ({})", task_name(o)),
            None => format!("blocked on lock {name}"),
        }
    }

    /// For deadlock reports: the names of the locks task `t` holds, in creation order.
    pub(crate) fn held_names(&self, t: u32, names: &EventLog) -> Vec<String> {
        (0..self.n as u32)
            .filter(|&id| self.v[id as usize].owner == Some(t))
            .map(|id| self.name(id, names))
            .collect()
    }
}

/// A new, unlocked lock named `name` (its name is a location of the event log).
pub(crate) fn new_lock(name: LocName) -> u32 {
    with(|e| {
        let loc = e.new_location(name, 0);
        e.locks.add(loc)
    })
}

/// Acquire lock `id`, blocking while another task holds it. A step.
#[track_caller]
pub(crate) fn lock(id: u32) {
    let site = Location::caller();
    if graph_ops::active() {
        let loc = with(|e| {
            let me = e.cur as usize;
            e.tasks[me].site = Some(site);
            e.locks.get(id).loc
        });
        graph_ops::lock(id, loc);
        return;
    }
    yield_point();
    let mut first = true;
    loop {
        let blocked = with(|e| {
            let me = e.cur;
            e.drain();
            let aborting = e.aborting;
            let lk = e.locks.get_mut(id);
            if lk.owner.is_none() || aborting {
                lk.owner = Some(me);
                let loc = lk.loc;
                let vc = std::mem::take(&mut lk.vc);
                e.mem.acquire(me, &vc);
                e.locks.get_mut(id).vc = vc;
                e.event(Op::Lock { lock: loc });
                None
            } else {
                if first {
                    let (lock, owner) = (lk.loc, lk.owner.unwrap_or(u32::MAX));
                    e.rec.push(me, Op::LockBlocked { lock, owner });
                }
                e.tasks[me as usize].status = Status::BlockedLock(id);
                Some(e.block(site))
            }
        });
        first = false;
        match blocked {
            None => return,
            Some(y) => suspend(y),
        }
    }
}

/// Try to acquire lock `id` without blocking. A step.
pub(crate) fn try_lock(id: u32) -> bool {
    if graph_ops::active() {
        let loc = with(|e| e.locks.get(id).loc);
        return graph_ops::try_lock(id, loc);
    }
    yield_point();
    with(|e| {
        let me = e.cur;
        e.drain();
        let lk = e.locks.get_mut(id);
        if lk.owner.is_some() {
            return false;
        }
        lk.owner = Some(me);
        let loc = lk.loc;
        let vc = std::mem::take(&mut lk.vc);
        e.mem.acquire(me, &vc);
        e.locks.get_mut(id).vc = vc;
        e.event(Op::Lock { lock: loc });
        true
    })
}

/// Release lock `id` (held by the running task). A step.
pub(crate) fn unlock(id: u32) {
    if graph_ops::active() {
        let (loc, owner, me) = with(|e| {
            let lk = e.locks.get(id);
            (lk.loc, lk.owner, e.cur)
        });
        if owner != Some(me) {
            let name = with(|e| e.location_name(loc));
            panic!("netpoll-sim: task {me} unlocks {name}, which it does not hold");
        }
        graph_ops::unlock(id, loc);
        return;
    }
    yield_point();
    with(|e| {
        let me = e.cur;
        e.drain();
        let aborting = e.aborting;
        let lk = e.locks.get(id);
        if lk.owner != Some(me) && !aborting {
            let name = e.location_name(lk.loc);
            panic!("netpoll-sim: task {me} unlocks {name}, which it does not hold");
        }
        let loc = lk.loc;
        let clock = e.mem.clock(me).clone();
        let lk = e.locks.get_mut(id);
        lk.owner = None;
        lk.vc = clock;
        for t in &mut e.tasks {
            if t.status == Status::BlockedLock(id) {
                t.status = Status::Runnable;
            }
        }
        if !aborting {
            e.event(Op::Unlock { lock: loc });
        }
    })
}
