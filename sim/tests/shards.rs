//! `--shard i/n` and `merge`: shard processes started here, merged, equal the single-process
//! run exactly; merge refuses a missing, duplicate or foreign shard with one line; the shard
//! comes from a batch engine's variables when no flag gives it.

use netpoll_sim::builder::settings::Env;
use netpoll_sim::engine::explore::Shard;
use netpoll_sim::trace::read_file;
use netpoll_sim::Trace;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_netpoll-sim");

/// The batch engines' variables, removed from every command unless a test sets them.
const BATCH_VARS: [&str; 6] = [
    "JOB_COMPLETION_INDEX",
    "NETPOLL_SIM_SHARD_COUNT",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
];

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    for v in BATCH_VARS {
        c.env_remove(v);
    }
    c
}

fn run(args: &[&str]) -> Output {
    cmd(args).output().expect("run netpoll-sim")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("netpoll-sim-shards")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The campaigns compared: the pre-fix protocol under c11, where failures abound.
fn campaign(strategy: &str) -> Vec<&'static str> {
    let mut a = vec![
        "explore",
        "--scenario",
        "close-unblocks-read",
        "--protocol",
        "prefix-45211",
        "--memory",
        "c11",
    ];
    a.extend(match strategy {
        "random" => ["--strategy", "random", "--seed", "1", "--schedules", "2000"],
        "pct" => ["--strategy", "pct", "--seed", "2", "--schedules", "2000"],
        _ => [
            "--strategy",
            "dfs",
            "--preemptions",
            "3",
            "--schedules",
            "100000",
        ],
    });
    a
}

/// (schedules, steps, failures, first failing index, verdict) from `explore`'s or `merge`'s
/// output.
fn figures(out: &str) -> (u64, u64, u64, Option<u64>, String) {
    let line = out
        .lines()
        .find(|l| {
            l.contains(" steps")
                && l.split_whitespace()
                    .next()
                    .is_some_and(|w| w.parse::<u64>().is_ok())
        })
        .unwrap_or_else(|| panic!("no figures in:\n{out}"));
    let w: Vec<&str> = line.split_whitespace().collect();
    let steps = w[w.iter().position(|x| x.starts_with("steps")).unwrap() - 1];
    let verdict = line.rsplit("; ").next().unwrap().to_string();
    let failures = out
        .lines()
        .find_map(|l| l.split(" failing schedule").next()?.parse().ok())
        .unwrap_or(0);
    let first = out.lines().find_map(|l| {
        let rest = l.split("; the first is schedule ").nth(1)?;
        rest.split([' ', ':']).next()?.parse().ok()
    });
    (
        w[0].parse().unwrap(),
        steps.parse().unwrap(),
        failures,
        first,
        verdict,
    )
}

/// The trace files under `dir`.
fn traces(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(traces(&p));
        } else if p.extension().is_some_and(|x| x == "trace") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Start `n` shard processes of `args` at once (one job each), writing into `dir`.
fn shards(args: &[&str], n: u32, dir: &Path) {
    let children: Vec<_> = (1..=n)
        .map(|i| {
            let shard = format!("{i}/{n}");
            let mut a = args.to_vec();
            a.extend([
                "--jobs",
                "1",
                "--shard",
                &shard,
                "--out",
                dir.to_str().unwrap(),
            ]);
            cmd(&a)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let o = c.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "shard {}: {}", i + 1, stderr(&o));
    }
}

