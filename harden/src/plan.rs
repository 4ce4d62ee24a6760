//! What to do with each function import and function, decided from the analysis and the
//! policy alone (the bytes are only read by the rewrite).
//!
//! An import's capabilities here are what the analysis says it confers where it is reached:
//! the call sites' narrowed sets plus the node's own set when it is reached indirectly. That
//! is what `check` holds against the policy, so it is what hardening must take away.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use wasmgate_analyzer::{
    Analysis, CapabilityTable, CoreModule, DESCRIPTOR_CAPABILITIES, Narrow, NodeKind, UNKNOWN_HOST,
};
use wasmgate_policy::{ValidPolicy, allows_capability, allows_import};

/// What happens to one function import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Stays as it is.
    Keep,
    /// Removed; an internal function of the same type stands in (returns `errno`, else traps).
    Stub { errno: Option<i64>, why: String },
    /// Stays, called only through a guard that withholds the denied part.
    Guard(GuardSpec),
    /// Stays, called only with a constant first argument among `pass` (each call site
    /// then confers only that value's capabilities); other values are refused.
    Select(SelectSpec),
}

/// A guard on the first argument of an import whose narrowing rule settles its
/// capabilities by a constant there (`p1-clock-id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SelectSpec {
    /// The values passed on (as constants).
    pub pass: Vec<i32>,
    /// The denied capabilities the refused values would confer.
    pub withheld: Vec<String>,
    /// The errno a refused request returns (`None`: it traps).
    pub errno: Option<i64>,
}

/// The first-argument values a narrowing rule settles, with what each confers (mirrors
/// the analyzer's rule). `p1-fd-arg0` is left out: `fd_renumber` can make 0-2 files, and
/// descriptor capabilities have their own refinement.
fn arg0_values(n: Narrow) -> &'static [(i32, &'static str)] {
    match n {
        Narrow::P1ClockId => &[
            (0, "clock.wall"),
            (1, "clock.monotonic"),
            (2, "clock.monotonic"),
            (3, "clock.monotonic"),
        ],
        _ => &[],
    }
}

/// Which parts of `path_open` the guard withholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GuardSpec {
    pub read: bool,
    pub write: bool,
    pub create: bool,
    /// The errno a refused request returns (`None`: it traps).
    pub errno: Option<i64>,
}

/// The decisions for one module.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Per function import, in import order: its id and action.
    pub imports: Vec<(String, Action)>,
    /// Per function import: the denied capabilities it confers.
    pub denied: Vec<BTreeSet<String>>,
    /// Per defined function (index minus imports): still reachable once stubs are in.
    pub live: Vec<bool>,
    /// Denials no action here takes away, with why (the verification has the last word).
    pub notes: Vec<(String, String)>,
}

/// The type `path_open` has in WASI preview 1 (the guard reads its arguments by position).
fn is_p1_path_open_type(params: &[wasmparser::ValType], results: &[wasmparser::ValType]) -> bool {
    use wasmparser::ValType::{I32, I64};
    params == [I32, I32, I32, I32, I32, I64, I64, I32, I32] && results == [I32]
}

