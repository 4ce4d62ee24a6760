//! Collects the facts of one core module from its payloads: sections while streaming, then
//! every function body validated and scanned in parallel.
//!
//! The scan records only what the call graph needs (calls, indirect calls, function
//! references, table writes, constant arguments at import call sites) in one pass over
//! each body, without allocating per instruction.

use std::collections::{BTreeSet, HashMap};

use rayon::prelude::*;
use wasmparser::{
    ConstExpr, DataKind, ElementItems, ElementKind, ExternalKind, FuncToValidate, FuncValidator,
    FuncValidatorAllocations, FunctionBody, HeapType, KnownCustom, Name, Operator, Payload,
    RefType, TypeRef, ValType, ValidatorResources, types::Types,
};

use crate::error::Error;
use crate::index::{
    self, CallArgs, DataInit, IndexScan, MemAccess, ScanContext, Store, Val, Values,
};
use crate::model::{
    CustomSection, DataSegment, ElementSegment, ExternKind, Global, Memory, Producer, SegmentMode,
    Table,
};
use crate::slots::Slots;

/// Appends the entries of a `producers` section; a malformed rest is ignored.
pub(crate) fn producers(p: wasmparser::ProducersSectionReader<'_>, out: &mut Vec<Producer>) {
    for field in p.into_iter().flatten() {
        for v in field.values.into_iter().flatten() {
            out.push(Producer {
                field: field.name.to_string(),
                name: v.name.to_string(),
                version: v.version.to_string(),
            });
        }
    }
}

/// Facts about one import of a core module.
#[derive(Debug, Clone)]
pub(crate) struct RawImport {
    pub module: String,
    pub name: String,
    pub ty: TypeRef,
    pub offset: u64,
}

/// A direct call site whose callee is an import, with the constant arguments seen.
#[derive(Debug, Clone)]
pub(crate) struct ImportCall {
    pub callee: u32,
    pub offset: u64,
    /// The last pushes before the call, oldest first. Only pushes from a straight run of
    /// `*.const`/`local.get`/`global.get` (and `and`s of two of them) are kept, so the last
    /// `n` of them are exactly the call's last `n` arguments.
    pub tail: Vec<Arg>,
}

/// What call-site narrowing knows of one value of a straight run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    /// Pushed, but not known.
    Unknown,
    /// A constant (`i32.const` sign-extended).
    Const(i64),
    /// `x & M` for a constant `M` (`i32` masks sign-extended): no bit outside `M` is set.
    Bits(i64),
}

impl Arg {
    /// The constant, if this is one.
    pub(crate) fn constant(self) -> Option<i64> {
        match self {
            Arg::Const(c) => Some(c),
            _ => None,
        }
    }

    /// The bits that may be set, if bounded.
    pub(crate) fn may_bits(self) -> Option<i64> {
        match self {
            Arg::Const(m) | Arg::Bits(m) => Some(m),
            Arg::Unknown => None,
        }
    }
}

/// What the call graph needs from one function body.
#[derive(Debug, Default)]
pub(crate) struct BodyFacts {
    /// Direct callees (`call`, `return_call`) with the offset of the first site.
    pub calls: Vec<(u32, u64)>,
    pub import_calls: Vec<ImportCall>,
    /// `(table, type index, offset, table index as scanned)` of `call_indirect` /
    /// `return_call_indirect`.
    pub indirect: Vec<(u32, u32, u64, Val)>,
    /// Per `indirect`, the values its table index can take (`None`: unknown), once resolved.
    pub index_sets: Vec<Option<Values>>,
    /// Parameters of this function (the index analysis tells them from other locals).
    pub params: u32,
    /// What the index analysis needs of this body (`None`: nothing); taken by
    /// [`crate::index::resolve`].
    pub index_scan: Option<Box<IndexScan>>,
    /// `(type index, offset)` of `call_ref` / `return_call_ref`.
    pub call_refs: Vec<(u32, u64)>,
    /// Offsets of stack-switching instructions that run a continuation (any escaped function).
    pub resumes: Vec<u64>,
    pub ref_funcs: Vec<u32>,
    /// Tables this body writes function references into.
    pub table_writes: Vec<u32>,
    /// Uses `any.convert_extern` / `extern.convert_any` (GC values can cross the extern boundary).
    pub converts_extern: bool,
    pub proposals: u32,
}

/// All facts of a core module, ready for the call graph.
#[derive(Debug, Default)]
pub(crate) struct ModuleFacts {
    pub offset: u64,
    pub size: u64,
    pub imports: Vec<RawImport>,
    pub exports: Vec<(String, ExternalKind, u32)>,
    /// Type index of every function, imports first.
    pub func_types: Vec<u32>,
    pub num_imported_funcs: u32,
    /// For each imported function (by function index), its position in `imports`.
    pub func_imports: Vec<usize>,
    pub tables: Vec<Table>,
    pub table_elem_types: Vec<RefType>,
    pub memories: Vec<Memory>,
    pub globals: Vec<Global>,
    pub global_types: Vec<ValType>,
    pub num_imported_globals: u32,
    pub tags: Vec<u32>,
    pub num_imported_tags: u32,
    pub elements: Vec<ElementSegment>,
    /// `(table when active, global)` for each `global.get` in an element segment's items or a
    /// table's initialiser expression: the table may hold whatever that global holds.
    pub table_global_reads: Vec<(Option<u32>, u32)>,
    /// `(table, function)` for each `ref.func` in a table's initialiser expression: every
    /// slot starts out holding it.
    pub table_init_funcs: Vec<(u32, u32)>,
    /// A constant expression uses `any.convert_extern` / `extern.convert_any`.
    pub const_converts_extern: bool,
    /// A section kind this analyzer does not model appeared (a newer wasmparser).
    pub unmodelled_section: bool,
    pub data: Vec<DataSegment>,
    /// Active data segments with where their bytes sit in the file (index analysis).
    pub data_init: Vec<DataInit>,
    pub start: Option<u32>,
    pub names: HashMap<u32, String>,
    /// The module's own name from its `name` section.
    pub module_name: Option<String>,
    pub custom_sections: Vec<CustomSection>,
    pub producers: Vec<Producer>,
    /// `ref.func` in global and table initialisers (the functions they make escape).
    pub global_ref_funcs: Vec<u32>,
    pub bodies: Vec<BodyFacts>,
    /// What each table slot holds after instantiation (read from the module's bytes).
    pub slots: Slots,
    pub body_ranges: Vec<(u64, u64)>,
    pub features: BTreeSet<String>,
}

/// Streams the payloads of one core module.
pub(crate) struct ModuleBuilder<'a> {
    facts: ModuleFacts,
    pending: Vec<(FuncToValidate<ValidatorResources>, FunctionBody<'a>)>,
}

