//! Server processes for the echo benchmark (ours and Go's), and building the Go program.
//!
//! A server prints `listening ADDR` on its first line and serves until its standard input
//! closes, so dropping a [`Server`] stops it.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::procstat::{self, ProcSample};

/// How long a server may take to exit once its standard input closes.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// A running server process.
pub struct Server {
    /// Its name in reports.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddrV4,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Server {
    /// Start `cmd` (which must follow the protocol above) and wait for its address.
    pub fn start(name: &str, mut cmd: Command) -> io::Result<Server> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!(
                "{name}: expected 'listening ADDR', got {:?}",
                line.trim()
            )));
        };
        Ok(Server {
            name: name.to_string(),
            addr,
            child,
            stdin,
        })
    }

    /// CPU, threads and RSS of the server process now.
    pub fn sample(&self) -> io::Result<ProcSample> {
        procstat::sample(self.child.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let start = Instant::now();
        while start.elapsed() < EXIT_GRACE {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our echo server: this executable's `echo-server` mode.
pub fn ours(workers: usize, spin_rounds: u32) -> io::Result<Server> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args([
        "echo-server",
        "127.0.0.1:0",
        "--workers",
        &workers.to_string(),
    ]);
    cmd.args(["--spin", &spin_rounds.to_string()]);
    Server::start("netpoll (coroutines)", cmd)
}

/// Go's echo server, built by [`build_go`].
pub fn go(exe: &Path) -> io::Result<Server> {
    let mut cmd = Command::new(exe);
    cmd.args(["echo-server", "127.0.0.1:0"]);
    Server::start("Go 1.19", cmd)
}

/// The Go toolchain: `$NETPOLL_GO`, else `go` on the PATH, else Debian's golang-1.19-go.
fn find_go() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NETPOLL_GO") {
        return Some(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("go"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let deb = PathBuf::from("/usr/lib/go-1.19/bin/go");
        deb.is_file().then_some(deb)
    })
}

/// Build the Go benchmark program (`real/bench/go`) into the workspace's `target/`. Returns
/// the executable and the toolchain's version, or why it could not.
pub fn build_go() -> Result<(PathBuf, String), String> {
    let go = find_go()
        .ok_or("no Go toolchain (apt-get install golang-1.19-go, or set NETPOLL_GO)".to_string())?;
    let version = Command::new(&go)
        .arg("version")
        .output()
        .map_err(|e| format!("{}: {e}", go.display()))?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/go");
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/netpoll-bench-go");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let exe = out_dir.join("netpollbench");
    let status = Command::new(&go)
        .args(["build", "-o"])
        .arg(&exe)
        .arg(".")
        .current_dir(&src)
        .env("GOFLAGS", "-mod=mod")
        .status()
        .map_err(|e| format!("go build: {e}"))?;
    if !status.success() {
        return Err(format!("go build failed ({status})"));
    }
    Ok((exe, version))
}
