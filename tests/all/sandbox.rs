//! `wasmgate run`: the escape suite (corpus/sandbox/), limits and outcomes, determinism,
//! capability-minimal grants, and the static-vs-dynamic cross-check over runnable guests.
#![cfg(feature = "sandbox")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::common::{files_with_ext, root, run_bounded};

/// A run that takes longer than this is a hang: the test fails instead of waiting.
const HANG: Duration = Duration::from_secs(90);

/// Runs `wasmgate ARGS` with a deadline and extra environment; returns (exit code, stdout, stderr).
pub(crate) fn run_with_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    run_bounded(args, env, HANG)
}

pub(crate) fn run(args: &[&str]) -> (i32, String, String) {
    run_with_env(args, &[])
}

/// Compiles a WAT fixture to a `.wasm` in `dir`, keeping its file stem.
pub(crate) fn compile(wat: &Path, dir: &Path) -> PathBuf {
    let wasm = wat::parse_file(wat).unwrap_or_else(|e| panic!("{}: {e}", wat.display()));
    let out = dir.join(wat.file_stem().unwrap()).with_extension("wasm");
    std::fs::write(&out, wasm).unwrap();
    out
}

/// Every file under `dir` with its bytes (paths relative to `dir`).
pub(crate) fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// `name arg` for a denied call: the short import name, then its path (else the network
/// address it was refused, else its fd).
pub(crate) fn denial_key(call: &Value) -> String {
    let name = call["call"].as_str().unwrap().rsplit('#').next().unwrap();
    let arg = match (call["args"].get("path"), call.get("network")) {
        (Some(Value::String(p)), _) => p.clone(),
        (_, Some(Value::Array(n))) => {
            let refused = n.iter().find(|a| a["allowed"] == false).unwrap_or(&n[0]);
            refused["address"].as_str().unwrap().to_string()
        }
        _ => call["args"]["fd"].to_string(),
    };
    format!("{name} {arg}")
}

pub(super) fn header_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(";; ")?.strip_prefix(key)?.strip_prefix(':'))
        .flat_map(|v| v.split(';').map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .collect()
}

pub(super) fn json_run(wasm: &Path, extra: &[&str]) -> (i32, Value) {
    let w = wasm.to_str().unwrap();
    let mut args = vec!["run", w, "--format", "json"];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args);
    let v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{w}: {e}\nstdout: {out}\nstderr: {err}"));
    (code, v)
}

/// Runs a copier `/in/a.txt /out/b.txt` under `policy`, asserts it exits 1, and returns
/// its denied calls (as [`denial_key`]s) and the JSON report.
pub(super) fn copy_failing(wasm: &Path, policy: &Path) -> (Vec<String>, Value) {
    let p = policy.to_str().unwrap();
    let (code, v) = json_run(wasm, &["--policy", p, "--", "/in/a.txt", "/out/b.txt"]);
    assert_eq!((code, v["outcome"].as_str()), (1, Some("exit(1)")), "{v:#}");
    let denied = v["denied"].as_array().unwrap().iter().map(denial_key);
    (denied.collect(), v)
}

#[test]
fn escape_suite_is_contained_with_the_stated_outcomes() {
    let dir = root().join("corpus/sandbox");
    let before = tree(&dir.join("data"));
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = files_with_ext(&dir, "wat");
    assert!(
        fixtures.len() >= 11,
        "escape suite went missing: {fixtures:?}"
    );
    for wat in &fixtures {
        let text = std::fs::read_to_string(wat).unwrap();
        let outcome = header_values(&text, "expect-outcome");
        assert_eq!(outcome.len(), 1, "{}: one expect-outcome", wat.display());
        let wasm = compile(wat, tmp.path());
        let (code, v) = json_run(&wasm, &["--policy", "corpus/sandbox/policy.toml"]);
        let name = wat.file_name().unwrap().to_string_lossy();
        assert_eq!(v["outcome"], outcome[0].as_str(), "{name}: {v:#}");
        assert_eq!(
            code,
            i32::from(outcome[0] != "exit(0)"),
            "{name}: exit status"
        );
        // Denied calls, in both directions: each expected one happened, nothing else was denied.
        let mut denied: Vec<String> = v["denied"]
            .as_array()
            .unwrap()
            .iter()
            .map(denial_key)
            .collect();
        let mut expected = header_values(&text, "expect-denied");
        denied.sort();
        expected.sort();
        assert_eq!(denied, expected, "{name}: denied calls");
        assert!(
            v["crosscheck"]["missing"].as_array().unwrap().is_empty(),
            "{name}"
        );
    }
    // Nothing the guests did reached the host's directory.
    assert_eq!(tree(&dir.join("data")), before);
}

