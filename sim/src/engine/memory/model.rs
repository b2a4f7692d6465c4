//! Which memory model a run uses.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The memory model (see the [`memory`](super) module and DESIGN.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
pub enum MemoryModel {
    /// Sequential consistency: every load reads the newest store; only interleavings vary.
    Sc,
    /// C11 (Rust's model), after Miri's weak-memory emulation: loads may read older stores.
    C11,
    /// x86-TSO: per-task FIFO store buffers; a SeqCst store (XCHG), an RMW (LOCK), a SeqCst
    /// fence (MFENCE), a lock or a scheduler call drains the task's buffer; committing a
    /// buffered store is a scheduling choice.
    Tso,
    /// IMM, the hardware-level model behind ARMv8 and POWER: load buffering allowed, no
    /// out-of-thin-air values; SeqCst accesses as ARMv8's LDAR/STLR. Only the `graph`
    /// strategy explores it.
    Imm,
}

impl MemoryModel {
    /// Every model, in a stable order.
    pub const ALL: [MemoryModel; 4] = [
        MemoryModel::Sc,
        MemoryModel::C11,
        MemoryModel::Tso,
        MemoryModel::Imm,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            MemoryModel::Sc => "sc",
            MemoryModel::C11 => "c11",
            MemoryModel::Tso => "tso",
            MemoryModel::Imm => "imm",
        }
    }

    /// One line about the model.
    pub fn description(self) -> &'static str {
        match self {
            MemoryModel::Sc => {
                "sequential consistency: every load reads the newest store; only interleavings vary"
            }
            MemoryModel::C11 => {
                "C11/Rust weak memory after Miri's emulation: loads may read older stores (default)"
            }
            MemoryModel::Tso => {
                "x86-TSO: per-task FIFO store buffers, drained by locked instructions and fences"
            }
            MemoryModel::Imm => {
                "IMM (ARMv8/POWER): load buffering allowed; only with --strategy graph"
            }
        }
    }
}

impl fmt::Display for MemoryModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MemoryModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        MemoryModel::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = MemoryModel::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown memory model '{s}' (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}
