//! The rows of a log: one per event, with stale reads explained.

use super::names::Names;
use super::{vtime, Renderer};
use crate::engine::event::{Event, EventLog, Op, Ord, Pick};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A row of the timeline.
pub(crate) enum Row {
    /// An event of a task; `stale` marks a load that did not read the newest store.
    Task {
        step: u64,
        task: u32,
        op: Op,
        text: String,
        stale: bool,
    },
    /// A full-width row (time advancing, a collapsed prologue).
    Full { step: u64, text: String },
}

impl Row {
    pub(crate) fn step(&self) -> u64 {
        match self {
            Row::Task { step, .. } | Row::Full { step, .. } => *step,
        }
    }
}

/// The rows of `log`.
pub(crate) fn rows(r: &Renderer<'_>, n: &Names<'_>, log: &EventLog) -> Vec<Row> {
    let mut stores = Stores::default();
    let mut out = Vec::with_capacity(log.events.len());
    for ev in &log.events {
        let text = event_text(r, n, ev, Some(&stores));
        match ev.task {
            None => out.push(Row::Full {
                step: ev.step,
                text,
            }),
            Some(task) => {
                let stale = matches!(
                    ev.op,
                    Op::Load { pick, .. } | Op::PlainRead { pick, .. } if pick.stale()
                );
                stores.record(ev);
                out.push(Row::Task {
                    step: ev.step,
                    task,
                    op: ev.op,
                    text,
                    stale,
                });
            }
        }
    }
    out
}

/// One store seen in the log.
#[derive(Clone, Copy)]
struct SeenStore {
    val: u64,
    step: u64,
}

/// The stores of each location seen so far, to explain stale reads.
#[derive(Default)]
pub(crate) struct Stores {
    by_loc: BTreeMap<u32, Vec<SeenStore>>,
}

impl Stores {
    fn record(&mut self, ev: &Event) {
        if let Some((loc, val)) = ev.op.stored() {
            self.by_loc
                .entry(loc)
                .or_default()
                .push(SeenStore { val, step: ev.step });
        }
    }

    /// Explain a load of rank > 0: the newest value and which older store it took.
    fn explain(&self, r: &Renderer<'_>, n: &Names<'_>, loc: u32, read: u64, pick: Pick) -> String {
        let mut s = format!("stale: {} of {}", pick.rank, pick.of);
        let empty = Vec::new();
        let hist = self.by_loc.get(&loc).unwrap_or(&empty);
        let Some(newest) = hist.last() else {
            s.push_str(", no store in the log");
            return s;
        };
        let _ = write!(
            s,
            ", newest is {} from step {}",
            r.value(n, loc, newest.val),
            newest.step
        );
        // Candidates are the newest stores in order (an SC load may drop some SC ones, so
        // check the value and fall back to the newest older store holding it).
        let rank = pick.rank as usize;
        let by_rank = (rank < hist.len()).then(|| hist[hist.len() - 1 - rank]);
        let which = match by_rank {
            Some(st) if st.val == read => Some(st),
            _ if rank == hist.len() => None,
            _ => hist[..hist.len() - 1]
                .iter()
                .rev()
                .find(|st| st.val == read)
                .copied(),
        };
        match which {
            Some(st) => {
                let _ = write!(s, "; read the store of step {}", st.step);
            }
            None => s.push_str("; read the initial value"),
        }
        s
    }
}

fn ord_suffix(o: Ord) -> &'static str {
    match o {
        Ord::Relaxed => "(rlx)",
        Ord::Acquire => "(acq)",
        Ord::Release => "(rel)",
        Ord::AcqRel => "(acqrel)",
        Ord::SeqCst => "(sc)",
    }
}

/// The text of one event (without its task or step).
pub(crate) fn event_text(
    r: &Renderer<'_>,
    n: &Names<'_>,
    ev: &Event,
    stores: Option<&Stores>,
) -> String {
    let v = |loc: u32, val: u64| r.value(n, loc, val);
    let stale = |loc: u32, val: u64, pick: Pick| -> String {
        if !pick.stale() {
            return String::new();
        }
        let why = match stores {
            Some(st) => st.explain(r, n, loc, val, pick),
            None => format!("stale: {} of {}", pick.rank, pick.of),
        };
        format!("  ({why})")
    };
    match ev.op {
        Op::Start => "start".to_string(),
        Op::Finish => "finish".to_string(),
        Op::Load {
            loc,
            ord,
            val,
            pick,
        } => format!(
            "load{} {} = {}{}",
            ord_suffix(ord),
            n.loc(loc),
            v(loc, val),
            stale(loc, val, pick)
        ),
        Op::Store { loc, ord, val } => {
            format!("store{} {} := {}", ord_suffix(ord), n.loc(loc), v(loc, val))
        }
        Op::Rmw {
            loc,
            ord,
            read,
            written,
        } => format!(
            "rmw{} {}: {} -> {}",
            ord_suffix(ord),
            n.loc(loc),
            v(loc, read),
            v(loc, written)
        ),
        Op::CasFail { loc, ord, read } => {
            format!(
                "cas-fail{} {} = {}",
                ord_suffix(ord),
                n.loc(loc),
                v(loc, read)
            )
        }
        Op::Fence { ord } => format!("fence{}", ord_suffix(ord)),
        Op::PlainRead { loc, val, pick } => format!(
            "read {} = {}{}",
            n.loc(loc),
            v(loc, val),
            stale(loc, val, pick)
        ),
        Op::PlainWrite { loc, val } => format!("write {} := {}", n.loc(loc), v(loc, val)),
        Op::Lock { lock } => format!("lock {}", n.loc(lock)),
        Op::LockBlocked { lock, owner } => {
            format!("lock {}: blocked (held by {})", n.loc(lock), n.task(owner))
        }
        Op::Unlock { lock } => format!("unlock {}", n.loc(lock)),
        Op::Spawn { child } => format!("spawn {}", n.task(child)),
        Op::Join { child } => format!("join {}", n.task(child)),
        Op::JoinBlocked { child } => format!("join {}: blocked", n.task(child)),
        Op::Park { until_ns: None } => "park".to_string(),
        Op::Park { until_ns: Some(u) } => format!("park until {}", vtime(u)),
        Op::ParkCommit { stays: false } => "park commit: resumes at once".to_string(),
        Op::ParkCommit { stays: true } => "park commit: stays parked".to_string(),
        Op::Unpark { timed_out: false } => "unpark".to_string(),
        Op::Unpark { timed_out: true } => "unpark (time ran out)".to_string(),
        Op::Ready { target } => format!("ready {}", n.task(target)),
        Op::Yield => "yield".to_string(),
        Op::Sleep { until_ns } => format!("sleep until {}", vtime(until_ns)),
        Op::TimeAdvance { to_ns } => format!("time advances to {}", vtime(to_ns)),
        Op::Race { loc, other } => format!("DATA RACE on {} with {}", n.loc(loc), n.task(other)),
        Op::UserChoice { chosen, of } => format!("choice -> {chosen} of {of}"),
        Op::Flush { loc, ord, val } => format!(
            "flush{} {} := {}",
            ord.map_or("", ord_suffix),
            n.loc(loc),
            v(loc, val)
        ),
    }
}
