//! The serialisable description of a binary that every other part of wasmgate reads.
//!
//! `Analysis` is the JSON contract of `wasmgate inspect --format json`: fields are only added,
//! never renamed, and `SCHEMA_VERSION` is bumped when that promise has to be broken.
//! Every array is sorted so that two runs over the same input produce identical bytes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Version of the JSON shape of [`Analysis`] with one witness per (entry point, capability).
pub const SCHEMA_VERSION: u32 = 1;

/// Version of the compact JSON shape: entry points without `reaches`, and one witness per
/// (capability, import) in `shared_reaches` (see [`crate::Witnesses::Shared`]).
pub const SCHEMA_VERSION_SHARED: u32 = 2;

/// What the analysis may assume about the host: given by the caller (CLI flag or policy)
/// before analysing, recorded in the output (JSON `options`).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Assume that no import calls back into the module while it runs: calls to imports
    /// not listed in `rules/capabilities/reentry.toml` no longer lead to `<host-reentry>`.
    /// Unsound for JavaScript hosts (Emscripten, wasm-bindgen, plain JS imports).
    #[serde(default)]
    pub assume_no_reentry: bool,
    /// How entry points' witnesses are reported (and so the schema version); not an
    /// assumption, so not recorded in the output.
    #[serde(skip)]
    pub witnesses: crate::Witnesses,
}

/// Whether the binary is a core module or a component.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BinaryKind {
    /// A core WebAssembly module.
    Module,
    /// A component (component model).
    Component,
}

/// Everything wasmgate knows about one binary.
///
/// Invariant: `kind == Module` exactly when `module` is `Some` and `component` is `None`, and
/// `kind == Component` exactly when it is the other way round. The three fields stay apart
/// (rather than one enum) so that the JSON contract keeps `kind` as a plain string next to
/// a `module` or `component` object; [`Analysis::core_modules`] reads both cases.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Analysis {
    /// Version of this JSON shape ([`SCHEMA_VERSION`]); fields are only added within one.
    pub schema_version: u32,
    /// Core module or component.
    pub kind: BinaryKind,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// File size in bytes.
    pub size: u64,
    /// Version of the capability table (`rules/capabilities/vocabulary.toml`) used.
    pub capabilities_version: String,
    /// The assumptions this analysis was made under.
    #[serde(default)]
    pub options: Options,
    /// The binary's own imports (for a component: its component-level imports, one per function).
    pub imports: Vec<Import>,
    /// The binary's own exports.
    pub exports: Vec<Export>,
    /// Every way the host can start executing code, with what each can reach.
    pub entry_points: Vec<EntryPoint>,
    /// Function imports (ids) that no entry point can reach: declared but unused authority.
    pub unreachable_imports: Vec<String>,
    /// Schema 2 ([`crate::Witnesses::Shared`]) only: what `entry_points` reach, as one
    /// witness per (capability, import) shared by the entry points whose shortest witness
    /// for that capability ends at that import. Empty in schema 1, where each entry point's
    /// `reaches` says it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_reaches: Vec<SharedReach>,
    /// Details of the core module, when `kind` is `module`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<CoreModule>,
    /// Structure of the component, when `kind` is `component`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<Component>,
    /// Things that did not stop the analysis but that a reader should know.
    pub warnings: Vec<String>,
    /// Schema 2 ([`crate::Witnesses::Shared`]) only, in memory only (never serialised, so
    /// `None` after reading JSON): the searches behind `shared_reaches`, which give any
    /// entry point's own witness on demand.
    #[serde(skip)]
    pub reachability: Option<Arc<crate::Reachability>>,
}

/// External kind of an import or export.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ExternKind {
    /// A function.
    Func,
    /// A table.
    Table,
    /// A linear memory.
    Memory,
    /// A global.
    Global,
    /// An exception tag.
    Tag,
    /// A core module (components).
    Module,
    /// A component (components).
    Component,
    /// An instance (components).
    Instance,
    /// A type (components).
    Type,
    /// A value (components).
    Value,
}

