//! `policy init` and the `[[exports.restrict]]` group syntax it writes: the round trip on
//! every fixture and C program (the third-party corpus runs it from `corpus.rs`), an
//! independent least-privilege oracle, and how groups load, combine and fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use wasmgate_analyzer::{Analysis, EntryKind};
use wasmgate_policy::{Level, LoadError, ValidPolicy};

use crate::common::root;

/// What a round trip exercised.
#[derive(Debug, Default)]
pub struct Trip {
    /// Lines and bytes of the policy.
    pub lines: usize,
    pub bytes: usize,
    /// Mutations (one capability dropped) that were tried, each of which made check fail.
    pub mutations: usize,
    /// Whether one of them dropped a capability from a group (not only the global allow).
    pub group_dropped: bool,
}

fn today() -> wasmgate_policy::Date {
    wasmgate_policy::Date::parse("2026-11-26").unwrap()
}

fn load(text: &str) -> Result<ValidPolicy, String> {
    match wasmgate_policy::load_str(Path::new("least-privilege.toml"), text) {
        Ok(p) => Ok(p),
        Err(LoadError::Invalid { rendered, .. }) => Err(rendered),
        Err(e) => Err(e.to_string()),
    }
}

/// Rules of the findings at error level.
fn failing(p: &ValidPolicy, a: &Analysis) -> BTreeSet<String> {
    wasmgate_policy::check(p, a, "corpus.wasm", today())
        .iter()
        .filter(|f| wasmgate_policy::counts(f, Level::Error))
        .map(|f| f.name.clone())
        .collect()
}

