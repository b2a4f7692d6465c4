//! Micro benchmarks of the engine, callable from a bench binary. They print their figures;
//! nothing here asserts on time.

use crate::engine::sync::atomic::{AtomicU32, Ordering};
use crate::engine::thread;
use crate::{scenario_check, Builder, MemoryModel, Report, Strategy, Subject};
use netpoll::scenarios::Scenario;
use netpoll::Protocol;
use std::sync::Arc;

pub mod graph;

/// The store-buffering litmus test with relaxed accesses (two tasks, each stores one location
/// and loads the other).
pub fn sb_relaxed() {
    let x = Arc::new(AtomicU32::new(0));
    let y = Arc::new(AtomicU32::new(0));
    let (x1, y1) = (x.clone(), y.clone());
    let h = thread::spawn(move || {
        x1.store(1, Ordering::Relaxed);
        y1.load(Ordering::Relaxed)
    });
    y.store(1, Ordering::Relaxed);
    let _r2 = x.load(Ordering::Relaxed);
    let _r1 = h.join().unwrap();
}

/// Run `schedules` random schedules of the SB litmus test under `memory`, print schedules/s
/// and steps/s, and return the report.
pub fn sb_litmus(schedules: u64, memory: MemoryModel) -> Report {
    let b = Builder::default()
        .strategy(Strategy::Random)
        .memory(memory)
        .schedules(schedules)
        .seed(1);
    let r = b.explore(sb_relaxed);
    println!(
        "sb-litmus ({memory}): {} schedules, {} steps in {:.3}s: {:.0} schedules/s, {:.0} steps/s",
        r.schedules,
        r.steps,
        r.elapsed.as_secs_f64(),
        r.schedules_per_sec(),
        r.steps_per_sec()
    );
    r
}

/// Figures for finding golang/go#45211: schedules and wall time to the first failure of
/// `scenario` under the pre-fix protocol (c11), from each of `seeds` starting seeds.
pub struct FindStats {
    /// The strategy used.
    pub strategy: Strategy,
    /// Schedules to the first failure, per seed (`None`: not found within the budget).
    pub schedules: Vec<Option<u64>>,
    /// Wall time to the first failure, per seed, in seconds.
    pub seconds: Vec<f64>,
}

impl FindStats {
    fn found(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.schedules.iter().flatten().copied().collect();
        v.sort_unstable();
        v
    }
    /// Median schedules to find (over the seeds where it was found).
    pub fn median_schedules(&self) -> Option<u64> {
        let v = self.found();
        (!v.is_empty()).then(|| v[v.len() / 2])
    }
    /// Most schedules any seed needed (None if some seed did not find it).
    pub fn max_schedules(&self) -> Option<u64> {
        if self.schedules.iter().any(Option::is_none) {
            return None;
        }
        self.found().last().copied()
    }
    /// Median and maximum wall time, in seconds.
    pub fn seconds_median_max(&self) -> (f64, f64) {
        let mut v = self.seconds.clone();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    }
}

/// Explore `scenario` under PreFix45211 and c11 from seeds `1..=seeds` with `strategy`, each
/// with a budget of `budget` schedules, recording when the bug was first found; prints one
/// summary line.
pub fn find_45211(scenario: Scenario, strategy: Strategy, seeds: u64, budget: u64) -> FindStats {
    let mut stats = FindStats {
        strategy,
        schedules: Vec::new(),
        seconds: Vec::new(),
    };
    for seed in 1..=seeds {
        let check = scenario_check(scenario, Protocol::PreFix45211);
        let r = Builder::default()
            .strategy(strategy)
            .memory(MemoryModel::C11)
            .seed(seed)
            .schedules(budget)
            .stop_at_first_failure(true)
            .explore(check);
        stats
            .schedules
            .push(r.first_failure.as_ref().map(|f| f.schedule_index + 1));
        stats.seconds.push(r.elapsed.as_secs_f64());
    }
    let (med_s, max_s) = stats.seconds_median_max();
    let show = |v: Option<u64>| v.map_or("not found".to_string(), |n| n.to_string());
    println!(
        "find #45211 ({scenario}, prefix-45211, c11, {strategy}): {} of {seeds} seeds found it; \
         schedules to first failure: median {}, max {}; wall time: median {:.2} ms, max {:.2} ms",
        stats.schedules.iter().flatten().count(),
        show(stats.median_schedules()),
        show(stats.max_schedules()),
        med_s * 1e3,
        max_s * 1e3,
    );
    stats
}