/// One imported item. `id` is the `<module>#<name>` form used everywhere in wasmgate.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// `<module>#<name>`, the id every report and policy uses.
    pub id: String,
    /// Module name.
    pub module: String,
    /// Item name.
    pub name: String,
    /// What is imported.
    pub kind: ExternKind,
    /// Capabilities this import may exercise (empty for non-functions and inert helpers).
    pub capabilities: Vec<String>,
    /// Byte offset of the import entry in the binary.
    pub offset: u64,
    /// Byte length of the import entry (core function imports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

/// One exported item.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// What is exported.
    pub kind: ExternKind,
    /// Index in the index space of `kind`.
    pub index: u32,
}

/// How the host can enter the code.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// An exported function.
    Export,
    /// The start function, run at instantiation.
    Start,
    /// Function references the host can obtain (host-visible tables, globals, refs passed out).
    Escaped,
}

/// An entry point and what it can reach.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct EntryPoint {
    /// Export name, `<start>`, or `<escaped>`.
    pub name: String,
    /// How the host enters here.
    pub kind: EntryKind,
    /// Node ids (in the call graph this entry point belongs to) where execution starts.
    /// Reachability from these, over the call graph's followed edges and sites, gives
    /// exactly the capabilities of `reaches` (see the README, "JSON contract").
    #[serde(default)]
    pub roots: Vec<u32>,
    /// One element per capability reachable from this entry point, with one witness.
    /// Empty under [`crate::Witnesses::Shared`] (schema 2, where the JSON leaves it out):
    /// the `shared_reaches` beside the entry points say it instead.
    #[serde(default)]
    pub reaches: Vec<Reach>,
    /// True when the reach set is a conservative over-approximation that did not trace code
    /// (component entry points whose lifts/lowers are not traced yet).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unresolved: bool,
}

/// A capability reached through one import, with a shortest witness call path.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reach {
    /// Capability name (`rules/capabilities/vocabulary.toml`).
    pub capability: String,
    /// Import id `<module>#<name>`, or `<unknown-host>` for host functions reached via a
    /// host-visible reference.
    pub import: String,
    /// Node names from the entry function to the import, inclusive. Shared strings: one
    /// name appears in many witnesses.
    pub path: Vec<Arc<str>>,
    /// Byte offset of the call instruction at the end of `path`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Byte length of that call instruction, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Nodes left out of a very long path, where the element `...` stands (0: complete).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub elided: u32,
}

/// One capability reached through one import by several entry points, with one witness
/// (schema 2). An entry point is listed in exactly one `SharedReach` per capability it
/// reaches: the one of the import its own shortest witness ends at.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SharedReach {
    /// Indices into the `entry_points` array beside this list, ascending.
    pub entry_points: Vec<u32>,
    /// Index of the entry point `witness` starts from: one nearest to the import (the
    /// first in `entry_points` order among equally near ones).
    pub from: u32,
    /// The capability, the import, and a shortest witness path from `from`.
    pub witness: Reach,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Structural facts about a core module.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct CoreModule {
    /// Byte offset of the module's header within the analysed file.
    pub offset: u64,
    /// Size of the module in bytes.
    pub size: u64,
    /// Types, in index order.
    pub types: Vec<TypeInfo>,
    /// Functions, imports first.
    pub functions: Vec<Function>,
    /// Tables, imports first.
    pub tables: Vec<Table>,
    /// Memories, imports first.
    pub memories: Vec<Memory>,
    /// Globals, imports first.
    pub globals: Vec<Global>,
    /// Element segments.
    pub elements: Vec<ElementSegment>,
    /// Data segments.
    pub data: Vec<DataSegment>,
    /// Function index of the start function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<u32>,
    /// Custom sections, in binary order.
    pub custom_sections: Vec<CustomSection>,
    /// The `producers` section.
    pub producers: Vec<Producer>,
    /// Wasm proposals the module uses (by its types, sections and instructions).
    pub features: Vec<String>,
    /// The call graph.
    pub call_graph: CallGraph,
}

