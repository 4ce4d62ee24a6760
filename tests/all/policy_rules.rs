//! Rule fixtures (`corpus/fixtures/rules/WGxxxx.toml`): each rule fires on its `[fires]` case
//! and stays silent on its `[passes]` case; every rule of the catalogue has a fixture.

use std::collections::BTreeSet;
use std::path::Path;

use wasmgate_policy::{Date, Kind, rules};

use crate::common::{files_with_ext, root};

fn case(fixture: &Path, table: &toml::Value, which: &str) -> Vec<wasmgate_policy::Finding> {
    let case = table
        .get(which)
        .unwrap_or_else(|| panic!("{}: no [{which}] case", fixture.display()));
    let wat = case["wat"].as_str().expect("wat");
    let policy = case["policy"].as_str().expect("policy");
    let wasm = wat::parse_str(wat).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
    let analysis = wasmgate_analyzer::analyze(&wasm).unwrap();
    let policy = wasmgate_policy::load_str(fixture, policy).unwrap_or_else(|e| match e {
        wasmgate_policy::LoadError::Invalid { rendered, .. } => panic!("{rendered}"),
        e => panic!("{e}"),
    });
    wasmgate_policy::check_with(
        &policy,
        &analysis,
        Some(&wasm),
        "fixture.wasm",
        Date::parse("2026-06-01").unwrap(),
        wasmgate_policy::Options::default(),
    )
}

#[test]
fn every_rule_has_a_fixture_that_fires_and_one_that_does_not() {
    let dir = root().join("corpus/fixtures/rules");
    let fixtures = files_with_ext(&dir, "toml");
    let mut ids: Vec<String> = Vec::new();
    for rule in rules::catalogue() {
        assert!(!ids.contains(&rule.id), "duplicate rule id {}", rule.id);
        ids.push(rule.id.clone());
        // `wasmgate diff` reports these, never `check`: tests/all/diff.rs fires each of them.
        if rule.category == "sandbox" {
            continue;
        }
        let fixture = dir.join(format!("{}.toml", rule.id));
        assert!(
            fixtures.contains(&fixture),
            "{} ({}) has no fixture {}",
            rule.id,
            rule.name,
            fixture.display()
        );
        let text = std::fs::read_to_string(&fixture).unwrap();
        let table: toml::Value = toml::from_str(&text).unwrap();
        let fired = case(&fixture, &table, "fires");
        // The exact (subject, level) of every finding of the rule, stated in the fixture.
        let expected: BTreeSet<(String, String)> = table["fires"]
            .get("expect")
            .and_then(|e| e.as_array())
            .unwrap_or_else(|| panic!("{}: [fires] has no `expect`", fixture.display()))
            .iter()
            .map(|e| {
                (
                    e["subject"].as_str().unwrap().to_string(),
                    e["level"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            !expected.is_empty(),
            "{}: empty `expect`",
            fixture.display()
        );
        // Proofs (`kind: pass`) are not findings that fire.
        let actual: BTreeSet<(String, String)> = fired
            .iter()
            .filter(|f| f.rule == rule.id && f.suppressed.is_none() && f.kind == Kind::Fail)
            .map(|f| (f.subject.clone(), f.level.as_str().to_string()))
            .collect();
        assert_eq!(
            actual,
            expected,
            "{}: [fires] findings of {} (subject, level)",
            fixture.display(),
            rule.id
        );
        let passed = case(&fixture, &table, "passes");
        assert!(
            !passed
                .iter()
                .any(|f| f.rule == rule.id && f.suppressed.is_none() && f.kind == Kind::Fail),
            "{}: [passes] produced a {} finding: {passed:#?}",
            fixture.display(),
            rule.id
        );
    }
    for f in &fixtures {
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(ids.contains(&stem), "fixture {} names no rule", f.display());
    }
}

#[test]
fn a_waiver_suppresses_exactly_its_rule_and_target() {
    let fixture = root().join("corpus/fixtures/rules/WG0012.toml");
    let table: toml::Value = toml::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    let passed = case(&fixture, &table, "passes");
    let waived: Vec<_> = passed.iter().filter(|f| f.suppressed.is_some()).collect();
    assert_eq!(waived.len(), 1, "{passed:#?}");
    assert_eq!(
        (waived[0].rule.as_str(), waived[0].subject.as_str()),
        ("WG0001", "random")
    );
    // Expired: the finding is back and the waiver itself is reported.
    let fired = case(&fixture, &table, "fires");
    assert!(
        fired
            .iter()
            .any(|f| f.rule == "WG0001" && f.suppressed.is_none())
    );
}

/// The README's rule table is the catalogue: a new rule file without its row (or a row left
/// after a rule is gone) fails here, with the table to paste.
#[test]
fn readme_rule_table_is_the_catalogue() {
    let mut table = String::from("| id | name | default |\n| --- | --- | --- |\n");
    for r in rules::catalogue() {
        table.push_str(&format!(
            "| {} | {} | {} |\n",
            r.id,
            r.name,
            r.level.as_str()
        ));
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&table),
        "README.md's rule table (section \"Rules\") must be exactly:\n{table}"
    );
}
