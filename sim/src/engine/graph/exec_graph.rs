//! An execution graph: each task's events in program order, reads-from, per location the
//! modification order, and the order in which the search added the events (their stamps).
//!
//! Tasks and locations are named canonically, so that the same execution always yields the
//! same graph whatever order its events were replayed in: task 0 is the check, and the
//! `nth` task a task spawns is identified by (parent, nth); a location is identified by the
//! task that created it and how many it had created before (or it is a task's termination
//! flag or park permit).

use super::label::{ERef, GEvent, Label};
use std::sync::Arc;

/// The canonical name of a location.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum LocKey {
    /// The `nth` location graph task `task` created.
    Made { task: u32, nth: u32 },
    /// A task's termination flag (written 1 when it finishes; joins wait for it).
    Done(u32),
    /// A task's park permit (`ready` sets it, a park consumes it).
    Permit(u32),
}

/// A location of a graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GLoc {
    pub(crate) key: LocKey,
    /// The initial value.
    pub(crate) init: u64,
    /// The writes in modification order (the initial value comes first, implicitly).
    /// Shared between clones until one of them changes it (a graph is cloned for every
    /// alternative; a run changes the orders of the few locations it writes).
    pub(crate) co: Arc<Vec<ERef>>,
}

/// A task of a graph.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct GTask {
    /// The spawning task and which of its spawns this is (`None` for the check's task).
    pub(crate) parent: Option<(u32, u32)>,
    /// The position in the spawn tree: the spawn indices from the check's task down. The
    /// search extends the task that comes first in this order. (Shared: graphs are cloned
    /// for every alternative, and a task's place never changes.)
    pub(crate) path: Arc<[u32]>,
    /// A daemon (being stuck at the end is no deadlock).
    pub(crate) daemon: bool,
    /// Its events in program order. Shared between clones of a graph until one of them
    /// changes it (an alternative changes one task: the others stay shared).
    pub(crate) events: Arc<Vec<GEvent>>,
    /// The graph locations named after it: its termination flag, its park permit, then
    /// the locations it created, in order (`NO_LOC` where one has not joined the graph).
    /// Shared between clones until one adds a location.
    locs: Arc<Vec<u32>>,
}

/// In a task's location table: not in the graph (yet).
const NO_LOC: u32 = u32::MAX;

/// An execution graph.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Graph {
    pub(crate) tasks: Vec<GTask>,
    pub(crate) locs: Vec<GLoc>,
    /// The stamp the next event added gets (see [`GEvent::stamp`]).
    next_stamp: u32,
    /// Known to be sequentially consistent (so the floors of its newest event's options
    /// apply; see `consistency::floor`). False means unknown.
    pub(crate) sc: bool,
}

/// Room left in a cloned graph's vectors: a clone is made to be run and extended, and a
/// vector cloned at its exact length reallocates at its first push.
const CLONE_ROOM: usize = 8;

fn clone_with_room<T: Clone>(v: &[T], room: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(v.len() + room.max(v.len() / 2));
    out.extend_from_slice(v);
    out
}

/// `v`, to change: copied first (with room to grow) if another graph shares it.
fn unshared_mut<T: Clone>(v: &mut Arc<Vec<T>>) -> &mut Vec<T> {
    if Arc::get_mut(v).is_none() {
        *v = Arc::new(clone_with_room(v, CLONE_ROOM));
    }
    Arc::get_mut(v).expect("just made unique")
}

impl GLoc {
    /// The modification order, to change (see [`unshared_mut`]).
    pub(crate) fn co_mut(&mut self) -> &mut Vec<ERef> {
        unshared_mut(&mut self.co)
    }
}

impl GTask {
    /// The events, to change (see [`unshared_mut`]).
    pub(crate) fn events_mut(&mut self) -> &mut Vec<GEvent> {
        unshared_mut(&mut self.events)
    }
}

impl Clone for GTask {
    fn clone(&self) -> GTask {
        GTask {
            parent: self.parent,
            path: self.path.clone(),
            daemon: self.daemon,
            events: self.events.clone(),
            locs: self.locs.clone(),
        }
    }
}

impl Clone for Graph {
    fn clone(&self) -> Graph {
        Graph {
            tasks: clone_with_room(&self.tasks, 1),
            locs: clone_with_room(&self.locs, CLONE_ROOM),
            next_stamp: self.next_stamp,
            sc: self.sc,
        }
    }
}

