//! netpoll-real: the core on real epoll/kqueue and OS threads.

pub mod sys;
