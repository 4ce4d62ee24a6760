//! `wasmgate diff` (minimal vs permissive, old vs new), preopen change reporting, virtual
//! inodes and directory order, `--stdin` and scenario files.
#![cfg(feature = "sandbox")]

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::root;
use crate::policy_check::{multitool_validate, scratch};
use crate::sandbox::{compile, denial_key, run, run_with_env, tree};

const COPY: &str = "corpus/c/copy.wasm";
const COMPUTE: &str = "corpus/c/compute.wasm";
const COMPUTE_ENV: &str = "corpus/c/versions/compute_env.wasm";
const COPIED: &str = "copied bytes\n";

/// A directory with `in/a.txt` and a policy granting only `in` as `/in`, read-only.
fn input_ro(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    std::fs::create_dir_all(dir.join("in")).unwrap();
    std::fs::write(dir.join("in/a.txt"), COPIED).unwrap();
    let policy = dir.join("in-ro.toml");
    std::fs::write(
        &policy,
        "[sandbox]\n[[sandbox.preopens]]\nhost = \"in\"\nguest = \"/in\"\nmode = \"ro\"\n",
    )
    .unwrap();
    (dir, policy)
}

fn json(out: &str, err: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}\nstdout: {out}\nstderr: {err}"))
}

/// SHA-256 of the two file contents the tests write (from `sha256sum`; a dev-dependency on
/// sha2 would change wasmtime's feature set and rebuild it).
fn sha256(bytes: &[u8]) -> &'static str {
    match bytes {
        b"copied bytes\n" => "67e71b6ccc4d185f263b6f136f82c33714802f60e7288a6955969f78640470f0",
        b"old contents" => "f726aa6fad8d88087929664b2f5cc7095d440fabc943f777697caae8475f7945",
        _ => panic!("no known hash for {bytes:?}"),
    }
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// Replaces the scratch directory in output with a fixed name, for snapshots.
fn scrub(text: &str, dir: &Path) -> String {
    text.replace(&dir.display().to_string(), "[scratch]")
}

#[test]
fn diff_of_the_copier_with_a_read_only_input_reports_the_failed_write_and_the_outcome() {
    let (dir, policy) = input_ro("diff-copy");
    let before = tree(&dir.join("in"));
    let p = policy.to_str().unwrap();
    let args = [
        "diff",
        COPY,
        "--policy",
        p,
        "--format",
        "json",
        "--",
        "/in/a.txt",
        "/in/b.txt",
    ];
    let (code, out, err) = run(&args);
    assert_eq!(code, 1, "{err}");
    let v = json(&out, &err);
    assert_eq!(v["mode"], "minimal-vs-permissive");
    assert_eq!(v["differs"], true);
    let r = &v["runs"][0];
    // The outcome: the minimal run cannot create b.txt and exits 1; the permissive one copies.
    assert_eq!(r["outcome_differs"], true);
    assert_eq!(
        (
            r["left"]["outcome"].as_str(),
            r["right"]["outcome"].as_str()
        ),
        (Some("exit(1)"), Some("exit(0)"))
    );
    // The failed write: exactly one denied call in the minimal run, none in the permissive one.
    let denied: Vec<String> = r["left"]["denied"]
        .as_array()
        .unwrap()
        .iter()
        .map(denial_key)
        .collect();
    assert_eq!(denied, ["path_open b.txt"]);
    assert_eq!(r["right"]["denied"], Value::Array(vec![]));
    // The trace diverges at that very call: refused on the left, an fd on the right.
    let t = &r["trace"];
    assert_eq!(t["left"]["seq"], t["first"]);
    assert_eq!(t["left"]["call"], "wasi_snapshot_preview1#path_open");
    assert_eq!(t["left"]["args"]["path"], "b.txt");
    assert_eq!(t["left"]["denied"], true);
    assert_eq!(t["right"]["args"]["path"], "b.txt");
    assert!(t["right"]["result"]["ok"].is_u64(), "{t:#}");
    // The file: created only in the permissive run, with the copied bytes.
    let files = r["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{files:#?}");
    assert_eq!(
        (files[0]["preopen"].as_str(), files[0]["path"].as_str()),
        (Some("/in"), Some("b.txt"))
    );
    assert_eq!(files[0]["left"], Value::Null);
    let created = &files[0]["right"];
    assert_eq!(created["change"], "created");
    assert_eq!(created["kind"], "file");
    assert_eq!(created["size"], COPIED.len() as u64);
    assert_eq!(created["sha256"], sha256(COPIED.as_bytes()));
    // stderr: the copier's error message, only on the left; stdout the same (empty).
    assert_eq!(r["stderr"]["offset"], 0);
    assert!(
        r["stderr"]["left"]
            .as_str()
            .unwrap()
            .starts_with("copy: cannot create"),
        "{r:#}"
    );
    assert!(r.get("stdout").is_none());
    // Neither run touched the host's directory.
    assert_eq!(tree(&dir.join("in")), before);

    let (code, human, err) = run(&["diff", COPY, "--policy", p, "--", "/in/a.txt", "/in/b.txt"]);
    assert_eq!(code, 1, "{err}");
    insta::assert_snapshot!("diff-human-copy-in-ro", human);
    insta::assert_snapshot!("diff-json-copy-in-ro", out);
}

