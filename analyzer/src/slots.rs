//! What each table slot of an embedded core module holds after instantiation, item by item:
//! the component linker maps `i32.const K; call_indirect` to slot K, so a `ref.null` or
//! `global.get` element item must keep its place instead of shifting every later slot, and a
//! table initialiser expression fills every slot the segments leave alone.

use wasmparser::{ConstExpr, ElementItems, ElementKind, Operator, Parser, Payload, TableInit};

/// The value a constant expression puts in a table slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Func(u32),
    Null,
    /// The value of a global that is not a constant function reference: anything escaped.
    Unknown,
}

/// An active element segment, one [`Slot`] per item.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub table: u32,
    pub offset: Option<u64>,
    pub items: Vec<Slot>,
}

/// Slot facts of one module.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slots {
    pub segments: Vec<Segment>,
    /// Per table index (imports first): the initialiser of every slot, if one is given.
    pub table_init: Vec<Option<Slot>>,
    /// Functions named by table initialisers: they escape like element items.
    pub init_funcs: Vec<u32>,
}

/// One operand of a constant expression, before globals are resolved.
#[derive(Clone, Copy)]
enum Raw {
    Func(u32),
    Null,
    Global(u32),
    Other,
}

fn raw(expr: &ConstExpr<'_>) -> Raw {
    let mut reader = expr.get_operators_reader();
    let mut out = Raw::Other;
    let mut ops = 0;
    while let Ok(op) = reader.read() {
        ops += 1;
        out = match op {
            Operator::RefFunc { function_index } => Raw::Func(function_index),
            Operator::RefNull { .. } => Raw::Null,
            Operator::GlobalGet { global_index } => Raw::Global(global_index),
            Operator::End => break,
            _ => Raw::Other,
        };
    }
    // Anything longer than one operator (GC constructors, conversions) is not a plain value.
    if ops > 2 { Raw::Other } else { out }
}

/// Reads the slot facts of the module whose bytes are `bytes` (already validated).
pub(crate) fn read(bytes: &[u8]) -> Slots {
    let mut out = Slots::default();
    // Per global (imports first): its constant value, `None` when imported or mutable.
    let mut globals: Vec<Option<Raw>> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else { break };
        match payload {
            Payload::ImportSection(r) => {
                for imp in r.into_imports().flatten() {
                    match imp.ty {
                        wasmparser::TypeRef::Global(_) => globals.push(None),
                        wasmparser::TypeRef::Table(_) => out.table_init.push(None),
                        _ => {}
                    }
                }
            }
            Payload::TableSection(r) => {
                for t in r.into_iter().flatten() {
                    let init = match &t.init {
                        TableInit::RefNull => None,
                        TableInit::Expr(e) => {
                            let s = resolve(raw(e), &globals);
                            if let Slot::Func(f) = s {
                                out.init_funcs.push(f);
                            }
                            Some(s)
                        }
                    };
                    out.table_init.push(init);
                }
            }
            Payload::GlobalSection(r) => {
                for g in r.into_iter().flatten() {
                    let v = raw(&g.init_expr);
                    // A global initialiser may only read earlier (imported or immutable) globals.
                    let v = match v {
                        Raw::Global(i) => globals.get(i as usize).copied().flatten(),
                        other => Some(other),
                    };
                    globals.push(if g.ty.mutable { None } else { v });
                }
            }
            Payload::ElementSection(r) => {
                for e in r.into_iter().flatten() {
                    let ElementKind::Active {
                        table_index,
                        offset_expr,
                    } = &e.kind
                    else {
                        continue;
                    };
                    let items = match &e.items {
                        ElementItems::Functions(r) => {
                            r.clone().into_iter().flatten().map(Slot::Func).collect()
                        }
                        ElementItems::Expressions(_, r) => r
                            .clone()
                            .into_iter()
                            .flatten()
                            .map(|x| resolve(raw(&x), &globals))
                            .collect(),
                    };
                    let offset = const_i(offset_expr);
                    out.segments.push(Segment {
                        table: table_index.unwrap_or(0),
                        offset,
                        items,
                    });
                }
            }
            Payload::CodeSectionStart { .. } | Payload::End(_) => break,
            _ => {}
        }
    }
    out
}

fn resolve(r: Raw, globals: &[Option<Raw>]) -> Slot {
    match r {
        Raw::Func(f) => Slot::Func(f),
        Raw::Null => Slot::Null,
        Raw::Global(g) => match globals.get(g as usize).copied().flatten() {
            Some(Raw::Func(f)) => Slot::Func(f),
            Some(Raw::Null) => Slot::Null,
            _ => Slot::Unknown,
        },
        Raw::Other => Slot::Unknown,
    }
}

/// A plain `i32.const`/`i64.const` offset.
fn const_i(expr: &ConstExpr<'_>) -> Option<u64> {
    let mut reader = expr.get_operators_reader();
    let v = match reader.read().ok()? {
        Operator::I32Const { value } => u64::from(value as u32),
        Operator::I64Const { value } => value as u64,
        _ => return None,
    };
    matches!(reader.read().ok()?, Operator::End).then_some(v)
}
