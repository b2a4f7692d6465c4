//! Execution graphs and the search over them (the `graph` strategy): each task's events in
//! program order, what each read reads from, per location the modification order - and the
//! TruSt search that visits every consistent graph of a check exactly once.
//!
//! * `label`, `graph`: the data;
//! * `consistency`: whether a graph is consistent under a memory model (sc, tso, c11 as
//!   RC11, imm), and the floors that settle most options of a new event at once;
//! * `search`: how a graph grows by one event and which alternatives that opens.

pub(crate) mod consistency;
pub(crate) mod exec_graph;
pub(crate) mod label;
pub(crate) mod search;
