//! The kqueue backend's event translation, as pure functions with no `cfg`, so that it is
//! compiled and unit-tested on every host (the backend itself only builds on macOS/BSD).
//!
//! Go: the event switch of `netpoll` in `runtime/netpoll_kqueue.go`.

use netpoll::platform::{Event, Mode, Token};

/// `EV_EOF`: the same value on macOS, FreeBSD, NetBSD, OpenBSD and DragonFly.
pub const EV_EOF: u16 = 0x8000;
/// `EV_ERROR`: the same value on every BSD.
pub const EV_ERROR: u16 = 0x4000;

/// Which filter a `kevent` came from, decoded from the platform's (differing) numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `EVFILT_READ`
    Read,
    /// `EVFILT_WRITE`
    Write,
    /// `EVFILT_USER`: the poller's wake-up event.
    User,
    /// Anything else (never registered by us).
    Other,
}

/// What the poller does with one `kevent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Translated {
    /// A readiness event for the pd with this token.
    Ready(Event),
    /// The wake-up event (Go: `isWakeup`): consume it, report nothing.
    Wake,
    /// Nothing to report.
    Ignore,
}

/// Translate one `kevent`. A read event readies `'r'`, and also `'w'` when it carries
/// `EV_EOF` (the peer is gone, so a writer must not sleep forever); a write event readies
/// `'w'`. The event-error bit is set when `EV_ERROR` is the only condition reported: Go
/// compares `flags == EV_ERROR`; we ignore the bookkeeping flags the kernel may echo back
/// (`EV_CLEAR`, `EV_ADD`), which is the same rule without depending on them.
pub fn translate(filter: Filter, flags: u16, udata: u64) -> Translated {
    let (read, write) = match filter {
        Filter::Read => (true, flags & EV_EOF != 0),
        Filter::Write => (false, true),
        Filter::User => return Translated::Wake,
        Filter::Other => return Translated::Ignore,
    };
    match Mode::from_rw(read, write) {
        Some(mode) => Translated::Ready(Event {
            token: Token(udata),
            mode,
            error: flags & (EV_ERROR | EV_EOF) == EV_ERROR,
        }),
        None => Translated::Ignore,
    }
}

/// The longest single `kevent` wait, in seconds (Go caps `tv_sec` at 1e6).
pub const MAX_TIMEOUT_S: i64 = 1_000_000;

/// Nanoseconds per second.
const NS_PER_S: i64 = 1_000_000_000;

/// Go: `netpoll(delay)`'s timeout for `kevent`: `None` blocks (a null timespec), otherwise
/// `(seconds, nanoseconds)`; 0 polls; the wait is capped at [`MAX_TIMEOUT_S`].
pub fn timeout(delay_ns: i64) -> Option<(i64, i64)> {
    if delay_ns < 0 {
        return None;
    }
    let secs = delay_ns / NS_PER_S;
    if secs >= MAX_TIMEOUT_S {
        return Some((MAX_TIMEOUT_S, 0));
    }
    Some((secs, delay_ns % NS_PER_S))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(filter: Filter, flags: u16) -> Option<(Mode, bool)> {
        match translate(filter, flags, 5) {
            Translated::Ready(e) => {
                assert_eq!(e.token, Token(5));
                Some((e.mode, e.error))
            }
            _ => None,
        }
    }

    const EV_CLEAR: u16 = 0x0020;

    #[test]
    fn read_and_write() {
        assert_eq!(ready(Filter::Read, 0), Some((Mode::Read, false)));
        assert_eq!(ready(Filter::Read, EV_CLEAR), Some((Mode::Read, false)));
        assert_eq!(ready(Filter::Write, 0), Some((Mode::Write, false)));
        assert_eq!(ready(Filter::Write, EV_EOF), Some((Mode::Write, false)));
    }

    #[test]
    fn eof_on_read_readies_write() {
        assert_eq!(ready(Filter::Read, EV_EOF), Some((Mode::ReadWrite, false)));
        assert_eq!(
            ready(Filter::Read, EV_EOF | EV_CLEAR),
            Some((Mode::ReadWrite, false))
        );
    }

    #[test]
    fn error_only_when_alone() {
        assert_eq!(ready(Filter::Read, EV_ERROR), Some((Mode::Read, true)));
        assert_eq!(ready(Filter::Write, EV_ERROR), Some((Mode::Write, true)));
        assert_eq!(
            ready(Filter::Write, EV_ERROR | EV_CLEAR),
            Some((Mode::Write, true))
        );
        assert_eq!(
            ready(Filter::Read, EV_ERROR | EV_EOF),
            Some((Mode::ReadWrite, false))
        );
    }

    #[test]
    fn wake_and_others() {
        assert_eq!(translate(Filter::User, 0, 0), Translated::Wake);
        assert_eq!(translate(Filter::User, EV_CLEAR, 9), Translated::Wake);
        assert_eq!(translate(Filter::Other, EV_EOF, 9), Translated::Ignore);
    }

    #[test]
    fn timeouts() {
        assert_eq!(timeout(-1), None);
        assert_eq!(timeout(0), Some((0, 0)));
        assert_eq!(timeout(1), Some((0, 1)));
        assert_eq!(timeout(1_500_000_000), Some((1, 500_000_000)));
        assert_eq!(timeout(i64::MAX), Some((MAX_TIMEOUT_S, 0)));
    }
}
