//! Component-level facts: imports and exports with their full WIT names.
//!
//! Until lifts and lowers are traced, a component export is assumed to reach every
//! component import (`unresolved`): an over-approximation, never an empty guess.

use wasmparser::{
    ComponentExternalKind, ComponentTypeRef, Encoding, Payload,
    component_types::ComponentEntityType, types::Types,
};

use crate::capabilities::{CapabilityTable, UNKNOWN_HOST};
use crate::error::Error;
use crate::model::{EntryKind, EntryPoint, Export, ExternKind, Import, Reach};

/// Module name wit-component uses for functions imported at the root of a world.
pub const ROOT_MODULE: &str = "$root";

#[derive(Debug)]
pub(crate) struct ComponentBuilder {
    offset: u64,
    path: String,
    modules: u32,
    components: u32,
    imports: Vec<(String, u64)>,
    exports: Vec<(String, ComponentExternalKind, u32)>,
}

/// A finished component.
#[derive(Debug)]
pub(crate) struct Done {
    pub path: String,
    pub offset: u64,
    pub size: u64,
    pub imports: Vec<Import>,
    pub exports: Vec<Export>,
    pub entry_points: Vec<EntryPoint>,
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
            path,
            modules: 0,
            components: 0,
            imports: Vec::new(),
            exports: Vec::new(),
        }
    }

    /// Path of the next nested module or component.
    pub fn child_path(&mut self, encoding: Encoding) -> String {
        let prefix = if self.path.is_empty() {
            String::new()
        } else {
            format!("{}/", self.path)
        };
        match encoding {
            Encoding::Module => {
                self.modules += 1;
                format!("{prefix}module[{}]", self.modules - 1)
            }
            Encoding::Component => {
                self.components += 1;
                format!("{prefix}component[{}]", self.components - 1)
            }
        }
    }

    pub fn payload(&mut self, payload: &Payload<'_>) -> Result<(), Error> {
        match payload {
            Payload::ComponentImportSection(reader) => {
                for item in reader.clone().into_iter_with_offsets() {
                    let (offset, import) = item?;
                    // Type imports carry no code; only things that can be called or instantiated.
                    if !matches!(import.ty, ComponentTypeRef::Type(_)) {
                        self.imports.push((import.name.name.to_string(), offset));
                    }
                }
            }
            Payload::ComponentExportSection(reader) => {
                for e in reader.clone() {
                    let e = e?;
                    self.exports
                        .push((e.name.name.to_string(), e.kind, e.index));
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
        let mut imports = Vec::new();
        for (name, offset) in &self.imports {
            let Some(item) = types.component_item_for_import(name) else {
                warnings.push(format!(
                    "component import `{name}` has no type; treated as unknown-host"
                ));
                continue;
            };
            let mut push = |module: &str, func: &str, kind: ExternKind, caps: Vec<String>| {
                imports.push(Import {
                    id: format!("{module}#{func}"),
                    module: module.to_string(),
                    name: func.to_string(),
                    kind,
                    capabilities: caps,
                    offset: *offset,
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

        let mut exports: Vec<Export> = self
            .exports
            .iter()
            .map(|(name, kind, index)| Export {
                name: name.clone(),
                kind: kind_of(*kind),
                index: *index,
            })
            .collect();
        exports.sort_by(|a, b| a.name.cmp(&b.name));

        // Entry points: exported functions, directly or inside exported instances.
        let mut entry_names = Vec::new();
        for (name, kind, _) in &self.exports {
            match kind {
                ComponentExternalKind::Func => entry_names.push(name.clone()),
                ComponentExternalKind::Instance => {
                    if let Some(item) = types.component_item_for_export(name)
                        && let ComponentEntityType::Instance(id) = &item.ty
                    {
                        for (func, e) in &types[*id].exports {
                            if let ComponentEntityType::Func(_) = e.ty {
                                entry_names.push(format!("{name}#{func}"));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let mut reaches: Vec<Reach> = Vec::new();
        for imp in &imports {
            for cap in &imp.capabilities {
                reaches.push(Reach {
                    capability: cap.clone(),
                    import: imp.id.clone(),
                    path: vec![imp.id.clone()],
                    offset: Some(imp.offset),
                });
            }
        }
        let mut entry_points: Vec<EntryPoint> = entry_names
            .into_iter()
            .map(|name| {
                let reaches = reaches
                    .iter()
                    .map(|r| {
                        let mut r = r.clone();
                        r.path.insert(0, name.clone());
                        r
                    })
                    .collect::<Vec<_>>();
                EntryPoint {
                    name,
                    kind: EntryKind::Export,
                    reaches,
                    unresolved: true,
                }
            })
            .collect();
        for e in &mut entry_points {
            e.reaches.sort();
        }
        entry_points.sort_by(|a, b| a.name.cmp(&b.name));
        Done {
            path: self.path,
            offset: self.offset,
            size: end.saturating_sub(self.offset),
            imports,
            exports,
            entry_points,
        }
    }
}
