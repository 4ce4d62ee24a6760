//! `[bounds]` through `wasmgate check` (issue 13, section 2): the fixtures of
//! `corpus/fixtures/bounds/` state in their headers every bounds finding (rule, kind,
//! subject) under two policies, `plain` and `ranged` (which adds a range for
//! `env#__memory_base`); the test asserts exactly that set (nothing missing, nothing extra)
//! and the stated message fragments. A fixture without `expect[ranged]` lines expects under
//! `ranged` what it states for `plain`.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{files_with_ext, root};
use crate::policy_check::{run_in, scratch};

const PLAIN: &str = r#"[capabilities]
allow = ["*"]

[limits]
max_memory_pages = 4
require_memory_maximum = false

[bounds]
segments = true
accesses = true
memory_grow = true
"#;

const RANGED: &str = r#"
[bounds.globals]
"env#__memory_base" = { min = 0, max = 1024 }
"#;

const BOUNDS_RULES: [&str; 4] = ["WG0021", "WG0022", "WG0023", "WG0024"];

fn header(wat: &str, key: &str) -> Vec<String> {
    let prefix = format!(";; {key}: ");
    wat.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_string)
        .collect()
}

fn check(dir: &std::path::Path, policy: &str, wasm: &str) -> (i32, Value) {
    let (code, json, err) = run_in(
        dir,
        &[
            "check",
            "--policy",
            policy,
            wasm,
            "--now",
            "2026-06-01",
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{wasm}: {e}: {err}"));
    (code, v["files"][0].clone())
}

#[test]
fn each_bounds_fixture_reports_exactly_what_its_header_states() {
    let dir = scratch("bounds-fixtures");
    std::fs::write(dir.join("plain.toml"), PLAIN).unwrap();
    std::fs::write(dir.join("ranged.toml"), format!("{PLAIN}{RANGED}")).unwrap();
    let fixtures = files_with_ext(&root().join("corpus/fixtures/bounds"), "wat");
    assert!(fixtures.len() >= 5, "{fixtures:?}");
    for wat_path in fixtures {
        let name = wat_path.file_stem().unwrap().to_str().unwrap().to_string();
        let wat = std::fs::read_to_string(&wat_path).unwrap();
        let wasm = format!("{name}.wasm");
        std::fs::write(dir.join(&wasm), wat::parse_str(&wat).unwrap()).unwrap();
        for policy in ["plain", "ranged"] {
            let mut expected = header(&wat, &format!("expect[{policy}]"));
            if expected.is_empty() {
                expected = header(&wat, "expect[plain]");
            }
            let expected: BTreeSet<String> = expected.into_iter().collect();
            let (code, file) = check(&dir, &format!("{policy}.toml"), &wasm);
            let findings = file["findings"].as_array().unwrap();
            let found: BTreeSet<String> = findings
                .iter()
                .filter(|f| BOUNDS_RULES.contains(&f["rule"].as_str().unwrap()))
                .map(|f| {
                    format!(
                        "{} {} {}",
                        f["rule"].as_str().unwrap(),
                        f["kind"].as_str().unwrap(),
                        f["subject"].as_str().unwrap()
                    )
                })
                .collect();
            assert_eq!(found, expected, "{name} under {policy}: {file:#}");
            // Exit 1 exactly when an error-level finding fails (every violation is an error).
            let errors = findings
                .iter()
                .any(|f| f["kind"] == "fail" && f["level"] == "error");
            assert_eq!(code, i32::from(errors), "{name} under {policy}");
            for m in header(&wat, &format!("message[{policy}]")) {
                let (subject, text) = m.split_once(' ').unwrap();
                let f = findings
                    .iter()
                    .find(|f| {
                        f["subject"] == subject
                            && BOUNDS_RULES.contains(&f["rule"].as_str().unwrap())
                    })
                    .unwrap_or_else(|| panic!("{name}: no finding {subject}"));
                let msg = f["message"].as_str().unwrap();
                assert!(msg.contains(text), "{name} {subject}: {msg}");
            }
        }
    }
}

/// The data segment past the initial memory (issue 13's acceptance): its location is the
/// segment's byte offset in the binary, and the message gives the offsets it spans.
#[test]
fn a_data_segment_past_the_initial_memory_is_reported_at_its_offset() {
    let dir = scratch("bounds-segment-offset");
    std::fs::write(dir.join("plain.toml"), PLAIN).unwrap();
    let wat = std::fs::read_to_string(root().join("corpus/fixtures/bounds/segments.wat")).unwrap();
    let wasm = wat::parse_str(&wat).unwrap();
    std::fs::write(dir.join("s.wasm"), &wasm).unwrap();
    // The third data segment entry starts where its flags byte (0) precedes `i32.const 65534`.
    let needle = [0x00, 0x41, 0xfe, 0xff, 0x03, 0x0b, 0x03, b'x', b'y', b'z'];
    let at = wasm
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("segment bytes") as u64;
    let (code, file) = check(&dir, "plain.toml", "s.wasm");
    assert_eq!(code, 1);
    let f = file["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == "data[1]")
        .unwrap();
    assert_eq!(f["rule"], "WG0021");
    assert_eq!(f["level"], "error");
    assert_eq!(f["location"]["offset"], at, "{f:#}");
    assert!(f["message"].as_str().unwrap().starts_with(&format!(
        "data[1] (segment at {at:#x}) into memory[0]: 3 bytes at offset 65534 end at 65537"
    )));
}
