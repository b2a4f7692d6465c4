//! The trace file format.
//!
//! ```text
//! offset  size  field
//!      0     7  magic, the bytes `NPTRACE`
//!      7     2  format version, u16 little-endian (FORMAT_VERSION)
//!      9     4  body length in bytes, u32 little-endian (at most MAX_BODY_BYTES)
//!     13     4  crc32 of the body, u32 little-endian
//!     17     4  crc32 of bytes 0..17 (the header above), u32 little-endian
//!     21     …  body: bincode 2 (`config::standard()`, serde) of a [`Trace`]
//! ```
//!
//! The version comes right after the magic and is checked before anything else, so a later
//! format may change everything after it; a file of another version is refused with an error
//! naming both versions. The two checksums make a flipped byte a "corrupt file" error rather
//! than a confusing replay divergence; the body length tells a truncated file from a corrupt
//! one. Decoding never panics and never allocates more than [`MAX_BODY_BYTES`] for any input:
//! bincode runs with that allocation limit, so a hostile length prefix inside the body is an
//! error, not an out-of-memory abort.
//!
//! Versions: 2 had string-typed metadata and an event with overloaded fields; 3 (this one) has
//! a typed subject and metadata, and events as a sum type with 64-bit steps.

use super::meta::{Builtin, Trace};
use super::safe;
use serde::Serialize;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The first bytes of every trace file.
pub const MAGIC: [u8; 7] = *b"NPTRACE";

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 4;

/// The largest body accepted (and bincode's allocation limit while decoding it).
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// Bytes before the body.
pub const HEADER_LEN: usize = 21;

const VERSION_AT: usize = MAGIC.len();
const BODY_LEN_AT: usize = VERSION_AT + 2;
const BODY_CRC_AT: usize = BODY_LEN_AT + 4;
const HEADER_CRC_AT: usize = BODY_CRC_AT + 4;

/// Why a trace could not be read. Every variant displays as one line naming the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceError {
    /// The file is empty.
    Empty,
    /// The file ends before the header or the body it declares does.
    Truncated {
        /// Bytes the header says the file has (or the header length, if that is cut).
        expected: u64,
        /// Bytes it has.
        found: u64,
    },
    /// The file does not start with `NPTRACE`.
    BadMagic,
    /// The file was written in another format version.
    UnsupportedVersion {
        /// The file's version.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// A checksum does not match: some byte changed after the file was written.
    Corrupt {
        /// `header` or `body`.
        part: &'static str,
        /// The checksum stored in the file.
        stored: u32,
        /// The checksum of the bytes found.
        computed: u32,
    },
    /// The body is larger than [`MAX_BODY_BYTES`].
    TooLarge {
        /// Its size in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The checksums match but the body does not decode as a trace of this version.
    Malformed(String),
    /// The path is a directory or another non-regular file.
    NotAFile(PathBuf),
    /// The file could not be read or written.
    Io {
        /// The path.
        path: PathBuf,
        /// The error's kind.
        kind: io::ErrorKind,
        /// The error's message.
        message: String,
    },
}

impl TraceError {
    fn io(path: &Path, e: &io::Error) -> TraceError {
        TraceError::Io {
            path: path.to_path_buf(),
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::Empty => write!(f, "empty file: not a netpoll-sim trace"),
            TraceError::Truncated { expected, found } => {
                write!(f, "truncated trace: expected {expected} bytes, found {found}")
            }
            TraceError::BadMagic => write!(
                f,
                "not a netpoll-sim trace: the file does not start with the magic bytes NPTRACE"
            ),
            TraceError::UnsupportedVersion { found, supported } => write!(
                f,
                "the trace is in format version {found}, but this netpoll-sim reads only version {supported} (regenerate it with this version)"
            ),
            TraceError::Corrupt { part, stored, computed } => write!(
                f,
                "corrupt trace: {part} checksum mismatch (stored {stored:08x}, computed {computed:08x})"
            ),
            TraceError::TooLarge { size, limit } => {
                write!(f, "trace too large: {size} bytes, the limit is {limit}")
            }
            // The decoder's message may quote the file (an unknown name, say).
            TraceError::Malformed(e) => write!(f, "malformed trace body: {}", safe::line(e)),
            TraceError::NotAFile(p) => write!(
                f,
                "{}: not a regular file (a directory?)",
                safe::line(&p.display().to_string())
            ),
            TraceError::Io { path, message, .. } => write!(
                f,
                "{}: {}",
                safe::line(&path.display().to_string()),
                safe::line(message)
            ),
        }
    }
}

impl std::error::Error for TraceError {}

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_BODY_BYTES>()
}

/// The body of a trace file: bincode of `trace`.
pub fn encode_body<T: Serialize>(trace: &T) -> Result<Vec<u8>, TraceError> {
    let body = bincode::serde::encode_to_vec(trace, bincode::config::standard())
        .map_err(|e| TraceError::Malformed(format!("cannot encode: {e}")))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(TraceError::TooLarge {
            size: body.len() as u64,
            limit: MAX_BODY_BYTES as u64,
        });
    }
    Ok(body)
}

