//! Task and location names as shown: escaped, cut at [`MAX_NAME_CHARS`], duplicates told
//! apart. Computed once per rendering, so a long name costs its bound at each mention, not its
//! length.

use crate::engine::event::{EventLog, LocName};
use crate::engine::trace::safe;
use std::collections::BTreeMap;

/// The most characters of a task or location name shown (a longer one is cut, with
/// [`safe::MARKER`]).
pub(crate) const MAX_NAME_CHARS: usize = 40;

/// The most characters of a value a platform's format shows.
pub(crate) const MAX_VALUE_CHARS: usize = 60;

/// Text from the trace as shown: escaped and cut at `max` characters.
pub(crate) fn clean(s: &str, max: usize) -> String {
    safe::cut(s, max)
}

/// Names for tasks and locations; duplicate task names get `#id`.
pub(crate) struct Names<'a> {
    log: &'a EventLog,
    task_names: Vec<String>,
    loc_names: Vec<String>,
}

impl<'a> Names<'a> {
    pub(crate) fn new(log: &'a EventLog) -> Names<'a> {
        let cut: Vec<String> = log.tasks.iter().map(|t| clean(t, MAX_NAME_CHARS)).collect();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &cut {
            *seen.entry(t.as_str()).or_default() += 1;
        }
        let task_names = cut
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if t.is_empty() {
                    format!("task#{i}")
                } else if seen.get(t.as_str()).copied().unwrap_or(0) > 1 {
                    format!("{t}#{i}")
                } else {
                    t.clone()
                }
            })
            .collect();
        let loc_names = log
            .locations
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let s = loc_text(n);
                if s.is_empty() {
                    format!("loc#{i}")
                } else {
                    s
                }
            })
            .collect();
        Names {
            log,
            task_names,
            loc_names,
        }
    }

    /// Task `t`'s name (at most a bounded number of characters).
    pub(crate) fn task(&self, t: u32) -> String {
        match self.task_names.get(t as usize) {
            Some(n) => n.clone(),
            None => format!("task#{t}"),
        }
    }

    /// Location `l`'s name as shown.
    pub(crate) fn loc(&self, l: u32) -> String {
        match self.loc_names.get(l as usize) {
            Some(n) => n.clone(),
            None => format!("loc#{l}"),
        }
    }

    /// Location `l`'s name, if the log has it.
    pub(crate) fn loc_name(&self, l: u32) -> Option<&'a LocName> {
        self.log.locations.get(l as usize)
    }
}

/// A location's name (`pd0.rg`), escaped and cut, without formatting parts it will not show.
fn loc_text(n: &LocName) -> String {
    let mut s = clean(&n.object, MAX_NAME_CHARS + 1);
    if let Some(i) = n.index {
        s.push_str(&i.to_string());
    }
    if !n.field.is_empty() {
        s.push('.');
        s.push_str(&clean(&n.field, MAX_NAME_CHARS + 1));
    }
    clean(&s, MAX_NAME_CHARS)
}
