//! How a systematic search is split into independent subtrees, so that threads (`--jobs`) and
//! processes (`--shard`) can share it and still produce exactly the single-threaded result.
//!
//! A systematic search is a tree: each node is a sequence of *decisions* (for depth-first
//! search, the options taken at its choice points), and the search visits the leaves in
//! lexicographic order of their decision sequences, option 0 first. Cut the tree at a fixed
//! depth [`SPLIT_DEPTH`]: every leaf then lies in exactly one *subtree*, named by its first
//! `SPLIT_DEPTH` decisions (or all of them, for a run that makes fewer), and the search's
//! order is the subtrees' order ([`SubtreeKey`]'s `Ord`), each searched in turn. So:
//!
//! * the subtrees can be searched anywhere, in any order, and put back in key order: the
//!   schedule counts, the failures and the index of the first failing schedule are those of
//!   the single-threaded search;
//! * a subtree's key is known only once a run has reached that depth. Searching a *node*
//!   (a prefix shorter than the cut) means running it once: that run follows option 0 below
//!   the prefix, so it is the first schedule of one subtree (the node's first subtree), and
//!   on its path it meets every branch point between the prefix and the cut: each other
//!   option there is a sibling node, searched the same way (`SubtreeSource::siblings`);
//! * a process that runs shard `i` of `n` owns the subtrees whose first [`SHARD_DEPTH`]
//!   decisions hash to `i` ([`SubtreeKey::shard_hash`]); it runs the first schedule of the
//!   nodes above that depth (to find the subtrees), skips other shards' prefixes whole, and
//!   searches and counts only its own subtrees.
//!
//! A strategy takes part by implementing `TreeSearch`: it names its phases (depth-first
//! search with a preemption bound `P` searches the bounds `0..=P` in turn, each its own tree)
//! and makes a `SubtreeSource` for a node, which replays the node's decisions, continues with
//! the strategy's first alternatives, backtracks between runs only at depths at or beyond the
//! cut, and lists the sibling nodes of its first run. The execution-graph search fits the same
//! interface: its decisions are the alternatives it takes at each branching of its recursive
//! visit (which write a read reads from, where a write goes in modification order, whether a
//! backward revisit happens); a node is replayed from its decisions (the search is stateless),
//! and its siblings are the other alternatives at the branchings its first visit passes.

use crate::engine::choice::ChoiceSource;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The depth, in decisions, at which systematic searches are cut into subtrees (the units
/// threads share). Fixed: the subtrees must be the same in every process of a campaign.
/// Deeper cuts give more, smaller subtrees: better balance between threads, and one more
/// entry each in the pool.
pub const SPLIT_DEPTH: usize = 16;

/// The depth, in decisions, of the prefix whose hash says which shard owns a subtree
/// ([`SubtreeKey::shard_hash`]): all subtrees below one such prefix belong to one shard, so
/// a shard runs once only the nodes above this depth (to find its subtrees) and skips every
/// other shard's prefix whole. Shallower: fewer runs repeated in every shard, coarser
/// balance between shards.
pub const SHARD_DEPTH: usize = SPLIT_DEPTH;

/// A subtree (or, while it waits to be searched, a node) of a systematic search: its phase
/// and its first decisions. Keys order as the search visits them: by phase, then
/// lexicographically by decisions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SubtreeKey {
    /// Which of the search's trees (for depth-first search, the preemption bound's index).
    pub phase: u32,
    /// The decisions from the root (at most [`SPLIT_DEPTH`] for a subtree).
    pub prefix: Vec<u32>,
}

impl SubtreeKey {
    /// The root of phase `phase`.
    pub fn root(phase: u32) -> SubtreeKey {
        SubtreeKey {
            phase,
            prefix: Vec::new(),
        }
    }

    /// A stable hash of the key's phase and first [`SHARD_DEPTH`] decisions (FNV-1a over
    /// them, little-endian, then the 64-bit finaliser of MurmurHash3, without which FNV's low
    /// bits follow the inputs' low bits): which shard owns a subtree. The same in every
    /// process, build and platform.
    pub fn shard_hash(&self) -> u64 {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut h = OFFSET;
        let mut eat = |bytes: [u8; 4]| {
            for b in bytes {
                h ^= b as u64;
                h = h.wrapping_mul(PRIME);
            }
        };
        eat(self.phase.to_le_bytes());
        for d in self.prefix.iter().take(SHARD_DEPTH) {
            eat(d.to_le_bytes());
        }
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

impl fmt::Display for SubtreeKey {
    /// `phase 1, decisions 0.2.1` (`phase 0, root` for the empty prefix).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "phase {}, ", self.phase)?;
        if self.prefix.is_empty() {
            return f.write_str("root");
        }
        f.write_str("decisions ")?;
        for (i, d) in self.prefix.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A systematic strategy that can be split into subtrees (see the module documentation).
pub(crate) trait TreeSearch: Sync {
    /// How many trees the search visits one after the other (at least 1).
    fn phases(&self) -> u32;
    /// A source that searches the subtree under `node`: its first run replays
    /// `node.prefix` and then takes the first alternative everywhere; later runs backtrack
    /// only at decisions at depth `floor` or deeper; it is exhausted when none is left there.
    fn source(&self, node: &SubtreeKey, floor: usize) -> Box<dyn SubtreeSource>;
}

/// The choice source of one subtree of a [`TreeSearch`].
pub(crate) trait SubtreeSource: ChoiceSource {
    /// Right after the first run: the decisions of that run, up to `floor` (the first
    /// subtree's key).
    fn first_decisions(&self, floor: usize) -> Vec<u32>;
    /// Right after the first run: the sibling nodes met on its path at depths `from..floor`
    /// (every other alternative the search allows there).
    fn siblings(&self, from: usize, floor: usize) -> Vec<Vec<u32>>;
}
