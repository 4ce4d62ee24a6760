//! The compact reach form (`Witnesses::Shared`, JSON schema 2) against the per-entry form
//! (schema 1): the same capability set and import for every entry point, each shared witness
//! exactly the per-entry witness of its `from` entry point and no longer than any member's;
//! the schema 2 writer in step with the derived serialisation; the oracle on schema 2; and
//! the component closure on hostile shapes (a million-deep call chain, a million-function
//! cycle), each analysed under a timeout. The corpus comparison runs in `corpus.rs`, on the
//! analysis that test already makes.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use wasmgate_analyzer::{
    Analysis, EntryPoint, Reach, SharedJson, SharedReach, Witnesses, analyze_with,
};

use crate::common::root;

/// Analyzer options asking for the shared (schema 2) witness form.
fn shared_options() -> wasmgate_analyzer::Options {
    wasmgate_analyzer::Options {
        witnesses: Witnesses::Shared,
        ..Default::default()
    }
}

/// Full length of a witness: shown nodes, minus the elision marker, plus the elided ones.
fn full_len(r: &Reach) -> usize {
    r.path.len() + r.elided as usize - usize::from(r.elided > 0)
}

/// Every way `shared` (one graph's entry points and shared reaches) differs from `per`.
fn compare(
    label: &str,
    per: &[EntryPoint],
    entries: &[EntryPoint],
    shared: &[SharedReach],
    out: &mut Vec<String>,
) {
    let mut bad = |m: String| out.push(format!("{label}{m}"));
    let key = |e: &EntryPoint| (e.name.clone(), e.kind, e.roots.clone(), e.unresolved);
    if per.iter().map(key).ne(entries.iter().map(key)) {
        bad("entry points differ (names, kinds, roots or unresolved marks)".into());
        return;
    }
    if entries.iter().any(|e| !e.reaches.is_empty()) {
        bad("a shared-form entry point has per-entry reaches".into());
    }
    let want: BTreeSet<(usize, &str, &str)> = per
        .iter()
        .enumerate()
        .flat_map(|(i, e)| {
            e.reaches
                .iter()
                .map(move |r| (i, r.capability.as_str(), r.import.as_str()))
        })
        .collect();
    let mut got = BTreeSet::new();
    let mut listed = 0;
    for s in shared {
        for &i in &s.entry_points {
            listed += 1;
            got.insert((
                i as usize,
                s.witness.capability.as_str(),
                s.witness.import.as_str(),
            ));
        }
    }
    for m in want.difference(&got).take(5) {
        bad(format!("shared form lacks {m:?}"));
    }
    for m in got.difference(&want).take(5) {
        bad(format!("shared form adds {m:?}"));
    }
    if listed != got.len() {
        bad(format!("{} entry points listed twice", listed - got.len()));
    }
    for pair in shared.windows(2) {
        let (a, b) = (&pair[0].witness, &pair[1].witness);
        if (&a.capability, &a.import) >= (&b.capability, &b.import) {
            bad(format!("shared reaches out of order at {}", b.capability));
        }
    }
    let reach = |i: u32, cap: &str| {
        per.get(i as usize)
            .and_then(|e| e.reaches.iter().find(|r| r.capability == cap))
    };
    for s in shared {
        let cap = s.witness.capability.as_str();
        if !s.entry_points.contains(&s.from) {
            bad(format!("{cap}: `from` {} is not a member", s.from));
        }
        if reach(s.from, cap) != Some(&s.witness) {
            bad(format!(
                "{cap}: witness is not the per-entry one of entry point {}",
                s.from
            ));
        }
        for &i in &s.entry_points {
            if reach(i, cap).is_some_and(|r| full_len(r) < full_len(&s.witness)) {
                bad(format!("{cap}: entry point {i} is nearer than `from`"));
            }
        }
    }
}

/// Analyses `bytes` both ways and returns every difference.
pub fn disagreements(per: &Analysis, bytes: &[u8]) -> Vec<String> {
    let shared = match analyze_with(bytes, shared_options()) {
        Ok(a) => a,
        Err(e) => return vec![format!("the shared form fails: {e}")],
    };
    let mut out = Vec::new();
    if shared.schema_version != 2 || per.schema_version != 1 {
        out.push("schema versions are not 1 and 2".into());
    }
    compare(
        "",
        &per.entry_points,
        &shared.entry_points,
        &shared.shared_reaches,
        &mut out,
    );
    let per_modules = per.component.iter().flat_map(|c| &c.modules);
    let shared_modules = shared.component.iter().flat_map(|c| &c.modules);
    for (p, s) in per_modules.zip(shared_modules) {
        compare(
            &format!("{} ", p.path),
            &p.entry_points,
            &s.entry_points,
            &s.shared_reaches,
            &mut out,
        );
    }
    if per.unreachable_imports != shared.unreachable_imports {
        out.push("unreachable imports differ".into());
    }
    out.extend(check_disagreements(per, &shared, bytes));
    out
}

