//! Static vs dynamic: every import a run called must be one the analyzer said the entry
//! point that ran could reach. A miss means the analyzer is unsound for this binary.
//!
//! The analyzer's per-entry reach keeps one witness per capability, not every import, so
//! the reachable import set is taken from the analyzer's call graph: each observed import
//! must be reachable there from the function of the entry that ran. The capabilities the
//! analysis predicted for that entry but that no observed call carries are reported too.

use std::collections::{BTreeSet, VecDeque};

use serde::Serialize;
use wasmgate_analyzer::{Analysis, EntryKind, ExternKind, NodeKind};

use crate::Trace;

/// The result of comparing one run's trace with the static analysis.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CrossCheck {
    /// Entry points that ran (`<start>` if the module has a start function, then the export).
    pub entries: Vec<String>,
    /// Imports called, sorted.
    pub observed: Vec<String>,
    /// Imports called that the analyzer did not predict: analyzer soundness bugs.
    pub missing: Vec<String>,
    /// Capabilities the analysis predicted for the entry that no call of this run carries.
    pub unobserved_capabilities: Vec<String>,
    /// Imports reachable from the entries that ran (the prediction), sorted.
    pub predicted: Vec<String>,
    /// Predicted imports this run did not call: the analysis' imprecision for this run.
    pub unobserved: Vec<String>,
}

/// Compares the imports `trace` called with what `analysis` says `export` (and the start
/// function) can reach.
pub fn crosscheck(analysis: &Analysis, export: &str, trace: &Trace) -> CrossCheck {
    crosscheck_entries(analysis, &[export.to_string()], trace)
}

/// [`crosscheck`] for a run that called several exports (a reactor's `_initialize`, then
/// the invoked function).
pub fn crosscheck_entries(analysis: &Analysis, exports: &[String], trace: &Trace) -> CrossCheck {
    let ran = |kind: &EntryKind, name: &str| match kind {
        EntryKind::Start => true,
        EntryKind::Export => exports.iter().any(|e| e == name),
        EntryKind::Escaped => false,
    };
    let mut entries = Vec::new();
    let mut predicted = BTreeSet::new();
    for e in &analysis.entry_points {
        if ran(&e.kind, &e.name) {
            entries.push(e.name.clone());
            predicted.extend(e.reaches.iter().map(|r| r.capability.as_str()));
        }
    }
    let graph_reach = graph_reachable(analysis, exports);
    let observed = trace.imports();
    let missing = observed
        .iter()
        .filter(|id| !graph_reach.contains(**id))
        .map(|id| id.to_string())
        .collect();
    let mut exercised = BTreeSet::new();
    for i in &analysis.imports {
        if observed.contains(i.id.as_str()) {
            exercised.extend(i.capabilities.iter().map(String::as_str));
        }
    }
    let unobserved_capabilities = predicted
        .difference(&exercised)
        .map(|c| c.to_string())
        .collect();
    let unobserved = graph_reach
        .iter()
        .filter(|id| !observed.contains(id.as_str()))
        .cloned()
        .collect();
    CrossCheck {
        entries,
        observed: observed.iter().map(|s| s.to_string()).collect(),
        missing,
        unobserved_capabilities,
        predicted: graph_reach.into_iter().collect(),
        unobserved,
    }
}

