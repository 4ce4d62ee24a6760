//! `wasmgate harden`: the fixture's stated removals and guards in both directions, the
//! hardened output's capabilities re-derived by a fresh analysis, its behaviour in the
//! sandbox, the C copier acceptance, and every WASI p1 command of the corpus.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::common::{root, run_bounded};

/// A harden, check or run that takes longer than this is a hang.
const HANG: Duration = Duration::from_secs(300);

/// Runs `wasmgate ARGS` with a deadline; returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    run_bounded(args, &[], HANG)
}

/// Header lines `;; KEY: NAME = VALUE`, as (NAME, VALUE).
fn header(text: &str, key: &str) -> BTreeMap<String, String> {
    let prefix = format!("{key}:");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(";;"))
        .filter_map(|l| l.trim().strip_prefix(prefix.as_str()))
        .map(|l| match l.split_once('=') {
            Some((a, b)) => (a.trim().to_string(), b.trim().to_string()),
            None => (l.trim().to_string(), String::new()),
        })
        .collect()
}

/// Capabilities each entry point of `wasm` reaches, from a fresh analysis.
fn caps(wasm: &[u8]) -> BTreeMap<String, BTreeSet<String>> {
    let a = wasmgate_analyzer::analyze(wasm).unwrap();
    a.entry_points
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                e.reaches.iter().map(|r| r.capability.clone()).collect(),
            )
        })
        .collect()
}

