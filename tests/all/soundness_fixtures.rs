//! The soundness fixtures (`corpus/fixtures/soundness/*.wat`): constructs that once made the
//! analyzer miss a reachable import. Each header states the complete edge set, each entry
//! point's complete capability set and the complete list of unreachable imports (asserted
//! both ways), and `live:` runs: the fixture is run under real wasmtime (PyPI `wasmtime`,
//! installed by scripts/install-wasmtime-py.sh) and the imports it calls must be exactly the
//! stated ones, and each must be predicted by the analysis for the entry that ran.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use wasmgate_analyzer::{Analysis, CapabilityTable, UNKNOWN_HOST, UNKNOWN_HOST_NODE};

use crate::callgraph_fixtures::expected;
use crate::common::{files_with_ext, root};

/// One `live:` line: `CALL[,CALL...] [ARG...] [as ENTRY[,ENTRY...]] => LABEL, ...`.
#[derive(Debug)]
struct Live {
    calls: String,
    args: Vec<String>,
    /// Entry points that must predict the calls; the called exports when not stated.
    entries: Vec<String>,
    called: BTreeSet<String>,
}

fn fixtures() -> Vec<PathBuf> {
    let dir = root().join("corpus/fixtures/soundness");
    let files: Vec<PathBuf> = files_with_ext(&dir, "wat")
        .into_iter()
        .filter(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy();
            !stem.ends_with(".provider") && !stem.ends_with(".driver")
        })
        .collect();
    assert!(
        files.len() >= 9,
        "expected the soundness fixtures in {}",
        dir.display()
    );
    files
}

fn header_lines<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(";;"))
        .filter_map(|l| l.trim().strip_prefix(key))
        .map(str::trim)
        .collect()
}

fn list(s: &str) -> BTreeSet<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

fn live_lines(text: &str) -> Vec<Live> {
    header_lines(text, "live:")
        .into_iter()
        .map(|l| {
            let (run, called) = l.split_once("=>").expect("live: RUN => LABELS");
            let (run, entries) = match run.split_once(" as ") {
                Some((r, e)) => (r, Some(e)),
                None => (run, None),
            };
            let mut words = run.split_whitespace();
            let calls = words.next().expect("live: needs a call").to_string();
            let args = words.map(String::from).collect();
            let entries = entries.map_or_else(
                || calls.split(',').map(String::from).collect(),
                |e| list(e).into_iter().collect(),
            );
            Live {
                calls,
                args,
                entries,
                called: list(called),
            }
        })
        .collect()
}

