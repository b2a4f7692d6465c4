//! The worker pool: a campaign's units run on `jobs` threads (the calling thread is one of
//! them), each with its own engine and its own copy of the check.
//!
//! * Sampling strategies: the threads take chunks of consecutive schedule indices from one
//!   counter, in increasing order. Schedule `i` is a function of the seed and `i` (PCT: and
//!   of the warm-up, run first on the calling thread), so it is the same on any thread.
//! * Systematic searches ([`TreeSearch`]): the nodes and subtrees of the search live in one
//!   ordered pool; an idle thread takes the lowest node waiting (whoever found it), runs it,
//!   puts the sibling nodes its first run met back into the pool for any thread to take, and
//!   searches the node's first subtree.
//!
//! The first failure, when the campaign stops at it, is a cut: work after it is dropped,
//! work before it always finishes. A systematic search's cap is enforced with a lower bound
//! on the schedules before each subtree (the subtrees done before it, and one for each one
//! known but not done); the unit that crosses the cap may run further than needed, and is
//! cut exactly afterwards (see `runner`).

use super::pct::{PctSource, PCT_WARMUP};
use super::random::RandomSource;
use super::shard::Shard;
use super::split::{SubtreeKey, TreeSearch, SHARD_DEPTH, SPLIT_DEPTH};
use super::unit::{Slot, UnitKey, UnitResult};
use super::FailureInfo;
use crate::engine::choice::{ChoiceCtx, ChoiceSource};
use crate::engine::event::EventLog;
use crate::engine::failure::Failure;
use crate::engine::rt::{Engine, ExecConfig, Outcome};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Unbounded};
use std::ops::DerefMut;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Schedules of a sampling campaign a thread takes at once.
const CHUNK: u64 = 32;

/// Schedules between two looks of a subtree's search at the cut and the cap.
const RECHECK_EVERY: u64 = 64;

/// Makes the check's body on a thread (each thread runs its own copy).
pub(crate) type BodyFactory = dyn Fn() -> Rc<dyn Fn()> + Sync;

/// What sees every counted run, on the calling thread (only with one job).
pub(crate) type Observer<'a> = &'a mut dyn FnMut(&EventLog, Option<&Failure>);

/// Schedules a thread counts before it adds them to the shared totals.
const FLUSH_EVERY: u64 = 32;

/// Running totals of the schedules counted so far, over all threads (for progress only).
/// Each thread adds its figures every [`FLUSH_EVERY`] schedules, not at every one: the
/// threads would otherwise take turns at one cache line.
#[derive(Default)]
pub(crate) struct Counters {
    schedules: AtomicU64,
    steps: AtomicU64,
    races: AtomicU64,
    failures: AtomicU64,
}

/// Figures counted so far.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Figures {
    pub(crate) schedules: u64,
    pub(crate) steps: u64,
    pub(crate) races: u64,
    pub(crate) failures: u64,
}

impl Counters {
    fn add(&self, f: &Figures) {
        self.schedules.fetch_add(f.schedules, Relaxed);
        self.steps.fetch_add(f.steps, Relaxed);
        self.races.fetch_add(f.races, Relaxed);
        self.failures.fetch_add(f.failures, Relaxed);
    }

    /// The shared totals plus a thread's figures not yet added.
    fn with(&self, own: &Figures) -> Figures {
        Figures {
            schedules: self.schedules.load(Relaxed) + own.schedules,
            steps: self.steps.load(Relaxed) + own.steps,
            races: self.races.load(Relaxed) + own.races,
            failures: self.failures.load(Relaxed) + own.failures,
        }
    }
}

/// What a campaign's threads share.
pub(crate) struct Campaign<'a> {
    pub(crate) exec: ExecConfig,
    pub(crate) seed: u64,
    pub(crate) cap: u64,
    pub(crate) stop: bool,
    pub(crate) shard: Option<Shard>,
    pub(crate) work: Work<'a>,
    pub(crate) counters: Counters,
}

