//! Aggregated findings, their baselines (v3 entry-point sets, v2 per-entry, malformed), and
//! SARIF within GitHub code scanning's limits (issue 11).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use wasm_encoder::{
    CodeSection, EntityType, ExportKind, ExportSection, FunctionSection, ImportSection, Module,
    TypeSection,
};

use crate::policy_check::{assert_github_requirements, multitool_validate, run_in, scratch};

const NOW: &str = "2026-06-01";

/// `35,000`, as messages write counts.
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
const DENY_ALL: &str = "[capabilities]\nallow = []\n";

/// `random_get` (capability `random`) called from the exports named in `callers`; `idle`
/// is exported too and calls nothing.
fn random_module(callers: &[&str]) -> Vec<u8> {
    let mut wat = String::from(
        "(module (import \"wasi_snapshot_preview1\" \"random_get\" \
         (func $r (param i32 i32) (result i32)))\n",
    );
    for name in callers {
        wat.push_str(&format!(
            "(func (export \"{name}\") (drop (call $r (i32.const 0) (i32.const 0))))\n"
        ));
    }
    wat.push_str("(func (export \"idle\")))");
    wat::parse_str(&wat).unwrap()
}

/// (exit code, JSON report) of `check` in `dir`.
fn check_json(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "check", "-p", "p.toml", "app.wasm", "--now", NOW, "--format", "json",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = run_in(dir, &args);
    assert!(code == 0 || code == 1, "{err}");
    (code, serde_json::from_str(&out).unwrap())
}

/// WG0001 findings of a JSON report: (subject, entry points, suppressed).
fn capability_findings(v: &Value) -> Vec<(String, Vec<String>, bool)> {
    v["files"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "WG0001")
        .map(|f| {
            (
                f["subject"].as_str().unwrap().to_string(),
                crate::common::finding_entries(&v["files"][0], f)
                    .into_iter()
                    .map(|e| {
                        format!(
                            "{}:{}",
                            e["kind"].as_str().unwrap(),
                            e["name"].as_str().unwrap()
                        )
                    })
                    .collect(),
                !f["suppressed"].is_null(),
            )
        })
        .collect()
}

/// Writes `wasm` as `dir/app.wasm` and checks it as [`check_json`] does.
fn check_app(dir: &Path, wasm: &[u8], extra: &[&str]) -> (i32, Value) {
    std::fs::write(dir.join("app.wasm"), wasm).unwrap();
    check_json(dir, extra)
}

/// The finding on `random` reached from the exports `entries`, as [`capability_findings`]
/// lists it.
fn random_of(entries: &[&str], suppressed: bool) -> (String, Vec<String>, bool) {
    let entries = entries.iter().map(|e| format!("export:{e}")).collect();
    ("random".to_string(), entries, suppressed)
}