/// 4 shards merged against one process, for one strategy and stopping mode.
fn four_shards_equal_one_process(strategy: &str, keep_going: bool) {
    let name = format!("{strategy}-{}", if keep_going { "all" } else { "first" });
    let dir = tmp(&name);
    let mut args = campaign(strategy);
    if keep_going {
        args.push("--keep-going");
    }
    let single_dir = dir.join("single");
    let mut single_args = args.clone();
    single_args.extend(["--out", single_dir.to_str().unwrap()]);
    let single = run(&single_args);
    let sharded = dir.join("shards");
    shards(&args, 4, &sharded);
    let merged = run(&["merge", sharded.to_str().unwrap()]);
    let (s, m) = (stdout(&single), stdout(&merged));
    assert_eq!(
        merged.status.code(),
        single.status.code(),
        "{name}: the same exit code\n{s}\n{m}\n{}",
        stderr(&merged)
    );
    let (fs, fm) = (figures(&s), figures(&m));
    assert_eq!(fs, fm, "{name}: the same figures\n{s}\n{m}");
    assert!(fs.2 > 0, "{name}: the campaign finds failures\n{s}");
    // The first failure's shrunk trace is the single process's.
    let one: Trace = read_file(&traces(&single_dir)[0]).unwrap();
    let first_line = m
        .lines()
        .skip_while(|l| !l.contains("distinct failure"))
        .nth(1)
        .unwrap();
    let path = first_line.trim().split(" (").next().unwrap();
    let merged_first: Trace = read_file(path).unwrap();
    assert_eq!(
        (&one.choices, &one.events, &one.failure),
        (
            &merged_first.choices,
            &merged_first.events,
            &merged_first.failure
        ),
        "{name}: the same shrunk first failure"
    );
}

#[test]
fn four_random_shards_merge_into_the_single_process_run() {
    four_shards_equal_one_process("random", true);
    four_shards_equal_one_process("random", false);
}

#[test]
fn four_pct_shards_merge_into_the_single_process_run() {
    four_shards_equal_one_process("pct", true);
}

#[test]
fn four_dfs_shards_merge_into_the_single_process_run() {
    four_shards_equal_one_process("dfs", true);
    four_shards_equal_one_process("dfs", false);
}

/// A small campaign without failures, for the refusals.
fn small(seed: &'static str) -> Vec<&'static str> {
    vec![
        "explore",
        "--scenario",
        "close-unblocks-read",
        "--protocol",
        "fixed",
        "--schedules",
        "200",
        "--seed",
        seed,
    ]
}

fn one_line_refusal(o: &Output, what: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}\n{}", stdout(o));
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for w in what {
        assert!(err.contains(w), "{w:?} in {err}");
    }
}

#[test]
fn merge_refuses_a_missing_shard() {
    let dir = tmp("missing");
    shards(&small("0"), 4, &dir);
    std::fs::remove_file(dir.join("shard-3-of-4.json")).unwrap();
    let o = run(&["merge", dir.to_str().unwrap()]);
    one_line_refusal(&o, &["missing 1 of 4 shards: 3"]);
}

#[test]
fn merge_refuses_a_shard_of_another_campaign() {
    let dir = tmp("foreign");
    let (a, b) = (dir.join("a"), dir.join("b"));
    shards(&small("0"), 2, &a);
    shards(&small("7"), 2, &b);
    std::fs::rename(b.join("shard-2-of-2.json"), a.join("shard-2-of-2.json")).unwrap();
    let o = run(&["merge", a.to_str().unwrap()]);
    one_line_refusal(&o, &["another campaign", "shard-2-of-2.json", "seed is 7"]);
    // The same campaign cut in another number of shards is refused too.
    let c = dir.join("c");
    shards(&small("0"), 3, &c);
    let o = run(&[
        "merge",
        a.join("shard-1-of-2.json").to_str().unwrap(),
        c.join("shard-2-of-3.json").to_str().unwrap(),
    ]);
    one_line_refusal(&o, &["shard count"]);
}

#[test]
fn merge_refuses_a_duplicate_shard_and_a_broken_file() {
    let dir = tmp("duplicate");
    let (a, b) = (dir.join("a"), dir.join("b"));
    shards(&small("0"), 2, &a);
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(a.join("shard-1-of-2.json"), b.join("shard-1-of-2.json")).unwrap();
    let o = run(&["merge", a.to_str().unwrap(), b.to_str().unwrap()]);
    one_line_refusal(&o, &["shard 1/2 appears twice"]);
    std::fs::write(
        b.join("shard-1-of-2.json"),
        "{\"format\": \"netpoll-sim shard result\", \"version\": 1, \u{1b}[31m",
    )
    .unwrap();
    let o = run(&["merge", b.to_str().unwrap()]);
    one_line_refusal(&o, &["not a usable shard result"]);
    assert!(!stderr(&o).contains('\u{1b}'), "escaped");
    let o = run(&["merge", dir.join("nowhere").to_str().unwrap()]);
    one_line_refusal(&o, &["nowhere"]);
}

