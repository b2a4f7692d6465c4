//! The search: how a graph grows by one event, and which other graphs that event makes the
//! search explore - TruSt (Kokologiannakis, Marmanis, Gladstein and Vafeiadis, "Truly
//! Stateless, Optimal Dynamic Partial Order Reduction", POPL 2022), as GenMC implements it.
//!
//! * A read first reads the newest store of its location; every other store it may
//!   consistently read is an alternative graph (a *forward revisit*).
//! * A store is first placed last in modification order; every other consistent place is an
//!   alternative. The write part of a read-modify-write goes right after what its read part
//!   read.
//! * A store may also be read by a read added before it (a *backward revisit*): the graph
//!   keeps what was added before that read plus everything the store depends on (its
//!   porf-prefix), drops the rest, and the read reads the store. To explore each graph
//!   once, a revisit happens only from the one order of addition that is *maximal*: every
//!   dropped event (and the read) was added with its first option and reads or is the
//!   newest store among what is kept.
//!
//! Every alternative is a whole graph, pushed for the exploration loop to run; the loop
//! needs no memory of what it explored (memory stays polynomial: the pending alternatives).
//! Whether an alternative is consistent is settled by the new event's floors when the graph
//! it came from is known to be SC (`consistency::floor`), else by the model's whole check.
//! A read-modify-write's alternative gets its write part at once (its task gave it), so
//! one whose write part breaks atomicity yields its revisits without a run.

use super::consistency::floor::{FloorRoom, Floors};
use super::consistency::{verdict, Verdict};
use super::exec_graph::Graph;
use super::label::{ERef, Label, ReadKind};
use crate::engine::memory::MemoryModel;

/// What adding an event to a graph did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Added {
    /// The event is in the graph.
    Ok(ERef),
    /// The graph can go no further (a read-modify-write found its store taken: its revisits
    /// were pushed, the graph itself is dropped).
    Dropped,
}

/// The search's part of one run: the model and the alternatives found.
pub(crate) struct Searcher {
    pub(crate) model: MemoryModel,
    /// Graphs to explore later.
    pub(crate) found: Vec<Graph>,
    /// The tables of the last floors computed, for the next.
    room: FloorRoom,
    /// Room for the stores a new read may read.
    cands: Vec<Option<ERef>>,
}

impl Searcher {
    pub(crate) fn new(model: MemoryModel) -> Searcher {
        Searcher {
            model,
            found: Vec::new(),
            room: FloorRoom::default(),
            cands: Vec::new(),
        }
    }

    /// Whether `g` is consistent, settled by the floors (`known`, see
    /// [`Searcher::known`]) or else by the model's whole check; records in `g` whether it
    /// is known to be SC.
    fn settle(&self, g: &mut Graph, known: Option<bool>) -> bool {
        match known {
            Some(sc) => {
                // The crate's own tests check the floors against the whole check.
                #[cfg(test)]
                assert_eq!(
                    verdict(self.model, g),
                    if sc { Verdict::Sc } else { Verdict::No },
                    "the floors disagree with the check of the whole graph"
                );
                g.sc = sc;
                sc
            }
            None => {
                let v = verdict(self.model, g);
                g.sc = v == Verdict::Sc;
                v != Verdict::No
            }
        }
    }

    /// What the floors of the newest event say about its option `k` (a read reading the
    /// store of rank `k`, a store placed right after it), `sc_event`: the event is SeqCst
    /// with that option. `Some(true)`: SC-consistent; `Some(false)`: inconsistent under
    /// the search's model; `None`: the floors do not tell.
    fn known(&self, floors: Option<&mut Floors<'_>>, k: u32, sc_event: bool) -> Option<bool> {
        let f = floors?;
        if k >= f.sc() {
            return Some(true);
        }
        let rejects = match self.model {
            MemoryModel::Sc => true,
            MemoryModel::C11 => sc_event && k < f.psc(),
            MemoryModel::Tso | MemoryModel::Imm => false,
        };
        rejects.then_some(false)
    }

