//! netpoll-real: the core on real epoll/kqueue and OS threads.

#[macro_use]
pub mod sys;

pub mod kqueue_translate;

// The one place where the OS backend is chosen.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub mod epoll;
#[cfg(any(target_os = "linux", target_os = "android"))]
/// The OS poller of this target.
pub type PollerBackend = epoll::Epoll;

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
pub mod kqueue;
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
/// The OS poller of this target.
pub type PollerBackend = kqueue::Kqueue;

pub mod clock;
pub mod sched;
