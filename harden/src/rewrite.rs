//! Writes the hardened module: one pass over the input's sections with the same wasmparser
//! the analyzer validated it with, re-encoding with `wasm-encoder` only what changes.
//!
//! Function indices: kept imports keep their order; the functions defined in the input
//! follow, in their order; then one new function per removed or guarded import (its stub or
//! guard), in import order. Every reference to a removed or guarded import (calls,
//! `ref.func`, element segments, exports, names) goes to its stand-in, so indirect calls are
//! guarded too. Unreachable defined functions keep their index and type, with the body
//! `unreachable` (their references stay valid). Passive data segments no live code uses
//! keep their index and lose their bytes. Passive element segments no live code uses
//! (`table.init`, `elem.drop`) and declarative ones declaring no function live code takes a
//! `ref.func` of are removed, and the element indices after them move down; active segments
//! stay (code reaches tables by index arithmetic).

use std::collections::HashSet;
use std::convert::Infallible;

use wasm_encoder::reencode::{Error as ReError, Reencode, utils};
use wasm_encoder::{
    BlockType, CodeSection, DataSection, Encode, Function, FunctionSection, ImportSection,
    IndirectNameMap, Instruction, NameMap, NameSection, Section,
};
use wasmparser::{
    DataKind, ElementItems, ElementKind, KnownCustom, Name, Operator, Parser, Payload, TypeRef,
};

use crate::Error;
use crate::plan::{Action, GuardSpec, Plan, SelectSpec};

/// WASI p1 rights and flags the guard reads (wasi_snapshot_preview1 witx).
mod wasi {
    pub const O_CREAT: i32 = 1;
    pub const O_TRUNC: i32 = 8;
    pub const FDFLAG_APPEND: i32 = 1;
    pub const FD_READ: i64 = 1 << 1;
    pub const FD_WRITE: i64 = 1 << 6;
    pub const FD_READDIR: i64 = 1 << 14;
    /// Rights that read file or directory data.
    pub const READ: i64 = FD_READ | FD_READDIR;
    /// Rights that change file data or its metadata: datasync, sync, write, allocate,
    /// path_filestat_set_size/times, fd_filestat_set_size/times.
    pub const WRITE: i64 =
        (1 << 0) | (1 << 4) | FD_WRITE | (1 << 8) | (1 << 19) | (1 << 20) | (1 << 22) | (1 << 23);
    /// Rights that create: directories, files, links, symlinks.
    pub const CREATE: i64 = (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 24);
    /// Rights that say what a request is for: reading or writing data.
    pub const DATA: i64 = READ | FD_WRITE;
}

/// What the rewrite did besides what the plan says.
#[derive(Debug, Default)]
pub(crate) struct Done {
    pub bytes: Vec<u8>,
    /// Passive data segments emptied.
    pub emptied_data: Vec<u32>,
    /// Passive and declarative element segments removed (input indices).
    pub removed_elements: Vec<u32>,
    /// Custom sections left out (their offsets into the code no longer hold).
    pub dropped_sections: Vec<String>,
}

struct Remap {
    /// New index of each input function index.
    map: Vec<u32>,
    /// Data segments live code uses.
    used_data: HashSet<u32>,
    /// New index of each input element segment (`u32::MAX`: removed).
    elements: Vec<u32>,
}

impl Reencode for Remap {
    type Error = Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, ReError<Infallible>> {
        // Out-of-range indices cannot occur in a module that validated; keep them as they are.
        Ok(self.map.get(func as usize).copied().unwrap_or(func))
    }

    fn data_index(&mut self, data: u32) -> Result<u32, ReError<Infallible>> {
        self.used_data.insert(data);
        Ok(data)
    }

    fn element_index(&mut self, element: u32) -> Result<u32, ReError<Infallible>> {
        // Live code only names segments that were kept (that is why they were kept).
        Ok(self
            .elements
            .get(element as usize)
            .copied()
            .unwrap_or(element))
    }
}