/// Policies under which findings depend on every reach: nothing allowed (every capability
/// and import is a finding), and everything allowed but every export restricted to nothing
/// (every export's own witnesses decide the restriction findings).
const DENY_ALL: &str = "[capabilities]\nallow = []\n[imports]\nallow = []\n";
const RESTRICT_ALL: &str = "[capabilities]\nallow = [\"*\"]\n\n[[exports.restrict]]\nexports = [\"*\"]\ncapabilities = []\n";

/// Binaries with more entry points than this are not checked per entry on the shared form:
/// that builds every (entry point, capability) witness, a million on the duckdb builds.
const PER_ENTRY_LIMIT: usize = 5_000;

/// Every way `check` on the shared form differs from `check` on the per-entry form: the
/// findings must be equal, aggregated and per entry (with the bytes, so that witnesses built
/// on demand get their call's length as the analyzer's do).
fn check_disagreements(per: &Analysis, shared: &Analysis, bytes: &[u8]) -> Vec<String> {
    let today = wasmgate_policy::Date::parse("2026-12-02").unwrap();
    let mut out = Vec::new();
    for (label, text) in [("deny-all", DENY_ALL), ("restrict-all", RESTRICT_ALL)] {
        let policy = wasmgate_policy::load_str(std::path::Path::new("p.toml"), text).unwrap();
        for per_entry in [false, true] {
            if per_entry && per.entry_points.len() > PER_ENTRY_LIMIT {
                continue;
            }
            let options = wasmgate_policy::Options {
                per_entry,
                ..Default::default()
            };
            let check = |a: &Analysis| {
                wasmgate_policy::check_with(&policy, a, Some(bytes), "a.wasm", today, options)
            };
            let (want, got) = (check(per), check(shared));
            let form = if per_entry { "per-entry" } else { "aggregated" };
            if want.len() != got.len() {
                out.push(format!(
                    "{label} {form}: {} findings from the per-entry form, {} from the shared form",
                    want.len(),
                    got.len()
                ));
            } else if let Some((w, g)) = want.iter().zip(&got).find(|(w, g)| w != g) {
                out.push(format!(
                    "{label} {form}: findings differ:\n  per-entry form {w:?}\n  shared form {g:?}"
                ));
            }
            if want.is_empty() && !per.entry_points.iter().all(|e| e.reaches.is_empty()) {
                out.push(format!(
                    "{label} {form}: no findings although entry points reach"
                ));
            }
        }
    }
    out
}

fn every_test_binary() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut dirs = vec![root().join("corpus/fixtures")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "wat") {
                files.push(p);
            }
        }
    }
    files.extend(crate::common::files_with_ext(
        &root().join("corpus/c"),
        "wasm",
    ));
    files.sort();
    files
        .into_iter()
        .filter_map(|f| {
            let name = f.strip_prefix(root()).unwrap().display().to_string();
            let bytes = if f.extension().is_some_and(|x| x == "wat") {
                wat::parse_file(&f).ok()?
            } else {
                std::fs::read(&f).unwrap()
            };
            Some((name, bytes))
        })
        .collect()
}