impl std::fmt::Debug for ModuleBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleBuilder")
            .field("offset", &self.facts.offset)
            .finish()
    }
}

fn kind_of(k: ExternalKind) -> ExternKind {
    match k {
        ExternalKind::Func | ExternalKind::FuncExact => ExternKind::Func,
        ExternalKind::Table => ExternKind::Table,
        ExternalKind::Memory => ExternKind::Memory,
        ExternalKind::Global => ExternKind::Global,
        ExternalKind::Tag => ExternKind::Tag,
    }
}

pub(crate) fn extern_kind(k: ExternalKind) -> ExternKind {
    kind_of(k)
}

pub(crate) fn type_ref_kind(t: &TypeRef) -> ExternKind {
    match t {
        TypeRef::Func(_) | TypeRef::FuncExact(_) => ExternKind::Func,
        TypeRef::Table(_) => ExternKind::Table,
        TypeRef::Memory(_) => ExternKind::Memory,
        TypeRef::Global(_) => ExternKind::Global,
        TypeRef::Tag(_) => ExternKind::Tag,
    }
}

/// Evaluates a constant expression that is a single `i32.const` / `i64.const`.
fn const_offset(expr: &ConstExpr<'_>) -> Option<u64> {
    let mut reader = expr.get_operators_reader();
    let first = reader.read().ok()?;
    let value = match first {
        Operator::I32Const { value } => value as u32 as u64,
        Operator::I64Const { value } => value as u64,
        _ => return None,
    };
    matches!(reader.read().ok()?, Operator::End).then_some(value)
}

/// What a constant expression can do with function references.
#[derive(Default)]
struct ConstRefs {
    funcs: Vec<u32>,
    globals: Vec<u32>,
    converts_extern: bool,
}

/// Function references, global reads and extern conversions in a constant expression.
/// Every constant-expression operator that can create or move a reference is named here;
/// `const_expr_reference_operators_are_handled` checks the list against wasmparser's.
fn const_refs(expr: &ConstExpr<'_>, out: &mut ConstRefs) {
    let mut reader = expr.get_operators_reader();
    while let Ok(op) = reader.read() {
        match op {
            Operator::RefFunc { function_index } => out.funcs.push(function_index),
            Operator::GlobalGet { global_index } => out.globals.push(global_index),
            Operator::AnyConvertExtern | Operator::ExternConvertAny => out.converts_extern = true,
            Operator::End => break,
            _ => {}
        }
    }
}

impl<'a> ModuleBuilder<'a> {
    pub fn new(offset: u64) -> Self {
        ModuleBuilder {
            facts: ModuleFacts {
                offset,
                ..Default::default()
            },
            pending: Vec::new(),
        }
    }

    /// Takes a function body the validator handed out.
    pub fn body(&mut self, func: FuncToValidate<ValidatorResources>, body: FunctionBody<'a>) {
        self.pending.push((func, body));
    }

