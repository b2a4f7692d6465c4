//! The rows of a log, one per event, made one at a time: each with its text (cut at
//! [`MAX_CELL_CHARS`]) and, for a stale read, which store it read.

use super::names::{clean, Names};
use super::{vtime, Renderer};
use crate::engine::event::{Event, Op, Ord, Pick};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

/// The most characters of one row's text (an event and, for a stale read, its explanation).
pub(crate) const MAX_CELL_CHARS: usize = 160;

/// Stores remembered per location to explain stale reads: a load reads one of its location's
/// newest stores, counted by a rank below 256 ([`Pick::rank`] is a `u8`).
const STORES_KEPT: usize = 256;

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

/// The row of `ev`, explaining a stale read with `stores` (which it then records `ev` in) or,
/// without them, only saying it is one.
pub(crate) fn row(r: &Renderer<'_>, n: &Names<'_>, ev: &Event, stores: Option<&mut Stores>) -> Row {
    let text = event_text(r, n, ev, stores.as_deref());
    if let Some(st) = stores {
        st.record(ev);
    }
    match ev.task {
        None => Row::Full {
            step: ev.step,
            text,
        },
        Some(task) => Row::Task {
            step: ev.step,
            task,
            op: ev.op,
            text,
            stale: matches!(
                ev.op,
                Op::Load { pick, .. } | Op::PlainRead { pick, .. } if pick.stale()
            ),
        },
    }
}

/// One store seen in the log.
#[derive(Clone, Copy)]
struct SeenStore {
    val: u64,
    step: u64,
}

/// The newest stores of each location seen so far (at most [`STORES_KEPT`] each), to explain
/// stale reads.
#[derive(Default)]
pub(crate) struct Stores {
    by_loc: BTreeMap<u32, VecDeque<SeenStore>>,
}

impl Stores {
    fn record(&mut self, ev: &Event) {
        if ev.task.is_none() {
            return;
        }
        if let Some((loc, val)) = ev.op.stored() {
            let h = self.by_loc.entry(loc).or_default();
            if h.len() == STORES_KEPT {
                h.pop_front();
            }
            h.push_back(SeenStore { val, step: ev.step });
        }
    }

    /// Explain a load of rank > 0: the newest value and which older store it took.
    fn explain(&self, r: &Renderer<'_>, n: &Names<'_>, loc: u32, read: u64, pick: Pick) -> String {
        let mut s = format!("stale: {} of {}", pick.rank, pick.of);
        let Some(hist) = self.by_loc.get(&loc).filter(|h| !h.is_empty()) else {
            s.push_str(", no store in the log");
            return s;
        };
        let newest = hist[hist.len() - 1];
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
            _ => hist
                .iter()
                .take(hist.len() - 1)
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

/// The text of one event (without its task or step), at most [`MAX_CELL_CHARS`] characters.
pub(crate) fn event_text(
    r: &Renderer<'_>,
    n: &Names<'_>,
    ev: &Event,
    stores: Option<&Stores>,
) -> String {
    let text = event_text_uncut(r, n, ev, stores);
    if text.chars().count() <= MAX_CELL_CHARS {
        text
    } else {
        clean(&text, MAX_CELL_CHARS)
    }
}

fn event_text_uncut(
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
        Op::FutexWait {
            loc,
            val,
            blocks: true,
        } => format!("futex-wait {} = {}: sleeps", n.loc(loc), v(loc, val)),
        Op::FutexWait {
            loc,
            val,
            blocks: false,
        } => format!("futex-wait {} = {}: returns", n.loc(loc), v(loc, val)),
        Op::FutexWake { loc, woken } => format!("futex-wake {}: woke {woken}", n.loc(loc)),
        Op::Flush { loc, ord, val } => format!(
            "flush{} {} := {}",
            ord.map_or("", ord_suffix),
            n.loc(loc),
            v(loc, val)
        ),
    }
}