#[test]
fn shared_reaches_match_per_entry_reaches_on_fixtures_and_c_programs() {
    let (mut compared, mut pairs, mut problems) = (0, 0, Vec::new());
    for (name, bytes) in every_test_binary() {
        // Fixtures of invalid input are the subject of other tests.
        let Ok(per) = wasmgate_analyzer::analyze(&bytes) else {
            continue;
        };
        compared += 1;
        pairs += per
            .entry_points
            .iter()
            .map(|e| e.reaches.len())
            .sum::<usize>();
        problems.extend(
            disagreements(&per, &bytes)
                .into_iter()
                .map(|d| format!("{name}: {d}")),
        );
    }
    assert!(
        compared >= 50 && pairs >= 100,
        "{compared} binaries, {pairs} reaches"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn oracle_agrees_with_shared_reaches_through_schema_2_json() {
    let (mut tally, mut problems) = (crate::oracle::Tally::default(), Vec::new());
    for (name, bytes) in every_test_binary() {
        let Ok(a) = analyze_with(&bytes, shared_options()) else {
            continue;
        };
        let (t, p) = crate::oracle::check_json(&a);
        tally.add(t);
        problems.extend(p.into_iter().map(|d| format!("{name}: {d}")));
    }
    crate::oracle::assert_clean(
        "shared reaches of fixtures and C programs",
        tally,
        &problems,
    );
}

/// The hand-written schema 2 writer must write what the derived form writes, minus the
/// per-entry `reaches`: a field added to `Analysis` and forgotten there fails this.
#[test]
fn schema_2_json_is_the_derived_form_without_reaches() {
    let mut checked = 0;
    for name in ["corpus/c/copy.wasm", "corpus/c/copy.component.wasm"] {
        let bytes = std::fs::read(root().join(name)).unwrap();
        let a = analyze_with(&bytes, shared_options()).unwrap();
        let mut want = serde_json::to_value(&a).unwrap();
        let strip = |entries: &mut Value| {
            for e in entries.as_array_mut().unwrap() {
                assert_eq!(e["reaches"], Value::Array(vec![]), "{name}");
                e.as_object_mut().unwrap().remove("reaches");
            }
        };
        strip(&mut want["entry_points"]);
        let modules = want.get_mut("component").and_then(|c| c.get_mut("modules"));
        if let Some(modules) = modules.and_then(Value::as_array_mut) {
            for m in modules {
                strip(&mut m["entry_points"]);
            }
        }
        let got = serde_json::to_value(SharedJson(&a)).unwrap();
        assert_eq!(first_difference(&got, &want, ""), None, "{name}");
        assert!(!a.shared_reaches.is_empty(), "{name} reaches something");
        checked += 1;
    }
    assert_eq!(checked, 2);
}

/// Where two JSON values first differ (a path such as `/component/modules/0/path`).
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, &format!("{at}/{k}")),
                _ => Some(format!("{at}/{k}: only on one side")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &format!("{at}/{i}"))),
        _ => (a != b).then(|| format!("{at}: {a} vs {b}")),
    }
}

/// Analyses in its own thread both ways, failing on a hang or a panic (a recursive
/// component search would overflow the stack on these shapes).
fn analyse_both(name: &str, wasm: Vec<u8>) -> (Analysis, Analysis) {
    const HANG: Duration = Duration::from_secs(120);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let per = wasmgate_analyzer::analyze(&wasm);
        let shared = analyze_with(&wasm, shared_options());
        let _ = tx.send(per.and_then(|p| Ok((p, shared?))));
    });
    match rx.recv_timeout(HANG) {
        Ok(Ok(both)) => both,
        Ok(Err(e)) => panic!("{name}: {e}"),
        Err(_) => panic!("{name}: hang or panic (no result within {HANG:?})"),
    }
}

/// Capability sets per entry point name, from the shared form.
fn shared_caps(a: &Analysis) -> Vec<(String, BTreeSet<String>)> {
    let mut caps: Vec<(String, BTreeSet<String>)> = a
        .entry_points
        .iter()
        .map(|e| (e.name.clone(), BTreeSet::new()))
        .collect();
    for s in &a.shared_reaches {
        for &i in &s.entry_points {
            caps[i as usize].1.insert(s.witness.capability.clone());
        }
    }
    caps
}

fn set(caps: &[&str]) -> BTreeSet<String> {
    caps.iter().map(|c| c.to_string()).collect()
}

#[test]
fn component_closure_survives_a_million_deep_call_chain() {
    // func k calls func k+1 (k = 1..N); the last calls `random_get`. wasmparser allows
    // 1,000,000 functions, the import included.
    const N: u32 = 1_000_000 - 1;
    let bodies: Vec<Vec<u8>> = (1..=N)
        .map(|k| {
            if k < N {
                hostile_body(&crate::robustness::hostile::call(k + 1))
            } else {
                hostile_body(&crate::robustness::hostile::call_import())
            }
        })
        .collect();
    let exports = [("head".to_string(), 1), ("tail".to_string(), N)];
    let wasm = crate::robustness::hostile::module(&bodies, &exports, 0);
    let (per, shared) = analyse_both("million-deep-chain", wasm);
    assert_eq!(
        shared_caps(&shared),
        vec![
            ("head".to_string(), set(&["random"])),
            ("tail".to_string(), set(&["random"]))
        ]
    );
    let problems = disagreements_in_memory(&per, &shared);
    assert!(problems.is_empty(), "{problems:?}");
    let head = &shared.shared_reaches[0];
    assert_eq!(head.entry_points, vec![0, 1]);
    // `tail` (entry 1) is next to the import: the shared witness starts there.
    assert_eq!((head.from, full_len(&head.witness)), (1, 2));
}

