//! Memory and table bounds (`[bounds]` in a policy): active data and element segments fit
//! the initial memory or table, load/store addresses stay within the initial memory, and
//! where `memory.grow` can run.
//!
//! Segment offsets are interval arithmetic over constant expressions (an imported global
//! such as Emscripten's `__memory_base` takes its range from the policy, else the segment is
//! unknown). Accesses reuse the call evaluator's expressions: a constant address is decided
//! directly, an address over parameters and constants is one solver query (capped per run),
//! anything else (a stack pointer in a mutable global, a loaded pointer) is unknown with
//! its site. The cost is one evaluator pass per reachable function, linear in the code.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use wasmparser::{
    ConstExpr, DataKind, ElementItems, ElementKind, MemArg, MemArgTarget, Operator, Parser,
    Payload, TypeRef,
};

use crate::eval::{AccessRec, Cond, Evaluator};
use crate::expr::{Leaves, Node};
use crate::{Checker, Error};

/// What a memory instruction does, for the bounds check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Reads or writes `size` bytes at its address operand plus `offset` (every instruction
    /// with a `memarg`: the address is its deepest operand, the width its natural alignment).
    Access { memory: u32, offset: u64, size: u64 },
    /// `memory.grow`.
    Grow { memory: u32 },
    /// Touches memory at addresses the check does not model (bulk memory operations).
    Other { memory: u32 },
}

macro_rules! memarg_of {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        /// The `memarg` immediate of any operator that has one (generated from wasmparser's
        /// operator list, so a new memory instruction cannot be missed).
        #[allow(unused_variables)]
        fn memarg(op: &Operator<'_>) -> Option<MemArg> {
            match op {
                $( Operator::$op $({ $($arg),* })? => pick!([$($($arg)*)?] [$($($arg)*)?]), )*
                _ => None,
            }
        }
    };
}

/// The value of the first argument when it is named `memarg` (the names are matched, the
/// values taken from the second list so they keep the pattern's bindings).
macro_rules! pick {
    ([memarg $($n:ident)*] [$v:ident $($rest:ident)*]) => {
        Some(*$v)
    };
    ([$($n:ident)*] [$($v:ident)*]) => {
        None
    };
}

wasmparser::for_each_operator!(memarg_of);

/// The bounds shape of an operator, if it touches linear memory.
pub(crate) fn shape(op: &Operator<'_>) -> Option<Shape> {
    if let Some(m) = memarg(op) {
        return match m.target {
            MemArgTarget::Memory(memory) => Some(Shape::Access {
                memory,
                offset: m.offset,
                size: 1u64 << m.max_align.min(4),
            }),
            // A GC array payload, not linear memory.
            MemArgTarget::Array(_) => None,
        };
    }
    match op {
        Operator::MemoryGrow { mem } => Some(Shape::Grow { memory: *mem }),
        Operator::MemoryFill { mem }
        | Operator::MemoryDiscard { mem }
        | Operator::MemoryInit { mem, .. } => Some(Shape::Other { memory: *mem }),
        Operator::MemoryCopy { dst_mem, .. } => Some(Shape::Other { memory: *dst_mem }),
        _ => None,
    }
}

/// What the bounds check should prove.
#[derive(Debug, Clone, Default)]
pub struct BoundsOptions {
    /// Active data and element segments fit the initial memory or table.
    pub segments: bool,
    /// Load and store addresses stay within the initial memory.
    pub accesses: bool,
    /// List the reachable `memory.grow` sites.
    pub grow: bool,
    /// Range (inclusive) of imported globals by import id `module#name`.
    pub globals: HashMap<String, (u64, u64)>,
    /// Solver queries for symbolic addresses; the rest are unknown.
    pub max_queries: usize,
    /// Time limit per query, in milliseconds.
    pub timeout_ms: u64,
}

/// A verdict of the bounds check, with what decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "verdict", content = "detail")]
pub enum Bound {
    /// In bounds on every execution.
    Proven,
    /// Out of bounds (why, with the values).
    Violated(String),
    /// Undecided (why, with the site).
    Unknown(String),
}

/// Data or element segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentKind {
    /// A data segment (into a memory, sizes in bytes).
    Data,
    /// An element segment (into a table, sizes in elements).
    Element,
}

