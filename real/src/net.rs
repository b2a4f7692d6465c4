//! TCP on the FD layer: a non-blocking listener, `accept` that parks the task (Go:
//! `FD.Accept`), and non-blocking connects from a chosen local address (for load generators
//! that need more than one address's worth of ephemeral ports).

use std::io;
use std::mem;
use std::net::{Ipv4Addr, SocketAddrV4};

use netpoll::fd::{self, Fd};
use netpoll::platform::{Platform, RawFd, SocketError};

/// How many pending connections a listener queues (the kernel caps it at `somaxconn`).
pub const LISTEN_BACKLOG: i32 = 65_535;

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = addr.port().to_be();
    sa.sin_addr = libc::in_addr {
        s_addr: u32::from(*addr.ip()).to_be(),
    };
    sa
}

fn from_sockaddr(sa: &libc::sockaddr_in) -> SocketAddrV4 {
    SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr)),
        u16::from_be(sa.sin_port),
    )
}

/// A non-blocking, close-on-exec IPv4 TCP socket.
pub fn tcp_socket() -> io::Result<RawFd> {
    let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socket takes plain integers.
    syscall!(socket(libc::AF_INET, ty, 0))
}

fn set_int_opt(fd: RawFd, level: i32, name: i32, v: i32) -> io::Result<()> {
    // SAFETY: `v` is a live int for the call and its size is passed.
    syscall!(setsockopt(
        fd,
        level,
        name,
        (&v as *const i32).cast(),
        mem::size_of::<i32>() as libc::socklen_t
    ))
    .map(drop)
}

/// Bind `fd` to `addr`.
fn bind(fd: RawFd, addr: SocketAddrV4) -> io::Result<()> {
    let sa = sockaddr(addr);
    // SAFETY: `sa` is a valid sockaddr_in for the duration of the call, its size passed.
    syscall!(bind(
        fd,
        (&sa as *const libc::sockaddr_in).cast(),
        mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
    ))
    .map(drop)
}

/// The local address of a socket.
pub fn local_addr(fd: RawFd) -> io::Result<SocketAddrV4> {
    // SAFETY: plain old data, zero is valid.
    let mut sa: libc::sockaddr_in = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `sa` and `len` are valid for writing; the kernel writes at most `len` bytes.
    syscall!(getsockname(
        fd,
        (&mut sa as *mut libc::sockaddr_in).cast(),
        &mut len
    ))?;
    Ok(from_sockaddr(&sa))
}

/// A non-blocking TCP listener on `addr` (port 0: any), with `SO_REUSEADDR`.
pub fn listen(addr: SocketAddrV4) -> io::Result<RawFd> {
    let fd = tcp_socket()?;
    let setup = || -> io::Result<()> {
        set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        bind(fd, addr)?;
        // SAFETY: listen takes plain integers.
        syscall!(listen(fd, LISTEN_BACKLOG)).map(drop)
    };
    if let Err(e) = setup() {
        let _ = crate::sys::close(fd);
        return Err(e);
    }
    Ok(fd)
}

/// Go: `FD.Accept`. Wait for a connection on `listener` and return it, non-blocking and
/// close-on-exec, with `TCP_NODELAY`. A connection aborted before it was accepted is skipped.
pub fn accept<P: Platform>(listener: &Fd<P>) -> Result<RawFd, fd::Error> {
    let conn = listener.raw_read(|lfd| loop {
        // SAFETY: null address arguments ask for no peer address; flags are plain integers.
        match syscall!(accept4(
            lfd,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC
        )) {
            Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => continue,
            other => return other,
        }
    })?;
    // Latency over batching, as Go's net package does for every TCP connection.
    if let Err(e) = set_int_opt(conn, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1) {
        let _ = crate::sys::close(conn);
        return Err(fd::Error::Io(e));
    }
    Ok(conn)
}