#[test]
fn component_closure_survives_a_million_function_cycle() {
    // Functions 1..N form one cycle (k calls k+1, N calls 1); only the middle one calls the
    // import, so every function of the cycle reaches it. Function N+1 (exported `outside`)
    // calls into the cycle, and N+2 (`alone`) calls nothing.
    const N: u32 = 1_000_000 - 3;
    let mid = N / 2;
    let mut bodies: Vec<Vec<u8>> = (1..=N)
        .map(|k| {
            let mut code = crate::robustness::hostile::call(if k < N { k + 1 } else { 1 });
            if k == mid {
                code.extend(crate::robustness::hostile::call_import());
            }
            hostile_body(&code)
        })
        .collect();
    bodies.push(hostile_body(&crate::robustness::hostile::call(N)));
    bodies.push(hostile_body(&[]));
    let exports = [
        ("alone".to_string(), N + 2),
        ("first".to_string(), 1),
        ("last".to_string(), N),
        ("outside".to_string(), N + 1),
    ];
    let wasm = crate::robustness::hostile::module(&bodies, &exports, 0);
    let (per, shared) = analyse_both("million-function-cycle", wasm);
    assert_eq!(
        shared_caps(&shared),
        vec![
            ("alone".to_string(), set(&[])),
            ("first".to_string(), set(&["random"])),
            ("last".to_string(), set(&["random"])),
            ("outside".to_string(), set(&["random"])),
        ]
    );
    let problems = disagreements_in_memory(&per, &shared);
    assert!(problems.is_empty(), "{problems:?}");
    // `first` is mid - 1 calls from the middle, `last` and `outside` farther round the cycle.
    let r = &shared.shared_reaches[0];
    assert_eq!((r.from, full_len(&r.witness)), (1, mid as usize + 1));
}

fn hostile_body(code: &[u8]) -> Vec<u8> {
    crate::robustness::hostile::body(code)
}

/// [`disagreements`] on two analyses already made.
fn disagreements_in_memory(per: &Analysis, shared: &Analysis) -> Vec<String> {
    let mut out = Vec::new();
    compare(
        "",
        &per.entry_points,
        &shared.entry_points,
        &shared.shared_reaches,
        &mut out,
    );
    out
}

/// The start function's findings on the shared form come from the groups it is in, each
/// with its own witness (not the group's, which starts at the export nearer the import):
/// exactly the start function's per-entry reaches, in both directions.
#[test]
fn start_function_findings_carry_its_own_witnesses_on_the_shared_form() {
    let wasm = wat::parse_str(
        r#"(module
            (import "wasi_snapshot_preview1" "random_get" (func $rand (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
            (func $helper (drop (call $rand (i32.const 0) (i32.const 4))))
            (func $init
                (call $helper)
                (drop (call $clock (i32.const 1) (i64.const 0) (i32.const 0))))
            (func (export "roll") (drop (call $rand (i32.const 0) (i32.const 4))))
            (start $init))"#,
    )
    .unwrap();
    let (per, shared) = analyse_both("start", wasm.clone());
    let start = per
        .entry_points
        .iter()
        .find(|e| e.kind == wasmgate_analyzer::EntryKind::Start)
        .unwrap();
    let want: Vec<(String, Vec<String>)> = start
        .reaches
        .iter()
        .map(|r| {
            let path = r.path.iter().map(|n| n.to_string()).collect();
            (r.capability.clone(), path)
        })
        .collect();
    // The case that matters: `random`'s group witness starts at `roll`, not at the start.
    assert_eq!(want.len(), 2, "{want:?}");
    let random = want.iter().find(|(c, _)| c == "random").unwrap();
    assert_eq!(random.1.len(), 3, "{random:?}");
    let group = shared
        .shared_reaches
        .iter()
        .find(|s| s.witness.capability == "random")
        .unwrap();
    assert_eq!(shared.entry_points[group.from as usize].name, "roll");

    let policy = wasmgate_policy::load_str(std::path::Path::new("p.toml"), DENY_ALL).unwrap();
    let today = wasmgate_policy::Date::parse("2026-12-02").unwrap();
    let options = wasmgate_policy::Options::default();
    let got: Vec<(String, Vec<String>)> =
        wasmgate_policy::check_with(&policy, &shared, Some(&wasm), "a.wasm", today, options)
            .into_iter()
            .filter(|f| f.name == "start-function-performs-io")
            .map(|f| {
                let path = f.witness.iter().map(|n| n.to_string()).collect();
                (f.subject, path)
            })
            .collect();
    assert_eq!(got, want);
}
