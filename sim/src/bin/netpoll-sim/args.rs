//! The `explore` arguments: the scenario check, where its trace goes, and every flag of the
//! settings table (`netpoll_sim::builder::settings::SETTINGS`).

use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use netpoll_sim::builder::settings::{Env, Setting, SETTINGS};
use netpoll_sim::{scenario_check, Builder, ScenarioCheck};
use std::path::PathBuf;

/// Where `explore` saves traces by default: outside the repository's `traces/`, which
/// `tests/replay.rs` replays.
pub const DEFAULT_OUT: &str = "target/netpoll-sim/traces";

/// `netpoll-sim explore`'s arguments.
pub struct ExploreArgs {
    pub scenario: Scenario,
    pub protocol: Protocol,
    pub out: PathBuf,
    pub no_shrink: bool,
    pub keep_going: bool,
    /// The settings given as flags, in table order.
    pub settings: Vec<(&'static Setting, String)>,
}

impl ExploreArgs {
    /// The builder these arguments describe: the defaults, then the `NETPOLL_SIM_*`
    /// variables of `env` (an unknown one or a bad value is an error naming it), then the
    /// flags, which win.
    pub fn builder(&self, env: &Env) -> Result<Builder, String> {
        let mut b = Builder::default();
        env.set(&mut b).map_err(|e| {
            format!(
                "bad {}={}: {}",
                e.var,
                crate::common::escaped(&format!("{:?}", e.value)),
                e.reason
            )
        })?;
        for (s, v) in &self.settings {
            s.apply(&mut b, v)
                .map_err(|e| format!("bad --{} {v:?}: {e}", s.name))?;
        }
        b.validate()
            .map_err(|(var, reason)| format!("bad {var}: {reason}"))?;
        b = b.stop_at_first_failure(!self.keep_going);
        Ok(b)
    }

    /// The scenario check.
    pub fn check(&self) -> ScenarioCheck {
        scenario_check(self.scenario, self.protocol)
    }
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|&x| name(x)).collect()
}

impl Args for ExploreArgs {
    fn augment_args(cmd: Command) -> Command {
        let mut cmd = cmd
            .arg(
                Arg::new("scenario")
                    .long("scenario")
                    .value_name("NAME")
                    .required(true)
                    .help("The scenario (see `netpoll-sim list`)")
                    .value_parser(PossibleValuesParser::new(names(Scenario::ALL, Scenario::name))),
            )
            .arg(
                Arg::new("protocol")
                    .long("protocol")
                    .default_value("fixed")
                    .help("The protocol (see `netpoll-sim list`)")
                    .value_parser(PossibleValuesParser::new(names(&Protocol::ALL, Protocol::name))),
            )
            .arg(
                Arg::new("out")
                    .long("out")
                    .value_name("DIR")
                    .default_value(DEFAULT_OUT)
                    .value_parser(clap::value_parser!(PathBuf))
                    .help("Where a failing schedule's trace is saved (never overwriting); move it to the repository's traces/ to keep it as a regression test"),
            )
            .arg(
                Arg::new("no-shrink")
                    .long("no-shrink")
                    .action(ArgAction::SetTrue)
                    .help("Save the failing schedule as found, without shrinking it"),
            )
            .arg(
                Arg::new("keep-going")
                    .long("keep-going")
                    .action(ArgAction::SetTrue)
                    .help("Keep exploring after the first failure (to count failures)"),
            );
        for s in SETTINGS.iter().filter(|s| s.flag) {
            let values = (s.values)();
            let mut arg = Arg::new(s.name)
                .long(s.name)
                .help(format!("{} [default: {}; {}]", s.meaning, s.default, s.env));
            if !values.is_empty() {
                arg = arg.value_parser(PossibleValuesParser::new(values));
            }
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for ExploreArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let get = |id: &str| m.get_one::<String>(id).cloned().unwrap_or_default();
        let scenario = get("scenario")
            .parse()
            .map_err(|e: String| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e))?;
        let protocol = get("protocol")
            .parse()
            .map_err(|e: String| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e))?;
        let settings = SETTINGS
            .iter()
            .filter(|s| s.flag)
            .filter_map(|s| m.get_one::<String>(s.name).map(|v| (s, v.clone())))
            .collect();
        Ok(ExploreArgs {
            scenario,
            protocol,
            out: m
                .get_one::<PathBuf>("out")
                .cloned()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT)),
            no_shrink: m.get_flag("no-shrink"),
            keep_going: m.get_flag("keep-going"),
            settings,
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}
