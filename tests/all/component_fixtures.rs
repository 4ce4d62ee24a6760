//! Component fixtures (`corpus/fixtures/components/*.wat`): each header states every entry
//! point's complete capability set (exports, `<start>`, `<resource-destructors>`), which entry
//! points are marked unresolved, and the declared-but-unreachable imports; the linked
//! analysis must match exactly, and every witness path must be a path in the linked graph.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{files_with_ext, root};

#[test]
fn component_fixtures_match_ground_truth() {
    let files = files_with_ext(&root().join("corpus/fixtures/components"), "wat");
    assert!(files.len() >= 3);
    let mut failures = Vec::new();
    let mut snapshots = Vec::new();
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let mut want_caps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut want_unreachable: BTreeSet<String> = BTreeSet::new();
        let mut want_unresolved: BTreeSet<String> = BTreeSet::new();
        for line in text
            .lines()
            .filter_map(|l| l.trim().strip_prefix(";;"))
            .map(str::trim)
        {
            if let Some(rest) = line.strip_prefix("expect-caps:") {
                let (entry, caps) = rest.split_once('=').unwrap();
                let caps = caps
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect();
                want_caps.insert(entry.trim().to_string(), caps);
            } else if let Some(rest) = line.strip_prefix("expect-unreachable:") {
                want_unreachable.insert(rest.trim().to_string());
            } else if let Some(rest) = line.strip_prefix("expect-unresolved:") {
                want_unresolved.insert(rest.trim().to_string());
            }
        }
        let wasm = wat::parse_file(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let a = wasmgate_analyzer::analyze(&wasm).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got_caps: BTreeMap<String, BTreeSet<String>> = a
            .entry_points
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    e.reaches.iter().map(|r| r.capability.clone()).collect(),
                )
            })
            .collect();
        if got_caps != want_caps {
            failures.push(format!(
                "{name}: capabilities\n  want {want_caps:?}\n  got  {got_caps:?}"
            ));
        }
        let got_unreachable: BTreeSet<String> = a.unreachable_imports.iter().cloned().collect();
        if got_unreachable != want_unreachable {
            failures.push(format!(
                "{name}: unreachable\n  want {want_unreachable:?}\n  got  {got_unreachable:?}"
            ));
        }
        let got_unresolved: BTreeSet<String> = a
            .entry_points
            .iter()
            .filter(|e| e.unresolved)
            .map(|e| e.name.clone())
            .collect();
        if got_unresolved != want_unresolved {
            failures.push(format!(
                "{name}: unresolved\n  want {want_unresolved:?}\n  got  {got_unresolved:?}"
            ));
        }
        let check = a.component.as_ref().unwrap().call_graph.witnesses();
        for e in &a.entry_points {
            for r in &e.reaches {
                if let Some(d) = check.defect(r) {
                    panic!("{name}: {}: {d}", e.name);
                }
            }
        }
        snapshots.push((
            name,
            serde_json::json!({
                "entry_points": a.entry_points,
                "unreachable_imports": a.unreachable_imports,
            }),
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for (name, s) in snapshots {
        insta::assert_json_snapshot!(format!("component-{name}"), s);
    }
}

/// Regression: resolving a component export follows alias chains recursively; a chain as long
/// as the component has items must not overflow the stack (the linker runs on a big stack).
#[test]
fn long_alias_chains_are_followed_without_overflow() {
    // wasmparser caps a component at 4096 instances; each link of this chain is one.
    const N: usize = 4_000;
    let mut wat = String::from(
        "(component\n(import \"wasi:random/random@0.2.0\" (instance $r (export \"get-random-u64\" (func (result u64)))))\n(alias export $r \"get-random-u64\" (func $f0))\n",
    );
    for i in 0..N {
        wat.push_str(&format!(
            "(instance $i{i} (export \"f\" (func $f{i})))\n(alias export $i{i} \"f\" (func $f{}))\n",
            i + 1
        ));
    }
    wat.push_str(&format!("(export \"f\" (func $f{N})))\n"));
    let wasm = wat::parse_str(&wat).unwrap();
    let a = wasmgate_analyzer::analyze(&wasm).unwrap();
    let f = a.entry_points.iter().find(|e| e.name == "f").unwrap();
    assert!(!f.unresolved);
    let caps: Vec<&str> = f.reaches.iter().map(|r| r.capability.as_str()).collect();
    assert_eq!(caps, ["random"]);
}
