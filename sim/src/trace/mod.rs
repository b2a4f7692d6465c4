//! Traces: a failing schedule saved to a file, replayed byte for byte, and rendered.
//!
//! * [`format`](mod@format): the file format (`NPTRACE`, a version, checksums, bincode body) and its
//!   typed decoding errors; writing is atomic.
//! * [`replay`]: feeding a trace's choices back and comparing the new event log with the
//!   recorded one, naming the first differing step.
//! * [`render`]: the text swimlane and the SVG timeline a person reads to understand the run.

pub mod format;
pub mod render;
pub mod replay;

pub use format::{
    decode, decode_body, encode, encode_body, failure_kind, frame, read_file, save_in, write_file,
    Trace, TraceError, TraceFailure, TraceMeta, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_BODY_BYTES,
};
pub use render::{describe_event, render_svg, render_text, render_text_compact};
pub use replay::{
    check_identity, check_run, compare_logs, replay_builder, replay_file, replay_trace,
    replay_with, run_choices, Divergence, ReplayError, ReplayRun,
};
