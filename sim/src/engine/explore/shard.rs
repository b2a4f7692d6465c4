//! Shards: a fixed, disjoint part of a campaign, so that `n` processes (on `n` machines) run
//! one campaign and their results add up to exactly the single-process run.
//!
//! Shard `i` of `n` (1-based, as cargo-nextest's partitions) owns, of a sampling campaign
//! (random, PCT) of `S` schedules, the indices `S(i-1)/n .. S·i/n`, and of a systematic
//! search, the subtrees whose first `SHARD_DEPTH` decisions hash to `i - 1` modulo `n`
//! ([`SubtreeKey::shard_hash`]). Which shard owns what depends on nothing but the campaign
//! and `i/n`, so a shard that is run again does exactly the same work.

use super::split::SubtreeKey;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The most shards a campaign may have.
pub const MAX_SHARDS: u32 = 100_000;

/// Part `index` of `count` of a campaign (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Shard `index` of `count`: `1 <= index <= count <= MAX_SHARDS`.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "the shard count must be from 1 to {MAX_SHARDS}, got {count}"
            ));
        }
        if index == 0 || index > count {
            return Err(format!(
                "shard {index} of {count}: the index must be from 1 to {count} (shards are numbered from 1)"
            ));
        }
        Ok(Shard { index, count })
    }

    /// The index, from 1.
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many shards the campaign has.
    pub fn count(self) -> u32 {
        self.count
    }

    /// The schedule indices this shard owns of a sampling campaign of `total` schedules.
    pub fn range(self, total: u64) -> std::ops::Range<u64> {
        let at = |i: u32| (total as u128 * i as u128 / self.count as u128) as u64;
        at(self.index - 1)..at(self.index)
    }

    /// Whether this shard owns the subtree `key` of a systematic search.
    pub fn owns(self, key: &SubtreeKey) -> bool {
        key.shard_hash() % self.count as u64 == (self.index - 1) as u64
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;
    /// `i/n`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("expected a shard as i/n (say 2/8, numbered from 1), got {s:?}");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let i: u32 = i.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_tile_the_campaign() {
        for total in [0u64, 1, 7, 1000, u64::MAX] {
            for n in [1u32, 3, 4, 7] {
                let mut next = 0;
                for i in 1..=n {
                    let r = Shard::new(i, n).unwrap().range(total);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, total);
            }
        }
    }

    #[test]
    fn every_subtree_has_one_owner() {
        for p in 0..50u32 {
            let k = SubtreeKey {
                phase: p % 3,
                prefix: vec![p, p / 2, 1],
            };
            let owners = (1..=4)
                .filter(|&i| Shard::new(i, 4).unwrap().owns(&k))
                .count();
            assert_eq!(owners, 1);
        }
    }

    #[test]
    fn parses_i_of_n_and_refuses_the_rest() {
        assert_eq!("2/8".parse::<Shard>().unwrap(), Shard::new(2, 8).unwrap());
        for bad in ["0/4", "5/4", "1/0", "2", "a/b", "-1/4", "1/200000"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
