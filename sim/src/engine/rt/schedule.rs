//! Choosing who runs: at every scheduling point of the running task, and when the running
//! task blocked or finished.

use super::exec::{with, Exec, QuietKind};
use super::task::Yld;
use crate::engine::failure::Failure;

/// Suspend the running task and switch to the engine. Unwinds the task if the engine is
/// aborting the execution.
pub(crate) fn suspend(y: *const Yld) {
    // SAFETY: `y` is the yielder of the running task's coroutine; it lives on that coroutine's
    // stack, which stays valid while the coroutine runs, and we are running inside it (only the
    // running task reaches a suspend: every path takes the pointer of `tasks[cur]`).
    let abort = unsafe { (*y).suspend(()) };
    if abort {
        std::panic::resume_unwind(Box::new(super::driver::Abort));
    }
}

/// A scheduling point: the engine may run other tasks before the caller continues.
#[inline]
pub(crate) fn yield_point() {
    let y = with(|e| e.at_yield_point());
    if run_quiet_checks() {
        // A check failed: stop here (the engine unwinds the task).
        suspend(with(|e| e.tasks[e.cur as usize].yielder));
        return;
    }
    if let Some(y) = y {
        suspend(y);
    }
}

/// Run the checks of a quiescent point the engine reached, if it reached one (outside the
/// engine's state: the checks may peek at simulated objects). True when one failed (the
/// failure is recorded).
pub(crate) fn run_quiet_checks() -> bool {
    let Some((quiet, checks)) = with(|e| e.quiet.take().map(|q| (q, e.quiet_checks.clone())))
    else {
        return false;
    };
    for (checker, check) in checks {
        if let Some(message) = check(&quiet) {
            with(|e| e.fail(Failure::Checker { checker, message }));
            return true;
        }
    }
    false
}

/// What the engine does when the running task blocked or finished.
pub(crate) enum Idle {
    /// Run this task.
    Run(u32),
    /// No task can run: run the quiescent point's checks (`Exec::quiet`), then ask again.
    Quiet,
    /// Every task that is not a daemon finished and nothing can run: the execution is over.
    Done,
    /// Some task can never run again.
    Deadlock,
    /// The run ends here: a graph run without a verdict of its own (blocked: a time-out or
    /// another order lets the waiting task go on; or dropped), or a run the choice source
    /// stopped (its failure is recorded).
    Stop,
}

impl Exec {
    /// The running task reached a scheduling point: count the step, choose who runs next.
    /// Returns the yielder to suspend on when someone else (or the engine) must run.
    pub(crate) fn at_yield_point(&mut self) -> Option<*const Yld> {
        if self.aborting {
            return None;
        }
        if self.graph.is_some() {
            // Graph runs switch only where the graph says (inside the operations).
            let y = self.tasks[self.cur as usize].yielder;
            return self.failure.is_some().then_some(y);
        }
        self.rec.step += 1;
        self.watch.stepped(self.rec.step);
        let me = self.cur;
        if self.halted() {
            return Some(self.tasks[me as usize].yielder);
        }
        let task = &mut self.tasks[me as usize];
        let y = task.yielder;
        if self.failure.is_some() {
            return Some(y);
        }
        if self.rec.step > self.cfg.max_steps {
            self.fail(Failure::StepLimit {
                max_steps: self.cfg.max_steps,
            });
            return Some(y);
        }
        if std::mem::take(&mut task.fresh) {
            // A schedule choice just started this task: running its first operation now is
            // that choice; drawing another here would only repeat schedules.
            return None;
        }
        let yielded = std::mem::take(&mut task.yielded);
        self.runnable.clear();
        if !yielded {
            self.runnable.push(me);
        }
        for (i, t) in self.tasks.iter().enumerate() {
            if i as u32 != me && t.status.runnable() {
                self.runnable.push(i as u32);
            }
        }
        if yielded {
            self.runnable.push(me);
        }
        self.note_only_system();
        let next = self.choose_task(!yielded);
        if self.halted() {
            // The choice does not fit the replayed recording: stop before anyone runs.
            return Some(y);
        }
        if self.mem.buffered != 0 {
            // TSO: buffered stores may reach memory before the chosen task's step.
            self.mem
                .flush_choices(Some(next), &mut self.stream, &mut self.rec);
        }
        if next == me {
            None
        } else {
            self.next = Some(next);
            Some(y)
        }
    }

