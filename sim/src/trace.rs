//! Traces of this crate: the engine's trace format, replay and rendering (see
//! [`engine::trace`](crate::engine::trace)), with the subject of every trace being a test or
//! a built-in netpoll scenario check ([`Trace`]).

use crate::builder::Builder;
pub use crate::builder::{Subject, Trace};
use crate::IntoCheck;
use std::path::Path;

pub use crate::engine::trace::{
    check_run, compare_logs, describe_event, encode, encode_body, frame, save_in, vtime, word,
    write_file, Builtin, Divergence, NoBuiltin, Renderer, ReplayError, ReplayRun, TestId,
    TraceError, TraceFailure, TraceMeta, ValueFormat, FORMAT_VERSION, HEADER_LEN, MAGIC,
    MAX_BODY_BYTES,
};
pub use crate::platform::values::{renderer, NetpollValues};

/// Decode a trace file's bytes. Never panics; every problem is a [`TraceError`].
pub fn decode(bytes: &[u8]) -> Result<Trace, TraceError> {
    crate::engine::trace::decode(bytes)
}

/// Decode a body (bincode of a [`Trace`]) without the frame. Never panics.
pub fn decode_body(body: &[u8]) -> Result<Trace, TraceError> {
    crate::engine::trace::decode_body(body)
}

/// Read and decode the trace file at `path`.
pub fn read_file(path: impl AsRef<Path>) -> Result<Trace, TraceError> {
    crate::engine::trace::read_file(path)
}

/// The text swimlane of `trace`, netpoll's fields decoded.
pub fn render_text(trace: &Trace) -> String {
    renderer().text(trace)
}

/// The text swimlane of `trace` with the first task's set-up collapsed.
pub fn render_text_compact(trace: &Trace) -> String {
    renderer().text_compact(trace)
}

/// The SVG timeline of `trace`.
pub fn render_svg(trace: &Trace) -> String {
    renderer().svg(trace)
}

/// Replay `trace` with `check` (the check it was recorded from) and compare the run with the
/// recording, byte for byte. Must be called outside any simulation.
pub fn replay_trace<C: IntoCheck>(trace: &Trace, check: C) -> Result<ReplayRun, ReplayError> {
    Builder::default().replay(trace, check)
}