fn set(list: &str) -> BTreeSet<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The report's `removed_functions` are exactly the fixture header's
/// `expect-removed-function` lines.
fn assert_removed_functions(report: &Value, text: &str) {
    let functions: BTreeSet<String> = report["removed_functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = header(text, "expect-removed-function")
        .into_keys()
        .collect();
    assert_eq!(functions, want);
}

/// Compiles fixture `NAME.wat` into `dir` and hardens it with `NAME.toml` (plus `extra`
/// flags); returns (the compiled input, the output path, the JSON report).
fn harden_fixture(dir: &Path, name: &str, extra: &[&str]) -> (Vec<u8>, PathBuf, Value) {
    let fx = root().join("corpus/fixtures/harden");
    let wasm = dir.join(format!("{name}.wasm"));
    let input = wat::parse_file(fx.join(format!("{name}.wat"))).unwrap();
    std::fs::write(&wasm, &input).unwrap();
    let out = dir.join(format!("{name}.hardened.wasm"));
    let policy = format!("corpus/fixtures/harden/{name}.toml");
    let mut args = vec![
        "harden",
        wasm.to_str().unwrap(),
        "--policy",
        &policy,
        "-o",
        out.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    (input, out, serde_json::from_str(&stdout).unwrap())
}

#[test]
fn harden_fixture_removes_guards_and_blanks_exactly_what_its_header_says() {
    let text = std::fs::read_to_string(root().join("corpus/fixtures/harden/mixed.wat")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (_, out, report) = harden_fixture(tmp.path(), "mixed", &[]);

    let removed: BTreeMap<String, String> = report["removed_imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["import"].as_str().unwrap().to_string(),
                r["stand_in"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(removed, header(&text, "expect-removed"));
    let guarded: BTreeMap<String, String> = report["guarded_imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let w: Vec<&str> = g["withheld"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            (g["import"].as_str().unwrap().to_string(), w.join(", "))
        })
        .collect();
    assert_eq!(guarded, header(&text, "expect-guarded"));
    assert_removed_functions(&report, &text);
    assert_eq!(report["emptied_data_segments"], serde_json::json!([0]));
    assert_eq!(report["not_enforced"], serde_json::json!([]));

    // The output validates and a fresh analysis (which never reads the record section)
    // reaches exactly the stated capabilities.
    let bytes = std::fs::read(&out).unwrap();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&bytes)
        .unwrap();
    let want: BTreeMap<String, BTreeSet<String>> = header(&text, "expect-caps-after")
        .into_iter()
        .map(|(k, v)| (k, set(&v)))
        .collect();
    assert_eq!(caps(&bytes), want);
    let (code, stdout, _) = run(&[
        "check",
        out.to_str().unwrap(),
        "--policy",
        "corpus/fixtures/harden/mixed.toml",
    ]);
    assert_eq!(code, 0, "{stdout}");

    let mut redacted = report.clone();
    redacted["wasmgate_version"] = "[version]".into();
    insta::assert_json_snapshot!("harden-json-mixed", redacted);
}

// The record section is forgeable: a module claiming to be hardened is analysed as it is.
#[test]
fn forged_hardening_record_changes_nothing() {
    let wasm = wat::parse_str(
        r#"(module
            (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
            (func (export "roll") (drop (call $r (i32.const 0) (i32.const 4))))
            (@custom "wasmgate.harden" "{\"removed_imports\":[\"wasi_snapshot_preview1#random_get\"]}"))"#,
    )
    .unwrap();
    assert_eq!(caps(&wasm)["roll"], set("random"));
}

#[cfg(feature = "sandbox")]
#[test]
fn hardened_fixture_refuses_in_the_guest_and_never_reaches_the_host() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, out, _) = harden_fixture(tmp.path(), "mixed", &[]);
    let trace = tmp.path().join("trace.jsonl");
    let (code, stdout, stderr) = run(&[
        "run",
        out.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    // Guard refusal (76) + random_get stub (76) - 76.
    assert_eq!(
        (code, v["outcome"].as_str()),
        (1, Some("exit(76)")),
        "{v:#}"
    );
    let calls: Vec<Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = calls.iter().map(|c| c["call"].as_str().unwrap()).collect();
    // Only the read-only open reaches the host, with its rights masked; random_get never.
    assert_eq!(
        names,
        [
            "wasi_snapshot_preview1#path_open",
            "wasi_snapshot_preview1#fd_write",
            "wasi_snapshot_preview1#proc_exit"
        ]
    );
    assert_eq!(calls[0]["args"]["rights_base"], 2);
    assert_eq!(v["stdout"], "hi\n");

    // --denied trap: the first refusal traps instead.
    let (_, trap_out, _) = harden_fixture(tmp.path(), "mixed", &["--denied", "trap"]);
    let (code, stdout, _) = run(&["run", trap_out.to_str().unwrap(), "--format", "json"]);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(code, 1);
    assert!(v["outcome"].as_str().unwrap().starts_with("trap"), "{v:#}");
}

/// The policy `policy init` writes for `wasm`, with `cap` taken out of `[capabilities] allow`.
fn policy_minus(wasm: &Path, cap: Option<&str>, dest: &Path) -> String {
    let (code, _, stderr) = run(&[
        "policy",
        "init",
        wasm.to_str().unwrap(),
        "-o",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{}: {stderr}", wasm.display());
    let text = std::fs::read_to_string(dest).unwrap();
    let mut doc: toml::Table = toml::from_str(&text).unwrap();
    let allow = doc["capabilities"]["allow"].as_array().unwrap().clone();
    let names: Vec<String> = allow
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let pick = match cap {
        Some(c) => c.to_string(),
        None if names.iter().any(|c| c == "fs.write") => "fs.write".into(),
        None => names.first().cloned().unwrap_or_default(),
    };
    let kept: Vec<toml::Value> = names
        .iter()
        .filter(|c| **c != pick)
        .map(|c| toml::Value::String(c.clone()))
        .collect();
    doc["capabilities"]
        .as_table_mut()
        .unwrap()
        .insert("allow".into(), toml::Value::Array(kept));
    std::fs::write(dest, toml::to_string(&doc).unwrap()).unwrap();
    pick
}

/// Writes `policy` plus the copier's sandbox grant (`in/` read-only, `out/` read-write, both
/// next to `dest`) to `dest`, and creates `in/a.txt` and an empty `out/`.
#[cfg(feature = "sandbox")]
fn copy_sandbox(policy: &Path, dest: &Path) {
    let mut text = std::fs::read_to_string(policy).unwrap();
    text.push_str(
        "\n[sandbox]\n[[sandbox.preopens]]\nhost = \"in\"\nguest = \"/in\"\nmode = \"ro\"\n\
         [[sandbox.preopens]]\nhost = \"out\"\nguest = \"/out\"\nmode = \"rw\"\n",
    );
    std::fs::write(dest, text).unwrap();
    let dir = dest.parent().unwrap();
    std::fs::create_dir(dir.join("in")).unwrap();
    std::fs::write(dir.join("in/a.txt"), "copied bytes\n").unwrap();
    std::fs::create_dir(dir.join("out")).unwrap();
}

/// Runs a hardened copier `/in/a.txt /out/b.txt` under `policy` (see [`copy_sandbox`]),
/// asserts it failed its write inside the guest (copy.c's own error path: fopen(DST) fails,
/// it reports and returns 1) and returns the traced calls to `call`.
#[cfg(feature = "sandbox")]
fn run_copy_refusing_write(wasm: &Path, policy: &Path, call: &str) -> Vec<Value> {
    let trace = policy.parent().unwrap().join("trace.jsonl");
    let (code, stdout, _) = run(&[
        "run",
        wasm.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
        "--format",
        "json",
        "--",
        "/in/a.txt",
        "/out/b.txt",
    ]);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((code, v["outcome"].as_str()), (1, Some("exit(1)")), "{v:#}");
    assert!(
        v["stderr"]
            .as_str()
            .unwrap()
            .contains("copy: cannot create /out/b.txt: Capabilities insufficient"),
        "{v:#}"
    );
    std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|c| c["call"] == call)
        .collect()
}

#[cfg(feature = "sandbox")]
#[test]
fn hardened_copy_fails_its_write_inside_the_guest() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = root().join("corpus/c/copy.wasm");
    let policy = tmp.path().join("copy.toml");
    assert_eq!(policy_minus(&copy, Some("fs.write"), &policy), "fs.write");
    copy_sandbox(&policy, &policy);
    let out = tmp.path().join("copy.hardened.wasm");
    let p = policy.to_str().unwrap();
    let (code, stdout, stderr) = run(&[
        "harden",
        copy.to_str().unwrap(),
        "--policy",
        p,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let after = caps(&std::fs::read(&out).unwrap());
    assert_eq!(
        after["_start"],
        set("args, fs.metadata, fs.read, proc.exit, stdio")
    );
    let (code, stdout, _) = run(&["check", out.to_str().unwrap(), "--policy", p]);
    assert_eq!(code, 0, "{stdout}");

    // No path_open reaching the host asks for writing, creation or truncation, or names b.txt.
    const WRITE: u64 = (1 << 0) | (1 << 4) | (1 << 6) | (1 << 8) | (1 << 22) | (1 << 23);
    let opens = run_copy_refusing_write(&out, &policy, "wasi_snapshot_preview1#path_open");
    assert_eq!(opens.len(), 1, "{opens:?}");
    let a = &opens[0]["args"];
    assert_eq!(a["path"], "a.txt");
    assert_eq!(a["rights_base"].as_u64().unwrap() & WRITE, 0);
    assert_eq!(a["oflags"].as_u64().unwrap() & (1 | 8), 0);
    assert_eq!(
        std::fs::read_dir(tmp.path().join("out")).unwrap().count(),
        0
    );

    // `wasmgate diff ORIGINAL HARDENED` shows the behaviour change: the original copies, the
    // hardened one fails its write; statically it lost fs.write and fs.create.
    let (code, stdout, stderr) = run(&[
        "diff",
        copy.to_str().unwrap(),
        out.to_str().unwrap(),
        "--policy",
        p,
        "--format",
        "json",
        "--",
        "/in/a.txt",
        "/out/b.txt",
    ]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let d: Value = serde_json::from_str(&stdout).unwrap();
    let run0 = &d["runs"][0];
    assert_eq!(
        (
            run0["left"]["outcome"].as_str(),
            run0["right"]["outcome"].as_str()
        ),
        (Some("exit(0)"), Some("exit(1)")),
        "{d:#}"
    );
    let removed: BTreeSet<&str> = d["static"]["capabilities_removed"]
        .as_array()
        .unwrap_or_else(|| panic!("{d:#}"))
        .iter()
        .map(|c| c["capability"].as_str().unwrap())
        .collect();
    assert_eq!(removed, BTreeSet::from(["fs.create", "fs.write"]), "{d:#}");
}

fn corpus_dir() -> PathBuf {
    match std::env::var_os("WASMGATE_CORPUS_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/wasmgate/corpus")
        }
    }
}

/// A core module exporting `_start` and importing WASI preview 1.
fn is_p1_command(wasm: &[u8]) -> bool {
    let Ok(a) = wasmgate_analyzer::analyze(wasm) else {
        return false;
    };
    a.module.is_some()
        && a.exports.iter().any(|e| e.name == "_start")
        && a.imports
            .iter()
            .any(|i| i.module == "wasi_snapshot_preview1" || i.module == "wasi_unstable")
}

#[test]
fn every_wasi_p1_command_of_the_corpus_hardens_or_is_refused_clearly() {
    let dir = corpus_dir();
    assert!(
        dir.is_dir(),
        "{} is missing; run corpus/third-party/fetch.sh (or set WASMGATE_CORPUS_DIR)",
        dir.display()
    );
    let mut files: Vec<PathBuf> = crate::common::files_with_ext(&root().join("corpus/c"), "wasm");
    // The manifest says which third-party binaries are WASI p1 commands (`is_p1_command`
    // confirms each), so the large non-commands are not analysed for nothing.
    let manifest: toml::Table = toml::from_str(
        &std::fs::read_to_string(root().join("corpus/third-party/manifest.toml")).unwrap(),
    )
    .unwrap();
    for b in manifest["binary"].as_array().unwrap() {
        let flavour = b["flavour"].as_str().unwrap();
        if matches!(flavour, "wasi-p1-command" | "go-wasip1" | "wasi-unstable") {
            files.push(dir.join(format!("{}.wasm", b["id"].as_str().unwrap())));
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut hardened = 0;
    let mut failures = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        if !is_p1_command(&bytes) {
            continue;
        }
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let policy = tmp.path().join(format!("{name}.toml"));
        let cap = policy_minus(&file, None, &policy);
        let out = tmp.path().join(format!("{name}.hardened.wasm"));
        let p = policy.to_str().unwrap();
        let (code, stdout, stderr) = run(&[
            "harden",
            file.to_str().unwrap(),
            "--policy",
            p,
            "-o",
            out.to_str().unwrap(),
            "--format",
            "json",
        ]);
        match code {
            0 | 1 => {
                let bytes = std::fs::read(&out).unwrap();
                if let Err(e) =
                    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
                        .validate_all(&bytes)
                {
                    failures.push(format!("{name}: output does not validate: {e}"));
                    continue;
                }
                let r: Value = serde_json::from_str(&stdout).unwrap();
                let not_enforced = r["not_enforced"].as_array().unwrap();
                // Exit 1 exactly when something is not enforced, each with its reason.
                if (code == 1) == not_enforced.is_empty()
                    || not_enforced.iter().any(|n| n["reason"] == "")
                {
                    failures.push(format!("{name}: exit {code} with {not_enforced:?}"));
                }
                if code == 0 {
                    let (c, out, _) = run(&["check", out.to_str().unwrap(), "--policy", p]);
                    if c != 0 {
                        failures.push(format!("{name} (minus {cap}): check fails: {out}"));
                    }
                    assert!(
                        !caps(&bytes).values().flatten().any(|c| *c == cap),
                        "{name}"
                    );
                }
                hardened += 1;
            }
            2 if stderr.contains("cannot harden this binary") => {}
            _ => failures.push(format!("{name}: exit {code}: {stderr}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // corpus/c has three commands (compute, copy, envprint); the third-party corpus more.
    assert!(hardened >= 3, "only {hardened} commands hardened");
}

/// (capability, import) pairs the entry points of `a` reach.
fn reached_pairs(a: &wasmgate_analyzer::Analysis) -> BTreeSet<(String, String)> {
    a.entry_points
        .iter()
        .flat_map(|e| e.reaches.iter())
        .map(|r| (r.capability.clone(), r.import.clone()))
        .collect()
}

/// `(path, import)` of each module's removed (stand-in) or guarded (withheld) imports.
fn module_actions(report: &Value, key: &str, field: &str) -> BTreeMap<(String, String), String> {
    report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| {
            m[key].as_array().unwrap().iter().map(move |r| {
                let v = match &r[field] {
                    Value::Array(a) => a
                        .iter()
                        .map(|c| c.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join(", "),
                    v => v.as_str().unwrap().to_string(),
                };
                (
                    (
                        m["path"].as_str().unwrap().to_string(),
                        r["import"].as_str().unwrap().to_string(),
                    ),
                    v,
                )
            })
        })
        .collect()
}

#[test]
fn copy_component_is_hardened_module_by_module_and_its_denied_imports_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let input_path = root().join("corpus/c/copy.component.wasm");
    let input = std::fs::read(&input_path).unwrap();
    let out = tmp.path().join("copy.component.hardened.wasm");
    let policy = "corpus/fixtures/harden/copy-component.toml";
    let (code, stdout, stderr) = run(&[
        "harden",
        input_path.to_str().unwrap(),
        "--policy",
        policy,
        "-o",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    // Exit 1: the component keeps importing what only writes (composition would be needed).
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&bytes)
        .unwrap();

    // Every embedded module is reported, under the path inspect gives it.
    let before = wasmgate_analyzer::analyze(&input).unwrap();
    let paths: Vec<&str> = report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["path"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = before
        .component
        .as_ref()
        .unwrap()
        .modules
        .iter()
        .map(|m| m.path.as_str())
        .collect();
    assert_eq!(paths, want);

    // module[0] is the C program (WASI p1): its path_open is guarded as in a plain module.
    // module[1] is the preview 1 adapter: its imports conferring only fs.write go.
    let guarded = module_actions(&report, "guarded_imports", "withheld");
    let key = |p: &str, i: &str| (p.to_string(), i.to_string());
    assert_eq!(
        guarded,
        BTreeMap::from([(
            key("module[0]", "wasi_snapshot_preview1#path_open"),
            "fs.create, fs.write".to_string()
        )])
    );
    const APPEND: &str = "wasi:filesystem/types@0.2.12#[method]descriptor.append-via-stream";
    const WRITE: &str = "wasi:filesystem/types@0.2.12#[method]descriptor.write-via-stream";
    const OPEN_AT: &str = "wasi:filesystem/types@0.2.12#[method]descriptor.open-at";
    let removed = module_actions(&report, "removed_imports", "stand_in");
    assert_eq!(
        removed,
        BTreeMap::from([
            (key("module[1]", APPEND), "trap".to_string()),
            (key("module[1]", WRITE), "trap".to_string()),
        ])
    );

    // A fresh analysis of the output: of the imports conferring fs.write, only open-at is
    // still reached (the adapter
    // turns the masked p1 rights into open-at flags, which the analyzer does not narrow);
    // the write imports are no longer reached. The input reached fs.write through all three.
    let fs_write = |a: &wasmgate_analyzer::Analysis| -> BTreeSet<String> {
        a.imports
            .iter()
            .filter(|i| i.capabilities.iter().any(|c| c == "fs.write"))
            .filter(|i| !a.unreachable_imports.contains(&i.id))
            .map(|i| i.id.clone())
            .collect()
    };
    assert_eq!(
        fs_write(&before),
        BTreeSet::from([APPEND.to_string(), WRITE.to_string(), OPEN_AT.to_string()])
    );
    let after = wasmgate_analyzer::analyze(&bytes).unwrap();
    assert_eq!(fs_write(&after), BTreeSet::from([OPEN_AT.to_string()]));
    for i in [APPEND, WRITE] {
        assert!(after.unreachable_imports.iter().any(|u| u == i), "{i}");
    }

    // Not enforced, exactly: open-at (reached), and the two write imports the component
    // still declares (taking them out needs composition).
    let ne: BTreeMap<(String, String), String> = report["not_enforced"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                (
                    n["capability"].as_str().unwrap().to_string(),
                    n["import"].as_str().unwrap().to_string(),
                ),
                n["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ne.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            key("fs.write", APPEND),
            key("fs.write", OPEN_AT),
            key("fs.write", WRITE),
        ])
    );
    for i in [APPEND, WRITE] {
        assert!(ne[&key("fs.write", i)].contains("composition"), "{ne:?}");
    }
    assert!(
        ne[&key("fs.write", OPEN_AT)].contains("still reached"),
        "{ne:?}"
    );

    let mut redacted = report.clone();
    redacted["wasmgate_version"] = "[version]".into();
    for m in redacted["modules"].as_array_mut().unwrap() {
        m["wasmgate_version"] = "[version]".into();
    }
    insta::assert_json_snapshot!("harden-json-copy-component", redacted);

    #[cfg(feature = "sandbox")]
    {
        // It still runs, and fails its write inside the guest through module[0]'s guard:
        // copy.c's own error path, and no open-at reaching the host creates or writes.
        let p = tmp.path().join("p.toml");
        copy_sandbox(&root().join(policy), &p);
        let opens = run_copy_refusing_write(&out, &p, OPEN_AT);
        assert_eq!(opens.len(), 1, "{opens:?}");
        assert_eq!(opens[0]["args"]["path"], "a.txt");
        assert_eq!(opens[0]["args"]["flags"], "(READ)");
        assert_eq!(opens[0]["args"]["open-flags"], "()");
    }
}

#[test]
fn third_party_wasi_components_harden_to_valid_components_that_lose_the_capability() {
    let dir = corpus_dir();
    let tmp = tempfile::tempdir().unwrap();
    let mut hardened = 0;
    // Components of the corpus importing WASI 0.2 (the numcodecs codecs, wasip1 programs
    // adapted to components), each with its own policy minus one capability it reaches.
    for (name, cap) in [
        ("numcodecs-wasm-identity.wasm", "random"),
        ("numcodecs-wasm-ebcc.wasm", "env"),
    ] {
        let wasm = dir.join(name);
        assert!(wasm.is_file(), "{} is missing", wasm.display());
        let policy = tmp.path().join(format!("{name}.toml"));
        assert_eq!(policy_minus(&wasm, Some(cap), &policy), cap);
        let out = tmp.path().join(format!("{name}.hardened.wasm"));
        let (code, stdout, stderr) = run(&[
            "harden",
            wasm.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert_eq!(code, 1, "{name}: {stdout}\n{stderr}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(&bytes)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let before = wasmgate_analyzer::analyze(&std::fs::read(&wasm).unwrap()).unwrap();
        let after = wasmgate_analyzer::analyze(&bytes).unwrap();
        assert!(
            reached_pairs(&before).iter().any(|(c, _)| c == cap),
            "{name} reaches {cap}"
        );
        // The capability is gone from what the output reaches; what the report still lists
        // is only the component imports conferring it, declared but unreached.
        assert!(
            !reached_pairs(&after).iter().any(|(c, _)| c == cap),
            "{name}: still reaches {cap}"
        );
        let imports: BTreeSet<String> = after
            .imports
            .iter()
            .filter(|i| i.capabilities.iter().any(|c| c == cap))
            .map(|i| i.id.clone())
            .collect();
        let listed: BTreeSet<String> = report["not_enforced"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                assert_eq!(n["capability"], cap, "{n}");
                assert!(n["reason"].as_str().unwrap().contains("composition"), "{n}");
                n["import"].as_str().unwrap().to_string()
            })
            .collect();
        assert!(!listed.is_empty());
        assert_eq!(listed, imports, "{name}");
        for i in &listed {
            assert!(after.unreachable_imports.contains(i), "{name}: {i}");
        }
        hardened += 1;
    }
    assert_eq!(hardened, 2);
}

#[test]
fn hostile_import_names_are_escaped_in_the_human_report() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = tmp.path().join("hostile.wasm");
    std::fs::write(
        &wasm,
        wat::parse_str(
            "(module (import \"env\" \"x\\n\\1b[31mred\\e2\\80\\ae\" (func $f))
               (func (export \"go\") (call $f)))",
        )
        .unwrap(),
    )
    .unwrap();
    let out = tmp.path().join("out.wasm");
    let (code, stdout, stderr) = run(&[
        "harden",
        wasm.to_str().unwrap(),
        "--policy",
        "corpus/fixtures/harden/mixed.toml",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("env#x\\n\\u{1b}[31mred\\u{202e} -> trap"),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{202e}'),
        "{stdout}"
    );
}

/// Element segments of `wasm` by index: (`active`/`passive`/`declared`, function names).
fn element_segments(wasm: &[u8]) -> Vec<(String, Vec<String>)> {
    let a = wasmgate_analyzer::analyze(wasm).unwrap();
    let names: BTreeMap<u32, String> = a
        .module
        .unwrap()
        .functions
        .iter()
        .map(|f| (f.index, f.name.clone()))
        .collect();
    let mut out = Vec::new();
    for p in wasmparser::Parser::new(0).parse_all(wasm) {
        let wasmparser::Payload::ElementSection(r) = p.unwrap() else {
            continue;
        };
        for e in r {
            let e = e.unwrap();
            let kind = match e.kind {
                wasmparser::ElementKind::Active { .. } => "active",
                wasmparser::ElementKind::Passive => "passive",
                wasmparser::ElementKind::Declared => "declared",
            };
            let funcs: Vec<u32> = match e.items {
                wasmparser::ElementItems::Functions(f) => {
                    f.into_iter().map(|f| f.unwrap()).collect()
                }
                wasmparser::ElementItems::Expressions(_, x) => x
                    .into_iter()
                    .flat_map(|c| {
                        c.unwrap()
                            .get_operators_reader()
                            .into_iter()
                            .filter_map(|o| match o.unwrap() {
                                wasmparser::Operator::RefFunc { function_index } => {
                                    Some(function_index)
                                }
                                _ => None,
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect(),
            };
            out.push((
                kind.to_string(),
                funcs.iter().map(|f| names[f].clone()).collect(),
            ));
        }
    }
    out
}

/// `table.init` and `elem.drop` segment indices in the body of the function named `name`.
fn segment_uses(wasm: &[u8], name: &str) -> Vec<(String, u32)> {
    let a = wasmgate_analyzer::analyze(wasm).unwrap();
    let m = a.module.unwrap();
    let nimp = m.functions.iter().filter(|f| f.import.is_some()).count();
    let f = m.functions.iter().find(|f| f.name == name).unwrap();
    let body_index = f.index as usize - nimp;
    let mut k = 0;
    for p in wasmparser::Parser::new(0).parse_all(wasm) {
        let wasmparser::Payload::CodeSectionEntry(body) = p.unwrap() else {
            continue;
        };
        if k == body_index {
            let mut out = Vec::new();
            for op in body.get_operators_reader().unwrap() {
                match op.unwrap() {
                    wasmparser::Operator::TableInit { elem_index, .. } => {
                        out.push(("table.init".to_string(), elem_index))
                    }
                    wasmparser::Operator::ElemDrop { elem_index } => {
                        out.push(("elem.drop".to_string(), elem_index))
                    }
                    _ => {}
                }
            }
            return out;
        }
        k += 1;
    }
    panic!("no body for {name}");
}

#[test]
fn unreferenced_passive_and_declared_element_segments_go_and_the_rest_stay() {
    let text = std::fs::read_to_string(root().join("corpus/fixtures/harden/elems.wat")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (input, out, report) = harden_fixture(tmp.path(), "elems", &[]);
    let removed: BTreeSet<u64> = report["removed_element_segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let want_removed: BTreeSet<u64> = header(&text, "expect-removed-segment")
        .keys()
        .map(|k| k.parse().unwrap())
        .collect();
    assert_eq!(removed, want_removed);
    assert_removed_functions(&report, &text);

    // The input has the segments the header numbers; the output exactly the kept ones, in
    // order, with their functions.
    let before = element_segments(&input);
    let kept = header(&text, "expect-kept-segment");
    assert_eq!(before.len(), kept.len() + want_removed.len());
    let expected: Vec<(String, Vec<String>)> = kept
        .iter()
        .map(|(i, v)| {
            let (kind, funcs) = v.split_once(' ').unwrap();
            let i: usize = i.parse().unwrap();
            assert_eq!(before[i].0, kind, "segment {i} of the input");
            (kind.to_string(), set(funcs).into_iter().collect())
        })
        .collect();
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(element_segments(&bytes), expected);
    // _start's table.init and elem.drop name the same segments as before, renumbered.
    assert_eq!(
        segment_uses(&input, "_start"),
        [("table.init".to_string(), 1), ("elem.drop".to_string(), 5)]
    );
    assert_eq!(
        segment_uses(&bytes, "_start"),
        [("table.init".to_string(), 1), ("elem.drop".to_string(), 3)]
    );
    assert_eq!(expected[1].1, ["two"]);
    assert_eq!(expected[3].1, ["six"]);

    let mut redacted = report.clone();
    redacted["wasmgate_version"] = "[version]".into();
    insta::assert_json_snapshot!("harden-json-elems", redacted);

    #[cfg(feature = "sandbox")]
    {
        // table[0]() + table[1]() after table.init of the renumbered segment: 1 + 2.
        let (code, stdout, _) = run(&["run", out.to_str().unwrap(), "--format", "json"]);
        let v: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!((code, v["outcome"].as_str()), (1, Some("exit(3)")), "{v:#}");
    }
}

#[test]
fn clock_time_get_is_guarded_to_the_allowed_clock_ids() {
    let text = std::fs::read_to_string(root().join("corpus/fixtures/harden/clock.wat")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (input, out, report) = harden_fixture(tmp.path(), "clock", &[]);
    assert_eq!(report["removed_imports"], serde_json::json!([]));
    let guarded: BTreeMap<String, String> = report["guarded_imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert_eq!(g["refusal"], "errno 76");
            let w: Vec<&str> = g["withheld"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            (g["import"].as_str().unwrap().to_string(), w.join(", "))
        })
        .collect();
    assert_eq!(guarded, header(&text, "expect-guarded"));
    let want: BTreeMap<String, BTreeSet<String>> = header(&text, "expect-caps-after")
        .into_iter()
        .map(|(k, v)| (k, set(&v)))
        .collect();
    assert_eq!(
        caps(&input)["_start"],
        set("clock.monotonic, clock.wall, proc.exit")
    );
    assert_eq!(caps(&std::fs::read(&out).unwrap()), want);

    #[cfg(feature = "sandbox")]
    {
        let trace = tmp.path().join("trace.jsonl");
        let (code, stdout, _) = run(&[
            "run",
            out.to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
            "--format",
            "json",
        ]);
        let v: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(
            (code, v["outcome"].as_str()),
            (1, Some("exit(76)")),
            "{v:#}"
        );
        let clocks: Vec<Value> = std::fs::read_to_string(&trace)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|c| c["call"] == "wasi_snapshot_preview1#clock_time_get")
            .collect();
        assert_eq!(clocks.len(), 1, "{clocks:?}");
        assert_eq!(clocks[0]["args"]["id"], "monotonic", "{clocks:?}");
    }
}