/// What live code refers to that element segments provide: segments by index
/// (`table.init`, `elem.drop`) and functions by `ref.func` (a declarative segment makes
/// those valid).
#[derive(Default)]
struct ElementUses {
    segments: HashSet<u32>,
    ref_funcs: HashSet<u32>,
}

/// Scans the bodies `live` keeps (the element section comes before the code, so this is a
/// pass of its own).
fn element_uses(bytes: &[u8], live: &[bool]) -> Result<ElementUses, Error> {
    let mut uses = ElementUses::default();
    let mut k = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let Payload::CodeSectionEntry(body) = payload.map_err(parse)? else {
            continue;
        };
        let is_live = live.get(k).copied().unwrap_or(true);
        k += 1;
        if !is_live {
            continue;
        }
        let mut ops = body.get_operators_reader().map_err(parse)?;
        while !ops.eof() {
            match ops.read().map_err(parse)? {
                Operator::TableInit { elem_index, .. } | Operator::ElemDrop { elem_index } => {
                    uses.segments.insert(elem_index);
                }
                Operator::RefFunc { function_index } => {
                    uses.ref_funcs.insert(function_index);
                }
                _ => {}
            }
        }
    }
    Ok(uses)
}

/// Whether a declarative segment's items declare a function in `ref_funcs`.
fn declares_any(items: &ElementItems<'_>, ref_funcs: &HashSet<u32>) -> Result<bool, Error> {
    match items.clone() {
        ElementItems::Functions(r) => {
            for f in r {
                if ref_funcs.contains(&f.map_err(parse)?) {
                    return Ok(true);
                }
            }
        }
        ElementItems::Expressions(_, r) => {
            for e in r {
                let mut ops = e.map_err(parse)?.get_operators_reader();
                while !ops.eof() {
                    if let Operator::RefFunc { function_index } = ops.read().map_err(parse)?
                        && ref_funcs.contains(&function_index)
                    {
                        return Ok(true);
                    }
                }
            }
        }
    }
    Ok(false)
}

/// Which element segments stay: new index per input index (`u32::MAX`: removed).
fn element_map(bytes: &[u8], uses: &ElementUses) -> Result<Vec<u32>, Error> {
    let mut map = Vec::new();
    let mut next = 0u32;
    for payload in Parser::new(0).parse_all(bytes) {
        let Payload::ElementSection(reader) = payload.map_err(parse)? else {
            continue;
        };
        for (k, e) in reader.into_iter().enumerate() {
            let e = e.map_err(parse)?;
            let keep = match e.kind {
                ElementKind::Active { .. } => true,
                ElementKind::Passive => uses.segments.contains(&(k as u32)),
                ElementKind::Declared => {
                    uses.segments.contains(&(k as u32)) || declares_any(&e.items, &uses.ref_funcs)?
                }
            };
            if keep {
                map.push(next);
                next += 1;
            } else {
                map.push(u32::MAX);
            }
        }
    }
    Ok(map)
}

/// Rank of each section in the binary order (custom sections have none).
fn rank(id: u8) -> Option<u8> {
    Some(match id {
        1 => 1,
        2 => 2,
        3 => 3,
        4 => 4,
        5 => 5,
        13 => 6,
        6 => 7,
        7 => 8,
        8 => 9,
        9 => 10,
        12 => 11,
        10 => 12,
        11 => 13,
        _ => return None,
    })
}

struct Out {
    sections: Vec<(u8, Vec<u8>)>,
}

impl Out {
    fn push(&mut self, s: &impl Section) {
        let mut v = Vec::new();
        s.encode(&mut v);
        self.sections.push((s.id(), v));
    }

    fn raw(&mut self, id: u8, content: &[u8]) {
        let mut v = Vec::new();
        content.encode(&mut v);
        self.sections.push((id, v));
    }
}

fn enc(e: ReError<Infallible>) -> Error {
    Error::Encode(e.to_string())
}

fn parse(e: wasmparser::BinaryReaderError) -> Error {
    Error::Parse {
        offset: e.offset(),
        message: e.message().to_string(),
    }
}