#[test]
fn read_only_escape_fixture_writes_freely_to_a_writable_copy() {
    // The opposite direction of ro_write.wat: with `/data` granted rw the same calls succeed,
    // and still only the copy changes.
    let dir = root().join("corpus/sandbox");
    let before = tree(&dir.join("data"));
    let tmp = tempfile::tempdir().unwrap();
    let wasm = compile(&dir.join("ro_write.wat"), tmp.path());
    let (code, v) = json_run(&wasm, &["--policy", "corpus/sandbox/policy-rw.toml"]);
    assert_eq!((code, v["outcome"].as_str()), (0, Some("exit(0)")), "{v:#}");
    assert_eq!(v["denied"], Value::Array(vec![]));
    assert_eq!(tree(&dir.join("data")), before);
}

#[test]
fn escapes_without_a_policy_find_no_preopen_at_all() {
    // No policy: fd 3 does not exist, so every path_open of dotdot.wat is a bad fd.
    let tmp = tempfile::tempdir().unwrap();
    let wasm = compile(&root().join("corpus/sandbox/dotdot.wat"), tmp.path());
    let (code, v) = json_run(&wasm, &[]);
    assert_eq!(code, 0);
    let denied: Vec<String> = v["denied"]
        .as_array()
        .unwrap()
        .iter()
        .map(denial_key)
        .collect();
    assert_eq!(
        denied,
        [
            "path_open ../secret",
            "path_open sub/../../secret",
            "path_open /etc/passwd",
            "path_open in.txt"
        ]
    );
    assert!(
        v["denied"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["result"]["errno"] == "badf")
    );
}

#[test]
fn environment_is_only_what_the_policy_names() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = compile(&root().join("corpus/sandbox/env.wat"), tmp.path());
    let w = wasm.to_str().unwrap();
    // The host has variables (and one the policy names): without a policy the guest sees none.
    let env = [
        ("WG_SANDBOX_GRANTED", "yes"),
        ("WG_SANDBOX_SECRET", "token"),
    ];
    let (code, out, _) = run_with_env(&["run", w, "--format", "json"], &env);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((code, v["outcome"].as_str()), (0, Some("exit(0)")));
    // With the policy naming one variable, the guest sees exactly one (it exits with the count).
    let policy = tmp.path().join("env.toml");
    std::fs::write(&policy, "[sandbox]\nenv = [\"WG_SANDBOX_GRANTED\"]\n").unwrap();
    let p = policy.to_str().unwrap();
    let (code, out, _) = run_with_env(&["run", w, "--format", "json", "--policy", p], &env);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((code, v["outcome"].as_str()), (1, Some("exit(1)")));
}

#[test]
fn wall_clock_limit_stops_a_loop_that_has_fuel() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = compile(&root().join("corpus/sandbox/loop.wat"), tmp.path());
    let (code, v) = json_run(&wasm, &["--fuel", "1000000000000000", "--time-ms", "300"]);
    assert_eq!((code, v["outcome"].as_str()), (1, Some("timeout")), "{v:#}");
}

#[test]
fn sleeping_an_hour_takes_virtual_time_only() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = compile(&root().join("corpus/sandbox/sleep.wat"), tmp.path());
    // A real sleep would outlast this limit and end as `timeout`.
    let (code, v) = json_run(&wasm, &["--time-ms", "5000"]);
    assert_eq!((code, v["outcome"].as_str()), (0, Some("exit(0)")), "{v:#}");
    let t = v["virtual_time_ns"].as_u64().unwrap();
    assert!(
        (3_600_000_000_000..3_601_000_000_000).contains(&t),
        "virtual time {t}"
    );
}

#[test]
fn output_flood_is_counted_and_cut_not_trapped() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = compile(&root().join("corpus/sandbox/flood.wat"), tmp.path());
    let (code, v) = json_run(&wasm, &["--output-bytes", "1000"]);
    assert_eq!(code, 1);
    assert_eq!(v["outcome"], "output-limit");
    // The guest was not stopped: it finished its 16384 writes and returned.
    assert_eq!(v["end"], "exit(0)");
    assert_eq!(v["stdout_bytes"], 1u64 << 30);
    assert_eq!(v["stdout"].as_str().unwrap(), "A".repeat(1000));
}

#[test]
fn two_runs_give_byte_identical_traces_and_output() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = compile(&root().join("corpus/sandbox/clock.wat"), tmp.path());
    let mut traces = Vec::new();
    for i in 0..2 {
        let trace = tmp.path().join(format!("t{i}.jsonl"));
        let (code, v) = json_run(&wasm, &["--trace", trace.to_str().unwrap()]);
        assert_eq!(code, 0, "{v:#}");
        traces.push((std::fs::read(&trace).unwrap(), v["stdout"].clone()));
    }
    assert_eq!(traces[0], traces[1]);
    let text = String::from_utf8(traces[0].0.clone()).unwrap();
    let calls: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = calls.iter().map(|c| c["call"].as_str().unwrap()).collect();
    let p1 = |n: &str| format!("wasi_snapshot_preview1#{n}");
    assert_eq!(
        ids,
        [
            p1("clock_time_get"),
            p1("clock_time_get"),
            p1("poll_oneoff"),
            p1("clock_time_get"),
            p1("clock_time_get"),
            p1("random_get"),
            p1("fd_write")
        ]
    );
    // The 1.5 s sleep passed in virtual time (plus one tick per clock read).
    let (_, v) = json_run(&wasm, &[]);
    assert_eq!(v["virtual_time_ns"], 1_500_000_000u64 + 4 * 1_000);
}

