//! Exploration: the strategies that produce choice sequences (one file each), and the loop
//! that runs a check's schedules under one of them.
//!
//! A run is a pure function of (check, configuration, choice sequence); a strategy is nothing
//! but a way to produce choice sequences.
//!
//! A campaign runs on any number of threads (`pool`) and shards ([`shard`]),
//! cut into units ([`unit`](mod@unit)): ranges of schedule indices for the sampling strategies,
//! subtrees ([`split`]) for the systematic ones; the units' results are added up in campaign
//! order, so the report is the single-threaded loop's.

pub(crate) mod dfs;
pub(crate) mod graph;
#[cfg(test)]
mod graph_tests;
pub(crate) mod lenient;
pub(crate) mod pct;
mod pool;
pub(crate) mod random;
pub(crate) mod replay;
mod report;
mod runner;
pub mod shard;
pub mod split;
mod strategy;
pub mod unit;

pub use pct::PCT_WARMUP;
pub(crate) use pool::BodyFactory;
pub use report::{Coverage, FailureInfo, GraphCounts, Report};
pub(crate) use runner::{run_recorded, Bodies, Exploration};
pub use shard::Shard;
pub use split::{SubtreeKey, SHARD_DEPTH, SPLIT_DEPTH};
pub use strategy::Strategy;
pub use unit::{tally, Slot, Tally, TallyError, UnitKey, UnitResult};

/// Uniform pick in `0..n` from 32 random bits (multiply-shift; no modulo bias worth noting).
#[inline]
pub(crate) fn uniform(bits: u32, n: usize) -> usize {
    ((bits as u64 * n as u64) >> 32) as usize
}