/// Rewrites `bytes` as `plan` says. `import_types` are the type indices of the function
/// imports; `record` is the content of the `wasmgate.harden` custom section.
pub(crate) fn rewrite(
    bytes: &[u8],
    plan: &Plan,
    import_types: &[u32],
    func_types: &[crate::FuncSig],
    record: &[u8],
) -> Result<Done, Error> {
    let nimp = plan.imports.len();
    let wide_result: Vec<bool> = import_types
        .iter()
        .map(|t| {
            func_types
                .get(*t as usize)
                .is_some_and(|(_, r)| r.as_slice() == [wasmparser::ValType::I64])
        })
        .collect();
    let ndef = plan.live.len();
    let kept: Vec<bool> = plan
        .imports
        .iter()
        .map(|(_, a)| !matches!(a, Action::Stub { .. }))
        .collect();
    let nkept = kept.iter().filter(|k| **k).count() as u32;
    // Stand-ins (stubs and guards), in import order.
    let standins: Vec<usize> = plan
        .imports
        .iter()
        .enumerate()
        .filter(|(_, (_, a))| !matches!(a, Action::Keep))
        .map(|(i, _)| i)
        .collect();
    let mut map = Vec::with_capacity(nimp + ndef);
    let mut kept_index = vec![u32::MAX; nimp];
    let mut next = 0u32;
    for (i, k) in kept.iter().enumerate() {
        if *k {
            kept_index[i] = next;
            next += 1;
        }
    }
    let first_standin = nkept + ndef as u32;
    for (i, (_, a)) in plan.imports.iter().enumerate() {
        map.push(match a {
            Action::Keep => kept_index[i],
            _ => first_standin + standins.iter().position(|&s| s == i).unwrap_or(0) as u32,
        });
    }
    for j in 0..ndef as u32 {
        map.push(nkept + j);
    }
    let elements = element_map(bytes, &element_uses(bytes, &plan.live)?)?;
    let mut re = Remap {
        map,
        used_data: HashSet::new(),
        elements,
    };
    let mut out = Out {
        sections: Vec::new(),
    };
    let mut done = Done::default();
    let mut func_done = false;
    let mut code: Option<(CodeSection, u32, u32)> = None;
    let mut code_done = false;
    let mut import_index = 0usize;
    let new_functions = |out: &mut Out| {
        let mut f = FunctionSection::new();
        for &i in &standins {
            f.function(import_types[i]);
        }
        out.push(&f);
    };
    let new_bodies = |code: &mut CodeSection| {
        for &i in &standins {
            code.function(&match &plan.imports[i].1 {
                Action::Stub { errno, .. } => stub(*errno, wide_result[i]),
                Action::Guard(g) => guard(g, kept_index[i]),
                Action::Select(g) => select(g, kept_index[i], import_types[i], func_types),
                Action::Keep => continue,
            });
        }
    };
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(parse)?;
        // Sections the input lacks but the stand-ins need go where the order wants them.
        if let Some((id, _)) = payload.as_section()
            && let Some(r) = rank(id)
        {
            if r > 3 && !func_done && !standins.is_empty() {
                new_functions(&mut out);
                func_done = true;
            }
            if r > 12 && !code_done && !standins.is_empty() {
                let mut c = CodeSection::new();
                new_bodies(&mut c);
                out.push(&c);
                code_done = true;
            }
        }
        match payload {
            Payload::Version { .. } | Payload::End(_) => {}
            Payload::ImportSection(reader) => {
                let mut sec = ImportSection::new();
                for imp in reader.into_imports() {
                    let imp = imp.map_err(parse)?;
                    if matches!(imp.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)) {
                        let i = import_index;
                        import_index += 1;
                        if !kept.get(i).copied().unwrap_or(true) {
                            continue;
                        }
                    }
                    re.parse_import(&mut sec, imp).map_err(enc)?;
                }
                out.push(&sec);
            }
            Payload::FunctionSection(reader) => {
                let mut f = FunctionSection::new();
                for ty in reader {
                    f.function(ty.map_err(parse)?);
                }
                for &i in &standins {
                    f.function(import_types[i]);
                }
                out.push(&f);
                func_done = true;
            }
            Payload::TableSection(reader) => {
                let mut s = wasm_encoder::TableSection::new();
                re.parse_table_section(&mut s, reader).map_err(enc)?;
                out.push(&s);
            }
            Payload::GlobalSection(reader) => {
                let mut s = wasm_encoder::GlobalSection::new();
                re.parse_global_section(&mut s, reader).map_err(enc)?;
                out.push(&s);
            }
            Payload::ExportSection(reader) => {
                let mut s = wasm_encoder::ExportSection::new();
                re.parse_export_section(&mut s, reader).map_err(enc)?;
                out.push(&s);
            }
            Payload::StartSection { func, .. } => {
                let function_index = re.function_index(func).map_err(enc)?;
                out.push(&wasm_encoder::StartSection { function_index });
            }
            Payload::ElementSection(reader) => {
                let mut s = wasm_encoder::ElementSection::new();
                for (k, e) in reader.into_iter().enumerate() {
                    let e = e.map_err(parse)?;
                    if re.elements.get(k).copied() == Some(u32::MAX) {
                        done.removed_elements.push(k as u32);
                    } else {
                        re.parse_element(&mut s, e).map_err(enc)?;
                    }
                }
                out.push(&s);
            }
            Payload::CodeSectionStart { count, .. } => {
                let c = CodeSection::new();
                if count == 0 {
                    let mut c = c;
                    new_bodies(&mut c);
                    out.push(&c);
                    code_done = true;
                } else {
                    code = Some((c, count, 0));
                }
            }
            Payload::CodeSectionEntry(body) => {
                let Some((c, count, seen)) = code.as_mut() else {
                    return Err(Error::Encode("function body outside a code section".into()));
                };
                if plan.live.get(*seen as usize).copied().unwrap_or(true) {
                    re.parse_function_body(c, body).map_err(enc)?;
                } else {
                    let mut f = Function::new([]);
                    f.instruction(&Instruction::Unreachable);
                    f.instruction(&Instruction::End);
                    c.function(&f);
                }
                *seen += 1;
                if *seen == *count
                    && let Some((mut c, _, _)) = code.take()
                {
                    new_bodies(&mut c);
                    out.push(&c);
                    code_done = true;
                }
            }
            Payload::DataSection(reader) => {
                let mut s = DataSection::new();
                for (k, d) in reader.into_iter().enumerate() {
                    let d = d.map_err(parse)?;
                    if matches!(d.kind, DataKind::Passive)
                        && !d.data.is_empty()
                        && !re.used_data.contains(&(k as u32))
                    {
                        s.passive(std::iter::empty());
                        done.emptied_data.push(k as u32);
                    } else {
                        re.parse_data(&mut s, d).map_err(enc)?;
                    }
                }
                out.push(&s);
            }
            Payload::CustomSection(reader) => {
                let name = reader.name();
                // Debug information, source maps and code metadata (branch hints) point at
                // code offsets and function indices that moved.
                if name.starts_with(".debug_")
                    || name == "sourceMappingURL"
                    || name.starts_with("metadata.code.")
                {
                    done.dropped_sections.push(name.to_string());
                    continue;
                }
                match reader.as_known() {
                    KnownCustom::Name(names) => out.push(&name_section(
                        &mut re,
                        names,
                        &standins,
                        plan,
                        first_standin,
                    )?),
                    _ => out.push(&wasm_encoder::CustomSection {
                        name: name.into(),
                        data: reader.data().into(),
                    }),
                }
            }
            other => {
                // Type, memory, tag and data-count sections hold no function index.
                match other.as_section() {
                    Some((id, range)) if matches!(id, 1 | 5 | 12 | 13) => {
                        out.raw(id, &bytes[range.start as usize..range.end as usize])
                    }
                    _ => {
                        return Err(Error::Unsupported(format!(
                            "section at byte offset {} cannot be rewritten",
                            other.as_section().map_or(0, |(_, r)| r.start)
                        )));
                    }
                }
            }
        }
    }
    if !standins.is_empty() {
        if !func_done {
            new_functions(&mut out);
        }
        if !code_done {
            let mut c = CodeSection::new();
            new_bodies(&mut c);
            out.push(&c);
        }
    }
    out.push(&wasm_encoder::CustomSection {
        name: crate::RECORD_SECTION.into(),
        data: record.into(),
    });
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    for (id, content) in out.sections {
        bytes.push(id);
        bytes.extend_from_slice(&content);
    }
    done.bytes = bytes;
    Ok(done)
}

