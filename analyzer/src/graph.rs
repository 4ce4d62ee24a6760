//! The call graph of a core module and capability reachability over it.
//!
//! Soundness is by construction: every way control can move from one function to another
//! is an edge, and where the target is not known precisely the edge goes to a dispatch node
//! whose targets over-approximate it (see the README, "Analysis model").
//!
//! * `call f` / `return_call f`: `g -> f`.
//! * `call_indirect (type N)` on table T: `g -> table[T]:type[N]`, which points at every
//!   function that can be in T with type N or a declared subtype of N (canonical equality),
//!   and at imports whose declared type is above or below N (the host may link a subtype).
//! * `call_indirect` whose index the index analysis proves (index.rs), on a table holding
//!   only its initial contents: `g -> f` for each function `f` in a slot it can hit.
//! * `call_ref (type N)`: `g -> ref:type[N]`: every escaped function of that type.
//! * Dispatch nodes are shared by canonical type (named after its first type index) and
//!   functions are indexed by canonical type, so the graph stays linear in the input.
//! * Tables and references the host can see or write also hold host functions:
//!   `<unknown-host>`.
//! * Host imports may call back into the module while they run: what each family can call
//!   is data (`rules/capabilities/reentry.toml`: WASI nothing, Emscripten `invoke_*` any
//!   entry of the indirect function table, wasi-threads `wasi_thread_start`...); any other
//!   import leads to the one `<host-reentry>` node, which calls every exported and escaped
//!   function, unless the caller assumes no re-entry.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use rayon::prelude::*;
use wasmparser::types::{CoreTypeId, Types, TypesRef};
use wasmparser::{ExternalKind, FuncType, TypeRef};

use crate::capabilities::{Classification, Narrow, Reentry, UNKNOWN_HOST, glob_match};
use crate::core::{Arg, ModuleFacts, may_carry_funcref};
use crate::model::{
    CallGraph, CallSite, EntryKind, EntryPoint, Node, NodeKind, Options, Reach, SegmentMode,
    import_id,
};
use crate::slots::SlotMap;
use crate::types::{func_of, import_may_match, is_subtype, is_two_way, module_has_box};

mod descriptors;
mod reach;

/// Name of the node standing for every host function reachable through a host-visible ref.
pub const UNKNOWN_HOST_NODE: &str = "<unknown-host>";

/// Name of the node standing for the host calling back into the module during an import:
/// it calls every exported and escaped function.
pub const HOST_REENTRY_NODE: &str = "<host-reentry>";

/// One call of an import from a function, with the capabilities that call site may use.
#[derive(Debug, Clone)]
struct Site {
    import: u32,
    caps: Vec<u16>,
    offset: u64,
}

/// The built graph, with what reachability needs.
#[derive(Debug)]
pub(crate) struct Graph {
    pub nodes: Vec<Node>,
    /// Edges for display: every call edge, including direct calls to imports.
    pub edges: Vec<(u32, u32)>,
    /// Edges followed by reachability, with the offset of the instruction that makes the edge.
    /// Direct calls to plain imports are not here: they are `sites`, so that narrowing holds.
    succ: Vec<Vec<(u32, u64)>>,
    /// What witness searches need; it outlives the graph as [`crate::Reachability`].
    core: Core,
    pub entries: Vec<(String, EntryKind, Vec<u32>)>,
    /// The descriptor refinement applied to this module, if it imports a descriptor mover.
    descriptors: Option<crate::model::Descriptors>,
}

/// The part of the graph that capability searches and witness paths read.
#[derive(Debug)]
pub(crate) struct Core {
    /// Node names as shared strings: witness paths repeat them millions of times.
    shared: Vec<Arc<str>>,
    /// Reverse of the followed edges.
    pred: Vec<Vec<(u32, u64)>>,
    sites: Vec<Vec<Site>>,
    /// Capabilities reached by arriving at a node itself (imports via indirect calls, host).
    node_caps: Vec<Vec<u16>>,
    cap_names: Vec<String>,
}

struct Builder<'t> {
    types: TypesRef<'t>,
    nodes: Vec<Node>,
    /// Every display edge as made (duplicates too): sorted and deduplicated once, at the end.
    edges: Vec<(u32, u32)>,
    succ: Vec<Vec<(u32, u64)>>,
    dispatch: HashMap<String, u32>,
    unknown_host: Option<u32>,
    /// Canonical type id of each module type index.
    canon: Vec<CoreTypeId>,
    /// First module type index of each canonical type: dispatch nodes are named after it.
    first_index: HashMap<CoreTypeId, u32>,
}

/// A set of functions indexed by canonical type, so that the targets of a call through a
/// type are found without scanning every function (which made graphs quadratic).
struct FuncsByType {
    /// Defined functions by their type.
    defined: HashMap<CoreTypeId, Vec<u32>>,
    /// Imported functions by their declared type, with whether the import is exact.
    imported: HashMap<CoreTypeId, Vec<(u32, bool)>>,
    /// For each type, the types present here that are it or below it.
    below: HashMap<CoreTypeId, Vec<CoreTypeId>>,
}