    /// Whether the choice source stopped the run (a replay that diverged, a depth-first
    /// search of a check that is not deterministic); if so the run fails now, naming the step.
    #[inline]
    pub(crate) fn halted(&mut self) -> bool {
        match self.stream.halt.take() {
            None => false,
            Some((step, message)) => {
                self.fail(Failure::ReplayDiverged {
                    step: Some(step),
                    message,
                });
                true
            }
        }
    }

    /// When only system tasks can run, note the quiescent point for the checks. A task that
    /// waits for a lock is busy, not asleep (a thread in a system call, on a runtime mutex):
    /// while one does, this is no such point.
    fn note_only_system(&mut self) {
        if !self.quiet_checks.is_empty()
            && self.runnable.iter().all(|&t| self.tasks[t as usize].system)
            && !self.lock_wait()
        {
            self.quiet = self.quiet_point(QuietKind::OnlySystem);
        }
    }

    /// At the end of a graph run: look for a data race (a failure when the run asks for
    /// it, counted otherwise). True when it failed the run.
    fn graph_race(&mut self) -> bool {
        let gr = self.graph.as_ref().expect("a graph run");
        if gr.end == Some(super::graph_run::RunEnd::Dropped) {
            return false;
        }
        let Some((a, b)) = gr.race else {
            return false;
        };
        self.mem.races += 1;
        if !self.cfg.fail_on_race {
            return false;
        }
        let loc = gr.g.label(b).loc().and_then(|l| gr.engine_loc(l));
        let location = loc.map_or_else(|| "a location".to_string(), |l| self.location_name(l));
        let task = gr.engine_task(b.task).unwrap_or(u32::MAX);
        let other = gr.engine_task(a.task).unwrap_or(u32::MAX);
        let step = self.rec.step;
        self.fail(Failure::DataRace {
            location,
            task,
            other,
            step,
        });
        true
    }

    /// The engine must pick a task because the running one blocked or finished. `checked`:
    /// the checks of the idle point it last returned [`Idle::Quiet`] for have run. In a run of
    /// the `graph` strategy the graph picks, and there are no quiescent points (the checkers'
    /// quiescent checks do not run; their end-of-run checks do).
    pub(crate) fn pick_idle(&mut self, mut checked: bool) -> Idle {
        if let Some(g) = self.graph.as_mut() {
            use super::graph_run::Pick;
            let pick = g.pick();
            if matches!(pick, Pick::Complete | Pick::End) && self.graph_race() {
                return Idle::Stop;
            }
            let g = self.graph.as_mut().expect("a graph run");
            let _ = g;
            return match pick {
                Pick::Run(t) => Idle::Run(t),
                Pick::Complete => Idle::Done,
                Pick::Deadlock => Idle::Deadlock,
                Pick::End => Idle::Stop,
                Pick::Stuck => {
                    self.fail(Failure::ReplayDiverged {
                        step: None,
                        message: "graph replay: every remaining read waits for a store that \
                                  waits for it"
                            .to_string(),
                    });
                    Idle::Stop
                }
                Pick::GuideDiverged(message) => {
                    self.fail(Failure::ReplayDiverged {
                        step: None,
                        message,
                    });
                    Idle::Stop
                }
            };
        }
        loop {
            self.runnable.clear();
            for (i, t) in self.tasks.iter().enumerate() {
                if t.status.runnable() {
                    self.runnable.push(i as u32);
                }
            }
            if !self.runnable.is_empty() {
                self.note_only_system();
                let next = self.choose_task(false);
                if self.halted() {
                    return Idle::Stop;
                }
                if self.mem.buffered != 0 {
                    self.mem
                        .flush_choices(Some(next), &mut self.stream, &mut self.rec);
                }
                return Idle::Run(next);
            }
            if self.mem.buffered != 0 {
                // TSO: when no task can run, the store buffers drain before time advances,
                // the run ends or a deadlock is declared.
                self.mem
                    .flush_choices(None, &mut self.stream, &mut self.rec);
            }
            if self.only_daemons_left() {
                return Idle::Done;
            }
            if !std::mem::take(&mut checked) && !self.lock_wait() {
                if let Some(q) = self.quiet_point(QuietKind::Idle) {
                    self.quiet = Some(q);
                    return Idle::Quiet;
                }
            }
            // Nobody can run: advance virtual time to the next task that wakes by itself.
            match self.next_wake() {
                Some(w) => self.advance_time(w),
                None => return Idle::Deadlock,
            }
        }
    }
}
