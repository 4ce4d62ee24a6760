//! `wasmgate check`, `policy init` and `explain`: the acceptance points of the policy issue.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

use crate::common::{root, run, wasmgate};

const NOW: &str = "2026-06-01";
const COPY: &str = "corpus/c/copy.wasm";
const STDIO_ONLY: &str = "corpus/fixtures/policy/stdio-only.toml";

/// Runs the CLI in `dir`; returns (exit code, stdout, stderr).
pub(crate) fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = wasmgate()
        .args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh scratch directory under the target dir.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn file_copier_against_stdio_only_policy_fails_with_witnessed_filesystem_findings() {
    let (code, out, err) = run(&["check", "--policy", STDIO_ONLY, COPY, "--now", NOW], None);
    assert_eq!(code, 1, "{err}");
    insta::assert_snapshot!("check-human-copy-stdio-only", out);

    let (code, json, _) = run(
        &[
            "check", "--policy", STDIO_ONLY, COPY, "--now", NOW, "--format", "json",
        ],
        None,
    );
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema_version"], 3);
    let findings = v["files"][0]["findings"].as_array().unwrap();
    for cap in ["fs.read", "fs.write", "fs.create", "fs.metadata"] {
        let f = findings
            .iter()
            .find(|f| f["rule"] == "WG0001" && f["subject"] == cap)
            .unwrap_or_else(|| panic!("no finding for {cap}"));
        let witness = f["witness"].as_array().unwrap();
        assert!(
            witness[0].as_str().unwrap().starts_with("_start"),
            "{cap}: {witness:?}"
        );
        assert!(witness.len() >= 3, "{cap}: {witness:?}");
        assert!(
            witness
                .last()
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("wasi_snapshot_preview1#")
        );
        assert_eq!(f["level"], "error");
        assert_eq!(f["policy"]["line"], 3, "decided by the allow line");
        assert!(f["location"]["offset"].is_u64());
    }
    assert!(
        !findings.iter().any(|f| f["subject"] == "stdio"),
        "stdio is allowed"
    );
    insta::assert_snapshot!("check-json-copy-stdio-only", json);
}

/// Checks the copier against `stdio-only.toml` with the SARIF written to `out`.
fn copy_sarif(out: &Path) -> (i32, String, String) {
    let out = out.to_str().unwrap();
    let args = [
        "check", "--policy", STDIO_ONLY, COPY, "--now", NOW, "--format", "sarif", "-o", out,
    ];
    run(&args, None)
}

#[test]
fn sarif_for_the_file_copier_passes_the_multitool_and_github_rules() {
    let dir = scratch("sarif-copy");
    let sarif = dir.join("copy.sarif");
    let (code, out, err) = copy_sarif(&sarif);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "-o writes the file, not stdout");
    let text = std::fs::read_to_string(&sarif).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "atomic write leaves no temporary file: {leftovers:?}"
    );
    insta::assert_snapshot!("check-sarif-copy-stdio-only", text);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_github_requirements(&v);
    multitool_validate(&sarif);
}

