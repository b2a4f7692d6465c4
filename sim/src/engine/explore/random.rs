//! Uniformly random choices from a seeded ChaCha stream (one stream per schedule index, so
//! schedule `i` of seed `s` can be rerun alone).

use super::uniform;
use crate::engine::choice::{ChoiceCtx, ChoiceSource};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub(crate) struct RandomSource {
    seed: u64,
    rng: ChaCha8Rng,
}

impl RandomSource {
    pub(crate) fn new(seed: u64) -> Self {
        RandomSource {
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

/// The generator for schedule `index` of `seed`.
pub(crate) fn schedule_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

impl ChoiceSource for RandomSource {
    fn begin(&mut self, index: u64) -> bool {
        self.rng = schedule_rng(self.seed, index);
        true
    }
    fn choose(&mut self, ctx: &ChoiceCtx<'_>) -> usize {
        uniform(self.rng.next_u32(), ctx.n)
    }
}
