//! Which strategy an exploration uses.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How schedules are chosen.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum,
)]
pub enum Strategy {
    /// Every choice uniformly random from a seeded ChaCha stream (one stream per schedule).
    #[default]
    Random,
    /// PCT with depth [`Builder::pct_depth`](crate::Builder): random task priorities plus
    /// `depth - 1` priority change points; non-schedule choices uniformly random.
    Pct,
    /// Depth-first enumeration of every choice sequence. With a preemption bound `P` it runs
    /// the bounds 0, 1, ..., P in turn (so the first failure found has the fewest
    /// preemptions); an exhausted enumeration is a complete verdict within the bound.
    Dfs,
}

impl Strategy {
    /// Every strategy, in a stable order.
    pub const ALL: [Strategy; 3] = [Strategy::Random, Strategy::Pct, Strategy::Dfs];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::Pct => "pct",
            Strategy::Dfs => "dfs",
        }
    }

    /// One line about the strategy.
    pub fn description(self) -> &'static str {
        match self {
            Strategy::Random => {
                "every choice uniformly random from a seeded stream per schedule (default)"
            }
            Strategy::Pct => "PCT: random task priorities with depth-1 change points (--depth)",
            Strategy::Dfs => {
                "depth-first enumeration, preemption bounds 0..=P (--preemptions): complete within the bound"
            }
        }
    }

    /// Whether the strategy enumerates a space (and can say it covered all of it).
    pub fn systematic(self) -> bool {
        matches!(self, Strategy::Dfs)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Strategy::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Strategy::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown strategy '{s}' (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}
