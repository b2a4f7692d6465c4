//! The trace file format: round trip, a typed error for each kind of bad input, and a
//! fuzz-style test that the decoder never panics.

mod trace_common;

use netpoll_sim::trace::{
    decode, decode_body, encode, encode_body, frame, read_file, render_svg, render_text, save_in,
    write_file, TraceError, FORMAT_VERSION, HEADER_LEN, MAGIC,
};
use netpoll_sim::{FailureKind, Op, Pick};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

/// A fresh empty directory under the system temporary directory.
fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("netpoll-sim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn round_trip_bytes_and_file() {
    let t = trace_common::sb_trace();
    assert!(!t.choices.is_empty() && !t.events.events.is_empty());
    assert_eq!(t.failure.kind, FailureKind::Panic);
    let bytes = encode(&t).unwrap();
    assert_eq!(&bytes[..MAGIC.len()], b"NPTRACE");
    assert_eq!(decode(&bytes).unwrap(), t);

    let dir = scratch_dir("roundtrip");
    let path = dir.join(t.file_name());
    write_file(&path, &t).unwrap();
    assert_eq!(read_file(&path).unwrap(), t);
    // Overwriting is atomic too, and no temporary file is left behind.
    write_file(&path, &t).unwrap();
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![t.file_name()]);
    assert_eq!(
        t.file_name(),
        format!(
            "sb-litmus-c11-dfs-seed0-schedule{}.trace",
            t.meta.schedule_index
        )
    );
    // save_in creates the directory and names the file; it never overwrites one.
    let nested = dir.join("a/b");
    let saved = save_in(&nested, &t).unwrap();
    assert_eq!(saved, nested.join(t.file_name()));
    assert_eq!(read_file(&saved).unwrap(), t);
    let again = save_in(&nested, &t).unwrap();
    let stem = t.file_name().trim_end_matches(".trace").to_string();
    assert_eq!(again, nested.join(format!("{stem}-2.trace")));
    assert_eq!(read_file(&saved).unwrap(), t);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_truncation_is_truncated() {
    let bytes = encode(&trace_common::sb_trace()).unwrap();
    for cut in 1..bytes.len() {
        match decode(&bytes[..cut]) {
            Err(TraceError::Truncated { expected, found }) => {
                assert_eq!(found, cut as u64);
                assert!(expected > found);
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn flipped_byte_is_corrupt() {
    let bytes = encode(&trace_common::sb_trace()).unwrap();
    for i in HEADER_LEN..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x20;
        match decode(&b) {
            Err(TraceError::Corrupt { part: "body", .. }) => {}
            other => panic!("flip at {i}: {other:?}"),
        }
    }
    // A flip in the length or a checksum is caught by the header checksum.
    for i in 9..HEADER_LEN {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        match decode(&b) {
            Err(TraceError::Corrupt { part: "header", .. }) => {}
            other => panic!("flip at {i}: {other:?}"),
        }
    }
}

#[test]
fn wrong_magic() {
    let mut bytes = encode(&trace_common::sb_trace()).unwrap();
    bytes[0] = b'X';
    assert_eq!(decode(&bytes), Err(TraceError::BadMagic));
    assert_eq!(decode(b"hello"), Err(TraceError::BadMagic));
    assert_eq!(decode(b"{\"json\": true}"), Err(TraceError::BadMagic));
}

#[test]
fn version_2_files_are_refused_naming_both_versions() {
    // A version 2 file (the format before typed metadata), as the old writer framed it.
    let bytes = frame(2, b"any body");
    let e = decode(&bytes).unwrap_err();
    assert_eq!(
        e,
        TraceError::UnsupportedVersion {
            found: 2,
            supported: FORMAT_VERSION
        }
    );
    let msg = e.to_string();
    assert!(
        msg.contains("version 2") && msg.contains(&format!("version {FORMAT_VERSION}")),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
}

#[test]
fn future_version() {
    let body = encode_body(&trace_common::sb_trace()).unwrap();
    let bytes = frame(FORMAT_VERSION + 1, &body);
    assert_eq!(
        decode(&bytes),
        Err(TraceError::UnsupportedVersion {
            found: FORMAT_VERSION + 1,
            supported: FORMAT_VERSION
        })
    );
    // Checked right after the magic: a future format may change everything else.
    assert_eq!(
        decode(&bytes[..MAGIC.len() + 2]),
        Err(TraceError::UnsupportedVersion {
            found: FORMAT_VERSION + 1,
            supported: FORMAT_VERSION
        })
    );
}

#[test]
fn empty_file() {
    assert_eq!(decode(&[]), Err(TraceError::Empty));
    let dir = scratch_dir("empty");
    let p = dir.join("empty.trace");
    std::fs::write(&p, b"").unwrap();
    assert_eq!(read_file(&p), Err(TraceError::Empty));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn directory_and_missing_file() {
    let dir = scratch_dir("dir");
    assert_eq!(read_file(&dir), Err(TraceError::NotAFile(dir.clone())));
    match read_file(dir.join("missing.trace")) {
        Err(TraceError::Io {
            kind: std::io::ErrorKind::NotFound,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trailing_bytes_and_garbage_body_are_malformed() {
    let t = trace_common::sb_trace();
    let mut bytes = encode(&t).unwrap();
    bytes.push(0);
    assert!(matches!(decode(&bytes), Err(TraceError::Malformed(_))));
    // A body with valid checksums that is not a trace.
    let bytes = frame(FORMAT_VERSION, b"definitely not bincode of a trace");
    assert!(matches!(decode(&bytes), Err(TraceError::Malformed(_))));
    // A valid trace followed by extra bytes inside the checksummed body.
    let mut body = encode_body(&t).unwrap();
    body.extend_from_slice(b"extra");
    assert!(matches!(
        decode(&frame(FORMAT_VERSION, &body)),
        Err(TraceError::Malformed(_))
    ));
}

#[test]
fn errors_display_as_one_line() {
    let t = trace_common::sb_trace();
    let bytes = encode(&t).unwrap();
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let dir = scratch_dir("display");
    let errors = [
        decode(&[]).unwrap_err(),
        decode(&bytes[..30]).unwrap_err(),
        decode(b"not a trace at all").unwrap_err(),
        decode(&frame(9, b"")).unwrap_err(),
        decode(&flipped).unwrap_err(),
        decode(&frame(FORMAT_VERSION, b"x")).unwrap_err(),
        read_file(&dir).unwrap_err(),
        read_file(dir.join("missing")).unwrap_err(),
    ];
    for e in errors {
        let s = e.to_string();
        assert!(!s.is_empty() && !s.contains('\n'), "{s:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Random inputs of every flavour: pure noise, noise behind a valid header prefix, and noise
/// in a correctly framed body (so bincode itself sees it).
#[test]
fn fuzz_random_bytes_never_panic() {
    const CASES: usize = 20_000;
    const MAX_LEN: usize = 300;
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_7ace);
    let mut buf = vec![0u8; MAX_LEN];
    let mut outcomes = [0usize; 3];
    for i in 0..CASES {
        let len = (rng.next_u32() as usize) % MAX_LEN;
        rng.fill_bytes(&mut buf[..len]);
        let noise = &buf[..len];
        let r = match i % 3 {
            0 => decode(noise),
            1 => {
                let mut b = MAGIC.to_vec();
                b.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
                b.extend_from_slice(noise);
                decode(&b)
            }
            _ => {
                let _ = decode_body(noise);
                decode(&frame(FORMAT_VERSION, noise))
            }
        };
        outcomes[i % 3] += r.is_err() as usize;
    }
    // Noise never decodes as a trace.
    assert_eq!(outcomes.iter().sum::<usize>(), CASES);
}

/// Mutations of a real trace: flips, insertions, deletions and truncations, both as raw files
/// (the checksums catch them) and re-framed with fresh checksums (bincode sees them).
#[test]
fn fuzz_mutated_trace_never_panics() {
    const CASES: usize = 20_000;
    let t = trace_common::sb_trace();
    let file = encode(&t).unwrap();
    let body = encode_body(&t).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(45211);
    let mut decoded_ok = 0usize;
    for i in 0..CASES {
        let framed = i % 2 == 1;
        let mut b = if framed { body.clone() } else { file.clone() };
        let mutations = 1 + rng.next_u32() % 4;
        for _ in 0..mutations {
            let at = (rng.next_u32() as usize) % (b.len() + 1);
            match rng.next_u32() % 5 {
                0 if at < b.len() => b[at] ^= 1 << (rng.next_u32() % 8),
                1 => b.insert(at, rng.next_u32() as u8),
                2 if at < b.len() => {
                    b.remove(at);
                }
                3 => b.truncate(at),
                // A large varint where a length may be: the allocation limit must hold.
                _ => {
                    let at = at.min(b.len());
                    b.splice(
                        at..at,
                        [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
                    );
                }
            }
        }
        let r = if framed {
            let _ = decode_body(&b);
            decode(&frame(FORMAT_VERSION, &b))
        } else {
            decode(&b)
        };
        match r {
            Ok(t2) => {
                // Whatever decodes also renders, without panicking.
                let _ = (render_text(&t2), render_svg(&t2));
                // Only a mutation that bincode cannot see (or that restores the original)
                // decodes; a raw file mutation never does.
                assert!(framed || t2 == t, "mutated file {i} decoded");
                decoded_ok += 1;
            }
            Err(e) => {
                if framed {
                    assert!(
                        matches!(e, TraceError::Malformed(_)),
                        "framed mutation {i}: {e:?}"
                    );
                }
            }
        }
    }
    assert!(decoded_ok < CASES / 2, "{decoded_ok} mutations decoded");
}

/// Rendering a hostile trace (ids out of range, control characters, many tasks) neither
/// panics nor breaks the layout.
#[test]
fn hostile_trace_renders() {
    let mut t = trace_common::sb_trace();
    t.events.tasks[0] = "evil\nname<&>".into();
    t.events.locations.clear();
    for (i, e) in t.events.events.iter_mut().enumerate() {
        e.op = Op::Load {
            loc: u32::MAX - i as u32,
            ord: netpoll_sim::EventOrd::Relaxed,
            val: u64::MAX,
            pick: Pick { rank: 200, of: 1 },
        };
        e.step = u64::MAX - 3;
    }
    let mut e = t.events.events[0];
    e.task = Some(1 << 30);
    t.events.events.push(e);
    let text = render_text(&t);
    assert!(text.contains("evil?name<&>"), "{text}");
    let svg = render_svg(&t);
    assert!(svg.contains("evil?name&lt;&amp;&gt;"));
    // Many tasks: a list instead of lanes.
    for i in 0..100 {
        let mut e = t.events.events[0];
        e.task = Some(i);
        t.events.events.push(e);
    }
    let text = render_text(&t);
    assert!(text.lines().all(|l| l.chars().count() < 400), "{text}");
}
