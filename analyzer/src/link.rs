//! Links a component into one call graph: component exports are followed through `lift`
//! into core instances, core imports through instantiation arguments into other instances
//! or `lower`ed component functions, and nested components through their arguments, down to
//! the component's own imports, where capabilities sit.
//!
//! Precision through wit-component shims: a table no host can see (core tables never leave
//! a component) that is only filled by active element segments at constant offsets has
//! known slots, so `i32.const K; call_indirect` calls exactly slot K (and any index the
//! index analysis settles, see `index.rs`, exactly its slots). Anything the linker
//! cannot follow goes to `<unresolved>`, which reaches every component import, and the
//! entry points that can get there are marked `unresolved`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use wasmparser::types::Types;
use wasmparser::{ComponentExternalKind, ExternalKind, FuncType, TypeRef};

use crate::component::{
    CoreFuncItem, CoreInstanceItem, CoreTableItem, Definition, FuncItem, InstanceItem, ROOT_MODULE,
    Scope,
};
use crate::core::ModuleFacts;
use crate::graph::{Graph, function_name};
use crate::model::{
    CallGraph, EntryKind, EntryPoint, Import, Node, NodeKind, SegmentMode, SharedReach,
};
use crate::slots::{Slot, Slots};
use crate::types::{func_of, import_may_match, is_subtype};

/// Name of the node that stands for code the linker could not follow.
pub const UNRESOLVED_NODE: &str = "<unresolved>";

/// The linked view of a component.
#[derive(Debug)]
pub(crate) struct Linked {
    pub entry_points: Vec<EntryPoint>,
    pub shared_reaches: Vec<SharedReach>,
    pub unreachable_imports: Vec<String>,
    pub call_graph: CallGraph,
    /// Schema 2 only: per-entry witnesses on demand.
    pub reachability: Option<crate::Reachability>,
}

/// A core module instantiated somewhere in the component tree.
struct Inst {
    module: usize,
    label: String,
    /// Node id of function 0; function `f` is `base + f`.
    base: u32,
    ctx: usize,
    /// Its index in the context's core instance space.
    k: u32,
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
    /// `(instance, slot values, constant offset)` of active segments from any instance.
    segments: Vec<(usize, Vec<Slot>, Option<u64>)>,
    /// `(instance, value)` of the table's initialiser expression.
    init: Option<(usize, Slot)>,
}

/// Bound on how far module and component items are followed through aliases and arguments
/// (validation rules out cycles; this keeps malformed input finite).
const FOLLOW_DEPTH: u32 = 10_000;

/// How an escaped function can be called through a typed table: its signature shape when
/// that has no reference types (only the same shape matches), else `None` (anything may).
type Shape = Option<(Box<[wasmparser::ValType]>, Box<[wasmparser::ValType]>)>;

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
    /// Slot facts per embedded module, shared when it is first instantiated.
    slots: HashMap<usize, Rc<Slots>>,
    export_maps: HashMap<usize, Rc<HashMap<String, u32>>>,
    by_path: HashMap<&'a str, usize>,
    /// Set when code the linker cannot see runs (an instance of a module or component from
    /// outside the binary): it may hold any table or function reference.
    opaque: bool,
    /// Component `start` functions: `(context, function index)`.
    component_starts: Vec<(usize, u32)>,
    /// Builtins that call through a core table: `(node, context, core table index)`.
    table_calls: Vec<(u32, usize, u32)>,
    /// `resource.drop` of a resource from elsewhere: may run any destructor.
    foreign_drops: Vec<u32>,
    ref_any: Option<u32>,
    /// Escaped functions (node ids) and their shapes.
    escaped: Vec<(u32, Shape)>,
    /// The same, by shape.
    escaped_by_shape: HashMap<Shape, Vec<u32>>,
    /// Shared dispatch over escaped functions, per call shape (`None`: every escaped one).
    escaped_nodes: HashMap<Shape, u32>,
    escaped_ref: Option<u32>,
}