fn analyze(file: &Path) -> Analysis {
    let name = file.display();
    let wasm = wat::parse_file(file).unwrap_or_else(|e| panic!("{name}: {e}"));
    wasmgate_analyzer::analyze(&wasm).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn soundness_fixtures_match_ground_truth() {
    let mut failures = Vec::new();
    for file in fixtures() {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let want = expected(&text);
        let unreachable = header_lines(&text, "expect-unreachable:");
        assert_eq!(
            unreachable.len(),
            1,
            "{name}: state `expect-unreachable:` once"
        );
        let want_unreachable = list(unreachable[0]);
        assert!(!want.edges.is_empty(), "{name}: header states no edges");
        let a = analyze(&file);
        let g = &a.module.as_ref().unwrap().call_graph;
        let got_edges: BTreeSet<(String, String)> = g
            .edges
            .iter()
            .map(|(x, y)| {
                let n = |i: &u32| g.nodes[*i as usize].name.clone();
                (n(x), n(y))
            })
            .collect();
        let got_caps: BTreeMap<String, BTreeSet<String>> = a
            .entry_points
            .iter()
            .map(|e| {
                let caps = e.reaches.iter().map(|r| r.capability.clone()).collect();
                (e.name.clone(), caps)
            })
            .collect();
        let got_unreachable: BTreeSet<String> = a.unreachable_imports.iter().cloned().collect();
        if got_edges != want.edges {
            let missing: Vec<_> = want.edges.difference(&got_edges).collect();
            let extra: Vec<_> = got_edges.difference(&want.edges).collect();
            failures.push(format!(
                "{name}: edges differ\n  missing: {missing:?}\n  extra: {extra:?}"
            ));
        }
        if got_caps != want.caps {
            failures.push(format!(
                "{name}: entry capabilities differ\n  want: {:?}\n  got:  {got_caps:?}",
                want.caps
            ));
        }
        if got_unreachable != want_unreachable {
            failures.push(format!(
                "{name}: unreachable imports differ\n  want: {want_unreachable:?}\n  got:  {got_unreachable:?}"
            ));
        }
        let check = g.witnesses();
        for e in &a.entry_points {
            for r in &e.reaches {
                if let Some(d) = check.defect(r) {
                    failures.push(format!("{name}: {}: {d}", e.name));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreement(s) with the fixtures' ground truth:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The venv's python, installed by scripts/install-wasmtime-py.sh.
fn python() -> PathBuf {
    let venv = std::env::var_os("WASMGATE_PYENV").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/wasmgate/pyenv"),
        PathBuf::from,
    );
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "{} is missing: run scripts/install-wasmtime-py.sh (scripts/test.sh does)",
        py.display()
    );
    py
}

/// Runs one `live:` line under wasmtime and returns the labels it recorded.
fn run_live(py: &Path, file: &Path, live: &Live) -> BTreeSet<String> {
    let runner = root().join("corpus/fixtures/soundness/run_live.py");
    let child = Command::new(py)
        .arg(&runner)
        .arg(file)
        .arg(&live.calls)
        .args(&live.args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the wasmtime runner");
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("wait for the runner"),
        Err(_) => {
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!(
                "{}: {}: the runner did not finish in 60 s",
                file.display(),
                live.calls
            );
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}: {}: runner failed: {}{}",
        file.display(),
        live.calls,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("runner JSON");
    v["called"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Labels an entry point predicts: the names of every node reachable from its function, or,
/// for entries without one function (`<escaped>`), the imports whose whole capability set it
/// reaches and which are not listed unreachable (`<unknown-host>`: it reaches `unknown-host`).
fn predicts(a: &Analysis, entry: &str, label: &str) -> bool {
    let g = &a.module.as_ref().unwrap().call_graph;
    let export = a
        .exports
        .iter()
        .find(|e| e.name == entry && e.kind == wasmgate_analyzer::ExternKind::Func);
    if let Some(export) = export {
        let mut succ: Vec<Vec<u32>> = vec![Vec::new(); g.nodes.len()];
        for &(x, y) in &g.edges {
            succ[x as usize].push(y);
        }
        let start = g
            .nodes
            .iter()
            .find(|n| n.function == Some(export.index))
            .expect("node of the exported function")
            .id;
        let mut seen = vec![false; g.nodes.len()];
        let mut queue = VecDeque::from([start]);
        seen[start as usize] = true;
        while let Some(u) = queue.pop_front() {
            if g.nodes[u as usize].name == label {
                return true;
            }
            for &v in &succ[u as usize] {
                if !std::mem::replace(&mut seen[v as usize], true) {
                    queue.push_back(v);
                }
            }
        }
        return false;
    }
    let Some(e) = a.entry_points.iter().find(|e| e.name == entry) else {
        return false;
    };
    let caps: BTreeSet<&str> = e.reaches.iter().map(|r| r.capability.as_str()).collect();
    if label == UNKNOWN_HOST_NODE {
        return caps.contains(UNKNOWN_HOST);
    }
    let (module, name) = label.split_once('#').expect("import id");
    let class = CapabilityTable::builtin().unwrap().classify(module, name);
    !a.unreachable_imports.iter().any(|u| u == label)
        && class.capabilities.iter().all(|c| caps.contains(c.as_str()))
}

#[test]
fn soundness_fixtures_run_live_under_wasmtime() {
    let py = python();
    let mut failures = Vec::new();
    for file in fixtures() {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let lives = live_lines(&text);
        assert!(
            !lives.is_empty() || !header_lines(&text, "live-skip:").is_empty(),
            "{name}: state `live:` runs or say why wasmtime cannot run it (`live-skip:`)"
        );
        let a = analyze(&file);
        for live in &lives {
            let got = run_live(&py, &file, live);
            if got != live.called {
                failures.push(format!(
                    "{name}: {}: wasmtime called {got:?}, the header says {:?}",
                    live.calls, live.called
                ));
            }
            for label in &got {
                if !live.entries.iter().any(|e| predicts(&a, e, label)) {
                    failures.push(format!(
                        "{name}: {}: wasmtime called {label}, which no entry of {:?} reaches",
                        live.calls, live.entries
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
