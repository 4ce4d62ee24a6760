//! What each table slot of an embedded core module holds after instantiation, item by item:
//! the component linker maps `i32.const K; call_indirect` to slot K, so a `ref.null` or
//! `global.get` element item must keep its place instead of shifting every later slot, and a
//! table initialiser expression fills every slot the segments leave alone. The core call
//! graph reads the same facts ([`SlotMap`]) to narrow calls whose index is settled.

use std::collections::BTreeMap;

use crate::index::{MAX_SLOTS, Values};
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

/// What every slot of one table holds after instantiation, for a table no instruction writes.
#[derive(Debug, Clone)]
pub(crate) struct SlotMap {
    /// Slots past the table's size trap (it never grows: `table.grow` is a write).
    size: u64,
    /// Slots the active segments fill, the later segment winning.
    entries: BTreeMap<u64, Slot>,
    /// What the other slots hold (`None`: null).
    init: Option<Slot>,
}

impl Slots {
    /// The contents of table `t` of `size` slots after instantiation, when they are known:
    /// every active segment into it has a constant offset and every item and the
    /// initialiser are plain values. The caller checks that nothing writes or shares it.
    pub fn table_map(&self, t: u32, size: u64) -> Option<SlotMap> {
        let init = *self.table_init.get(t as usize)?;
        if init == Some(Slot::Unknown) {
            return None;
        }
        let mut entries = BTreeMap::new();
        for seg in self.segments.iter().filter(|s| s.table == t) {
            let offset = seg.offset?;
            for (i, item) in seg.items.iter().enumerate() {
                if *item == Slot::Unknown {
                    return None;
                }
                entries.insert(offset.checked_add(i as u64)?, *item);
            }
        }
        Some(SlotMap {
            size,
            entries,
            init,
        })
    }
}

impl SlotMap {
    /// The functions a call with an index in `values` can run (a null or out-of-range slot
    /// traps), or `None` when the values select more than [`MAX_SLOTS`] slots.
    pub fn targets(&self, values: &Values) -> Option<Vec<u32>> {
        let mut out = Vec::new();
        let mut seen = 0usize;
        for &(lo, hi) in values.ranges() {
            let Some(last) = self.size.checked_sub(1) else {
                break;
            };
            if lo > last {
                continue;
            }
            let hi = hi.min(last);
            let mut covered = 0u64;
            for slot in self.entries.range(lo..=hi).map(|(_, s)| *s) {
                seen += 1;
                covered += 1;
                if seen > MAX_SLOTS {
                    return None;
                }
                if let Slot::Func(f) = slot {
                    out.push(f);
                }
            }
            // Some slot of the range is left to the initialiser.
            if covered <= hi - lo
                && let Some(Slot::Func(f)) = self.init
            {
                seen += 1;
                out.push(f);
            }
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }
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