    /// Records a section. The validator has already accepted it.
    pub fn payload(&mut self, payload: &Payload<'a>) -> Result<(), Error> {
        let f = &mut self.facts;
        match payload {
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports_with_offsets() {
                    let (offset, import) = import?;
                    match import.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            f.func_types.push(t);
                            f.num_imported_funcs += 1;
                            f.func_imports.push(f.imports.len());
                        }
                        TypeRef::Table(t) => {
                            f.tables.push(table_of(f.tables.len() as u32, &t, true));
                            f.table_elem_types.push(t.element_type);
                        }
                        TypeRef::Memory(m) => {
                            f.memories
                                .push(memory_of(f.memories.len() as u32, &m, true));
                        }
                        TypeRef::Global(g) => {
                            f.globals.push(Global {
                                index: f.globals.len() as u32,
                                value_type: g.content_type.to_string(),
                                mutable: g.mutable,
                                imported: true,
                                exported: false,
                            });
                            f.global_types.push(g.content_type);
                            f.num_imported_globals += 1;
                        }
                        TypeRef::Tag(t) => {
                            f.tags.push(t.func_type_idx);
                            f.num_imported_tags += 1;
                        }
                    }
                    f.imports.push(RawImport {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        ty: import.ty,
                        offset,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader.clone() {
                    f.func_types.push(t?);
                }
            }
            Payload::TableSection(reader) => {
                for t in reader.clone() {
                    let t = t?;
                    let index = f.tables.len() as u32;
                    // Exhaustive on purpose: a new kind of initialiser must be modelled here.
                    let init = match &t.init {
                        wasmparser::TableInit::RefNull => None,
                        wasmparser::TableInit::Expr(expr) => Some(expr),
                    };
                    if let Some(expr) = init {
                        let mut refs = ConstRefs::default();
                        const_refs(expr, &mut refs);
                        f.table_init_funcs
                            .extend(refs.funcs.iter().map(|&func| (index, func)));
                        f.global_ref_funcs.extend(refs.funcs);
                        f.table_global_reads
                            .extend(refs.globals.into_iter().map(|g| (Some(index), g)));
                        f.const_converts_extern |= refs.converts_extern;
                    }
                    f.tables.push(table_of(index, &t.ty, false));
                    f.table_elem_types.push(t.ty.element_type);
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader.clone() {
                    f.memories
                        .push(memory_of(f.memories.len() as u32, &m?, false));
                }
            }
            Payload::TagSection(reader) => {
                for t in reader.clone() {
                    f.tags.push(t?.func_type_idx);
                }
            }
            Payload::GlobalSection(reader) => {
                for g in reader.clone() {
                    let g = g?;
                    let mut refs = ConstRefs::default();
                    const_refs(&g.init_expr, &mut refs);
                    f.global_ref_funcs.extend(refs.funcs);
                    f.const_converts_extern |= refs.converts_extern;
                    f.globals.push(Global {
                        index: f.globals.len() as u32,
                        value_type: g.ty.content_type.to_string(),
                        mutable: g.ty.mutable,
                        imported: false,
                        exported: false,
                    });
                    f.global_types.push(g.ty.content_type);
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader.clone() {
                    let e = e?;
                    match e.kind {
                        ExternalKind::Table => {
                            if let Some(t) = f.tables.get_mut(e.index as usize) {
                                t.exported = true;
                            }
                        }
                        ExternalKind::Memory => {
                            if let Some(m) = f.memories.get_mut(e.index as usize) {
                                m.exported = true;
                            }
                        }
                        ExternalKind::Global => {
                            if let Some(g) = f.globals.get_mut(e.index as usize) {
                                g.exported = true;
                            }
                        }
                        _ => {}
                    }
                    f.exports.push((e.name.to_string(), e.kind, e.index));
                }
            }
            Payload::StartSection { func, .. } => f.start = Some(*func),
            Payload::ElementSection(reader) => {
                for e in reader.clone().into_iter_with_offsets() {
                    let (offset, e) = e?;
                    let mut refs = ConstRefs::default();
                    let count = match &e.items {
                        ElementItems::Functions(r) => {
                            for idx in r.clone() {
                                refs.funcs.push(idx?);
                            }
                            r.count()
                        }
                        ElementItems::Expressions(_, r) => {
                            for expr in r.clone() {
                                const_refs(&expr?, &mut refs);
                            }
                            r.count()
                        }
                    };
                    let functions = refs.funcs;
                    let (mode, table, table_offset) = match &e.kind {
                        ElementKind::Active {
                            table_index,
                            offset_expr,
                        } => (
                            SegmentMode::Active,
                            Some(table_index.unwrap_or(0)),
                            const_offset(offset_expr),
                        ),
                        ElementKind::Passive => (SegmentMode::Passive, None, None),
                        ElementKind::Declared => (SegmentMode::Declared, None, None),
                    };
                    f.table_global_reads
                        .extend(refs.globals.into_iter().map(|g| (table, g)));
                    f.const_converts_extern |= refs.converts_extern;
                    f.elements.push(ElementSegment {
                        index: f.elements.len() as u32,
                        mode,
                        table,
                        table_offset,
                        functions,
                        count,
                        offset,
                    });
                }
            }
            Payload::DataSection(reader) => {
                for d in reader.clone() {
                    let d = d?;
                    let (mode, memory, memory_offset) = match &d.kind {
                        DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => (
                            SegmentMode::Active,
                            Some(*memory_index),
                            const_offset(offset_expr),
                        ),
                        DataKind::Passive => (SegmentMode::Passive, None, None),
                    };
                    if let Some(memory) = memory {
                        let len = d.data.len() as u64;
                        f.data_init.push(DataInit {
                            memory,
                            offset: memory_offset,
                            // The bytes end the segment's entry.
                            file_start: d.range.end.saturating_sub(len),
                            len,
                        });
                    }
                    f.data.push(DataSegment {
                        index: f.data.len() as u32,
                        mode,
                        memory,
                        memory_offset,
                        size: d.data.len() as u64,
                        offset: d.range.start,
                    });
                }
            }
            Payload::CustomSection(reader) => {
                f.custom_sections.push(CustomSection::new(
                    reader.name(),
                    reader.data(),
                    reader.data_offset(),
                ));
                // Custom sections are not validated; a malformed one is ignored, not fatal.
                match reader.as_known() {
                    KnownCustom::Name(names) => {
                        for sub in names.into_iter().flatten() {
                            match sub {
                                Name::Function(map) => {
                                    for naming in map.into_iter().flatten() {
                                        f.names.insert(naming.index, naming.name.to_string());
                                    }
                                }
                                Name::Module { name, .. } => f.module_name = Some(name.to_string()),
                                _ => {}
                            }
                        }
                    }
                    KnownCustom::Producers(p) => producers(p, &mut f.producers),
                    _ => {}
                }
            }
            // Sections the graph does not need: types come from the validator, bodies and
            // the end through `body`/`finish`.
            Payload::Version { .. }
            | Payload::TypeSection(_)
            | Payload::DataCountSection { .. }
            | Payload::CodeSectionStart { .. }
            | Payload::CodeSectionEntry(_)
            | Payload::UnknownSection { .. }
            | Payload::End(_) => {}
            // A kind of section this version does not know may create or move function
            // references: fail closed (every table and reference open to the host).
            _ => f.unmodelled_section = true,
        }
        Ok(())
    }

    /// Validates and scans every body (in parallel) and returns the facts.
    pub fn finish(mut self, end_offset: u64, types: &Types) -> Result<ModuleFacts, Error> {
        let f = &mut self.facts;
        f.size = end_offset.saturating_sub(f.offset);
        let ctx = ScanContext::of(f);
        let scanned: Vec<Result<BodyFacts, Error>> = self
            .pending
            .into_par_iter()
            .map(|(func, body)| {
                let mut validator = func.into_validator(FuncValidatorAllocations::default());
                scan_body(&body, &mut validator, &ctx)
            })
            .collect();
        let mut bodies = Vec::with_capacity(scanned.len());
        for r in scanned {
            bodies.push(r?);
        }
        f.bodies = bodies;
        f.features = module_features(f, types);
        Ok(self.facts)
    }

    /// Records the byte range of each body (the validator hands bodies out in order).
    pub fn body_range(&mut self, start: u64, end: u64) {
        self.facts.body_ranges.push((start, end - start));
    }
}

fn table_of(index: u32, t: &wasmparser::TableType, imported: bool) -> Table {
    Table {
        index,
        element_type: t.element_type.to_string(),
        initial: t.initial,
        maximum: t.maximum,
        imported,
        exported: false,
    }
}

fn memory_of(index: u32, m: &wasmparser::MemoryType, imported: bool) -> Memory {
    Memory {
        index,
        initial: m.initial,
        maximum: m.maximum,
        memory64: m.memory64,
        shared: m.shared,
        page_size_log2: m.page_size_log2,
        imported,
        exported: false,
    }
}

/// Bit of a proposal name, computed at compile time (31 for names not in the list).
const fn proposal_index(name: &str) -> u32 {
    let mut i = 0;
    while i < PROPOSALS.len() {
        let p = PROPOSALS[i].as_bytes();
        let n = name.as_bytes();
        if p.len() == n.len() {
            let mut j = 0;
            while j < p.len() && p[j] == n[j] {
                j += 1;
            }
            if j == p.len() {
                return i as u32;
            }
        }
        i += 1;
    }
    31
}

/// The bit of a proposal. A proposal wasmparser adds and this list lacks fails the build,
/// so a feature can never go unreported.
const fn proposal_bit(name: &str) -> u32 {
    let i = proposal_index(name);
    assert!(i < 31, "a wasmparser proposal is missing from PROPOSALS");
    1 << i
}

/// Every name `CoreModule::features` can hold: the proposals (but `mvp`) in kebab case, and
/// what module structure reveals. Policies accept exactly these.
pub const FEATURE_NAMES: &[&str] = &[
    "acquire-release-atomics",
    "bulk-memory",
    "compact-imports",
    "custom-descriptors",
    "custom-page-sizes",
    "exceptions",
    "function-references",
    "gc",
    "legacy-exceptions",
    "memory-control",
    "memory64",
    "multi-memory",
    "multi-value",
    "mutable-global",
    "reference-types",
    "relaxed-simd",
    "saturating-float-to-int",
    "shared-everything-threads",
    "sign-extension",
    "simd",
    "stack-switching",
    "tail-call",
    "threads",
    "wide-arithmetic",
];

/// Proposal names as wasmparser spells them; index = bit.
const PROPOSALS: &[&str] = &[
    "mvp",
    "exceptions",
    "tail_call",
    "reference_types",
    "sign_extension",
    "saturating_float_to_int",
    "bulk_memory",
    "simd",
    "relaxed_simd",
    "threads",
    "gc",
    "stack_switching",
    "wide_arithmetic",
    "legacy_exceptions",
    "function_references",
    "memory_control",
    "shared_everything_threads",
    "custom_descriptors",
    "acquire_release_atomics",
    "compact_imports",
    "custom_page_sizes",
];

/// Pushes kept of the current straight run of simple operators.
const RUN_KEEP: usize = 12;

/// Sits between the decoder and the function validator: every operator is validated, and the
/// few the call graph needs are recorded, in one decode of the body with no `Operator` values.
struct Tap<'v> {
    validator: &'v mut FuncValidator<ValidatorResources>,
    offset: u64,
    facts: BodyFacts,
    /// Pushes of the current straight run of `*.const`/`local.get`/`global.get` (and `and`).
    run: Vec<Arg>,
    /// Symbolic values of the top of the operand stack, for the index analysis: exact for
    /// the straight run of modelled instructions, empty after anything else.
    vals: Vec<Val>,
    index: IndexScan,
    /// Results of this function.
    results: u32,
    ctx: &'v ScanContext,
}

impl Tap<'_> {
    /// `i32.and` / `i64.and` on the run: both operands are its last two pushes when it holds
    /// two (`and` pops two and pushes one, so positions stay exact); else the run ends.
    fn and_run(&mut self) {
        if self.run.len() < 2 {
            self.run.clear();
            return;
        }
        let b = self.run.pop().unwrap_or(Arg::Unknown);
        let a = self.run.pop().unwrap_or(Arg::Unknown);
        self.run.push(match (a, b) {
            (Arg::Const(x), Arg::Const(y)) => Arg::Const(x & y),
            (x, y) => match (x.may_bits(), y.may_bits()) {
                (Some(m), Some(n)) => Arg::Bits(m & n),
                (Some(m), None) | (None, Some(m)) => Arg::Bits(m),
                (None, None) => Arg::Unknown,
            },
        });
    }

