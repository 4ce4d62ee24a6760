//! `wasmgate policy diff`: the fixtures under `corpus/fixtures/policy-diff/` (expected
//! verdict and the complete witness set in each `new.toml` header), snapshots of both
//! outputs, and every policy of the repository compared with itself.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::root;

/// A diff of small policies takes well under a second; this only catches a hang.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `wasmgate ARGS` in the repository root, failing on [`TIMEOUT`].
fn run(args: &[&str]) -> (i32, String, String) {
    crate::common::run_bounded(args, &[], TIMEOUT)
}

fn header(text: &str, key: &str) -> Vec<String> {
    let prefix = format!("# {key}:");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().to_string())
        .collect()
}

fn diff_json(old: &str, new: &str) -> (i32, serde_json::Value) {
    let (code, out, err) = run(&["policy", "diff", old, new, "--format", "json"]);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")),
    )
}

fn witnesses(v: &serde_json::Value, side: &str) -> BTreeSet<String> {
    v[side]["witnesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            format!(
                "{} {}",
                w["dimension"].as_str().unwrap(),
                w["subject"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn policy_diff_fixtures_give_the_stated_verdict_and_exactly_the_stated_witnesses() {
    let dir = root().join("corpus/fixtures/policy-diff");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 6, "{cases:?}");
    for case in cases {
        let rel = |f: &str| {
            case.join(f)
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        let text = std::fs::read_to_string(case.join("new.toml")).unwrap();
        let verdict = header(&text, "expect-verdict");
        assert_eq!(verdict.len(), 1, "{}: one expect-verdict", case.display());
        let expected: BTreeSet<String> = header(&text, "expect-beyond").into_iter().collect();
        let (code, v) = diff_json(&rel("old.toml"), &rel("new.toml"));
        assert_eq!(
            v["verdict"],
            verdict[0].as_str(),
            "{}: {v:#}",
            case.display()
        );
        assert_eq!(
            witnesses(&v, "new_over_old"),
            expected,
            "{}",
            case.display()
        );
        let passes = matches!(verdict[0].as_str(), "equivalent" | "not-more-permissive");
        assert_eq!(code, if passes { 0 } else { 1 }, "{}", case.display());
        // Every witness is NEW's and not OLD's: the reverse question finds the other side.
        if verdict[0] == "equivalent" {
            let (code, back) = diff_json(&rel("new.toml"), &rel("old.toml"));
            assert_eq!((code, back["verdict"].as_str()), (0, Some("equivalent")));
        }
    }
}

#[test]
fn policy_diff_output_snapshots() {
    let dir = "corpus/fixtures/policy-diff";
    for (case, name) in [("glob-widened", "widened"), ("class-vs-list", "equivalent")] {
        let old = format!("{dir}/{case}/old.toml");
        let new = format!("{dir}/{case}/new.toml");
        let (_, human, _) = run(&["policy", "diff", &old, &new]);
        insta::assert_snapshot!(format!("policy-diff-human-{name}"), human);
        let (_, json, _) = run(&["policy", "diff", &old, &new, "--format", "json"]);
        insta::assert_snapshot!(format!("policy-diff-json-{name}"), json);
    }
}

/// Every policy of the repository that loads is equivalent to itself (exit 0); those that
/// do not load (their headers say why) exit 2.
#[test]
fn policy_diff_over_the_repository_policies() {
    let loads = [
        "bench/deny-all.toml",
        "corpus/fixtures/policy/base.toml",
        "corpus/fixtures/policy/child-narrows.toml",
        "corpus/fixtures/policy/repo/policies/api.toml",
        "corpus/fixtures/policy/repo/policies/worker.toml",
        "corpus/fixtures/policy/stdio-only.toml",
        "corpus/sandbox/policy.toml",
        "corpus/sandbox/policy-rw.toml",
        "fuzz/seeds/policy_toml/restrict-groups.toml",
    ];
    for p in loads {
        let (code, v) = diff_json(p, p);
        assert_eq!(
            (code, v["verdict"].as_str()),
            (0, Some("equivalent")),
            "{p}: {v:#}"
        );
    }
    for p in [
        "corpus/fixtures/policy/broken.toml",
        "corpus/fixtures/policy/child-widens.toml",
    ] {
        let (code, _, err) = run(&["policy", "diff", p, "bench/deny-all.toml"]);
        assert_eq!(code, 2, "{p}: {err}");
        assert!(err.contains(p), "the diagnostic names the file: {err}");
    }
    // child-narrows drops proc.exit from base but waives capability-not-allowed for fs.*:
    // the waiver is what it allows beyond its parent.
    let (code, v) = diff_json(
        "corpus/fixtures/policy/base.toml",
        "corpus/fixtures/policy/child-narrows.toml",
    );
    assert_eq!(code, 1);
    let w = witnesses(&v, "new_over_old");
    assert!(
        !w.is_empty() && w.iter().all(|w| w.starts_with("waivers WG0001:fs.")),
        "{w:?}"
    );
    // policy-rw grants `/data` read-write where policy.toml grants it read-only, and leaves
    // fuel and time to the harness where policy.toml sets them.
    let (code, v) = diff_json(
        "corpus/sandbox/policy.toml",
        "corpus/sandbox/policy-rw.toml",
    );
    assert_eq!(code, 1, "{v:#}");
    let expected: BTreeSet<String> = [
        "sandbox preopen corpus/sandbox/data -> /data (rw)",
        "sandbox fuel unset",
        "sandbox time_ms unset",
    ]
    .map(String::from)
    .into();
    assert_eq!(witnesses(&v, "new_over_old"), expected);
}
