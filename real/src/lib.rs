//! netpoll-real: the core on real epoll/kqueue and OS threads.

#[macro_use]
pub mod sys;

#[cfg(any(target_os = "linux", target_os = "android"))]
pub mod epoll;
