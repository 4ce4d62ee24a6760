//! Component-level facts: imports and exports with their full WIT names, and every index
//! space item (core modules, core instances, core functions, tables, component functions,
//! instances, nested components) in definition order, so that `link` can follow a component
//! export through `lift`, core instances, `lower` and nested components to the imports.

use wasmparser::{
    CanonicalFunction, CanonicalOption, ComponentAlias, ComponentExternalKind, ComponentInstance,
    ComponentOuterAliasKind, ComponentType, ComponentTypeRef, Encoding, ExternalKind, Instance,
    Payload, component_types::ComponentEntityType, types::Types,
};

use crate::capabilities::{CapabilityTable, UNKNOWN_HOST};
use crate::error::Error;
use crate::model::{CustomSection, Export, ExternKind, Import, Producer, import_id};

/// Module name wit-component uses for functions imported at the root of a world.
pub const ROOT_MODULE: &str = "$root";

/// A core module or a component in a component's index space: defined in this binary (index
/// into the embedded modules, or into the component scopes), imported (an instantiation
/// argument of a nested component, else host code), exported by a component instance, or
/// item `index` of the component `count` levels out (lexically).
#[derive(Debug, Clone)]
pub(crate) enum Definition {
    Here(usize),
    Import(String),
    Alias { instance: u32, name: String },
    Outer { count: u32, index: u32 },
    Unknown,
}

/// A core module item ([`Definition::Here`]: index into the embedded modules).
pub(crate) type ModuleItem = Definition;
/// A component item ([`Definition::Here`]: index into the component scopes).
pub(crate) type ComponentItem = Definition;

#[derive(Debug, Clone)]
pub(crate) enum CoreInstanceItem {
    Instantiate {
        module: u32,
        args: Vec<(String, u32)>,
    },
    /// `(name, kind, index)` of a bag of core items.
    Bag(Vec<(String, ExternalKind, u32)>),
}

#[derive(Debug, Clone)]
pub(crate) enum CoreFuncItem {
    Alias {
        instance: u32,
        name: String,
    },
    /// A component function lowered into a core function; the host calls `realloc` back.
    Lower {
        func: u32,
        realloc: Option<u32>,
    },
    /// A canonical builtin without authority of its own (`task.return`, `resource.rep`...),
    /// with the core functions its options let the host call back.
    Builtin {
        name: String,
        callbacks: Vec<u32>,
    },
    /// `resource.drop`: dropping an owned handle runs the resource's destructor right away.
    /// `Some` when the resource is defined in this component (its destructor, if any);
    /// `None` when it comes from elsewhere: then any destructor in the binary may run.
    Drop(Option<Vec<u32>>),
    /// A builtin that runs a function it reads from core table `table` (`thread.new-indirect`,
    /// `thread.spawn-indirect`).
    TableCall {
        name: String,
        table: u32,
    },
    /// A builtin that runs a function reference it is given (`thread.spawn-ref`).
    RefCall,
}

#[derive(Debug, Clone)]
pub(crate) enum CoreTableItem {
    Alias { instance: u32, name: String },
}

#[derive(Debug, Clone)]
pub(crate) enum FuncItem {
    Import(String),
    Alias { instance: u32, name: String },
    Lift { core: u32, callbacks: Vec<u32> },
    Unknown,
}

#[derive(Debug, Clone)]
pub(crate) enum InstanceItem {
    Import(String),
    Alias {
        instance: u32,
        name: String,
    },
    Instantiate {
        component: u32,
        args: Vec<(String, ComponentExternalKind, u32)>,
    },
    Bag(Vec<(String, ComponentExternalKind, u32)>),
    Unknown,
}

