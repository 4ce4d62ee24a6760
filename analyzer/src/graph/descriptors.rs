//! Capabilities by where descriptors come from.
//!
//! A WASI p1 host hands a module descriptors only as stdio (0-2) and preopened directories
//! (and, on some runtimes, listening sockets that need `sock_accept`). Every other descriptor
//! comes from an import that produces one (`produces` in `rules/capabilities/`). So
//! `fd_read`/`fd_write`/... (`descriptor_io`) can only read or write a file when a file
//! producer is reachable, write one only when some producing call may open for writing,
//! and move network data only when a socket producer is reachable.
//!
//! "Reachable" is from any entry point, not from the entry being reported: a descriptor
//! opened by one export can be used by another. That is one small pass over the call graph,
//! kept apart from the per-entry reachability and witnesses.
//!
//! Fail closed: no refinement (and no stdio narrowing) when the module's descriptor table
//! may be shared or driven by code this pass cannot see.

use std::collections::{BTreeSet, VecDeque};

use wasmparser::TypeRef;

use super::CapabilitySites;
use crate::capabilities::{Classification, DESCRIPTOR_CAPABILITIES, Produces, UNKNOWN_HOST};
use crate::core::ModuleFacts;
use crate::model::{Descriptors, EntryKind};

/// Why the module's descriptors cannot be reasoned about, if they cannot: then neither this
/// refinement nor the stdio narrowing applies.
pub(super) fn unrefinable(
    facts: &ModuleFacts,
    func_imports: &[(String, Classification)],
    unknown_host_node: bool,
    shared_table: bool,
) -> Option<String> {
    if shared_table {
        return Some(
            "core module of a component: its descriptors belong to the WASI adapter, shared by \
             every module linked to it"
                .into(),
        );
    }
    if facts
        .custom_sections
        .iter()
        .any(|s| s.name == "dylink.0" || s.name == "dylink")
    {
        return Some(
            "dynamic linking (dylink.0): main and side modules share one descriptor table".into(),
        );
    }
    if let Some((id, _)) = func_imports
        .iter()
        .find(|(_, c)| c.capabilities.iter().any(|c| c == UNKNOWN_HOST))
    {
        return Some(format!(
            "unknown host import {id}: it may create or move descriptors"
        ));
    }
    // Imported functions that are not plain calls (tables, globals holding host functions)
    // are as unknown as an unclassified import.
    if unknown_host_node {
        return Some(
            "host functions reachable through tables or references: they may create or move \
             descriptors"
                .into(),
        );
    }
    None
}

/// Whether any function import can create a descriptor (used for close-then-open: the host
/// hands out the lowest free number, so a closed 0-2 can be reused).
pub(super) fn imports_producer(func_imports: &[(String, Classification)]) -> bool {
    func_imports.iter().any(|(_, c)| c.produces.is_some())
}

/// Whether the module imports a function named `name` (any module: `fd_close` is the WASI
/// and the Emscripten name).
pub(super) fn imports_fn(facts: &ModuleFacts, name: &str) -> bool {
    facts
        .imports
        .iter()
        .any(|i| i.name == name && matches!(i.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)))
}

/// Cuts the descriptor capabilities of `descriptor_io` imports (nodes and call sites) down
/// to what the reachable producers allow. `None` when the module has no such import.
pub(super) fn refine(
    caps: &mut CapabilitySites,
    succ: &[Vec<(u32, u64)>],
    entries: &[(String, EntryKind, Vec<u32>)],
    func_imports: &[(String, Classification)],
    unrefined: Option<String>,
) -> Option<Descriptors> {
    if !func_imports.iter().any(|(_, c)| c.descriptor_io) {
        return None;
    }
    if unrefined.is_some() {
        return Some(Descriptors {
            carry: DESCRIPTOR_CAPABILITIES
                .iter()
                .map(|c| c.to_string())
                .collect(),
            unrefined,
        });
    }
    let reached = reachable_from_entries(succ, entries, caps.node_caps.len());
    let class = |node: u32| func_imports.get(node as usize).map(|(_, c)| c);
    let mut carry: BTreeSet<&'static str> = BTreeSet::new();
    for (node, &seen) in reached.iter().enumerate() {
        if !seen {
            continue;
        }
        // An import reached itself (through a table or a callback) does all it can.
        if let Some(kind) = class(node as u32).and_then(|c| c.produces) {
            add_carried(kind, &caps.names, &caps.node_caps[node], &mut carry);
        }
        for site in &caps.sites[node] {
            if let Some(kind) = class(site.import).and_then(|c| c.produces) {
                add_carried(kind, &caps.names, &site.caps, &mut carry);
            }
        }
    }
    let dropped: Vec<u16> = DESCRIPTOR_CAPABILITIES
        .iter()
        .filter(|c| !carry.contains(*c))
        .filter_map(|c| caps.names.iter().position(|n| n == c))
        .map(|i| i as u16)
        .collect();
    let is_io = |node: u32| class(node).is_some_and(|c| c.descriptor_io);
    for (node, list) in caps.node_caps.iter_mut().enumerate() {
        if is_io(node as u32) {
            list.retain(|c| !dropped.contains(c));
        }
    }
    for list in caps.sites.iter_mut() {
        for site in list.iter_mut().filter(|s| is_io(s.import)) {
            site.caps.retain(|c| !dropped.contains(c));
        }
    }
    Some(Descriptors {
        carry: carry.into_iter().map(String::from).collect(),
        unrefined: None,
    })
}

/// What descriptors of `kind`, made by a call (or import node) conferring `conferred`, may
/// carry. A file opened without read rights cannot be read; one opened without write
/// rights, creation or truncation cannot be written.
fn add_carried(
    kind: Produces,
    names: &[String],
    conferred: &[u16],
    carry: &mut BTreeSet<&'static str>,
) {
    let has = |c: &str| conferred.iter().any(|&i| names[i as usize] == c);
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
}

/// Nodes reachable from the roots of every entry point, over the followed edges (call sites
/// are looked at by the caller).
fn reachable_from_entries(
    succ: &[Vec<(u32, u64)>],
    entries: &[(String, EntryKind, Vec<u32>)],
    nnodes: usize,
) -> Vec<bool> {
    let mut seen = vec![false; nnodes];
    let mut queue: VecDeque<u32> = VecDeque::new();
    for &r in entries.iter().flat_map(|(_, _, roots)| roots) {
        if (r as usize) < seen.len() && !std::mem::replace(&mut seen[r as usize], true) {
            queue.push_back(r);
        }
    }
    while let Some(u) = queue.pop_front() {
        for &(v, _) in succ.get(u as usize).into_iter().flatten() {
            if !std::mem::replace(&mut seen[v as usize], true) {
                queue.push_back(v);
            }
        }
    }
    seen
}