/// Start a non-blocking connect to `to` from `from` (port 0: any free port of that address),
/// with `TCP_NODELAY`. The connection may still be in progress: wait for writability before
/// using it (a loopback connect usually completes at once).
pub fn connect_from(from: Ipv4Addr, to: SocketAddrV4) -> io::Result<RawFd> {
    let fd = tcp_socket()?;
    let setup = || -> io::Result<()> {
        set_int_opt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
        if !from.is_unspecified() {
            bind(fd, SocketAddrV4::new(from, 0))?;
        }
        let sa = sockaddr(to);
        // SAFETY: `sa` is a valid sockaddr_in for the call, its size passed.
        match syscall!(connect(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        )) {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(()),
            Err(e) => Err(e),
        }
    };
    if let Err(e) = setup() {
        let _ = crate::sys::close(fd);
        return Err(e);
    }
    Ok(fd)
}

/// `connect(2)` on the non-blocking socket `fd`: `Ok(true)` connected at once, `Ok(false)` in
/// progress (EINPROGRESS).
pub fn connect(fd: RawFd, to: SocketAddrV4) -> io::Result<bool> {
    let sa = sockaddr(to);
    // SAFETY: `sa` is a valid sockaddr_in for the call, its size passed.
    match syscall!(connect(
        fd,
        (&sa as *const libc::sockaddr_in).cast(),
        mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
    )) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `getsockopt(SO_ERROR)` on `fd`: its pending error, which the call clears.
pub fn take_socket_error(fd: RawFd) -> io::Result<SocketError> {
    let mut v: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for writing; the kernel writes at most `len` bytes.
    syscall!(getsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_ERROR,
        (&mut v as *mut libc::c_int).cast(),
        &mut len
    ))?;
    Ok(match v {
        0 => SocketError::None,
        libc::EINPROGRESS | libc::EALREADY | libc::EINTR => SocketError::InProgress,
        e => SocketError::Failed(io::Error::from_raw_os_error(e)),
    })
}

/// `getpeername(2)` on `fd`: `Ok` when it is connected.
pub fn peer_name(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain old data, zero is valid.
    let mut sa: libc::sockaddr_in = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `sa` and `len` are valid for writing; the kernel writes at most `len` bytes.
    syscall!(getpeername(
        fd,
        (&mut sa as *mut libc::sockaddr_in).cast(),
        &mut len
    ))
    .map(drop)
}

/// A loopback address where nothing listens: a port the kernel just handed out and that was
/// released again (connecting to it is refused unless another process takes it meanwhile).
pub fn refused_addr() -> io::Result<SocketAddrV4> {
    let fd = tcp_socket()?;
    let addr = bind(fd, SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).and_then(|()| local_addr(fd));
    let closed = crate::sys::close(fd);
    let addr = addr?;
    closed?;
    Ok(addr)
}

/// Raise this process's `RLIMIT_NOFILE` to at least `want` descriptors (soft and hard; raising
/// the hard limit needs privilege). Returns the soft limit now in force.
// `rlim_t` is 32 bits on some targets.
#[allow(clippy::unnecessary_cast)]
pub fn raise_fd_limit(want: u64) -> io::Result<u64> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid rlimit to fill.
    syscall!(getrlimit(libc::RLIMIT_NOFILE, &mut rl))?;
    if rl.rlim_cur as u64 >= want {
        return Ok(rl.rlim_cur as u64);
    }
    let mut new = libc::rlimit {
        rlim_cur: want as libc::rlim_t,
        rlim_max: (rl.rlim_max as u64).max(want) as libc::rlim_t,
    };
    // SAFETY: `new` is a valid rlimit.
    if syscall!(setrlimit(libc::RLIMIT_NOFILE, &new)).is_err() {
        // Without privilege: as far as the hard limit allows.
        new.rlim_cur = rl.rlim_max;
        new.rlim_max = rl.rlim_max;
        // SAFETY: as above.
        syscall!(setrlimit(libc::RLIMIT_NOFILE, &new))?;
    }
    Ok(new.rlim_cur as u64)
}
