//! Task and location names as shown: control characters replaced, duplicates told apart.

use crate::engine::event::{EventLog, LocName};
use std::collections::BTreeMap;

/// Replace control characters (a name from a hostile file could hold a newline or an escape
/// sequence).
pub(crate) fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Names for tasks and locations; duplicate task names get `#id`.
pub(crate) struct Names<'a> {
    log: &'a EventLog,
    task_names: Vec<String>,
}

impl<'a> Names<'a> {
    pub(crate) fn new(log: &'a EventLog) -> Names<'a> {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &log.tasks {
            *seen.entry(t.as_ref()).or_default() += 1;
        }
        let task_names = log
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let t: &str = t.as_ref();
                let shown = if t.is_empty() { "task" } else { t };
                if seen.get(t).copied().unwrap_or(0) > 1 || t.is_empty() {
                    clean(&format!("{shown}#{i}"))
                } else {
                    clean(t)
                }
            })
            .collect();
        Names { log, task_names }
    }

    /// Task `t`'s name.
    pub(crate) fn task(&self, t: u32) -> String {
        match self.task_names.get(t as usize) {
            Some(n) => n.clone(),
            None => format!("task#{t}"),
        }
    }

    /// Location `l`'s name as shown.
    pub(crate) fn loc(&self, l: u32) -> String {
        match self.loc_name(l) {
            Some(n) => {
                let s = clean(&n.to_string());
                if s.is_empty() {
                    format!("loc#{l}")
                } else {
                    s
                }
            }
            None => format!("loc#{l}"),
        }
    }

    /// Location `l`'s name, if the log has it.
    pub(crate) fn loc_name(&self, l: u32) -> Option<&'a LocName> {
        self.log.locations.get(l as usize)
    }
}