/// Decides what to do with every function import and which functions stay.
pub(crate) fn plan(
    analysis: &Analysis,
    module: &CoreModule,
    policy: &ValidPolicy,
    func_types: &[(Vec<wasmparser::ValType>, Vec<wasmparser::ValType>)],
    trap: bool,
    embedded: bool,
) -> Plan {
    let table = CapabilityTable::builtin().ok();
    let graph = &module.call_graph;
    let nnodes = graph.nodes.len();
    let sites: HashSet<(u32, u32)> = graph.sites.iter().map(|s| (s.from, s.to)).collect();
    let mut succ: Vec<Vec<u32>> = vec![Vec::new(); nnodes];
    for &(from, to) in &graph.edges {
        // A direct call to a plain import confers its site's set; it does not enter the node.
        if !sites.contains(&(from, to)) {
            succ[from as usize].push(to);
        }
    }
    let roots: Vec<u32> = analysis
        .entry_points
        .iter()
        .flat_map(|e| e.roots.iter().copied())
        .collect();
    let reached = reach(&succ, &roots, &HashSet::new());

    let func_imports: Vec<&wasmgate_analyzer::Import> = analysis
        .imports
        .iter()
        .filter(|i| i.kind == wasmgate_analyzer::ExternKind::Func)
        .collect();
    let imports: Vec<(u32, &str, &str, String)> = module
        .functions
        .iter()
        .filter(|f| f.import.is_some())
        .map(|f| {
            let imp = func_imports.get(f.index as usize);
            let (m, n) = imp.map_or(("", ""), |i| (i.module.as_str(), i.name.as_str()));
            (f.type_index, m, n, f.import.clone().unwrap_or_default())
        })
        .collect();
    let import_nodes: HashMap<u32, u32> = graph
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Import)
        .filter_map(|n| Some((n.function?, n.id)))
        .collect();
    let node_of = |func: u32| import_nodes.get(&func).copied();
    let mut sites_to: HashMap<u32, Vec<&wasmgate_analyzer::CallSite>> = HashMap::new();
    for s in &graph.sites {
        sites_to.entry(s.to).or_default().push(s);
    }

    let mut actions = Vec::new();
    let mut denied_sets = Vec::new();
    let mut notes = Vec::new();
    for (i, (ty, m, n, id)) in imports.iter().enumerate() {
        let node = node_of(i as u32);
        let mut conferred: BTreeSet<String> = BTreeSet::new();
        let mut used = false;
        if let Some(node) = node {
            if reached[node as usize] {
                used = true;
                conferred.extend(graph.nodes[node as usize].capabilities.iter().cloned());
            }
            for s in sites_to.get(&node).into_iter().flatten() {
                if reached[s.from as usize] {
                    used = true;
                    conferred.extend(s.capabilities.iter().cloned());
                }
            }
        }
        let denied: BTreeSet<String> = conferred
            .iter()
            .filter(|c| !allows_capability(policy, c))
            .cloned()
            .collect();
        let (params, results) = func_types
            .get(*ty as usize)
            .map(|(p, r)| (p.as_slice(), r.as_slice()))
            .unwrap_or((&[], &[]));
        let errno = if trap {
            None
        } else {
            table
                .and_then(|t| t.denied_errno(m, n))
                .filter(|_| results.len() == 1 && params.len() <= 16)
                .filter(|_| {
                    matches!(
                        results[0],
                        wasmparser::ValType::I32 | wasmparser::ValType::I64
                    )
                })
                .map(i64::from)
        };
        let class = table.map(|t| t.classify(m, n));
        // Inside a component, an import the table does not know is wiring (the adapter's
        // `__main_module__`, the shims' indexed imports, canonical builtins): what it
        // reaches is the component's business, which its own verification sees.
        let unknown = class
            .as_ref()
            .is_none_or(|c| c.capabilities.iter().any(|c| c == UNKNOWN_HOST));
        let action = if embedded && unknown {
            if !denied.is_empty() {
                notes.push((
                    id.clone(),
                    "wires the module into its component; what it leads to is checked on the \
                     component"
                        .into(),
                ));
            }
            Action::Keep
        } else if !used {
            Action::Stub {
                errno: None,
                why: "no entry point reaches it".into(),
            }
        } else if !embedded && !allows_import(policy, m, n) {
            Action::Stub {
                errno,
                why: "the policy's [imports] deny it".into(),
            }
        } else if denied.is_empty() {
            Action::Keep
        } else if denied == conferred {
            Action::Stub {
                errno,
                why: format!(
                    "the policy denies every capability it confers ({})",
                    list(&denied)
                ),
            }
        } else if class.as_ref().and_then(|c| c.narrow) == Some(Narrow::P1PathOpen)
            && is_p1_path_open_type(params, results)
            && denied
                .iter()
                .all(|c| matches!(c.as_str(), "fs.read" | "fs.write" | "fs.create"))
        {
            let write = denied.contains("fs.write");
            Action::Guard(GuardSpec {
                read: denied.contains("fs.read"),
                write,
                // A file opened with creation rights counts as writable (README,
                // "Descriptors"): withholding writes withholds creation too.
                create: write || denied.contains("fs.create"),
                errno: if trap {
                    None
                } else {
                    table.and_then(|t| t.denied_errno(m, n)).map(i64::from)
                },
            })
        } else if class.as_ref().is_some_and(|c| c.descriptor_io)
            && denied
                .iter()
                .all(|c| DESCRIPTOR_CAPABILITIES.contains(&c.as_str()))
        {
            notes.push((
                id.clone(),
                format!(
                    "moves data through descriptors: its {} goes only when no reachable \
                     producer can open such a descriptor",
                    list(&denied)
                ),
            ));
            Action::Keep
        } else if let Some(spec) = class
            .as_ref()
            .and_then(|c| c.narrow)
            .and_then(|n| select(n, params, results, &conferred, &denied, policy))
        {
            Action::Select(SelectSpec {
                errno: if trap {
                    None
                } else {
                    table.and_then(|t| t.denied_errno(m, n)).map(i64::from)
                },
                ..spec
            })
        } else {
            notes.push((
                id.clone(),
                format!(
                    "confers allowed {} beside denied {}; no guard separates them",
                    list(&conferred.difference(&denied).cloned().collect()),
                    list(&denied)
                ),
            ));
            Action::Keep
        };
        actions.push((id.clone(), action));
        denied_sets.push(denied);
    }

    // Stubs never call back into the module: what only their host callbacks reached goes.
    let stubbed: HashSet<u32> = actions
        .iter()
        .enumerate()
        .filter(|(_, (_, a))| matches!(a, Action::Stub { .. }))
        .filter_map(|(i, _)| node_of(i as u32))
        .collect();
    let live_nodes = reach(&succ, &roots, &stubbed);
    let nimp = imports.len();
    let mut live = vec![false; module.functions.len().saturating_sub(nimp)];
    for node in &graph.nodes {
        if let (NodeKind::Function, Some(f)) = (node.kind, node.function)
            && live_nodes[node.id as usize]
            && let Some(slot) = (f as usize).checked_sub(nimp).and_then(|j| live.get_mut(j))
        {
            *slot = true;
        }
    }
    Plan {
        imports: actions,
        denied: denied_sets,
        live,
        notes,
    }
}

