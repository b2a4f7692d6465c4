//! Fault injection for the simulated kernel, as exact ratios (TigerBeetle's `Ratio`).
//!
//! The faults are part of the identity of a scenario check (recorded in every trace); whether
//! a fault happens at a given point is one choice among `den` options drawn from the one
//! choice stream, `num` of which inject it - so a ratio means exactly what it says, a
//! depth-first search enumerates every option, and a faulty schedule replays exactly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::engine::sched;

/// How long a delayed event waits before the poller sees it.
pub const DELIVERY_DELAY_NS: i64 = 1_000;

/// The largest denominator a ratio may have (a fault is one choice among `den` options).
pub const MAX_DENOMINATOR: u32 = 1_000_000;

/// An exact probability `num/den`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ratio {
    /// Numerator, at most `den`.
    pub num: u32,
    /// Denominator, from 1 to [`MAX_DENOMINATOR`].
    pub den: u32,
}

impl Ratio {
    /// Never.
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };
    /// Always.
    pub const ONE: Ratio = Ratio { num: 1, den: 1 };

    /// `num/den`, checked.
    pub fn new(num: u32, den: u32) -> Result<Ratio, String> {
        if den == 0 {
            return Err(format!("ratio {num}/0 has a zero denominator"));
        }
        if den > MAX_DENOMINATOR {
            return Err(format!(
                "ratio {num}/{den}: the denominator may be at most {MAX_DENOMINATOR}"
            ));
        }
        if num > den {
            return Err(format!("ratio {num}/{den} is more than 1"));
        }
        Ok(Ratio { num, den })
    }

    /// Whether the ratio is 0.
    pub fn is_zero(self) -> bool {
        self.num == 0
    }

    /// Draw whether the fault happens: one choice among `den` options, `num` of which say
    /// yes. Ratios of 0 and 1 draw nothing.
    pub fn draw(self) -> bool {
        if self.num == 0 {
            return false;
        }
        if self.num == self.den {
            return true;
        }
        sched::choose(self.den as usize) < self.num as usize
    }

    /// Check a ratio read from a file.
    pub fn validate(self) -> Result<Ratio, String> {
        Ratio::new(self.num, self.den)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl FromStr for Ratio {
    type Err = String;

    /// `N/D` (`9/10`), or a decimal between 0 and 1 written with at most six decimals
    /// (`0.9`, `1`, `0`), taken exactly: `0.9` is 9/10.
    fn from_str(s: &str) -> Result<Ratio, String> {
        let s = s.trim();
        if let Some((n, d)) = s.split_once('/') {
            let n: u32 = n
                .trim()
                .parse()
                .map_err(|_| format!("bad ratio '{s}': expected N/D or a decimal"))?;
            let d: u32 = d
                .trim()
                .parse()
                .map_err(|_| format!("bad ratio '{s}': expected N/D or a decimal"))?;
            return Ratio::new(n, d);
        }
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits_ok = |p: &str| p.chars().all(|c| c.is_ascii_digit());
        if int.is_empty() && frac.is_empty() || !digits_ok(int) || !digits_ok(frac) {
            return Err(format!("bad ratio '{s}': expected N/D or a decimal"));
        }
        if frac.len() > 6 {
            return Err(format!(
                "ratio '{s}' has more than 6 decimals (write it as N/D)"
            ));
        }
        let int: u64 = if int.is_empty() {
            0
        } else {
            int.parse()
                .map_err(|_| format!("ratio '{s}' is more than 1"))?
        };
        let scale = 10u64.pow(frac.len() as u32);
        let frac_v: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse().unwrap_or(0)
        };
        let num = int.saturating_mul(scale).saturating_add(frac_v);
        if num > scale {
            return Err(format!("ratio '{s}' is more than 1"));
        }
        let g = gcd(num, scale).max(1);
        Ratio::new((num / g) as u32, (scale / g) as u32)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// The faults of the simulated kernel. All default to 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Faults {
    /// An event is delivered as EPOLLERR alone (the event-error bit).
    pub error_event: Ratio,
    /// The poller reports a spurious readiness event for a registered fd.
    pub spurious_event: Ratio,
    /// An event's delivery is delayed by [`DELIVERY_DELAY_NS`] of virtual time.
    pub delayed_delivery: Ratio,
    /// A break (Go's `netpollBreak`, waking the poller that sleeps until the earliest timer)
    /// is lost by the kernel, as NetBSD's kqueue lost them (golang/go#42515).
    pub dropped_break: Ratio,
    /// The kernel is old: `epoll_create1` fails with ENOSYS and the poller's init falls back
    /// to `epoll_create` (golang/go#22606). Drawn once, at init.
    pub old_kernel: Ratio,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::NONE
    }
}

/// The faults by name, as the command line and traces spell them.
const NAMES: [&str; 5] = ["error", "spurious", "delay", "break", "enosys"];

