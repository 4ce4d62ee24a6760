//! The static-vs-dynamic cross-check over the runnable WASI commands of the third-party
//! corpus: each runs the scenarios of `corpus/third-party/scenarios/<id>.toml`, every import
//! it calls must be one the analyzer predicted, and the README's precision table is this
//! test's output (so it cannot drift from what the runs show).
#![cfg(feature = "sandbox")]

use std::collections::BTreeSet;
use std::fmt::Write;

use serde_json::Value;

use crate::common::{files_with_ext, root};
use crate::corpus::corpus_dir;
use crate::sandbox::run_with_env;

const BEGIN: &str = "<!-- precision-table:begin (tests/all/sandbox_corpus.rs) -->";
const END: &str = "<!-- precision-table:end -->";

/// One guest's imports over all its scenario runs.
struct Row {
    id: String,
    runs: usize,
    predicted: BTreeSet<String>,
    observed: BTreeSet<String>,
    missing: BTreeSet<String>,
}

fn strings(v: &Value) -> impl Iterator<Item = String> + '_ {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
}

/// Runs `id`'s scenarios; `None` when the binary is not fetched.
fn row(scenario: &std::path::Path) -> Option<Row> {
    let id = scenario.file_stem().unwrap().to_str().unwrap().to_string();
    let wasm = corpus_dir().join(format!("{id}.wasm"));
    if !wasm.exists() {
        eprintln!(
            "skipping {id}: {} is not fetched (corpus/third-party/fetch.sh)",
            wasm.display()
        );
        return None;
    }
    let (code, out, err) = run_with_env(
        &[
            "run",
            wasm.to_str().unwrap(),
            "--scenario",
            scenario.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    );
    let v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{id}: {e}\nstdout: {out}\nstderr: {err}"));
    let mut r = Row {
        id: id.clone(),
        runs: 0,
        predicted: BTreeSet::new(),
        observed: BTreeSet::new(),
        missing: BTreeSet::new(),
    };
    for run in v["runs"].as_array().unwrap() {
        let name = run["name"].as_str().unwrap();
        assert_eq!(
            run["matched"], true,
            "{id}/{name}: outcome {} expected {}\nstderr: {}",
            run["outcome"], run["expect"], run["stderr"]
        );
        // Real work: the run printed something or changed a file, beyond starting up.
        let changes: usize = run["preopens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["changes"].as_array().map_or(0, Vec::len))
            .sum();
        let printed = run["stdout"].as_str().unwrap().len() + run["stderr"].as_str().unwrap().len();
        assert!(printed + changes > 0, "{id}/{name} did nothing visible");
        let check = &run["crosscheck"];
        r.runs += 1;
        r.predicted.extend(strings(&check["predicted"]));
        r.observed.extend(strings(&check["observed"]));
        r.missing.extend(strings(&check["missing"]));
    }
    assert!(r.runs > 0, "{id}: the scenario has no run");
    assert!(
        r.missing.is_empty(),
        "{id}: observed but not predicted (analyzer soundness bug): {:?}",
        r.missing
    );
    // The cross-check sets agree with each other: observed = predicted ∩ observed ∪ missing.
    assert!(r.observed.is_subset(&r.predicted), "{id}");
    assert_eq!(
        (code, v["mismatches"].as_u64()),
        (0, Some(0)),
        "{id}: {err}"
    );
    Some(r)
}

fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| guest | runs | imports predicted | observed | observed, not predicted | \
         predicted, not observed |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            r.id,
            r.runs,
            r.predicted.len(),
            r.observed.len(),
            r.missing.len(),
            r.predicted.difference(&r.observed).count()
        )
        .unwrap();
    }
    s
}

#[test]
fn crosscheck_holds_over_the_third_party_commands() {
    let scenarios = files_with_ext(&root().join("corpus/third-party/scenarios"), "toml");
    assert!(!scenarios.is_empty());
    let rows: Vec<Row> = scenarios.iter().filter_map(|s| row(s)).collect();
    if rows.len() < scenarios.len() {
        eprintln!("some guests are not fetched: the README's precision table is not compared");
        return;
    }
    let table = table(&rows);
    let readme_path = root().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (head, rest) = readme
        .split_once(BEGIN)
        .expect("README precision table begin");
    let (_, tail) = rest.split_once(END).expect("README precision table end");
    let fresh = format!("{head}{BEGIN}\n{table}{END}{tail}");
    if fresh != readme {
        if std::env::var_os("WASMGATE_UPDATE_README").is_some() {
            std::fs::write(&readme_path, fresh).unwrap();
        } else {
            panic!(
                "the README's precision table is out of date; rerun with \
                 WASMGATE_UPDATE_README=1 to rewrite it:\n{table}"
            );
        }
    }
}