/// A type of the module.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct TypeInfo {
    /// Type index.
    pub index: u32,
    /// Text form, e.g. `(func (param i32) (result i32))`.
    pub text: String,
}

/// A function of the module.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Function {
    /// Function index.
    pub index: u32,
    /// Name used in graphs and witness paths: name section, else export, else `func[N]`.
    pub name: String,
    /// Type index of its signature.
    pub type_index: u32,
    /// Import id when the function is imported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<String>,
    /// Byte offset and length of the body for defined functions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_offset: Option<u64>,
    /// Body length in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_size: Option<u64>,
}

/// A table of the module.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Table {
    /// Table index.
    pub index: u32,
    /// Element type, as text.
    pub element_type: String,
    /// Initial size in elements.
    pub initial: u64,
    /// Maximum size, when declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<u64>,
    /// Imported rather than defined.
    pub imported: bool,
    /// Exported.
    pub exported: bool,
}

/// A linear memory of the module.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Memory {
    /// Memory index.
    pub index: u32,
    /// Initial size in pages.
    pub initial: u64,
    /// Maximum size in pages, when declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<u64>,
    /// 64-bit addresses (memory64).
    pub memory64: bool,
    /// Shared between threads.
    pub shared: bool,
    /// Custom page size (log2 of bytes), when not 64 KiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size_log2: Option<u32>,
    /// Imported rather than defined.
    pub imported: bool,
    /// Exported.
    pub exported: bool,
}

/// A global of the module.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Global {
    /// Global index.
    pub index: u32,
    /// Value type, as text.
    pub value_type: String,
    /// Mutable.
    pub mutable: bool,
    /// Imported rather than defined.
    pub imported: bool,
    /// Exported.
    pub exported: bool,
}

/// How a segment is used: copied at instantiation (`active`), on demand by `table.init` /
/// `memory.init` (`passive`), or only declaring references (`declared`, element segments).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SegmentMode {
    /// Copied at instantiation.
    Active,
    /// Used on demand (`table.init`, `memory.init`).
    Passive,
    /// Only declares function references (element segments).
    Declared,
}

/// An element segment.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ElementSegment {
    /// Segment index.
    pub index: u32,
    /// How the segment is used.
    pub mode: SegmentMode,
    /// Table of an active segment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    /// Constant offset of an active segment, when it is a plain constant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_offset: Option<u64>,
    /// Function indices the segment holds (`null` entries and non-function refs omitted).
    pub functions: Vec<u32>,
    /// Number of items.
    pub count: u32,
    /// Byte offset of the segment in the binary.
    pub offset: u64,
}

/// A data segment (`active` or `passive`).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct DataSegment {
    /// Segment index.
    pub index: u32,
    /// How the segment is used.
    pub mode: SegmentMode,
    /// Memory of an active segment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    /// Constant offset of an active segment, when it is a plain constant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_offset: Option<u64>,
    /// Bytes of data.
    pub size: u64,
    /// Byte offset of the segment in the binary.
    pub offset: u64,
}

/// A custom section.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct CustomSection {
    /// Section name (untrusted: escape it before printing).
    pub name: String,
    /// Payload size in bytes.
    pub size: u64,
    /// Byte offset of the section in the binary.
    pub offset: u64,
    /// The payload, kept only for the sections reports read ([`KEPT_SECTIONS`]) and only up
    /// to [`MAX_KEPT_PAYLOAD`] bytes; in-process only (not in the JSON), so that reports
    /// never re-parse the binary.
    #[serde(skip)]
    pub payload: Option<Arc<[u8]>>,
}

/// Custom sections whose payload the analysis keeps for reports: cargo-auditable's
/// dependency list and the `wasm-metadata` fields.
pub const KEPT_SECTIONS: &[&str] = &[
    ".dep-v0",
    "authors",
    "description",
    "licenses",
    "source",
    "homepage",
    "revision",
    "version",
];

/// Largest custom-section payload kept (a larger one keeps `payload: None`).
pub const MAX_KEPT_PAYLOAD: usize = 1 << 20;

