//! What the checkers know of a run, built from observation points: the FDs and their
//! lives, the operation each task is in, the deadlines each FD was given, the fds of the
//! simulated kernel. Kept outside the model (it is the checkers' view, never the core's).

use std::collections::{BTreeMap, BTreeSet};

use netpoll::observe::{Observation, OpKind, OpOutcome};
use netpoll::platform::RawFd;

use super::Checker;

/// One FD, from [`Observation::Opened`] to its destruction.
pub(crate) struct FdLife {
    /// Its pd's cache index.
    pub(crate) pd: u32,
    /// Its descriptor.
    pub(crate) fd: RawFd,
    /// Close has evicted its operations (and when).
    pub(crate) evicted_ns: Option<i64>,
    /// Destroyed by this task at this time.
    pub(crate) destroyed: Option<(u32, i64)>,
    /// The read deadlines it was given, in order (index 0: read, 1: write).
    pub(crate) deadlines: [Vec<Span>; 2],
    /// The kernel's open file behind its descriptor (0: unknown).
    pub(crate) file: u64,
}

/// A deadline possibly in force over a stretch of virtual time.
///
/// Calls that set deadlines may overlap, and the checker cannot see in which order the core
/// applied them: a deadline is possibly in force from the start of its call until the end
/// of a call that began after its own call ended (that one certainly applied later).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    /// Absolute time (`None`: no deadline).
    pub(crate) deadline_ns: Option<i64>,
    /// In force from (the start of the call that set it).
    pub(crate) from_ns: i64,
    /// Until (the end of a call that certainly replaced it), if replaced.
    pub(crate) until_ns: Option<i64>,
    /// The observation that began its call, and the one that ended it.
    begin_seq: u64,
    end_seq: Option<u64>,
}

impl Span {
    /// When this deadline expired while in force (at or before `by_ns`), if it did: the
    /// later of the deadline and the time it was set (a deadline set in the past expires
    /// as it is set).
    pub(crate) fn expired_by(&self, by_ns: i64) -> Option<i64> {
        let d = self.deadline_ns?;
        let x = d.max(self.from_ns);
        let end = self.until_ns.map_or(by_ns, |u| u.min(by_ns));
        (x <= end).then_some(x)
    }

    /// Whether the span was in force at some time in `[from, to]`.
    pub(crate) fn overlaps(&self, from_ns: i64, to_ns: i64) -> bool {
        self.from_ns <= to_ns && self.until_ns.is_none_or(|u| u >= from_ns)
    }
}

/// An operation in progress.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    /// The FD (index into [`Watch::fds`]).
    pub(crate) fd: usize,
    /// Which operation.
    pub(crate) kind: OpKind,
    /// When it started.
    pub(crate) start_ns: i64,
}

/// The checkers' view of a run.
#[derive(Default)]
pub(crate) struct Watch {
    /// Every FD of the run, in opening order.
    pub(crate) fds: Vec<FdLife>,
    /// The FD currently using each pd (by cache index).
    current: BTreeMap<u32, usize>,
    /// The operation each task is in.
    pub(crate) ops: BTreeMap<u32, Op>,
    /// The simulated kernel's open descriptors, with their open files and what each is.
    pub(crate) kernel_fds: BTreeMap<RawFd, (u64, &'static str)>,
    /// Open files the kernel delivered an error event for.
    error_events: BTreeSet<u64>,
    /// How late (virtual ns) the platform may fire a due timer.
    pub(crate) slack_ns: i64,
    /// Observations so far (orders the calls that set deadlines).
    seq: u64,
}

/// A checker's finding: which checker, and what it found.
pub(crate) type Finding = Option<(Checker, String)>;

fn side(read: bool) -> &'static str {
    if read {
        "read"
    } else {
        "write"
    }
}

impl Watch {
    /// An empty view, for a platform that may fire a due timer up to `slack_ns` late.
    pub(crate) fn new(slack_ns: i64) -> Watch {
        Watch {
            slack_ns,
            ..Watch::default()
        }
    }

