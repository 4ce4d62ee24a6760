//! Crash inputs found by the fuzz targets (`fuzz/`, see FUZZING.md), replayed on stable.
//!
//! Every file under `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/` goes through the same check as its target,
//! with the target's own input decoding (the fuzz crate's shared code is included below).
//! The `soundness` target's execution needs wasmtime, which only the fuzz crate depends on:
//! here its inputs get the static half of the check (valid module analysed, real witnesses);
//! `cargo +nightly fuzz run soundness fuzz/regressions/soundness/*` replays them in full.
//! An input whose bug is still open is listed in `OPEN` and replayed by its own ignored test.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../../fuzz/src/lib.rs"]
mod fuzz_lib;

use crate::common::root;

/// Inputs whose bug is open: (target, file name). Each has an ignored test below.
const OPEN: &[(&str, &str)] = &[];

/// The target's seeds and regression inputs; every target has some, so the replay can fail.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["fuzz/seeds", "fuzz/regressions"] {
        let dir = root().join(dir).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        files.extend(entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()));
    }
    files.sort();
    assert!(
        !files.is_empty(),
        "no seeds or regression inputs for {target}"
    );
    files
}

fn analyze_bytes(data: &[u8]) {
    if let Ok(a) = wasmgate_analyzer::analyze(data) {
        let defects = fuzz_lib::witness_defects(&a);
        assert!(defects.is_empty(), "{}", defects.join("\n"));
    }
}

fn analyze_smith(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(wasm) = fuzz_lib::analyzer_module(&mut u) else {
        return;
    };
    let a = wasmgate_analyzer::analyze(&wasm)
        .unwrap_or_else(|e| panic!("a valid wasm-smith module was rejected: {e}"));
    let defects = fuzz_lib::witness_defects(&a);
    assert!(defects.is_empty(), "{}", defects.join("\n"));
    let policy = wasmgate_policy::load_str(Path::new("fuzz-policy.toml"), fuzz_lib::SMITH_POLICY)
        .expect("the fuzz policy loads");
    let today = wasmgate_policy::Date::parse("2026-01-01").unwrap();
    let _ = wasmgate_policy::check(&policy, &a, "fuzz.wasm", today);
}

fn policy_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if ["/dev", "/proc", "/sys"].iter().any(|d| text.contains(d)) {
        return;
    }
    let _ = wasmgate_policy::load_str(Path::new("/nonexistent/wasmgate-fuzz/policy.toml"), text);
}

/// The static half of the soundness target: its module is analysed, with real witnesses.
fn soundness(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(config) = fuzz_lib::soundness_config(&mut u) else {
        return;
    };
    let Ok(m) = wasm_smith::Module::new(config, &mut u) else {
        return;
    };
    let a = wasmgate_analyzer::analyze(&m.to_bytes())
        .unwrap_or_else(|e| panic!("a valid wasm-smith module was rejected: {e}"));
    let defects = fuzz_lib::witness_defects(&a);
    assert!(defects.is_empty(), "{}", defects.join("\n"));
}

/// Runs `check` on every input of `target` except the open ones; names every failure.
fn replay(target: &str, check: fn(&[u8])) {
    let mut failures = Vec::new();
    let files = inputs(target);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if OPEN.contains(&(target, name.as_str())) {
            continue;
        }
        let data = std::fs::read(file).unwrap();
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| check(&data))) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{target}/{name}: {msg}"));
        }
    }
    eprintln!("fuzz regressions: {target}: {} inputs", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fuzz_regressions_analyze_bytes() {
    replay("analyze_bytes", analyze_bytes);
}

#[test]
fn fuzz_regressions_analyze_smith() {
    replay("analyze_smith", analyze_smith);
}

#[test]
fn fuzz_regressions_policy_toml() {
    replay("policy_toml", policy_toml);
}

#[test]
fn fuzz_regressions_soundness_static() {
    replay("soundness", soundness);
}

#[test]
fn fuzz_regressions_open_inputs_exist() {
    for (target, name) in OPEN {
        let path = root().join("fuzz/regressions").join(target).join(name);
        assert!(
            path.is_file(),
            "{} is listed as open but missing",
            path.display()
        );
    }
}