impl CustomSection {
    /// A section as the analysis records it, keeping the payload when [`KEPT_SECTIONS`]
    /// names it and it fits [`MAX_KEPT_PAYLOAD`].
    pub fn new(name: &str, data: &[u8], offset: u64) -> Self {
        let keep = KEPT_SECTIONS.contains(&name) && data.len() <= MAX_KEPT_PAYLOAD;
        CustomSection {
            name: name.to_string(),
            size: data.len() as u64,
            offset,
            payload: keep.then(|| Arc::from(data)),
        }
    }
}

/// One entry of the `producers` section (untrusted text).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Producer {
    /// `language`, `processed-by` or `sdk`.
    pub field: String,
    /// Tool or language name.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// The call graph: functions, imports, indirect-dispatch nodes and the unknown host.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct CallGraph {
    /// Nodes, indexed by id.
    pub nodes: Vec<Node>,
    /// `(from, to)` node ids, sorted and deduplicated. Reachability follows every edge
    /// except a direct call to a plain import: such an edge also appears in `sites`, which
    /// say what that call confers; it does not lead to the import node itself.
    pub edges: Vec<(u32, u32)>,
    /// Direct calls to plain imports with the capabilities narrowed at each call (e.g.
    /// `fd_write` on a constant descriptor 1 confers `stdio` only), sorted and deduplicated.
    /// A function reaching `from` reaches these capabilities, whatever `to` itself confers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<CallSite>,
    /// Which descriptors the module can come to hold, and so what its descriptor-moving
    /// imports (`fd_read`, `fd_write`, ...) keep; present on core modules importing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptors: Option<Descriptors>,
}

/// The descriptor refinement of one core module (README, "Descriptors"). A host hands a
/// WASI p1 module only stdio and preopened directories (and listening sockets), so `fs.read`,
/// `fs.write` and `net.io` through a descriptor need a producer (`path_open`, `sock_accept`,
/// ...) reachable from some entry point.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Descriptors {
    /// Of `fs.read`, `fs.write` and `net.io`, those a descriptor the module can hold may carry
    /// (sorted). Node and site capabilities of descriptor-moving imports are already cut to
    /// these (plus their other capabilities, such as `stdio`).
    pub carry: Vec<String>,
    /// Why the module gets no refinement (then `carry` has all three, and constant stdio
    /// descriptors prove nothing either), if it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unrefined: Option<String>,
}

/// A direct call to a plain import, with what that one call may do.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CallSite {
    /// Node id of the calling function.
    pub from: u32,
    /// Node id of the called import.
    pub to: u32,
    /// Byte offset of the call instruction in the binary.
    pub offset: u64,
    /// Capabilities narrowed at this call (sorted; may be empty).
    pub capabilities: Vec<String>,
}

impl CallGraph {
    /// An index for checking witness paths against this graph.
    pub fn witnesses(&self) -> WitnessCheck<'_> {
        let mut ids: std::collections::HashMap<&str, Vec<u32>> = std::collections::HashMap::new();
        for n in &self.nodes {
            ids.entry(n.name.as_str()).or_default().push(n.id);
        }
        WitnessCheck { graph: self, ids }
    }
}

/// Checks that witness paths are real paths of one call graph (tests and fuzzers use it).
#[derive(Debug)]
pub struct WitnessCheck<'g> {
    graph: &'g CallGraph,
    /// Several nodes may share a name (one import declared twice).
    ids: std::collections::HashMap<&'g str, Vec<u32>>,
}

