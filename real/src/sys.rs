//! System-call plumbing: one `syscall!` helper that turns `-1`/`errno` into `io::Result`,
//! and helpers that create non-blocking, close-on-exec pipes, socket pairs and TCP loopback
//! connections for tests and the benchmark.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::IntoRawFd;

use netpoll::platform::RawFd;

/// Call a `libc` function; a `-1` return becomes `Err(io::Error::last_os_error())`.
///
/// The call itself is `unsafe`: every use site states why its arguments are valid.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        #[allow(unused_unsafe)]
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

/// Set `O_NONBLOCK` on `fd`.
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL take and return plain integers; a bad fd gives EBADF.
    let flags = syscall!(fcntl(fd, libc::F_GETFL))?;
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        syscall!(fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
    }
    Ok(())
}

/// Set `FD_CLOEXEC` on `fd`.
pub fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD/F_SETFD take and return plain integers; a bad fd gives EBADF.
    let flags = syscall!(fcntl(fd, libc::F_GETFD))?;
    if flags & libc::FD_CLOEXEC == 0 {
        // SAFETY: as above.
        syscall!(fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC))?;
    }
    Ok(())
}

/// `close(2)`.
pub fn close(fd: RawFd) -> io::Result<()> {
    // SAFETY: closing an integer fd has no memory-safety preconditions; the caller owns it.
    syscall!(close(fd)).map(drop)
}

/// `read(2)`.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid, writable region of `buf.len()` bytes for the whole call.
    let n = syscall!(read(fd, buf.as_mut_ptr().cast(), buf.len()))?;
    Ok(n as usize)
}

/// `write(2)`.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid, readable region of `buf.len()` bytes for the whole call.
    let n = syscall!(write(fd, buf.as_ptr().cast(), buf.len()))?;
    Ok(n as usize)
}

/// A non-blocking, close-on-exec pipe: `(read end, write end)`.
pub fn pipe() -> io::Result<(RawFd, RawFd)> {
    let mut fds = [-1 as libc::c_int; 2];
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        // SAFETY: `fds` is a valid array of two ints that pipe2 fills in.
        syscall!(pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC))?;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        // SAFETY: `fds` is a valid array of two ints that pipe fills in.
        syscall!(pipe(fds.as_mut_ptr()))?;
        configure_pair(fds)?;
    }
    Ok((fds[0], fds[1]))
}

/// A non-blocking, close-on-exec `AF_UNIX` stream socket pair.
pub fn socketpair() -> io::Result<(RawFd, RawFd)> {
    let mut fds = [-1 as libc::c_int; 2];
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: `fds` is a valid array of two ints that socketpair fills in.
        syscall!(socketpair(libc::AF_UNIX, ty, 0, fds.as_mut_ptr()))?;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        // SAFETY: `fds` is a valid array of two ints that socketpair fills in.
        syscall!(socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM,
            0,
            fds.as_mut_ptr()
        ))?;
        configure_pair(fds)?;
    }
    Ok((fds[0], fds[1]))
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn configure_pair(fds: [RawFd; 2]) -> io::Result<()> {
    for fd in fds {
        if let Err(e) = set_nonblocking(fd).and_then(|()| set_cloexec(fd)) {
            let _ = close(fds[0]);
            let _ = close(fds[1]);
            return Err(e);
        }
    }
    Ok(())
}

/// A connected TCP pair over 127.0.0.1 (client end, server end), both non-blocking and
/// close-on-exec (std opens sockets with `CLOEXEC`). The listener is closed before returning.
pub fn tcp_loopback_pair() -> io::Result<(RawFd, RawFd)> {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    client.set_nonblocking(true)?;
    server.set_nonblocking(true)?;
    Ok((client.into_raw_fd(), server.into_raw_fd()))
}

/// Linux futex wait/wake on a 32-bit word (used by the platform lock).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) mod futex {
    use std::sync::atomic::AtomicU32;

    /// Block while `*word == expected` (spurious returns are possible).
    #[inline]
    pub fn wait(word: &AtomicU32, expected: u32) {
        // SAFETY: `word` is a live, aligned 32-bit location for the duration of the call; a
        // null timeout means "no timeout"; FUTEX_PRIVATE_FLAG is correct as the word is never
        // shared across processes. Errors (EAGAIN, EINTR) are spurious wake-ups by design.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                std::ptr::null::<libc::timespec>(),
            );
        }
    }

    /// Block while `*word == expected`, for at most `timeout` (spurious returns are possible).
    #[inline]
    pub fn wait_timeout(word: &AtomicU32, expected: u32, timeout: std::time::Duration) {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: as in `wait`; `ts` is a valid relative timeout for the duration of the call.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                &ts as *const libc::timespec,
            );
        }
    }

    /// Wake one waiter blocked on `word`.
    #[inline]
    pub fn wake_one(word: &AtomicU32) {
        // SAFETY: as in `wait`; FUTEX_WAKE only reads the address as a key.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(fd: RawFd) -> (i32, i32) {
        // SAFETY: plain integer fcntl queries.
        let fl = syscall!(fcntl(fd, libc::F_GETFL)).unwrap();
        // SAFETY: as above.
        let fdf = syscall!(fcntl(fd, libc::F_GETFD)).unwrap();
        (fl, fdf)
    }

    /// `b` is the reading end, `a` the writing end.
    fn check_pair((b, a): (RawFd, RawFd)) {
        for fd in [a, b] {
            let (fl, fdf) = flags(fd);
            assert_ne!(fl & libc::O_NONBLOCK, 0, "O_NONBLOCK on {fd}");
            assert_ne!(fdf & libc::FD_CLOEXEC, 0, "FD_CLOEXEC on {fd}");
        }
        let mut buf = [0u8; 4];
        assert_eq!(
            read(b, &mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert_eq!(write(a, b"hi").unwrap(), 2);
        // TCP may take a moment to deliver over loopback.
        let mut got = 0;
        for _ in 0..1000 {
            match read(b, &mut buf) {
                Ok(n) => {
                    got = n;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(&buf[..got], b"hi");
        close(a).unwrap();
        close(b).unwrap();
    }

    #[test]
    fn pipe_is_nonblocking_cloexec() {
        check_pair(pipe().unwrap());
    }

    #[test]
    fn socketpair_is_nonblocking_cloexec() {
        check_pair(socketpair().unwrap());
    }

    #[test]
    fn tcp_pair_is_nonblocking_cloexec() {
        check_pair(tcp_loopback_pair().unwrap());
    }

    #[test]
    fn syscall_maps_errno() {
        let e = close(-1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF));
    }
}