impl FuncsByType {
    fn new<'f>(b: &Builder<'_>, facts: &ModuleFacts, funcs: impl Iterator<Item = &'f u32>) -> Self {
        let mut by = FuncsByType {
            defined: HashMap::new(),
            imported: HashMap::new(),
            below: HashMap::new(),
        };
        for &f in funcs {
            let Some(&ty) = facts
                .func_types
                .get(f as usize)
                .and_then(|t| b.canon.get(*t as usize))
            else {
                continue;
            };
            let fresh = !by.defined.contains_key(&ty) && !by.imported.contains_key(&ty);
            if f < facts.num_imported_funcs {
                let exact = facts
                    .func_imports
                    .get(f as usize)
                    .is_some_and(|&i| matches!(facts.imports[i].ty, TypeRef::FuncExact(_)));
                by.imported.entry(ty).or_default().push((f, exact));
            } else {
                by.defined.entry(ty).or_default().push(f);
            }
            if fresh {
                // Subtyping depth is bounded (63), so this is linear in the number of types.
                let mut cur = Some(ty);
                while let Some(id) = cur {
                    by.below.entry(id).or_default().push(ty);
                    cur = b.types.supertype_of(id);
                }
            }
        }
        by
    }

    /// Functions that may run when called through canonical type `want`.
    fn targets(&self, b: &Builder<'_>, want: CoreTypeId) -> Vec<u32> {
        let mut out = Vec::new();
        for ty in self.below.get(&want).into_iter().flatten() {
            out.extend(self.defined.get(ty).into_iter().flatten());
            out.extend(self.imported.get(ty).into_iter().flatten().map(|(f, _)| *f));
        }
        // Imports declared above `want` may be linked to a function of `want` or below.
        let mut cur = b.types.supertype_of(want);
        while let Some(id) = cur {
            for &(f, exact) in self.imported.get(&id).into_iter().flatten() {
                if import_may_match(b.types, id, want, exact) {
                    out.push(f);
                }
            }
            cur = b.types.supertype_of(id);
        }
        out
    }
}

impl Builder<'_> {
    fn node(&mut self, kind: NodeKind, name: String, function: Option<u32>) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            id,
            kind,
            name,
            function,
            capabilities: Vec::new(),
        });
        self.succ.push(Vec::new());
        id
    }

    fn edge(&mut self, from: u32, to: u32, offset: u64, follow: bool) {
        self.edges.push((from, to));
        if follow {
            // Duplicates are harmless: the search marks nodes visited.
            self.succ[from as usize].push((to, offset));
        }
    }

    fn unknown_host(&mut self) -> u32 {
        if let Some(id) = self.unknown_host {
            return id;
        }
        let id = self.node(NodeKind::UnknownHost, UNKNOWN_HOST_NODE.into(), None);
        self.unknown_host = Some(id);
        id
    }

    /// The canonical type of a type index and the index it is known by in node names.
    fn canonical(&self, type_index: u32) -> Option<(CoreTypeId, u32)> {
        let id = *self.canon.get(type_index as usize)?;
        Some((id, self.first_index.get(&id).copied().unwrap_or(type_index)))
    }

    fn func_type(&self, type_index: u32) -> Option<&FuncType> {
        func_of(self.types, *self.canon.get(type_index as usize)?)
    }

    /// Whether function `f` can run when called through canonical type `want` (a type
    /// mismatch traps), by the same rules as [`FuncsByType::targets`].
    fn callable_as(&self, facts: &ModuleFacts, f: u32, want: CoreTypeId) -> bool {
        let Some(&ty) = facts
            .func_types
            .get(f as usize)
            .and_then(|t| self.canon.get(*t as usize))
        else {
            return false;
        };
        match facts.func_imports.get(f as usize) {
            Some(&i) => {
                let exact = matches!(facts.imports[i].ty, TypeRef::FuncExact(_));
                import_may_match(self.types, ty, want, exact)
            }
            None => is_subtype(self.types, ty, want),
        }
    }

    /// A dispatch node, created on first use, with edges to `targets` (and the host if open).
    fn dispatch(
        &mut self,
        name: String,
        targets: impl FnOnce(&Self) -> Vec<u32>,
        host: bool,
    ) -> u32 {
        if let Some(&id) = self.dispatch.get(&name) {
            return id;
        }
        let id = self.node(NodeKind::Dispatch, name.clone(), None);
        self.dispatch.insert(name, id);
        for t in targets(self) {
            self.edge(id, t, 0, true);
        }
        if host {
            let h = self.unknown_host();
            self.edge(id, h, 0, true);
        }
        id
    }
}

/// Which references can cross the host boundary, and in which direction.
struct Boundary {
    /// The host can hand the module function references (its own or the module's).
    refs_in: bool,
    /// The host can obtain the module's function references.
    refs_out: bool,
}

fn boundary(facts: &ModuleFacts, types: &Types) -> Boundary {
    let types = types.as_ref();
    let conv = facts.const_converts_extern || facts.bodies.iter().any(|b| b.converts_extern);
    let carries = |t: &wasmparser::ValType| may_carry_funcref(t, conv);
    let has_box = module_has_box(types, &carries);
    // A slot whose type reaches a box either side can write is a channel both ways,
    // whatever the slot's own direction.
    let two_way = |t: &wasmparser::ValType| is_two_way(types, t, &carries, has_box);
    let func_sig = |type_index: u32| func_of(types, types.core_type_at_in_module(type_index));
    let mut b = Boundary {
        refs_in: false,
        refs_out: false,
    };
    let tag_carries =
        |type_index: u32| func_sig(type_index).is_some_and(|f| f.params().iter().any(carries));
    let sig_two_way = |type_index: u32| {
        func_sig(type_index).is_some_and(|f| f.params().iter().chain(f.results()).any(two_way))
    };
    let mut both = false;
    for imp in &facts.imports {
        match imp.ty {
            TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                if let Some(f) = func_sig(t) {
                    b.refs_out |= f.params().iter().any(carries);
                    b.refs_in |= f.results().iter().any(carries);
                }
                both |= sig_two_way(t);
            }
            TypeRef::Table(t) => {
                let c = carries(&wasmparser::ValType::Ref(t.element_type));
                b.refs_in |= c;
                b.refs_out |= c;
            }
            TypeRef::Global(g) => {
                let c = carries(&g.content_type);
                b.refs_in |= c;
                b.refs_out |= c && g.mutable;
                both |= two_way(&g.content_type);
            }
            TypeRef::Tag(t) => {
                let c = tag_carries(t.func_type_idx);
                b.refs_in |= c;
                b.refs_out |= c;
            }
            TypeRef::Memory(_) => {}
        }
    }
    for (_, kind, index) in &facts.exports {
        let i = *index as usize;
        match kind {
            ExternalKind::Func | ExternalKind::FuncExact => {
                if let Some(&t) = facts.func_types.get(i)
                    && let Some(f) = func_sig(t)
                {
                    b.refs_in |= f.params().iter().any(carries);
                    b.refs_out |= f.results().iter().any(carries);
                    both |= sig_two_way(t);
                }
            }
            ExternalKind::Table => {
                if let Some(t) = facts.table_elem_types.get(i) {
                    let c = carries(&wasmparser::ValType::Ref(*t));
                    b.refs_in |= c;
                    b.refs_out |= c;
                }
            }
            ExternalKind::Global => {
                if let (Some(t), Some(g)) = (facts.global_types.get(i), facts.globals.get(i)) {
                    let c = carries(t);
                    b.refs_out |= c;
                    b.refs_in |= c && g.mutable;
                    both |= two_way(t);
                }
            }
            ExternalKind::Tag => {
                if facts.tags.get(i).is_some_and(|t| tag_carries(*t)) {
                    b.refs_in = true;
                    b.refs_out = true;
                }
            }
            ExternalKind::Memory => {}
        }
    }
    // Tables and tags already count both ways; tag payloads may also be boxes.
    both |= facts.tags.iter().any(|t| sig_two_way(*t));
    both |= facts.unmodelled_section;
    b.refs_in |= both;
    b.refs_out |= both;
    b
}

