//! Real third-party binaries (`corpus/third-party/manifest.toml`), fetched by
//! `corpus/third-party/fetch.sh`. Each is analysed once per test run; the tests share the
//! summaries. Every binary must analyse without panicking, or fail as its `expect` says.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use serde::Deserialize;
use wasmgate_analyzer::{Analysis, BinaryKind};

use crate::common::root;

#[derive(Deserialize, Debug, Clone)]
struct Manifest {
    binary: Vec<Entry>,
}

#[derive(Deserialize, Debug, Clone)]
#[allow(dead_code)]
struct Entry {
    id: String,
    kind: String,
    flavour: String,
    sha256: String,
    size: u64,
    expect: String,
    /// Capabilities some entry point must reach, and ones none may reach (see the manifest).
    #[serde(default)]
    must_reach: Vec<String>,
    #[serde(default)]
    must_not_reach: Vec<String>,
}

/// What the tests keep of one analysis (the full analyses of 30 MB binaries are large).
#[derive(Debug)]
struct Summary {
    entry: Entry,
    outcome: Result<Analysed, String>,
}

#[derive(Debug)]
struct Analysed {
    kind: BinaryKind,
    sha256: String,
    snapshot: serde_json::Value,
    /// Problems found while the full analysis was still in memory.
    defects: Vec<String>,
    /// Unresolved entry points reach every capability the imports confer.
    components_unresolved_ok: bool,
    /// Capabilities some entry point reaches.
    reached: BTreeSet<String>,
    /// What the completeness oracle checked, and its first disagreements.
    oracle: (crate::oracle::Tally, Vec<String>),
    /// `policy init` then `check` against that policy, and with one capability dropped.
    init_roundtrip: Result<crate::policy_init::Trip, String>,
    /// How the shared reach form (schema 2) differs from the per-entry one (first few).
    shared: Vec<String>,
    /// `wasmgate audit`'s report under a deny-all policy: rendered in every format and
    /// consistent with the analysis (see `audit::corpus_report`).
    audit: Result<bool, String>,
}

pub(crate) fn corpus_dir() -> PathBuf {
    match std::env::var_os("WASMGATE_CORPUS_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/wasmgate/corpus")
        }
    }
}

fn summaries() -> &'static [Summary] {
    static ALL: OnceLock<Vec<Summary>> = OnceLock::new();
    ALL.get_or_init(|| {
        let text =
            std::fs::read_to_string(root().join("corpus/third-party/manifest.toml")).unwrap();
        let manifest: Manifest = toml::from_str(&text).unwrap();
        let dir = corpus_dir();
        let missing: Vec<&str> = manifest
            .binary
            .iter()
            .filter(|e| !dir.join(format!("{}.wasm", e.id)).exists())
            .map(|e| e.id.as_str())
            .collect();
        assert!(
            missing.is_empty(),
            "{} corpus binaries are missing from {} ({}...). Fetch them with \
             `corpus/third-party/fetch.sh` (or set WASMGATE_CORPUS_DIR).",
            missing.len(),
            dir.display(),
            missing
                .iter()
                .take(3)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        );
        manifest
            .binary
            .into_iter()
            .map(|entry| {
                let bytes = std::fs::read(dir.join(format!("{}.wasm", entry.id))).unwrap();
                let outcome = match std::panic::catch_unwind(|| wasmgate_analyzer::analyze(&bytes))
                {
                    Err(_) => Err("PANIC".to_string()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Ok(Ok(a)) => Ok(Analysed {
                        shared: crate::shared_reach::disagreements(&a, &bytes),
                        audit: crate::audit::corpus_report(&entry.id, &a),
                        ..summarise(&a)
                    }),
                };
                Summary { entry, outcome }
            })
            .collect()
    })
}

