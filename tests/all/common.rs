//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn wasmgate() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wasmgate"));
    // `check` caches results: each test run gets its own cache, so a rerun analyses again
    // instead of reading the previous run's findings (tests of hangs and limits would pass
    // vacuously otherwise).
    cmd.env("XDG_CACHE_HOME", cache_home());
    cmd
}

fn cache_home() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cache-{}", std::process::id()))
    })
}

/// Runs the CLI and returns (exit code, stdout, stderr).
pub fn run(args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = wasmgate()
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wasmgate");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `wasmgate ARGS` with extra environment, failing the test when it takes longer than
/// `hang`; returns (exit code, stdout, stderr). Stdin is empty.
pub fn run_bounded(
    args: &[&str],
    env: &[(&str, &str)],
    hang: std::time::Duration,
) -> (i32, String, String) {
    let mut cmd = wasmgate();
    cmd.args(args).current_dir(root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    output_bounded(cmd, None, hang)
}

/// Runs `cmd` with `stdin` (empty when `None`), failing the test when it takes longer than
/// `hang` (the child is killed first); returns (exit code, stdout, stderr).
pub fn output_bounded(
    mut cmd: std::process::Command,
    stdin: Option<Vec<u8>>,
    hang: std::time::Duration,
) -> (i32, String, String) {
    use std::io::{Read, Write};
    use std::process::Stdio;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    if let Some(bytes) = stdin {
        let mut w = child.stdin.take().unwrap();
        // The child may stop reading early (that is the point of some tests).
        std::thread::spawn(move || {
            let _ = w.write_all(&bytes);
        });
    }
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > hang {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out after {hang:?}: {cmd:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (
        status.code().unwrap_or(-1),
        out.join().unwrap(),
        err.join().unwrap(),
    )
}

/// (name, outcome, matched) of each run of a scenario, from the JSON of `run --scenario` or
/// of an audit's dynamic section.
pub fn run_outcomes(runs: &serde_json::Value) -> Vec<(&str, &str, bool)> {
    runs.as_array()
        .expect("a list of runs")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
                r["matched"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Every `.wat` file below `dir`, sorted.
pub fn wat_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "wat") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

pub fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// The entry points a finding of a `check --format json` report (schema 3) names: its
/// `entry_indices` ranges (`"0-4,7"`) read into its file's `entry_points` table. Panics on
/// an index outside the table or a malformed range.
pub fn finding_entries<'a>(
    file: &'a serde_json::Value,
    finding: &serde_json::Value,
) -> Vec<&'a serde_json::Value> {
    let table = file["entry_points"]
        .as_array()
        .expect("an entry point table");
    let Some(ranges) = finding["entry_indices"].as_str() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for part in ranges.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
        assert!(a <= b, "range {part} runs backwards");
        out.extend((a..=b).map(|i| table.get(i).expect("index inside the table")));
    }
    out
}

/// A funcref table of `size` slots (table 0) and the active segment that puts `functions`
/// at its start: the indirect-call setup the generated size-test modules share.
pub fn funcref_table(
    size: u32,
    functions: &[u32],
) -> (wasm_encoder::TableSection, wasm_encoder::ElementSection) {
    use wasm_encoder::{ConstExpr, ElementSection, Elements, RefType, TableSection, TableType};
    let mut tables = TableSection::new();
    tables.table(TableType {
        element_type: RefType::FUNCREF,
        table64: false,
        minimum: u64::from(size),
        maximum: None,
        shared: false,
    });
    let mut elems = ElementSection::new();
    elems.active(
        Some(0),
        &ConstExpr::i32_const(0),
        Elements::Functions(std::borrow::Cow::Borrowed(functions)),
    );
    (tables, elems)
}