/// Computes the capabilities of one call site, applying a narrowing rule when constant
/// arguments settle it.
fn site_caps(
    class: &Classification,
    tail: &[Arg],
    params: usize,
    fds_renumbered: bool,
) -> Vec<String> {
    let full = || class.capabilities.clone();
    let arg = |i: usize| -> Option<Arg> {
        // The last `tail.len()` pushes are the last arguments of the call.
        let first_known = params.saturating_sub(tail.len());
        let skip = tail.len().saturating_sub(params);
        if i < first_known || i >= params {
            None
        } else {
            Some(tail[skip + i - first_known])
        }
    };
    let constant = |i: usize| arg(i).and_then(Arg::constant);
    // Bits that may be set: `x & M` bounds them as a constant does.
    let bits = |i: usize| arg(i).and_then(Arg::may_bits);
    let keep = |wanted: &[&str]| -> Vec<String> {
        class
            .capabilities
            .iter()
            .filter(|c| wanted.contains(&c.as_str()))
            .cloned()
            .collect()
    };
    match class.narrow {
        None => full(),
        // `fd_renumber` can point descriptors 0-2 at files: then they prove nothing.
        Some(Narrow::P1FdArg0) if fds_renumbered => full(),
        Some(Narrow::P1FdArg0) => match constant(0) {
            Some(0..=2) => keep(&["stdio"]),
            _ => full(),
        },
        Some(Narrow::P1ClockId) => match constant(0) {
            Some(0) => keep(&["clock.wall"]),
            Some(1..=3) => keep(&["clock.monotonic"]),
            _ => full(),
        },
        Some(Narrow::P1PathOpen) => {
            const CREAT: i64 = 1;
            const TRUNC: i64 = 8;
            const READ_RIGHTS: i64 = (1 << 1) | (1 << 14);
            const WRITE_RIGHTS: i64 =
                (1 << 0) | (1 << 4) | (1 << 6) | (1 << 8) | (1 << 22) | (1 << 23);
            const CREATE_RIGHTS: i64 = (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 24);
            match (bits(4), bits(5), bits(6)) {
                (Some(oflags), Some(base), Some(inheriting)) => {
                    let rights = base | inheriting;
                    let mut w = vec!["fs.metadata"];
                    if rights & READ_RIGHTS != 0 {
                        w.push("fs.read");
                    }
                    if rights & WRITE_RIGHTS != 0 || oflags & TRUNC != 0 {
                        w.push("fs.write");
                    }
                    if oflags & CREAT != 0 || rights & CREATE_RIGHTS != 0 {
                        w.push("fs.create");
                    }
                    keep(&w)
                }
                _ => full(),
            }
        }
    }
}

/// The display name of function `index`.
pub(crate) fn function_name(facts: &ModuleFacts, index: u32) -> String {
    if let Some(&i) = facts.func_imports.get(index as usize) {
        let imp = &facts.imports[i];
        return import_id(&imp.module, &imp.name);
    }
    match facts.names.get(&index) {
        Some(n) => n.clone(),
        None => format!("func[{index}]"),
    }
}

/// Builds the call graph of a module, in phases: one node per function, the functions whose
/// references escape, what each table can hold, the edges of every body, the calls the host
/// makes back into the module, the capabilities of each call site, and the entry points.
/// `shared_table`: the module shares its descriptor table with other modules (it is part of
/// a component), so what its descriptors are cannot be read from it alone.
pub(crate) fn build(
    facts: &ModuleFacts,
    types: &Types,
    import_classes: &[Option<(Classification, Reentry)>],
    shared_table: bool,
    options: Options,
) -> Graph {
    let bnd = boundary(facts, types);
    let mut b = Builder::new(types.as_ref(), facts.func_types.len());
    let func_imports: Vec<(String, Classification)> = facts
        .imports
        .iter()
        .zip(import_classes)
        .filter_map(|(imp, class)| {
            Some((import_id(&imp.module, &imp.name), class.as_ref()?.0.clone()))
        })
        .collect();
    let reentry: Vec<&Reentry> = import_classes
        .iter()
        .filter_map(|c| c.as_ref().map(|c| &c.1))
        .collect();
    function_nodes(&mut b, facts);
    let escape = Escape::of(facts);
    let tables = Tables::of(facts, &bnd, &escape.all);
    body_edges(&mut b, facts, &bnd, &escape, &tables);
    let entries = entry_points(facts, &bnd, &escape);
    let reentrant = host_callers(&mut b, facts, &tables, &reentry, &entries, options);
    let unrefined =
        descriptors::unrefinable(facts, &func_imports, b.unknown_host.is_some(), shared_table);
    let mut caps = CapabilitySites::of(
        &mut b,
        facts,
        &func_imports,
        &reentrant,
        unrefined.is_some(),
    );
    let descriptors = descriptors::refine(&mut caps, &b.succ, &entries, &func_imports, unrefined);

    let mut edges = b.edges;
    edges.sort_unstable();
    edges.dedup();
    edges.shrink_to_fit();
    let mut pred: Vec<Vec<(u32, u64)>> = vec![Vec::new(); b.nodes.len()];
    for (from, succ) in b.succ.iter().enumerate() {
        for &(to, offset) in succ {
            pred[to as usize].push((from as u32, offset));
        }
    }
    Graph {
        core: Core {
            shared: shared_names(&b.nodes),
            pred,
            sites: caps.sites,
            node_caps: caps.node_caps,
            cap_names: caps.names,
        },
        nodes: b.nodes,
        edges,
        succ: b.succ,
        entries,
        descriptors,
    }
}

