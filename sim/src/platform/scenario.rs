//! The built-in checks: the core's scenarios (`netpoll::scenarios`), each under a protocol
//! and the kernel's faults, as typed identities that traces record and replay.

use std::fmt;
use std::path::Path;
use std::rc::Rc;
use std::str::FromStr;

use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::faults::Faults;
use super::SimPlatform;
use crate::engine::trace::Builtin;

/// A scenario run under a protocol with the kernel's faults: what a scenario trace records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScenarioCheck {
    /// The workload.
    #[serde(with = "by_name")]
    pub scenario: Scenario,
    /// The core's protocol variant.
    #[serde(with = "by_name")]
    pub protocol: Protocol,
    /// The simulated kernel's faults.
    pub faults: Faults,
}

/// The check that runs `scenario` under `protocol` (no faults; [`ScenarioCheck::faults`]
/// adds them, and so does [`Builder::faults`](crate::Builder)). Each run builds a fresh
/// [`SimPlatform`] and poller and runs the scenario in the main task.
pub fn scenario_check(scenario: Scenario, protocol: Protocol) -> ScenarioCheck {
    ScenarioCheck {
        scenario,
        protocol,
        faults: Faults::NONE,
    }
}

impl ScenarioCheck {
    /// The same check with the kernel's `faults`.
    pub fn faults(mut self, faults: Faults) -> ScenarioCheck {
        self.faults = faults;
        self
    }

    /// One run of the check.
    pub fn run(&self) {
        let np = SimPlatform::netpoll(self.protocol, self.faults);
        self.scenario.run(&np);
    }
}

impl fmt::Display for ScenarioCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.scenario, self.protocol)?;
        if !self.faults.is_none() {
            write!(f, " / faults {}", self.faults)?;
        }
        Ok(())
    }
}

impl Builtin for ScenarioCheck {
    fn label(&self) -> String {
        self.to_string()
    }

    fn file_stem(&self) -> String {
        let mut s = format!("{}-{}", self.scenario, self.protocol);
        if !self.faults.is_none() {
            s.push_str("-faults");
        }
        s
    }

    fn replay_command(&self, path: &Path) -> String {
        format!(
            "cargo run --release -p netpoll-sim -- replay {}",
            path.display()
        )
    }

    fn body(&self) -> Rc<dyn Fn()> {
        let c = *self;
        Rc::new(move || c.run())
    }
}

/// Serialise a named enum (`Scenario`, `Protocol`) by its command-line name, so traces stay
/// readable across reorderings and an unknown name is a clear decoding error.
mod by_name {
    use super::*;

    pub(super) fn serialize<T: fmt::Display, S: Serializer>(
        v: &T,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(super) fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr<Err = String>,
        D: Deserializer<'de>,
    {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}