    /// Whether `g`, which differs from a consistent graph only in what its newest event `e`
    /// reads or where it is placed, within the coherence floor, is consistent ([`Searcher::settle`]).
    /// Without the floors it is consistent as it is when the model is `c11`, `e` is neither
    /// SeqCst nor part of a read-modify-write and there is no SeqCst fence (nothing else
    /// RC11 asks can involve an event nothing follows).
    fn extension_consistent(&self, g: &mut Graph, e: ERef, known: Option<bool>) -> bool {
        let l = *g.label(e);
        let simple = known.is_none()
            && self.model == MemoryModel::C11
            && !l.is_sc()
            && match l {
                Label::Read { kind, .. } => !kind.may_be_exclusive(),
                Label::Write { rmw, .. } => !rmw,
                _ => false,
            }
            && !g
                .tasks
                .iter()
                .flat_map(|t| t.events.iter())
                .any(|x| x.label.is_fence() && x.label.is_sc());
        if simple {
            g.sc = false;
            return true;
        }
        self.settle(g, known)
    }

    /// Add a read by `task` of `loc` (declared ordering and kind in `template`, its `rf`
    /// ignored), reading the newest store it may; the others become alternatives. `floor`:
    /// the lowest coherence rank it may read (0 the initial value, `k` the `k`-th store),
    /// from what the task has seen. `write_part`: for the read part of a read-modify-write,
    /// the label of its write part given the value read, if known (see [`Searcher::add_rmw`]).
    /// `reads`: per location, the reads of `g` but this one (the run's replayed reads).
    pub(crate) fn add_read(
        &mut self,
        g: &mut Graph,
        task: u32,
        template: Label,
        floor: u32,
        write_part: Option<&dyn Fn(u64) -> Option<Label>>,
        reads: &[Vec<ERef>],
    ) -> Added {
        let Label::Read { loc, kind, ord, .. } = template else {
            unreachable!("not a read")
        };
        // The stores it may read, in a buffer kept from one read to the next.
        let mut cands = std::mem::take(&mut self.cands);
        cands.clear();
        let co = &g.locs[loc as usize].co;
        if floor == 0 {
            cands.push(None);
        }
        let from = (floor as usize).saturating_sub(1).min(co.len());
        cands.extend(co[from..].iter().copied().map(Some));
        if let ReadKind::Await { until, .. } = kind {
            cands.retain(|&w| until.satisfied(g.value_of(loc, w)));
        }
        if kind.may_be_exclusive() {
            let settled = settled_rmw_sources(g, task, loc, kind, reads);
            cands.retain(|w| !settled.contains(w));
        }
        let added = 'add: {
            let Some(&first) = cands.last() else {
                break 'add Added::Dropped;
            };
            let r = g.push(task, template, true);
            g.set_rf(r, first);
            let newest = g.co_max(loc);
            let mut floors = (g.sc && (cands.len() > 1 || first != newest))
                .then(|| Floors::new(g, r, reads, std::mem::take(&mut self.room)));
            for &w in cands.iter().rev().skip(1) {
                // The floors judge the option before the graph is copied for it (the read's
                // ordering as `set_rf` will make it); the crate's tests copy it all the
                // same, to check the floors against the whole check.
                let sc_read = kind.ord_with(ord, g.value_of(loc, w)).is_sc();
                let known = self.known(floors.as_mut(), g.rank(w), sc_read);
                if known == Some(false) && !cfg!(test) {
                    continue;
                }
                let mut alt = g.clone();
                alt.set_rf(r, w);
                alt.ev_mut(r).max = false;
                debug_assert_eq!(alt.label(r).is_sc(), sc_read);
                if !self.extension_consistent(&mut alt, r, known) {
                    continue;
                }
                let v = alt.value_of(loc, w);
                let part = write_part
                    .filter(|_| kind.exclusive_with(v))
                    .and_then(|f| f(v));
                if let Some(wl) = part {
                    if self.add_rmw(&mut alt, task, wl, reads) == Added::Dropped {
                        continue;
                    }
                }
                self.found.push(alt);
            }
            // Reading the newest store keeps an SC graph SC (nothing comes after it for the
            // read to read before). Else the newest store was taken by a settled
            // read-modify-write (or a wait does not take it), and if the newest remaining
            // one does not fit, this graph goes no further.
            let first_known = (first != newest)
                .then(|| self.known(floors.as_mut(), g.rank(first), g.label(r).is_sc()));
            if let Some(f) = floors {
                self.room = f.into_room();
            }
            match first_known {
                Some(known) if !self.settle(g, known) => Added::Dropped,
                _ => Added::Ok(r),
            }
        };
        self.cands = cands;
        added
    }

    /// Add a write by `task` (its label in `label`), placed last in modification order (a
    /// read-modify-write's write part: right after what its read part read); other places
    /// (after the `floor`-th store: what the task has seen) and the backward revisits it
    /// allows become alternatives.
    pub(crate) fn add_write(
        &mut self,
        g: &mut Graph,
        task: u32,
        label: Label,
        floor: u32,
        reads: &[Vec<ERef>],
    ) -> Added {
        let Label::Write { loc, rmw, .. } = label else {
            unreachable!("not a write")
        };
        if rmw {
            return self.add_rmw(g, task, label, reads);
        }
        let w = g.push(task, label, true);
        let n = g.locs[loc as usize].co.len();
        g.insert_co(w, n);
        // Placed last, the store keeps an SC graph SC (nothing it comes before).
        let mut floors = (g.sc && (floor as usize) < n)
            .then(|| Floors::new(g, w, reads, std::mem::take(&mut self.room)));
        for pos in (floor as usize..n).rev() {
            if splits_rmw(g, loc, pos) {
                continue;
            }
            let known = self.known(floors.as_mut(), pos as u32, label.is_sc());
            if known == Some(false) && !cfg!(test) {
                continue;
            }
            let mut alt = g.clone();
            alt.move_co(w, pos);
            alt.ev_mut(w).max = false;
            if self.extension_consistent(&mut alt, w, known) {
                self.revisits(&alt, w, reads, false);
                self.found.push(alt);
            }
        }
        if let Some(f) = floors {
            self.room = f.into_room();
        }
        self.revisits(g, w, reads, false);
        Added::Ok(w)
    }

    /// Add the write part (`label`) of the read-modify-write whose read part is `task`'s
    /// newest event: right after what the read part read in modification order, with the
    /// backward revisits it allows. When another read-modify-write already follows that
    /// store, the graph breaks atomicity: its revisits (which may drop the other) go on, the
    /// graph itself is dropped.
    fn add_rmw(&mut self, g: &mut Graph, task: u32, label: Label, reads: &[Vec<ERef>]) -> Added {
        let Label::Write { loc, .. } = label else {
            unreachable!("not a write")
        };
        let w = g.push(task, label, true);
        let r = ERef {
            task,
            idx: w.idx - 1,
        };
        let Label::Read { rf, .. } = *g.label(r) else {
            unreachable!("a write part follows its read part")
        };
        let pos = g.rank(rf) as usize;
        g.insert_co(w, pos);
        let co = &g.locs[loc as usize].co;
        let broken = co
            .get(pos + 1)
            .and_then(|&next| g.rmw_read(next))
            .is_some_and(|nr| matches!(*g.label(nr), Label::Read { rf: nrf, .. } if nrf == rf));
        // Broken, the graph is still acyclic (its `sc` stays: it is dropped right after),
        // and its revisits are checked for atomicity before the floors judge them.
        self.revisits(g, w, reads, broken);
        if broken {
            Added::Dropped
        } else {
            Added::Ok(w)
        }
    }

    /// Add an event with no alternatives of its own (a fence, a spawn).
    pub(crate) fn add_plain(&mut self, g: &mut Graph, task: u32, label: Label) -> ERef {
        g.push(task, label, true)
    }

    /// Add a choice among `n` options: option 0 now, the others as alternatives.
    pub(crate) fn add_choice(&mut self, g: &mut Graph, task: u32, n: u32) -> ERef {
        let e = g.push(task, Label::Choice { n, chosen: 0 }, true);
        for k in (1..n).rev() {
            let mut alt = g.clone();
            let ev = alt.ev_mut(e);
            ev.label = Label::Choice { n, chosen: k };
            ev.max = false;
            self.found.push(alt);
        }
        e
    }

    /// Push every maximal backward revisit of the reads before write `w` (the newest event).
    /// `reads_of`: per location, the reads the run replayed: every read of `w`'s location
    /// in `g` but for a read of `w`'s own task added last (which comes before `w` and
    /// cannot read it), and maybe reads a restriction of `g` dropped.
    /// `unatomic`: `w` is a read-modify-write's write part that breaks atomicity in `g`.
    fn revisits(&mut self, g: &Graph, w: ERef, reads_of: &[Vec<ERef>], unatomic: bool) {
        let Label::Write { loc, rmw, .. } = *g.label(w) else {
            unreachable!()
        };
        // The reads by other tasks that may still change what they read (a read of w's own
        // task comes before w: it cannot read w). Most stores have none: then there is no
        // revisit bookkeeping to do.
        let mut reads: Vec<ERef> = Vec::new();
        for &r in reads_of.get(loc as usize).map_or(&[][..], Vec::as_slice) {
            debug_assert!(matches!(g.label(r), Label::Read { loc: l, .. } if *l == loc));
            if r.task != w.task && g.ev(r).revisitable {
                reads.push(r);
            }
        }
        if reads.is_empty() {
            return;
        }
        let prefix = g.porf_prefix(w);
        // Under IMM a read w depends on only through values (not through barrier order)
        // may be revisited too: load buffering.
        let dep = (self.model == MemoryModel::Imm).then(|| g.dep_prefix(w));
        // Those w does not depend on, newest first.
        reads.retain(|r| match &dep {
            Some(dep) => !dep[r.task as usize][r.idx as usize],
            None => r.idx >= prefix[r.task as usize],
        });
        reads.sort_unstable_by_key(|&r| std::cmp::Reverse(g.stamp(r)));
        let co = &g.locs[loc as usize].co;
        let wpos = g.co_pos(w);
        let next_after_w = co.get(wpos + 1).copied();
        for r in reads {
            // What the revisit keeps: what was added up to the read, and w's prefix.
            let rs = g.stamp(r);
            let keep: Vec<u32> = (0..g.tasks.len())
                .map(|t| g.added_by(t, rs).max(prefix[t]))
                .collect();
            let kept = |e: ERef| e.idx < keep[e.task as usize];
            // The write's place must matter: its successor (if any) stays.
            if !rmw {
                if let Some(s) = next_after_w {
                    if !kept(s) {
                        continue;
                    }
                }
            }
            if !self.maximal(g, w, r, &keep) {
                continue;
            }
            let mut alt = g.clone();
            alt.restrict(&keep);
            match &dep {
                Some(dep) => {
                    for (t, flags) in dep.iter().enumerate() {
                        for (i, &f) in flags.iter().enumerate() {
                            if f && i < alt.tasks[t].events.len() {
                                alt.tasks[t].events_mut()[i].revisitable = false;
                            }
                        }
                    }
                }
                None => {
                    for (t, &p) in prefix.iter().enumerate() {
                        let evs = &alt.tasks[t].events[..p as usize];
                        if evs.iter().any(|e| e.revisitable) {
                            for e in &mut alt.tasks[t].events_mut()[..p as usize] {
                                e.revisitable = false;
                            }
                        }
                    }
                }
            }
            alt.set_rf(r, Some(w));
            let newest = alt.co_max(loc) == Some(w);
            alt.ev_mut(r).max = newest;
            let mut waits_again = false;
            if let Label::Read {
                kind: ReadKind::Await { until, .. },
                ..
            } = *alt.label(r)
            {
                if !until.satisfied(alt.read_value(r)) {
                    if r.idx as usize + 1 != alt.tasks[r.task as usize].events.len() {
                        // The revisit keeps events after the wait in its task (a
                        // load-buffering revisit under imm: w's prefix holds them), but a wait
                        // this store does not satisfy would still be waiting: no such graph.
                        continue;
                    }
                    // A wait that the store does not satisfy: the task waits again.
                    alt.pop_last(r.task);
                    waits_again = true;
                }
            }
            // Outside imm the revisited read is the last of its task and nothing reads it:
            // the restriction of an SC graph is SC, and the read's floors judge the rest.
            let known = if !g.sc || self.model == MemoryModel::Imm {
                None
            } else if unatomic && !alt.atomic() {
                Some(false)
            } else if waits_again {
                Some(true)
            } else {
                let k = alt.rank(Some(w));
                let sc_read = alt.label(r).is_sc();
                let mut f = Floors::new(&alt, r, reads_of, std::mem::take(&mut self.room));
                let known = self.known(Some(&mut f), k, sc_read);
                self.room = f.into_room();
                known
            };
            if self.settle(&mut alt, known) {
                self.found.push(alt);
            }
        }
    }

    /// Whether the events a revisit of `r` by `w` deletes (those not `kept`), and `r`
    /// itself, were all added maximally and read (or are) the newest stores among what is
    /// kept - so that this order of addition is the one that revisits.
    fn maximal(&self, g: &Graph, w: ERef, r: ERef, keep: &[u32]) -> bool {
        let kept = |e: ERef| e.idx < keep[e.task as usize];
        // The deleted events are each task's events from `keep` on; `r` is kept.
        let deleted = g.tasks.iter().enumerate().flat_map(|(t, task)| {
            let from = (keep[t] as usize).min(task.events.len());
            (from..task.events.len()).map(move |i| ERef {
                task: t as u32,
                idx: i as u32,
            })
        });
        for e in std::iter::once(r).chain(deleted) {
            let ev = g.ev(e);
            if !ev.revisitable || !ev.max {
                return false;
            }
            // Co-before a kept store (other than w): not the newest among the kept.
            let (loc, from) = match ev.label {
                Label::Read { loc, rf, .. } => (loc, rf),
                Label::Write { loc, .. } => (loc, Some(e)),
                _ => continue,
            };
            let co = &g.locs[loc as usize].co;
            let start = g.rank(from) as usize;
            if co[start..].iter().any(|&s| s != w && kept(s)) {
                return false;
            }
        }
        true
    }
}