impl Faults {
    /// No faults.
    pub const NONE: Faults = Faults {
        error_event: Ratio::ZERO,
        spurious_event: Ratio::ZERO,
        delayed_delivery: Ratio::ZERO,
        dropped_break: Ratio::ZERO,
        old_kernel: Ratio::ZERO,
    };

    /// Whether no fault can happen.
    pub fn is_none(&self) -> bool {
        *self == Faults::NONE
    }

    fn fields(&self) -> [Ratio; 5] {
        [
            self.error_event,
            self.spurious_event,
            self.delayed_delivery,
            self.dropped_break,
            self.old_kernel,
        ]
    }

    fn field_mut(&mut self, name: &str) -> Option<&mut Ratio> {
        match name {
            "error" => Some(&mut self.error_event),
            "spurious" => Some(&mut self.spurious_event),
            "delay" => Some(&mut self.delayed_delivery),
            "break" => Some(&mut self.dropped_break),
            "enosys" => Some(&mut self.old_kernel),
            _ => None,
        }
    }

    /// Check faults read from a file.
    pub fn validate(&self) -> Result<(), String> {
        for (name, r) in NAMES.iter().zip(self.fields()) {
            r.validate().map_err(|e| format!("fault {name}: {e}"))?;
        }
        Ok(())
    }
}

impl fmt::Display for Faults {
    /// `none`, or `error=N/D,spurious=N/D,delay=N/D,break=N/D,enosys=N/D` listing the
    /// non-zero ones.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("none");
        }
        let parts: Vec<String> = NAMES
            .iter()
            .zip(self.fields())
            .filter(|(_, r)| !r.is_zero())
            .map(|(name, r)| format!("{name}={r}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for Faults {
    type Err = String;

    /// `none`, or comma-separated `error=R`, `spurious=R`, `delay=R`, `break=R`, `enosys=R`,
    /// each `R` a [`Ratio`].
    fn from_str(s: &str) -> Result<Faults, String> {
        let mut faults = Faults::NONE;
        if s.trim() == "none" || s.trim().is_empty() {
            return Ok(faults);
        }
        for part in s.split(',') {
            let (name, value) = part.split_once('=').ok_or_else(|| {
                format!("bad fault '{part}': expected NAME=RATIO (error, spurious, delay, break, enosys)")
            })?;
            let name = name.trim();
            let r: Ratio = value.parse().map_err(|e| format!("fault {name}: {e}"))?;
            match faults.field_mut(name) {
                Some(slot) => *slot = r,
                None => {
                    return Err(format!(
                        "unknown fault '{name}' (known: {})",
                        NAMES.join(", ")
                    ))
                }
            }
        }
        Ok(faults)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_ratios() {
        assert_eq!("0.9".parse::<Ratio>().unwrap(), Ratio { num: 9, den: 10 });
        assert_eq!("9/10".parse::<Ratio>().unwrap(), Ratio { num: 9, den: 10 });
        assert_eq!("0.25".parse::<Ratio>().unwrap(), Ratio { num: 1, den: 4 });
        assert_eq!("1".parse::<Ratio>().unwrap(), Ratio { num: 1, den: 1 });
        assert_eq!("0".parse::<Ratio>().unwrap(), Ratio { num: 0, den: 1 });
        assert_eq!(".5".parse::<Ratio>().unwrap(), Ratio { num: 1, den: 2 });
        assert!("1.5".parse::<Ratio>().unwrap_err().contains("more than 1"));
        assert!("3/2".parse::<Ratio>().unwrap_err().contains("more than 1"));
        assert!("1/0".parse::<Ratio>().unwrap_err().contains("zero"));
        assert!("0.0000001"
            .parse::<Ratio>()
            .unwrap_err()
            .contains("decimals"));
        assert!("x".parse::<Ratio>().is_err());
        assert!("-1".parse::<Ratio>().is_err());
        assert!("1/2000000"
            .parse::<Ratio>()
            .unwrap_err()
            .contains("at most"));
    }

    #[test]
    fn faults_parse_and_display_round_trip() {
        assert_eq!("none".parse::<Faults>().unwrap(), Faults::NONE);
        let f: Faults = "error=0.5,delay=1/4".parse().unwrap();
        assert_eq!(f.error_event, Ratio { num: 1, den: 2 });
        assert_eq!(f.delayed_delivery, Ratio { num: 1, den: 4 });
        assert!(f.spurious_event.is_zero());
        assert_eq!(f.to_string(), "error=1/2,delay=1/4");
        assert_eq!(f.to_string().parse::<Faults>().unwrap(), f);
        assert!("bogus=0.1"
            .parse::<Faults>()
            .unwrap_err()
            .contains("unknown fault"));
        assert!("error"
            .parse::<Faults>()
            .unwrap_err()
            .contains("NAME=RATIO"));
        let bad = Faults {
            error_event: Ratio { num: 3, den: 2 },
            ..Faults::NONE
        };
        assert!(bad.validate().is_err());
    }
}