/// One active segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentCheck {
    /// Data or element.
    pub kind: SegmentKind,
    /// Segment index.
    pub index: u32,
    /// Memory or table index it is copied into.
    pub target: u32,
    /// Byte offset of the segment in the binary.
    pub at: u64,
    /// Bytes or elements it holds.
    pub len: u64,
    /// Smallest and largest start offset, when known.
    pub start: Option<(u64, u64)>,
    /// Initial size of the memory (bytes) or table (elements).
    pub size: u64,
    /// The verdict.
    pub verdict: Bound,
}

/// One access that is not proven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessCheck {
    /// Byte offset of the instruction (none: the whole function).
    pub offset: Option<u64>,
    /// Memory index.
    pub memory: u32,
    /// Violated or unknown, with why.
    pub verdict: Bound,
}

/// The accesses of one function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionAccesses {
    /// Function name.
    pub function: String,
    /// Entry points reaching it (at most [`crate::MAX_LISTED_ENTRIES`]).
    pub entry_points: Vec<String>,
    /// Accesses proven in bounds, per memory.
    pub proven: BTreeMap<u32, usize>,
    /// Every access not proven, by offset.
    pub open: Vec<AccessCheck>,
}

/// A reachable `memory.grow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrowSite {
    /// Function name.
    pub function: String,
    /// Byte offset of the instruction.
    pub offset: u64,
    /// Memory index.
    pub memory: u32,
    /// Entry points reaching it (at most [`crate::MAX_LISTED_ENTRIES`]).
    pub entry_points: Vec<String>,
}

/// Everything the bounds check found in one module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BoundsReport {
    /// Every active segment, in section order.
    pub segments: Vec<SegmentCheck>,
    /// Every reachable function with a memory access, by function index.
    pub accesses: Vec<FunctionAccesses>,
    /// Reachable `memory.grow` sites.
    pub grows: Vec<GrowSite>,
    /// Solver queries made.
    pub queries: usize,
}

/// A global as a segment offset sees it.
enum GlobalInfo {
    Imported(String),
    Const(u64),
    Other,
}

/// Sizes of the module's memories (initial bytes, whether it may be larger when an access
/// runs, 64-bit, imported) and tables (initial elements, imported).
struct Spaces {
    memories: Vec<(u128, bool, bool, bool)>,
    tables: Vec<(u64, bool)>,
}

