//! Running the core's scenarios (`netpoll::scenarios`) on the simulator.

use netpoll::scenarios::Scenario;
use netpoll::Protocol;

use crate::platform::SimPlatform;

/// The check closure for scenario `name` under `protocol`: each run builds a fresh
/// [`SimPlatform`] and poller (with the run's faults, [`Builder::faults`](crate::Builder)) and
/// runs the scenario in the main task. Unknown names are an error naming the known ones.
pub fn scenario_check(name: &str, protocol: Protocol) -> Result<impl Fn() + 'static, String> {
    let scenario: Scenario = name.parse()?;
    Ok(move || {
        let np = SimPlatform::netpoll(protocol);
        scenario.run(&np);
    })
}
