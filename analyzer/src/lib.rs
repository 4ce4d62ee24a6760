//! wasmgate's analyzer: turns the bytes of a WebAssembly core module or component into one
//! serialisable [`Analysis`]: structure, a sound call graph, and for every entry point the
//! capabilities it can reach, each with a shortest witness call path.
//!
//! ```
//! let wasm = wat::parse_str(r#"(module
//!     (import "wasi_snapshot_preview1" "random_get" (func $rand (param i32 i32) (result i32)))
//!     (func (export "roll") (drop (call $rand (i32.const 0) (i32.const 4)))))"#).unwrap();
//! let analysis = wasmgate_analyzer::analyze(&wasm).unwrap();
//! assert_eq!(analysis.entry_points[0].reaches[0].capability, "random");
//! ```
#![warn(missing_docs)]

mod capabilities;
mod component;
mod core;
mod error;
mod graph;
mod index;
mod lengths;
mod link;
mod model;
mod reachability;
mod shared_json;
mod slots;
mod types;
mod wit;

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use wasmparser::{Encoding, Parser, Payload, TypeRef, ValidPayload, Validator, WasmFeatures};

pub use capabilities::{
    CapabilityTable, Classification, DESCRIPTOR_CAPABILITIES, Narrow, Produces, Reentry,
    UNKNOWN_HOST, glob_match, glob_units, strip_version,
};
pub use core::FEATURE_NAMES;
pub use error::Error;
pub use graph::{ELIDED, HOST_REENTRY_NODE, UNKNOWN_HOST_NODE};
pub use model::*;
pub use reachability::Reachability;
pub use shared_json::SharedJson;

use crate::component::ComponentBuilder;
use crate::core::{ModuleBuilder, ModuleFacts};

/// How [`analyze_with`] reports the witnesses of what entry points reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Witnesses {
    /// Schema 1: every entry point's `reaches` holds one shortest witness per capability.
    /// Output grows with entry points x capabilities (a million paths for a 75,000-export
    /// Emscripten main module).
    #[default]
    PerEntry,
    /// Schema 2: `reaches` stay empty; `shared_reaches` (beside the entry points) holds one
    /// witness per (capability, import) with the entry points that share it. Same capability
    /// sets and imports as `PerEntry`; each group's witness is the `PerEntry` witness of its
    /// entry point nearest to the import. Cost and size follow the graph, not the pairs.
    Shared,
}

/// Analyses a core module or component under the default options: sound host assumptions
/// and a witness per entry point and capability ([`Witnesses::PerEntry`]).
pub fn analyze(bytes: &[u8]) -> Result<Analysis, Error> {
    analyze_with(bytes, Options::default())
}

/// Analyses a core module or component under `options` (the assumptions are recorded in
/// the result; `options.witnesses` chooses the witness form and schema version).
pub fn analyze_with(bytes: &[u8], options: Options) -> Result<Analysis, Error> {
    let table = CapabilityTable::builtin()?;
    // Hashing a 30 MB file is a few percent of the work: do it beside the parse.
    let (sha256, result) = rayon::join(
        || hex(&Sha256::digest(bytes)),
        || parse(bytes, table, options),
    );
    let mut analysis = result?;
    analysis.sha256 = sha256;
    lengths::fill(&mut analysis, bytes);
    Ok(analysis)
}