/// Throughput of `schedules` random schedules of `scenario` under the fixed protocol (c11):
/// prints schedules/s and steps/s.
pub fn scenario_throughput(scenario: Scenario, schedules: u64) -> Report {
    let check = scenario_check(scenario, Protocol::Fixed);
    let r = Builder::default()
        .strategy(Strategy::Random)
        .memory(MemoryModel::C11)
        .seed(1)
        .schedules(schedules)
        .explore(check);
    println!(
        "{scenario} (fixed, c11, random): {} schedules, {} steps in {:.3}s: {:.0} schedules/s, {:.0} steps/s ({:.0} steps/schedule)",
        r.schedules,
        r.steps,
        r.elapsed.as_secs_f64(),
        r.schedules_per_sec(),
        r.steps_per_sec(),
        r.steps as f64 / r.schedules.max(1) as f64,
    );
    r
}

/// Trace figures for `scenario`'s #45211 failure (pre-fix, c11, seed 0): trace bytes per step,
/// and the time to replay it (decode, run, byte comparison) against the time of one run of the
/// same schedule without the comparison, best of `reps` each, measured alternately.
pub fn trace_figures(scenario: Scenario, reps: u32) {
    use crate::trace::{decode, encode};
    use std::time::{Duration, Instant};
    let check = scenario_check(scenario, Protocol::PreFix45211);
    let b = Builder::default()
        .strategy(Strategy::Random)
        .memory(MemoryModel::C11)
        .schedules(1_000)
        .stop_at_first_failure(true);
    let r = b.explore(check);
    let Some(info) = r.first_failure else {
        println!("trace figures ({scenario}): no failure found");
        return;
    };
    let trace = b.trace(Subject::Builtin(check), &info, false);
    let bytes = encode(&trace).expect("encode");
    let steps = info.log.events.last().map_or(0, |e| e.step + 1);
    let (mut best_run, mut best_replay) = (Duration::MAX, Duration::MAX);
    for _ in 0..reps {
        let t = Instant::now();
        let _ = b.replay(&trace, check);
        best_run = best_run.min(t.elapsed());
        let t = Instant::now();
        let decoded: crate::Trace = decode(&bytes).expect("decode");
        b.replay(&decoded, check).expect("byte-identical replay");
        best_replay = best_replay.min(t.elapsed());
    }
    println!(
        "trace ({scenario}, prefix-45211, c11): {} bytes for {steps} steps = {:.1} bytes/step \
         ({} events, {} choices); replay (decode + run + compare) {:.1} us vs the run alone \
         {:.1} us: {:.2}x",
        bytes.len(),
        bytes.len() as f64 / steps.max(1) as f64,
        info.log.events.len(),
        info.choices.len(),
        best_replay.as_secs_f64() * 1e6,
        best_run.as_secs_f64() * 1e6,
        best_replay.as_secs_f64() / best_run.as_secs_f64().max(1e-12),
    );
}

/// For every litmus test of the reference table, under sc and c11: the schedules of the
/// complete depth-first search and the distinct executions among them (by
/// [`litmus::signature`](crate::litmus::signature)), and their ratio.
pub fn litmus_report() {
    println!("litmus (complete dfs, no preemption bound): schedules / distinct executions");
    for l in crate::litmus::ALL {
        let mut line = format!("  {:<12}", l.name);
        for memory in [MemoryModel::Sc, MemoryModel::C11] {
            let mut seen = std::collections::BTreeSet::new();
            let r = Builder::default()
                .strategy(Strategy::Dfs)
                .memory(memory)
                .schedules(u64::MAX)
                .explore_observing(l.body, |log, _| {
                    seen.insert(crate::litmus::signature(log));
                });
            line.push_str(&format!(
                "  {memory}: {:>6} / {:>4} = {:>6.1}{}",
                r.schedules,
                seen.len(),
                r.schedules as f64 / seen.len().max(1) as f64,
                if r.complete() { "" } else { " (incomplete)" }
            ));
        }
        println!("{line}");
    }
}

/// The commit of the engine before the re-layering (issue 7), for [`relayer_comparison`].
pub const OLD_ENGINE_COMMIT: &str = "5ef04b1";

/// Build the engine of [`OLD_ENGINE_COMMIT`] in a worktree under `target/`, with the probe of
/// `sim/bench/probe_5ef04b1.rs`, and return the probe's path (or why it could not be built).
fn build_old_probe() -> Result<std::path::PathBuf, String> {
    use std::process::Command;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root
        .join("target")
        .join(format!("bench-engine-{OLD_ENGINE_COMMIT}"));
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?}: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ))
        }
    };
    if !dir.join("Cargo.toml").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        run(Command::new("git")
            .current_dir(&root)
            .args(["worktree", "add", "--detach", "-f"])
            .arg(&dir)
            .arg(OLD_ENGINE_COMMIT))?;
    }
    std::fs::copy(
        root.join("sim/bench/probe_5ef04b1.rs"),
        dir.join("sim/examples/probe_5ef04b1.rs"),
    )
    .map_err(|e| format!("copy the probe: {e}"))?;
    println!(
        "building the engine of {OLD_ENGINE_COMMIT} in {} ...",
        dir.display()
    );
    run(Command::new("cargo").current_dir(&dir).args([
        "build",
        "--release",
        "-q",
        "-p",
        "netpoll-sim",
        "--example",
        "probe_5ef04b1",
    ]))?;
    Ok(dir.join("target/release/examples/probe_5ef04b1"))
}

