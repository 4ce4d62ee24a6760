//! `[[calls]]` constraints through `wasmgate check` (issue 13, first slice): the four WAT
//! fixtures of `corpus/fixtures/calls/` (each header states its verdict), the report formats,
//! and a corpus C program where every `fd_write` call site gets a verdict.

use serde_json::Value;

use crate::common::root;
use crate::policy_check::{assert_github_requirements, multitool_validate, run_in, scratch};

const NOW: &str = "2026-06-01";

/// Allows every capability the fixtures reach, so only the constraints decide.
const POLICY: &str = r#"[capabilities]
allow = ["stdio", "fs.*", "net.io"]

[[calls]]
import = "wasi_snapshot_preview1#fd_write"
arg = "fd"
one_of = [1, 2]

[[calls]]
import = "wasi_snapshot_preview1#path_open"
arg = "oflags"
bits_clear = 1   # O_CREAT
"#;

const FIXTURES: &[&str] = &[
    "stdio_only",
    "param_set_by_caller",
    "fd_from_memory",
    "never_called",
];

/// The fixtures compiled into a scratch directory with the policy.
fn setup(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    for f in FIXTURES {
        let wat = root().join(format!("corpus/fixtures/calls/{f}.wat"));
        let wasm = wat::parse_file(&wat).unwrap();
        std::fs::write(dir.join(format!("{f}.wasm")), wasm).unwrap();
    }
    std::fs::write(dir.join("policy.toml"), POLICY).unwrap();
    dir
}

/// (rule, kind, level, subject) of every call-constraint finding, sorted.
fn call_findings(file: &Value) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = file["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "WG0015" || f["rule"] == "WG0016")
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
                f["level"].as_str().unwrap().to_string(),
                f["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn find<'a>(file: &'a Value, rule: &str, subject: &str) -> &'a Value {
    file["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule && f["subject"] == subject)
        .unwrap_or_else(|| panic!("no {rule} {subject}: {file:#}"))
}

fn s(x: [&str; 4]) -> (String, String, String, String) {
    x.map(String::from).into()
}

#[test]
fn each_call_fixture_gets_the_verdict_its_header_states() {
    let dir = setup("calls-fixtures");
    let fd = "wasi_snapshot_preview1#fd_write:fd";
    let oflags = "wasi_snapshot_preview1#path_open:oflags";
    for f in FIXTURES {
        let file = format!("{f}.wasm");
        let (code, json, err) = run_in(
            &dir,
            &[
                "check",
                "--policy",
                "policy.toml",
                &file,
                "--now",
                NOW,
                "--format",
                "json",
            ],
        );
        let v: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{f}: {e}: {err}"));
        let file = &v["files"][0];
        let found = call_findings(file);
        match *f {
            "stdio_only" => {
                assert_eq!(code, 0, "{json}");
                assert_eq!(
                    found,
                    [
                        s(["WG0015", "pass", "error", fd]),
                        s(["WG0015", "pass", "error", oflags]),
                    ]
                );
                let m = find(file, "WG0015", fd)["message"].as_str().unwrap();
                assert!(m.ends_with("at every call (2 call sites)"), "{m}");
                let m = find(file, "WG0015", oflags)["message"].as_str().unwrap();
                assert!(
                    m.ends_with("proven vacuously, no function import matches"),
                    "{m}"
                );
            }
            "param_set_by_caller" => {
                assert_eq!(code, 1, "{json}");
                let subject = format!("{fd}@log");
                assert_eq!(
                    found,
                    [
                        s(["WG0015", "fail", "error", &subject]),
                        s(["WG0015", "pass", "error", oflags]),
                    ]
                );
                let f = find(file, "WG0015", &subject);
                let m = f["message"].as_str().unwrap();
                assert!(m.starts_with("`log` passes fd = 5 to "), "{m}");
                assert!(m.contains("caller chain `main` @ "), "{m}");
                assert!(m.contains("entry point `_start`"), "{m}");
                let cx = &f["counterexample"];
                assert_eq!(cx["value"], 5);
                assert_eq!(cx["entry_point"], "_start");
                let chain: Vec<&str> = cx["chain"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["function"].as_str().unwrap())
                    .collect();
                assert_eq!(chain, ["main", "log"]);
                assert_eq!(f["location"]["entry_point"], "_start");
                assert_eq!(f["location"]["function"], "log");
                assert_eq!(
                    f["witness"],
                    serde_json::json!(["main", "log", "wasi_snapshot_preview1#fd_write"])
                );
            }
            "fd_from_memory" => {
                assert_eq!(code, 0, "an unknown is a warning: {json}");
                let subject = format!("{fd}@write");
                assert_eq!(
                    found,
                    [
                        s(["WG0015", "pass", "error", oflags]),
                        s(["WG0016", "fail", "warning", &subject]),
                    ]
                );
                let f = find(file, "WG0016", &subject);
                let reasons = f["counterexample"]["reasons"].as_array().unwrap();
                assert_eq!(reasons.len(), 1, "{reasons:?}");
                let r = reasons[0].as_str().unwrap();
                assert!(r.starts_with("memory load in `write` @ 0x"), "{r}");
            }
            "never_called" => {
                assert_eq!(code, 0, "{json}");
                assert_eq!(
                    found,
                    [
                        s(["WG0015", "pass", "error", fd]),
                        s(["WG0015", "pass", "error", oflags]),
                    ]
                );
                let m = find(file, "WG0015", oflags)["message"].as_str().unwrap();
                assert!(
                    m.ends_with(
                        "proven vacuously, never called (wasi_snapshot_preview1#path_open)"
                    ),
                    "{m}"
                );
            }
            _ => unreachable!(),
        }
    }
}

/// Human, JSON and SARIF of the four fixtures in one run: proofs as `pass` results with
/// level `none`, the violation as an error with its counterexample, the unknown a warning.
#[test]
fn call_verdicts_render_in_every_format() {
    let dir = setup("calls-formats");
    let args = ["check", "--policy", "policy.toml", ".", "--now", NOW];
    let (code, human, err) = run_in(&dir, &args);
    assert_eq!(code, 1, "{err}");
    insta::assert_snapshot!("calls-human", human);
    let (_, json, _) = run_in(&dir, &[&args[..], &["--format", "json"]].concat());
    insta::assert_snapshot!("calls-json", json);
    let (_, _, err) = run_in(
        &dir,
        &[&args[..], &["--format", "sarif", "-o", "calls.sarif"]].concat(),
    );
    assert!(err.is_empty(), "{err}");
    let sarif = dir.join("calls.sarif");
    let text = std::fs::read_to_string(&sarif).unwrap();
    insta::assert_snapshot!("calls-sarif", text);
    let v: Value = serde_json::from_str(&text).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    let passes: Vec<&Value> = results.iter().filter(|r| r["kind"] == "pass").collect();
    // One proof per constraint and file: fd_write in stdio_only and never_called, path_open
    // in all four.
    assert_eq!(passes.len(), 6);
    assert!(passes.iter().all(|r| r["level"] == "none"));
    assert!(results.iter().any(|r| r["ruleId"] == "WG0015"
        && r["kind"] == "fail"
        && r["level"] == "error"
        && r["properties"]["counterexample"]["value"] == 5));
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "WG0016" && r["level"] == "warning")
    );
    assert_github_requirements(&v);
    multitool_validate(&sarif);
}

