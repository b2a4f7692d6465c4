//! The crate's shape: three layers that never import upward (the engine knows nothing of
//! netpoll; the netpoll platform knows nothing of the builder), and no module cycles.
//!
//! It reads the sources: every `crate::` path in code (not comments) is an edge from the file's
//! module to the module it names. Modules are compared at the granularity of the layering:
//! `engine::rt`, `engine::memory`, ... inside the engine, `platform`, `builder`, ... above it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The node a module path belongs to: `engine::X` inside the engine, the first segment
/// elsewhere.
fn node(path: &[&str]) -> String {
    match path {
        ["engine", second, ..] => format!("engine::{second}"),
        [first, ..] => first.to_string(),
        [] => "crate".to_string(),
    }
}

/// A file's module path: `engine/rt/exec.rs` is `engine::rt::exec`, a `mod.rs` its directory.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts
}

/// The code of a file without comments.
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b` path in `code`, as segments.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if rest[..i].ends_with('$') {
            // `$crate::` in an exported macro names the crate's public paths, as a user does.
            rest = after;
            continue;
        }
        let path: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let segs: Vec<String> = path
            .split("::")
            .filter(|s| !s.is_empty() && s.chars().next().is_some_and(|c| c.is_lowercase()))
            .map(str::to_string)
            .collect();
        if !segs.is_empty() {
            out.push(segs);
        }
        rest = &after[path.len().max(1).min(after.len())..];
    }
    out
}

struct Graph {
    /// node -> nodes it uses, with one file that shows each edge.
    edges: BTreeMap<String, BTreeMap<String, String>>,
    /// Files that name the `netpoll` crate, by node.
    uses_netpoll: BTreeMap<String, String>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut g = Graph {
        edges: BTreeMap::new(),
        uses_netpoll: BTreeMap::new(),
    };
    for f in files {
        let module = module_of(&src, &f);
        if module.first().is_some_and(|m| m == "bin") {
            continue; // the command line is a separate crate on top of everything
        }
        if module.last().is_some_and(|m| m == "tests") {
            continue; // a `#[cfg(test)] mod tests` may drive its module from any layer
        }
        let from = node(&module.iter().map(String::as_str).collect::<Vec<_>>());
        let text = code(&std::fs::read_to_string(&f).unwrap());
        let shown = f.strip_prefix(&src).unwrap().display().to_string();
        for p in crate_paths(&text) {
            let to = node(&p.iter().map(String::as_str).collect::<Vec<_>>());
            if to != from {
                g.edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| shown.clone());
            }
        }
        if text.contains("netpoll::") || text.contains("use netpoll") {
            g.uses_netpoll.entry(from.clone()).or_insert(shown);
        }
        g.edges.entry(from).or_default();
    }
    g
}

#[test]
fn the_engine_knows_nothing_of_netpoll_or_the_layers_above() {
    let g = graph();
    let mut bad = Vec::new();
    for (from, tos) in &g.edges {
        if !from.starts_with("engine") {
            continue;
        }
        for (to, file) in tos {
            if !to.starts_with("engine") {
                bad.push(format!("{file}: {from} uses {to}"));
            }
        }
        if let Some(file) = g.uses_netpoll.get(from) {
            bad.push(format!("{file}: {from} names the netpoll crate"));
        }
    }
    for (from, tos) in &g.edges {
        if from == "platform" {
            for (to, file) in tos {
                if ["builder", "bench", "trace"].contains(&to.as_str()) {
                    bad.push(format!("{file}: the platform uses {to}, a layer above it"));
                }
            }
        }
    }
    assert!(bad.is_empty(), "layering broken:\n{}", bad.join("\n"));
    // The test sees the layers it checks.
    assert!(g.edges.contains_key("engine::rt") && g.edges.contains_key("platform"));
}

#[test]
fn no_module_cycles() {
    let g = graph();
    // Depth-first search for a back edge.
    fn visit(
        n: &str,
        g: &Graph,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for to in g.edges.get(n).into_iter().flat_map(|m| m.keys()) {
            match state.get(to.as_str()).copied().unwrap_or(0) {
                1 => {
                    let i = stack.iter().position(|s| s == to).unwrap();
                    let mut cycle = stack[i..].to_vec();
                    cycle.push(to.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(to, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    let nodes: BTreeSet<String> = g.edges.keys().cloned().collect();
    for n in &nodes {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(cycle) = visit(n, &g, &mut state, &mut Vec::new()) {
                let why: Vec<String> = cycle
                    .windows(2)
                    .map(|w| format!("{} -> {} ({})", w[0], w[1], g.edges[&w[0]][&w[1]]))
                    .collect();
                panic!("module cycle:\n{}", why.join("\n"));
            }
        }
    }
    assert!(nodes.len() > 10, "{nodes:?}");
}
