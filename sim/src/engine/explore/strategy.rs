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
    /// Execution-graph exploration (TruSt, as GenMC): every consistent execution graph
    /// (reads-from and modification order) once - no interleaving is run twice, no bound is
    /// needed. Its verdict counts executions. The models: `sc`, `tso`, `c11` (as RC11), `imm`.
    Graph,
}

impl Strategy {
    /// Every strategy, in a stable order.
    pub const ALL: [Strategy; 4] = [
        Strategy::Random,
        Strategy::Pct,
        Strategy::Dfs,
        Strategy::Graph,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::Pct => "pct",
            Strategy::Dfs => "dfs",
            Strategy::Graph => "graph",
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
            Strategy::Graph => {
                "every consistent execution graph once (TruSt): complete with no bound; models sc, tso, c11, imm"
            }
        }
    }

    /// Whether the strategy enumerates a space (and can say it covered all of it).
    pub fn systematic(self) -> bool {
        matches!(self, Strategy::Dfs | Strategy::Graph)
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