/// The campaign's work.
pub(crate) enum Work<'a> {
    /// Schedule indices (random, PCT).
    Range(RangeWork),
    /// A systematic search's tree.
    Tree(TreeWork<'a>),
}

/// Which sampling strategy.
#[derive(Clone, Copy)]
pub(crate) enum Sampler {
    Random,
    /// PCT with this depth; its estimate is set after the warm-up.
    Pct {
        depth: u32,
    },
}

pub(crate) struct RangeWork {
    sampler: Sampler,
    /// The indices this process runs (after the PCT warm-up has taken its part).
    start: u64,
    end: u64,
    next: AtomicU64,
    /// The lowest failing index seen (when stopping at the first failure).
    cut: AtomicU64,
    /// PCT's step estimate after the warm-up.
    pct_estimate: AtomicU64,
}

impl RangeWork {
    pub(crate) fn new(sampler: Sampler, range: std::ops::Range<u64>) -> Self {
        RangeWork {
            sampler,
            start: range.start,
            end: range.end,
            next: AtomicU64::new(range.start),
            cut: AtomicU64::new(u64::MAX),
            pct_estimate: AtomicU64::new(0),
        }
    }

    /// The next chunk, if any is left before the end and the cut.
    fn take(&self) -> Option<std::ops::Range<u64>> {
        let s = self.next.fetch_add(CHUNK, Relaxed);
        // `next` can only pass the end by `CHUNK` per thread: no overflow short of u64::MAX.
        if s >= self.end || s < self.start || s > self.cut.load(Relaxed) {
            return None;
        }
        Some(s..s.saturating_add(CHUNK).min(self.end))
    }

    fn source(&self, seed: u64) -> Box<dyn ChoiceSource> {
        match self.sampler {
            Sampler::Random => Box::new(RandomSource::new(seed)),
            Sampler::Pct { depth } => Box::new(PctSource::with_estimate(
                seed,
                depth,
                self.pct_estimate.load(Relaxed),
            )),
        }
    }
}

/// One place in the tree's pool.
enum Place {
    /// A node to run.
    Waiting,
    /// A node or subtree some thread is running.
    Running,
    /// A subtree of another shard (found, not searched here).
    Foreign,
    /// A subtree searched.
    Done(Box<UnitResult<FailureInfo>>),
    /// A node or subtree dropped: beyond the cut or the cap.
    Dropped,
}

struct TreeState {
    places: BTreeMap<SubtreeKey, Place>,
    /// The last key of the longest prefix of `places` that is all done (or foreign), and the
    /// schedules in it (a foreign subtree counts one).
    mark: Option<(SubtreeKey, u64)>,
    /// The lowest subtree with a failure (when stopping at the first failure).
    cut: Option<SubtreeKey>,
    running: usize,
    /// A thread panicked: everyone stops.
    aborted: bool,
}

impl TreeState {
    /// At least how many schedules of the campaign come before `key`.
    fn lower_bound(&self, key: &SubtreeKey) -> u64 {
        let (mut sum, range) = match &self.mark {
            Some((m, s)) if m < key => (*s, self.places.range((Excluded(m), Excluded(key)))),
            _ => (0, self.places.range(..key)),
        };
        for (_, p) in range {
            sum = sum.saturating_add(match p {
                Place::Done(u) => u.schedules,
                Place::Waiting | Place::Running | Place::Foreign => 1,
                Place::Dropped => 0,
            });
        }
        sum
    }

    fn advance_mark(&mut self) {
        loop {
            let next = match &self.mark {
                Some((m, _)) => self.places.range((Excluded(m), Unbounded)).next(),
                None => self.places.iter().next(),
            };
            let add = match next {
                Some((_, Place::Done(u))) => u.schedules,
                Some((_, Place::Foreign)) => 1,
                _ => return,
            };
            let (k, _) = next.expect("matched");
            let sum = self.mark.as_ref().map_or(0, |(_, s)| *s);
            self.mark = Some((k.clone(), sum.saturating_add(add)));
        }
    }

