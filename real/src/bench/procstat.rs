//! What a server process costs, read from `/proc/PID`: CPU time (user + system, all threads),
//! threads, resident memory.

use std::fs;
use std::io;

/// One reading of a process.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcSample {
    /// User + system CPU time of all its threads, in ns (tick resolution, usually 10 ms).
    pub cpu_ns: u64,
    /// Threads.
    pub threads: u64,
    /// Resident set size, in KiB.
    pub rss_kib: u64,
}

fn ticks_per_s() -> u64 {
    // SAFETY: sysconf with a valid name has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Read process `pid`'s CPU time, threads and RSS.
pub fn sample(pid: u32) -> io::Result<ProcSample> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat: no ')'")))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let num = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat: field {}", i + 3)))
    };
    let ticks = num(11)? + num(12)?;
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(ProcSample {
        cpu_ns: ticks * 1_000_000_000 / ticks_per_s(),
        threads: field("Threads:"),
        rss_kib: field("VmRSS:"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.threads >= 1);
        assert!(s.rss_kib > 0);
    }
}