/// The stand-in of an import whose every use is denied.
fn stub(errno: Option<i64>, wide: bool) -> Function {
    let mut f = Function::new([]);
    match errno {
        // The plan gives an errno only to imports returning one i32 or i64.
        Some(e) if wide => {
            f.instruction(&Instruction::I64Const(e));
        }
        Some(e) => {
            f.instruction(&Instruction::I32Const(e as i32));
        }
        None => {
            f.instruction(&Instruction::Unreachable);
        }
    }
    f.instruction(&Instruction::End);
    f
}

/// The guard of `path_open` (WASI p1 signature: fd, dirflags, path, path_len, oflags,
/// fs_rights_base, fs_rights_inheriting, fdflags, opened_fd_out -> errno). It refuses
/// requests that need what is denied without calling the host, and masks the rights of the
/// rest with constants the analyzer's narrowing reads (`x & M` right before the call).
fn guard(g: &GuardSpec, host: u32) -> Function {
    use wasi::*;
    let mut f = Function::new([]);
    let refuse = |f: &mut Function| {
        match g.errno {
            Some(e) => {
                f.instruction(&Instruction::I32Const(e as i32));
                f.instruction(&Instruction::Return);
            }
            None => {
                f.instruction(&Instruction::Unreachable);
            }
        }
        f.instruction(&Instruction::End);
    };
    let mut withheld = 0i64;
    if g.read {
        withheld |= READ;
    }
    if g.write {
        withheld |= WRITE;
    }
    if g.create {
        withheld |= CREATE;
    }
    let keep = !withheld;
    let mut refused_oflags = 0i32;
    if g.create {
        refused_oflags |= O_CREAT;
    }
    if g.write {
        refused_oflags |= O_TRUNC;
    }
    if refused_oflags != 0 {
        f.instruction(&Instruction::LocalGet(4));
        f.instruction(&Instruction::I32Const(refused_oflags));
        f.instruction(&Instruction::I32And);
        f.instruction(&Instruction::If(BlockType::Empty));
        refuse(&mut f);
    }
    if g.write {
        f.instruction(&Instruction::LocalGet(7));
        f.instruction(&Instruction::I32Const(FDFLAG_APPEND));
        f.instruction(&Instruction::I32And);
        f.instruction(&Instruction::If(BlockType::Empty));
        refuse(&mut f);
    }
    // A request for data (read or write) that keeps none once masked: write-only with
    // writes denied, read-only with reads denied.
    f.instruction(&Instruction::LocalGet(5));
    f.instruction(&Instruction::I64Const(DATA));
    f.instruction(&Instruction::I64And);
    f.instruction(&Instruction::I64Const(0));
    f.instruction(&Instruction::I64Ne);
    f.instruction(&Instruction::LocalGet(5));
    f.instruction(&Instruction::I64Const(DATA & keep));
    f.instruction(&Instruction::I64And);
    f.instruction(&Instruction::I64Eqz);
    f.instruction(&Instruction::I32And);
    f.instruction(&Instruction::If(BlockType::Empty));
    refuse(&mut f);
    // One straight run into the call, so the analyzer sees the masks.
    for l in 0..4 {
        f.instruction(&Instruction::LocalGet(l));
    }
    f.instruction(&Instruction::LocalGet(4));
    f.instruction(&Instruction::I32Const(!refused_oflags));
    f.instruction(&Instruction::I32And);
    f.instruction(&Instruction::LocalGet(5));
    f.instruction(&Instruction::I64Const(keep));
    f.instruction(&Instruction::I64And);
    f.instruction(&Instruction::LocalGet(6));
    f.instruction(&Instruction::I64Const(keep));
    f.instruction(&Instruction::I64And);
    f.instruction(&Instruction::LocalGet(7));
    f.instruction(&Instruction::LocalGet(8));
    f.instruction(&Instruction::Call(host));
    f.instruction(&Instruction::End);
    f
}