    fn beyond_cut(&self, key: &SubtreeKey) -> bool {
        self.cut.as_ref().is_some_and(|c| key > c)
    }

    /// The lowest waiting node.
    fn lowest_waiting(&self) -> Option<SubtreeKey> {
        let range = match &self.mark {
            Some((m, _)) => self.places.range((Excluded(m.clone()), Unbounded)),
            None => self.places.range::<SubtreeKey, _>(..),
        };
        range
            .filter(|(_, p)| matches!(p, Place::Waiting))
            .map(|(k, _)| k.clone())
            .next()
    }
}

pub(crate) struct TreeWork<'a> {
    search: &'a dyn TreeSearch,
    state: Mutex<TreeState>,
    wake: Condvar,
    /// Bumped whenever the cut moves, so a running search looks at it only then.
    cut_moves: AtomicU64,
}

impl<'a> TreeWork<'a> {
    pub(crate) fn new(search: &'a dyn TreeSearch) -> Self {
        let places = (0..search.phases())
            .map(|p| (SubtreeKey::root(p), Place::Waiting))
            .collect();
        TreeWork {
            search,
            state: Mutex::new(TreeState {
                places,
                mark: None,
                cut: None,
                running: 0,
                aborted: false,
            }),
            wake: Condvar::new(),
            cut_moves: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, TreeState> {
        // A thread that panicked leaves `aborted` set; the state itself stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sets `aborted` if a thread unwinds while working on the tree, so the others stop waiting.
struct AbortOnPanic<'a, 'b>(&'a TreeWork<'b>);

impl Drop for AbortOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().aborted = true;
            self.0.wake.notify_all();
        }
    }
}

/// A source shared between the engine and the thread that reads it between runs (a
/// subtree's shape, PCT's estimate).
struct Shared<T>(Rc<RefCell<T>>);

impl<T> ChoiceSource for Shared<T>
where
    T: DerefMut,
    T::Target: ChoiceSource,
{
    fn begin(&mut self, index: u64) -> bool {
        self.0.borrow_mut().begin(index)
    }
    fn choose(&mut self, ctx: &ChoiceCtx<'_>) -> usize {
        self.0.borrow_mut().choose(ctx)
    }
    fn new_task(&mut self, task: u32) {
        self.0.borrow_mut().new_task(task)
    }
    fn end(&mut self, steps: u64) {
        self.0.borrow_mut().end(steps)
    }
    fn divergence(&mut self) -> Option<String> {
        self.0.borrow_mut().divergence()
    }
}

/// What a thread does after each counted run: the calling thread reports progress (and,
/// with one job, shows the run to the observer); the others do nothing.
pub(crate) type Tick<'a> = &'a mut dyn FnMut(&Figures, &Outcome);

/// One thread's engine and copy of the check.
struct Worker<'c, 'a> {
    c: &'c Campaign<'a>,
    engine: Engine,
    body: Rc<dyn Fn()>,
    results: Vec<Slot<FailureInfo>>,
    /// Figures not yet added to the campaign's counters.
    unflushed: Figures,
}

impl<'c, 'a> Worker<'c, 'a> {
    fn new(c: &'c Campaign<'a>, body: Rc<dyn Fn()>) -> Self {
        // The source is replaced before each unit.
        let engine = Engine::new(c.exec, Box::new(RandomSource::new(c.seed)));
        Worker {
            c,
            engine,
            body,
            results: Vec::new(),
            unflushed: Figures::default(),
        }
    }