/// The checker needs the bytes: without them (the library's plain `check`) every constraint
/// is unproven, never proven.
#[test]
fn without_the_bytes_every_constraint_is_unproven() {
    let wasm = wat::parse_file(root().join("corpus/fixtures/calls/stdio_only.wat")).unwrap();
    let analysis = wasmgate_analyzer::analyze(&wasm).unwrap();
    let policy = wasmgate_policy::load_str(std::path::Path::new("p.toml"), POLICY).unwrap();
    let today = wasmgate_policy::Date::parse(NOW).unwrap();
    let findings = wasmgate_policy::check(&policy, &analysis, "a.wasm", today);
    let calls: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "WG0015" || f.rule == "WG0016")
        .map(|f| (f.rule.as_str(), f.kind, f.subject.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            (
                "WG0016",
                wasmgate_policy::Kind::Fail,
                "wasi_snapshot_preview1#fd_write:fd"
            ),
            (
                "WG0016",
                wasmgate_policy::Kind::Fail,
                "wasi_snapshot_preview1#path_open:oflags"
            ),
        ]
    );
}

/// Every corpus C program (`corpus/c/*.wasm`, core modules): every `fd_write` and
/// `path_open` call site an entry point reaches gets a verdict, each unknown says why and
/// where, and the share proven / violated / unknown per program is the README's table
/// (between the `smt-share` markers), regenerated here and compared as a whole, so the
/// README states what the checker does today. wasi-libc passes the descriptor it loaded
/// from the `FILE`, and `fopen`'s flags come from parsing the mode string in memory.
#[test]
fn every_fd_write_and_path_open_site_of_the_c_programs_gets_a_verdict_and_the_readme_share_table_is_true()
 {
    let programs: Vec<_> = crate::common::files_with_ext(&root().join("corpus/c"), "wasm")
        .into_iter()
        .filter(|p| !p.to_str().unwrap().ends_with(".component.wasm"))
        .collect();
    assert!(programs.len() >= 3, "{programs:?}");
    let mut table = String::from(
        "| program | import, constraint | sites | proven | violated | unknown | why unknown (site: reason at) |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let constraints = [
        (
            "fd_write",
            0,
            "`fd` one of [1, 2]",
            wasmgate_smt::Allowed {
                one_of: vec![1, 2],
                ..Default::default()
            },
        ),
        (
            "path_open",
            4,
            "`oflags` without `O_CREAT`",
            wasmgate_smt::Allowed {
                bits_clear: 1,
                ..Default::default()
            },
        ),
    ];
    for path in &programs {
        let file = path.file_name().unwrap().to_str().unwrap();
        let bytes = std::fs::read(path).unwrap();
        let analysis = wasmgate_analyzer::analyze(&bytes).unwrap();
        let module = analysis.module.as_ref().unwrap();
        let mut checker = wasmgate_smt::Checker::new(&bytes, &analysis).unwrap();
        for (name, arg, what, allowed) in constraints.clone() {
            let id = format!("wasi_snapshot_preview1#{name}");
            let Some(import) = analysis.imports.iter().position(|i| i.id == id) else {
                table.push_str(&format!(
                    "| {file} | `{name}` {what} | not imported | | | | |\n"
                ));
                continue;
            };
            let import = import as u32;
            let node = module
                .call_graph
                .nodes
                .iter()
                .find(|n| n.function == Some(import))
                .unwrap()
                .id;
            // The direct call sites, from the analyzer's graph (the oracle for "every site").
            let mut expected: Vec<u64> = module
                .call_graph
                .sites
                .iter()
                .filter(|s| s.to == node)
                .map(|s| s.offset)
                .collect();
            expected.sort_unstable();
            expected.dedup();
            let outcome = checker.check(&wasmgate_smt::Query {
                import,
                arg,
                allowed,
                timeout_ms: 10_000,
            });
            let got: Vec<u64> = outcome.sites.iter().map(|s| s.offset).collect();
            assert_eq!(got, expected, "{file} {name}: {outcome:#?}");
            let mut share = [0usize; 3];
            let mut why: Vec<String> = Vec::new();
            for s in &outcome.sites {
                assert!(s.entry_points.contains(&"_start".to_string()), "{s:?}");
                match &s.verdict {
                    wasmgate_smt::Verdict::Proven => share[0] += 1,
                    wasmgate_smt::Verdict::Violated(_) => share[1] += 1,
                    wasmgate_smt::Verdict::Unknown { reasons } => {
                        assert!(!reasons.is_empty(), "{s:?}");
                        share[2] += 1;
                        let r: Vec<String> = reasons
                            .iter()
                            .map(|r| {
                                let at =
                                    r.offset.map(|o| format!(" at {o:#x}")).unwrap_or_default();
                                format!("{} in `{}`{at}", r.what, r.function)
                            })
                            .collect();
                        why.push(format!(
                            "`{}` {:#x}: {}",
                            s.function,
                            s.offset,
                            r.join("; ")
                        ));
                    }
                }
            }
            table.push_str(&format!(
                "| {file} | `{name}` {what} | {} | {} | {} | {} | {} |\n",
                outcome.sites.len(),
                share[0],
                share[1],
                share[2],
                why.join("<br>")
            ));
        }
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let stated = readme
        .split_once("<!-- smt-share:start -->\n")
        .and_then(|(_, rest)| rest.split_once("<!-- smt-share:end -->"))
        .map(|(t, _)| t)
        .expect("README.md has no smt-share markers");
    assert_eq!(
        stated, table,
        "README.md's share table is out of date; today's:\n{table}"
    );
}

/// Components are not checked yet: every constraint is unproven (a warning), never passed.
#[test]
fn a_component_reports_every_constraint_unproven() {
    let dir = scratch("calls-component");
    std::fs::write(dir.join("policy.toml"), POLICY).unwrap();
    let component = root().join("corpus/c/copy.component.wasm");
    let (_, json, err) = run_in(
        &dir,
        &[
            "check",
            "--policy",
            "policy.toml",
            component.to_str().unwrap(),
            "--now",
            NOW,
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {err}"));
    let file = &v["files"][0];
    assert_eq!(
        call_findings(file),
        [
            s([
                "WG0016",
                "fail",
                "warning",
                "wasi_snapshot_preview1#fd_write:fd"
            ]),
            s([
                "WG0016",
                "fail",
                "warning",
                "wasi_snapshot_preview1#path_open:oflags"
            ]),
        ]
    );
    let m = find(file, "WG0016", "wasi_snapshot_preview1#fd_write:fd")["message"]
        .as_str()
        .unwrap();
    assert!(
        m.ends_with("components are not analysed by the SMT checker yet"),
        "{m}"
    );
}
