//! Each `corpus/fixtures/callgraph/*.wat` states its complete edge set and each entry point's
//! complete capability set in its header; the analysis must match both exactly. A header
//! may state a second ground truth under `--assume-no-reentry` (`expect-edge-assuming-no-reentry:`,
//! `expect-caps-assuming-no-reentry:`); then that analysis must match it too.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{files_with_ext, root};

pub(crate) struct Expected {
    pub edges: BTreeSet<(String, String)>,
    pub caps: BTreeMap<String, BTreeSet<String>>,
}

pub(crate) fn expected(text: &str) -> Expected {
    expected_as(text, "")
}

/// The ground truth of lines `expect-edge{suffix}:` and `expect-caps{suffix}:`.
fn expected_as(text: &str, suffix: &str) -> Expected {
    let (edge_key, caps_key) = (
        format!("expect-edge{suffix}:"),
        format!("expect-caps{suffix}:"),
    );
    let mut e = Expected {
        edges: BTreeSet::new(),
        caps: BTreeMap::new(),
    };
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix(";;") else {
            continue;
        };
        let rest = rest.trim();
        if let Some(edge) = rest.strip_prefix(edge_key.as_str()) {
            let (a, b) = edge.split_once("->").expect("expect-edge: A -> B");
            e.edges.insert((a.trim().to_string(), b.trim().to_string()));
        } else if let Some(caps) = rest.strip_prefix(caps_key.as_str()) {
            let (entry, list) = caps.split_once('=').expect("expect-caps: ENTRY = caps");
            let set = list
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect();
            e.caps.insert(entry.trim().to_string(), set);
        }
    }
    e
}

#[test]
fn callgraph_fixtures_match_ground_truth() {
    let dir = root().join("corpus/fixtures/callgraph");
    let files = files_with_ext(&dir, "wat");
    assert!(
        files.len() >= 12,
        "expected the call-graph fixtures in {}",
        dir.display()
    );
    let mut failures = Vec::new();
    let mut snapshots = Vec::new();
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let want = expected(&text);
        assert!(
            !want.edges.is_empty() || !want.caps.is_empty(),
            "{name}: header states no ground truth"
        );
        let wasm = wat::parse_file(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let a = wasmgate_analyzer::analyze(&wasm).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            a.options,
            wasmgate_analyzer::Options::default(),
            "{name}: sound by default"
        );
        let got_edges = compare(&name, &a, &want, &mut failures);
        let no_reentry = expected_as(&text, "-assuming-no-reentry");
        if !no_reentry.edges.is_empty() || !no_reentry.caps.is_empty() {
            let options = wasmgate_analyzer::Options {
                assume_no_reentry: true,
                ..Default::default()
            };
            let b = wasmgate_analyzer::analyze_with(&wasm, options)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                b.options, options,
                "{name}: the analysis records its options"
            );
            let label = format!("{name} (assuming no re-entry)");
            compare(&label, &b, &no_reentry, &mut failures);
        }
        snapshots.push((
            name,
            serde_json::json!({
                "edges": got_edges.iter().map(|(a, b)| format!("{a} -> {b}")).collect::<Vec<_>>(),
                "entry_points": a.entry_points,
            }),
        ));
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) disagree with their ground truth:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for (name, snapshot) in snapshots {
        insta::assert_json_snapshot!(format!("callgraph-{name}"), snapshot);
    }
}

/// Compares one analysis with a ground truth (pushing what differs to `failures`), checks its
/// witnesses, and returns its edges by name.
fn compare(
    name: &str,
    a: &wasmgate_analyzer::Analysis,
    want: &Expected,
    failures: &mut Vec<String>,
) -> BTreeSet<(String, String)> {
    let g = &a.module.as_ref().unwrap().call_graph;
    let got_edges: BTreeSet<(String, String)> = g
        .edges
        .iter()
        .map(|(x, y)| {
            (
                g.nodes[*x as usize].name.clone(),
                g.nodes[*y as usize].name.clone(),
            )
        })
        .collect();
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
    if got_edges != want.edges {
        let missing: Vec<_> = want.edges.difference(&got_edges).collect();
        let extra: Vec<_> = got_edges.difference(&want.edges).collect();
        failures.push(format!(
            "{name}: edges differ\n  missing: {missing:?}\n  extra: {extra:?}"
        ));
    }
    if got_caps != want.caps {
        failures.push(format!(
            "{name}: entry capabilities differ\n  want: {:?}\n  got:  {got_caps:?}",
            want.caps
        ));
    }
    // Every witness path is a real path in the graph, ending at the import it names.
    let check = g.witnesses();
    for e in &a.entry_points {
        for r in &e.reaches {
            if let Some(d) = check.defect(r) {
                panic!("{name}: {}: {d}", e.name);
            }
        }
    }
    got_edges
}