    /// Count `out` as schedule `offset` of `u` (of campaign index `index`, if known).
    fn count(
        &mut self,
        u: &mut UnitResult<FailureInfo>,
        out: Outcome,
        index: u64,
        tick: &mut Option<Tick<'_>>,
    ) -> bool {
        let failed = out.failure.is_some();
        let own = &mut self.unflushed;
        own.schedules += 1;
        own.steps += out.steps;
        own.races += out.races;
        own.failures += failed as u64;
        if let Some(t) = tick.as_mut() {
            t(&self.c.counters.with(own), &out);
        }
        if own.schedules >= FLUSH_EVERY || failed {
            self.c.counters.add(own);
            *own = Figures::default();
        }
        let offset = u.schedules;
        u.schedules += 1;
        u.steps += out.steps;
        u.races += out.races;
        if failed {
            u.failures += 1;
        }
        if failed && u.first_failure.is_none() {
            let Outcome {
                failure,
                choices,
                log,
                ..
            } = out;
            let info = FailureInfo {
                failure: failure.expect("failed"),
                seed: self.c.seed,
                schedule_index: index,
                choices,
                log,
            };
            u.first_failure = Some((offset, info));
        } else {
            self.engine.recycle(out);
        }
        failed
    }

    fn run_ranges(&mut self, w: &RangeWork, tick: &mut Option<Tick<'_>>) {
        self.engine.set_source(w.source(self.c.seed));
        while let Some(r) = w.take() {
            let mut u = UnitResult::new(UnitKey::Range { start: r.start });
            let mut dropped = false;
            let mut stopped = false;
            for i in r.clone() {
                if self.c.stop && i > w.cut.load(Relaxed) {
                    dropped = true;
                    break;
                }
                self.engine.begin(i);
                let out = self.engine.run(&self.body);
                if self.count(&mut u, out, i, tick) && self.c.stop {
                    w.cut.fetch_min(i, Relaxed);
                    stopped = true;
                    break;
                }
            }
            u.exhausted = !dropped && !stopped;
            self.results.push(if dropped {
                Slot::NotRun(u.key)
            } else {
                Slot::Done(u)
            });
        }
    }

    fn run_tree(&mut self, w: &TreeWork<'_>, tick: &mut Option<Tick<'_>>) {
        let _guard = AbortOnPanic(w);
        while let Some((node, cap)) = self.take_node(w) {
            self.run_node(w, node, cap, tick);
        }
    }