impl Graph {
    /// A copy that shares nothing with `self`: for a graph handed to another thread. (The
    /// graphs one thread explores share their unchanged parts, counted by reference; the
    /// counts of parts shared by graphs on two threads would be written by both, each
    /// write taking the count's cache line from the other core.)
    pub(crate) fn unshared(&self) -> Graph {
        Graph {
            tasks: self
                .tasks
                .iter()
                .map(|t| GTask {
                    parent: t.parent,
                    path: Arc::from(&t.path[..]),
                    daemon: t.daemon,
                    events: Arc::new(clone_with_room(&t.events, CLONE_ROOM)),
                    locs: Arc::new(t.locs.to_vec()),
                })
                .collect(),
            locs: self
                .locs
                .iter()
                .map(|l| GLoc {
                    key: l.key,
                    init: l.init,
                    co: Arc::new(clone_with_room(&l.co, CLONE_ROOM)),
                })
                .collect(),
            next_stamp: self.next_stamp,
            sc: self.sc,
        }
    }

    /// The graph of a check that has done nothing yet: its one task.
    pub(crate) fn new() -> Graph {
        Graph {
            tasks: vec![GTask {
                parent: None,
                path: Arc::from([]),
                daemon: false,
                events: Arc::new(Vec::new()),
                locs: Arc::new(Vec::new()),
            }],
            locs: Vec::new(),
            next_stamp: 0,
            sc: true,
        }
    }

    pub(crate) fn ev(&self, e: ERef) -> &GEvent {
        &self.tasks[e.task as usize].events[e.idx as usize]
    }

    pub(crate) fn ev_mut(&mut self, e: ERef) -> &mut GEvent {
        &mut self.tasks[e.task as usize].events_mut()[e.idx as usize]
    }

    pub(crate) fn label(&self, e: ERef) -> &Label {
        &self.ev(e).label
    }

    /// The location named `key`, added with initial value `init` if new.
    pub(crate) fn loc(&mut self, key: LocKey, init: u64) -> u32 {
        let (task, slot) = match key {
            LocKey::Done(t) => (t, 0),
            LocKey::Permit(t) => (t, 1),
            LocKey::Made { task, nth } => (task, nth as usize + 2),
        };
        let t = &mut self.tasks[task as usize];
        if let Some(&i) = t.locs.get(slot) {
            if i != NO_LOC {
                return i;
            }
        }
        let i = self.locs.len() as u32;
        let table = Arc::make_mut(&mut t.locs);
        if table.len() <= slot {
            table.resize(slot + 1, NO_LOC);
        }
        table[slot] = i;
        self.locs.push(GLoc {
            key,
            init,
            co: Arc::new(Vec::new()),
        });
        i
    }

    /// The task spawned as `parent`'s `nth` spawn, created (empty) if new.
    pub(crate) fn child(&mut self, parent: u32, nth: u32, daemon: bool) -> u32 {
        if let Some(i) = self
            .tasks
            .iter()
            .position(|t| t.parent == Some((parent, nth)))
        {
            self.tasks[i].daemon = daemon;
            return i as u32;
        }
        let mut path = self.tasks[parent as usize].path.to_vec();
        path.push(nth);
        self.tasks.push(GTask {
            parent: Some((parent, nth)),
            path: path.into(),
            daemon,
            events: Arc::new(Vec::with_capacity(4 * CLONE_ROOM)),
            locs: Arc::new(Vec::new()),
        });
        (self.tasks.len() - 1) as u32
    }

    /// Append `label` to task `task`'s program order as the newest event.
    pub(crate) fn push(&mut self, task: u32, label: Label, max: bool) -> ERef {
        let t = &mut self.tasks[task as usize];
        let e = ERef {
            task,
            idx: t.events.len() as u32,
        };
        t.events_mut().push(GEvent {
            label,
            max,
            revisitable: true,
            stamp: self.next_stamp,
        });
        self.next_stamp += 1;
        e
    }

    /// The value a read with `rf` on `loc` reads.
    pub(crate) fn value_of(&self, loc: u32, rf: Option<ERef>) -> u64 {
        match rf {
            None => self.locs[loc as usize].init,
            Some(w) => match *self.label(w) {
                Label::Write { val, .. } => val,
                _ => unreachable!("reads-from a non-write"),
            },
        }
    }