/// The re-layering must not cost more than 5%: steps/s and schedules/s on
/// `close-unblocks-read` (fixed, c11, random, seed 1) of the engine before it
/// ([`OLD_ENGINE_COMMIT`], built in a worktree) and of this one, in alternating rounds of
/// `schedules` schedules, side by side.
pub fn relayer_comparison(rounds: u32, schedules: u64) {
    let probe = match build_old_probe() {
        Ok(p) => p,
        Err(e) => {
            println!("relayer comparison skipped: {e}");
            return;
        }
    };
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let out = std::process::Command::new(&probe)
            .arg(schedules.to_string())
            .output();
        let figures: Vec<f64> = match &out {
            Ok(o) => String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect(),
            Err(_) => Vec::new(),
        };
        if let [s, st, secs] = figures[..] {
            old.push((s / secs, st / secs));
        }
        let r = Builder::default()
            .strategy(Strategy::Random)
            .memory(MemoryModel::C11)
            .seed(1)
            .schedules(schedules)
            .explore(scenario_check(Scenario::CloseUnblocksRead, Protocol::Fixed));
        new.push((r.schedules_per_sec(), r.steps_per_sec()));
    }
    let median = |v: &mut Vec<(f64, f64)>, k: usize| -> f64 {
        let mut xs: Vec<f64> = v.iter().map(|p| if k == 0 { p.0 } else { p.1 }).collect();
        xs.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        xs.get(xs.len() / 2).copied().unwrap_or(0.0)
    };
    if old.is_empty() {
        println!("relayer comparison: the old probe printed nothing");
        return;
    }
    let (os, ost) = (median(&mut old, 0), median(&mut old, 1));
    let (ns, nst) = (median(&mut new, 0), median(&mut new, 1));
    println!(
        "re-layering (close-unblocks-read, fixed, c11, random; median of {rounds} alternating rounds of {schedules}):"
    );
    println!("  before ({OLD_ENGINE_COMMIT}): {os:>10.0} schedules/s {ost:>12.0} steps/s");
    println!("  after  (this tree): {ns:>10.0} schedules/s {nst:>12.0} steps/s");
    println!(
        "  after/before: schedules/s {:.3}, steps/s {:.3}",
        ns / os.max(1e-9),
        nst / ost.max(1e-9)
    );
}

/// The machine's CPU time so far (all cores, in the kernel's ticks): (busy, total), from
/// `/proc/stat`; `None` where there is no such file.
fn machine_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = text
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|w| w.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let total: u64 = cpu.iter().take(8).sum();
    let idle = cpu.get(3)? + cpu.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// This process's CPU time (user and system) so far.
fn process_cpu() -> std::time::Duration {
    // SAFETY: `getrusage` only writes the `rusage` it is given, which is plain data that
    // may start zeroed.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| {
        std::time::Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// The load averages, as `/proc/loadavg` says them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// One timed exploration for [`parallel_speedup`]: schedules/s, the cores this process kept
/// busy, the share of the machine's CPU time others used, and the figures that must not
/// depend on the jobs.
fn timed_run(jobs: usize, schedules: u64) -> (f64, f64, f64, (u64, u64, u64)) {
    let before = (machine_ticks(), process_cpu());
    let r = Builder::default()
        .strategy(Strategy::Random)
        .memory(MemoryModel::C11)
        .seed(1)
        .schedules(schedules)
        .jobs(jobs)
        .explore(scenario_check(Scenario::CloseUnblocksRead, Protocol::Fixed));
    let after = (machine_ticks(), process_cpu());
    let wall = r.elapsed.as_secs_f64().max(1e-9);
    let ours = (after.1 - before.1).as_secs_f64();
    let others = match (before.0, after.0) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            // Ticks are per core; `ours` is in seconds of one core.
            let tick_s = wall / ((t1 - t0) as f64 / cores() as f64);
            let busy = (b1 - b0) as f64 * tick_s;
            ((busy - ours).max(0.0) / (wall * cores() as f64)).min(1.0)
        }
        _ => f64::NAN,
    };
    (
        r.schedules_per_sec(),
        ours / wall,
        others,
        (r.schedules, r.steps, r.failures),
    )
}