    fn push(&mut self, value: Arg) {
        if self.run.len() == RUN_KEEP {
            self.run.remove(0);
        }
        self.run.push(value);
    }

    fn call(&mut self, callee: u32, tail: bool) {
        self.call_vals(callee, tail);
        // Every site for now; `first_sites` keeps each callee's first once the body is done.
        self.facts.calls.push((callee, self.offset));
        // Only import call sites are read (capability narrowing): a call to a defined
        // function keeps nothing, so that big modules do not hold a tail per call.
        if callee < self.ctx.nimp {
            self.facts.import_calls.push(ImportCall {
                callee,
                offset: self.offset,
                tail: self.run.clone(),
            });
        }
        self.run.clear();
    }

    fn indirect(&mut self, table: u32, ty: u32) {
        let index = self.v_pop();
        self.facts.indirect.push((table, ty, self.offset, index));
        self.clear();
    }

    /// Ends both runs: the next value comes from code the scan does not model.
    fn clear(&mut self) {
        self.run.clear();
        self.vals.clear();
    }

    fn v_push(&mut self, v: Val) {
        if self.vals.len() == index::WINDOW {
            self.vals.remove(0);
        }
        self.vals.push(v);
    }

    /// The top value; unknown when it was pushed before the window.
    fn v_pop(&mut self) -> Val {
        self.vals.pop().unwrap_or(Val::Unknown)
    }

    fn v_top(&self) -> Val {
        self.vals.last().copied().unwrap_or(Val::Unknown)
    }

    /// Parameters and results of function `f`.
    fn arity(&self, f: u32) -> Option<(u32, u32)> {
        use wasmparser::WasmModuleResources;
        let res = self.validator.resources();
        let id = res.type_id_of_function(f)?;
        match &res.sub_type_at_id(id).composite_type.inner {
            wasmparser::CompositeInnerType::Func(t) => {
                Some((t.params().len() as u32, t.results().len() as u32))
            }
            _ => None,
        }
    }

    fn local_write(&mut self, local: u32, v: Val) {
        self.index.writes.push((local, v));
        // Outside every block a write runs before everything after it.
        if self.validator.control_stack_height() == 1 {
            self.index.top_writes.push((local, self.offset));
        }
    }

    /// A direct call's arguments and result, for the index analysis.
    fn call_vals(&mut self, callee: u32, tail: bool) {
        let (params, results) = self.arity(callee).unwrap_or((u32::MAX, u32::MAX));
        // An import's parameters and result are nobody's business here.
        let defined = callee >= self.ctx.nimp;
        if defined {
            let mut known = (self.vals.len() as u32).min(params);
            let from = self.vals.len() - known as usize;
            let start = self.index.args.len() as u32;
            if self.vals[from..].iter().all(|v| *v == Val::Unknown) {
                known = 0;
            } else {
                self.index.args.extend_from_slice(&self.vals[from..]);
            }
            self.index.calls.push(CallArgs {
                callee,
                params,
                start,
                known,
            });
        }
        self.vals.clear();
        let result = if defined {
            Val::Ret(callee)
        } else {
            Val::Unknown
        };
        if tail {
            if results == 1 && defined {
                self.index.returns.push(result);
            } else {
                self.index.returns_unknown = true;
            }
        } else if results == 1 {
            self.v_push(result);
        }
    }

    /// A branch to relative depth `depth` with the returned value `depth_below` under the top.
    fn branch(&mut self, depth: u32, below: usize) {
        if depth.checked_add(1) == Some(self.validator.control_stack_height()) {
            self.returned(below);
        }
    }

    /// The function returns the value `below` places under the top of the stack.
    fn returned(&mut self, below: usize) {
        if self.results != 1 {
            return;
        }
        let v = self
            .vals
            .len()
            .checked_sub(below + 1)
            .map_or(Val::Unknown, |i| self.vals[i]);
        self.index.returns.push(v);
    }

