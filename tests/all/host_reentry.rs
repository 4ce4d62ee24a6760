//! Host re-entry (issue 10, section 2): a JS import that calls back through an exported table
//! makes the calling export reach the callee's capabilities, with a witness through
//! `<host-reentry>`; `--assume-no-reentry` and the policy key `assume_no_reentry` restore the
//! old result, and a child policy needs `widen` to set the key. The fixture's header states
//! both capability sets; `callgraph_fixtures` checks them exactly.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use wasmgate_analyzer::Options;

use crate::common::root;
use crate::policy_check::{run_in, scratch};

const FIXTURE: &str = "corpus/fixtures/callgraph/js_host_reentry.wat";
/// `main` by default (the fixture header's `expect-caps`).
const MAIN_SOUND: &[&str] = &[
    "clock.wall",
    "fs.create",
    "fs.metadata",
    "fs.write",
    "net.io",
    "stdio",
    "unknown-host",
];
/// `main` under the assumption (`expect-caps-assuming-no-reentry`).
const MAIN_ASSUMING: &[&str] = &["fs.write", "net.io", "stdio", "unknown-host"];

/// The fixture built into `dir`, for the CLI.
fn fixture_in(dir: &Path) -> String {
    let wasm = wat::parse_file(root().join(FIXTURE)).unwrap();
    std::fs::write(dir.join("app.wasm"), wasm).unwrap();
    "app.wasm".into()
}