/// The copier's set-up in `dir`: `in/a.txt`, an empty `out/`, and `copy.toml` granting
/// `in` read-only as `/in` and `out` read-write as `/out`; returns the policy's path.
pub(crate) fn copy_setup(dir: &Path) -> PathBuf {
    std::fs::create_dir(dir.join("in")).unwrap();
    std::fs::write(dir.join("in/a.txt"), "copied bytes\n").unwrap();
    std::fs::create_dir(dir.join("out")).unwrap();
    let policy = dir.join("copy.toml");
    std::fs::write(
        &policy,
        "[sandbox]\n[[sandbox.preopens]]\nhost = \"in\"\nguest = \"/in\"\nmode = \"ro\"\n\
         [[sandbox.preopens]]\nhost = \"out\"\nguest = \"/out\"\nmode = \"rw\"\n",
    )
    .unwrap();
    policy
}

#[test]
fn crosscheck_holds_over_the_c_corpus() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = copy_setup(tmp.path());
    let p = policy.to_str().unwrap();
    let (code, v) = json_run(
        &root().join("corpus/c/copy.wasm"),
        &["--policy", p, "--", "/in/a.txt", "/out/b.txt"],
    );
    assert_eq!((code, v["outcome"].as_str()), (0, Some("exit(0)")), "{v:#}");
    let observed: Vec<&str> = v["crosscheck"]["observed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for must in [
        "path_open",
        "fd_read",
        "fd_write",
        "fd_prestat_get",
        "args_get",
    ] {
        assert!(
            observed.contains(&format!("wasi_snapshot_preview1#{must}").as_str()),
            "{must}: {observed:?}"
        );
    }
    assert!(v["crosscheck"]["missing"].as_array().unwrap().is_empty());
    // The output went to the copy: the host's `out/` is still empty.
    assert_eq!(
        std::fs::read_dir(tmp.path().join("out")).unwrap().count(),
        0
    );

    // The same copy into a read-only output: the open for writing is denied, the exit fails.
    let ro = tmp.path().join("ro.toml");
    std::fs::write(
        &ro,
        "[sandbox]\n[[sandbox.preopens]]\nhost = \"in\"\nguest = \"/in\"\nmode = \"ro\"\n\
         [[sandbox.preopens]]\nhost = \"out\"\nguest = \"/out\"\nmode = \"ro\"\n",
    )
    .unwrap();
    let (denied, _) = copy_failing(&root().join("corpus/c/copy.wasm"), &ro);
    assert_eq!(denied, ["path_open b.txt"]);

    // compute.c exits with its sieve checksum (recomputed here); envprint prints no variable.
    let expected = format!("exit({})", compute_checksum());
    for (name, code_want, outcome) in [
        ("compute.wasm", 1, expected.as_str()),
        ("envprint.wasm", 0, "exit(0)"),
    ] {
        let (code, v) = json_run(&root().join("corpus/c").join(name), &[]);
        assert_eq!(
            (code, v["outcome"].as_str()),
            (code_want, Some(outcome)),
            "{name}: {v:#}"
        );
        assert!(
            v["crosscheck"]["missing"].as_array().unwrap().is_empty(),
            "{name}"
        );
    }
}

/// compute.c's result, computed the same way in Rust: primes below 100000 folded into a
/// Fletcher-16 style checksum, reduced into 1..=125.
fn compute_checksum() -> u32 {
    const LIMIT: usize = 100_000;
    let mut composite = vec![false; LIMIT];
    let (mut s1, mut s2) = (0u32, 0u32);
    for i in 2..LIMIT {
        if composite[i] {
            continue;
        }
        let mut j = i * i;
        while j < LIMIT {
            composite[j] = true;
            j += i;
        }
        s1 = (s1 + i as u32) % 255;
        s2 = (s2 + s1) % 255;
    }
    (((s2 << 8) | s1) % 125) + 1
}

/// Runs `corpus/sandbox/NAME.wat` under the suite's policy, human output: (code, out, err).
pub(super) fn run_suite_guest(name: &str) -> (i32, String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = compile(
        &root().join(format!("corpus/sandbox/{name}.wat")),
        tmp.path(),
    );
    let policy = "corpus/sandbox/policy.toml";
    run(&["run", wasm.to_str().unwrap(), "--policy", policy])
}

#[test]
fn run_human_report_snapshot() {
    let (code, out, err) = run_suite_guest("dotdot");
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("run-human-dotdot", out);
}

#[test]
fn run_rejects_a_module_without_start_as_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let wat = tmp.path().join("lib.wat");
    std::fs::write(&wat, "(module (func (export \"f\")))").unwrap();
    let wasm = compile(&wat, tmp.path());
    let (code, _, err) = run(&["run", wasm.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("no `_start` function export"), "{err}");
}