    /// An instruction with a `memarg`: constant-address `i32.load`/`i64.load` values, and
    /// every write with its address when it is a constant `i32.store`/`i64.store`.
    fn memory_access(&mut self, access: MemAccess, memarg: wasmparser::MemArg) {
        let wasmparser::MemArgTarget::Memory(memory) = memarg.target else {
            // A GC array's payload, not linear memory.
            self.clear();
            return;
        };
        if !self.ctx.private(memory) {
            // Anyone may write it: loads are unknown and stores need no record.
            self.clear();
            return;
        }
        let at = |v: Val| match v {
            Val::Const(a) => a.checked_add(memarg.offset),
            _ => None,
        };
        match access {
            MemAccess::LoadI32 | MemAccess::LoadI64 => {
                let size = if access == MemAccess::LoadI32 { 4 } else { 8 };
                let addr = at(self.v_pop());
                self.run.clear();
                self.v_push(addr.map_or(Val::Unknown, |addr| Val::Load { memory, addr, size }));
            }
            MemAccess::StoreI32 | MemAccess::StoreI64 => {
                let size = if access == MemAccess::StoreI32 { 4 } else { 8 };
                let value = self.v_pop();
                let region = at(self.v_pop()).map(|a| (a, size));
                self.index.stores.push(Store {
                    memory,
                    region,
                    value,
                });
                self.run.clear();
            }
            MemAccess::Read => self.clear(),
            MemAccess::Write => self.memory_write(memory),
        }
    }

    /// A write anywhere in `memory`.
    fn memory_write(&mut self, memory: u32) {
        if self.ctx.private(memory) {
            self.index.stores.push(Store {
                memory,
                region: None,
                value: Val::Unknown,
            });
        }
        self.clear();
    }

    /// A branch whose value may leave the function and that the scan does not model.
    fn opaque_exit(&mut self) {
        self.index.returns_unknown = true;
        self.clear();
    }

    fn table_write(&mut self, table: u32) {
        self.facts.table_writes.push(table);
        self.clear();
    }
}

/// What the scan does for one operator, by name; anything unlisted ends a run of pushes.
macro_rules! scan {
    ($t:ident, I32Const, $v:ident) => {{
        $t.push(Arg::Const($v as i64));
        $t.v_push(Val::Const(u64::from($v as u32)))
    }};
    ($t:ident, I64Const, $v:ident) => {{
        $t.push(Arg::Const($v));
        $t.v_push(Val::Const($v as u64))
    }};
    ($t:ident, LocalGet, $l:ident) => {{
        $t.push(Arg::Unknown);
        $t.v_push(Val::Local {
            local: $l,
            at: $t.offset,
        })
    }};
    ($t:ident, GlobalGet, $($a:ident)*) => {{
        $t.push(Arg::Unknown);
        $t.v_push(Val::Unknown)
    }};
    ($t:ident, LocalSet, $l:ident) => {{
        let v = $t.v_pop();
        $t.local_write($l, v);
        $t.run.clear()
    }};
    ($t:ident, LocalTee, $l:ident) => {{
        let v = $t.v_top();
        $t.local_write($l, v);
        $t.run.clear()
    }};
    ($t:ident, I32And, ) => {{
        let b = $t.v_pop();
        let a = $t.v_pop();
        $t.v_push(match (a, b) {
            (Val::Const(x), Val::Const(y)) => Val::Const(x & y),
            (Val::Const(m) | Val::Mask(m), _) | (_, Val::Const(m) | Val::Mask(m)) => Val::Mask(m),
            _ => Val::Unknown,
        });
        $t.and_run()
    }};
    ($t:ident, I64And, ) => {{
        $t.vals.clear();
        $t.and_run()
    }};
    ($t:ident, Drop, ) => {{
        $t.v_pop();
        $t.run.clear()
    }};
    ($t:ident, Return, ) => {{
        $t.returned(0);
        $t.clear()
    }};
    ($t:ident, Br, $d:ident) => {{
        $t.branch($d, 0);
        $t.clear()
    }};
    ($t:ident, BrIf, $d:ident) => {{
        $t.branch($d, 1);
        $t.v_pop();
        $t.run.clear()
    }};
    ($t:ident, BrTable, $targets:ident) => {{
        let depth = $t.validator.control_stack_height().saturating_sub(1);
        if $targets.default() == depth || $targets.targets().any(|d| d.ok() == Some(depth)) {
            $t.returned(1);
        }
        $t.clear()
    }};
    ($t:ident, End, ) => {{
        let reachable = $t.validator.get_control_frame(0).is_some_and(|f| !f.unreachable);
        if $t.validator.control_stack_height() == 1 && reachable {
            $t.returned(0);
        }
        $t.clear()
    }};
    ($t:ident, BrOnNull, $($a:ident)*) => {
        $t.opaque_exit()
    };
    ($t:ident, BrOnNonNull, $($a:ident)*) => {
        $t.opaque_exit()
    };
    ($t:ident, BrOnCast, $($a:ident)*) => {
        $t.opaque_exit()
    };
    ($t:ident, BrOnCastFail, $($a:ident)*) => {
        $t.opaque_exit()
    };
    ($t:ident, BrOnCastDescEq, $($a:ident)*) => {
        $t.opaque_exit()
    };
    ($t:ident, BrOnCastDescEqFail, $($a:ident)*) => {
        $t.opaque_exit()
    };
    ($t:ident, TryTable, $($a:ident)*) => {
        $t.opaque_exit()
    };
    ($t:ident, Call, $f:ident) => {
        $t.call($f, false)
    };
    ($t:ident, ReturnCall, $f:ident) => {
        $t.call($f, true)
    };
    ($t:ident, CallIndirect, $ty:ident $tb:ident) => {
        $t.indirect($tb, $ty)
    };
    ($t:ident, ReturnCallIndirect, $ty:ident $tb:ident) => {{
        $t.index.returns_unknown = true;
        $t.indirect($tb, $ty)
    }};
    ($t:ident, CallRef, $ty:ident) => {{
        $t.facts.call_refs.push(($ty, $t.offset));
        $t.clear()
    }};
    ($t:ident, ReturnCallRef, $ty:ident) => {{
        $t.facts.call_refs.push(($ty, $t.offset));
        $t.opaque_exit()
    }};
    ($t:ident, Resume, $($a:ident)*) => {{
        $t.facts.resumes.push($t.offset);
        $t.opaque_exit()
    }};
    ($t:ident, ResumeThrow, $($a:ident)*) => {{
        $t.facts.resumes.push($t.offset);
        $t.opaque_exit()
    }};
    ($t:ident, ResumeThrowRef, $($a:ident)*) => {{
        $t.facts.resumes.push($t.offset);
        $t.opaque_exit()
    }};
    ($t:ident, Switch, $($a:ident)*) => {{
        $t.facts.resumes.push($t.offset);
        $t.opaque_exit()
    }};
    ($t:ident, RefFunc, $f:ident) => {{
        $t.facts.ref_funcs.push($f);
        $t.clear()
    }};
    ($t:ident, TableSet, $tb:ident) => {
        $t.table_write($tb)
    };
    ($t:ident, TableFill, $tb:ident) => {
        $t.table_write($tb)
    };
    ($t:ident, TableGrow, $tb:ident) => {
        $t.table_write($tb)
    };
    ($t:ident, TableInit, $e:ident $tb:ident) => {
        $t.table_write($tb)
    };
    ($t:ident, TableCopy, $dst:ident $src:ident) => {
        $t.table_write($dst)
    };
    ($t:ident, TableAtomicSet, $o:ident $tb:ident) => {
        $t.table_write($tb)
    };
    ($t:ident, TableAtomicRmwXchg, $o:ident $tb:ident) => {
        $t.table_write($tb)
    };
    ($t:ident, TableAtomicRmwCmpxchg, $o:ident $tb:ident) => {
        $t.table_write($tb)
    };
    ($t:ident, AnyConvertExtern, ) => {{
        $t.facts.converts_extern = true;
        $t.clear()
    }};
    ($t:ident, ExternConvertAny, ) => {{
        $t.facts.converts_extern = true;
        $t.clear()
    }};
    ($t:ident, $op:ident, $($a:ident)*) => {
        memory!($t, $op, ($($a)*) ($($a)*))
    };
}

