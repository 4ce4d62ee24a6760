//! Links a component into one call graph: component exports are followed through `lift`
//! into core instances, core imports through instantiation arguments into other instances
//! or `lower`ed component functions, and nested components through their arguments, down to
//! the component's own imports, where capabilities sit.
//!
//! Precision through wit-component shims: a table no host can see (core tables never leave
//! a component) that is only filled by active element segments at constant offsets has
//! known slots, so `i32.const K; call_indirect` calls exactly slot K. Anything the linker
//! cannot follow goes to `<unresolved>`, which reaches every component import, and the
//! entry points that can get there are marked `unresolved`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use wasmparser::types::Types;
use wasmparser::{ComponentExternalKind, CompositeInnerType, ExternalKind, FuncType, TypeRef};

use crate::component::{
    ComponentItem, CoreFuncItem, CoreInstanceItem, CoreTableItem, FuncItem, InstanceItem,
    ModuleItem, ROOT_MODULE, Scope,
};
use crate::core::ModuleFacts;
use crate::graph::{Graph, function_name};
use crate::model::{CallGraph, EntryKind, EntryPoint, Import, Node, NodeKind};

/// Name of the node that stands for code the linker could not follow.
pub const UNRESOLVED_NODE: &str = "<unresolved>";

/// The linked view of a component.
#[derive(Debug)]
pub(crate) struct Linked {
    pub entry_points: Vec<EntryPoint>,
    pub unreachable_imports: Vec<String>,
    pub call_graph: CallGraph,
}

/// A core module instantiated somewhere in the component tree.
struct Inst {
    module: usize,
    label: String,
    /// Node id of function 0; function `f` is `base + f`.
    base: u32,
    ctx: usize,
}

/// Instantiation arguments: `(name, kind, index in the parent's index space)`.
type Args = Vec<(String, ComponentExternalKind, u32)>;

/// One instantiation of a component scope (the root, or a nested component instance).
struct Ctx {
    scope: usize,
    /// The instantiating context and the arguments it passed.
    parent: Option<(usize, Args)>,
    core: Vec<CoreRef>,
    children: HashMap<u32, Option<usize>>,
}

#[derive(Clone, Copy)]
enum CoreRef {
    Inst(usize),
    Bag,
    Unknown,
}

type TableId = (usize, u32);

#[derive(Default)]
struct TableInfo {
    written: bool,
    /// `(instance, functions, constant offset)` of active segments from any instance.
    segments: Vec<(usize, Vec<u32>, Option<u64>)>,
}

struct Linker<'a> {
    scopes: &'a [Scope],
    modules: &'a [(ModuleFacts, Types)],
    nodes: Vec<Node>,
    edges: Vec<(u32, u32, u64)>,
    caps: Vec<(u32, Vec<String>)>,
    terminals: BTreeMap<String, u32>,
    unresolved: u32,
    ctxs: Vec<Ctx>,
    insts: Vec<Inst>,
    builtins: HashMap<String, u32>,
    core_func_memo: HashMap<(usize, u32), u32>,
    tables: BTreeMap<TableId, TableInfo>,
    starts: Vec<u32>,
    destructors: Vec<u32>,
}