impl Checker<'_> {
    /// Runs the bounds check over the module's bytes (the ones given to [`Checker::new`]).
    pub fn bounds(
        &mut self,
        bytes: &[u8],
        analysis: &wasmgate_analyzer::Analysis,
        opts: &BoundsOptions,
    ) -> Result<BoundsReport, Error> {
        let m = analysis.module.as_ref().ok_or(Error::Component)?;
        let grows_anywhere = self.any_grow();
        let spaces = Spaces {
            memories: m
                .memories
                .iter()
                .map(|mem| {
                    let page = 1u128 << mem.page_size_log2.unwrap_or(16);
                    let can_grow = mem.imported
                        || (mem.maximum.is_none_or(|x| x > mem.initial) && grows_anywhere);
                    (
                        u128::from(mem.initial) * page,
                        can_grow,
                        mem.memory64,
                        mem.imported,
                    )
                })
                .collect(),
            tables: m.tables.iter().map(|t| (t.initial, t.imported)).collect(),
        };
        let mut out = BoundsReport::default();
        if opts.segments {
            out.segments = segments(bytes, &spaces, opts)?;
        }
        if opts.accesses || opts.grow {
            self.functions(&spaces, opts, &mut out);
        }
        Ok(out)
    }

    /// Whether any function body holds a `memory.grow` (reachable or not: a cheap scan).
    fn any_grow(&self) -> bool {
        self.module.bodies.iter().any(|b| {
            b.body.get_operators_reader().is_ok_and(|r| {
                r.into_iter()
                    .any(|op| matches!(op, Ok(Operator::MemoryGrow { .. })))
            })
        })
    }

    fn functions(&mut self, spaces: &Spaces, opts: &BoundsOptions, out: &mut BoundsReport) {
        let session = crate::solve::Session::new();
        let mut funcs: Vec<u32> = self.facts.reachable.iter().copied().collect();
        funcs.sort_unstable();
        for f in funcs {
            let Some(body) = f.checked_sub(self.module.num_imported) else {
                continue;
            };
            let mut ev = Evaluator {
                module: &self.module,
                reasons: &mut self.reasons,
                accesses: true,
            };
            let eval = ev.function(f, body as usize);
            if let Some(id) = eval.failed {
                if opts.accesses && self.has_access(body as usize) {
                    let why = self.report(id);
                    let mut fa = self.function_entry(f);
                    fa.open.push(AccessCheck {
                        offset: None,
                        memory: 0,
                        verdict: Bound::Unknown(why.what),
                    });
                    out.accesses.push(fa);
                }
                continue;
            }
            let mut fa: Option<FunctionAccesses> = None;
            for a in &eval.accesses {
                match a.shape {
                    Shape::Grow { memory } if opts.grow && !a.dead => {
                        let mut entry_points = self.facts.entries_reaching(f);
                        entry_points.truncate(crate::MAX_LISTED_ENTRIES);
                        out.grows.push(GrowSite {
                            function: self.facts.name(f),
                            offset: a.offset,
                            memory,
                            entry_points,
                        });
                    }
                    Shape::Grow { .. } => {}
                    _ if !opts.accesses => {}
                    Shape::Access { memory, .. } | Shape::Other { memory } => {
                        let verdict = self.access(f, a, spaces, opts, &session, &mut out.queries);
                        let fa = fa.get_or_insert_with(|| self.function_entry(f));
                        match verdict {
                            Bound::Proven => *fa.proven.entry(memory).or_default() += 1,
                            v => fa.open.push(AccessCheck {
                                offset: Some(a.offset),
                                memory,
                                verdict: v,
                            }),
                        }
                    }
                }
            }
            out.accesses.extend(fa);
        }
    }

    fn function_entry(&self, f: u32) -> FunctionAccesses {
        let mut entry_points = self.facts.entries_reaching(f);
        entry_points.truncate(crate::MAX_LISTED_ENTRIES);
        FunctionAccesses {
            function: self.facts.name(f),
            entry_points,
            proven: BTreeMap::new(),
            open: Vec::new(),
        }
    }

    fn has_access(&self, body: usize) -> bool {
        self.module.bodies.get(body).is_some_and(|b| {
            b.body.get_operators_reader().is_ok_and(|r| {
                r.into_iter().any(|op| {
                    op.is_ok_and(
                        |op| matches!(shape(&op), Some(s) if !matches!(s, Shape::Grow { .. })),
                    )
                })
            })
        })
    }

    /// The verdict for one access.
    fn access(
        &mut self,
        f: u32,
        a: &AccessRec,
        spaces: &Spaces,
        opts: &BoundsOptions,
        session: &crate::solve::Session,
        queries: &mut usize,
    ) -> Bound {
        if a.dead {
            return Bound::Proven;
        }
        let (memory, offset, size) = match a.shape {
            Shape::Access {
                memory,
                offset,
                size,
            } => (memory, offset, size),
            Shape::Other { .. } => {
                return Bound::Unknown(
                    "bulk memory operation (memory.fill/copy/init/discard): lengths not modelled"
                        .to_string(),
                );
            }
            Shape::Grow { .. } => return Bound::Proven,
        };
        let Some(&(bytes, can_grow, _, _)) = spaces.memories.get(memory as usize) else {
            return Bound::Unknown(format!("no memory {memory}"));
        };
        let grown = if can_grow {
            "; it may be in bounds once the memory has grown"
        } else {
            ""
        };
        let Some(addr) = &a.addr else {
            return Bound::Unknown("address operand not tracked (dead code)".to_string());
        };
        let extra = u128::from(offset) + u128::from(size);
        if let Some(c) = addr.as_const() {
            let end = u128::from(c) + extra;
            return if end <= bytes {
                Bound::Proven
            } else if can_grow {
                Bound::Unknown(format!(
                    "constant address {c:#x} + offset {offset} + {size} bytes ends past the \
                     initial memory ({bytes} bytes){grown}"
                ))
            } else {
                Bound::Violated(format!(
                    "constant address {c:#x} + offset {offset} + {size} bytes ends at {end}, \
                     past the memory's {bytes} bytes: traps whenever executed"
                ))
            };
        }
        if addr.range().1 + extra <= bytes {
            return Bound::Proven;
        }
        let mut leaves = Leaves::default();
        addr.leaves(&mut leaves);
        if let Some(&id) = leaves.opaque.first() {
            let r = self.report(id);
            let at = r.offset.map_or(String::new(), |o| format!(" @ {o:#x}"));
            return Bound::Unknown(format!(
                "address depends on a {} in `{}`{at}",
                r.what, r.function
            ));
        }
        // Only the conditions sharing a parameter with the address can bound it (dropping
        // the others only adds paths).
        let conds: Vec<Cond> = a
            .conds
            .iter()
            .filter(|c| {
                let mut l = Leaves::default();
                c.e.leaves(&mut l);
                l.params.iter().any(|p| leaves.params.contains(p))
            })
            .cloned()
            .collect();
        // A violation needs the whole path condition (a dropped one may make the path
        // impossible).
        let dropped = conds.len() != a.conds.len();
        let entry = self.facts.entry_of.contains_key(&f) && !self.facts.indirect.contains(&f);
        if conds.is_empty() && (!entry || can_grow) {
            // Nothing bounds it here and no violation could be reported: the solver would
            // only confirm the range.
            return Bound::Unknown(format!(
                "address over parameters of `{}` is not bounded within the function (up to \
                 {:#x}; callers are not followed){grown}",
                self.facts.name(f),
                addr.range().1
            ));
        }
        if *queries >= opts.max_queries {
            return Bound::Unknown(format!(
                "solver query cap reached ({} per run, `bounds.max_queries`)",
                opts.max_queries
            ));
        }
        *queries += 1;
        match session.exceeds(addr, &conds, extra, bytes, opts.timeout_ms) {
            crate::solve::Decision::Unsat => Bound::Proven,
            crate::solve::Decision::Unknown(kind) => {
                let r = self.report_kind(kind, f, a.offset);
                Bound::Unknown(r.what)
            }
            crate::solve::Decision::Sat { value, inputs } => {
                let cond_opaque = conds.iter().any(|c| {
                    let mut l = Leaves::default();
                    c.e.leaves(&mut l);
                    !l.opaque.is_empty()
                });
                let params: Vec<String> = inputs
                    .iter()
                    .map(|((pf, i), v)| format!("{} param {i} = {v}", self.facts.name(*pf)))
                    .collect();
                let entry =
                    self.facts.entry_of.contains_key(&f) && !self.facts.indirect.contains(&f);
                if entry && !dropped && !cond_opaque && !can_grow && only_params_of(addr, f) {
                    Bound::Violated(format!(
                        "address {value:#x} + offset {offset} + {size} bytes passes the memory's \
                         {bytes} bytes with {} (an entry point's parameters, chosen by the host)",
                        params.join(", ")
                    ))
                } else {
                    Bound::Unknown(format!(
                        "address over parameters of `{}` may pass the initial memory ({bytes} \
                         bytes), e.g. {value:#x} with {} (callers are not followed){grown}",
                        self.facts.name(f),
                        params.join(", ")
                    ))
                }
            }
        }
    }
}