/// Instructions that touch memory, by argument shape (the names once to match, once to use),
/// so that none goes unseen (`memory_arguments_have_an_arm` checks the shapes); anything
/// else ends the run.
macro_rules! memory {
    ($t:ident, $op:ident, (memarg) ($m:ident)) => {
        $t.memory_access(const { index::mem_access(stringify!($op)) }, $m)
    };
    ($t:ident, $op:ident, (memarg lane) ($m:ident $l:ident)) => {
        $t.memory_access(const { index::mem_access(stringify!($op)) }, $m)
    };
    ($t:ident, MemorySize, (mem) ($m:ident)) => {
        $t.clear()
    };
    ($t:ident, MemoryGrow, (mem) ($m:ident)) => {
        $t.clear()
    };
    ($t:ident, $op:ident, (mem) ($m:ident)) => {
        $t.memory_write($m)
    };
    ($t:ident, $op:ident, (data_index mem) ($d:ident $m:ident)) => {
        $t.memory_write($m)
    };
    ($t:ident, $op:ident, (dst_mem src_mem) ($d:ident $s:ident)) => {
        $t.memory_write($d)
    };
    ($t:ident, $op:ident, ($($a:ident)*) ($($b:ident)*)) => {
        $t.clear()
    };
}

macro_rules! define_tap {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            #[allow(unused_variables, clippy::redundant_clone)]
            fn $visit(&mut self $($(, $arg: $argty)*)?) -> wasmparser::Result<()> {
                self.facts.proposals |= const { proposal_bit(stringify!($proposal)) };
                scan!(self, $op, $($($arg)*)?);
                self.validator.visitor(self.offset).$visit($($($arg),*)?)
            }
        )*
    };
}

macro_rules! define_tap_simd {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            fn $visit(&mut self $($(, $arg: $argty)*)?) -> wasmparser::Result<()> {
                self.facts.proposals |= const { proposal_bit(stringify!($proposal)) };
                scan!(self, $op, $($($arg)*)?);
                self.validator.simd_visitor(self.offset).$visit($($($arg),*)?)
            }
        )*
    };
}

impl<'a> wasmparser::VisitOperator<'a> for Tap<'_> {
    type Output = wasmparser::Result<()>;

    fn simd_visitor(
        &mut self,
    ) -> Option<&mut dyn wasmparser::VisitSimdOperator<'a, Output = Self::Output>> {
        Some(self)
    }

    wasmparser::for_each_visit_operator!(define_tap);
}

/// The decoder asks which block it is in (to parse `else`, `catch`...): the validator knows.
impl wasmparser::FrameStack for Tap<'_> {
    fn current_frame(&self) -> Option<wasmparser::FrameKind> {
        self.validator.get_control_frame(0).map(|f| f.kind)
    }
}

impl<'a> wasmparser::VisitSimdOperator<'a> for Tap<'_> {
    wasmparser::for_each_visit_simd_operator!(define_tap_simd);
}

/// Validates a body and records its facts in the same single decode of its operators.
fn scan_body(
    body: &FunctionBody<'_>,
    validator: &mut FuncValidator<ValidatorResources>,
    ctx: &ScanContext,
) -> Result<BodyFacts, Error> {
    let mut reader = body.get_binary_reader();
    validator.read_locals(&mut reader)?;
    reader.set_features(*validator.features());
    let mut tap = Tap {
        validator,
        offset: 0,
        facts: BodyFacts::default(),
        run: Vec::with_capacity(RUN_KEEP),
        vals: Vec::with_capacity(index::WINDOW),
        index: IndexScan::default(),
        results: 0,
        ctx,
    };
    let (params, results) = tap.arity(tap.validator.index()).unwrap_or((0, u32::MAX));
    tap.index.params = params;
    tap.results = results;
    while !reader.eof() {
        tap.offset = reader.original_position();
        reader.visit_operator(&mut tap)??;
    }
    reader.finish_expression(&tap.validator.visitor(reader.original_position()))?;
    let mut facts = tap.facts;
    first_sites(&mut facts.calls);
    facts.params = tap.index.params;
    tap.index.compact();
    if !tap.index.is_empty() {
        facts.index_scan = Some(Box::new(tap.index));
    }
    facts.table_writes.sort_unstable();
    facts.table_writes.dedup();
    facts.ref_funcs.sort_unstable();
    facts.ref_funcs.dedup();
    Ok(facts)
}

/// Keeps the first site of each callee, in the order of first sites. Sorting instead of a
/// hash set per call: cheaper per instruction, and no hashing of attacker-chosen keys.
fn first_sites(calls: &mut Vec<(u32, u64)>) {
    if calls.len() < 2 {
        return;
    }
    let mut order: Vec<u32> = (0..calls.len() as u32).collect();
    order.sort_unstable_by_key(|&i| (calls[i as usize].0, i));
    order.dedup_by_key(|i| calls[*i as usize].0);
    order.sort_unstable();
    *calls = order.iter().map(|&i| calls[i as usize]).collect();
}