#[test]
fn diff_of_the_copier_as_sarif_passes_the_multitool() {
    let (dir, policy) = input_ro("diff-sarif");
    let sarif = dir.join("diff.sarif");
    let (code, out, err) = run(&[
        "diff",
        COPY,
        "--policy",
        policy.to_str().unwrap(),
        "--format",
        "sarif",
        "-o",
        sarif.to_str().unwrap(),
        "--",
        "/in/a.txt",
        "/in/b.txt",
    ]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    let rules: Vec<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["WG0101"]);
    assert!(results[0]["locations"][0]["physicalLocation"]["region"]["startLine"].is_u64());
    multitool_validate(&sarif);
}

#[test]
fn diff_of_a_compute_only_guest_finds_no_difference() {
    let (_dir, policy) = input_ro("diff-compute");
    let (code, out, err) = run(&[
        "diff",
        COMPUTE,
        "--policy",
        policy.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out, &err);
    assert_eq!(v["differs"], false);
    let r = &v["runs"][0];
    assert_eq!(r["differs"], false);
    assert_eq!(r["left"]["outcome"], r["right"]["outcome"]);
    assert!(r["left"]["outcome"].as_str().unwrap().starts_with("exit("));
    assert!(
        r.get("trace").is_none() && r["files"] == Value::Array(vec![]),
        "{r:#}"
    );
    // The human form says so too.
    let (code, human, _) = run(&["diff", COMPUTE, "--policy", policy.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        human.ends_with("result: no difference (differing runs: 0 of 1)\n"),
        "{human}"
    );
}

#[test]
fn permissive_run_never_sees_the_host_environment() {
    // compute_env reads WG_HIDDEN_TOKEN and folds it into its exit status: set on the host, it
    // must reach neither run, so the two runs agree.
    let (_dir, policy) = input_ro("diff-host-env");
    let (code, out, err) = run_with_env(
        &[
            "diff",
            COMPUTE_ENV,
            "--policy",
            policy.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[("WG_HIDDEN_TOKEN", "a-ci-secret")],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out, &err);
    assert_eq!(
        v["runs"][0]["right"]["outcome"],
        v["runs"][0]["left"]["outcome"]
    );
}

#[test]
fn diff_old_new_reports_the_hidden_env_read_statically_and_dynamically() {
    let (_dir, policy) = input_ro("diff-old-new");
    let p = policy.to_str().unwrap();
    let (code, out, err) = run(&[
        "diff",
        COMPUTE,
        COMPUTE_ENV,
        "--policy",
        p,
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{err}");
    let v = json(&out, &err);
    assert_eq!(v["mode"], "old-vs-new");
    let st = &v["static"];
    // Statically: exactly one capability added (compute_env.c's header: env), none removed.
    let added: Vec<&str> = st["capabilities_added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["capability"].as_str().unwrap())
        .collect();
    assert_eq!(added, ["env"]);
    assert_eq!(st["capabilities_removed"], Value::Array(vec![]));
    let witness = strs(&st["capabilities_added"][0]["path"]);
    // From the `_start` export (its function is lld's `_start.command_export` wrapper).
    assert!(
        witness.first().unwrap().starts_with("_start"),
        "{witness:?}"
    );
    assert!(
        witness
            .last()
            .unwrap()
            .starts_with("wasi_snapshot_preview1#environ_"),
        "{witness:?}"
    );
    // Exactly the two environment imports are new; nothing was dropped.
    let imports: Vec<&str> = st["imports_added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["import"].as_str().unwrap())
        .collect();
    assert_eq!(
        imports,
        [
            "wasi_snapshot_preview1#environ_get",
            "wasi_snapshot_preview1#environ_sizes_get"
        ]
    );
    assert_eq!(st["imports_removed"], Value::Array(vec![]));
    // Dynamically: the same exit status (the variable is not granted), but the new version
    // asks the host for its environment; the old one never does.
    let r = &v["runs"][0];
    assert_eq!(r["outcome_differs"], false);
    assert_eq!(r["left"]["outcome"], r["right"]["outcome"]);
    let t = &r["trace"];
    assert_eq!(strs(&t["only_left"]), Vec::<&str>::new());
    assert_eq!(
        strs(&t["only_right"]),
        ["wasi_snapshot_preview1#environ_sizes_get"]
    );
    assert_eq!(
        t["right"]["call"],
        "wasi_snapshot_preview1#environ_sizes_get"
    );

    let (code, human, _) = run(&["diff", COMPUTE, COMPUTE_ENV, "--policy", p]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("diff-human-compute-old-new", human);
    insta::assert_snapshot!("diff-json-compute-old-new", out);
    // SARIF: the capability (WG0102) and the two imports (WG0103) and the run (WG0101).
    let dir = scratch("diff-old-new-sarif");
    let sarif = dir.join("d.sarif");
    let (code, _, err) = run(&[
        "diff",
        COMPUTE,
        COMPUTE_ENV,
        "--policy",
        p,
        "--format",
        "sarif",
        "-o",
        sarif.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    let mut rules: Vec<&str> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    rules.sort();
    assert_eq!(rules, ["WG0101", "WG0102", "WG0103", "WG0103"]);
    multitool_validate(&sarif);
}

#[test]
fn run_reports_files_created_in_a_read_write_copy() {
    let dir = scratch("run-changes");
    std::fs::create_dir_all(dir.join("in")).unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("in/a.txt"), COPIED).unwrap();
    std::fs::write(dir.join("out/b.txt"), "old contents").unwrap();
    std::fs::write(dir.join("out/keep.txt"), "untouched").unwrap();
    let policy = dir.join("p.toml");
    std::fs::write(
        &policy,
        "[sandbox]\n[[sandbox.preopens]]\nhost = \"in\"\nguest = \"/in\"\nmode = \"ro\"\n\
         [[sandbox.preopens]]\nhost = \"out\"\nguest = \"/out\"\nmode = \"rw\"\n",
    )
    .unwrap();
    let p = policy.to_str().unwrap();
    let (code, out, err) = run(&[
        "run",
        COPY,
        "--policy",
        p,
        "--format",
        "json",
        "--",
        "/in/a.txt",
        "/out/b.txt",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out, &err);
    // The read-only copy reports nothing; the read-write one exactly the overwritten file.
    assert_eq!(v["preopens"][0]["changes"], Value::Array(vec![]));
    let changes = v["preopens"][1]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    let c = &changes[0];
    assert_eq!(
        (c["path"].as_str(), c["change"].as_str()),
        (Some("b.txt"), Some("changed"))
    );
    assert_eq!(
        (c["size"].as_u64(), c["old_size"].as_u64()),
        (Some(13), Some(12))
    );
    assert_eq!(c["sha256"], sha256(COPIED.as_bytes()));
    assert_eq!(c["old_sha256"], sha256(b"old contents"));
    // The host's copy is unchanged.
    assert_eq!(
        std::fs::read_to_string(dir.join("out/b.txt")).unwrap(),
        "old contents"
    );
}

/// The listing and `(dev, ino)` listdir.wat writes: (name, d_ino) per entry, then the stat.
fn listing(stdout: &str) -> (Vec<(String, u64)>, (u64, u64)) {
    let b = stdout.as_bytes();
    let (dirents, stat) = b.split_at(b.len() - 16);
    let mut out = Vec::new();
    let mut rest = dirents;
    while rest.len() >= 24 {
        let ino = u64::from_le_bytes(rest[8..16].try_into().unwrap());
        let n = u32::from_le_bytes(rest[16..20].try_into().unwrap()) as usize;
        out.push((String::from_utf8(rest[24..24 + n].to_vec()).unwrap(), ino));
        rest = &rest[24 + n..];
    }
    let dev = u64::from_le_bytes(stat[0..8].try_into().unwrap());
    let ino = u64::from_le_bytes(stat[8..16].try_into().unwrap());
    (out, (dev, ino))
}

#[test]
fn directory_listings_are_sorted_with_virtual_inodes_on_every_run() {
    let dir = scratch("listdir");
    std::fs::create_dir_all(dir.join("d")).unwrap();
    // Created out of order, so the host's order is not the sorted one on most file systems.
    for name in ["zeta", "b", "a", "mid"] {
        std::fs::write(dir.join("d").join(name), name).unwrap();
    }
    let policy = dir.join("p.toml");
    std::fs::write(
        &policy,
        "[sandbox]\n[[sandbox.preopens]]\nhost = \"d\"\nguest = \"/d\"\nmode = \"rw\"\n",
    )
    .unwrap();
    let wasm = compile(&root().join("corpus/sandbox/guests/listdir.wat"), &dir);
    let mut outs = Vec::new();
    for i in 0..2 {
        let trace = dir.join(format!("t{i}.jsonl"));
        let (code, out, err) = run(&[
            "run",
            wasm.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--format",
            "json",
            "--trace",
            trace.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let v = json(&out, &err);
        outs.push((
            v["stdout"].as_str().unwrap().to_string(),
            std::fs::read(&trace).unwrap(),
        ));
    }
    assert_eq!(outs[0], outs[1], "two runs, same listing and trace");
    let (entries, stat) = listing(&outs[0].0);
    // Sorted after the dots; inodes numbered in order of first sight (the directory is 1).
    assert_eq!(
        entries,
        [
            (".", 1),
            ("..", 1),
            ("a", 2),
            ("b", 3),
            ("mid", 4),
            ("zeta", 5)
        ]
        .map(|(n, i)| (n.to_string(), i))
    );
    // The stat of "a" after the listing: the same virtual inode as in the listing.
    assert_eq!(stat, (1, 2));
}

#[test]
fn stdin_comes_from_the_given_file_and_is_empty_otherwise() {
    let dir = scratch("stdin");
    let wasm = compile(&root().join("corpus/sandbox/guests/echo_stdin.wat"), &dir);
    let w = wasm.to_str().unwrap();
    // More than one 4 KiB read.
    let input: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    let f = dir.join("in.txt");
    std::fs::write(&f, &input).unwrap();
    let (code, out, err) = run(&["run", w, "--format", "json", "--stdin", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out, &err)["stdout"], input.as_str());
    let (code, out, err) = run(&["run", w, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out, &err)["stdout"], "");
    // A FIFO or a directory is refused as an input error, not read.
    let (code, _, err) = run(&["run", w, "--stdin", dir.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
}

/// A scenario over the copier: one run that copies into a writable input, one that writes
/// into a read-only one, and the echo of a stdin file.
fn copy_scenario(dir: &Path, second_expect: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("in")).unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("in/a.txt"), COPIED).unwrap();
    let s = dir.join("copy.scenario.toml");
    std::fs::write(
        &s,
        format!(
            "[[run]]\nname = \"copies\"\nargs = [\"/in/a.txt\", \"/out/b.txt\"]\n\
             [[run.inputs]]\nhost = \"in\"\nguest = \"/in\"\n\
             [[run.inputs]]\nhost = \"out\"\nguest = \"/out\"\nmode = \"rw\"\n\n\
             [[run]]\nname = \"read-only-target\"\nargs = [\"/in/a.txt\", \"/in/b.txt\"]\n\
             expect = \"{second_expect}\"\n\
             [[run.inputs]]\nhost = \"in\"\nguest = \"/in\"\n"
        ),
    )
    .unwrap();
    s
}

#[test]
fn scenario_replay_passes_when_every_outcome_is_the_expected_one() {
    let dir = scratch("scenario-ok");
    let s = copy_scenario(&dir, "exit(1)");
    let (code, out, err) = run(&[
        "run",
        COPY,
        "--scenario",
        s.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out, &err);
    assert_eq!(
        crate::common::run_outcomes(&v["runs"]),
        [
            ("copies", "exit(0)", true),
            ("read-only-target", "exit(1)", true)
        ]
    );
    // The first run's write is reported in its writable input.
    assert_eq!(v["runs"][0]["preopens"][1]["changes"][0]["path"], "b.txt");
    // A different expectation is a mismatch: exit 1, and the human report says which.
    let s = copy_scenario(&dir, "exit(0)");
    let (code, out, _) = run(&["run", COPY, "--scenario", s.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("== run read-only-target: exit(1) (expected exit(0))  MISMATCH"),
        "{out}"
    );
    assert!(
        out.ends_with("scenario: 2 runs, 1 with the expected outcome, 1 not\n"),
        "{out}"
    );
}

#[test]
fn scenario_errors_point_at_line_and_column() {
    let dir = scratch("scenario-bad");
    let s = dir.join("bad.toml");
    std::fs::write(
        &s,
        "[[run]]\nname = \"a\"\nexpect = \"exit(zero)\"\n\n[[run]]\nname = \"b\"\nstdin = \"missing.txt\"\n",
    )
    .unwrap();
    let (code, out, err) = run(&["run", COPY, "--scenario", s.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    let err = scrub(&err, &dir);
    assert!(err.contains("[scratch]/bad.toml:3:10"), "{err}");
    assert!(err.contains("[scratch]/bad.toml:7:9"), "{err}");
    insta::assert_snapshot!("scenario-errors", err);
}

#[test]
fn diff_replays_each_scenario_run() {
    let dir = scratch("diff-scenario");
    let s = copy_scenario(&dir, "exit(1)");
    // Only the policy's (empty) grants besides the scenario inputs: the permissive side makes
    // the read-only input writable, so only the second run differs.
    let policy = dir.join("p.toml");
    std::fs::write(&policy, "[sandbox]\n").unwrap();
    let (code, out, err) = run(&[
        "diff",
        COPY,
        "--policy",
        policy.to_str().unwrap(),
        "--scenario",
        s.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{err}");
    let v = json(&out, &err);
    let differs: Vec<(&str, bool)> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["differs"].as_bool().unwrap()))
        .collect();
    assert_eq!(differs, [("copies", false), ("read-only-target", true)]);
}