/// A first-argument guard: for each value passed on, `if arg0 == v` calls the host with
/// the constant `v` (which the analyzer's narrowing reads); any other value is refused.
fn select(g: &SelectSpec, host: u32, ty: u32, func_types: &[crate::FuncSig]) -> Function {
    let nparams = func_types
        .get(ty as usize)
        .map_or(0, |(p, _)| p.len() as u32);
    let mut f = Function::new([]);
    for &v in &g.pass {
        f.instruction(&Instruction::LocalGet(0));
        f.instruction(&Instruction::I32Const(v));
        f.instruction(&Instruction::I32Eq);
        f.instruction(&Instruction::If(BlockType::Empty));
        f.instruction(&Instruction::I32Const(v));
        for l in 1..nparams {
            f.instruction(&Instruction::LocalGet(l));
        }
        f.instruction(&Instruction::Call(host));
        f.instruction(&Instruction::Return);
        f.instruction(&Instruction::End);
    }
    match g.errno {
        Some(e) => f.instruction(&Instruction::I32Const(e as i32)),
        None => f.instruction(&Instruction::Unreachable),
    };
    f.instruction(&Instruction::End);
    f
}

/// The name section with function indices moved; stand-ins without a name get
/// `wasmgate.denied:ID` / `wasmgate.guard:ID`. Maps stay sorted by index.
fn name_section(
    re: &mut Remap,
    names: wasmparser::NameSectionReader<'_>,
    standins: &[usize],
    plan: &Plan,
    first_standin: u32,
) -> Result<NameSection, Error> {
    let mut out = NameSection::new();
    for sub in names {
        let sub = sub.map_err(parse)?;
        match sub {
            Name::Function(map) => {
                let mut v: Vec<(u32, String)> = Vec::new();
                for n in map {
                    let n = n.map_err(parse)?;
                    let idx = re.function_index(n.index).map_err(enc)?;
                    v.push((idx, n.name.to_string()));
                }
                for (k, &i) in standins.iter().enumerate() {
                    let idx = first_standin + k as u32;
                    if !v.iter().any(|(j, _)| *j == idx) {
                        let what = match plan.imports[i].1 {
                            Action::Guard(_) | Action::Select(_) => "guard",
                            _ => "denied",
                        };
                        v.push((idx, format!("wasmgate.{what}:{}", plan.imports[i].0)));
                    }
                }
                v.sort_by_key(|(i, _)| *i);
                v.dedup_by_key(|(i, _)| *i);
                let mut m = NameMap::new();
                for (i, n) in &v {
                    m.append(*i, n);
                }
                out.functions(&m);
            }
            Name::Local(map) => out.locals(&indirect(re, map)?),
            Name::Label(map) => out.labels(&indirect(re, map)?),
            other => utils::parse_custom_name_subsection(re, &mut out, other).map_err(enc)?,
        }
    }
    Ok(out)
}

/// A per-function name map with the functions moved, sorted by new index.
fn indirect(
    re: &mut Remap,
    map: wasmparser::IndirectNameMap<'_>,
) -> Result<IndirectNameMap, Error> {
    let mut v: Vec<(u32, NameMap)> = Vec::new();
    for n in map {
        let n = n.map_err(parse)?;
        let idx = re.function_index(n.index).map_err(enc)?;
        let mut inner = NameMap::new();
        for x in n.names {
            let x = x.map_err(parse)?;
            inner.append(x.index, x.name);
        }
        v.push((idx, inner));
    }
    v.sort_by_key(|(i, _)| *i);
    v.dedup_by_key(|(i, _)| *i);
    let mut m = IndirectNameMap::new();
    for (i, inner) in &v {
        m.append(*i, inner);
    }
    Ok(m)
}