impl<'a> Linker<'a> {
    fn node(&mut self, kind: NodeKind, name: String) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            id,
            kind,
            name,
            function: None,
            capabilities: Vec::new(),
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
                    match self.module_of(c, *module, 0) {
                        Some(m) => {
                            let facts = &self.modules[m].0;
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
                                module: m,
                                label,
                                base,
                                ctx: c,
                                k: k as u32,
                            });
                            CoreRef::Inst(self.insts.len() - 1)
                        }
                        None => {
                            // Host code runs at instantiation with what it is given.
                            self.opaque = true;
                            let u = self.unresolved;
                            self.starts.push(u);
                            CoreRef::Unknown
                        }
                    }
                }
            };
            self.ctxs[c].core.push(r);
        }
        // Nested component instances run at instantiation too: create them all.
        let s = &self.scopes[scope];
        for (k, item) in s.instances.iter().enumerate() {
            if let InstanceItem::Instantiate { .. } = item {
                self.child(c, k as u32);
            }
        }
        for &f in &self.scopes[scope].start {
            self.component_starts.push((c, f));
        }
        c
    }

    /// The context `count` levels out lexically from context `c`, when the instantiating
    /// chain is the lexical one; else `None`.
    fn outer_ctx(&self, c: usize, count: u32) -> Option<usize> {
        let mut cur = c;
        for _ in 0..count {
            cur = self.ctxs[cur].parent.as_ref()?.0;
        }
        let want = self.outer_scope(self.ctxs[c].scope, count)?;
        (self.ctxs[cur].scope == want).then_some(cur)
    }

    /// The scope `count` levels out lexically from `scope` (nesting is spelled in paths).
    fn outer_scope(&self, scope: usize, count: u32) -> Option<usize> {
        let mut path = self.scopes[scope].path.as_str();
        for _ in 0..count {
            path = path.rsplit_once('/').map_or("", |(p, _)| p);
        }
        self.by_path.get(path).copied()
    }

    /// The embedded module behind module item `idx` of context `c`, followed through
    /// imports, aliases and outer aliases; `None` when it comes from outside the binary.
    fn module_of(&mut self, c: usize, idx: u32, depth: u32) -> Option<usize> {
        self.definition_of(c, idx, depth, ComponentExternalKind::Module)
    }

    /// The component scope behind component item `idx` of context `c` (as [`Self::module_of`]).
    fn component_of(&mut self, c: usize, idx: u32, depth: u32) -> Option<usize> {
        self.definition_of(c, idx, depth, ComponentExternalKind::Component)
    }

    /// Follows item `idx` of the module or component index space (`kind`) of context `c`
    /// to its definition in this binary.
    fn definition_of(
        &mut self,
        c: usize,
        idx: u32,
        depth: u32,
        kind: ComponentExternalKind,
    ) -> Option<usize> {
        if depth > FOLLOW_DEPTH {
            return None;
        }
        fn space(s: &Scope, kind: ComponentExternalKind) -> &[Definition] {
            match kind {
                ComponentExternalKind::Module => &s.modules,
                _ => &s.components,
            }
        }
        let item = space(&self.scopes[self.ctxs[c].scope], kind)
            .get(idx as usize)?
            .clone();
        match item {
            Definition::Here(d) => Some(d),
            Definition::Import(name) => {
                let (p, args) = self.ctxs[c].parent.clone()?;
                let (_, _, i) = args.iter().find(|(n, k, _)| *n == name && *k == kind)?;
                self.definition_of(p, *i, depth + 1, kind)
            }
            Definition::Alias { instance, name } => {
                let (c2, i2) = self.instance_export(c, instance, &name, kind)?;
                self.definition_of(c2, i2, depth + 1, kind)
            }
            Definition::Outer { count, index } => match self.outer_ctx(c, count) {
                Some(o) => self.definition_of(o, index, depth + 1, kind),
                None => {
                    let o = self.outer_scope(self.ctxs[c].scope, count)?;
                    match space(&self.scopes[o], kind).get(index as usize)? {
                        Definition::Here(d) => Some(*d),
                        _ => None,
                    }
                }
            },
            Definition::Unknown => None,
        }
    }

    fn child(&mut self, c: usize, inst: u32) -> Option<usize> {
        if let Some(r) = self.ctxs[c].children.get(&inst) {
            return *r;
        }
        let s = &self.scopes[self.ctxs[c].scope];
        let r = match s.instances.get(inst as usize).cloned() {
            Some(InstanceItem::Instantiate { component, args }) => {
                self.ctxs[c].children.insert(inst, None);
                match self.component_of(c, component, 0) {
                    Some(scope) => Some(self.enter(scope, Some((c, args)))),
                    None => {
                        // A component from outside runs host code at instantiation.
                        self.opaque = true;
                        let u = self.unresolved;
                        self.starts.push(u);
                        None
                    }
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
                let m = self.insts[i].module;
                match self.func_exports(m).get(name) {
                    Some(f) => self.insts[i].base + f,
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

    /// Function exports of embedded module `m` by name, built once: every instance of a
    /// module looks its imports up here.
    fn func_exports(&mut self, m: usize) -> Rc<HashMap<String, u32>> {
        if let Some(e) = self.export_maps.get(&m) {
            return e.clone();
        }
        let mut map = HashMap::new();
        for (n, kind, f) in &self.modules[m].0.exports {
            if matches!(kind, ExternalKind::Func | ExternalKind::FuncExact) {
                map.entry(n.clone()).or_insert(*f);
            }
        }
        let map = Rc::new(map);
        self.export_maps.insert(m, map.clone());
        map
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
        match &self.scopes[ctx.scope].core_instances[inst.k as usize] {
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
            Some(CoreFuncItem::Builtin { name, callbacks }) if !callbacks.is_empty() => {
                let n = self.node(NodeKind::Dispatch, format!("canon {name}"));
                self.core_func_memo.insert((c, idx), n);
                for cb in callbacks {
                    let target = self.core_func(c, cb);
                    self.edge(n, target, 0);
                }
                n
            }
            Some(CoreFuncItem::Builtin { name, .. }) => {
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
            Some(CoreFuncItem::Drop(local)) => {
                let n = self.node(NodeKind::Dispatch, "canon resource.drop".into());
                self.core_func_memo.insert((c, idx), n);
                match local {
                    // A resource of this component: its own destructor runs.
                    Some(dtors) => {
                        for d in dtors {
                            let target = self.core_func(c, d);
                            self.edge(n, target, 0);
                        }
                    }
                    // A resource defined elsewhere (imported, or from another component of
                    // this binary): which one is not tracked, so any destructor may run.
                    None => self.foreign_drops.push(n),
                }
                n
            }
            Some(CoreFuncItem::TableCall { name, table }) => {
                // The builtin runs whatever the table holds at the index it is given.
                let n = self.node(NodeKind::Dispatch, format!("canon {name}"));
                self.table_calls.push((n, c, table));
                n
            }
            Some(CoreFuncItem::RefCall) => self.ref_any(),
            None => self.unresolved,
        };
        self.core_func_memo.insert((c, idx), n);
        n
    }

    /// The shared node for calls through a function reference: any escaped function.
    /// Its edges are added once every instance is linked.
    fn ref_any(&mut self) -> u32 {
        match self.ref_any {
            Some(n) => n,
            None => {
                let n = self.node(NodeKind::Dispatch, "ref:any".into());
                self.ref_any = Some(n);
                n
            }
        }
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
                match self.instance_export(c, instance, &name, ComponentExternalKind::Instance) {
                    Some((c2, i2)) => self.instance_func(c2, i2, fname),
                    None => self.unresolved,
                }
            }
            Some(InstanceItem::Unknown) | None => self.unresolved,
        }
    }

    /// The item of kind `kind` exported as `name` by component instance `inst` of context
    /// `c`, as `(context, index in that context's space)`.
    fn instance_export(
        &mut self,
        c: usize,
        inst: u32,
        name: &str,
        kind: ComponentExternalKind,
    ) -> Option<(usize, u32)> {
        let s = &self.scopes[self.ctxs[c].scope];
        match s.instances.get(inst as usize)?.clone() {
            InstanceItem::Bag(items) => items
                .iter()
                .find(|(n, k, _)| n == name && *k == kind)
                .map(|(_, _, i)| (c, *i)),
            InstanceItem::Instantiate { .. } => {
                let cc = self.child(c, inst)?;
                let cs = &self.scopes[self.ctxs[cc].scope];
                cs.exports
                    .iter()
                    .find(|(n, k, _)| n == name && *k == kind)
                    .map(|(_, _, i)| (cc, *i))
            }
            InstanceItem::Alias { instance, name: n2 } => {
                let (c2, i2) =
                    self.instance_export(c, instance, &n2, ComponentExternalKind::Instance)?;
                self.instance_export(c2, i2, name, kind)
            }
            InstanceItem::Import(iname) => {
                let (p, args) = self.ctxs[c].parent.clone()?;
                let (_, _, i) = args
                    .iter()
                    .find(|(n, k, _)| *n == iname && *k == ComponentExternalKind::Instance)?;
                self.instance_export(p, *i, name, kind)
            }
            InstanceItem::Unknown => None,
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

    /// Slot facts of embedded module `m`, shared by its instances.
    fn slots_of(&mut self, m: usize) -> Rc<Slots> {
        if let Some(s) = self.slots.get(&m) {
            return s.clone();
        }
        let s = Rc::new(self.modules[m].0.slots.clone());
        self.slots.insert(m, s.clone());
        s
    }

    /// Links every instance's imports and builds its internal edges.
    fn link_instances(&mut self) {
        // Imports and table identities first: table contents need every instance.
        let mut table_of_local: Vec<Vec<Option<TableId>>> = Vec::new();
        for i in 0..self.insts.len() {
            let m = self.insts[i].module;
            // The module facts outlive the linker: no copies of import names per instance.
            let modules = self.modules;
            let imports = modules[m].0.imports.iter().map(|imp| {
                (
                    &imp.module,
                    &imp.name,
                    matches!(imp.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)),
                )
            });
            // The arguments by name, once per instance (the first of a repeated name wins,
            // as in `arg_instance`).
            let mut args: HashMap<String, u32> = HashMap::new();
            let inst = &self.insts[i];
            let ctx = &self.ctxs[inst.ctx];
            if let CoreInstanceItem::Instantiate { args: list, .. } =
                &self.scopes[ctx.scope].core_instances[inst.k as usize]
            {
                for (n, idx) in list.iter().rev() {
                    args.insert(n.clone(), *idx);
                }
            }
            let mut f = 0u32;
            for (module, name, is_func) in imports {
                if !is_func {
                    continue;
                }
                let from = self.insts[i].base + f;
                f += 1;
                let c = self.insts[i].ctx;
                let target = match args.get(module) {
                    Some(&k) => self.core_export_func(c, k, name),
                    None => self.unresolved,
                };
                self.edge(from, target, 0);
            }
            let ntables = self.modules[m].0.tables.len() as u32;
            let locals: Vec<Option<TableId>> = (0..ntables).map(|t| self.table_of(i, t)).collect();
            let sl = self.slots_of(m);
            // The slot reader must agree with the module facts; if it ever does not, no slot
            // of this module's tables is trusted (fail closed, never silently empty).
            let facts = &self.modules[m].0;
            let active = facts
                .elements
                .iter()
                .filter(|e| e.mode == SegmentMode::Active)
                .count();
            if sl.segments.len() != active || sl.table_init.len() != facts.tables.len() {
                for seg in facts
                    .elements
                    .iter()
                    .filter(|e| e.mode == SegmentMode::Active)
                {
                    if let Some(Some(id)) = seg.table.and_then(|t| locals.get(t as usize)) {
                        let info = self.tables.entry(*id).or_default();
                        info.written = true;
                        let items = seg.functions.iter().map(|f| Slot::Func(*f)).collect();
                        info.segments.push((i, items, seg.table_offset));
                    }
                }
                for id in locals.iter().flatten() {
                    self.tables.entry(*id).or_default().written = true;
                }
            }
            for seg in &sl.segments {
                if let Some(Some(id)) = locals.get(seg.table as usize) {
                    let info = self.tables.entry(*id).or_default();
                    // A global read whose value is not a known constant: anything escaped.
                    info.written |= seg.items.contains(&Slot::Unknown);
                    info.segments.push((i, seg.items.clone(), seg.offset));
                }
            }
            for (t, init) in sl.table_init.iter().enumerate() {
                if let (Some(v), Some(Some(id))) = (init, locals.get(t)) {
                    let info = self.tables.entry(*id).or_default();
                    info.written |= *v == Slot::Unknown;
                    info.init = Some((i, *v));
                }
            }
            let facts = &self.modules[m].0;
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
        let mut escaped: Vec<(u32, Shape)> = Vec::new();
        for k in 0..self.insts.len() {
            let (m, base) = (self.insts[k].module, self.insts[k].base);
            let sl = self.slots_of(m);
            let (facts, types) = &self.modules[m];
            let mut set: BTreeSet<u32> = BTreeSet::new();
            for b in &facts.bodies {
                set.extend(b.ref_funcs.iter().copied());
            }
            for seg in &facts.elements {
                set.extend(seg.functions.iter().copied());
            }
            set.extend(sl.init_funcs.iter().copied());
            set.extend(facts.global_ref_funcs.iter().copied());
            for (_, k, f) in &facts.exports {
                if matches!(k, ExternalKind::Func | ExternalKind::FuncExact) {
                    set.insert(*f);
                }
            }
            escaped.extend(
                set.into_iter()
                    .filter(|f| (*f as usize) < facts.func_types.len())
                    .map(|f| (base + f, shape_of(types, facts.func_types[f as usize]))),
            );
        }
        for (n, shape) in &escaped {
            self.escaped_by_shape
                .entry(shape.clone())
                .or_default()
                .push(*n);
        }
        self.escaped = escaped;
        // Code the linker cannot see (an instance of a module or component from outside) may
        // have been handed a table: then no table's slots are known and any host code may
        // sit in them.
        let opaque = self.opaque;
        if opaque {
            for info in self.tables.values_mut() {
                info.written = true;
            }
        }
        // Shared per table and caller module: instances of one module over one table call
        // the same targets.
        let mut dispatch: HashMap<(TableId, usize, u32), u32> = HashMap::new();
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
                for (j, &(t, ty, offset, _)) in body.indirect.iter().enumerate() {
                    let Some(Some(id)) = locals.get(t as usize).copied() else {
                        let u = self.unresolved;
                        self.edges.push((from, u, offset));
                        continue;
                    };
                    let info = self.tables.get(&id);
                    let precise = !opaque
                        && info
                            .is_none_or(|x| !x.written && x.segments.iter().all(|s| s.2.is_some()));
                    let slots = body.index_sets.get(j).and_then(|s| s.as_ref()?.each());
                    if precise && let Some(slots) = slots {
                        // The slots are settled: call exactly what is there after
                        // instantiation (an index no table offset can reach traps).
                        for k in slots.into_iter().filter_map(|k| i64::try_from(k).ok()) {
                            for target in self.slot_targets(id, k) {
                                self.edges.push((from, target, offset));
                            }
                        }
                        continue;
                    }
                    let key = (id, m, ty);
                    let node = match dispatch.get(&key) {
                        Some(&n) => n,
                        None => {
                            let n = self
                                .node(NodeKind::Dispatch, format!("{label}:table[{t}]:type[{ty}]"));
                            dispatch.insert(key, n);
                            let want = func_type(types, ty).cloned();
                            let mut targets: Vec<u32> = Vec::new();
                            let mut written = false;
                            if let Some(info) = self.tables.get(&id) {
                                targets.extend(self.table_funcs(info));
                                written = info.written;
                            }
                            targets.sort_unstable();
                            targets.dedup();
                            for t in targets {
                                if self.may_match(t, i, ty, want.as_ref()) {
                                    self.edges.push((n, t, 0));
                                }
                            }
                            if written {
                                let e = self.escaped_node(shape_of(types, ty));
                                self.edges.push((n, e, 0));
                            }
                            if opaque {
                                let u = self.unresolved;
                                self.edges.push((n, u, 0));
                            }
                            n
                        }
                    };
                    self.edges.push((from, node, offset));
                }
                if !body.call_refs.is_empty() || !body.resumes.is_empty() {
                    let n = self.ref_any();
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

    /// Every function a table's segments and initialiser put in it (node ids).
    fn table_funcs(&self, info: &TableInfo) -> Vec<u32> {
        let mut out = Vec::new();
        for (si, items, _) in &info.segments {
            let base = self.insts[*si].base;
            out.extend(items.iter().filter_map(|s| match s {
                Slot::Func(f) => Some(base + f),
                _ => None,
            }));
        }
        if let Some((si, Slot::Func(f))) = info.init {
            out.push(self.insts[si].base + f);
        }
        out
    }

    /// What slot `k` of a table that is never written holds after instantiation: the
    /// segments that cover it, else the initialiser.
    fn slot_targets(&self, id: TableId, k: i64) -> Vec<u32> {
        let Some(info) = self.tables.get(&id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut covered = false;
        for (si, items, off) in &info.segments {
            // Offsets come from the binary (64-bit tables): no arithmetic that can overflow.
            let at = i64::try_from(off.unwrap_or(0))
                .ok()
                .and_then(|o| k.checked_sub(o))
                .and_then(|d| usize::try_from(d).ok());
            if let Some(slot) = at.and_then(|d| items.get(d)) {
                covered = true;
                if let Slot::Func(f) = slot {
                    out.push(self.insts[*si].base + f);
                }
            }
        }
        if !covered && let Some((si, Slot::Func(f))) = info.init {
            out.push(self.insts[si].base + f);
        }
        out
    }

    /// The shared node for calls of shape `want` to escaped functions: one per shape, so
    /// many instances and tables cost one edge each instead of one per escaped function.
    fn escaped_node(&mut self, want: Shape) -> u32 {
        if let Some(&n) = self.escaped_nodes.get(&want) {
            return n;
        }
        let name = match &want {
            None => "escaped:any".to_string(),
            Some((p, r)) => format!("escaped:{}->{}", sig(p), sig(r)),
        };
        let n = self.node(NodeKind::Dispatch, name);
        self.escaped_nodes.insert(want.clone(), n);
        let targets: Vec<u32> = match &want {
            None => self.escaped.iter().map(|e| e.0).collect(),
            Some(_) => {
                let mut t = self
                    .escaped_by_shape
                    .get(&want)
                    .cloned()
                    .unwrap_or_default();
                // Signatures with references may match any call: one shared node for them.
                if self.escaped_by_shape.contains_key(&None) {
                    let r = self.escaped_ref_node();
                    t.push(r);
                }
                t
            }
        };
        for t in targets {
            self.edges.push((n, t, 0));
        }
        n
    }

    /// The node for escaped functions whose signature has reference types.
    fn escaped_ref_node(&mut self) -> u32 {
        if let Some(n) = self.escaped_ref {
            return n;
        }
        let n = self.node(NodeKind::Dispatch, "escaped:ref".into());
        self.escaped_ref = Some(n);
        for t in self
            .escaped_by_shape
            .get(&None)
            .cloned()
            .unwrap_or_default()
        {
            self.edges.push((n, t, 0));
        }
        n
    }

    /// Edges added once everything is linked: builtins that call through tables or function
    /// references, and drops of resources defined elsewhere.
    fn finish(&mut self) {
        let opaque = self.opaque;
        for (n, c, table) in std::mem::take(&mut self.table_calls) {
            let s = &self.scopes[self.ctxs[c].scope];
            let id = match s.core_tables.get(table as usize).cloned() {
                Some(CoreTableItem::Alias { instance, name }) => {
                    self.core_export_table(c, instance, &name)
                }
                None => None,
            };
            let Some(id) = id else {
                let u = self.unresolved;
                self.edge(n, u, 0);
                continue;
            };
            let mut targets = Vec::new();
            let mut written = false;
            if let Some(info) = self.tables.get(&id) {
                targets = self.table_funcs(info);
                written = info.written;
            }
            targets.sort_unstable();
            targets.dedup();
            for t in targets {
                self.edge(n, t, 0);
            }
            if written {
                let e = self.escaped_node(None);
                self.edge(n, e, 0);
            }
            if opaque {
                let u = self.unresolved;
                self.edge(n, u, 0);
            }
        }
        if let Some(n) = self.ref_any {
            for i in 0..self.escaped.len() {
                let e = self.escaped[i].0;
                self.edge(n, e, 0);
            }
            if opaque {
                // A function reference may come from an instance the linker cannot see.
                let u = self.unresolved;
                self.edge(n, u, 0);
            }
        }
        for n in std::mem::take(&mut self.foreign_drops) {
            for i in 0..self.destructors.len() {
                let d = self.destructors[i];
                self.edge(n, d, 0);
            }
        }
    }

    /// The instance that function node `target` belongs to.
    fn inst_of(&self, target: u32) -> Option<usize> {
        let k = self
            .insts
            .partition_point(|x| x.base <= target)
            .checked_sub(1)?;
        let x = &self.insts[k];
        (target < x.base + self.modules[x.module].0.func_types.len() as u32).then_some(k)
    }

    /// Whether node `target` (a function of some instance) may be called through type `ty`
    /// of instance `caller`. Across modules types are compared by shape; any reference type
    /// in the signature makes the answer "maybe" (sound over precise).
    fn may_match(&self, target: u32, caller: usize, ty: u32, want: Option<&FuncType>) -> bool {
        let Some(f) = self.nodes[target as usize].function else {
            return true;
        };
        let Some(ti) = self.inst_of(target) else {
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
            // An import may be satisfied by any subtype of its declared type (exact imports
            // are not told apart here: over-approximating is sound).
            let import = f < facts.num_imported_funcs;
            return if import {
                import_may_match(tr, a, b, false)
            } else {
                is_subtype(tr, a, b)
            };
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

/// Signature shape of core type `index` (see [`Shape`]).
fn shape_of(types: &Types, index: u32) -> Shape {
    let f = func_type(types, index)?;
    let all = f.params().iter().chain(f.results());
    if all.clone().any(|v| v.is_reference_type()) {
        return None;
    }
    Some((f.params().into(), f.results().into()))
}

fn sig(v: &[wasmparser::ValType]) -> String {
    let parts: Vec<String> = v.iter().map(|t| t.to_string()).collect();
    format!("[{}]", parts.join(" "))
}

fn func_type(types: &Types, index: u32) -> Option<&FuncType> {
    let tr = types.as_ref();
    if index >= tr.core_type_count_in_module() {
        return None;
    }
    func_of(tr, tr.core_type_at_in_module(index))
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
    witnesses: crate::Witnesses,
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
    reach(resolved, witnesses)
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
        slots: HashMap::new(),
        export_maps: HashMap::new(),
        by_path: scopes
            .iter()
            .enumerate()
            .map(|(i, s)| (s.path.as_str(), i))
            .collect(),
        opaque: false,
        component_starts: Vec::new(),
        table_calls: Vec::new(),
        foreign_drops: Vec::new(),
        ref_any: None,
        escaped: Vec::new(),
        escaped_by_shape: HashMap::new(),
        escaped_nodes: HashMap::new(),
        escaped_ref: None,
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
                // `f` is a path: nested instance names, then the function, joined by `#`.
                for f in funcs {
                    let mut parts: Vec<&str> = f.split('#').collect();
                    let func = parts.pop().unwrap_or_default();
                    let mut at = Some((root_ctx, *index));
                    for p in parts {
                        at = at.and_then(|(c, i)| {
                            l.instance_export(c, i, p, ComponentExternalKind::Instance)
                        });
                    }
                    let n = match at {
                        Some((c, i)) => l.instance_func(c, i, func),
                        None => l.unresolved,
                    };
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
    // The component `start` sections run at instantiation, after the core starts.
    for (c, f) in std::mem::take(&mut l.component_starts) {
        let n = l.func(c, f);
        l.starts.push(n);
    }
    l.finish();
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
fn reach(r: Resolved, witnesses: crate::Witnesses) -> Linked {
    let Resolved {
        graph,
        unresolved,
        terminals,
    } = r;
    let (mut entry_points, shared_reaches, roots) = match witnesses {
        crate::Witnesses::PerEntry => (graph.entry_points(), Vec::new(), None),
        crate::Witnesses::Shared => {
            let (e, s, r) = graph.shared_reaches();
            (e, s, Some(r))
        }
    };
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
    let (call_graph, core) = graph.into_parts();
    Linked {
        entry_points,
        shared_reaches,
        unreachable_imports,
        call_graph,
        reachability: roots.map(|r| crate::Reachability::new(core, r)),
    }
}