impl WitnessCheck<'_> {
    /// Why `reach` is not a real witness, if it is not: its path must end at its import and
    /// each consecutive pair of names must be an edge (hops next to `...` are skipped).
    pub fn defect(&self, reach: &Reach) -> Option<String> {
        if reach.path.last().map(|s| &**s) != Some(reach.import.as_str()) {
            return Some(format!(
                "path {:?} does not end at {}",
                reach.path, reach.import
            ));
        }
        let none = Vec::new();
        for hop in reach.path.windows(2) {
            if hop.iter().any(|n| &**n == crate::graph::ELIDED) {
                continue;
            }
            let from = self.ids.get(&*hop[0]).unwrap_or(&none);
            let to = self.ids.get(&*hop[1]).unwrap_or(&none);
            let linked = from.iter().any(|x| {
                to.iter()
                    .any(|y| self.graph.edges.binary_search(&(*x, *y)).is_ok())
            });
            if !linked {
                return Some(format!("hop {} -> {} is not an edge", hop[0], hop[1]));
            }
        }
        None
    }
}

/// What a call-graph node stands for.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum NodeKind {
    /// A function defined in the module.
    Function,
    /// An imported function.
    Import,
    /// `call_indirect` on one (table, type), `call_ref` on one type, an `invoke_*`
    /// trampoline, or `<host-reentry>` (every exported and escaped function, called back by
    /// a host import).
    Dispatch,
    /// Any host function reachable through a host-visible function reference.
    UnknownHost,
}

/// A call-graph node.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Node {
    /// Node id (index into `nodes`).
    pub id: u32,
    /// What it stands for.
    pub kind: NodeKind,
    /// Name used in witness paths (unique in its graph).
    pub name: String,
    /// Function index for `function` and `import` nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<u32>,
    /// Capabilities conferred by arriving at this node over a followed edge: an import
    /// reached through a table or reference, `<unknown-host>`, a component import's lower,
    /// `<unresolved>` (sorted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
}

/// Component structure: nested core modules and components, each analysed.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Component {
    /// The component's WIT world (imports and exports with their types), when decodable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wit: Option<String>,
    /// Core modules embedded anywhere in the component, in binary order.
    pub modules: Vec<EmbeddedModule>,
    /// Nested components, in binary order (their own modules are listed in `modules`).
    pub components: Vec<EmbeddedComponent>,
    /// The linked graph: every core instance's functions (`LABEL:name`), lifts, lowers to
    /// component imports, and `<unresolved>` for what could not be followed.
    pub call_graph: CallGraph,
    /// The component's own custom sections (not its modules'), in binary order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_sections: Vec<CustomSection>,
    /// The component's own `producers` section, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub producers: Vec<Producer>,
}

/// A core module found inside a component.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct EmbeddedModule {
    /// Position in the component tree, e.g. `module[0]` or `component[1]/module[0]`.
    pub path: String,
    /// Its imports.
    pub imports: Vec<Import>,
    /// Its exports.
    pub exports: Vec<Export>,
    /// Its own entry points, as if it ran alone.
    pub entry_points: Vec<EntryPoint>,
    /// Schema 2 only: what its entry points reach (see [`Analysis::shared_reaches`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_reaches: Vec<SharedReach>,
    /// Its imports no entry point reaches.
    pub unreachable_imports: Vec<String>,
    /// Its structure.
    pub module: CoreModule,
}

/// A component nested in another.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct EmbeddedComponent {
    /// Position in the component tree, e.g. `component[0]`.
    pub path: String,
    /// Byte offset in the file.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
    /// Its imports.
    pub imports: Vec<Import>,
    /// Its exports.
    pub exports: Vec<Export>,
}

impl Analysis {
    /// Every core module of the binary, with its path inside a component (`module[0]`...):
    /// the module itself for a core module, each embedded module for a component.
    pub fn core_modules(&self) -> impl Iterator<Item = (Option<&str>, &CoreModule)> {
        let own = self.module.iter().map(|m| (None, m));
        let embedded = self
            .component
            .iter()
            .flat_map(|c| &c.modules)
            .map(|m| (Some(m.path.as_str()), &m.module));
        own.chain(embedded)
    }
}

/// The import id used everywhere (reports, witness paths, policies): `<module>#<name>`.
/// Ambiguous when the module name holds `#`; policies name such imports with the literal
/// pattern form, which escapes it.
pub fn import_id(module: &str, name: &str) -> String {
    format!("{module}#{name}")
}