/// Everything `link` needs about one component (the top level or a nested one).
#[derive(Debug, Default, Clone)]
pub(crate) struct Scope {
    pub path: String,
    pub modules: Vec<ModuleItem>,
    pub core_instances: Vec<CoreInstanceItem>,
    pub core_funcs: Vec<CoreFuncItem>,
    pub core_tables: Vec<CoreTableItem>,
    pub funcs: Vec<FuncItem>,
    pub instances: Vec<InstanceItem>,
    pub components: Vec<ComponentItem>,
    /// `(name, kind, index)` in export order.
    pub exports: Vec<(String, ComponentExternalKind, u32)>,
    /// Resource destructors (core function indices): the host calls them on drop.
    pub destructors: Vec<u32>,
    /// Instance names per core instance index, from the `component-name` section.
    pub core_instance_names: Vec<(u32, String)>,
    /// Component functions the `start` section calls at instantiation.
    pub start: Vec<u32>,
    /// `resource.drop` builtins still to resolve: `(core func index, resource type index)`.
    drops: Vec<(usize, u32)>,
    /// Resources defined here: `(type index, destructor)`.
    resources: Vec<(u32, Option<u32>)>,
    /// Size of the component type index space so far.
    type_count: u32,
}

#[derive(Debug)]
pub(crate) struct ComponentBuilder {
    offset: u64,
    scope: Scope,
    nested_modules: u32,
    nested_components: u32,
    imports: Vec<(String, u64)>,
    custom_sections: Vec<CustomSection>,
    producers: Vec<Producer>,
}

/// A finished component.
#[derive(Debug)]
pub(crate) struct Done {
    pub path: String,
    pub offset: u64,
    pub size: u64,
    pub imports: Vec<Import>,
    pub exports: Vec<Export>,
    pub scope: Scope,
    /// This component's own custom sections and `producers` entries (sorted).
    pub custom_sections: Vec<CustomSection>,
    pub producers: Vec<Producer>,
}

fn kind_of(k: ComponentExternalKind) -> ExternKind {
    match k {
        ComponentExternalKind::Module => ExternKind::Module,
        ComponentExternalKind::Func => ExternKind::Func,
        ComponentExternalKind::Value => ExternKind::Value,
        ComponentExternalKind::Type => ExternKind::Type,
        ComponentExternalKind::Instance => ExternKind::Instance,
        ComponentExternalKind::Component => ExternKind::Component,
    }
}

impl ComponentBuilder {
    pub fn new(offset: u64, path: String) -> Self {
        ComponentBuilder {
            offset,
            scope: Scope {
                path,
                ..Default::default()
            },
            nested_modules: 0,
            nested_components: 0,
            imports: Vec::new(),
            custom_sections: Vec::new(),
            producers: Vec::new(),
        }
    }

    /// Path of the next nested module or component.
    pub fn child_path(&mut self, encoding: Encoding) -> String {
        let p = &self.scope.path;
        let prefix = if p.is_empty() {
            String::new()
        } else {
            format!("{p}/")
        };
        match encoding {
            Encoding::Module => {
                self.nested_modules += 1;
                format!("{prefix}module[{}]", self.nested_modules - 1)
            }
            Encoding::Component => {
                self.nested_components += 1;
                format!("{prefix}component[{}]", self.nested_components - 1)
            }
        }
    }

    /// A nested module finished: it takes the next core module index.
    pub fn add_module(&mut self, embedded: usize) {
        self.scope.modules.push(Definition::Here(embedded));
    }

    /// A nested component finished: it takes the next component index.
    pub fn add_component(&mut self, scope: usize) {
        self.scope.components.push(Definition::Here(scope));
    }