impl<'t> Builder<'t> {
    fn new(types: TypesRef<'t>, nfuncs: usize) -> Self {
        let canon: Vec<CoreTypeId> = (0..types.core_type_count_in_module())
            .map(|i| types.core_type_at_in_module(i))
            .collect();
        let mut first_index: HashMap<CoreTypeId, u32> = HashMap::new();
        for (i, id) in canon.iter().enumerate() {
            first_index.entry(*id).or_insert(i as u32);
        }
        Builder {
            types,
            nodes: Vec::with_capacity(nfuncs + 16),
            edges: Vec::new(),
            succ: Vec::new(),
            dispatch: HashMap::new(),
            unknown_host: None,
            canon,
            first_index,
        }
    }
}

/// One node per function, imports first. Witness paths are lists of names, so names must be
/// unique: name sections may repeat a name (Go does) or use an import's id. Colliding defined
/// functions get their index.
fn function_nodes(b: &mut Builder<'_>, facts: &ModuleFacts) {
    let nfuncs = facts.func_types.len() as u32;
    let mut names: Vec<String> = (0..nfuncs).map(|i| function_name(facts, i)).collect();
    let mut count: HashMap<&str, u32> = HashMap::new();
    for n in &names {
        *count.entry(n.as_str()).or_default() += 1;
    }
    let dup: HashSet<u32> = (facts.num_imported_funcs..nfuncs)
        .filter(|&i| count[names[i as usize].as_str()] > 1)
        .collect();
    for &i in &dup {
        names[i as usize] = format!("func[{i}]:{}", names[i as usize]);
    }
    for (i, name) in names.into_iter().enumerate() {
        let i = i as u32;
        let kind = if i < facts.num_imported_funcs {
            NodeKind::Import
        } else {
            NodeKind::Function
        };
        b.node(kind, name, Some(i));
    }
}

/// Functions whose reference can be taken (`ref.func` anywhere, element segments, global and
/// table initialisers, exports), and the exported ones among them.
struct Escape {
    all: BTreeSet<u32>,
    exported: BTreeSet<u32>,
}

impl Escape {
    fn of(facts: &ModuleFacts) -> Self {
        let nfuncs = facts.func_types.len() as u32;
        let mut all: BTreeSet<u32> = BTreeSet::new();
        for body in &facts.bodies {
            all.extend(body.ref_funcs.iter().copied());
        }
        for seg in &facts.elements {
            all.extend(seg.functions.iter().copied());
        }
        all.extend(facts.global_ref_funcs.iter().copied());
        let exported: BTreeSet<u32> = facts
            .exports
            .iter()
            .filter(|(_, k, _)| matches!(k, ExternalKind::Func | ExternalKind::FuncExact))
            .map(|(_, _, i)| *i)
            .collect();
        all.extend(exported.iter().copied());
        all.retain(|f| *f < nfuncs);
        Escape { all, exported }
    }
}

/// What each table can hold, and whether the host can put its own functions there.
struct Tables {
    contents: Vec<BTreeSet<u32>>,
    host: Vec<bool>,
    /// Per table, its exact slots when nothing but its initial contents can be there: not
    /// imported, exported, written by any instruction or filled from a global.
    slots: Vec<Option<SlotMap>>,
}

impl Tables {
    fn of(facts: &ModuleFacts, bnd: &Boundary, escaped: &BTreeSet<u32>) -> Self {
        let nfuncs = facts.func_types.len() as u32;
        let ntables = facts.tables.len();
        let mut written = vec![false; ntables];
        for body in &facts.bodies {
            for &t in &body.table_writes {
                if let Some(w) = written.get_mut(t as usize) {
                    *w = true;
                }
            }
        }
        // A table filled from a global holds what the global holds: for an imported immutable
        // global, whatever the host put there; otherwise anything code can store (as if
        // written).
        let mut from_host = vec![false; ntables];
        for &(t, g) in &facts.table_global_reads {
            let Some(t) = t.filter(|t| (*t as usize) < ntables) else {
                continue;
            };
            match facts.globals.get(g as usize) {
                Some(info) if info.imported && !info.mutable => from_host[t as usize] = true,
                _ => written[t as usize] = true,
            }
        }
        let mut contents: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); ntables];
        let mut host = vec![false; ntables];
        // The slot reader must agree with the module facts, or no slot is trusted.
        let active = facts
            .elements
            .iter()
            .filter(|e| e.mode == SegmentMode::Active)
            .count();
        let agree = facts.slots.segments.len() == active && facts.slots.table_init.len() == ntables;
        let mut slots = vec![None; ntables];
        for (t, info) in facts.tables.iter().enumerate() {
            let visible = info.imported || info.exported || facts.unmodelled_section;
            if visible || written[t] {
                contents[t].extend(escaped.iter().copied());
            }
            host[t] = visible || from_host[t] || (written[t] && bnd.refs_in);
            if agree && !visible && !written[t] && !from_host[t] {
                slots[t] = facts.slots.table_map(t as u32, info.initial);
            }
        }
        for seg in &facts.elements {
            if seg.mode == SegmentMode::Active
                && let Some(c) = seg.table.and_then(|t| contents.get_mut(t as usize))
            {
                c.extend(seg.functions.iter().copied().filter(|f| *f < nfuncs));
            }
        }
        for &(t, f) in &facts.table_init_funcs {
            if let Some(c) = contents.get_mut(t as usize)
                && f < nfuncs
            {
                c.insert(f);
            }
        }
        Tables {
            contents,
            host,
            slots,
        }
    }

    /// Whether the host may have put functions of its own in table `t` (unknown: yes).
    fn host(&self, t: u32) -> bool {
        self.host.get(t as usize).copied().unwrap_or(true)
    }
}