/// Whether a store placed at `pos` of `loc`'s modification order would come between a
/// read-modify-write and the store its read part read (breaking its atomicity).
fn splits_rmw(g: &Graph, loc: u32, pos: usize) -> bool {
    let co = &g.locs[loc as usize].co;
    let Some(read) = co.get(pos).and_then(|&next| g.rmw_read(next)) else {
        return false;
    };
    let before = pos.checked_sub(1).map(|p| co[p]);
    matches!(*g.label(read), Label::Read { rf, .. } if rf == before)
}

/// The stores a read-modify-write read by `task` of `loc` must not read: those a settled
/// read-modify-write already read (settled: it can no longer be revisited, or the new
/// read depends on it), when reading them would make the new one succeed too. `reads`: per
/// location, every read of `g` (the run replayed all of `g` before adding to it).
fn settled_rmw_sources(
    g: &Graph,
    task: u32,
    loc: u32,
    kind: ReadKind,
    reads: &[Vec<ERef>],
) -> Vec<Option<ERef>> {
    // The task's porf-prefix, computed only if some read-modify-write needs it.
    let mut prefix: Option<Vec<u32>> = None;
    let prefix_of_task = || {
        let last = g.tasks[task as usize].events.len();
        if last > 0 {
            g.porf_prefix(ERef {
                task,
                idx: last as u32 - 1,
            })
        } else {
            match g.spawn_of(task) {
                Some(s) => g.porf_prefix(s),
                None => vec![0; g.tasks.len()],
            }
        }
    };
    let mut out = Vec::new();
    for &r in reads.get(loc as usize).map_or(&[][..], Vec::as_slice) {
        let ev = g.ev(r);
        let Label::Read { loc: l, rf, .. } = ev.label else {
            unreachable!("a read")
        };
        debug_assert_eq!(l, loc);
        let events = &g.tasks[r.task as usize].events;
        let is_rmw = events
            .get(r.idx as usize + 1)
            .is_some_and(|n| n.label.is_rmw_write());
        if !is_rmw || !kind.exclusive_with(g.value_of(loc, rf)) {
            continue;
        }
        let settled =
            !ev.revisitable || r.idx < prefix.get_or_insert_with(prefix_of_task)[r.task as usize];
        if settled {
            out.push(rf);
        }
    }
    #[cfg(test)]
    {
        // Every read of the location is in `reads`.
        let all = g
            .tasks
            .iter()
            .flat_map(|t| t.events.iter())
            .filter(|ev| matches!(ev.label, Label::Read { loc: l, .. } if l == loc))
            .count();
        assert_eq!(all, reads.get(loc as usize).map_or(0, Vec::len));
    }
    out
}