/// Capability summary for the snapshot, and invariant checks on the full analysis.
fn summarise(a: &Analysis) -> Analysed {
    let mut defects = Vec::new();
    let mut graphs = Vec::new();
    if let Some(m) = &a.module {
        graphs.push(("", &m.call_graph, &a.entry_points));
    }
    if let Some(c) = &a.component {
        graphs.push(("<linked>", &c.call_graph, &a.entry_points));
        for m in &c.modules {
            graphs.push((m.path.as_str(), &m.module.call_graph, &m.entry_points));
        }
    }
    for (path, g, entries) in &graphs {
        let check = g.witnesses();
        for e in entries.iter() {
            for r in &e.reaches {
                if let Some(d) = check.defect(r) {
                    defects.push(format!("{path} {}: {}: {d}", e.name, r.capability));
                }
            }
        }
    }
    let caps_of = |e: &wasmgate_analyzer::EntryPoint| -> Vec<String> {
        e.reaches
            .iter()
            .map(|r| r.capability.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    // Group entry points by capability set so 75,000-export modules stay readable.
    let mut groups: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for e in &a.entry_points {
        groups.entry(caps_of(e)).or_default().push(e.name.clone());
    }
    let groups: Vec<serde_json::Value> = groups
        .into_iter()
        .map(|(caps, names)| {
            let sample: Vec<&String> = names.iter().take(5).collect();
            serde_json::json!({"capabilities": caps, "entry_points": names.len(), "examples": sample})
        })
        .collect();
    let union: BTreeSet<String> = a.entry_points.iter().flat_map(caps_of).collect();
    let mut by_cap: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &a.imports {
        for c in &i.capabilities {
            *by_cap.entry(c).or_default() += 1;
        }
    }
    // An entry point the linker could not follow must report every conferrable capability.
    let conferrable: BTreeSet<&str> = a
        .imports
        .iter()
        .flat_map(|i| i.capabilities.iter().map(String::as_str))
        .collect();
    let components_unresolved_ok = a.entry_points.iter().all(|e| {
        !e.unresolved
            || conferrable
                .iter()
                .all(|c| e.reaches.iter().any(|r| r.capability == *c))
    });
    // The oracle reads the typed form of the JSON contract here: serialising 30 MB binaries'
    // analyses once more would double the corpus test's time for no extra coverage (the
    // fixtures and C programs go through the JSON text).
    let (tally, mut problems) = crate::oracle::check(a);
    problems.truncate(5);
    Analysed {
        oracle: (tally, problems),
        reached: union.clone(),
        init_roundtrip: crate::policy_init::roundtrip(a, wasmgate_policy::init::MAX_LISTED_EXPORTS),
        kind: a.kind,
        sha256: a.sha256.clone(),
        snapshot: serde_json::json!({
            "kind": a.kind,
            "imports": a.imports.len(),
            "imports_by_capability": by_cap,
            "exports": a.exports.len(),
            "embedded_modules": a.component.as_ref().map(|c| c.modules.len()),
            "reachable_capabilities": union,
            "entry_point_groups": groups,
        }),
        defects,
        components_unresolved_ok,
        shared: Vec::new(),
        audit: Ok(false),
    }
}

#[test]
fn corpus_binaries_pass_their_own_least_privilege_policy() {
    let (mut checked, mut mutations, mut groups_dropped) = (0, 0, 0);
    let mut problems = Vec::new();
    for s in summaries() {
        if let Ok(a) = &s.outcome {
            checked += 1;
            match &a.init_roundtrip {
                Ok(t) => {
                    mutations += t.mutations;
                    groups_dropped += usize::from(t.group_dropped);
                    // The acceptance bound of issue 11 for duckdb-eh, held by every binary.
                    if t.lines > 5_000 || t.bytes > 500_000 {
                        problems.push(format!(
                            "{}: policy of {} lines, {} bytes",
                            s.entry.id, t.lines, t.bytes
                        ));
                    }
                }
                Err(e) => problems.push(format!("{}: {e}", s.entry.id)),
            }
        }
    }
    // Every binary that analyses, none skipped for size.
    let ok = summaries()
        .iter()
        .filter(|s| s.entry.expect == "ok")
        .count();
    assert_eq!(checked, ok, "round trip ran on {checked} of {ok} binaries");
    let reaching = summaries()
        .iter()
        .filter(|s| s.outcome.as_ref().is_ok_and(|a| !a.reached.is_empty()))
        .count();
    assert!(
        groups_dropped > 0,
        "no round trip dropped a capability from a group"
    );
    assert!(
        mutations >= reaching,
        "only {mutations} mutations for {reaching} binaries reaching something"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_corpus_binary_gets_an_audit_report() {
    let mut audited = 0;
    let mut problems = Vec::new();
    let mut with_crates = BTreeSet::new();
    for s in summaries() {
        if let Ok(a) = &s.outcome {
            audited += 1;
            match &a.audit {
                Ok(true) => drop(with_crates.insert(s.entry.id.as_str())),
                Ok(false) => {}
                Err(e) => problems.push(format!("{}: {e}", s.entry.id)),
            }
        }
    }
    let ok = summaries()
        .iter()
        .filter(|s| s.entry.expect == "ok")
        .count();
    assert_eq!(audited, ok, "audited {audited} of {ok} binaries");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // No corpus binary has a `.dep-v0` section (jco-transpile-wasm-tools-core holds the
    // bytes only as a string in its data: wasm-tools knows the section); the fixture
    // corpus/fixtures/audit/app.wat covers one.
    assert_eq!(with_crates, BTreeSet::<&str>::new());
}

#[test]
fn corpus_manifest_is_broad() {
    let text = std::fs::read_to_string(root().join("corpus/third-party/manifest.toml")).unwrap();
    let m: Manifest = toml::from_str(&text).unwrap();
    assert!(
        m.binary.len() >= 40,
        "corpus has {} binaries",
        m.binary.len()
    );
    assert!(
        m.binary.iter().filter(|e| e.size > 10 << 20).count() >= 3,
        "several binaries over 10 MB"
    );
    assert!(m.binary.iter().filter(|e| e.kind == "component").count() >= 9);
    let ids: BTreeSet<&str> = m.binary.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), m.binary.len(), "ids are unique");
}

#[test]
fn every_corpus_binary_analyses_or_fails_as_expected() {
    let mut problems = Vec::new();
    for s in summaries() {
        match (&s.outcome, s.entry.expect.as_str()) {
            (Ok(a), "ok") => {
                if a.sha256 != s.entry.sha256 {
                    problems.push(format!(
                        "{}: sha256 {} differs from the manifest",
                        s.entry.id, a.sha256
                    ));
                }
                let want = if s.entry.kind == "component" {
                    BinaryKind::Component
                } else {
                    BinaryKind::Module
                };
                if a.kind != want {
                    problems.push(format!(
                        "{}: analysed as {:?}, manifest says {}",
                        s.entry.id, a.kind, s.entry.kind
                    ));
                }
            }
            (Err(e), "invalid") if e != "PANIC" => {
                assert!(
                    e.contains("byte offset"),
                    "{}: error names no offset: {e}",
                    s.entry.id
                );
            }
            (outcome, expect) => problems.push(format!(
                "{}: expected {expect}, got {:?}",
                s.entry.id,
                outcome.as_ref().map(|_| "analysis")
            )),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn corpus_witness_paths_are_real_paths() {
    let defects: Vec<String> = summaries()
        .iter()
        .filter_map(|s| s.outcome.as_ref().ok().map(|a| (s, a)))
        .flat_map(|(s, a)| {
            a.defects
                .iter()
                .take(3)
                .map(move |d| format!("{}: {d}", s.entry.id))
        })
        .collect();
    assert!(defects.is_empty(), "{}", defects.join("\n"));
}

#[test]
fn corpus_unresolved_entry_points_reach_everything() {
    let mut checked = 0;
    for s in summaries() {
        if let Ok(a) = &s.outcome {
            checked += 1;
            assert!(
                a.components_unresolved_ok,
                "{}: an unresolved entry point must reach every conferrable capability",
                s.entry.id
            );
        }
    }
    assert!(checked > 0, "no corpus binary was analysed");
}

#[test]
fn corpus_capability_summaries() {
    for s in summaries() {
        if let Ok(a) = &s.outcome {
            insta::assert_json_snapshot!(format!("corpus-{}", s.entry.id), a.snapshot);
        }
    }
}

/// Every corpus binary's shared reaches (schema 2) say what its per-entry reaches say.
#[test]
fn corpus_shared_reaches_match_per_entry_reaches() {
    let mut compared = 0;
    let mut problems = Vec::new();
    for s in summaries() {
        if let Ok(a) = &s.outcome {
            compared += 1;
            problems.extend(a.shared.iter().map(|p| format!("{}: {p}", s.entry.id)));
        }
    }
    assert!(compared >= 60, "compared {compared} binaries");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn corpus_reaches_match_the_oracle() {
    let mut tally = crate::oracle::Tally::default();
    let mut problems = Vec::new();
    for s in summaries() {
        if let Ok(a) = &s.outcome {
            tally.add(a.oracle.0);
            problems.extend(a.oracle.1.iter().map(|p| format!("{}: {p}", s.entry.id)));
        }
    }
    crate::oracle::assert_clean("third-party corpus", tally, &problems);
}

#[test]
fn corpus_binaries_reach_what_their_manifest_says() {
    let table = wasmgate_analyzer::CapabilityTable::builtin().unwrap();
    let (mut facts, mut binaries) = (0, 0);
    let mut problems = Vec::new();
    for s in summaries() {
        let e = &s.entry;
        for c in e.must_reach.iter().chain(&e.must_not_reach) {
            // A misspelt capability would hold vacuously.
            assert!(
                table.vocabulary().contains_key(c),
                "{}: {c} is not a capability",
                e.id
            );
        }
        if e.must_reach.is_empty() && e.must_not_reach.is_empty() {
            continue;
        }
        let Ok(a) = &s.outcome else {
            problems.push(format!("{}: has reach facts but did not analyse", e.id));
            continue;
        };
        binaries += 1;
        for c in &e.must_reach {
            facts += 1;
            if !a.reached.contains(c) {
                problems.push(format!("{}: must reach {c} but no entry point does", e.id));
            }
        }
        for c in &e.must_not_reach {
            facts += 1;
            if a.reached.contains(c) {
                problems.push(format!(
                    "{}: must not reach {c} but an entry point does",
                    e.id
                ));
            }
        }
    }
    assert!(
        binaries >= 40 && facts >= 200,
        "only {facts} facts on {binaries} binaries"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