impl Linker<'_> {
    fn node(&mut self, kind: NodeKind, name: String) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            id,
            kind,
            name,
            function: None,
        });
        id
    }

    fn edge(&mut self, a: u32, b: u32, offset: u64) {
        self.edges.push((a, b, offset));
    }

    fn terminal(&self, id: &str) -> u32 {
        self.terminals.get(id).copied().unwrap_or(self.unresolved)
    }

    /// Creates the context of a scope instantiation and every core instance in it.
    fn enter(&mut self, scope: usize, parent: Option<(usize, Args)>) -> usize {
        let c = self.ctxs.len();
        self.ctxs.push(Ctx {
            scope,
            parent,
            core: Vec::new(),
            children: HashMap::new(),
        });
        let s = &self.scopes[scope];
        let names: HashMap<u32, &str> = s
            .core_instance_names
            .iter()
            .map(|(i, n)| (*i, n.as_str()))
            .collect();
        for (k, item) in s.core_instances.iter().enumerate() {
            let r = match item {
                CoreInstanceItem::Bag(_) => CoreRef::Bag,
                CoreInstanceItem::Instantiate { module, .. } => {
                    match s.modules.get(*module as usize) {
                        Some(ModuleItem::Embedded(m)) => {
                            let facts = &self.modules[*m].0;
                            let own = names
                                .get(&(k as u32))
                                .map(|n| n.to_string())
                                .or_else(|| facts.module_name.clone())
                                .unwrap_or_else(|| format!("instance[{k}]"));
                            let label = if s.path.is_empty() {
                                own
                            } else {
                                format!("{}/{own}", s.path)
                            };
                            let base = self.nodes.len() as u32;
                            for f in 0..facts.func_types.len() as u32 {
                                let kind = if f < facts.num_imported_funcs {
                                    NodeKind::Import
                                } else {
                                    NodeKind::Function
                                };
                                let name = format!("{label}:{}", function_name(facts, f));
                                let id = self.node(kind, name);
                                self.nodes[id as usize].function = Some(f);
                            }
                            self.insts.push(Inst {
                                module: *m,
                                label,
                                base,
                                ctx: c,
                            });
                            CoreRef::Inst(self.insts.len() - 1)
                        }
                        _ => CoreRef::Unknown,
                    }
                }
            };
            self.ctxs[c].core.push(r);
        }
        // Nested component instances run at instantiation too: create them all.
        for (k, item) in s.instances.iter().enumerate() {
            if let InstanceItem::Instantiate { .. } = item {
                self.child(c, k as u32);
            }
        }
        c
    }

    fn child(&mut self, c: usize, inst: u32) -> Option<usize> {
        if let Some(r) = self.ctxs[c].children.get(&inst) {
            return *r;
        }
        let s = &self.scopes[self.ctxs[c].scope];
        let r = match s.instances.get(inst as usize) {
            Some(InstanceItem::Instantiate { component, args }) => {
                match s.components.get(*component as usize) {
                    Some(ComponentItem::Nested(scope)) => {
                        let (scope, args) = (*scope, args.clone());
                        self.ctxs[c].children.insert(inst, None);
                        Some(self.enter(scope, Some((c, args))))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        self.ctxs[c].children.insert(inst, r);
        r
    }

    /// Export `name` of core instance `k` in context `c`, as a function node.
    fn core_export_func(&mut self, c: usize, k: u32, name: &str) -> u32 {
        match self.ctxs[c].core.get(k as usize).copied() {
            Some(CoreRef::Inst(i)) => {
                let facts = &self.modules[self.insts[i].module].0;
                match facts.exports.iter().find(|(n, kind, _)| {
                    n == name && matches!(kind, ExternalKind::Func | ExternalKind::FuncExact)
                }) {
                    Some((_, _, f)) => self.insts[i].base + f,
                    None => self.unresolved,
                }
            }
            Some(CoreRef::Bag) => {
                let s = &self.scopes[self.ctxs[c].scope];
                let CoreInstanceItem::Bag(items) = &s.core_instances[k as usize] else {
                    return self.unresolved;
                };
                match items.iter().find(|(n, kind, _)| {
                    n == name && matches!(kind, ExternalKind::Func | ExternalKind::FuncExact)
                }) {
                    Some((_, _, idx)) => self.core_func(c, *idx),
                    None => self.unresolved,
                }
            }
            _ => self.unresolved,
        }
    }

    /// Export `name` of core instance `k` in context `c`, as a table.
    fn core_export_table(&mut self, c: usize, k: u32, name: &str) -> Option<TableId> {
        match self.ctxs[c].core.get(k as usize).copied() {
            Some(CoreRef::Inst(i)) => {
                let facts = &self.modules[self.insts[i].module].0;
                let (_, _, t) = facts
                    .exports
                    .iter()
                    .find(|(n, kind, _)| n == name && *kind == ExternalKind::Table)?;
                self.table_of(i, *t)
            }
            Some(CoreRef::Bag) => {
                let s = &self.scopes[self.ctxs[c].scope];
                let CoreInstanceItem::Bag(items) = &s.core_instances[k as usize] else {
                    return None;
                };
                let (_, _, idx) = items
                    .iter()
                    .find(|(n, kind, _)| n == name && *kind == ExternalKind::Table)?;
                let CoreTableItem::Alias { instance, name } =
                    s.core_tables.get(*idx as usize)?.clone();
                self.core_export_table(c, instance, &name)
            }
            _ => None,
        }
    }

    /// The defining table behind local table `t` of instance `i`.
    fn table_of(&mut self, i: usize, t: u32) -> Option<TableId> {
        let facts = &self.modules[self.insts[i].module].0;
        let mut seen = 0;
        for imp in &facts.imports {
            if let TypeRef::Table(_) = imp.ty {
                if seen == t {
                    let (module, name) = (imp.module.clone(), imp.name.clone());
                    let c = self.insts[i].ctx;
                    let k = self.arg_instance(i, &module)?;
                    return self.core_export_table(c, k, &name);
                }
                seen += 1;
            }
        }
        Some((i, t))
    }

    /// The core instance passed to instance `i` for import module `module`.
    fn arg_instance(&self, i: usize, module: &str) -> Option<u32> {
        let inst = &self.insts[i];
        let ctx = &self.ctxs[inst.ctx];
        let k = ctx
            .core
            .iter()
            .position(|r| matches!(r, CoreRef::Inst(x) if *x == i))?;
        match &self.scopes[ctx.scope].core_instances[k] {
            CoreInstanceItem::Instantiate { args, .. } => {
                args.iter().find(|(n, _)| n == module).map(|(_, idx)| *idx)
            }
            CoreInstanceItem::Bag(_) => None,
        }
    }

    fn core_func(&mut self, c: usize, idx: u32) -> u32 {
        if let Some(&n) = self.core_func_memo.get(&(c, idx)) {
            return n;
        }
        // Guard against alias cycles in malformed input (validation rules them out).
        self.core_func_memo.insert((c, idx), self.unresolved);
        let s = &self.scopes[self.ctxs[c].scope];
        let n = match s.core_funcs.get(idx as usize).cloned() {
            Some(CoreFuncItem::Alias { instance, name }) => {
                self.core_export_func(c, instance, &name)
            }
            Some(CoreFuncItem::Lower { func, realloc }) => {
                let target = self.func(c, func);
                if let Some(r) = realloc {
                    // The host calls `realloc` back while it runs the lowered call.
                    let r = self.core_func(c, r);
                    self.edge(target, r, 0);
                }
                target
            }
            Some(CoreFuncItem::Builtin(name)) => {
                let key = format!("canon {name}");
                match self.builtins.get(&key) {
                    Some(&n) => n,
                    None => {
                        let n = self.node(NodeKind::Import, key.clone());
                        self.builtins.insert(key, n);
                        n
                    }
                }
            }
            Some(CoreFuncItem::Drop) => {
                // Which resource a handle belongs to is not tracked: a drop may run any
                // destructor defined in this component.
                let n = self.node(NodeKind::Dispatch, "canon resource.drop".into());
                self.core_func_memo.insert((c, idx), n);
                for d in s.destructors.clone() {
                    let target = self.core_func(c, d);
                    self.edge(n, target, 0);
                }
                n
            }
            Some(CoreFuncItem::Opaque) | None => self.unresolved,
        };
        self.core_func_memo.insert((c, idx), n);
        n
    }

    /// A component function, as the node its calls go to.
    fn func(&mut self, c: usize, idx: u32) -> u32 {
        let s = &self.scopes[self.ctxs[c].scope];
        match s.funcs.get(idx as usize).cloned() {
            Some(FuncItem::Import(name)) => match self.ctxs[c].parent.clone() {
                None => self.terminal(&format!("{ROOT_MODULE}#{name}")),
                Some((p, args)) => match args
                    .iter()
                    .find(|(n, k, _)| *n == name && *k == ComponentExternalKind::Func)
                {
                    Some((_, _, i)) => self.func(p, *i),
                    None => self.unresolved,
                },
            },
            Some(FuncItem::Alias { instance, name }) => self.instance_func(c, instance, &name),
            Some(FuncItem::Lift { core, callbacks }) => {
                let target = self.core_func(c, core);
                if callbacks.is_empty() {
                    return target;
                }
                let name = format!("canon lift {}", self.nodes[target as usize].name);
                let lift = self.node(NodeKind::Dispatch, name);
                self.edge(lift, target, 0);
                for cb in callbacks {
                    let cb = self.core_func(c, cb);
                    self.edge(lift, cb, 0);
                }
                lift
            }
            Some(FuncItem::Unknown) | None => self.unresolved,
        }
    }

    /// Function `fname` of component instance `inst` in context `c`.
    fn instance_func(&mut self, c: usize, inst: u32, fname: &str) -> u32 {
        let s = &self.scopes[self.ctxs[c].scope];
        match s.instances.get(inst as usize).cloned() {
            Some(InstanceItem::Import(name)) => match self.ctxs[c].parent.clone() {
                None => self.terminal(&format!("{name}#{fname}")),
                Some((p, args)) => match args
                    .iter()
                    .find(|(n, k, _)| *n == name && *k == ComponentExternalKind::Instance)
                {
                    Some((_, _, i)) => self.instance_func(p, *i, fname),
                    None => self.unresolved,
                },
            },
            Some(InstanceItem::Bag(items)) => {
                match items
                    .iter()
                    .find(|(n, k, _)| n == fname && *k == ComponentExternalKind::Func)
                {
                    Some((_, _, f)) => self.func(c, *f),
                    None => self.unresolved,
                }
            }
            Some(InstanceItem::Instantiate { .. }) => match self.child(c, inst) {
                Some(cc) => self.scope_export_func(cc, fname),
                None => self.unresolved,
            },
            Some(InstanceItem::Alias { instance, name }) => {
                match self.instance_instance(c, instance, &name) {
                    Some((c2, i2)) => self.instance_func(c2, i2, fname),
                    None => self.unresolved,
                }
            }
            Some(InstanceItem::Unknown) | None => self.unresolved,
        }
    }

    /// The component instance exported as `name` by instance `inst` of context `c`.
    fn instance_instance(&mut self, c: usize, inst: u32, name: &str) -> Option<(usize, u32)> {
        let s = &self.scopes[self.ctxs[c].scope];
        match s.instances.get(inst as usize)?.clone() {
            InstanceItem::Bag(items) => items
                .iter()
                .find(|(n, k, _)| n == name && *k == ComponentExternalKind::Instance)
                .map(|(_, _, i)| (c, *i)),
            InstanceItem::Instantiate { .. } => {
                let cc = self.child(c, inst)?;
                let cs = &self.scopes[self.ctxs[cc].scope];
                cs.exports
                    .iter()
                    .find(|(n, k, _)| n == name && *k == ComponentExternalKind::Instance)
                    .map(|(_, _, i)| (cc, *i))
            }
            InstanceItem::Alias { instance, name: n2 } => {
                let (c2, i2) = self.instance_instance(c, instance, &n2)?;
                self.instance_instance(c2, i2, name)
            }
            _ => None,
        }
    }

    /// The function a nested component instance exports as `fname`.
    fn scope_export_func(&mut self, cc: usize, fname: &str) -> u32 {
        let cs = &self.scopes[self.ctxs[cc].scope];
        match cs
            .exports
            .iter()
            .find(|(n, k, _)| n == fname && *k == ComponentExternalKind::Func)
        {
            Some((_, _, f)) => self.func(cc, *f),
            None => self.unresolved,
        }
    }

    /// Links every instance's imports and builds its internal edges.
    fn link_instances(&mut self) {
        // Imports and table identities first: table contents need every instance.
        let mut table_of_local: Vec<Vec<Option<TableId>>> = Vec::new();
        for i in 0..self.insts.len() {
            let m = self.insts[i].module;
            let facts = &self.modules[m].0;
            let imports: Vec<(String, String, bool)> = facts
                .imports
                .iter()
                .map(|imp| {
                    (
                        imp.module.clone(),
                        imp.name.clone(),
                        matches!(imp.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)),
                    )
                })
                .collect();
            let mut f = 0u32;
            for (module, name, is_func) in imports {
                if !is_func {
                    continue;
                }
                let from = self.insts[i].base + f;
                f += 1;
                let c = self.insts[i].ctx;
                let target = match self.arg_instance(i, &module) {
                    Some(k) => self.core_export_func(c, k, &name),
                    None => self.unresolved,
                };
                self.edge(from, target, 0);
            }
            let ntables = self.modules[m].0.tables.len() as u32;
            let locals: Vec<Option<TableId>> = (0..ntables).map(|t| self.table_of(i, t)).collect();
            let facts = &self.modules[m].0;
            for seg in &facts.elements {
                if seg.mode == "active"
                    && let Some(Some(id)) = seg.table.and_then(|t| locals.get(t as usize))
                {
                    self.tables.entry(*id).or_default().segments.push((
                        i,
                        seg.functions.clone(),
                        seg.table_offset,
                    ));
                }
            }
            for body in &facts.bodies {
                for t in &body.table_writes {
                    if let Some(Some(id)) = locals.get(*t as usize) {
                        self.tables.entry(*id).or_default().written = true;
                    }
                }
            }
            if let Some(s) = facts.start {
                self.starts.push(self.insts[i].base + s);
            }
            table_of_local.push(locals);
        }
        // Escaped functions of every instance: targets of written tables and `call_ref`.
        let mut escaped: Vec<u32> = Vec::new();
        for inst in &self.insts {
            let facts = &self.modules[inst.module].0;
            let mut set: BTreeSet<u32> = BTreeSet::new();
            for b in &facts.bodies {
                set.extend(b.ref_funcs.iter().copied());
            }
            for seg in &facts.elements {
                set.extend(seg.functions.iter().copied());
            }
            set.extend(facts.global_ref_funcs.iter().copied());
            for (_, k, f) in &facts.exports {
                if matches!(k, ExternalKind::Func | ExternalKind::FuncExact) {
                    set.insert(*f);
                }
            }
            escaped.extend(
                set.into_iter()
                    .filter(|f| (*f as usize) < facts.func_types.len())
                    .map(|f| inst.base + f),
            );
        }
        // Code the linker cannot see (an imported core module, an opaque builtin) may have been
        // handed a table: then no table's slots are known and any host code may sit in them.
        let opaque = self.scopes.iter().any(|s| !s.opaque.is_empty());
        if opaque {
            for info in self.tables.values_mut() {
                info.written = true;
            }
        }
        let mut ref_any: Option<u32> = None;
        let mut dispatch: HashMap<(usize, u32, u32), u32> = HashMap::new();
        for (i, locals) in table_of_local.iter().enumerate() {
            let (m, base, label) = (
                self.insts[i].module,
                self.insts[i].base,
                self.insts[i].label.clone(),
            );
            let (facts, types) = (&self.modules[m].0, &self.modules[m].1);
            let nimp = facts.num_imported_funcs;
            for (d, body) in facts.bodies.iter().enumerate() {
                let from = base + nimp + d as u32;
                for &(callee, offset) in &body.calls {
                    self.edges.push((from, base + callee, offset));
                }
                for &(t, ty, offset, slot) in &body.indirect {
                    let Some(Some(id)) = locals.get(t as usize).copied() else {
                        let u = self.unresolved;
                        self.edges.push((from, u, offset));
                        continue;
                    };
                    let info = self.tables.get(&id);
                    let precise = !opaque
                        && info
                            .is_none_or(|x| !x.written && x.segments.iter().all(|s| s.2.is_some()));
                    if precise && let Some(k) = slot {
                        // The slot is settled: call exactly what the segments put there.
                        if let Some(info) = info {
                            for (si, funcs, off) in &info.segments {
                                let off = off.unwrap_or(0) as i64;
                                if k >= off && ((k - off) as usize) < funcs.len() {
                                    let target = self.insts[*si].base + funcs[(k - off) as usize];
                                    self.edges.push((from, target, offset));
                                }
                            }
                        }
                        continue;
                    }
                    let key = (i, t, ty);
                    let node = match dispatch.get(&key) {
                        Some(&n) => n,
                        None => {
                            let n = self.nodes.len() as u32;
                            self.nodes.push(Node {
                                id: n,
                                kind: NodeKind::Dispatch,
                                name: format!("{label}:table[{t}]:type[{ty}]"),
                                function: None,
                            });
                            dispatch.insert(key, n);
                            let want = func_type(types, ty).cloned();
                            let mut targets: Vec<u32> = Vec::new();
                            if let Some(info) = self.tables.get(&id) {
                                for (si, funcs, _) in &info.segments {
                                    targets.extend(funcs.iter().map(|f| self.insts[*si].base + f));
                                }
                                if info.written {
                                    targets.extend(escaped.iter().copied());
                                }
                            }
                            if opaque {
                                targets.push(self.unresolved);
                            }
                            targets.sort_unstable();
                            targets.dedup();
                            for t in targets {
                                if self.may_match(t, i, ty, want.as_ref()) {
                                    self.edges.push((n, t, 0));
                                }
                            }
                            n
                        }
                    };
                    self.edges.push((from, node, offset));
                }
                if !body.call_refs.is_empty() || !body.resumes.is_empty() {
                    let n = match ref_any {
                        Some(n) => n,
                        None => {
                            let n = self.node(NodeKind::Dispatch, "ref:any".into());
                            for &e in &escaped {
                                self.edges.push((n, e, 0));
                            }
                            ref_any = Some(n);
                            n
                        }
                    };
                    let offset = body
                        .call_refs
                        .first()
                        .map(|c| c.1)
                        .or(body.resumes.first().copied())
                        .unwrap_or(0);
                    self.edges.push((from, n, offset));
                }
            }
        }
    }

    /// Whether node `target` (a function of some instance) may be called through type `ty`
    /// of instance `caller`. Across modules types are compared by shape; any reference type
    /// in the signature makes the answer "maybe" (sound over precise).
    fn may_match(&self, target: u32, caller: usize, ty: u32, want: Option<&FuncType>) -> bool {
        let Some(f) = self.nodes[target as usize].function else {
            return true;
        };
        let Some(ti) = self.insts.iter().position(|x| {
            x.base <= target && target < x.base + self.modules[x.module].0.func_types.len() as u32
        }) else {
            return true;
        };
        let (facts, types) = &self.modules[self.insts[ti].module];
        let fty = facts.func_types[f as usize];
        if ti == caller || self.insts[ti].module == self.insts[caller].module {
            let tr = types.as_ref();
            let (a, b) = (
                tr.core_type_at_in_module(fty),
                tr.core_type_at_in_module(ty),
            );
            let mut cur = Some(a);
            while let Some(id) = cur {
                if id == b {
                    return true;
                }
                cur = tr.supertype_of(id);
            }
            return false;
        }
        match (func_type(types, fty), want) {
            (Some(got), Some(want)) => {
                let has_ref = got
                    .params()
                    .iter()
                    .chain(got.results())
                    .chain(want.params())
                    .chain(want.results())
                    .any(|v| v.is_reference_type());
                has_ref || (got.params() == want.params() && got.results() == want.results())
            }
            _ => true,
        }
    }
}

fn func_type(types: &Types, index: u32) -> Option<&FuncType> {
    let tr = types.as_ref();
    if index >= tr.core_type_count_in_module() {
        return None;
    }
    let id = tr.core_type_at_in_module(index);
    match &types[id].composite_type.inner {
        CompositeInnerType::Func(f) => Some(f),
        _ => None,
    }
}

/// Stack for linking: resolution follows alias chains recursively, and a hostile component
/// can chain as many aliases as it has items.
const LINK_STACK: usize = 256 << 20;

/// Links the component whose root scope is `root` and computes its entry points, on a
/// thread with a large stack (reserved, not committed, so it costs nothing when unused).
pub(crate) fn link(
    scopes: &[Scope],
    root: usize,
    modules: &[(ModuleFacts, Types)],
    imports: &[Import],
    export_funcs: &[(String, ComponentExternalKind, u32, Vec<String>)],
) -> Linked {
    let run = || resolve(scopes, root, modules, imports, export_funcs);
    // Only resolution runs on the big-stack thread: reachability uses the rayon pool, and a
    // plain thread blocking on pool work while a pool worker waits for that thread (as when
    // `check` analyses files in parallel) would deadlock.
    let resolved = std::thread::scope(|s| {
        match std::thread::Builder::new()
            .stack_size(LINK_STACK)
            .spawn_scoped(s, run)
        {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            // No thread to be had: resolve on this one.
            Err(_) => run(),
        }
    });
    reach(resolved)
}

/// The linked graph before reachability.
struct Resolved {
    graph: Graph,
    unresolved: u32,
    terminals: BTreeMap<String, u32>,
}

fn resolve(
    scopes: &[Scope],
    root: usize,
    modules: &[(ModuleFacts, Types)],
    imports: &[Import],
    export_funcs: &[(String, ComponentExternalKind, u32, Vec<String>)],
) -> Resolved {
    let mut l = Linker {
        scopes,
        modules,
        nodes: Vec::new(),
        edges: Vec::new(),
        caps: Vec::new(),
        terminals: BTreeMap::new(),
        unresolved: 0,
        ctxs: Vec::new(),
        insts: Vec::new(),
        builtins: HashMap::new(),
        core_func_memo: HashMap::new(),
        tables: BTreeMap::new(),
        starts: Vec::new(),
        destructors: Vec::new(),
    };
    l.unresolved = l.node(NodeKind::UnknownHost, UNRESOLVED_NODE.into());
    for imp in imports
        .iter()
        .filter(|i| i.kind == crate::model::ExternKind::Func)
    {
        let n = l.node(NodeKind::Import, imp.id.clone());
        l.terminals.insert(imp.id.clone(), n);
        l.caps.push((n, imp.capabilities.clone()));
    }
    let all_terminals: Vec<u32> = l.terminals.values().copied().collect();
    for t in all_terminals {
        let u = l.unresolved;
        l.edge(u, t, 0);
    }
    // Imported modules/components run unknown code with whatever they are given.
    for imp in imports
        .iter()
        .filter(|i| i.kind != crate::model::ExternKind::Func && !i.capabilities.is_empty())
    {
        let n = l.node(NodeKind::Import, imp.id.clone());
        l.caps.push((n, imp.capabilities.clone()));
        let u = l.unresolved;
        l.edge(u, n, 0);
    }
    let root_ctx = l.enter(root, None);
    l.link_instances();

    let mut entries: Vec<(String, EntryKind, Vec<u32>)> = Vec::new();
    for (name, kind, index, funcs) in export_funcs {
        match kind {
            ComponentExternalKind::Func => {
                let n = l.func(root_ctx, *index);
                entries.push((name.clone(), EntryKind::Export, vec![n]));
            }
            ComponentExternalKind::Instance => {
                for f in funcs {
                    let n = l.instance_func(root_ctx, *index, f);
                    entries.push((format!("{name}#{f}"), EntryKind::Export, vec![n]));
                }
            }
            _ => {}
        }
    }
    // Canonical-ABI callbacks the host calls on its own: resource destructors.
    for c in 0..l.ctxs.len() {
        let dtors = l.scopes[l.ctxs[c].scope].destructors.clone();
        for d in dtors {
            let n = l.core_func(c, d);
            l.destructors.push(n);
        }
    }
    // Links created after instances (lowers reached only from exports) are in place now.
    if !l.starts.is_empty() {
        entries.push(("<start>".into(), EntryKind::Start, l.starts.clone()));
    }
    if !l.destructors.is_empty() {
        entries.push((
            "<resource-destructors>".into(),
            EntryKind::Escaped,
            l.destructors.clone(),
        ));
    }

    let unresolved = l.unresolved;
    let terminals = l.terminals.clone();
    let graph = Graph::assemble(l.nodes, l.edges, &l.caps, entries);
    Resolved {
        graph,
        unresolved,
        terminals,
    }
}

/// Entry points, their `unresolved` marks and the unreachable imports of a linked graph.
fn reach(r: Resolved) -> Linked {
    let Resolved {
        graph,
        unresolved,
        terminals,
    } = r;
    let mut entry_points = graph.entry_points();
    for e in &mut entry_points {
        let roots = &graph
            .entries
            .iter()
            .find(|(n, _, _)| *n == e.name)
            .map(|x| x.2.clone())
            .unwrap_or_default();
        e.unresolved = graph.reachable(roots.iter().copied())[unresolved as usize];
    }
    let all_roots: Vec<u32> = graph
        .entries
        .iter()
        .flat_map(|(_, _, r)| r.iter().copied())
        .collect();
    let reached = graph.reachable(all_roots);
    let unreachable_imports = terminals
        .iter()
        .filter(|(_, n)| !reached[**n as usize])
        .map(|(id, _)| id.clone())
        .collect();
    Linked {
        entry_points,
        unreachable_imports,
        call_graph: graph.into_call_graph(),
    }
}
