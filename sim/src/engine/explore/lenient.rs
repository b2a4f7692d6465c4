//! Lenient replay, for shrinking: each kind of choice is drawn from its own stream - the
//! candidate's choices of that kind, in order - so zeroing a schedule choice, which changes
//! how many schedule choices come before a load, does not shift which option that load takes.
//! A stream that runs out gives option 0; an option too large for the choice is clamped.

use crate::engine::choice::{Choice, ChoiceCtx, ChoiceKind, ChoiceSource};
use std::cell::RefCell;
use std::rc::Rc;

pub(crate) struct LenientSource {
    candidate: Rc<RefCell<Vec<Choice>>>,
    /// Per kind: how many of the candidate's choices of that kind were used.
    used: [usize; ChoiceKind::ALL.len()],
}

impl LenientSource {
    /// A source reading whatever candidate is in `candidate` at each schedule's start.
    pub(crate) fn new(candidate: Rc<RefCell<Vec<Choice>>>) -> Self {
        LenientSource {
            candidate,
            used: [0; ChoiceKind::ALL.len()],
        }
    }
}

impl ChoiceSource for LenientSource {
    fn begin(&mut self, _index: u64) -> bool {
        self.used = [0; ChoiceKind::ALL.len()];
        true
    }
    fn choose(&mut self, ctx: &ChoiceCtx<'_>) -> usize {
        let k = ctx.kind.index();
        let cand = self.candidate.borrow();
        let c = cand.iter().filter(|c| c.kind == ctx.kind).nth(self.used[k]);
        self.used[k] += 1;
        c.map_or(0, |c| c.chosen as usize).min(ctx.n - 1)
    }
}