    /// The value read `r` reads.
    pub(crate) fn read_value(&self, r: ERef) -> u64 {
        match *self.label(r) {
            Label::Read { loc, rf, .. } => self.value_of(loc, rf),
            _ => unreachable!("not a read"),
        }
    }

    /// The newest write of `loc` in modification order (`None`: the initial value).
    pub(crate) fn co_max(&self, loc: u32) -> Option<ERef> {
        self.locs[loc as usize].co.last().copied()
    }

    /// The position of write `w` in its location's modification order (0 is the first write
    /// after the initial value).
    pub(crate) fn co_pos(&self, w: ERef) -> usize {
        let loc = self.label(w).loc().expect("a write") as usize;
        self.locs[loc]
            .co
            .iter()
            .position(|&x| x == w)
            .expect("a write of the location")
    }

    /// The coherence rank of store `w` (0: the initial value, `k`: the `k`-th store of its
    /// location).
    pub(crate) fn rank(&self, w: Option<ERef>) -> u32 {
        w.map_or(0, |w| self.co_pos(w) as u32 + 1)
    }

    /// The read part of `w`, if `w` is the write part of a read-modify-write.
    pub(crate) fn rmw_read(&self, w: ERef) -> Option<ERef> {
        self.label(w).is_rmw_write().then(|| ERef {
            task: w.task,
            idx: w.idx - 1,
        })
    }

    /// Insert write `w` (already pushed) into its location's modification order at `pos`.
    pub(crate) fn insert_co(&mut self, w: ERef, pos: usize) {
        let loc = self.label(w).loc().expect("a write") as usize;
        self.locs[loc].co_mut().insert(pos, w);
    }

    /// Move write `w` to position `pos` of its location's modification order.
    pub(crate) fn move_co(&mut self, w: ERef, pos: usize) {
        let loc = self.label(w).loc().expect("a write") as usize;
        let co = self.locs[loc].co_mut();
        let at = co.iter().position(|&x| x == w).expect("placed");
        co.remove(at);
        co.insert(pos, w);
    }

    /// Set what read `r` reads from, and its effective ordering with the new value.
    pub(crate) fn set_rf(&mut self, r: ERef, w: Option<ERef>) {
        let (loc, kind, ord0) = match *self.label(r) {
            Label::Read { loc, kind, ord, .. } => (loc, kind, ord),
            _ => unreachable!("not a read"),
        };
        let v = self.value_of(loc, w);
        let ord = kind.ord_with(ord0, v);
        if let Label::Read {
            rf: ref mut f,
            ord: ref mut o,
            ..
        } = self.ev_mut(r).label
        {
            *f = w;
            *o = ord;
        }
    }

    /// Keep, of each task, its first `keep[task]` events (a set closed under program-order
    /// predecessors), in their order; drop the rest.
    pub(crate) fn restrict(&mut self, keep: &[u32]) {
        for (t, &k) in keep.iter().enumerate() {
            if self.tasks[t].events.len() > k as usize {
                self.tasks[t].events_mut().truncate(k as usize);
            }
        }
        let kept = |e: &ERef| e.idx < keep[e.task as usize];
        for l in &mut self.locs {
            if !l.co.iter().all(kept) {
                Arc::make_mut(&mut l.co).retain(kept);
            }
        }
    }

    /// Remove task `task`'s last event (which must be the newest of its location's writes if
    /// a write, and nobody's reads-from).
    pub(crate) fn pop_last(&mut self, task: u32) {
        let t = &mut self.tasks[task as usize];
        let idx = t.events.len() as u32 - 1;
        t.events_mut().pop();
        let e = ERef { task, idx };
        for l in &mut self.locs {
            if l.co.contains(&e) {
                Arc::make_mut(&mut l.co).retain(|x| *x != e);
            }
        }
    }

    /// The number of events.
    pub(crate) fn len(&self) -> usize {
        self.tasks.iter().map(|t| t.events.len()).sum()
    }

    /// The stamp of `e` (see [`GEvent::stamp`]).
    pub(crate) fn stamp(&self, e: ERef) -> u32 {
        self.ev(e).stamp
    }

