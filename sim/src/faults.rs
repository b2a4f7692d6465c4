//! Fault injection for the simulated fds: what can go wrong, as probabilities.
//!
//! The faults are part of a run's configuration ([`Builder::faults`](crate::Builder), recorded
//! in every trace); whether a fault happens at a given point is a choice drawn from the one
//! choice stream, so a faulty schedule replays exactly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::sched;

/// How long a delayed event waits before the poller sees it.
pub const DELIVERY_DELAY_NS: i64 = 1_000;

/// Fault injection, each a probability in [0, 1]. A probability p > 0 is drawn as a choice
/// among `round(1/p)` options (one of which injects the fault), so a depth-first search
/// enumerates both outcomes and a random search hits the fault about p of the time; 0 draws
/// nothing. All default to 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// An event is delivered as EPOLLERR alone (the event-error bit).
    pub error_event: f64,
    /// The poller reports a spurious readiness event for a registered fd.
    pub spurious_event: f64,
    /// An event's delivery is delayed by `DELIVERY_DELAY_NS` of virtual time.
    pub delayed_delivery: f64,
}

impl Faults {
    /// No faults.
    pub const NONE: Faults = Faults {
        error_event: 0.0,
        spurious_event: 0.0,
        delayed_delivery: 0.0,
    };

    /// Draw whether a fault of probability `p` happens.
    pub(crate) fn draw(p: f64) -> bool {
        debug_assert!(
            p == 0.0 || p >= MIN_PROBABILITY,
            "fault probability {p} not validated"
        );
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        let n = (1.0 / p).round().max(2.0) as usize;
        sched::choose(n) == n - 1
    }
}

impl Faults {
    /// Whether every probability is 0.
    pub fn is_none(&self) -> bool {
        *self == Faults::NONE
    }

    fn check(name: &str, p: f64) -> Result<f64, String> {
        if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
            return Err(format!(
                "fault probability {name}={p} is not between 0 and 1"
            ));
        }
        if p != 0.0 && p < MIN_PROBABILITY {
            return Err(format!(
                "fault probability {name}={p} is too small (0, or at least {MIN_PROBABILITY})"
            ));
        }
        Ok(p)
    }

    /// Whether every probability is 0 or within [`MIN_PROBABILITY`, 1] (a trace's faults are
    /// checked before a replay uses them).
    pub fn validate(&self) -> Result<(), String> {
        Faults::check("error", self.error_event)?;
        Faults::check("spurious", self.spurious_event)?;
        Faults::check("delay", self.delayed_delivery)?;
        Ok(())
    }
}

/// The smallest non-zero fault probability: a fault is drawn as one option among
/// `round(1/p)`, which must stay a small number of options.
pub const MIN_PROBABILITY: f64 = 1e-6;

impl fmt::Display for Faults {
    /// `none`, or `error=P,spurious=P,delay=P` listing the non-zero ones.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("none");
        }
        let mut parts = Vec::new();
        for (name, p) in [
            ("error", self.error_event),
            ("spurious", self.spurious_event),
            ("delay", self.delayed_delivery),
        ] {
            if p != 0.0 {
                parts.push(format!("{name}={p}"));
            }
        }
        f.write_str(&parts.join(","))
    }
}

impl FromStr for Faults {
    type Err = String;

    /// `none`, or comma-separated `error=P`, `spurious=P`, `delay=P` (P in [0, 1]).
    fn from_str(s: &str) -> Result<Faults, String> {
        let mut faults = Faults::NONE;
        if s.trim() == "none" || s.trim().is_empty() {
            return Ok(faults);
        }
        for part in s.split(',') {
            let (name, value) = part.split_once('=').ok_or_else(|| {
                format!("bad fault '{part}': expected NAME=PROBABILITY (error, spurious, delay)")
            })?;
            let p: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("bad fault probability '{value}' for {name}"))?;
            let p = Faults::check(name.trim(), p)?;
            match name.trim() {
                "error" => faults.error_event = p,
                "spurious" => faults.spurious_event = p,
                "delay" => faults.delayed_delivery = p,
                other => {
                    return Err(format!(
                        "unknown fault '{other}' (known: error, spurious, delay)"
                    ))
                }
            }
        }
        Ok(faults)
    }
}

#[cfg(test)]
mod tests {
    use super::Faults;

    #[test]
    fn parse_and_display_round_trip() {
        assert_eq!("none".parse::<Faults>().unwrap(), Faults::NONE);
        let f: Faults = "error=0.5,delay=0.25".parse().unwrap();
        assert_eq!(f.error_event, 0.5);
        assert_eq!(f.delayed_delivery, 0.25);
        assert_eq!(f.spurious_event, 0.0);
        assert_eq!(f.to_string(), "error=0.5,delay=0.25");
        assert_eq!(f.to_string().parse::<Faults>().unwrap(), f);
        assert!("error=2"
            .parse::<Faults>()
            .unwrap_err()
            .contains("between 0 and 1"));
        assert!("bogus=0.1"
            .parse::<Faults>()
            .unwrap_err()
            .contains("unknown fault"));
        assert!("error=1e-10"
            .parse::<Faults>()
            .unwrap_err()
            .contains("too small"));
        let bad = Faults {
            error_event: f64::NAN,
            ..Faults::NONE
        };
        assert!(bad.validate().is_err());
        assert!("error"
            .parse::<Faults>()
            .unwrap_err()
            .contains("NAME=PROBABILITY"));
    }
}
