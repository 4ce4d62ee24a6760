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
        open.path.iter().any(|n| &**n == "fopen"),
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
fn components_trace_through_the_adapter_and_keep_the_core_capabilities() {
    for stem in ["copy", "envprint", "compute"] {
        let core = load(&format!("{stem}.wasm"));
        let comp = load(&format!("{stem}.component.wasm"));
        assert_eq!(comp.kind, BinaryKind::Component, "{stem}");
        assert!(
            comp.imports.iter().all(|i| i.id.starts_with("wasi:")),
            "{stem}: WIT names"
        );
        let run = comp
            .entry_points
            .iter()
            .find(|e| e.name.starts_with("wasi:cli/run@") && e.name.ends_with("#run"))
            .unwrap();
        assert!(
            !run.unresolved,
            "{stem}: lift, adapter and lowers are all traced"
        );
        let got: BTreeSet<String> = run.reaches.iter().map(|r| r.capability.clone()).collect();
        // Superset of the core module's capabilities, except those no component import can
        // confer at all (the command adapter imports no wasi:sockets, so net.io would be
        // impossible there, not dropped, if a core module kept it).
        let conferrable: BTreeSet<&str> = comp
            .imports
            .iter()
            .flat_map(|i| i.capabilities.iter().map(String::as_str))
            .collect();
        for cap in caps(&core, "_start") {
            assert!(
                got.contains(&cap) || !conferrable.contains(cap.as_str()),
                "{stem}: component lost `{cap}` that its imports can confer: {got:?}"
            );
        }
        // Every witness crosses from the main module through the adapter to a WIT import.
        for r in &run.reaches {
            assert!(r.import.starts_with("wasi:"), "{stem}: {}", r.import);
            assert!(
                r.path.iter().any(|n| n.starts_with("main:")),
                "{stem}: {:?}",
                r.path
            );
            assert!(
                r.path
                    .iter()
                    .any(|n| n.starts_with("wasi_snapshot_preview1:") && !n.contains("#")),
                "{stem}: witness goes through the adapter: {:?}",
                r.path
            );
        }
    }
    let compute = load("compute.component.wasm");
    let run = &compute
        .entry_points
        .iter()
        .find(|e| e.name.ends_with("#run"))
        .unwrap();
    for r in &run.reaches {
        assert!(
            !r.capability.starts_with("fs.")
                && !r.capability.starts_with("net.")
                && r.capability != "env",
            "compute reaches {} via {:?}",
            r.capability,
            r.path
        );
    }
    let copy = load("copy.component.wasm");
    let run = copy
        .entry_points
        .iter()
        .find(|e| e.name.ends_with("#run"))
        .unwrap();
    let open = run
        .reaches
        .iter()
        .find(|r| r.capability == "fs.create")
        .unwrap();
    assert!(
        open.import.ends_with("#[method]descriptor.open-at"),
        "{}",
        open.import
    );
    assert!(
        open.path.iter().any(|n| &**n == "main:fopen"),
        "{:?}",
        open.path
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
        &[
            "inspect",
            "--format",
            "json",
            "--per-entry",
            "corpus/c/compute.wasm",
        ],
        None,
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema_version"], 1);
    insta::assert_json_snapshot!("inspect-json-compute.wasm", v);
    // The default: schema 2, one line, witnesses shared per (capability, import).
    let (code, json, _) = run(
        &["inspect", "--format", "json", "corpus/c/compute.wasm"],
        None,
    );
    assert_eq!(code, 0);
    assert_eq!(json.lines().count(), 1, "schema 2 is written on one line");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema_version"], 2);
    insta::assert_json_snapshot!("inspect-json-shared-compute.wasm", v);
    let (code, dot, _) = run(
        &["graph", "corpus/c/compute.wasm", "--export", "_start"],
        None,
    );
    assert_eq!(code, 0);
    insta::assert_snapshot!("graph-dot-compute.wasm", dot);
}

/// An entry point's name and its complete capability set.
type EntryCaps<'a> = (&'a str, &'a [&'a str]);

/// Every entry point of every C program with its complete capability set under the current
/// model, checked for equality (nothing missing, nothing extra) and for the entry list itself.
///
/// Derivation, from each program's source (see the headers in `corpus/c/*.c`) and
/// `rules/capabilities/`:
/// * `proc.exit`: wasi-libc's `_start` ends in `exit()` -> `proc_exit` in every program.
/// * Descriptors (README, "Descriptors"): libc's stdio calls `fd_read`/`fd_write` with the
///   descriptor loaded from the `FILE`, so constant narrowing never applies (and `copy` also
///   opens and closes files, which turns it off). What they keep besides `stdio` depends on
///   the descriptor producers the program reaches: none imports a socket producer, so no
///   `net.io`; `copy` opens files with `path_open` (fopen with non-constant rights), so
///   `fs.read` and `fs.write`; `envprint` and `compute` open nothing, so only `stdio`.
/// * `fs.metadata` (+ `stdio`): `fd_fdstat_get` / `fd_seek` from libc's stdio set-up; copy's
///   preopen lookup (`fd_prestat_*`).
/// * The components trace through the WASI p1 adapter to WASI p2 imports: no component
///   import confers `net.io` (the command adapter imports no sockets), so it drops out;
///   `io.stream` comes from the streams every write goes through (and the adapter's own
///   error printing on `proc_exit`). `<start>` is the adapter's start function
///   (`allocate_stack`), which calls no import.
#[test]
fn c_programs_reach_exactly_their_capability_sets() {
    let expected: &[(&str, &[EntryCaps])] = &[
        ("compute.wasm", &[("_start", &["proc.exit"])]),
        (
            "compute.component.wasm",
            &[
                ("<start>", &[]),
                (
                    "wasi:cli/run@0.2.12#run",
                    &["io.stream", "proc.exit", "stdio"],
                ),
            ],
        ),
        (
            "copy.wasm",
            &[(
                "_start",
                &[
                    "args",
                    "fs.create",
                    "fs.metadata",
                    "fs.read",
                    "fs.write",
                    "proc.exit",
                    "stdio",
                ],
            )],
        ),
        (
            "copy.component.wasm",
            &[
                ("<start>", &[]),
                (
                    "wasi:cli/run@0.2.12#run",
                    &[
                        "args",
                        "fs.create",
                        "fs.metadata",
                        "fs.read",
                        "fs.write",
                        "io.stream",
                        "proc.exit",
                        "stdio",
                    ],
                ),
            ],
        ),
        (
            "envprint.wasm",
            &[("_start", &["env", "fs.metadata", "proc.exit", "stdio"])],
        ),
        (
            "envprint.component.wasm",
            &[
                ("<start>", &[]),
                (
                    "wasi:cli/run@0.2.12#run",
                    &[
                        "env",
                        "fs.metadata",
                        "fs.write",
                        "io.stream",
                        "proc.exit",
                        "stdio",
                    ],
                ),
            ],
        ),
    ];
    let on_disk: BTreeSet<String> = crate::common::files_with_ext(&root().join("corpus/c"), "wasm")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = expected.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(listed, on_disk, "every C program has its expected sets");
    for (file, entries) in expected {
        let a = load(file);
        let got: BTreeSet<&str> = a.entry_points.iter().map(|e| e.name.as_str()).collect();
        let want: BTreeSet<&str> = entries.iter().map(|(e, _)| *e).collect();
        assert_eq!(got, want, "{file}: entry points");
        for (entry, caps_want) in entries.iter() {
            let want: BTreeSet<String> = caps_want.iter().map(|c| c.to_string()).collect();
            assert_eq!(caps(&a, entry), want, "{file} {entry}");
        }
    }
}