    /// How many of task `t`'s events were added by stamp `s` (it included).
    pub(crate) fn added_by(&self, t: usize, s: u32) -> u32 {
        self.tasks[t].events.partition_point(|ev| ev.stamp <= s) as u32
    }

    /// Whether every read-modify-write's write part directly follows, in modification
    /// order, the store its read part read (atomicity).
    pub(crate) fn atomic(&self) -> bool {
        self.locs.iter().all(|l| {
            l.co.iter().enumerate().all(|(p, &w)| {
                self.rmw_read(w).is_none_or(|r| {
                    matches!(*self.label(r), Label::Read { rf, .. }
                        if rf == p.checked_sub(1).map(|q| l.co[q]))
                })
            })
        })
    }

    /// The spawn event that created task `t` (`None` for the check's task).
    pub(crate) fn spawn_of(&self, t: u32) -> Option<ERef> {
        let (parent, nth) = self.tasks[t as usize].parent?;
        let mut k = 0;
        for (i, ev) in self.tasks[parent as usize].events.iter().enumerate() {
            if let Label::Spawn { .. } = ev.label {
                if k == nth {
                    return Some(ERef {
                        task: parent,
                        idx: i as u32,
                    });
                }
                k += 1;
            }
        }
        None
    }

    /// What `e` depends on in every IMM-consistent graph whatever values flow where: `e`,
    /// the writes its reads in the set read, the spawn of its task (with everything before
    /// it: a spawn is a full fence), and the earlier events of the same task that barrier
    /// order or a read-modify-write puts before it (an acquire read or a fence before it, a
    /// SeqCst read, anything before a release write, a fence or a SeqCst access). Relaxed
    /// reads before a relaxed write are not in it: IMM lets the write go first (load
    /// buffering) when no dependency orders them - the simulator sees no dependencies and
    /// re-executes to check that the write stays the same. Per task, a flag per event.
    pub(crate) fn dep_prefix(&self, e: ERef) -> Vec<Vec<bool>> {
        let mut set: Vec<Vec<bool>> = self
            .tasks
            .iter()
            .map(|t| vec![false; t.events.len()])
            .collect();
        let mut stack = vec![e];
        while let Some(x) = stack.pop() {
            if set[x.task as usize][x.idx as usize] {
                continue;
            }
            set[x.task as usize][x.idx as usize] = true;
            let lx = *self.label(x);
            if let Label::Read { rf: Some(w), .. } = lx {
                stack.push(w);
            }
            if x.idx == 0 {
                if let Some(s) = self.spawn_of(x.task) {
                    stack.push(s);
                }
            }
            let orders_all_before = match lx {
                Label::Write { ord, .. } => ord.is_rel(),
                Label::Read { ord, .. } => ord.is_sc(),
                Label::Fence { .. } | Label::Spawn { .. } => true,
                Label::Choice { .. } => false,
            };
            for i in 0..x.idx {
                let p = ERef {
                    task: x.task,
                    idx: i,
                };
                let lp = self.label(p);
                let orders_all_after = match *lp {
                    Label::Read { ord, .. } => ord.is_acq(),
                    Label::Fence { .. } | Label::Spawn { .. } => true,
                    _ => false,
                };
                let rmw_pair = i + 1 == x.idx && lx.is_rmw_write();
                if orders_all_before || orders_all_after || rmw_pair {
                    stack.push(p);
                }
            }
        }
        set
    }

    /// Every event `e` depends on through program order, task creation and reads-from (its
    /// porf-prefix), `e` included: per task, how many of its first events are in it.
    pub(crate) fn porf_prefix(&self, e: ERef) -> Vec<u32> {
        let mut view = vec![0u32; self.tasks.len()];
        let mut stack = vec![e];
        while let Some(x) = stack.pop() {
            let have = view[x.task as usize];
            if x.idx < have {
                continue;
            }
            view[x.task as usize] = x.idx + 1;
            for i in have..=x.idx {
                let y = ERef {
                    task: x.task,
                    idx: i,
                };
                if let Label::Read { rf: Some(w), .. } = *self.label(y) {
                    if w.idx >= view[w.task as usize] {
                        stack.push(w);
                    }
                }
            }
            if have == 0 {
                if let Some(s) = self.spawn_of(x.task) {
                    if s.idx >= view[s.task as usize] {
                        stack.push(s);
                    }
                }
            }
        }
        view
    }
}