/// Parses, validates and analyses; `sha256` is filled in by the caller.
fn parse(
    bytes: &[u8],
    table: &'static CapabilityTable,
    options: Options,
) -> Result<Analysis, Error> {
    let witnesses = options.witnesses;
    let schema_version = match witnesses {
        Witnesses::PerEntry => SCHEMA_VERSION,
        Witnesses::Shared => SCHEMA_VERSION_SHARED,
    };
    let sha256 = String::new();
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut result: Option<Analysis> = None;
    let mut embedded: Vec<EmbeddedModule> = Vec::new();
    let mut nested: Vec<EmbeddedComponent> = Vec::new();
    // Facts kept for linking, parallel to `embedded`, and every component scope.
    let mut linkable: Vec<(ModuleFacts, wasmparser::types::Types)> = Vec::new();
    let mut scopes: Vec<component::Scope> = Vec::new();
    let mut warnings = Vec::new();

    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload?;
        let valid = validator.payload(&payload)?;
        match &payload {
            Payload::Version {
                encoding, range, ..
            } => {
                let path = match stack.last_mut() {
                    None => String::new(),
                    Some(Frame::Component(c)) => c.child_path(*encoding),
                    Some(Frame::Module(..)) => {
                        return Err(Error::Invalid {
                            offset: range.start,
                            message: "a core module cannot nest another binary".into(),
                        });
                    }
                };
                stack.push(match encoding {
                    Encoding::Module => {
                        Frame::Module(Box::new(ModuleBuilder::new(range.start)), path)
                    }
                    Encoding::Component => {
                        Frame::Component(Box::new(ComponentBuilder::new(range.start, path)))
                    }
                });
            }
            Payload::CodeSectionEntry(body) => {
                if let Some(Frame::Module(m, _)) = stack.last_mut() {
                    m.body_range(body.range().start, body.range().end);
                    if let ValidPayload::Func(func, body) = valid {
                        m.body(func, body);
                    }
                }
            }
            Payload::End(end) => {
                let ValidPayload::End(types) = valid else {
                    return Err(Error::Invalid {
                        offset: *end,
                        message: "unexpected end".into(),
                    });
                };
                match stack.pop() {
                    Some(Frame::Module(m, path)) => {
                        let mut facts = m.finish(*end, &types)?;
                        facts.slots = bytes
                            .get(facts.offset as usize..*end as usize)
                            .map(slots::read)
                            .unwrap_or_default();
                        index::resolve(&mut facts, bytes);
                        let ModuleParts {
                            module,
                            imports,
                            exports,
                            entry_points,
                            shared_reaches,
                            unreachable_imports,
                            reachability,
                        } = finish_module(&mut facts, &types, table, !stack.is_empty(), options);
                        if stack.is_empty() {
                            result = Some(Analysis {
                                schema_version,
                                kind: BinaryKind::Module,
                                sha256: sha256.clone(),
                                size: bytes.len() as u64,
                                capabilities_version: table.version().to_string(),
                                options,
                                imports,
                                exports,
                                entry_points,
                                unreachable_imports,
                                shared_reaches,
                                module: Some(module),
                                component: None,
                                warnings: Vec::new(),
                                reachability: reachability.map(std::sync::Arc::new),
                            });
                        } else {
                            embedded.push(EmbeddedModule {
                                path,
                                imports,
                                exports,
                                entry_points,
                                shared_reaches,
                                unreachable_imports,
                                module,
                            });
                            linkable.push((facts, types));
                            if let Some(Frame::Component(parent)) = stack.last_mut() {
                                parent.add_module(linkable.len() - 1);
                            }
                        }
                    }
                    Some(Frame::Component(c)) => {
                        let done = c.finish(*end, &types, table, &mut warnings);
                        scopes.push(done.scope);
                        let scope = scopes.len() - 1;
                        if stack.is_empty() {
                            let exports: Vec<_> = scopes[scope]
                                .exports
                                .iter()
                                .map(|(name, kind, index)| {
                                    (
                                        name.clone(),
                                        *kind,
                                        *index,
                                        component::exported_instance_funcs(&types, name),
                                    )
                                })
                                .collect();
                            let linked = link::link(
                                &scopes,
                                scope,
                                &linkable,
                                &done.imports,
                                &exports,
                                witnesses,
                            );
                            let wit = match wit::world(bytes) {
                                Ok(text) => Some(text),
                                Err(e) => {
                                    warnings.push(format!("WIT world not decoded: {e}"));
                                    None
                                }
                            };
                            let mut component = Component {
                                wit,
                                modules: std::mem::take(&mut embedded),
                                components: std::mem::take(&mut nested),
                                call_graph: linked.call_graph,
                                custom_sections: done.custom_sections,
                                producers: done.producers,
                            };
                            component.components.sort_by_key(|c| c.offset);
                            result = Some(Analysis {
                                schema_version,
                                kind: BinaryKind::Component,
                                sha256: sha256.clone(),
                                size: bytes.len() as u64,
                                capabilities_version: table.version().to_string(),
                                options,
                                imports: done.imports,
                                exports: done.exports,
                                entry_points: linked.entry_points,
                                unreachable_imports: linked.unreachable_imports,
                                shared_reaches: linked.shared_reaches,
                                module: None,
                                component: Some(component),
                                warnings: std::mem::take(&mut warnings),
                                reachability: linked.reachability.map(std::sync::Arc::new),
                            });
                        } else {
                            if let Some(Frame::Component(parent)) = stack.last_mut() {
                                parent.add_component(scope);
                            }
                            nested.push(EmbeddedComponent {
                                path: done.path,
                                offset: done.offset,
                                size: done.size,
                                imports: done.imports,
                                exports: done.exports,
                            });
                        }
                    }
                    None => {}
                }
            }
            _ => match stack.last_mut() {
                Some(Frame::Module(m, _)) => m.payload(&payload)?,
                Some(Frame::Component(c)) => c.payload(&payload)?,
                None => {}
            },
        }
    }
    result.ok_or(Error::Invalid {
        offset: bytes.len() as u64,
        message: "unexpected end of input".into(),
    })
}

