//! Exploration: the strategies that produce choice sequences (one file each), and the loop
//! that runs a check's schedules under one of them.
//!
//! A run is a pure function of (check, configuration, choice sequence); a strategy is nothing
//! but a way to produce choice sequences.

pub(crate) mod dfs;
pub(crate) mod graph;
#[cfg(test)]
mod graph_tests;
pub(crate) mod lenient;
pub(crate) mod pct;
pub(crate) mod random;
pub(crate) mod replay;
mod report;
mod runner;
mod strategy;

pub use report::{Coverage, FailureInfo, GraphCounts, Report};
pub(crate) use runner::{run_recorded, Exploration};
pub use strategy::Strategy;

/// Uniform pick in `0..n` from 32 random bits (multiply-shift; no modulo bias worth noting).
#[inline]
pub(crate) fn uniform(bits: u32, n: usize) -> usize {
    ((bits as u64 * n as u64) >> 32) as usize
}
