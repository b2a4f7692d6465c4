//! Traces: a failing schedule saved to a file, replayed byte for byte, and rendered.
//!
//! * [`meta`](mod@meta): what a trace holds - its typed subject (a test, or a check built into
//!   a platform), how the run was configured, choices, events, failure;
//! * [`format`](mod@format): the file format (`NPTRACE`, a version, checksums, bincode body)
//!   and its typed decoding errors; writing is atomic and never overwrites;
//! * [`replay`](mod@replay): feeding a trace's choices back and comparing the new event log
//!   with the recorded one, naming the first differing step;
//! * [`render`](mod@render): the text swimlane and the SVG timeline a person reads.

pub mod format;
pub mod meta;
pub mod render;
pub mod replay;

pub use format::{
    decode, decode_body, encode, encode_body, frame, read_file, save_in, write_file, TraceError,
    FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_BODY_BYTES,
};
pub use meta::{Builtin, NoBuiltin, Subject, TestId, Trace, TraceFailure, TraceMeta};
pub use render::{describe_event, vtime, word, Renderer, ValueFormat};
pub use replay::{
    check_run, compare_logs, replay_builtin, replay_trace, Divergence, ReplayError, ReplayRun,
};