/// What is being parsed at one nesting level. Both are boxed: frames move on and off a stack.
enum Frame<'a> {
    Module(Box<ModuleBuilder<'a>>, String),
    Component(Box<ComponentBuilder>),
}

/// Turns module facts into the public model: imports, exports, graph and entry points.
/// `in_component`: the module is part of a component and shares its descriptors with the
/// other modules there.
fn finish_module(
    facts: &mut ModuleFacts,
    types: &wasmparser::types::Types,
    table: &CapabilityTable,
    in_component: bool,
    options: Options,
) -> ModuleParts {
    let classes: Vec<Option<(Classification, Reentry)>> = facts
        .imports
        .iter()
        .map(|i| match i.ty {
            TypeRef::Func(_) | TypeRef::FuncExact(_) => Some((
                table.classify(&i.module, &i.name),
                table.reentry(&i.module, &i.name),
            )),
            _ => None,
        })
        .collect();
    let imports: Vec<Import> = facts
        .imports
        .iter()
        .zip(&classes)
        .map(|(i, c)| Import {
            id: import_id(&i.module, &i.name),
            module: i.module.clone(),
            name: i.name.clone(),
            kind: core::type_ref_kind(&i.ty),
            capabilities: c
                .as_ref()
                .map(|(c, _)| c.capabilities.clone())
                .unwrap_or_default(),
            offset: i.offset,
            length: None,
        })
        .collect();
    let mut exports: Vec<Export> = facts
        .exports
        .iter()
        .map(|(name, kind, index)| Export {
            name: name.clone(),
            kind: core::extern_kind(*kind),
            index: *index,
        })
        .collect();
    exports.sort_by(|a, b| a.name.cmp(&b.name));

    let graph = graph::build(facts, types, &classes, in_component, options);
    if !in_component {
        // Only the graph reads the bodies and names, and only a component links its modules
        // again: free them before the reachability searches (a tenth of the peak on large
        // modules).
        facts.bodies = Vec::new();
        facts.names = HashMap::new();
    }
    let (entry_points, shared_reaches, roots) = match options.witnesses {
        Witnesses::PerEntry => (graph.entry_points(), Vec::new(), None),
        Witnesses::Shared => {
            let (e, s, r) = graph.shared_reaches();
            (e, s, Some(r))
        }
    };

    let tr = types.as_ref();
    let types_out = (0..tr.core_type_count_in_module())
        .map(|i| TypeInfo {
            index: i,
            text: tr[tr.core_type_at_in_module(i)].to_string(),
        })
        .collect();
    let functions = (0..facts.func_types.len() as u32)
        .map(|i| {
            let defined = i.checked_sub(facts.num_imported_funcs);
            let range = defined.and_then(|d| facts.body_ranges.get(d as usize));
            Function {
                index: i,
                name: graph.nodes[i as usize].name.clone(),
                type_index: facts.func_types[i as usize],
                import: defined
                    .is_none()
                    .then(|| graph.nodes[i as usize].name.clone()),
                body_offset: range.map(|r| r.0),
                body_size: range.map(|r| r.1),
            }
        })
        .collect();
    let mut producers = facts.producers.clone();
    producers.sort();
    let unreachable_imports = graph.unreachable_imports();
    let (call_graph, core) = graph.into_parts();
    let module = CoreModule {
        offset: facts.offset,
        size: facts.size,
        types: types_out,
        functions,
        tables: facts.tables.clone(),
        memories: facts.memories.clone(),
        globals: facts.globals.clone(),
        elements: facts.elements.clone(),
        data: facts.data.clone(),
        start: facts.start,
        custom_sections: facts.custom_sections.clone(),
        producers,
        features: facts.features.iter().cloned().collect(),
        call_graph,
    };
    ModuleParts {
        reachability: roots.map(|r| Reachability::new(core, r)),
        module,
        imports,
        exports,
        entry_points,
        shared_reaches,
        unreachable_imports,
    }
}

/// The public pieces of one analysed core module.
struct ModuleParts {
    module: CoreModule,
    imports: Vec<Import>,
    exports: Vec<Export>,
    entry_points: Vec<EntryPoint>,
    shared_reaches: Vec<SharedReach>,
    unreachable_imports: Vec<String>,
    /// Schema 2 only: per-entry witnesses on demand.
    reachability: Option<Reachability>,
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