/// The edges of every function body: direct calls, and calls through tables, references and
/// continuations to their dispatch nodes.
fn body_edges(
    b: &mut Builder<'_>,
    facts: &ModuleFacts,
    bnd: &Boundary,
    escape: &Escape,
    tables: &Tables,
) {
    // Built on first use: most modules call through few tables.
    let mut table_index: Vec<Option<FuncsByType>> =
        (0..tables.contents.len()).map(|_| None).collect();
    let escaped_index = FuncsByType::new(b, facts, escape.all.iter());
    for (i, body) in facts.bodies.iter().enumerate() {
        let from = facts.num_imported_funcs + i as u32;
        for &(callee, offset) in &body.calls {
            let is_plain_import = callee < facts.num_imported_funcs;
            b.edge(from, callee, offset, !is_plain_import);
        }
        for (j, &(tbl, ty, offset, _)) in body.indirect.iter().enumerate() {
            let Some((want, first)) = b.canonical(ty) else {
                // Validation rules this out; if it ever happens, fail closed.
                let h = b.unknown_host();
                b.edge(from, h, offset, true);
                continue;
            };
            // A proven index into a table that holds only its initial contents: exactly the
            // functions in the slots it can hit (index.rs).
            let narrowed = tables
                .slots
                .get(tbl as usize)
                .and_then(Option::as_ref)
                .zip(body.index_sets.get(j).and_then(Option::as_ref))
                .and_then(|(map, values)| map.targets(values));
            if let Some(targets) = narrowed {
                for f in targets {
                    if b.callable_as(facts, f, want) {
                        b.edge(from, f, offset, true);
                    }
                }
                continue;
            }
            let index = table_index.get_mut(tbl as usize);
            let d = b.dispatch(
                format!("table[{tbl}]:type[{first}]"),
                |b| match index {
                    Some(slot) => slot
                        .get_or_insert_with(|| {
                            FuncsByType::new(b, facts, tables.contents[tbl as usize].iter())
                        })
                        .targets(b, want),
                    None => Vec::new(),
                },
                tables.host(tbl),
            );
            b.edge(from, d, offset, true);
        }
        for &(ty, offset) in &body.call_refs {
            let Some((want, first)) = b.canonical(ty) else {
                // Validation rules this out; if it ever happens, fail closed.
                let h = b.unknown_host();
                b.edge(from, h, offset, true);
                continue;
            };
            let d = b.dispatch(
                format!("ref:type[{first}]"),
                |b| escaped_index.targets(b, want),
                bnd.refs_in,
            );
            b.edge(from, d, offset, true);
        }
        for &offset in &body.resumes {
            let d = b.dispatch(
                "ref:any".into(),
                |_| escape.all.iter().copied().collect(),
                bnd.refs_in,
            );
            b.edge(from, d, offset, true);
        }
    }
}

/// Calls the host makes back into the module while an import runs: edges from the import
/// node to what it may call. A family listed in `rules/capabilities/reentry.toml` calls at
/// most its listed exports and, for a `table` entry (Emscripten `invoke_*`), any entry of
/// that table (the JS glue does not check arity: one node per table serves them all). Any
/// other import may call every exported and escaped function: an edge to the one shared
/// `<host-reentry>` node, unless `options` assume no re-entry. Returns the imports given
/// such edges: calls to them are followed, not only recorded as capability sites.
fn host_callers(
    b: &mut Builder<'_>,
    facts: &ModuleFacts,
    tables: &Tables,
    reentry: &[&Reentry],
    entries: &[(String, EntryKind, Vec<u32>)],
    options: Options,
) -> HashSet<u32> {
    let table_named = |name: &str| {
        facts
            .exports
            .iter()
            .find(|(n, k, _)| *k == ExternalKind::Table && n == name)
            .map(|(_, _, i)| *i)
            .or(if tables.contents.is_empty() {
                None
            } else {
                Some(0)
            })
    };
    let empty = BTreeSet::new();
    let mut reentrant: HashSet<u32> = HashSet::new();
    let mut host_reentry: Option<u32> = None;
    for (idx, what) in reentry.iter().enumerate() {
        let idx = idx as u32;
        match what {
            Reentry::Any if options.assume_no_reentry => {}
            Reentry::Any => {
                let h = *host_reentry.get_or_insert_with(|| {
                    let h = b.node(NodeKind::Dispatch, HOST_REENTRY_NODE.into(), None);
                    // The host can call whatever it can name: the roots of every entry
                    // point but the start function.
                    let targets: BTreeSet<u32> = entries
                        .iter()
                        .filter(|(_, kind, _)| *kind != EntryKind::Start)
                        .flat_map(|(_, _, roots)| roots.iter().copied())
                        .collect();
                    for t in targets {
                        b.edge(h, t, 0, true);
                    }
                    h
                });
                b.edge(idx, h, 0, true);
                reentrant.insert(idx);
            }
            Reentry::Known {
                rule,
                exports,
                table,
            } => {
                let ty = facts.func_types.get(idx as usize).copied();
                if let Some(name) = table
                    && let Some(tbl) = table_named(name)
                    && ty
                        .and_then(|t| b.func_type(t))
                        .is_some_and(|sig| !sig.params().is_empty())
                {
                    let c = tables.contents.get(tbl as usize).unwrap_or(&empty);
                    let d = b.dispatch(
                        format!("table[{tbl}]:{rule}"),
                        |_| c.iter().copied().collect(),
                        tables.host(tbl),
                    );
                    b.edge(idx, d, 0, true);
                    reentrant.insert(idx);
                }
                for (name, kind, f) in &facts.exports {
                    if matches!(kind, ExternalKind::Func | ExternalKind::FuncExact)
                        && exports.iter().any(|p| glob_match(p, name))
                    {
                        b.edge(idx, *f, 0, true);
                        reentrant.insert(idx);
                    }
                }
            }
        }
    }
    for (i, body) in facts.bodies.iter().enumerate() {
        let from = facts.num_imported_funcs + i as u32;
        for &(callee, offset) in &body.calls {
            if reentrant.contains(&callee) {
                b.edge(from, callee, offset, true);
            }
        }
    }
    reentrant
}