/// Whether every parameter in `e` belongs to `f`.
fn only_params_of(e: &crate::expr::E, f: u32) -> bool {
    let mut l = Leaves::default();
    e.leaves(&mut l);
    l.params.iter().all(|&(pf, _)| pf == f) && !matches!(e.node(), Node::Opaque(_))
}

/// Reads the segments and decides each active one.
fn segments(
    bytes: &[u8],
    spaces: &Spaces,
    opts: &BoundsOptions,
) -> Result<Vec<SegmentCheck>, Error> {
    let mut globals: Vec<GlobalInfo> = Vec::new();
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::ImportSection(r) => {
                for imp in r.into_imports() {
                    let imp = imp?;
                    if let TypeRef::Global(_) = imp.ty {
                        globals.push(GlobalInfo::Imported(format!("{}#{}", imp.module, imp.name)));
                    }
                }
            }
            Payload::GlobalSection(r) => {
                for g in r {
                    let g = g?;
                    let v = if g.ty.mutable {
                        None
                    } else {
                        single_const(&g.init_expr)
                    };
                    globals.push(v.map_or(GlobalInfo::Other, GlobalInfo::Const));
                }
            }
            Payload::DataSection(r) => {
                for (index, d) in r.into_iter().enumerate() {
                    let d = d?;
                    let DataKind::Active {
                        memory_index,
                        offset_expr,
                    } = d.kind
                    else {
                        continue;
                    };
                    // A memory the module may grow is still at its initial size when segments
                    // are copied; only an imported one may be larger.
                    let Some(&(size, _, wide, imported)) =
                        spaces.memories.get(memory_index as usize)
                    else {
                        continue;
                    };
                    let bits = if wide { 64 } else { 32 };
                    let range = const_range(&offset_expr, &globals, &opts.globals, bits);
                    out.push(decide(
                        SegmentKind::Data,
                        index as u32,
                        memory_index,
                        d.range.start,
                        d.data.len() as u64,
                        range,
                        size.min(u128::from(u64::MAX)) as u64,
                        imported,
                    ));
                }
            }
            Payload::ElementSection(r) => {
                for (index, e) in r.into_iter().enumerate() {
                    let e = e?;
                    let ElementKind::Active {
                        table_index,
                        offset_expr,
                    } = e.kind
                    else {
                        continue;
                    };
                    let table = table_index.unwrap_or(0);
                    let Some(&(size, imported)) = spaces.tables.get(table as usize) else {
                        continue;
                    };
                    let len = match &e.items {
                        ElementItems::Functions(f) => f.count(),
                        ElementItems::Expressions(_, x) => x.count(),
                    };
                    // Table64 offsets are i64; wasmparser's offset expression says which.
                    let bits = if const_is_i64(&offset_expr) { 64 } else { 32 };
                    let range = const_range(&offset_expr, &globals, &opts.globals, bits);
                    out.push(decide(
                        SegmentKind::Element,
                        index as u32,
                        table,
                        e.range.start,
                        u64::from(len),
                        range,
                        size,
                        imported,
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn decide(
    kind: SegmentKind,
    index: u32,
    target: u32,
    at: u64,
    len: u64,
    range: Result<(u64, u64), String>,
    size: u64,
    imported: bool,
) -> SegmentCheck {
    let (unit, space) = match kind {
        SegmentKind::Data => ("bytes", "memory"),
        SegmentKind::Element => ("elements", "table"),
    };
    let (start, verdict) = match range {
        Err(why) => (None, Bound::Unknown(why)),
        Ok((lo, hi)) => {
            let end_hi = u128::from(hi) + u128::from(len);
            let verdict = if end_hi <= u128::from(size) {
                Bound::Proven
            } else {
                // The smallest start that does not fit.
                let bad = (u128::from(size) + 1)
                    .saturating_sub(u128::from(len))
                    .max(u128::from(lo));
                let end = bad + u128::from(len);
                let what = format!(
                    "{len} {unit} at offset {bad} end at {end}, past the {space}'s initial {size} {unit}"
                );
                if imported {
                    Bound::Unknown(format!(
                        "{what}; the {space} is imported, so it fits only if the host's is larger \
                         than its declared minimum"
                    ))
                } else if lo == hi {
                    Bound::Violated(format!("{what}: instantiation fails"))
                } else {
                    Bound::Violated(format!(
                        "{what}: the offset may be anything in {lo}..={hi} (the range given in \
                         `bounds.globals`), and instantiation fails for this one"
                    ))
                }
            };
            (Some((lo, hi)), verdict)
        }
    };
    SegmentCheck {
        kind,
        index,
        target,
        at,
        len,
        start,
        size,
        verdict,
    }
}

fn single_const(e: &ConstExpr<'_>) -> Option<u64> {
    let mut r = e.get_operators_reader();
    let v = match r.read().ok()? {
        Operator::I32Const { value } => u64::from(value as u32),
        Operator::I64Const { value } => value as u64,
        _ => return None,
    };
    matches!(r.read().ok()?, Operator::End).then_some(v)
}

fn const_is_i64(e: &ConstExpr<'_>) -> bool {
    let mut r = e.get_operators_reader();
    matches!(
        r.read(),
        Ok(Operator::I64Const { .. } | Operator::I64Add | Operator::I64Sub | Operator::I64Mul)
    )
}

/// The range of an offset expression: constants, globals (imported ones from `ranges`), and
/// the extended-const `add`/`sub`/`mul`; a result that may wrap is unknown.
fn const_range(
    e: &ConstExpr<'_>,
    globals: &[GlobalInfo],
    ranges: &HashMap<String, (u64, u64)>,
    bits: u32,
) -> Result<(u64, u64), String> {
    let top = if bits == 64 {
        u128::from(u64::MAX)
    } else {
        u128::from(u32::MAX)
    };
    let mut stack: Vec<(u128, u128)> = Vec::new();
    let wrap = || "the offset expression may wrap around".to_string();
    for op in e.get_operators_reader() {
        let op = op.map_err(|e| e.to_string())?;
        type Pair = (u128, u128);
        let bin = |stack: &mut Vec<Pair>| -> Result<(Pair, Pair), String> {
            let b = stack.pop().ok_or("malformed offset expression")?;
            let a = stack.pop().ok_or("malformed offset expression")?;
            Ok((a, b))
        };
        match op {
            Operator::I32Const { value } => {
                let v = u128::from(value as u32);
                stack.push((v, v));
            }
            Operator::I64Const { value } => {
                let v = u128::from(value as u64);
                stack.push((v, v));
            }
            Operator::GlobalGet { global_index } => match globals.get(global_index as usize) {
                Some(GlobalInfo::Const(v)) => stack.push((u128::from(*v), u128::from(*v))),
                Some(GlobalInfo::Imported(id)) => match ranges.get(id) {
                    Some(&(lo, hi)) => stack.push((u128::from(lo), u128::from(hi))),
                    None => {
                        return Err(format!(
                            "the offset reads imported global `{id}`, which has no range in \
                             `[bounds.globals]`"
                        ));
                    }
                },
                _ => {
                    return Err(format!(
                        "the offset reads global {global_index}, not a constant"
                    ));
                }
            },
            Operator::I32Add | Operator::I64Add => {
                let (a, b) = bin(&mut stack)?;
                stack.push((a.0 + b.0, a.1 + b.1));
            }
            Operator::I32Sub | Operator::I64Sub => {
                let (a, b) = bin(&mut stack)?;
                if a.0 < b.1 {
                    return Err(wrap());
                }
                stack.push((a.0 - b.1, a.1 - b.0));
            }
            Operator::I32Mul | Operator::I64Mul => {
                let (a, b) = bin(&mut stack)?;
                stack.push((a.0 * b.0, a.1.saturating_mul(b.1)));
            }
            Operator::End => break,
            _ => return Err("offset expression not modelled".to_string()),
        }
        if stack.last().is_some_and(|&(_, hi)| hi > top) {
            return Err(wrap());
        }
    }
    match stack.as_slice() {
        [(lo, hi)] => Ok((*lo as u64, *hi as u64)),
        _ => Err("malformed offset expression".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! list_operator_args {
        ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
            &[$((stringify!($op), &[$($(stringify!($arg)),*)?] as &[&str])),*]
        };
    }

    const OPERATOR_ARGS: &[(&str, &[&str])] = wasmparser::for_each_operator!(list_operator_args);

    /// Drift guard: every operator with a memory argument is either a `memarg` access (found
    /// generically) or named in `shape`, so a new memory instruction cannot pass unchecked.
    #[test]
    fn every_memory_instruction_has_a_shape() {
        let src = include_str!("bounds.rs");
        let body = &src[src.find("pub(crate) fn shape").unwrap()..];
        let body = &body[..body.find("\n}\n").unwrap()];
        for (op, args) in OPERATOR_ARGS {
            if args.first() == Some(&"memarg") {
                continue;
            }
            let named = args.iter().any(|a| *a == "mem" || a.ends_with("_mem"));
            // `memory.size` only reads the size.
            if named && *op != "MemorySize" {
                assert!(
                    body.contains(&format!("Operator::{op} ")),
                    "{op} {args:?} touches memory but `shape` does not name it"
                );
            }
            assert!(
                args.iter().skip(1).all(|a| *a != "memarg"),
                "{op}: memarg not first"
            );
        }
    }

    #[test]
    fn memarg_widths_are_the_natural_alignment() {
        let w = |wat: &str| {
            let wasm = wat::parse_str(format!("(module (memory 1) (func (param i32 i64) {wat}))"))
                .unwrap();
            let mut out = Vec::new();
            for p in Parser::new(0).parse_all(&wasm) {
                if let Ok(Payload::CodeSectionEntry(b)) = p {
                    for op in b.get_operators_reader().unwrap() {
                        if let Some(Shape::Access { size, .. }) = shape(&op.unwrap()) {
                            out.push(size);
                        }
                    }
                }
            }
            out
        };
        assert_eq!(w("(drop (i32.load8_u (local.get 0)))"), [1]);
        assert_eq!(w("(i64.store32 (local.get 0) (local.get 1))"), [4]);
        assert_eq!(w("(drop (v128.load (local.get 0)))"), [16]);
        assert_eq!(w("(drop (v128.load8x8_s (local.get 0)))"), [8]);
        assert_eq!(
            w("(drop (i64.atomic.rmw.add (local.get 0) (local.get 1)))"),
            [8]
        );
        assert_eq!(w("(drop (v128.load16_splat (local.get 0)))"), [2]);
    }
}