fn module_features(f: &ModuleFacts, types: &Types) -> BTreeSet<String> {
    let types = types.as_ref();
    let mut bits = 0u32;
    for b in &f.bodies {
        bits |= b.proposals;
    }
    let mut out: BTreeSet<String> = PROPOSALS
        .iter()
        .enumerate()
        .filter(|(i, p)| bits & (1 << i) != 0 && **p != "mvp")
        .map(|(_, p)| p.replace('_', "-"))
        .collect();
    let mut add = |s: &str| {
        out.insert(s.to_string());
    };
    if f.memories.len() > 1 {
        add("multi-memory");
    }
    if f.memories.iter().any(|m| m.memory64) {
        add("memory64");
    }
    if f.memories.iter().any(|m| m.shared) {
        add("threads");
    }
    if f.memories.iter().any(|m| m.page_size_log2.is_some()) {
        add("custom-page-sizes");
    }
    if f.tables.len() > 1 || f.table_elem_types.iter().any(|t| *t != RefType::FUNCREF) {
        add("reference-types");
    }
    if !f.tags.is_empty() {
        add("exceptions");
    }
    if f.imports
        .iter()
        .any(|i| matches!(i.ty, TypeRef::Global(g) if g.mutable))
        || f.exports.iter().any(|(_, k, i)| {
            *k == ExternalKind::Global && f.globals.get(*i as usize).is_some_and(|g| g.mutable)
        })
    {
        add("mutable-global");
    }
    for i in 0..types.core_type_count_in_module() {
        let id = types.core_type_at_in_module(i);
        let sub = &types[id];
        match &sub.composite_type.inner {
            wasmparser::CompositeInnerType::Func(ft) => {
                if ft.results().len() > 1 {
                    add("multi-value");
                }
            }
            _ => add("gc"),
        }
        if !sub.supertype_idxs.is_empty() || !sub.is_final {
            add("gc");
        }
    }
    out
}