/// Capabilities as interned names: the per-site narrowed sets of direct import calls, and
/// what arriving at a node confers (imports reached indirectly, the unknown host).
struct CapabilitySites {
    names: Vec<String>,
    node_caps: Vec<Vec<u16>>,
    sites: Vec<Vec<Site>>,
}

impl CapabilitySites {
    fn of(
        b: &mut Builder<'_>,
        facts: &ModuleFacts,
        func_imports: &[(String, Classification)],
        reentrant: &HashSet<u32>,
        fds_unknown: bool,
    ) -> Self {
        let mut names: Vec<String> = Vec::new();
        let mut ids: HashMap<String, u16> = HashMap::new();
        let mut intern = |c: &str| -> u16 {
            if let Some(&id) = ids.get(c) {
                return id;
            }
            let id = names.len() as u16;
            names.push(c.to_string());
            ids.insert(c.to_string(), id);
            id
        };
        let nnodes = b.nodes.len();
        let mut node_caps: Vec<Vec<u16>> = vec![Vec::new(); nnodes];
        for (i, (_, class)) in func_imports.iter().enumerate() {
            node_caps[i] = class.capabilities.iter().map(|c| intern(c)).collect();
        }
        if let Some(h) = b.unknown_host {
            node_caps[h as usize] = vec![intern(UNKNOWN_HOST)];
        }
        // Descriptors 0-2 prove stdio only while nothing can put a file or socket there:
        // renumbering or duplicating can (`replaces_stdio` in the data), and so can closing
        // one and producing another (hosts reuse the lowest free number), and so can code
        // this module cannot see. Then the constant proves nothing and narrowing is off.
        let replaces_stdio = func_imports.iter().any(|(_, c)| c.replaces_stdio);
        let fds_renumbered = fds_unknown
            || replaces_stdio
            || (descriptors::imports_fn(facts, "fd_close")
                && descriptors::imports_producer(func_imports));
        let mut sites: Vec<Vec<Site>> = vec![Vec::new(); nnodes];
        for (i, body) in facts.bodies.iter().enumerate() {
            let from = facts.num_imported_funcs + i as u32;
            let mut seen: HashSet<(u32, Vec<u16>)> = HashSet::new();
            for call in &body.import_calls {
                if call.callee >= facts.num_imported_funcs || reentrant.contains(&call.callee) {
                    continue;
                }
                let (_, class) = &func_imports[call.callee as usize];
                let params = b
                    .func_type(facts.func_types[call.callee as usize])
                    .map_or(0, |f| f.params().len());
                let caps: Vec<u16> = site_caps(class, &call.tail, params, fds_renumbered)
                    .iter()
                    .map(|c| intern(c))
                    .collect();
                if seen.insert((call.callee, caps.clone())) {
                    sites[from as usize].push(Site {
                        import: call.callee,
                        caps,
                        offset: call.offset,
                    });
                }
            }
        }
        CapabilitySites {
            names,
            node_caps,
            sites,
        }
    }
}

/// Exported functions, the start function, and one `<escaped>` entry for the functions whose
/// references the host can obtain without an export.
fn entry_points(
    facts: &ModuleFacts,
    bnd: &Boundary,
    escape: &Escape,
) -> Vec<(String, EntryKind, Vec<u32>)> {
    let nfuncs = facts.func_types.len() as u32;
    let mut entries: Vec<(String, EntryKind, Vec<u32>)> = Vec::new();
    for (name, kind, index) in &facts.exports {
        if matches!(kind, ExternalKind::Func | ExternalKind::FuncExact) && *index < nfuncs {
            entries.push((name.clone(), EntryKind::Export, vec![*index]));
        }
    }
    if let Some(s) = facts.start
        && s < nfuncs
    {
        entries.push(("<start>".into(), EntryKind::Start, vec![s]));
    }
    if bnd.refs_out {
        let roots: Vec<u32> = escape
            .all
            .iter()
            .copied()
            .filter(|f| *f >= facts.num_imported_funcs && !escape.exported.contains(f))
            .collect();
        if !roots.is_empty() {
            entries.push(("<escaped>".into(), EntryKind::Escaped, roots));
        }
    }
    entries
}

fn sorted_roots(roots: &[u32]) -> Vec<u32> {
    let mut r = roots.to_vec();
    r.sort_unstable();
    r.dedup();
    r
}

fn shared_names(nodes: &[Node]) -> Vec<Arc<str>> {
    nodes.iter().map(|n| Arc::from(n.name.as_str())).collect()
}