fn cores() -> usize {
    crate::builder::default_jobs()
}

/// Iterations of [`spin_rate`]'s loop per thread (a few hundred milliseconds).
const SPIN_ITERATIONS: u64 = 400_000_000;

/// A perfectly parallel reference: `threads` threads each spinning through integer mixing,
/// sharing nothing; iterations per second. What it gains from more threads is what the
/// machine gives a process at that moment (on a shared machine, often less than its cores).
fn spin_rate(threads: usize) -> f64 {
    let t = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut x = 0u64;
                for i in 0..SPIN_ITERATIONS {
                    x = x.wrapping_add(i ^ (x >> 3));
                }
                std::hint::black_box(x);
            });
        }
    });
    (threads as u64 * SPIN_ITERATIONS) as f64 / t.elapsed().as_secs_f64().max(1e-9)
}

/// Parallel speed-up of `close-unblocks-read` (fixed, c11, random, seed 1): schedules/s with
/// 1, 2 and all jobs (the core count), in `rounds` alternating rounds of `schedules`
/// schedules, the median of each side by side, with the ratio to one job, the cores this
/// process kept busy, how much of the machine other processes used meanwhile, and - in the
/// same rounds - the ratio a perfectly parallel loop got (`spin_rate`), so that a ratio
/// below the jobs on a shared machine can be read for what it is.
pub fn parallel_speedup(rounds: u32, schedules: u64) {
    let mut jobs = vec![1, 2, cores()];
    jobs.dedup();
    println!(
        "parallel speed-up (close-unblocks-read, fixed, c11, random, seed 1; {schedules} schedules a run, median of {rounds} alternating rounds; {} cores; load average before: {})",
        cores(),
        load_average()
    );
    type Run = (f64, f64, f64, (u64, u64, u64));
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); jobs.len()];
    let mut spins: Vec<Vec<f64>> = vec![Vec::new(); jobs.len()];
    for _ in 0..rounds {
        for (i, &j) in jobs.iter().enumerate() {
            runs[i].push(timed_run(j, schedules));
            spins[i].push(spin_rate(j));
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let rates: Vec<f64> = runs
        .iter()
        .map(|r| median(&r.iter().map(|x| x.0).collect::<Vec<_>>()))
        .collect();
    let spin: Vec<f64> = spins.iter().map(|s| median(s)).collect();
    for (i, &j) in jobs.iter().enumerate() {
        let busy = median(&runs[i].iter().map(|r| r.1).collect::<Vec<_>>());
        let others = median(&runs[i].iter().map(|r| r.2).collect::<Vec<_>>());
        let same = runs[i].iter().all(|r| r.3 == runs[0][0].3);
        let (sim, reference) = (rates[i] / rates[0], spin[i] / spin[0]);
        println!(
            "  {j} job{}: {:>8.0} schedules/s  x{sim:.2} of 1 job ({:.2} per job); a parallel loop got x{reference:.2} meanwhile (the simulator: {:.0}% of that); CPU per schedule {:.1} us; this process kept {busy:.2} cores busy, others used {:.0}% of the machine{}",
            if j == 1 { " " } else { "s" },
            rates[i],
            sim / j as f64,
            100.0 * sim / reference.max(1e-9),
            1e6 * busy / rates[i].max(1e-9),
            others * 100.0,
            if same { "" } else { "  (REPORT DIFFERS FROM 1 JOB)" }
        );
    }
    println!("  load average after: {}", load_average());
}

/// The throughput figures: schedules/s and steps/s on the netpoll scenarios and SB.
pub fn throughput() {
    scenario_throughput(Scenario::CloseUnblocksRead, 200_000);
    scenario_throughput(Scenario::WriteWakesRead, 100_000);
    sb_litmus(500_000, MemoryModel::C11);
}

/// Every simulator benchmark of the bench command, printed.
pub fn run_all() {
    println!("== simulator ==");
    for strategy in [Strategy::Random, Strategy::Pct] {
        for scenario in [Scenario::CloseUnblocksRead, Scenario::DeadlineUnblocksRead] {
            find_45211(scenario, strategy, 20, 100_000);
        }
    }
    scenario_throughput(Scenario::CloseUnblocksRead, 200_000);
    scenario_throughput(Scenario::WriteWakesRead, 100_000);
    sb_litmus(500_000, MemoryModel::C11);
    sb_litmus(500_000, MemoryModel::Sc);
    litmus_report();
    trace_figures(Scenario::CloseUnblocksRead, 200);
    trace_figures(Scenario::DeadlineUnblocksRead, 200);
    graph::all();
    parallel_speedup(5, 100_000);
}