fn sarif_of(dir: &Path, wasm: &[u8], out: &str, extra: &[&str]) {
    std::fs::write(dir.join("app.wasm"), wasm).unwrap();
    let mut args = vec![
        "check", "-p", "p.toml", "app.wasm", "--now", NOW, "--format", "sarif", "-o", out,
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = run_in(dir, &args);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn one_finding_per_subject_lists_every_entry_point_and_the_nearest_witness() {
    let dir = scratch("aggregated");
    std::fs::write(dir.join("p.toml"), DENY_ALL).unwrap();
    // `far` reaches random_get through one more call than `a`..`g`.
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
        (func $near (drop (call $r (i32.const 0) (i32.const 0))))
        (func $mid (call $near))
        (func (export "far") (call $mid))
        (func (export "g") (call $near))
        (func (export "f") (call $near))
        (func (export "e") (call $near))
        (func (export "d") (call $near))
        (func (export "c") (call $near))
        (func (export "b") (call $near))
        (func (export "a") (call $near))
        (func (export "idle")))"#;
    std::fs::write(dir.join("app.wasm"), wat::parse_str(wat).unwrap()).unwrap();
    let (code, v) = check_json(&dir, &[]);
    assert_eq!(code, 1);
    assert_eq!(v["schema_version"], 3);
    let all: Vec<&Value> = v["files"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "WG0001")
        .collect();
    assert_eq!(all.len(), 1, "one finding for `random`: {all:#?}");
    let f = all[0];
    assert_eq!(f["subject"], "random");
    let entries: Vec<&str> = crate::common::finding_entries(&v["files"][0], f)
        .into_iter()
        .map(|e| {
            assert_eq!(e["kind"], "export");
            e["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(entries, ["a", "b", "c", "d", "e", "f", "far", "g"]);
    // The witness starts at an entry point nearest the import (ties by name).
    assert_eq!(f["location"]["entry_point"], "a");
    assert_eq!(f["witness"].as_array().unwrap().len(), 3, "{f}");
    assert_eq!(f["fingerprint_version"], "v3");
    let message = f["message"].as_str().unwrap();
    assert!(
        message.starts_with("8 entry points reach capability `random`"),
        "{message}"
    );
    assert!(
        message.contains("export `a`, export `b`, export `c`, export `d`, export `e` and 3 more"),
        "{message}"
    );
    assert!(!message.contains("export `g`"), "{message}");

    // --per-entry: one finding per entry point, v2 fingerprints.
    let (code, v) = check_json(&dir, &["--per-entry"]);
    assert_eq!(code, 1);
    let per_entry = capability_findings(&v);
    let mut names: Vec<String> = per_entry
        .iter()
        .map(|(subject, entries, _)| {
            assert_eq!(subject, "random");
            assert_eq!(entries.len(), 1);
            entries[0].clone()
        })
        .collect();
    names.sort();
    let want: Vec<String> = ["a", "b", "c", "d", "e", "f", "far", "g"]
        .iter()
        .map(|n| format!("export:{n}"))
        .collect();
    assert_eq!(names, want);
    assert!(
        v["files"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["fingerprint_version"] == "v2")
    );
}

/// v3 baseline: the fingerprint names the subject, the entry points are compared as a set.
#[test]
fn a_new_entry_point_reaching_a_baselined_subject_is_new() {
    let dir = scratch("baseline-v3");
    std::fs::write(dir.join("p.toml"), DENY_ALL).unwrap();
    let one = random_module(&["a"]);
    let two = random_module(&["a", "b"]);
    sarif_of(&dir, &one, "one.sarif", &[]);
    sarif_of(&dir, &two, "two.sarif", &[]);

    // Same build: unchanged.
    let (code, v) = check_app(&dir, &one, &["--baseline", "one.sarif"]);
    assert_eq!(code, 0, "{v:#}");
    // `b` now reaches `random` too: the finding is new, although its fingerprint is known.
    let (code, v) = check_app(&dir, &two, &["--baseline", "one.sarif"]);
    assert_eq!(code, 1);
    assert_eq!(capability_findings(&v), [random_of(&["a", "b"], false)]);
    // Per entry point against the aggregated baseline: `a` is known, `b` is new.
    let (code, v) = check_json(&dir, &["--baseline", "one.sarif", "--per-entry"]);
    assert_eq!(code, 1);
    let mut got = capability_findings(&v);
    got.sort();
    assert_eq!(got, [random_of(&["a"], true), random_of(&["b"], false)]);
    // Fewer entry points than the baseline: unchanged.
    let (code, _) = check_app(&dir, &one, &["--baseline", "two.sarif"]);
    assert_eq!(code, 0);
}

/// v2 (per-entry) baseline read by an aggregated run: unchanged only when every entry point's
/// per-entry finding was in it.
#[test]
fn a_per_entry_baseline_is_compared_entry_by_entry() {
    let dir = scratch("baseline-v2");
    std::fs::write(dir.join("p.toml"), DENY_ALL).unwrap();
    let one = random_module(&["a"]);
    let two = random_module(&["a", "b"]);
    sarif_of(&dir, &one, "one.sarif", &["--per-entry"]);
    let text = std::fs::read_to_string(dir.join("one.sarif")).unwrap();
    assert!(text.contains("\"wasmgateFinding/v2\""));
    assert!(!text.contains("\"wasmgateFinding/v3\""));

    let (code, v) = check_app(&dir, &one, &["--baseline", "one.sarif"]);
    assert_eq!(code, 0, "{v:#}");
    let (code, v) = check_app(&dir, &two, &["--baseline", "one.sarif"]);
    assert_eq!(code, 1);
    assert_eq!(capability_findings(&v), [random_of(&["a", "b"], false)]);
}

/// A v3 baseline whose entry indices do not fit its table suppresses nothing (fail closed).
#[test]
fn a_baseline_with_malformed_entry_indices_suppresses_nothing() {
    let dir = scratch("baseline-malformed");
    std::fs::write(dir.join("p.toml"), DENY_ALL).unwrap();
    let one = random_module(&["a"]);
    sarif_of(&dir, &one, "one.sarif", &[]);
    let mut log: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("one.sarif")).unwrap()).unwrap();
    let results = log["runs"][0]["results"].as_array_mut().unwrap();
    let mut changed = 0;
    for r in results {
        if let Some(e) = r["properties"].get_mut("entryPoints") {
            e["indices"] = Value::from("0-7");
            changed += 1;
        }
    }
    assert!(changed > 0);
    std::fs::write(dir.join("bad.sarif"), serde_json::to_string(&log).unwrap()).unwrap();
    let (code, v) = check_json(&dir, &["--baseline", "bad.sarif"]);
    assert_eq!(code, 1);
    assert_eq!(
        capability_findings(&v),
        [("random".to_string(), vec!["export:a".to_string()], false)]
    );
}

/// `n` exports, export `i` calling import `env#f{i}` (unknown to the capability table).
fn many_imports(n: u32) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut imports = ImportSection::new();
    for i in 0..n {
        imports.import("env", &format!("f{i}"), EntityType::Function(0));
    }
    let mut funcs = FunctionSection::new();
    let mut exports = ExportSection::new();
    let mut code = CodeSection::new();
    for i in 0..n {
        funcs.function(0);
        exports.export(&format!("e{i}"), ExportKind::Func, n + i);
        let mut body = vec![0x00, 0x10];
        leb128(&mut body, i);
        body.push(0x0b);
        code.raw(&body);
    }
    let mut m = Module::new();
    m.section(&types)
        .section(&imports)
        .section(&funcs)
        .section(&exports)
        .section(&code);
    m.finish()
}

fn leb128(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Regression: the deny-all SARIF of a 75,000-export module was killed at 24 GB, and would
/// have exceeded code scanning's 25,000 results. 30,000 denied imports, each reached by its
/// own export, give 60,000 findings (an error and a warning per import): the SARIF keeps the
/// 25,000 most severe, says what it left out, passes the Multitool, and the exit status is
/// the same as without truncation.
#[test]
fn sarif_of_more_findings_than_code_scanning_takes_keeps_the_most_severe() {
    let dir = scratch("sarif-cap");
    std::fs::write(dir.join("app.wasm"), many_imports(30_000)).unwrap();
    std::fs::write(
        dir.join("p.toml"),
        "[capabilities]\nallow = [\"*\"]\n[imports]\nallow = []\n",
    )
    .unwrap();
    let (json_code, v) = check_json(&dir, &[]);
    assert_eq!(json_code, 1);
    let findings = v["files"][0]["findings"].as_array().unwrap();
    let mut by_level: BTreeMap<&str, usize> = BTreeMap::new();
    for f in findings {
        *by_level.entry(f["level"].as_str().unwrap()).or_default() += 1;
    }
    assert_eq!(by_level.get("error"), Some(&30_000), "{by_level:?}");
    assert!(findings.len() > 25_000);

    let (code, _, err) = run_in(
        &dir,
        &[
            "check", "-p", "p.toml", "app.wasm", "--now", NOW, "--format", "sarif", "-o", "r.sarif",
        ],
    );
    assert_eq!(
        code, json_code,
        "truncation does not change the exit status: {err}"
    );
    let sarif = dir.join("r.sarif");
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 25_000);
    // The most severe kept: errors only, since there are more than 25,000 of them.
    assert!(results.iter().all(|r| r["level"] == "error"));
    let notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let text = notes[0]["message"]["text"].as_str().unwrap();
    let left_out = findings.len() - 25_000;
    assert!(
        text.starts_with(&format!(
            "{} of {} results are left out",
            thousands(left_out),
            thousands(findings.len())
        )),
        "{text}"
    );
    assert!(
        text.contains("limit of 25,000 results per run: 5,000 errors, 30,000 warnings"),
        "{text}"
    );
    assert!(text.contains("--format json"), "{text}");
    assert_eq!(
        log["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
    assert_github_requirements(&log);
    multitool_validate(&sarif);
}