/// What GitHub code scanning needs and the Multitool does not fully check.
pub(crate) fn assert_github_requirements(v: &Value) {
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(
        rules.len(),
        wasmgate_policy::rules::catalogue().len(),
        "whole catalogue"
    );
    for r in rules {
        for k in ["shortDescription", "fullDescription", "help"] {
            assert!(r[k]["text"].is_string(), "{}: {k}", r["id"]);
        }
    }
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    // Code scanning's limits: results per run, locations per result.
    assert!(results.len() <= 25_000, "{} results", results.len());
    for r in results {
        for flow in r["codeFlows"].as_array().into_iter().flatten() {
            for thread in flow["threadFlows"].as_array().unwrap() {
                let n = thread["locations"].as_array().unwrap().len();
                assert!(n <= 1_000, "{n} thread flow locations");
            }
        }
        for key in ["locations", "relatedLocations"] {
            let n = r[key].as_array().map_or(0, Vec::len);
            assert!(n <= 1_000, "{n} {key}");
        }
        let locations = r["locations"].as_array().expect("locations");
        assert!(!locations.is_empty(), "non-empty locations: {r}");
        for l in locations
            .iter()
            .chain(r["relatedLocations"].as_array().unwrap())
        {
            let uri = l["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap();
            assert!(
                !uri.contains("://") && !uri.starts_with('/'),
                "relative uri: {uri}"
            );
        }
        let region = &locations[0]["physicalLocation"]["region"];
        assert!(
            region["startLine"].as_u64().is_some_and(|l| l >= 1),
            "startLine: {r}"
        );
        // Aggregated (v3) or per-entry (v2), never both.
        let fps = r["partialFingerprints"].as_object().unwrap();
        assert_eq!(fps.len(), 1, "{fps:?}");
        assert!(
            fps["wasmgateFinding/v3"].is_string() || fps["wasmgateFinding/v2"].is_string(),
            "{fps:?}"
        );
        assert!(r["message"]["text"].is_string());
        let binary = &r["relatedLocations"][0]["physicalLocation"];
        assert!(
            binary["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .ends_with(".wasm")
        );
        if r["ruleId"] == "WG0001" && r["message"]["text"].as_str().unwrap().contains("copy.wasm") {
            assert!(
                binary["region"]["byteOffset"].is_u64(),
                "call instruction offset: {r}"
            );
            assert!(
                binary["region"]["byteLength"].is_u64(),
                "call instruction length: {r}"
            );
            assert!(
                r["codeFlows"][0]["threadFlows"][0]["locations"]
                    .as_array()
                    .unwrap()
                    .len()
                    >= 3
            );
        }
    }
}

fn multitool() -> PathBuf {
    if let Some(p) = std::env::var_os("WASMGATE_SARIF_MULTITOOL") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache/wasmgate/sarif-multitool/package/Sarif.Multitool")
}

/// Validates with Microsoft's SARIF Multitool (SARIF schema + GitHub rules); it exits 0 even
/// when it finds errors, so its own SARIF output is parsed.
pub(crate) fn multitool_validate(sarif: &Path) {
    let tool = multitool();
    assert!(
        tool.exists(),
        "the SARIF Multitool is not installed at {}: run scripts/test.sh (which installs it), or\n  \
         mkdir -p ~/.cache/wasmgate/sarif-multitool && cd ~/.cache/wasmgate/sarif-multitool && \
         npm pack @microsoft/sarif-multitool-linux && tar xzf microsoft-sarif-multitool-linux-*.tgz && \
         chmod +x package/Sarif.Multitool\n(or set WASMGATE_SARIF_MULTITOOL)",
        tool.display()
    );
    let out_file = sarif.with_extension("validation.sarif");
    let out = std::process::Command::new(&tool)
        .args([
            "validate",
            "--rule-kind",
            "Sarif;Gh",
            "--log",
            "ForceOverwrite",
            // The default (10 MB) skips larger logs without an error result.
            "--max-file-size-in-kb",
            "1048576",
            "-o",
        ])
        .arg(&out_file)
        .arg(sarif)
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", tool.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(&out_file)
            .unwrap_or_else(|e| panic!("no Multitool output ({e}): {stdout}")),
    )
    .unwrap();
    // Regression: a log over the size limit was skipped, which left no result and passed.
    let invocation = &report["runs"][0]["invocations"][0];
    assert_eq!(
        invocation["executionSuccessful"],
        true,
        "the Multitool did not validate {}: {invocation}",
        sarif.display()
    );
    let errors: Vec<&Value> = report["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["level"] == "error")
        .collect();
    assert!(errors.is_empty(), "Multitool errors:\n{stdout}");
}

#[test]
fn file_copier_passes_its_own_least_privilege_policy() {
    let dir = scratch("init-copy");
    let policy = dir.join("copy-policy.toml");
    let (code, out, err) = run(
        &["policy", "init", COPY, "-o", policy.to_str().unwrap()],
        None,
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let text = std::fs::read_to_string(&policy).unwrap();
    insta::assert_snapshot!("policy-init-copy", text);
    let (code, out, err) = run(
        &[
            "check",
            "--policy",
            policy.to_str().unwrap(),
            COPY,
            "--now",
            NOW,
        ],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    // Least privilege: dropping any allowed capability fails the check.
    let narrowed = dir.join("narrowed.toml");
    let without_fs_read: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("\"fs.read\","))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&narrowed, without_fs_read).unwrap();
    let (code, out, _) = run(
        &[
            "check",
            "--policy",
            narrowed.to_str().unwrap(),
            COPY,
            "--now",
            NOW,
        ],
        None,
    );
    assert_eq!(code, 1, "{out}");
}

#[test]
fn a_policy_with_three_structural_errors_reports_all_three_with_carets() {
    let (code, out, err) = run(
        &[
            "check",
            "--policy",
            "corpus/fixtures/policy/broken.toml",
            COPY,
        ],
        None,
    );
    assert_eq!(code, 2);
    assert!(out.is_empty());
    for expected in [
        "broken.toml:4:1",   // unknown key `alow`
        "broken.toml:7:21",  // wrong type for max_memory_pages
        "broken.toml:10:11", // bad glob
    ] {
        assert!(err.contains(expected), "missing {expected} in:\n{err}");
    }
    assert!(err.matches('^').count() >= 3, "{err}");
    insta::assert_snapshot!("check-broken-policy-stderr", err);
}

#[test]
fn extending_a_policy_cannot_widen_it_without_widen() {
    let (code, _, err) = run(
        &[
            "check",
            "--policy",
            "corpus/fixtures/policy/child-widens.toml",
            COPY,
        ],
        None,
    );
    assert_eq!(code, 2);
    assert!(err.contains("`fs.read` widens the parent policy"), "{err}");
    assert!(
        !err.contains("`args` widens"),
        "args is widened explicitly: {err}"
    );
}

#[test]
fn rerunning_with_the_previous_sarif_as_baseline_reports_nothing_new() {
    let dir = scratch("baseline");
    let old = dir.join("old.sarif");
    let (code, _, _) = copy_sarif(&old);
    assert_eq!(code, 1);
    let (code, out, err) = run(
        &[
            "check",
            "--policy",
            STDIO_ONLY,
            COPY,
            "--now",
            NOW,
            "--baseline",
            old.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["errors"], 0);
    assert_eq!(v["summary"]["warnings"], 0);
    assert!(v["summary"]["suppressed"].as_u64().unwrap() >= 7);
    let (code, sarif, _) = run(
        &[
            "check",
            "--policy",
            STDIO_ONLY,
            COPY,
            "--now",
            NOW,
            "--baseline",
            old.to_str().unwrap(),
            "--format",
            "sarif",
        ],
        None,
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&sarif).unwrap();
    for r in v["runs"][0]["results"].as_array().unwrap() {
        assert_eq!(r["baselineState"], "unchanged", "{r}");
    }
}

#[test]
fn fail_on_warning_counts_warnings() {
    let dir = scratch("fail-on");
    let policy = dir.join("p.toml");
    let (_, _, _) = run(
        &["policy", "init", COPY, "-o", policy.to_str().unwrap()],
        None,
    );
    let strict = std::fs::read_to_string(&policy).unwrap().replace(
        "require_memory_maximum = false",
        "require_memory_maximum = true",
    );
    std::fs::write(&policy, strict).unwrap();
    let p = policy.to_str().unwrap();
    assert_eq!(run(&["check", "-p", p, COPY, "--now", NOW], None).0, 0);
    assert_eq!(
        run(
            &["check", "-p", p, COPY, "--now", NOW, "--fail-on", "warning"],
            None
        )
        .0,
        1
    );
}

#[test]
fn project_config_applies_each_directory_its_own_policy() {
    let src = root().join("corpus/fixtures/policy/repo");
    let dir = scratch("repo");
    copy_tree(&src, &dir);
    let (code, out, err) = run_in(&dir, &["check", ".", "--now", NOW]);
    assert_eq!(code, 1, "{err}");
    insta::assert_snapshot!("check-human-repo", out);
    let (_, json, _) = run_in(&dir, &["check", "--now", NOW, "--format", "json"]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let files = v["files"].as_array().unwrap();
    let by = |path: &str| {
        files
            .iter()
            .find(|f| f["artifact"] == path)
            .unwrap_or_else(|| panic!("{path}: {json}"))
    };
    assert_eq!(by("services/api/clock.wasm")["policy"], "policies/api.toml");
    assert_eq!(
        by("services/api/clock.wasm")["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["level"] == "error")
            .count(),
        0
    );
    let worker_clock = by("services/worker/clock.wasm");
    assert_eq!(worker_clock["policy"], "policies/worker.toml");
    assert!(
        worker_clock["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "WG0001" && f["subject"] == "clock.wall")
    );
    assert_eq!(
        by("services/worker/dice.wasm")["policy"],
        "policies/worker.toml"
    );
}

/// Copies a fixture tree, compiling `.wat` files to `.wasm`.
fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        if p.is_dir() {
            std::fs::create_dir_all(to.join(name)).unwrap();
            copy_tree(&p, &to.join(name));
        } else if p.extension().is_some_and(|x| x == "wat") {
            std::fs::write(
                to.join(name).with_extension("wasm"),
                wat::parse_file(&p).unwrap(),
            )
            .unwrap();
        } else {
            std::fs::copy(&p, to.join(name)).unwrap();
        }
    }
}

#[test]
fn explain_prints_the_rule_docs_by_id_or_name() {
    let (code, out, _) = run(&["explain", "WG0001"], None);
    assert_eq!(code, 0);
    for s in [
        "capability-not-allowed",
        "## What it does",
        "## Why it matters",
        "## Example",
        "## How to fix",
    ] {
        assert!(out.contains(s), "{s}");
    }
    assert_eq!(run(&["explain", "capability-not-allowed"], None).1, out);
    insta::assert_snapshot!("explain-WG0001", out);
    let (code, _, err) = run(&["explain", "WG9999"], None);
    assert_eq!(code, 2);
    assert!(err.contains("unknown rule"));
}

#[test]
fn check_without_policy_or_project_file_is_a_usage_error() {
    let dir = scratch("no-policy");
    std::fs::copy(root().join(COPY), dir.join("copy.wasm")).unwrap();
    let (code, _, err) = run_in(&dir, &["check", "."]);
    assert_eq!(code, 2);
    assert!(err.contains("wasmgate.toml"), "{err}");
}

#[test]
fn policy_schema_lists_exactly_the_keys_the_loader_accepts() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/policy.schema.json")).unwrap(),
    )
    .unwrap();
    for (table, keys) in wasmgate_policy::ACCEPTED_KEYS {
        let mut node = &schema;
        for part in table.split('.').filter(|p| !p.is_empty()) {
            let (name, array) = match part.strip_suffix("[]") {
                Some(n) => (n, true),
                None => (part, false),
            };
            node = &node["properties"][name];
            if array {
                // `exports.restrict` is a table or an array of tables: take the array.
                if let Some(alts) = node["oneOf"].as_array() {
                    node = alts.iter().find(|a| a["type"] == "array").unwrap();
                }
                node = &node["items"];
            }
            if let Some(r) = node["$ref"].as_str() {
                node = schema.pointer(r.trim_start_matches('#')).unwrap();
            }
        }
        let props: Vec<&str> = node["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("schema has no properties for `{table}`"))
            .keys()
            .map(String::as_str)
            .collect();
        let mut want: Vec<&str> = keys.to_vec();
        want.sort();
        let mut got = props.clone();
        got.sort();
        assert_eq!(got, want, "schema keys of `{table}`");
        assert_eq!(
            node["additionalProperties"], false,
            "`{table}` rejects unknown keys"
        );
    }
    // The schema's examples (the table and the group form) load without errors.
    for example in schema["examples"].as_array().unwrap() {
        let example = example.as_str().unwrap();
        match wasmgate_policy::load_str(
            &root().join("corpus/fixtures/policy/example.toml"),
            example,
        ) {
            Ok(_) => {}
            Err(wasmgate_policy::LoadError::Invalid { rendered, .. }) => panic!("{rendered}"),
            Err(e) => panic!("the schema's example does not load: {e}"),
        }
    }
}

/// Regression: `policy init` wrote `""` for an export with an empty name and `env#` for an
/// import with one, which the loader then rejected as bad globs.
#[test]
fn init_policy_of_a_binary_with_empty_names_loads_and_passes() {
    let wasm = wat::parse_str(
        r#"(module
            (import "env" "" (func $f))
            (func (export "") (call $f))
            (func (export "with space?") (call $f)))"#,
    )
    .unwrap();
    let analysis = wasmgate_analyzer::analyze(&wasm).unwrap();
    let text = wasmgate_policy::init::least_privilege("empty.wasm", &analysis);
    let policy = match wasmgate_policy::load_str(Path::new("empty.toml"), &text) {
        Ok(p) => p,
        Err(wasmgate_policy::LoadError::Invalid { rendered, .. }) => panic!("{rendered}\n{text}"),
        Err(e) => panic!("{e}"),
    };
    let findings = wasmgate_policy::check(
        &policy,
        &analysis,
        "empty.wasm",
        wasmgate_policy::Date::parse(NOW).unwrap(),
    );
    assert!(
        !findings
            .iter()
            .any(|f| wasmgate_policy::counts(f, wasmgate_policy::Level::Error)),
        "{findings:#?}"
    );
}

#[test]
fn components_pass_their_own_least_privilege_policy() {
    for name in [
        "copy.component.wasm",
        "compute.component.wasm",
        "envprint.wasm",
    ] {
        let bin = format!("corpus/c/{name}");
        let dir = scratch(&format!("init-{name}"));
        let policy = dir.join("p.toml");
        let (code, _, err) = run(
            &["policy", "init", &bin, "-o", policy.to_str().unwrap()],
            None,
        );
        assert_eq!(code, 0, "{err}");
        let (code, out, err) = run(
            &["check", "-p", policy.to_str().unwrap(), &bin, "--now", NOW],
            None,
        );
        assert_eq!(code, 0, "{name}: {out}{err}");
    }
}

/// Every rule's `[fires]` fixture as one repository: `check .` with a `wasmgate.toml`
/// mapping each binary to its policy. The SARIF (every rule, every location shape) passes
/// the Multitool and the GitHub checks; human and JSON output are snapshotted.
#[test]
fn every_rule_fixture_renders_valid_sarif_and_stable_reports() {
    let dir = scratch("all-rules");
    let mut project = String::new();
    for fixture in crate::common::files_with_ext(&root().join("corpus/fixtures/rules"), "toml") {
        let id = fixture.file_stem().unwrap().to_string_lossy().into_owned();
        let table: toml::Value =
            toml::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
        let case = &table["fires"];
        std::fs::write(
            dir.join(format!("{id}.wasm")),
            wat::parse_str(case["wat"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{id}.toml")),
            case["policy"].as_str().unwrap(),
        )
        .unwrap();
        project.push_str(&format!(
            "[[policy]]\npaths = [\"{id}.wasm\"]\npolicy = \"{id}.toml\"\n\n"
        ));
    }
    std::fs::write(dir.join("wasmgate.toml"), project).unwrap();
    let (code, human, err) = run_in(&dir, &["check", "--now", NOW]);
    assert_eq!(code, 1, "{err}");
    insta::assert_snapshot!("check-human-all-rules", human);
    let (_, json, _) = run_in(&dir, &["check", "--now", NOW, "--format", "json"]);
    insta::assert_snapshot!("check-json-all-rules", json);
    let (_, _, err) = run_in(
        &dir,
        &[
            "check",
            "--now",
            NOW,
            "--format",
            "sarif",
            "-o",
            "all.sarif",
        ],
    );
    assert!(err.is_empty(), "{err}");
    let sarif = dir.join("all.sarif");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    let mut fired: Vec<&str> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    fired.sort();
    fired.dedup();
    // Every rule `check` reports fired; `wasmgate diff`'s (category `sandbox`) never come
    // from `check` (tests/all/diff.rs covers them).
    let check_rules: Vec<&str> = wasmgate_policy::rules::catalogue()
        .iter()
        .filter(|r| r.category != "sandbox")
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(fired, check_rules, "{fired:?}");
    assert_github_requirements(&v);
    multitool_validate(&sarif);
}

#[test]
fn a_child_policy_narrows_its_parent_and_waivers_expire_by_source_date_epoch() {
    let check = |epoch: &str| {
        let out = wasmgate()
            .args([
                "check",
                "--policy",
                "corpus/fixtures/policy/child-narrows.toml",
                COPY,
                "--format",
                "json",
            ])
            .current_dir(root())
            .env("SOURCE_DATE_EPOCH", epoch)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code().unwrap(), v)
    };
    let (code, v) = check("1767225600"); // 2026-01-01: the waiver holds
    assert_eq!(code, 1, "proc.exit and fs.create still fail");
    let findings = v["files"][0]["findings"].as_array().unwrap();
    let find = |subject: &str| {
        findings
            .iter()
            .find(|f| f["rule"] == "WG0001" && f["subject"] == subject)
            .unwrap_or_else(|| panic!("{subject}: {findings:#?}"))
    };
    assert_eq!(find("fs.read")["suppressed"]["kind"], "waiver");
    assert!(
        find("proc.exit")["message"]
            .as_str()
            .unwrap()
            .contains("does not allow")
    );
    // The copier reaches no net.io (it produces no socket), so the inherited deny that
    // fires is fs.create's.
    let create = find("fs.create");
    assert!(
        create["message"].as_str().unwrap().contains("denies"),
        "inherited deny"
    );
    assert_eq!(create["policy"]["file"], "corpus/fixtures/policy/base.toml");
    assert!(!findings.iter().any(|f| f["rule"] == "WG0012"));

    let (code, v) = check("1780000000"); // 2026-05-28: expired
    assert_eq!(code, 1);
    let findings = v["files"][0]["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["rule"] == "WG0012"));
    assert!(
        findings
            .iter()
            .any(|f| f["subject"] == "fs.read" && f["suppressed"].is_null())
    );
}

/// Regression: absolute paths inside the working directory gave absolute SARIF URIs, which
/// GitHub rejects; they are made relative to the working directory.
#[test]
fn absolute_paths_inside_the_working_directory_give_relative_sarif_uris() {
    let policy = root().join(STDIO_ONLY);
    let bin = root().join(COPY);
    let (code, sarif, err) = run(
        &[
            "check",
            "-p",
            policy.to_str().unwrap(),
            bin.to_str().unwrap(),
            "--now",
            NOW,
            "--format",
            "sarif",
        ],
        None,
    );
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&sarif).unwrap();
    assert_github_requirements(&v);
    let r = &v["runs"][0]["results"][0];
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        STDIO_ONLY
    );
    assert_eq!(
        r["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        COPY
    );
}
