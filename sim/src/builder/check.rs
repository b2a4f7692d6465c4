//! Checks: what `Builder::check` runs. A check is a body (run once per schedule) and, when
//! it can be known, the subject its traces record: a built-in scenario check, or the test the
//! check was written in (found from what cargo and libtest tell the test process).

use super::settings::Env;
use super::{Builder, Subject};
use crate::engine::trace::TestId;
use crate::platform::scenario::ScenarioCheck;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

/// Makes a check's body on another thread: each thread of an exploration runs its own.
pub type Share = Arc<dyn Fn() -> Rc<dyn Fn()> + Send + Sync>;

/// A check ready to run.
#[derive(Clone)]
pub struct Check {
    /// What its traces record (`None`: unknown, so a failure cannot be saved for replay).
    pub subject: Option<Subject>,
    /// One run, on the calling thread.
    pub body: Rc<dyn Fn()>,
    /// The body for other threads (`None`: the check runs on the calling thread only,
    /// whatever [`Builder::jobs`] says).
    pub share: Option<Share>,
}

/// Something [`Builder::check`] can run: a closure (a check written in a test), or a built-in
/// scenario check.
///
/// A closure must be `Send + Sync`: an exploration runs it on [`Builder::jobs`] threads at
/// once, each run in its own simulation. State it shares between runs (a set of outcomes
/// seen, say) is shared between threads too, and runs come in no particular order; a check
/// that needs its runs one at a time, in schedule order, sets `jobs(1)`.
pub trait IntoCheck {
    /// The check, under the builder's configuration.
    fn into_check(self, b: &Builder, env: &Env) -> Check;
}

impl<F: Fn() + Send + Sync + 'static> IntoCheck for F {
    fn into_check(self, _: &Builder, env: &Env) -> Check {
        let f = Arc::new(self);
        let local = f.clone();
        Check {
            subject: current_test(env).map(Subject::Test),
            body: Rc::new(move || local()),
            share: Some(Arc::new(move || {
                let f = f.clone();
                Rc::new(move || f()) as Rc<dyn Fn()>
            })),
        }
    }
}

impl IntoCheck for ScenarioCheck {
    /// The builder's faults, when set, are the check's.
    fn into_check(self, b: &Builder, _: &Env) -> Check {
        let c = if b.faults.is_none() {
            self
        } else {
            self.faults(b.faults)
        };
        Check {
            subject: Some(Subject::Builtin(c)),
            body: Rc::new(move || c.run()),
            share: Some(Arc::new(move || Rc::new(move || c.run()) as Rc<dyn Fn()>)),
        }
    }
}

thread_local! {
    /// How many checks the current test thread has started (libtest runs each test on a
    /// thread of its own, so this numbers the checks of one test).
    static CHECKS_IN_TEST: Cell<u32> = const { Cell::new(0) };
}

/// The test this check runs in: the package from cargo, the test target from the test
/// binary's name, the test's name from libtest's thread name, and which check of the test
/// it is (the first is 0). `None` outside a test.
fn current_test(env: &Env) -> Option<TestId> {
    let package = env.get("CARGO_PKG_NAME")?.to_string();
    let thread = std::thread::current();
    let name = thread.name().filter(|n| *n != "main")?.to_string();
    let exe = std::env::current_exe().ok()?;
    let stem = exe.file_stem()?.to_string_lossy().into_owned();
    // Test binaries are named `{target}-{16 hex digits}`; the library's is the crate's name.
    let target = match stem.rsplit_once('-') {
        Some((t, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            t.to_string()
        }
        _ => stem,
    };
    let lib = target.replace('-', "_") == package.replace('-', "_");
    let index = CHECKS_IN_TEST.with(|c| {
        let i = c.get();
        c.set(i + 1);
        i
    });
    let name = if index == 0 {
        name
    } else {
        format!("{name}#{index}")
    };
    Some(TestId {
        package,
        target: if lib { String::new() } else { target },
        name,
    })
}

/// The command that replays a trace of test `t` saved at `path` (absolute).
pub fn test_replay_command(t: &TestId, path: &std::path::Path) -> String {
    let target = if t.target.is_empty() {
        "--lib".to_string()
    } else {
        format!("--test {}", t.target)
    };
    let name = t.name.split('#').next().unwrap_or(&t.name);
    format!(
        "NETPOLL_SIM_REPLAY={} cargo test -p {} {target} -- --exact {name}",
        path.display(),
        t.package
    )
}