impl Graph {
    /// A graph whose capabilities sit on nodes only (the component linker's graph).
    pub fn assemble(
        nodes: Vec<Node>,
        followed: Vec<(u32, u32, u64)>,
        caps: &[(u32, Vec<String>)],
        entries: Vec<(String, EntryKind, Vec<u32>)>,
    ) -> Graph {
        let n = nodes.len();
        let mut succ = vec![Vec::new(); n];
        let mut pred = vec![Vec::new(); n];
        let mut edges: Vec<(u32, u32)> = Vec::with_capacity(followed.len());
        for &(a, b, off) in &followed {
            succ[a as usize].push((b, off));
            pred[b as usize].push((a, off));
            edges.push((a, b));
        }
        edges.sort_unstable();
        edges.dedup();
        let mut cap_names: Vec<String> = Vec::new();
        let mut node_caps = vec![Vec::new(); n];
        for (node, list) in caps {
            for c in list {
                let id = match cap_names.iter().position(|x| x == c) {
                    Some(i) => i,
                    None => {
                        cap_names.push(c.clone());
                        cap_names.len() - 1
                    }
                };
                node_caps[*node as usize].push(id as u16);
            }
        }
        Graph {
            core: Core {
                shared: shared_names(&nodes),
                pred,
                sites: vec![Vec::new(); n],
                node_caps,
                cap_names,
            },
            nodes,
            edges,
            succ,
            entries,
            descriptors: None,
        }
    }

    /// Nodes reachable from `roots` (including them).
    pub fn reachable(&self, roots: impl IntoIterator<Item = u32>) -> Vec<bool> {
        let mut seen = vec![false; self.nodes.len()];
        let mut queue: VecDeque<u32> = VecDeque::new();
        for r in roots {
            if !std::mem::replace(&mut seen[r as usize], true) {
                queue.push_back(r);
            }
        }
        while let Some(u) = queue.pop_front() {
            for &(v, _) in &self.succ[u as usize] {
                if !std::mem::replace(&mut seen[v as usize], true) {
                    queue.push_back(v);
                }
            }
        }
        seen
    }

    /// The public call graph; consumes the graph so large node lists are moved, not copied.
    /// Node capabilities and call sites go with it, so that readers can recompute every
    /// entry point's reach without the analyzer. Also returns what witness searches read.
    pub fn into_parts(self) -> (CallGraph, Core) {
        let names = |ids: &[u16]| -> Vec<String> {
            let mut v: Vec<String> = ids
                .iter()
                .map(|&c| self.core.cap_names[c as usize].clone())
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let mut nodes = self.nodes;
        for (node, caps) in nodes.iter_mut().zip(&self.core.node_caps) {
            node.capabilities = names(caps);
        }
        let mut sites: Vec<CallSite> = self
            .core
            .sites
            .iter()
            .enumerate()
            .flat_map(|(from, list)| list.iter().map(move |s| (from as u32, s)))
            .map(|(from, s)| CallSite {
                from,
                to: s.import,
                offset: s.offset,
                capabilities: names(&s.caps),
            })
            .collect();
        sites.sort();
        sites.dedup();
        let graph = CallGraph {
            nodes,
            edges: self.edges,
            sites,
            descriptors: self.descriptors,
        };
        (graph, self.core)
    }

    /// Import ids no entry point can call: declared authority the code never uses.
    pub fn unreachable_imports(&self) -> Vec<String> {
        let n = self.nodes.len();
        let mut seen = vec![false; n];
        let mut queue: VecDeque<u32> = VecDeque::new();
        for (_, _, roots) in &self.entries {
            for &r in roots {
                if !std::mem::replace(&mut seen[r as usize], true) {
                    queue.push_back(r);
                }
            }
        }
        let mut called = vec![false; n];
        while let Some(u) = queue.pop_front() {
            for site in &self.core.sites[u as usize] {
                called[site.import as usize] = true;
            }
            for &(v, _) in &self.succ[u as usize] {
                if !std::mem::replace(&mut seen[v as usize], true) {
                    queue.push_back(v);
                }
            }
        }
        let mut out: BTreeSet<String> = BTreeSet::new();
        let mut reached: BTreeSet<&str> = BTreeSet::new();
        for node in &self.nodes {
            if node.kind == NodeKind::Import {
                let i = node.id as usize;
                if seen[i] || called[i] {
                    reached.insert(&node.name);
                } else {
                    out.insert(node.name.clone());
                }
            }
        }
        // The same id imported twice is reachable if either copy is.
        out.retain(|id| !reached.contains(id.as_str()));
        out.into_iter().collect()
    }

    /// Every entry point with, per reachable capability, one shortest witness path.
    /// Capability sets come from the component closure ([`reach`]); each capability's
    /// search runs once and serves every entry point.
    pub fn entry_points(&self) -> Vec<EntryPoint> {
        let closure = self.closure();
        let caps: Vec<Vec<u16>> = self
            .entries
            .par_iter()
            .map(|(_, _, roots)| closure.caps(roots))
            .collect();
        let fields = reach::Fields::new(self);
        fields.prefetch(caps.iter().flatten().copied());
        let mut out: Vec<EntryPoint> = self
            .entries
            .par_iter()
            .zip(caps)
            .map(|((name, kind, roots), caps)| EntryPoint {
                name: name.clone(),
                kind: *kind,
                roots: sorted_roots(roots),
                reaches: caps
                    .into_iter()
                    .filter_map(|c| self.core.witness(c as usize, fields.get(c), roots))
                    .collect(),
                unresolved: false,
            })
            .map(|mut e| {
                e.reaches.sort();
                e
            })
            .collect();
        out.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        out
    }
}

impl Core {
    pub fn capability_count(&self) -> usize {
        self.cap_names.len()
    }

    pub fn capability_id(&self, name: &str) -> Option<u16> {
        self.cap_names
            .iter()
            .position(|c| c == name)
            .map(|i| i as u16)
    }