fn main_caps(json: &Value) -> BTreeSet<String> {
    json["entry_points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "main")
        .expect("entry point main")["reaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["capability"].as_str().unwrap().to_string())
        .collect()
}

fn set(caps: &[&str]) -> BTreeSet<String> {
    caps.iter().map(|c| c.to_string()).collect()
}

#[test]
fn js_callback_witness_runs_through_host_reentry() {
    let wasm = wat::parse_file(root().join(FIXTURE)).unwrap();
    let a = wasmgate_analyzer::analyze(&wasm).unwrap();
    let main = a.entry_points.iter().find(|e| e.name == "main").unwrap();
    // fs.create: only `write_file`'s path_open confers it (fd_write confers fs.write directly
    // once the unknown host import turns the descriptor refinement off).
    let fs_create = main
        .reaches
        .iter()
        .find(|r| r.capability == "fs.create")
        .expect("main reaches fs.create through the callback");
    let path: Vec<&str> = fs_create.path.iter().map(|p| &**p).collect();
    assert_eq!(
        path,
        [
            "main",
            "env#js_callback",
            "<host-reentry>",
            "write_file",
            "wasi_snapshot_preview1#path_open"
        ]
    );
    assert_eq!(fs_create.import, "wasi_snapshot_preview1#path_open");
}

#[test]
fn assume_no_reentry_flag_restores_the_old_result_on_every_analysing_command() {
    let dir = scratch("reentry-flag");
    let app = fixture_in(&dir);
    let inspect = |extra: &[&str]| -> Value {
        let mut args = vec!["inspect", "--format", "json", "--per-entry", &app];
        args.extend_from_slice(extra);
        let (code, out, err) = run_in(&dir, &args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let sound = inspect(&[]);
    assert_eq!(sound["options"]["assume_no_reentry"], false);
    assert_eq!(main_caps(&sound), set(MAIN_SOUND));
    let assuming = inspect(&["--assume-no-reentry"]);
    assert_eq!(assuming["options"]["assume_no_reentry"], true);
    assert_eq!(main_caps(&assuming), set(MAIN_ASSUMING));

    // `graph` shows the node only by default.
    let has_node = |extra: &[&str]| -> bool {
        let mut args = vec!["graph", "--format", "json", &app];
        args.extend_from_slice(extra);
        let (code, out, err) = run_in(&dir, &args);
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        v["graphs"][0]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == "<host-reentry>")
    };
    assert!(has_node(&[]));
    assert!(!has_node(&["--assume-no-reentry"]));

    // `policy init` writes the key with the flag, and its policy passes only under it.
    let (code, policy, err) = run_in(&dir, &["policy", "init", &app, "--assume-no-reentry"]);
    assert_eq!(code, 0, "{err}");
    assert!(policy.contains("\nassume_no_reentry = true\n"), "{policy}");
    std::fs::write(dir.join("assuming.toml"), &policy).unwrap();
    let (code, out, _) = run_in(&dir, &["check", "--policy", "assuming.toml", &app]);
    assert_eq!(code, 0, "{out}");
    let without = policy.replace("\nassume_no_reentry = true\n", "\n");
    std::fs::write(dir.join("sound.toml"), without).unwrap();
    let (code, out, _) = run_in(&dir, &["check", "--policy", "sound.toml", &app]);
    assert_eq!(
        code, 1,
        "the sound analysis reaches more than the policy allows:\n{out}"
    );
    let (code, out, _) = run_in(
        &dir,
        &[
            "check",
            "--policy",
            "sound.toml",
            &app,
            "--assume-no-reentry",
        ],
    );
    assert_eq!(code, 0, "{out}");
}

/// `[exports.restrict] main = ["fs.write", "net.io", "stdio", "unknown-host"]` held while the
/// callback was ignored; by default `main` breaks it (through the callback), and the policy key restores the pass.
#[test]
fn restrict_on_a_calling_export_fails_unless_the_policy_assumes_no_reentry() {
    let dir = scratch("reentry-policy");
    let app = fixture_in(&dir);
    let body = "[capabilities]\nallow = [\"*\"]\n\n[exports.restrict]\nmain = [\"fs.write\", \"net.io\", \"stdio\", \"unknown-host\"]\n\n\
                [levels]\nunknown-host-import = \"off\"\nmemory-without-maximum = \"off\"\n";
    std::fs::write(dir.join("p.toml"), body).unwrap();
    std::fs::write(
        dir.join("assume.toml"),
        format!("assume_no_reentry = true\n{body}"),
    )
    .unwrap();
    let (code, out, err) = run_in(
        &dir,
        &["check", "--policy", "p.toml", &app, "--format", "json"],
    );
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let restricted: BTreeSet<String> = v["files"][0]["findings"]
        .as_array()
        .or_else(|| v["findings"].as_array())
        .unwrap_or_else(|| panic!("findings in {out}"))
        .iter()
        .filter(|f| f["name"] == "export-capability-restricted")
        .map(|f| f["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        restricted,
        set(&["clock.wall", "fs.create", "fs.metadata"]),
        "{out}"
    );
    let (code, out, err) = run_in(&dir, &["check", "--policy", "assume.toml", &app]);
    assert_eq!(code, 0, "{out}{err}");
    // The loader hands the key to the analysis options.
    let p = wasmgate_policy::load(&dir.join("assume.toml")).unwrap();
    assert_eq!(
        p.analysis_options(),
        Options {
            assume_no_reentry: true,
            ..Default::default()
        }
    );
    let p = wasmgate_policy::load(&dir.join("p.toml")).unwrap();
    assert_eq!(p.analysis_options(), Options::default());
}

#[test]
fn a_child_policy_needs_widen_to_assume_no_reentry() {
    let dir = scratch("reentry-widen");
    let load = |parent: &str, child: &str| {
        std::fs::write(dir.join("parent.toml"), parent).unwrap();
        let path = dir.join("child.toml");
        std::fs::write(&path, format!("extends = \"parent.toml\"\n{child}")).unwrap();
        wasmgate_policy::load(&path).map_err(|e| match e {
            wasmgate_policy::LoadError::Invalid { rendered, .. } => rendered,
            other => other.to_string(),
        })
    };
    let assumes = |p: &wasmgate_policy::ValidPolicy| p.analysis_options().assume_no_reentry;
    // Setting it over a parent that does not (absent or false) widens.
    for parent in ["", "assume_no_reentry = false\n"] {
        let err = load(parent, "assume_no_reentry = true\n").unwrap_err();
        assert!(
            err.contains("`assume_no_reentry = true` widens the parent policy")
                && err.contains("analysis:assume_no_reentry"),
            "{err}"
        );
        let ok = load(
            parent,
            "widen = [\"analysis:assume_no_reentry\"]\nassume_no_reentry = true\n",
        )
        .unwrap();
        assert!(assumes(&ok));
    }
    // Over a parent that assumes it: inherited, and dropping it is narrowing.
    assert!(assumes(&load("assume_no_reentry = true\n", "").unwrap()));
    assert!(assumes(
        &load("assume_no_reentry = true\n", "assume_no_reentry = true\n").unwrap()
    ));
    assert!(!assumes(
        &load("assume_no_reentry = true\n", "assume_no_reentry = false\n").unwrap()
    ));
    assert!(!assumes(&load("", "assume_no_reentry = false\n").unwrap()));
    // The widen kind takes only this key, and the key only a boolean.
    let err = load("", "widen = [\"analysis:everything\"]\n").unwrap_err();
    assert!(err.contains("bad `widen` entry"), "{err}");
    let err = load("", "assume_no_reentry = \"yes\"\n").unwrap_err();
    assert!(err.contains("assume_no_reentry"), "{err}");
}