/// A shard run again writes the same result (all but its wall time) and trace.
#[test]
fn a_retried_shard_redoes_the_same_work() {
    let dir = tmp("retry");
    let mut args = campaign("dfs");
    args.extend(["--shard", "2/3", "--out", dir.to_str().unwrap()]);
    let read = || {
        let text = std::fs::read_to_string(dir.join("shard-2-of-3.json")).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_object_mut().unwrap().remove("elapsed_secs");
        (v, traces(&dir))
    };
    let mut jobs1 = args.clone();
    jobs1.extend(["--jobs", "1"]);
    assert_eq!(run(&jobs1).status.code(), Some(0));
    let first = read();
    let mut jobs4 = args.clone();
    jobs4.extend(["--jobs", "4"]);
    assert_eq!(run(&jobs4).status.code(), Some(0));
    assert_eq!(
        first,
        read(),
        "the same units, figures and trace with 1 and 4 jobs"
    );
}

fn shard_file(dir: &Path) -> String {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    names[0].clone()
}

#[test]
fn the_shard_comes_from_kubernetes_and_slurm_variables() {
    // (variables, flags, the result file written)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: &[Case] = &[
        (
            &[("JOB_COMPLETION_INDEX", "2")],
            &["--shard-count", "4"],
            "shard-3-of-4.json",
        ),
        (
            &[
                ("JOB_COMPLETION_INDEX", "0"),
                ("NETPOLL_SIM_SHARD_COUNT", "5"),
            ],
            &[],
            "shard-1-of-5.json",
        ),
        (
            &[
                ("SLURM_ARRAY_TASK_ID", "1"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
            &[],
            "shard-2-of-4.json",
        ),
        (
            &[
                ("SLURM_ARRAY_TASK_ID", "7"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_STEP", "2"),
            ],
            &[],
            "shard-4-of-4.json",
        ),
        // A flag wins over the environment.
        (
            &[
                ("SLURM_ARRAY_TASK_ID", "1"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
            &["--shard", "1/2"],
            "shard-1-of-2.json",
        ),
    ];
    for (i, (vars, flags, file)) in cases.iter().enumerate() {
        let dir = tmp(&format!("batch-{i}"));
        let mut a = small("0");
        a.extend(flags.iter().copied());
        a.extend(["--out", dir.to_str().unwrap()]);
        let mut c = cmd(&a);
        c.envs(vars.iter().copied());
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{vars:?}: {}", stderr(&o));
        assert_eq!(&shard_file(&dir), file, "{vars:?} {flags:?}");
    }
    // Bad values: one line naming the variable.
    for vars in [
        &[("JOB_COMPLETION_INDEX", "2")][..],
        &[
            ("JOB_COMPLETION_INDEX", "4"),
            ("NETPOLL_SIM_SHARD_COUNT", "4"),
        ],
        &[
            ("SLURM_ARRAY_TASK_ID", "x"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ],
        &[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ],
        &[("SLURM_ARRAY_TASK_ID", "1")],
    ] {
        let dir = tmp("batch-bad");
        let mut a = small("0");
        a.extend(["--out", dir.to_str().unwrap()]);
        let mut c = cmd(&a);
        c.envs(vars.iter().copied());
        let o = c.output().unwrap();
        one_line_refusal(&o, &[vars[0].0]);
    }
}

/// The settings' environment reader, directly.
#[test]
fn batch_shards_from_the_environment_reader() {
    let env = |pairs: &[(&str, &str)]| {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    };
    let shard = |i, n| Some(Shard::new(i, n).unwrap());
    assert_eq!(env(&[]).batch_shard(Some(4)).unwrap(), None);
    assert_eq!(
        env(&[("JOB_COMPLETION_INDEX", "3")])
            .batch_shard(Some(4))
            .unwrap(),
        shard(4, 4)
    );
    assert_eq!(
        env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "2")
        ])
        .batch_shard(None)
        .unwrap(),
        shard(1, 2)
    );
    let e = env(&[("JOB_COMPLETION_INDEX", "-1")])
        .batch_shard(Some(4))
        .unwrap_err();
    assert_eq!(e.var, "JOB_COMPLETION_INDEX");
}
