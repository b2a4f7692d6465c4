//! How the netpoll core's fields look in a swimlane: `pd0.closing := true`,
//! `pd0.rg: wait -> parked:reader`, `pd0.atomic_info = closing|fdseq=1`, timer times, and the
//! FD's lock word `fd0.state = rlock,refs=1`.
//!
//! The decoding uses the core's own definitions (its semaphore words, its `PollInfo` bits),
//! so the swimlane cannot drift from the core's layout.

use netpoll::pd::{self, PollInfo};

use crate::engine::event::LocName;
use crate::engine::trace::{vtime, Renderer, ValueFormat};

/// The value format of the netpoll platform.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetpollValues;

/// A renderer with the netpoll value format registered.
pub fn renderer() -> Renderer<'static> {
    Renderer::new().with(&NetpollValues)
}

fn semaphore(v: u64, task: &dyn Fn(u32) -> String) -> String {
    let w = v as usize;
    match pd::word_task(w) {
        Some(t) => format!("parked:{}", task(t.0)),
        None if w == pd::PD_NIL => "nil".to_string(),
        None if w == pd::PD_READY => "ready".to_string(),
        None if w == pd::PD_WAIT => "wait".to_string(),
        None => v.to_string(),
    }
}

fn info_bits(v: u32) -> String {
    let i = PollInfo(v);
    let mut parts: Vec<String> = [
        (i.closing(), "closing"),
        (i.event_err(), "eventerr"),
        (i.expired_read_deadline(), "rd-expired"),
        (i.expired_write_deadline(), "wd-expired"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| name.to_string())
    .collect();
    if i.fdseq() != 0 {
        parts.push(format!("fdseq={}", i.fdseq()));
    }
    if parts.is_empty() {
        "0".to_string()
    } else {
        parts.join("|")
    }
}

impl ValueFormat for NetpollValues {
    fn format(&self, loc: &LocName, v: u64, task: &dyn Fn(u32) -> String) -> Option<String> {
        if loc.object == "fd" {
            // The FD's fdMutex word: `closed,rlock,refs=2,rwait=1`.
            return (loc.field.as_ref() == "state" && v <= usize::MAX as u64)
                .then(|| netpoll::fd_mutex::describe(v as usize));
        }
        if loc.object != "pd" {
            return None;
        }
        match loc.field.as_ref() {
            "closing" | "everr" | "rrun" | "wrun" if v <= 1 => Some((v == 1).to_string()),
            "rg" | "wg" => Some(semaphore(v, task)),
            "atomic_info" if v <= u32::MAX as u64 => Some(info_bits(v as u32)),
            "rt.when" | "wt.when" if v == 0 => Some("not armed".to_string()),
            "rt.when" | "wt.when" if v <= i64::MAX as u64 => Some(vtime(v as i64)),
            _ => None,
        }
    }
}
