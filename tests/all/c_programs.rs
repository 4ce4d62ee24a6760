//! The C programs of `corpus/c/` (built with clang for WASI p1) have known ground truth.

use std::collections::BTreeSet;

use wasmgate_analyzer::{Analysis, BinaryKind, analyze};

use crate::common::{root, run};

fn load(name: &str) -> Analysis {
    let bytes = std::fs::read(root().join("corpus/c").join(name)).unwrap();
    analyze(&bytes).unwrap()
}

fn caps(a: &Analysis, entry: &str) -> BTreeSet<String> {
    let e = a
        .entry_points
        .iter()
        .find(|e| e.name == entry)
        .unwrap_or_else(|| panic!("no entry {entry}"));
    e.reaches.iter().map(|r| r.capability.clone()).collect()
}

#[test]
fn file_copier_reads_and_writes_files_through_libc() {
    let a = load("copy.wasm");
    let start = a.entry_points.iter().find(|e| e.name == "_start").unwrap();
    for cap in ["fs.read", "fs.write"] {
        let r = start
            .reaches
            .iter()
            .find(|r| r.capability == cap)
            .unwrap_or_else(|| panic!("_start reaches {cap}"));
        assert!(
            r.path.len() >= 4,
            "{cap}: witness goes through libc: {:?}",
            r.path
        );
        assert!(
            r.import.starts_with("wasi_snapshot_preview1#"),
            "{cap}: {}",
            r.import
        );
        assert!(
            r.offset.is_some(),
            "{cap}: the call instruction has an offset"
        );
    }
    let open = start
        .reaches
        .iter()
        .find(|r| r.import.ends_with("#path_open"))
        .expect("path_open is reached");
    assert!(
        open.path.iter().any(|n| n == "fopen"),
        "path_open via fopen: {:?}",
        open.path
    );
}

#[test]
fn compute_only_program_reaches_no_fs_env_or_net() {
    let a = load("compute.wasm");
    let c = caps(&a, "_start");
    assert!(
        c.iter()
            .all(|c| !c.starts_with("fs.") && !c.starts_with("net.") && c != "env"),
        "{c:?}"
    );
    assert_eq!(c, BTreeSet::from(["proc.exit".to_string()]));
}

#[test]
fn env_printer_reads_env_and_writes_stdio_but_opens_no_file() {
    let a = load("envprint.wasm");
    let c = caps(&a, "_start");
    assert!(c.contains("env") && c.contains("stdio"), "{c:?}");
    assert!(
        !a.entry_points[0]
            .reaches
            .iter()
            .any(|r| r.import.ends_with("#path_open"))
    );
}

#[test]
fn components_list_wit_imports_and_never_reach_nothing() {
    for name in [
        "copy.component.wasm",
        "envprint.component.wasm",
        "compute.component.wasm",
    ] {
        let a = load(name);
        assert_eq!(a.kind, BinaryKind::Component, "{name}");
        assert!(
            a.imports.iter().all(|i| i.id.starts_with("wasi:")),
            "{name}: WIT names"
        );
        let run = a
            .entry_points
            .iter()
            .find(|e| e.name.starts_with("wasi:cli/run@") && e.name.ends_with("#run"))
            .unwrap();
        assert!(run.unresolved && !run.reaches.is_empty(), "{name}");
        let modules = &a.component.as_ref().unwrap().modules;
        assert!(
            modules.len() >= 2,
            "{name}: main module and adapter are analysed"
        );
    }
    let copy = load("copy.component.wasm");
    assert!(
        copy.imports
            .iter()
            .any(|i| i.id.contains("wasi:filesystem/types@")
                && i.id.ends_with("#[method]descriptor.open-at"))
    );
}

#[test]
fn inspect_outputs_are_stable() {
    for name in ["copy.wasm", "compute.wasm", "compute.component.wasm"] {
        let path = format!("corpus/c/{name}");
        let (code, human, stderr) = run(&["inspect", &path], None);
        assert_eq!(code, 0, "{stderr}");
        insta::assert_snapshot!(format!("inspect-human-{name}"), human);
    }
    let (code, json, _) = run(
        &["inspect", "--format", "json", "corpus/c/compute.wasm"],
        None,
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema_version"], 1);
    insta::assert_json_snapshot!("inspect-json-compute.wasm", v);
    let (code, dot, _) = run(
        &["graph", "corpus/c/compute.wasm", "--export", "_start"],
        None,
    );
    assert_eq!(code, 0);
    insta::assert_snapshot!("graph-dot-compute.wasm", dot);
}