/// Whether a value of this type could carry a function reference across the host boundary.
pub(crate) fn may_carry_funcref(ty: &ValType, extern_converts: bool) -> bool {
    let ValType::Ref(r) = ty else { return false };
    match r.heap_type() {
        HeapType::Abstract { ty, .. } => {
            use wasmparser::AbstractHeapType as A;
            match ty {
                A::Extern | A::NoExtern => extern_converts,
                _ => true,
            }
        }
        // Concrete types are functions, structs, arrays or continuations: all may hold or be one.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! list_operators {
        ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
            &[$((stringify!($proposal), stringify!($op))),*]
        };
    }

    /// Every operator wasmparser knows, with its proposal.
    const OPERATORS: &[(&str, &str)] = wasmparser::for_each_operator!(list_operators);

    /// Operators that create a function reference, write one into a table, carry references
    /// across the extern boundary, or call through a reference: each has its own `scan!` arm.
    const HANDLED: &[&str] = &[
        "Call",
        "ReturnCall",
        "CallIndirect",
        "ReturnCallIndirect",
        "CallRef",
        "ReturnCallRef",
        "Resume",
        "ResumeThrow",
        "ResumeThrowRef",
        "Switch",
        "RefFunc",
        "TableSet",
        "TableFill",
        "TableGrow",
        "TableInit",
        "TableCopy",
        "TableAtomicSet",
        "TableAtomicRmwXchg",
        "TableAtomicRmwCmpxchg",
        "AnyConvertExtern",
        "ExternConvertAny",
    ];

    /// Operators of the reference-carrying proposals reviewed as needing no arm: they only
    /// move references the module already has inside the module (the analysis is
    /// flow-insensitive: every function whose reference exists anywhere has escaped, and
    /// boundary crossings are judged by interface types), read tables (whose contents are
    /// modelled), or touch no function reference at all.
    const INERT: &[&str] = &[
        // Plain control flow, locals, globals, stack.
        "Unreachable",
        "Nop",
        "Block",
        "Loop",
        "If",
        "Else",
        "End",
        "Br",
        "BrIf",
        "BrTable",
        "Return",
        "Drop",
        "Select",
        "TypedSelect",
        "TypedSelectMulti",
        "LocalGet",
        "LocalSet",
        "LocalTee",
        "GlobalGet",
        "GlobalSet",
        // References without a function in them, or tests and casts of existing ones.
        "RefNull",
        "RefIsNull",
        "RefAsNonNull",
        "RefEq",
        "BrOnNull",
        "BrOnNonNull",
        "RefTestNonNull",
        "RefTestNullable",
        "RefCastNonNull",
        "RefCastNullable",
        "BrOnCast",
        "BrOnCastFail",
        "RefI31",
        "RefI31Shared",
        "I31GetS",
        "I31GetU",
        "RefGetDesc",
        "RefCastDescEqNonNull",
        "RefCastDescEqNullable",
        "BrOnCastDescEq",
        "BrOnCastDescEqFail",
        // Tables read, sized or dropped: contents are modelled by the table's writers.
        "TableGet",
        "TableSize",
        "ElemDrop",
        "TableAtomicGet",
        // GC objects: fields hold what code put there (already escaped); element segments'
        // functions escape when the segment is read.
        "StructNew",
        "StructNewDefault",
        "StructGet",
        "StructGetS",
        "StructGetU",
        "StructSet",
        "StructNewDesc",
        "StructNewDefaultDesc",
        "ArrayNew",
        "ArrayNewDefault",
        "ArrayNewFixed",
        "ArrayNewData",
        "ArrayNewElem",
        "ArrayGet",
        "ArrayGetS",
        "ArrayGetU",
        "ArraySet",
        "ArrayLen",
        "ArrayFill",
        "ArrayCopy",
        "ArrayInitData",
        "ArrayInitElem",
        "StructAtomicGet",
        "StructAtomicGetS",
        "StructAtomicGetU",
        "StructAtomicSet",
        "StructAtomicRmwAdd",
        "StructAtomicRmwSub",
        "StructAtomicRmwAnd",
        "StructAtomicRmwOr",
        "StructAtomicRmwXor",
        "StructAtomicRmwXchg",
        "StructAtomicRmwCmpxchg",
        "ArrayAtomicGet",
        "ArrayAtomicGetS",
        "ArrayAtomicGetU",
        "ArrayAtomicSet",
        "ArrayAtomicRmwAdd",
        "ArrayAtomicRmwSub",
        "ArrayAtomicRmwAnd",
        "ArrayAtomicRmwOr",
        "ArrayAtomicRmwXor",
        "ArrayAtomicRmwXchg",
        "ArrayAtomicRmwCmpxchg",
        // Exceptions: payloads are values the module has; tags crossing the boundary are
        // judged by their types.
        "Throw",
        "ThrowRef",
        "TryTable",
        "Try",
        "Catch",
        "Rethrow",
        "Delegate",
        "CatchAll",
        // Continuations are created from references the module already has; running one is
        // `Resume`/`Switch` (handled).
        "ContNew",
        "ContBind",
        "Suspend",
        // Threads: fences and waits carry no references.
        "GlobalAtomicGet",
        "GlobalAtomicSet",
        "GlobalAtomicRmwAdd",
        "GlobalAtomicRmwSub",
        "GlobalAtomicRmwAnd",
        "GlobalAtomicRmwOr",
        "GlobalAtomicRmwXor",
        "GlobalAtomicRmwXchg",
        "GlobalAtomicRmwCmpxchg",
    ];

    /// Proposals whose operators may touch function references; the rest (numeric, memory,
    /// SIMD) cannot, and a new proposal already fails the build in `proposal_bit`.
    const REFERENCE_PROPOSALS: &[&str] = &[
        "reference_types",
        "function_references",
        "gc",
        "stack_switching",
        "exceptions",
        "legacy_exceptions",
        "tail_call",
        "shared_everything_threads",
        "custom_descriptors",
        "bulk_memory",
    ];

    /// Drift guard: an operator wasmparser adds to a reference-carrying proposal (or a call
    /// in the MVP) fails this test until it is handled or reviewed as inert.
    #[test]
    fn reference_operators_are_handled_or_reviewed() {
        let src = include_str!("core.rs");
        for op in HANDLED {
            assert!(
                src.contains(&format!("($t:ident, {op},")),
                "{op} has no scan! arm"
            );
        }
        let unknown: Vec<&str> = HANDLED
            .iter()
            .chain(INERT)
            .copied()
            .filter(|op| !OPERATORS.iter().any(|(_, o)| o == op))
            .collect();
        assert!(unknown.is_empty(), "not operators: {unknown:?}");
        let mut unreviewed = Vec::new();
        for (proposal, op) in OPERATORS {
            let relevant = REFERENCE_PROPOSALS.contains(proposal)
                || (*proposal == "mvp" && (op.contains("Call") || op.contains("Table")))
                || op.contains("Ref")
                || op.contains("Table")
                || op.contains("Call")
                || op.contains("Cont")
                || op.contains("Elem");
            let known = HANDLED.contains(op) || INERT.contains(op);
            // Bulk memory's memory operators carry no references.
            let memory_only =
                *proposal == "bulk_memory" && (op.starts_with("Memory") || op.starts_with("Data"));
            if relevant && !known && !memory_only {
                unreviewed.push(format!("{proposal}/{op}"));
            }
        }
        assert!(
            unreviewed.is_empty(),
            "operators that may create, move or call a function reference are neither \
             handled nor reviewed: {unreviewed:?}"
        );
    }

    macro_rules! list_operator_args {
        ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
            &[$((stringify!($op), &[$($(stringify!($arg)),*)?] as &[&str])),*]
        };
    }

    /// Every operator wasmparser knows, with the names of its arguments.
    const OPERATOR_ARGS: &[(&str, &[&str])] = wasmparser::for_each_operator!(list_operator_args);

    /// Drift guard for the index analysis: `memory!` sorts memory instructions by argument
    /// shape; an instruction with a memory argument of another shape would fall through to
    /// "ends the run" without counting as a write.
    #[test]
    fn memory_arguments_have_an_arm() {
        let shapes: &[&[&str]] = &[
            &["memarg"],
            &["memarg", "lane"],
            &["mem"],
            &["data_index", "mem"],
            &["dst_mem", "src_mem"],
        ];
        let src = include_str!("core.rs");
        for shape in shapes {
            assert!(
                src.contains(&format!("$op:ident, ({})", shape.join(" "))),
                "memory! has no arm for {shape:?}"
            );
        }
        for (op, args) in OPERATOR_ARGS {
            if args.iter().any(|a| a.contains("mem")) {
                assert!(shapes.contains(args), "{op} {args:?} has no memory! arm");
            }
        }
        // Only what is known to read counts as a read.
        for (op, want) in [
            ("I32Store8", MemAccess::Write),
            ("V128Store", MemAccess::Write),
            ("V128Store64Lane", MemAccess::Write),
            ("I32AtomicRmwAdd", MemAccess::Write),
            ("I64AtomicRmw32CmpxchgU", MemAccess::Write),
            ("I32AtomicStore", MemAccess::Write),
            ("I32Load8U", MemAccess::Read),
            ("V128Load64Lane", MemAccess::Read),
            ("MemoryAtomicWait32", MemAccess::Read),
            ("I32Load", MemAccess::LoadI32),
            ("I64Store", MemAccess::StoreI64),
        ] {
            assert_eq!(index::mem_access(op), want, "{op}");
        }
    }

    /// Drift guard for the index analysis: a function's results are known only when every
    /// way a value can reach its label is modelled. Every operator with a label argument is
    /// a modelled branch, ends the scan of results (`opaque_exit`), or carries no value to
    /// a label.
    #[test]
    fn branches_with_labels_are_modelled_or_opaque() {
        let src = include_str!("core.rs");
        let modelled = ["Br", "BrIf", "BrTable"];
        // Legacy exceptions: `delegate` and `rethrow` name a `try`, and pass no values.
        let no_value = ["Delegate", "Rethrow"];
        for (op, args) in OPERATOR_ARGS {
            let label = args.iter().any(|a| {
                matches!(
                    *a,
                    "relative_depth" | "targets" | "try_table" | "resume_table"
                )
            });
            if !label || modelled.contains(op) || no_value.contains(op) {
                continue;
            }
            let arm = src
                .find(&format!("($t:ident, {op},"))
                .unwrap_or_else(|| panic!("{op} takes a label but has no scan! arm"));
            let body = &src[arm..arm + src[arm..].find("};").unwrap()];
            assert!(
                body.contains("opaque_exit"),
                "{op} takes a label but its arm does not call opaque_exit"
            );
        }
    }

    /// The constant-expression operators that create or move a reference across a boundary
    /// are the ones `const_refs` reads.
    #[test]
    fn const_expr_reference_operators_are_handled() {
        let src = include_str!("core.rs");
        for op in [
            "RefFunc",
            "GlobalGet",
            "AnyConvertExtern",
            "ExternConvertAny",
        ] {
            assert!(
                src.contains(&format!("Operator::{op}")),
                "const_refs ignores {op}"
            );
        }
    }

    /// The graph's edges follow `calls` in order: each callee once, at its first site, in
    /// the order of first sites (what the per-call hash set gave before).
    #[test]
    fn first_sites_keeps_each_callees_first_site_in_order() {
        let mut calls = vec![
            (7, 10),
            (3, 20),
            (7, 30),
            (5, 40),
            (3, 50),
            (9, 60),
            (5, 70),
        ];
        first_sites(&mut calls);
        assert_eq!(calls, vec![(7, 10), (3, 20), (5, 40), (9, 60)]);
        let mut one = vec![(4, 1)];
        first_sites(&mut one);
        assert_eq!(one, vec![(4, 1)]);
    }

    #[test]
    fn every_feature_the_analyzer_reports_is_named() {
        for p in PROPOSALS.iter().filter(|p| **p != "mvp") {
            let name = p.replace('_', "-");
            assert!(FEATURE_NAMES.contains(&name.as_str()), "{name}");
        }
        let src = include_str!("core.rs");
        for (i, _) in src.match_indices("add(\"") {
            let rest = &src[i + 5..];
            let name = &rest[..rest.find('"').unwrap()];
            assert!(FEATURE_NAMES.contains(&name), "{name}");
        }
    }
}