    /// The lowest waiting node and the most schedules its first subtree may need, or `None`
    /// when nothing is left.
    fn take_node(&self, w: &TreeWork<'_>) -> Option<(SubtreeKey, u64)> {
        let mut st = w.lock();
        loop {
            if st.aborted {
                return None;
            }
            match st.lowest_waiting() {
                Some(k) => {
                    let lb = st.lower_bound(&k);
                    let foreign =
                        k.prefix.len() >= SHARD_DEPTH && self.c.shard.is_some_and(|s| !s.owns(&k));
                    let place = if foreign {
                        // Another shard's prefix, whole: one schedule at least.
                        Place::Foreign
                    } else if (self.c.stop && st.beyond_cut(&k)) || lb >= self.c.cap {
                        Place::Dropped
                    } else {
                        st.running += 1;
                        Place::Running
                    };
                    let run = matches!(place, Place::Running);
                    st.places.insert(k.clone(), place);
                    if foreign {
                        st.advance_mark();
                    }
                    if run {
                        return Some((k, self.c.cap - lb));
                    }
                }
                None if st.running == 0 => {
                    w.wake.notify_all();
                    return None;
                }
                None => st = w.wake.wait(st).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }

    /// Run `node` once, hand its siblings to the pool, and search its first subtree if it is
    /// this shard's.
    fn run_node(
        &mut self,
        w: &TreeWork<'_>,
        node: SubtreeKey,
        mut cap: u64,
        tick: &mut Option<Tick<'_>>,
    ) {
        let src = Rc::new(RefCell::new(w.search.source(&node, SPLIT_DEPTH)));
        self.engine.set_source(Box::new(Shared(src.clone())));
        self.engine.begin(0);
        let out = self.engine.run(&self.body);
        let key = SubtreeKey {
            phase: node.phase,
            prefix: src.borrow().first_decisions(SPLIT_DEPTH),
        };
        let siblings = src.borrow().siblings(node.prefix.len(), SPLIT_DEPTH);
        let own = self.c.shard.is_none_or(|s| s.owns(&key));
        {
            let mut st = w.lock();
            st.places.remove(&node);
            st.running -= 1;
            for prefix in siblings {
                let phase = node.phase;
                st.places
                    .insert(SubtreeKey { phase, prefix }, Place::Waiting);
            }
            let place = if !own {
                Place::Foreign
            } else if self.c.stop && st.beyond_cut(&key) {
                Place::Dropped
            } else {
                st.running += 1;
                Place::Running
            };
            let search = matches!(place, Place::Running);
            st.places.insert(key.clone(), place);
            st.advance_mark();
            w.wake.notify_all();
            if !search {
                drop(st);
                self.engine.recycle(out);
                return;
            }
        }
        let mut u = UnitResult::new(UnitKey::Subtree(key.clone()));
        let mut failed = self.count(&mut u, out, 0, tick);
        let mut dropped = false;
        let mut seen_moves = w.cut_moves.load(Relaxed);
        loop {
            if failed && self.c.stop {
                let mut st = w.lock();
                if st.cut.as_ref().is_none_or(|c| &key < c) {
                    st.cut = Some(key.clone());
                    w.cut_moves.fetch_add(1, Relaxed);
                }
                break;
            }
            let moves = w.cut_moves.load(Relaxed);
            if moves != seen_moves || u.schedules % RECHECK_EVERY == 0 || u.schedules >= cap {
                seen_moves = moves;
                let st = w.lock();
                if st.aborted || (self.c.stop && st.beyond_cut(&key)) {
                    dropped = true;
                    break;
                }
                cap = cap.min(self.c.cap.saturating_sub(st.lower_bound(&key)));
            }
            if u.schedules >= cap {
                break;
            }
            if !self.engine.begin(u.schedules) {
                u.exhausted = true;
                break;
            }
            let out = self.engine.run(&self.body);
            let offset = u.schedules;
            failed = self.count(&mut u, out, offset, tick);
        }
        let mut st = w.lock();
        st.running -= 1;
        st.places.insert(
            key,
            if dropped {
                Place::Dropped
            } else {
                Place::Done(Box::new(u))
            },
        );
        st.advance_mark();
        w.wake.notify_all();
    }
}

/// What a campaign's threads ran.
pub(crate) struct Ran {
    /// This process's units, sorted: what ran, and what was known and dropped.
    pub(crate) slots: Vec<Slot<FailureInfo>>,
    /// The other shards' subtrees this process found (sorted; each has a schedule at least).
    pub(crate) foreign: Vec<SubtreeKey>,
}

impl Drop for Worker<'_, '_> {
    fn drop(&mut self) {
        self.c.counters.add(&self.unflushed);
    }
}

/// Run `c`'s units on `jobs` threads (the calling thread included), with `body` on the
/// calling thread and `factory` making the others' (required for `jobs > 1`).
pub(crate) fn run(
    c: &Campaign<'_>,
    jobs: usize,
    body: &Rc<dyn Fn()>,
    factory: Option<&BodyFactory>,
    mut tick: Option<Tick<'_>>,
) -> Ran {
    let mut foreign = Vec::new();
    let jobs = if factory.is_some() { jobs.max(1) } else { 1 };
    let mut slots = Vec::new();
    if let Work::Range(w) = &c.work {
        if let Sampler::Pct { depth } = w.sampler {
            slots.extend(pct_warmup(c, w, depth, body, &mut tick));
        }
    }
    let work = |worker: &mut Worker<'_, '_>, tick: &mut Option<Tick<'_>>| match &c.work {
        Work::Range(w) => worker.run_ranges(w, tick),
        Work::Tree(w) => worker.run_tree(w, tick),
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..jobs)
            .map(|i| {
                let factory = factory.expect("more than one job needs a factory");
                std::thread::Builder::new()
                    .name(format!("netpoll-sim-worker-{i}"))
                    .spawn_scoped(scope, move || {
                        let mut worker = Worker::new(c, factory());
                        work(&mut worker, &mut None);
                        std::mem::take(&mut worker.results)
                    })
                    .expect("spawn a worker thread")
            })
            .collect();
        let mut worker = Worker::new(c, body.clone());
        work(&mut worker, &mut tick);
        slots.append(&mut worker.results);
        drop(worker);
        for h in handles {
            match h.join() {
                Ok(mut r) => slots.append(&mut r),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
    });
    if let Work::Tree(w) = &c.work {
        let st = std::mem::replace(
            &mut *w.lock(),
            TreeState {
                places: BTreeMap::new(),
                mark: None,
                cut: None,
                running: 0,
                aborted: false,
            },
        );
        for (k, p) in st.places {
            match p {
                Place::Done(u) => slots.push(Slot::Done(*u)),
                Place::Foreign => foreign.push(k),
                Place::Waiting | Place::Running | Place::Dropped => {
                    slots.push(Slot::NotRun(UnitKey::Subtree(k)))
                }
            }
        }
    }
    slots.sort_by(|a, b| a.key().cmp(b.key()));
    Ran { slots, foreign }
}

/// PCT's warm-up: schedules `0..PCT_WARMUP`, one after the other on the calling thread (each
/// one's step estimate depends on those before); sets the estimate for the rest, and moves
/// the range's start past the warm-up. Returns the warm-up's schedules that are this
/// process's, as one unit.
fn pct_warmup(
    c: &Campaign<'_>,
    w: &RangeWork,
    depth: u32,
    body: &Rc<dyn Fn()>,
    tick: &mut Option<Tick<'_>>,
) -> Option<Slot<FailureInfo>> {
    let warm = PCT_WARMUP.min(c.cap);
    let src = Rc::new(RefCell::new(Box::new(PctSource::new(c.seed, depth))));
    let mut worker = Worker::new(c, body.clone());
    worker.engine.set_source(Box::new(Shared(src.clone())));
    let mine = w.start..w.end.min(warm);
    let mut u = (!mine.is_empty()).then(|| UnitResult::new(UnitKey::Range { start: w.start }));
    let mut stopped = false;
    for i in 0..warm {
        worker.engine.begin(i);
        let out = worker.engine.run(&worker.body);
        match u.as_mut() {
            Some(u) if mine.contains(&i) => {
                if worker.count(u, out, i, tick) && c.stop {
                    w.cut.store(i, Relaxed);
                    stopped = true;
                    break;
                }
            }
            _ => worker.engine.recycle(out),
        }
    }
    w.pct_estimate.store(src.borrow().estimate(), Relaxed);
    let start = w.start.max(warm);
    w.next.store(start, Relaxed);
    drop(worker);
    u.map(|mut u| {
        u.exhausted = !stopped;
        Slot::Done(u)
    })
}

/// Search the subtree `key` alone on the calling thread, up to `cap` schedules (to cut the
/// unit that crosses a campaign's cap exactly where the cap falls).
pub(crate) fn rerun_subtree(
    c: &Campaign<'_>,
    search: &dyn TreeSearch,
    key: &SubtreeKey,
    cap: u64,
    body: &Rc<dyn Fn()>,
) -> UnitResult<FailureInfo> {
    let mut worker = Worker::new(c, body.clone());
    worker.engine.set_source(search.source(key, SPLIT_DEPTH));
    let mut u = UnitResult::new(UnitKey::Subtree(key.clone()));
    while u.schedules < cap {
        if !worker.engine.begin(u.schedules) {
            u.exhausted = true;
            break;
        }
        let out = worker.engine.run(&worker.body);
        let offset = u.schedules;
        if worker.count(&mut u, out, offset, &mut None) && c.stop {
            break;
        }
    }
    u
}