    /// Reverse breadth-first search from everything that grants capability `c`: afterwards
    /// each node knows its distance to the nearest grant and the next hop towards it.
    /// One search per capability serves every entry point, however many there are.
    pub(crate) fn cap_field(&self, c: u16) -> CapField {
        let n = self.shared.len();
        let mut f = CapField {
            dist: vec![INF; n],
            hop: vec![NONE; n],
            offset: vec![0; n],
            jump: vec![NONE; n],
            end: vec![NONE; n],
            via_site: vec![0; n.div_ceil(64)],
        };
        let mut queue = VecDeque::new();
        // Arriving at the node itself grants it (an import reached indirectly, the host).
        for (node, caps) in self.node_caps.iter().enumerate() {
            if caps.contains(&c) {
                f.dist[node] = 0;
                queue.push_back(node as u32);
            }
        }
        // A call site one hop further grants it.
        for (node, sites) in self.sites.iter().enumerate() {
            if f.dist[node] != INF {
                continue;
            }
            if let Some(s) = sites.iter().find(|s| s.caps.contains(&c)) {
                f.dist[node] = 1;
                f.hop[node] = s.import;
                f.offset[node] = s.offset;
                f.via_site[node / 64] |= 1 << (node % 64);
                queue.push_back(node as u32);
            }
        }
        let mut order: Vec<u32> = Vec::new();
        while let Some(u) = queue.pop_front() {
            order.push(u);
            for &(p, offset) in &self.pred[u as usize] {
                let pi = p as usize;
                if f.dist[pi] == INF {
                    f.dist[pi] = f.dist[u as usize] + 1;
                    f.hop[pi] = u;
                    f.offset[pi] = offset;
                    queue.push_back(p);
                }
            }
        }
        // Nodes come out in increasing distance, so each node's successor is settled first.
        for &u in &order {
            let ui = u as usize;
            let next = f.next(ui);
            f.jump[ui] = match f.dist[ui].cmp(&WITNESS_TAIL) {
                std::cmp::Ordering::Less => NONE,
                std::cmp::Ordering::Equal => u,
                std::cmp::Ordering::Greater => f.jump[next as usize],
            };
            f.end[ui] = if f.dist[ui] == 0 {
                u
            } else if next == NONE {
                f.hop[ui]
            } else {
                f.end[next as usize]
            };
        }
        f
    }

    pub(crate) fn witness(&self, c: usize, f: &CapField, roots: &[u32]) -> Option<Reach> {
        let (start, _) = f.nearest(roots)?;
        let mut path = Vec::with_capacity(
            f.dist[start as usize].min(WITNESS_HEAD + WITNESS_TAIL) as usize + 2,
        );
        let mut offset = None;
        let mut cur = start;
        let mut elided = 0;
        loop {
            let ci = cur as usize;
            if path.len() as u32 == WITNESS_HEAD && f.jump[ci] != NONE && f.jump[ci] != cur {
                elided = f.dist[ci] - WITNESS_TAIL;
                path.push(Arc::from(ELIDED));
                cur = f.jump[ci];
                continue;
            }
            path.push(self.shared[ci].clone());
            if f.dist[ci] == 0 {
                return Some(Reach {
                    capability: self.cap_names[c].clone(),
                    import: self.shared[ci].to_string(),
                    path,
                    offset,
                    length: None,
                    elided,
                });
            }
            let next = f.next(ci);
            if next == NONE {
                let site = f.hop[ci] as usize;
                path.push(self.shared[site].clone());
                return Some(Reach {
                    capability: self.cap_names[c].clone(),
                    import: self.shared[site].to_string(),
                    path,
                    offset: Some(f.offset[ci]),
                    length: None,
                    elided,
                });
            }
            if f.offset[ci] != 0 {
                offset = Some(f.offset[ci]);
            }
            cur = next;
        }
    }
}

const INF: u32 = u32::MAX;
const NONE: u32 = u32::MAX;

impl CapField {
    /// The root nearest the capability (the first among equals) and its distance.
    pub fn nearest(&self, roots: &[u32]) -> Option<(u32, u32)> {
        roots
            .iter()
            .copied()
            .filter(|r| self.dist[*r as usize] != INF)
            .min_by_key(|r| self.dist[*r as usize])
            .map(|r| (r, self.dist[r as usize]))
    }

    /// The node after `node` on its witness path (`NONE` at a grant or a call site).
    fn next(&self, node: usize) -> u32 {
        if self.via_site[node / 64] & (1 << (node % 64)) != 0 {
            NONE
        } else {
            self.hop[node]
        }
    }

    /// The import (or conferring node) the witness path from `node` ends at.
    pub fn end(&self, node: u32) -> u32 {
        self.end[node as usize]
    }
}

/// Distances and next hops towards one capability, for every node: 24 bytes a node (one is
/// alive per capability being searched, and a module may have millions of nodes).
pub(crate) struct CapField {
    dist: Vec<u32>,
    /// The next node towards the capability, or for a node granting it through a call site
    /// (see `via_site`) the import that site calls.
    hop: Vec<u32>,
    /// Offset of the instruction making the hop: the call site's, or the edge's (0 when the
    /// edge is not a call).
    offset: Vec<u64>,
    /// The node on this node's witness path at distance `WITNESS_TAIL`, when it is farther.
    jump: Vec<u32>,
    /// The import (or conferring node) this node's witness path ends at.
    end: Vec<u32>,
    /// One bit a node: whether `hop` is a call site's import rather than a node.
    via_site: Vec<u64>,
}

/// Witness paths longer than `WITNESS_HEAD + WITNESS_TAIL` nodes keep their first
/// `WITNESS_HEAD` and last `WITNESS_TAIL` nodes around an elision marker, so that output
/// stays linear in the input even for long exported call chains (each export's full path
/// would make it quadratic).
const WITNESS_HEAD: u32 = 30;
const WITNESS_TAIL: u32 = 30;

/// The path element standing for the elided middle of a long witness.
pub const ELIDED: &str = "...";