/// The text every match of a policy pattern starts with (written here, not taken from the
/// policy crate: this is the oracle's own reading of the pattern syntax).
fn prefix_of(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => break,
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Least privilege, recomputed from the policy as loaded: every export entry point may reach
/// exactly what it reaches (the global allow intersected with every restriction whose pattern
/// matches it), no more.
fn least_privilege_holds(p: &ValidPolicy, a: &Analysis) -> Result<(), String> {
    let allowed: BTreeSet<&str> = p
        .capabilities
        .allow
        .iter()
        .flat_map(|l| l.value.iter().map(|c| c.value.as_str()))
        .collect();
    let mut reach: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in a.entry_points.iter() {
        let set = reach.entry(&e.name).or_default();
        if e.kind == EntryKind::Export {
            set.extend(e.reaches.iter().map(|r| r.capability.as_str()));
        }
    }
    let reached: BTreeSet<&str> = a
        .entry_points
        .iter()
        .flat_map(|e| e.reaches.iter().map(|r| r.capability.as_str()))
        .collect();
    if allowed != reached {
        return Err(format!("allows {allowed:?}, reaches {reached:?}"));
    }
    let exports: BTreeSet<&str> = a
        .entry_points
        .iter()
        .filter(|e| e.kind == EntryKind::Export)
        .map(|e| e.name.as_str())
        .collect();
    let names: Vec<&str> = exports.iter().copied().collect();
    let mut effective: BTreeMap<&str, BTreeSet<&str>> =
        names.iter().map(|n| (*n, allowed.clone())).collect();
    for r in &p.restrict {
        let caps: BTreeSet<&str> = r.capabilities.iter().map(|c| c.value.as_str()).collect();
        let prefix = prefix_of(&r.export.value);
        let from = names.partition_point(|n| *n < prefix.as_str());
        for n in names[from..].iter().take_while(|n| n.starts_with(&prefix)) {
            if wasmgate_policy::pattern::matches(&r.export.value, n) {
                let e = effective.get_mut(n).unwrap();
                e.retain(|c| caps.contains(c));
            }
        }
    }
    for (n, e) in &effective {
        if e != &reach[n] {
            return Err(format!(
                "export {n:?} may reach {e:?} but reaches {:?}",
                reach[n]
            ));
        }
    }
    Ok(())
}

/// `policy init` (naming at most `max_listed` exports one by one), then check passes and
/// least privilege holds; dropping one capability from one group, and from the global
/// allow, makes the check fail with the rule that guards it.
pub fn roundtrip(a: &Analysis, max_listed: usize) -> Result<Trip, String> {
    let text = wasmgate_policy::init::least_privilege_with("corpus.wasm", a, max_listed);
    let policy = load(&text).map_err(|e| format!("generated policy does not load: {e}"))?;
    let f = failing(&policy, a);
    if !f.is_empty() {
        return Err(format!("own policy fails: {f:?}"));
    }
    least_privilege_holds(&policy, a)?;
    let doc: toml::Table = toml::from_str(&text).map_err(|e| e.to_string())?;
    let group = doc["exports"]
        .get("restrict")
        .and_then(|r| r.as_array())
        .and_then(|groups| {
            groups
                .iter()
                .position(|g| !g["capabilities"].as_array().unwrap().is_empty())
        });
    let mut trip = Trip {
        lines: text.lines().count(),
        bytes: text.len(),
        mutations: 0,
        group_dropped: group.is_some(),
    };
    let mut mutants = Vec::new();
    if let Some(i) = group {
        let mut m = doc.clone();
        let g = &mut m["exports"]["restrict"].as_array_mut().unwrap()[i];
        g["capabilities"].as_array_mut().unwrap().remove(0);
        mutants.push((m, "export-capability-restricted"));
    }
    if !doc["capabilities"]["allow"].as_array().unwrap().is_empty() {
        let mut m = doc.clone();
        m["capabilities"]["allow"].as_array_mut().unwrap().remove(0);
        mutants.push((m, "capability-not-allowed"));
    }
    for (m, rule) in mutants {
        let text = toml::to_string(&m).unwrap();
        let p = load(&text).map_err(|e| format!("mutated policy does not load: {e}"))?;
        if !failing(&p, a).contains(rule) {
            return Err(format!("dropping a capability did not raise {rule}"));
        }
        trip.mutations += 1;
    }
    Ok(trip)
}

#[test]
fn fixtures_and_c_programs_round_trip_through_policy_init() {
    let files = crate::common::wat_files(&root().join("corpus/fixtures"));
    let mut binaries: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter_map(|f| {
            let name = f.strip_prefix(root()).unwrap().display().to_string();
            wat::parse_file(f).ok().map(|b| (name, b))
        })
        .collect();
    for f in crate::common::files_with_ext(&root().join("corpus/c"), "wasm") {
        let name = f.strip_prefix(root()).unwrap().display().to_string();
        binaries.push((name, std::fs::read(&f).unwrap()));
    }
    let (mut analysed, mut groups_dropped, mut problems) = (0, 0, Vec::new());
    for (name, bytes) in &binaries {
        // Fixtures of invalid input are the subject of other tests.
        let Ok(a) = wasmgate_analyzer::analyze(bytes) else {
            continue;
        };
        analysed += 1;
        let reaches_something = a.entry_points.iter().any(|e| !e.reaches.is_empty());
        // Both forms: exports by name, and by prefix (what large binaries get).
        for max_listed in [wasmgate_policy::init::MAX_LISTED_EXPORTS, 0] {
            match roundtrip(&a, max_listed) {
                Ok(t) if reaches_something && t.mutations == 0 => {
                    problems.push(format!("{name}: reaches something, nothing to drop"))
                }
                Ok(t) => groups_dropped += usize::from(t.group_dropped),
                Err(e) => problems.push(format!("{name} (max_listed {max_listed}): {e}")),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(analysed >= 60, "only {analysed} binaries analysed");
    assert!(
        groups_dropped > 0,
        "no round trip dropped a capability from a group"
    );
}

/// Exports `a_rand` (reaches `random`), `a_both` (`random`, `env`), `b_env` (`env`).
fn three_exports() -> Analysis {
    let wasm = wat::parse_str(
        r#"(module
          (import "wasi_snapshot_preview1" "random_get" (func $rand (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "environ_get" (func $env (param i32 i32) (result i32)))
          (memory 1 1)
          (func (export "a_rand") (drop (call $rand (i32.const 0) (i32.const 4))))
          (func (export "a_both")
            (drop (call $rand (i32.const 0) (i32.const 4)))
            (drop (call $env (i32.const 0) (i32.const 4))))
          (func (export "b_env") (drop (call $env (i32.const 0) (i32.const 4)))))"#,
    )
    .unwrap();
    wasmgate_analyzer::analyze(&wasm).unwrap()
}

/// Loads `files` (name, text) written to a temporary directory, the first being the policy,
/// and returns the (export, capability) pairs of its restriction findings.
fn restricted(files: &[(&str, &str)]) -> Result<BTreeSet<(String, String)>, String> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let p = match wasmgate_policy::load(&dir.path().join(files[0].0)) {
        Ok(p) => p,
        Err(LoadError::Invalid { rendered, .. }) => return Err(rendered),
        Err(e) => return Err(e.to_string()),
    };
    let a = three_exports();
    // One finding per (entry point, capability): the pairs are what is compared.
    let per_entry = wasmgate_policy::Options {
        per_entry: true,
        ..Default::default()
    };
    let findings = wasmgate_policy::check_with(&p, &a, None, "three.wasm", today(), per_entry);
    // Only restrictions are at stake: the global allow covers everything reached.
    assert!(
        findings
            .iter()
            .all(|f| f.name == "export-capability-restricted"),
        "{findings:#?}"
    );
    Ok(findings
        .iter()
        .map(|f| (f.location.entry_point.clone().unwrap(), f.subject.clone()))
        .collect())
}

fn pairs(v: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    v.iter()
        .map(|(e, c)| (e.to_string(), c.to_string()))
        .collect()
}

const ALLOW: &str = "[capabilities]\nallow = [\"random\", \"env\"]\n";

#[test]
fn overlapping_groups_allow_only_what_every_group_allows() {
    // `a_both` is in both groups: it may reach only `env`, the intersection.
    let p = format!(
        "{ALLOW}[[exports.restrict]]\nexports = [\"a_*\"]\ncapabilities = [\"random\", \"env\"]\n\n\
         [[exports.restrict]]\nexports = [\"a_both\", \"b_env\"]\ncapabilities = [\"env\"]\n"
    );
    assert_eq!(
        restricted(&[("p.toml", &p)]).unwrap(),
        pairs(&[("a_both", "random")])
    );
    // Each pattern of a group restricts what it matches: `a_*` covers `a_rand` too.
    let p =
        format!("{ALLOW}[[exports.restrict]]\nexports = [\"a_*\", \"b_env\"]\ncapabilities = []\n");
    assert_eq!(
        restricted(&[("p.toml", &p)]).unwrap(),
        pairs(&[
            ("a_rand", "random"),
            ("a_both", "random"),
            ("a_both", "env"),
            ("b_env", "env")
        ])
    );
    // A pattern matching no export restricts nothing and is not reported, in either form,
    // like a table entry naming an export the binary does not have.
    let p = format!(
        "{ALLOW}[[exports.restrict]]\nexports = [\"gone_*\", \"zzz\"]\ncapabilities = []\n"
    );
    assert_eq!(restricted(&[("p.toml", &p)]).unwrap(), pairs(&[]));
    let p = format!("{ALLOW}[exports.restrict]\nzzz = []\n");
    assert_eq!(restricted(&[("p.toml", &p)]).unwrap(), pairs(&[]));
}

#[test]
fn group_and_table_forms_combine_across_extends() {
    let table_parent = format!("{ALLOW}[exports.restrict]\na_both = [\"random\"]\n");
    let group_parent = format!(
        "{ALLOW}[[exports.restrict]]\nexports = [\"a_both\", \"b_env\"]\ncapabilities = [\"random\"]\n"
    );
    // A child's group narrows a parent's table entry: both apply.
    let child = "extends = \"parent.toml\"\n[[exports.restrict]]\nexports = [\"b_env\", \"a_both\"]\ncapabilities = [\"env\"]\n";
    assert_eq!(
        restricted(&[("child.toml", child), ("parent.toml", &table_parent)]).unwrap(),
        pairs(&[("a_both", "random"), ("a_both", "env")])
    );
    // Listing more than the parent in a group does not widen it: the parent's entry holds.
    let child = "extends = \"parent.toml\"\n[[exports.restrict]]\nexports = [\"a_both\"]\ncapabilities = [\"random\", \"env\"]\n";
    assert_eq!(
        restricted(&[("child.toml", child), ("parent.toml", &table_parent)]).unwrap(),
        pairs(&[("a_both", "env")])
    );
    // Unless widened: `export:NAME` drops the parent's entry for that pattern.
    let child = format!("widen = [\"export:a_both\"]\n{child}");
    assert_eq!(
        restricted(&[("child.toml", &child), ("parent.toml", &table_parent)]).unwrap(),
        pairs(&[])
    );
    // In a parent's group it drops that one pattern; the group's others still apply.
    assert_eq!(
        restricted(&[
            ("child.toml", "extends = \"parent.toml\"\n"),
            ("parent.toml", &group_parent)
        ])
        .unwrap(),
        pairs(&[("a_both", "env"), ("b_env", "env")])
    );
    let child = "extends = \"parent.toml\"\nwiden = [\"export:a_both\"]\n";
    assert_eq!(
        restricted(&[("child.toml", child), ("parent.toml", &group_parent)]).unwrap(),
        pairs(&[("b_env", "env")])
    );
    // A child's table entry narrows a parent's group the same way.
    let child = "extends = \"parent.toml\"\n[exports.restrict]\nb_env = []\n";
    assert_eq!(
        restricted(&[("child.toml", child), ("parent.toml", &group_parent)]).unwrap(),
        pairs(&[("a_both", "env"), ("b_env", "env")])
    );
}

#[test]
fn group_diagnostics_point_at_their_entries() {
    let text = "\
[capabilities]
allow = [\"random\"]

[[exports.restrict]]
export = [\"a\"]
capabilities = []

[[exports.restrict]]
exports = []
capabilities = [\"random\"]

[[exports.restrict]]
exports = [\"x\", \"y\"]
capabilities = [\"rnd\"]

[[exports.restrict]]
exports = [\"a**\"]

[[exports.restrict]]
exports = \"a\"
capabilities = [\"random\"]
";
    let err = restricted(&[("p.toml", text)]).unwrap_err();
    for (want, at) in [
        (
            "unknown key `export` in an `[[exports.restrict]]` entry",
            "p.toml:5:1",
        ),
        ("did you mean `exports`?", ""),
        ("`exports` is empty", "p.toml:9:11"),
        ("unknown capability `rnd`", "p.toml:14:18"),
        ("needs `exports` and `capabilities`", "p.toml:16:1"),
        (
            "`exports.restrict.exports` must be an array of strings",
            "p.toml:20:12",
        ),
        // The pattern is bad, and the entry lacks `capabilities`: reported once, above.
    ] {
        assert!(err.contains(want), "missing {want:?}:\n{err}");
        assert!(err.contains(at), "missing {at:?}:\n{err}");
    }
    // A bad capability in a group of two patterns is one mistake, reported once.
    assert_eq!(err.matches("unknown capability `rnd`").count(), 1, "{err}");
    let bad =
        format!("{ALLOW}[[exports.restrict]]\nexports = [\"a**\", \"ok\"]\ncapabilities = []\n");
    let err = restricted(&[("p.toml", &bad)]).unwrap_err();
    assert!(
        err.contains("bad pattern \"a**\"") && err.contains("p.toml:4:13"),
        "{err}"
    );
    // TOML gives a key one type: the two forms cannot share a file.
    let both = format!(
        "{ALLOW}[exports.restrict]\na_both = []\n\n[[exports.restrict]]\nexports = [\"b_env\"]\ncapabilities = []\n"
    );
    let err = restricted(&[("p.toml", &both)]).unwrap_err();
    assert!(
        err.contains("p.toml:6:") && err.contains("not both"),
        "{err}"
    );
}

/// `policy init` ends with the `[[calls]]` constraints the SMT checker proves today (issue
/// 13): the first candidate of `rules/init/calls.toml` per argument that holds at every call
/// site. The expected constraints are stated here for each module, compared as a whole
/// (nothing missing, nothing extra), and checking the module against its policy passes with
/// a `pass` result per constraint.
#[test]
fn init_writes_the_call_constraints_it_proves_and_check_of_the_same_binary_passes() {
    use crate::policy_check::{run_in, scratch};
    let all_four = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_read" (func $r (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "path_open"
        (func $o (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func $x (param i32)))
      (memory (export "memory") 1)
      (func (export "_start")
        (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (drop (call $r (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (drop (call $o (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0)
          (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 16)))
        (call $x (i32.const 3))))"#;
    let stdio_only =
        std::fs::read_to_string(root().join("corpus/fixtures/calls/stdio_only.wat")).unwrap();
    let param_set =
        std::fs::read_to_string(root().join("corpus/fixtures/calls/param_set_by_caller.wat"))
            .unwrap();
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "all_four",
            all_four,
            &[
                "wasi_snapshot_preview1#fd_write fd one_of=[1]",
                "wasi_snapshot_preview1#fd_read fd one_of=[0]",
                "wasi_snapshot_preview1#path_open oflags bits_clear=9",
                "wasi_snapshot_preview1#proc_exit rval max=255",
            ],
        ),
        // `out` may pass 2, so `one_of = [1]` fails and `[1, 2]` is the first that holds.
        (
            "stdio_only",
            &stdio_only,
            &["wasi_snapshot_preview1#fd_write fd one_of=[1, 2]"],
        ),
        // `main` passes 5: no fd candidate holds.
        ("param_set", &param_set, &[]),
    ];
    let dir = scratch("init-calls");
    for (name, wat, want) in cases {
        let wasm = format!("{name}.wasm");
        std::fs::write(dir.join(&wasm), wat::parse_str(wat).unwrap()).unwrap();
        let policy = format!("{name}.toml");
        let (code, _, err) = run_in(&dir, &["policy", "init", &wasm, "-o", &policy]);
        assert_eq!(code, 0, "{err}");
        let text = std::fs::read_to_string(dir.join(&policy)).unwrap();
        let v: toml::Value = toml::from_str(&text).unwrap();
        let got: BTreeSet<String> = v
            .get("calls")
            .and_then(|c| c.as_array())
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|c| {
                let t = c.as_table().unwrap();
                let mut s = format!(
                    "{} {}",
                    t["import"].as_str().unwrap(),
                    t["arg"].as_str().unwrap()
                );
                for k in ["one_of", "min", "max", "bits_clear", "bits_set"] {
                    if let Some(x) = t.get(k) {
                        s.push_str(&format!(" {k}={x}"));
                    }
                }
                s
            })
            .collect();
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "{name}:\n{text}");
        let (code, json, err) = run_in(
            &dir,
            &[
                "check",
                "--policy",
                &policy,
                &wasm,
                "--format",
                "json",
                "--now",
                "2026-06-01",
            ],
        );
        assert_eq!(code, 0, "{name}: {json}\n{err}");
        let out: serde_json::Value = serde_json::from_str(&json).unwrap();
        let passes = out["files"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "WG0015" && f["kind"] == "pass")
            .count();
        assert_eq!(passes, want.len(), "{name}: {json}");
    }
}
