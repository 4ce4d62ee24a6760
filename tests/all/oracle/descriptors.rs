//! The oracle's own reading of the descriptor rule (README, "Descriptors"): from the JSON
//! graph and the capability data alone, which of `fs.read`, `fs.write` and `net.io` the
//! descriptors of a core module may carry, so that the cut import capabilities are checked
//! rather than copied.

use std::collections::{BTreeSet, HashMap, VecDeque};

use wasmgate_analyzer::{
    CallGraph, CapabilityTable, Classification, DESCRIPTOR_CAPABILITIES, EntryPoint, ExternKind,
    Import, Produces, UNKNOWN_HOST, UNKNOWN_HOST_NODE,
};

fn class(i: &Import) -> Classification {
    CapabilityTable::builtin()
        .expect("capability table")
        .classify(&i.module, &i.name)
}

/// Whether `i` moves data through a descriptor argument (`descriptor_io` in the data).
pub fn is_io(i: &Import) -> bool {
    i.kind == ExternKind::Func && class(i).descriptor_io
}

/// Checks the graph's `descriptors` facts against a recomputation and returns the
/// capabilities that descriptor-moving imports must not confer.
pub fn check(
    g: &CallGraph,
    entries: &[EntryPoint],
    imports: &[Import],
    succ: &[Vec<u32>],
    bad: &mut dyn FnMut(String),
) -> BTreeSet<&'static str> {
    let classes: HashMap<&str, Classification> = imports
        .iter()
        .filter(|i| i.kind == ExternKind::Func)
        .map(|i| (i.id.as_str(), class(i)))
        .collect();
    let any_io = classes.values().any(|c| c.descriptor_io);
    let d = match (&g.descriptors, any_io) {
        (None, false) => return BTreeSet::new(),
        (None, true) => {
            bad("imports a descriptor mover but states no descriptor facts".into());
            return BTreeSet::new();
        }
        (Some(_), false) => {
            bad("descriptor facts without a descriptor mover".into());
            return BTreeSet::new();
        }
        (Some(d), true) => d,
    };
    let all: BTreeSet<&'static str> = DESCRIPTOR_CAPABILITIES.into_iter().collect();
    let stated: BTreeSet<&str> = d.carry.iter().map(String::as_str).collect();
    if d.unrefined.is_some() {
        if stated != all {
            bad(format!("unrefined, yet descriptors carry only {stated:?}"));
        }
        return BTreeSet::new();
    }
    // Fail closed: no refinement next to host code the module cannot see.
    if classes
        .values()
        .any(|c| c.capabilities.iter().any(|c| c == UNKNOWN_HOST))
        || g.nodes.iter().any(|n| n.name == UNKNOWN_HOST_NODE)
    {
        bad("descriptors refined although unknown host code is present".into());
    }
    // Everything reachable from any entry point: a descriptor opened by one export can be
    // used by another.
    let n = g.nodes.len();
    let mut seen = vec![false; n];
    let mut queue: VecDeque<u32> = entries.iter().flat_map(|e| e.roots.clone()).collect();
    for &r in &queue {
        seen[r as usize] = true;
    }
    while let Some(u) = queue.pop_front() {
        for &v in &succ[u as usize] {
            if !seen[v as usize] {
                seen[v as usize] = true;
                queue.push_back(v);
            }
        }
    }
    let mut carry: BTreeSet<&'static str> = BTreeSet::new();
    let mut produced = |name: &str, caps: &[String]| {
        let Some(kind) = classes.get(name).and_then(|c| c.produces) else {
            return;
        };
        let has = |c: &str| caps.iter().any(|x| x == c);
        match kind {
            Produces::File => {
                if has("fs.read") {
                    carry.insert("fs.read");
                }
                if has("fs.write") || has("fs.create") {
                    carry.insert("fs.write");
                }
            }
            Produces::Socket => {
                carry.insert("net.io");
            }
            Produces::Pipe => {}
            Produces::Other => carry.extend(DESCRIPTOR_CAPABILITIES),
        }
    };
    for node in g.nodes.iter().filter(|n| seen[n.id as usize]) {
        produced(&node.name, &node.capabilities);
    }
    for s in g.sites.iter().filter(|s| seen[s.from as usize]) {
        produced(&g.nodes[s.to as usize].name, &s.capabilities);
    }
    if stated != carry {
        bad(format!(
            "descriptors carry {stated:?}, the reachable producers allow {carry:?}"
        ));
    }
    let dropped: BTreeSet<&'static str> = all.difference(&carry).copied().collect();
    for s in &g.sites {
        let to = g.nodes[s.to as usize].name.as_str();
        if classes.get(to).is_some_and(|c| c.descriptor_io)
            && s.capabilities.iter().any(|c| dropped.contains(c.as_str()))
        {
            bad(format!(
                "site {} -> {to} confers {:?}, which no descriptor carries",
                s.from, s.capabilities
            ));
        }
    }
    dropped
}