/// The first-argument guard for an import narrowed by `n`, when its values whose
/// capabilities are all allowed still serve every allowed capability it confers.
fn select(
    n: Narrow,
    params: &[wasmparser::ValType],
    results: &[wasmparser::ValType],
    conferred: &BTreeSet<String>,
    denied: &BTreeSet<String>,
    policy: &ValidPolicy,
) -> Option<SelectSpec> {
    use wasmparser::ValType::I32;
    if params.first() != Some(&I32) || results != [I32] {
        return None;
    }
    let values = arg0_values(n);
    let pass: Vec<i32> = values
        .iter()
        .filter(|(_, c)| allows_capability(policy, c))
        .map(|(v, _)| *v)
        .collect();
    let served: BTreeSet<String> = values
        .iter()
        .filter(|(_, c)| allows_capability(policy, c))
        .map(|(_, c)| c.to_string())
        .collect();
    let allowed: BTreeSet<String> = conferred.difference(denied).cloned().collect();
    (!pass.is_empty() && allowed.is_subset(&served)).then(|| SelectSpec {
        pass,
        withheld: denied.iter().cloned().collect(),
        errno: None,
    })
}

/// Nodes reachable from `roots`, not leaving the nodes in `stop`.
fn reach(succ: &[Vec<u32>], roots: &[u32], stop: &HashSet<u32>) -> Vec<bool> {
    let mut seen = vec![false; succ.len()];
    let mut queue: VecDeque<u32> = VecDeque::new();
    for &r in roots {
        if (r as usize) < seen.len() && !std::mem::replace(&mut seen[r as usize], true) {
            queue.push_back(r);
        }
    }
    while let Some(u) = queue.pop_front() {
        if stop.contains(&u) {
            continue;
        }
        for &v in &succ[u as usize] {
            if (v as usize) < seen.len() && !std::mem::replace(&mut seen[v as usize], true) {
                queue.push_back(v);
            }
        }
    }
    seen
}

fn list(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}