/// A complete file around `body`, declaring format `version` (tools and tests use other
/// versions to exercise the decoder; [`encode`] uses [`FORMAT_VERSION`]).
///
/// Panics if `body` is longer than `u32::MAX` bytes (callers check [`MAX_BODY_BYTES`]).
pub fn frame(version: u16, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).expect("trace body longer than u32::MAX");
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    let header_crc = crc32fast::hash(&out);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// The bytes of a trace file.
pub fn encode<B: Builtin>(trace: &Trace<B>) -> Result<Vec<u8>, TraceError> {
    Ok(frame(FORMAT_VERSION, &encode_body(trace)?))
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decode a trace file's bytes. Never panics; every problem is a [`TraceError`].
pub fn decode<B: Builtin>(bytes: &[u8]) -> Result<Trace<B>, TraceError> {
    let n = bytes.len();
    if n == 0 {
        return Err(TraceError::Empty);
    }
    let truncated = |expected: usize| TraceError::Truncated {
        expected: expected as u64,
        found: n as u64,
    };
    if n < MAGIC.len() {
        return Err(if MAGIC.starts_with(bytes) {
            truncated(HEADER_LEN)
        } else {
            TraceError::BadMagic
        });
    }
    if bytes[..MAGIC.len()] != MAGIC {
        return Err(TraceError::BadMagic);
    }
    if n < BODY_LEN_AT {
        return Err(truncated(HEADER_LEN));
    }
    let version = le_u16(bytes, VERSION_AT);
    if version != FORMAT_VERSION {
        return Err(TraceError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if n < HEADER_LEN {
        return Err(truncated(HEADER_LEN));
    }
    let stored = le_u32(bytes, HEADER_CRC_AT);
    let computed = crc32fast::hash(&bytes[..HEADER_CRC_AT]);
    if stored != computed {
        return Err(TraceError::Corrupt {
            part: "header",
            stored,
            computed,
        });
    }
    let body_len = le_u32(bytes, BODY_LEN_AT) as usize;
    if body_len > MAX_BODY_BYTES {
        return Err(TraceError::TooLarge {
            size: body_len as u64,
            limit: MAX_BODY_BYTES as u64,
        });
    }
    let total = HEADER_LEN + body_len;
    if n < total {
        return Err(truncated(total));
    }
    if n > total {
        return Err(TraceError::Malformed(format!(
            "{} bytes after the {body_len}-byte body the header declares",
            n - total
        )));
    }
    let body = &bytes[HEADER_LEN..];
    let stored = le_u32(bytes, BODY_CRC_AT);
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(TraceError::Corrupt {
            part: "body",
            stored,
            computed,
        });
    }
    decode_body(body)
}

/// Decode a body (bincode of a [`Trace`]) without the frame. Never panics.
pub fn decode_body<B: Builtin>(body: &[u8]) -> Result<Trace<B>, TraceError> {
    let (trace, used): (Trace<B>, usize) =
        bincode::serde::decode_from_slice(body, bincode_config())
            .map_err(|e| TraceError::Malformed(e.to_string()))?;
    if used != body.len() {
        return Err(TraceError::Malformed(format!(
            "the trace ends after {used} of the body's {} bytes",
            body.len()
        )));
    }
    Ok(trace)
}

/// Read and decode the trace file at `path`.
pub fn read_file<B: Builtin>(path: impl AsRef<Path>) -> Result<Trace<B>, TraceError> {
    let path = path.as_ref();
    let md = std::fs::metadata(path).map_err(|e| TraceError::io(path, &e))?;
    if !md.is_file() {
        return Err(TraceError::NotAFile(path.to_path_buf()));
    }
    let limit = (HEADER_LEN + MAX_BODY_BYTES) as u64;
    if md.len() > limit {
        return Err(TraceError::TooLarge {
            size: md.len(),
            limit,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| TraceError::io(path, &e))?;
    decode(&bytes)
}

/// Write `trace` to `path` atomically: the bytes go to a temporary file in the same
/// directory, which is flushed to disk and then renamed over `path`, so a crash leaves either
/// the old file or the complete new one, never half a trace. The directory must exist.
pub fn write_file<B: Builtin>(path: impl AsRef<Path>, trace: &Trace<B>) -> Result<(), TraceError> {
    let path = path.as_ref();
    let bytes = encode(trace)?;
    write_atomic(path, &bytes, false).map_err(|e| TraceError::io(path, &e))
}

/// Write `bytes` to `path` only if no file is there yet, atomically.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(path, bytes, true)
}

/// Write `bytes` to `path` through a temporary file in the same directory, flushed and then
/// renamed (or, with `create_new`, hard-linked, which fails if `path` exists).
fn write_atomic(path: &Path, bytes: &[u8], create_new: bool) -> io::Result<()> {
    static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?
        .to_string_lossy();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        if create_new {
            std::fs::hard_link(&tmp, path)?;
            std::fs::remove_file(&tmp)?;
        } else {
            std::fs::rename(&tmp, path)?;
        }
        // Make the rename itself durable where directories can be synced (best effort).
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Save `trace` atomically in `dir` (created if missing) under [`Trace::file_name`], never
/// overwriting a file: if the name is taken, `-2`, `-3`, ... is added before `.trace`.
/// Returns the new file's path.
pub fn save_in<B: Builtin>(dir: impl AsRef<Path>, trace: &Trace<B>) -> Result<PathBuf, TraceError> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).map_err(|e| TraceError::io(dir, &e))?;
    let name = trace.file_name();
    let stem = name.strip_suffix(".trace").unwrap_or(&name);
    let bytes = encode(trace)?;
    for n in 1u32.. {
        let path = if n == 1 {
            dir.join(&name)
        } else {
            dir.join(format!("{stem}-{n}.trace"))
        };
        match write_new(&path, &bytes) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(TraceError::io(&path, &e)),
        }
    }
    unreachable!("u32 file name suffixes ran out")
}