    pub fn payload(&mut self, payload: &Payload<'_>) -> Result<(), Error> {
        let s = &mut self.scope;
        match payload {
            Payload::ComponentImportSection(reader) => {
                for item in reader.clone().into_iter_with_offsets() {
                    let (offset, import) = item?;
                    let name = import.name.name.to_string();
                    match import.ty {
                        ComponentTypeRef::Module(_) => {
                            s.modules.push(Definition::Import(name.clone()))
                        }
                        ComponentTypeRef::Func(_) => s.funcs.push(FuncItem::Import(name.clone())),
                        ComponentTypeRef::Instance(_) => {
                            s.instances.push(InstanceItem::Import(name.clone()))
                        }
                        ComponentTypeRef::Component(_) => {
                            s.components.push(Definition::Import(name.clone()))
                        }
                        ComponentTypeRef::Type(_) => {
                            s.type_count += 1;
                            continue;
                        }
                        ComponentTypeRef::Value(_) => continue,
                    }
                    self.imports.push((name, offset));
                }
            }
            Payload::ComponentExportSection(reader) => {
                for e in reader.clone() {
                    let e = e?;
                    // An export also adds an item to its index space, equal to the exported one.
                    match e.kind {
                        ComponentExternalKind::Func => {
                            reindex(&mut s.funcs, e.index, FuncItem::Unknown)
                        }
                        ComponentExternalKind::Instance => {
                            reindex(&mut s.instances, e.index, InstanceItem::Unknown)
                        }
                        ComponentExternalKind::Component => {
                            reindex(&mut s.components, e.index, Definition::Unknown)
                        }
                        ComponentExternalKind::Module => {
                            reindex(&mut s.modules, e.index, Definition::Unknown)
                        }
                        ComponentExternalKind::Type => s.type_count += 1,
                        ComponentExternalKind::Value => {}
                    }
                    s.exports.push((e.name.name.to_string(), e.kind, e.index));
                }
            }
            Payload::ComponentAliasSection(reader) => {
                for a in reader.clone() {
                    match a? {
                        ComponentAlias::InstanceExport {
                            kind,
                            instance_index,
                            name,
                        } => {
                            let name = name.to_string();
                            match kind {
                                ComponentExternalKind::Func => s.funcs.push(FuncItem::Alias {
                                    instance: instance_index,
                                    name,
                                }),
                                ComponentExternalKind::Instance => {
                                    s.instances.push(InstanceItem::Alias {
                                        instance: instance_index,
                                        name,
                                    })
                                }
                                ComponentExternalKind::Component => {
                                    s.components.push(Definition::Alias {
                                        instance: instance_index,
                                        name,
                                    })
                                }
                                ComponentExternalKind::Module => {
                                    s.modules.push(Definition::Alias {
                                        instance: instance_index,
                                        name,
                                    })
                                }
                                ComponentExternalKind::Type => s.type_count += 1,
                                ComponentExternalKind::Value => {}
                            }
                        }
                        ComponentAlias::CoreInstanceExport {
                            kind,
                            instance_index,
                            name,
                        } => {
                            let name = name.to_string();
                            match kind {
                                ExternalKind::Func | ExternalKind::FuncExact => {
                                    s.core_funcs.push(CoreFuncItem::Alias {
                                        instance: instance_index,
                                        name,
                                    })
                                }
                                ExternalKind::Table => s.core_tables.push(CoreTableItem::Alias {
                                    instance: instance_index,
                                    name,
                                }),
                                _ => {}
                            }
                        }
                        ComponentAlias::Outer { kind, count, index } => match kind {
                            ComponentOuterAliasKind::CoreModule => {
                                s.modules.push(Definition::Outer { count, index })
                            }
                            ComponentOuterAliasKind::Component => {
                                s.components.push(Definition::Outer { count, index })
                            }
                            ComponentOuterAliasKind::Type => s.type_count += 1,
                            ComponentOuterAliasKind::CoreType => {}
                        },
                    }
                }
            }
            Payload::InstanceSection(reader) => {
                for i in reader.clone() {
                    s.core_instances.push(match i? {
                        Instance::Instantiate { module_index, args } => {
                            CoreInstanceItem::Instantiate {
                                module: module_index,
                                args: args.iter().map(|a| (a.name.to_string(), a.index)).collect(),
                            }
                        }
                        Instance::FromExports(exports) => CoreInstanceItem::Bag(
                            exports
                                .iter()
                                .map(|e| (e.name.to_string(), e.kind, e.index))
                                .collect(),
                        ),
                    });
                }
            }
            Payload::ComponentInstanceSection(reader) => {
                for i in reader.clone() {
                    s.instances.push(match i? {
                        ComponentInstance::Instantiate {
                            component_index,
                            args,
                        } => InstanceItem::Instantiate {
                            component: component_index,
                            args: args
                                .iter()
                                .map(|a| (a.name.to_string(), a.kind, a.index))
                                .collect(),
                        },
                        ComponentInstance::FromExports(exports) => InstanceItem::Bag(
                            exports
                                .iter()
                                .map(|e| (e.name.name.to_string(), e.kind, e.index))
                                .collect(),
                        ),
                    });
                }
            }
            Payload::ComponentCanonicalSection(reader) => {
                for c in reader.clone() {
                    match c? {
                        CanonicalFunction::Lift {
                            core_func_index,
                            options,
                            ..
                        } => {
                            let callbacks = callbacks_of(&options);
                            s.funcs.push(FuncItem::Lift {
                                core: core_func_index,
                                callbacks,
                            });
                        }
                        CanonicalFunction::Lower {
                            func_index,
                            options,
                        } => {
                            let realloc = options.iter().find_map(|o| match o {
                                CanonicalOption::Realloc(f) => Some(*f),
                                _ => None,
                            });
                            s.core_funcs.push(CoreFuncItem::Lower {
                                func: func_index,
                                realloc,
                            });
                        }
                        CanonicalFunction::ResourceDrop { resource } => {
                            s.drops.push((s.core_funcs.len(), resource));
                            s.core_funcs.push(CoreFuncItem::Drop(None));
                        }
                        CanonicalFunction::ThreadSpawnRef { .. } => {
                            s.core_funcs.push(CoreFuncItem::RefCall);
                        }
                        CanonicalFunction::ThreadSpawnIndirect { table_index, .. } => {
                            s.core_funcs.push(CoreFuncItem::TableCall {
                                name: "thread.spawn-indirect".into(),
                                table: table_index,
                            });
                        }
                        CanonicalFunction::ThreadNewIndirect { table_index, .. } => {
                            s.core_funcs.push(CoreFuncItem::TableCall {
                                name: "thread.new-indirect".into(),
                                table: table_index,
                            });
                        }
                        // Listed one by one, no wildcard: a builtin added to wasmparser does not
                        // compile until someone decides whether it can run guest code.
                        c @ (CanonicalFunction::ResourceNew { .. }
                        | CanonicalFunction::ResourceRep { .. }
                        | CanonicalFunction::ThreadAvailableParallelism
                        | CanonicalFunction::BackpressureInc
                        | CanonicalFunction::BackpressureDec
                        | CanonicalFunction::TaskReturn { .. }
                        | CanonicalFunction::TaskCancel
                        | CanonicalFunction::ContextGet { .. }
                        | CanonicalFunction::ContextSet { .. }
                        | CanonicalFunction::ThreadYield
                        | CanonicalFunction::SubtaskDrop
                        | CanonicalFunction::SubtaskCancel { .. }
                        | CanonicalFunction::StreamNew { .. }
                        | CanonicalFunction::StreamRead { .. }
                        | CanonicalFunction::StreamWrite { .. }
                        | CanonicalFunction::StreamForward { .. }
                        | CanonicalFunction::StreamCancelRead { .. }
                        | CanonicalFunction::StreamCancelWrite { .. }
                        | CanonicalFunction::StreamDropReadable { .. }
                        | CanonicalFunction::StreamDropWritable { .. }
                        | CanonicalFunction::FutureNew { .. }
                        | CanonicalFunction::FutureRead { .. }
                        | CanonicalFunction::FutureWrite { .. }
                        | CanonicalFunction::FutureForward { .. }
                        | CanonicalFunction::FutureCancelRead { .. }
                        | CanonicalFunction::FutureCancelWrite { .. }
                        | CanonicalFunction::FutureDropReadable { .. }
                        | CanonicalFunction::FutureDropWritable { .. }
                        | CanonicalFunction::ErrorContextNew { .. }
                        | CanonicalFunction::ErrorContextDebugMessage { .. }
                        | CanonicalFunction::ErrorContextDrop
                        | CanonicalFunction::WaitableSetNew
                        | CanonicalFunction::WaitableSetWait { .. }
                        | CanonicalFunction::WaitableSetPoll { .. }
                        | CanonicalFunction::WaitableSetDrop
                        | CanonicalFunction::WaitableJoin
                        | CanonicalFunction::ThreadIndex
                        | CanonicalFunction::ThreadResumeLater
                        | CanonicalFunction::ThreadSuspend
                        | CanonicalFunction::ThreadSuspendThenResume
                        | CanonicalFunction::ThreadYieldThenResume
                        | CanonicalFunction::ThreadSuspendThenPromote
                        | CanonicalFunction::ThreadYieldThenPromote) => {
                            // No authority of their own; whatever options they carry
                            // (`realloc`...) the host may call back while they run.
                            let options: &[CanonicalOption] = match &c {
                                CanonicalFunction::TaskReturn { options, .. }
                                | CanonicalFunction::StreamRead { options, .. }
                                | CanonicalFunction::StreamWrite { options, .. }
                                | CanonicalFunction::FutureRead { options, .. }
                                | CanonicalFunction::FutureWrite { options, .. }
                                | CanonicalFunction::ErrorContextNew { options }
                                | CanonicalFunction::ErrorContextDebugMessage { options } => {
                                    options
                                }
                                _ => &[],
                            };
                            let name = format!("{c:?}");
                            let name = name.split([' ', '{', '(']).next().unwrap_or("builtin");
                            s.core_funcs.push(CoreFuncItem::Builtin {
                                name: name.to_string(),
                                callbacks: callbacks_of(options),
                            });
                        }
                    }
                }
            }
            Payload::ComponentTypeSection(reader) => {
                for t in reader.clone() {
                    if let ComponentType::Resource { dtor, .. } = t? {
                        s.destructors.extend(dtor);
                        s.resources.push((s.type_count, dtor));
                    }
                    s.type_count += 1;
                }
            }
            Payload::ComponentStartSection { start, .. } => s.start.push(start.func_index),
            Payload::CustomSection(c) => {
                self.custom_sections
                    .push(CustomSection::new(c.name(), c.data(), c.data_offset()));
                match c.as_known() {
                    wasmparser::KnownCustom::ComponentName(names) => {
                        for n in names.into_iter().flatten() {
                            if let wasmparser::ComponentName::CoreInstances(map) = n {
                                for naming in map.into_iter().flatten() {
                                    s.core_instance_names
                                        .push((naming.index, naming.name.to_string()));
                                }
                            }
                        }
                    }
                    wasmparser::KnownCustom::Producers(p) => {
                        crate::core::producers(p, &mut self.producers)
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub fn finish(
        self,
        end: u64,
        types: &Types,
        table: &CapabilityTable,
        warnings: &mut Vec<String>,
    ) -> Done {
        let types = types.as_ref();
        let mut scope = self.scope;
        // Which resource each `resource.drop` drops, by resource identity.
        let resource_of = |t: u32| match (t < types.component_type_count())
            .then(|| types.component_any_type_at(t))?
        {
            wasmparser::component_types::ComponentAnyTypeId::Resource(r) => Some(r.resource()),
            _ => None,
        };
        let local: Vec<_> = scope
            .resources
            .iter()
            .filter_map(|(t, d)| Some((resource_of(*t)?, *d)))
            .collect();
        // Should the type count above ever drift from the validator's, a definition would
        // not resolve to a resource: then treat every drop as foreign (any destructor).
        let local = if local.len() == scope.resources.len() {
            local
        } else {
            Vec::new()
        };
        for (k, t) in std::mem::take(&mut scope.drops) {
            if let Some(r) = resource_of(t)
                && let Some((_, d)) = local.iter().find(|(x, _)| *x == r)
            {
                scope.core_funcs[k] = CoreFuncItem::Drop(Some(d.iter().copied().collect()));
            }
        }
        let mut imports = Vec::new();
        for (name, offset) in &self.imports {
            let Some(item) = types.component_item_for_import(name) else {
                warnings.push(format!("component import `{name}` has no type"));
                continue;
            };
            let mut push = |module: &str, func: &str, kind: ExternKind, caps: Vec<String>| {
                imports.push(Import {
                    id: import_id(module, func),
                    module: module.to_string(),
                    name: func.to_string(),
                    kind,
                    capabilities: caps,
                    offset: *offset,
                    length: None,
                })
            };
            match &item.ty {
                ComponentEntityType::Instance(id) => {
                    for (func, export) in &types[*id].exports {
                        if let ComponentEntityType::Func(_) = export.ty {
                            let caps = table.classify(name, func).capabilities;
                            push(name, func, ExternKind::Func, caps);
                        }
                    }
                }
                ComponentEntityType::Func(_) => {
                    let caps = table.classify(ROOT_MODULE, name).capabilities;
                    push(ROOT_MODULE, name, ExternKind::Func, caps);
                }
                // An imported module or component runs with whatever it is given: unknown.
                ComponentEntityType::Module(_) => {
                    push(name, "", ExternKind::Module, vec![UNKNOWN_HOST.into()])
                }
                ComponentEntityType::Component(_) => {
                    push(name, "", ExternKind::Component, vec![UNKNOWN_HOST.into()])
                }
                ComponentEntityType::Value(_) => push(name, "", ExternKind::Value, Vec::new()),
                ComponentEntityType::Type { .. } => {}
            }
        }
        imports.sort_by(|a, b| a.id.cmp(&b.id));

        let mut exports: Vec<Export> = scope
            .exports
            .iter()
            .map(|(name, kind, index)| Export {
                name: name.clone(),
                kind: kind_of(*kind),
                index: *index,
            })
            .collect();
        exports.sort_by(|a, b| a.name.cmp(&b.name));
        Done {
            path: scope.path.clone(),
            offset: self.offset,
            size: end.saturating_sub(self.offset),
            imports,
            exports,
            scope,
            custom_sections: self.custom_sections,
            producers: {
                let mut p = self.producers;
                p.sort();
                p
            },
        }
    }
}

/// Core functions canonical options name for the host to call back.
fn callbacks_of(options: &[CanonicalOption]) -> Vec<u32> {
    options
        .iter()
        .filter_map(|o| match o {
            CanonicalOption::Realloc(f)
            | CanonicalOption::PostReturn(f)
            | CanonicalOption::Callback(f) => Some(*f),
            _ => None,
        })
        .collect()
}

/// Pushes a copy of item `index` (or `unknown` when out of range): exports add to their
/// index space an item equal to the one exported.
fn reindex<T: Clone>(space: &mut Vec<T>, index: u32, unknown: T) {
    let item = space.get(index as usize).cloned().unwrap_or(unknown);
    space.push(item);
}

/// Functions of an exported instance, from the component's types, including those of
/// instances it exports in turn: each is a path of instance names ending in the function
/// name, joined by `#` (which no interface or function name contains).
pub(crate) fn exported_instance_funcs(types: &Types, export: &str) -> Vec<String> {
    let types = types.as_ref();
    let mut out = Vec::new();
    let Some(item) = types.component_item_for_export(export) else {
        return out;
    };
    let ComponentEntityType::Instance(id) = &item.ty else {
        return out;
    };
    // Iterative: nesting depth comes from the binary. The validator bounds total type size,
    // so the expansion stays bounded too.
    let mut work = vec![(String::new(), *id)];
    while let Some((prefix, id)) = work.pop() {
        for (name, e) in &types[id].exports {
            match e.ty {
                ComponentEntityType::Func(_) => out.push(format!("{prefix}{name}")),
                ComponentEntityType::Instance(inner) => {
                    work.push((format!("{prefix}{name}#"), inner))
                }
                _ => {}
            }
        }
    }
    out
}