    /// An observation of the FD layer by task `task` at virtual time `now`.
    pub(crate) fn observe(&mut self, task: u32, now: i64, what: Observation) -> Finding {
        self.seq += 1;
        let seq = self.seq;
        match what {
            Observation::Opened { pd, fd } => {
                let file = self.kernel_fds.get(&fd).map_or(0, |f| f.0);
                let none = || {
                    vec![Span {
                        deadline_ns: None,
                        from_ns: now,
                        until_ns: None,
                        begin_seq: seq,
                        end_seq: Some(seq),
                    }]
                };
                self.fds.push(FdLife {
                    pd,
                    fd,
                    evicted_ns: None,
                    destroyed: None,
                    deadlines: [none(), none()],
                    file,
                });
                self.current.insert(pd, self.fds.len() - 1);
                None
            }
            Observation::OpStart { pd, op } => {
                let fd = *self.current.get(&pd)?;
                self.ops.insert(
                    task,
                    Op {
                        fd,
                        kind: op,
                        start_ns: now,
                    },
                );
                None
            }
            Observation::OpEnd { pd: _, op, outcome } => {
                let started = self.ops.remove(&task)?;
                super::outcomes::check(self, task, &started, op, outcome)
                    .or_else(|| super::deadlines::check_end(self, task, &started, outcome, now))
            }
            Observation::Syscall { pd: _, fd } => super::destroyed::check(self, task, fd),
            Observation::Deadline {
                pd,
                read,
                write,
                deadline_ns,
                done,
            } => {
                let i = *self.current.get(&pd)?;
                let life = &mut self.fds[i];
                for (j, on) in [read, write].into_iter().enumerate() {
                    if !on {
                        continue;
                    }
                    let spans = &mut life.deadlines[j];
                    if done {
                        // This task's call (its latest unfinished one) is over: every
                        // deadline whose call ended before this one began is out of force.
                        let Some(mine) = spans
                            .iter()
                            .rposition(|s| s.end_seq.is_none() && s.deadline_ns == deadline_ns)
                        else {
                            continue;
                        };
                        spans[mine].end_seq = Some(seq);
                        let began = spans[mine].begin_seq;
                        for s in spans.iter_mut() {
                            if s.end_seq.is_some_and(|e| e < began) {
                                s.until_ns.get_or_insert(now);
                            }
                        }
                    } else {
                        spans.push(Span {
                            deadline_ns,
                            from_ns: now,
                            until_ns: None,
                            begin_seq: seq,
                            end_seq: None,
                        });
                    }
                }
                None
            }
            Observation::Evicted { pd } => {
                let i = *self.current.get(&pd)?;
                self.fds[i].evicted_ns.get_or_insert(now);
                None
            }
            Observation::Destroy { pd, fd } => {
                let i = *self.current.get(&pd)?;
                super::close_once::check_destroy(self, i, task, now, fd)
            }
        }
    }

    /// The kernel made descriptor `fd` for open file `file` (`what` it is).
    pub(crate) fn kernel_opened(&mut self, fd: RawFd, file: u64, what: &'static str) {
        self.kernel_fds.insert(fd, (file, what));
    }

    /// The kernel is asked to close `fd`; a finding if it is not open.
    pub(crate) fn kernel_closed(&mut self, task: u32, fd: RawFd) -> Finding {
        if self.kernel_fds.remove(&fd).is_some() {
            return None;
        }
        Some((
            Checker::ClosedOnce,
            format!(
                "task {task} ({}) closed fd {fd}, which is not open (closed already, or never opened)",
                crate::engine::sched::task_name(task)
            ),
        ))
    }

    /// The kernel delivered an error event for open file `file`.
    pub(crate) fn kernel_error_event(&mut self, file: u64) {
        self.error_events.insert(file);
    }

    /// A description of the operation `op` of `task`, for messages.
    pub(crate) fn describe_op(&self, task: u32, op: &Op) -> String {
        let life = &self.fds[op.fd];
        format!(
            "task {task} ({}) in a {} on pd{} (fd {}) since {}",
            crate::engine::sched::task_name(task),
            op.kind.name(),
            life.pd,
            life.fd,
            crate::engine::trace::vtime(op.start_ns),
        )
    }

    /// The deadlines in force for `op`'s direction over `[from, to]`.
    pub(crate) fn spans(&self, op: &Op, from_ns: i64, to_ns: i64) -> Vec<Span> {
        self.fds[op.fd].deadlines[usize::from(!op.kind.reads())]
            .iter()
            .filter(|s| s.overlaps(from_ns, to_ns))
            .copied()
            .collect()
    }

    /// A list of deadlines, for messages.
    pub(crate) fn show_spans(spans: &[Span], read: bool) -> String {
        let parts: Vec<String> = spans
            .iter()
            .map(|s| {
                let d = s
                    .deadline_ns
                    .map_or("none".to_string(), crate::engine::trace::vtime);
                let until = s.until_ns.map_or(String::new(), |u| {
                    format!(" until {}", crate::engine::trace::vtime(u))
                });
                format!(
                    "{d} (set at {}{until})",
                    crate::engine::trace::vtime(s.from_ns)
                )
            })
            .collect();
        format!("{} deadlines: {}", side(read), parts.join(", "))
    }

    /// Whether `outcome` is one the kernel may have caused for `op`.
    pub(crate) fn kernel_caused(&self, op: &Op, outcome: OpOutcome) -> bool {
        match outcome {
            OpOutcome::NotPollable => self.error_events.contains(&self.fds[op.fd].file),
            _ => false,
        }
    }
}