/// Import ids reachable in the binary's call graph from `exports` and the start function.
fn graph_reachable(analysis: &Analysis, exports: &[String]) -> BTreeSet<String> {
    let (g, start_nodes) = match (&analysis.module, &analysis.component) {
        (Some(module), _) => {
            let mut roots: Vec<u32> = module.start.into_iter().collect();
            roots.extend(
                analysis
                    .exports
                    .iter()
                    .filter(|e| exports.contains(&e.name) && e.kind == ExternKind::Func)
                    .map(|e| e.index),
            );
            let nodes = module
                .call_graph
                .nodes
                .iter()
                .filter(|node| node.function.is_some_and(|f| roots.contains(&f)))
                .map(|node| node.id)
                .collect::<Vec<_>>();
            (&module.call_graph, nodes)
        }
        // A component's entry points name their root nodes in the linked graph.
        (None, Some(component)) => {
            let nodes = analysis
                .entry_points
                .iter()
                .filter(|e| match e.kind {
                    EntryKind::Start => true,
                    EntryKind::Export => exports.contains(&e.name),
                    EntryKind::Escaped => false,
                })
                .flat_map(|e| e.roots.iter().copied())
                .collect();
            (&component.call_graph, nodes)
        }
        (None, None) => return BTreeSet::new(),
    };
    let n = g.nodes.len();
    let mut succ = vec![Vec::new(); n];
    for &(a, b) in &g.edges {
        if (a as usize) < n && (b as usize) < n {
            succ[a as usize].push(b as usize);
        }
    }
    let mut seen = vec![false; n];
    let mut queue: VecDeque<usize> = VecDeque::new();
    for id in start_nodes {
        if (id as usize) < n && !std::mem::replace(&mut seen[id as usize], true) {
            queue.push_back(id as usize);
        }
    }
    while let Some(u) = queue.pop_front() {
        for &v in &succ[u] {
            if !std::mem::replace(&mut seen[v], true) {
                queue.push_back(v);
            }
        }
    }
    g.nodes
        .iter()
        .filter(|node| {
            matches!(node.kind, NodeKind::Import) && seen.get(node.id as usize) == Some(&true)
        })
        .map(|node| node.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `_start` calls `fd_write` (stdio) and `fd_close` (inert); `proc_exit` is imported but
    /// only `unused` calls it.
    const WAT: &str = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_close" (func $c (param i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $x (param i32)))
        (memory (export "memory") 1)
        (func (export "_start")
          (drop (call $w (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))
          (drop (call $c (i32.const 9))))
        (func $unused (export "unused") (call $x (i32.const 0))))"#;

    fn trace(calls: &[&str]) -> Trace {
        let mut t = Trace::default();
        for c in calls {
            t.push(
                &format!("wasi_snapshot_preview1#{c}"),
                json!({}),
                json!({"ok": 0}),
                false,
            );
        }
        t
    }

    #[test]
    fn predicted_calls_pass_and_unpredicted_ones_are_named() {
        let a = wasmgate_analyzer::analyze(&wat::parse_str(WAT).unwrap()).unwrap();
        // Both calls `_start` can make, one of them inert (checked through the call graph).
        let ok = crosscheck(&a, "_start", &trace(&["fd_write", "fd_close"]));
        assert_eq!(ok.missing, Vec::<String>::new());
        assert_eq!(ok.entries, ["_start"]);
        // `_start` reaches fd_write and fd_close, never proc_exit.
        let p1 = |n: &str| format!("wasi_snapshot_preview1#{n}");
        assert_eq!(ok.predicted, [p1("fd_close"), p1("fd_write")]);
        assert_eq!(ok.unobserved, Vec::<String>::new());
        // proc_exit is reachable only from `unused`: observing it under `_start` is a miss.
        let bad = crosscheck(&a, "_start", &trace(&["fd_write", "proc_exit"]));
        assert_eq!(bad.missing, ["wasi_snapshot_preview1#proc_exit"]);
        // ... and under `unused` it is predicted, while fd_write is not.
        let other = crosscheck(&a, "unused", &trace(&["fd_write", "proc_exit"]));
        assert_eq!(other.missing, ["wasi_snapshot_preview1#fd_write"]);
        // Capabilities predicted for `_start`: all carried by fd_write, none left when it ran.
        assert_eq!(ok.unobserved_capabilities, Vec::<String>::new());
        let idle = crosscheck(&a, "_start", &trace(&[]));
        assert!(idle.unobserved_capabilities.contains(&"stdio".to_string()));
        assert_eq!(idle.unobserved, idle.predicted);
    }
}
