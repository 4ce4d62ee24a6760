//! Index analysis for `call_indirect`: which values a call's table index can take, so that a
//! call through a table nobody writes reaches only the slots it can hit instead of every
//! function of the right type in the table.
//!
//! The body scan (core.rs) keeps a short window of symbolic values for the current straight
//! run of modelled instructions and records, per body, every local write, the arguments of
//! every direct call, every returned value and each `call_indirect` index as a [`Val`].
//! Anything the window does not model ends the run, so a value it holds is exactly the value
//! on the operand stack. [`resolve`] then turns each index into a set of integers, once per
//! local, parameter and callee result (memoised), so the work stays linear in the module:
//!
//! * `i32.const K` is `{K}`; `x; i32.const M; i32.and` is `0..=M`, whatever `x` is;
//! * a local is the union of every value written to it in the function, plus its default 0
//!   unless a write at the top level of the body (outside every block, loop and `if`)
//!   precedes the read: such a write runs before every later instruction;
//! * a parameter is the union of what every direct call passes, when the function cannot be
//!   called any other way (not exported, never referenced by `ref.func`, element segments or
//!   initialisers, not the start function), plus what the body writes to it;
//! * `call g` is the union of every value `g` returns (`return`, branches to the function's
//!   label, falling off its end), unless `g` is imported or leaves by a construct not modelled;
//! * `i32.load` / `i64.load` at a constant address of a memory nobody outside the module can
//!   reach (not imported, exported or shared) and whose every write is known (active data
//!   segments and `i32.store` / `i64.store` at constant addresses, none overlapping another;
//!   any other store, atomic or bulk operation on it disqualifies it) is what the data
//!   segments put there (zero elsewhere) plus every value stored at exactly that address.
//!
//! Cycles, depth beyond [`MAX_DEPTH`] and sets of more than [`MAX_RANGES`] ranges are unknown.
//! Unknown is always sound: the call then keeps its dispatch node.

use std::collections::{BTreeSet, HashMap};

use wasmparser::ExternalKind;

use crate::core::ModuleFacts;

/// Values the scan keeps of the current straight run of modelled instructions.
pub(crate) const WINDOW: usize = 12;
/// Most table entries a narrowed call may select; a wider set keeps the dispatch node, so a
/// call site costs at most this many edges.
pub(crate) const MAX_SLOTS: usize = 8;
/// Most disjoint ranges a value set holds before it counts as unknown.
const MAX_RANGES: usize = 16;
/// How many locals, parameters and results resolution follows in a chain before giving up.
const MAX_DEPTH: u32 = 64;

/// What the body scan needs to know of the module to record only what resolution can use.
#[derive(Debug)]
pub(crate) struct ScanContext {
    /// Imported functions: calls to them have no parameters or results worth keeping.
    pub nimp: u32,
    /// Per memory: not imported, exported or shared (stores to others are not kept).
    pub private_memory: Vec<bool>,
}

impl ScanContext {
    pub fn of(facts: &ModuleFacts) -> ScanContext {
        ScanContext {
            nimp: facts.num_imported_funcs,
            private_memory: facts
                .memories
                .iter()
                .map(|m| !m.imported && !m.exported && !m.shared && !facts.unmodelled_section)
                .collect(),
        }
    }

    pub fn private(&self, memory: u32) -> bool {
        self.private_memory
            .get(memory as usize)
            .copied()
            .unwrap_or(false)
    }
}

/// A value as the scan saw it, before resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Val {
    /// Not modelled.
    Unknown,
    /// `i32.const` (zero-extended) or `i64.const`.
    Const(u64),
    /// `x & M` for a constant `M`: somewhere in `0..=M`.
    Mask(u64),
    /// `local.get` of a local (parameters first) at byte offset `at`.
    Local { local: u32, at: u64 },
    /// The single result of a direct call of this function.
    Ret(u32),
    /// `i32.load` (`size` 4) or `i64.load` (8) at a constant address.
    Load { memory: u32, addr: u64, size: u8 },
}

/// One instruction that writes memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Store {
    pub memory: u32,
    /// `(address, bytes)` of an `i32.store` / `i64.store` at a constant address; `None`:
    /// anything else (other stores, atomics, bulk operations), which may write anywhere.
    pub region: Option<(u64, u8)>,
    pub value: Val,
}

/// How an instruction with a memory argument touches memory, from its name (evaluated at
/// compile time). Whatever is not known to only read counts as a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemAccess {
    LoadI32,
    LoadI64,
    StoreI32,
    StoreI64,
    Read,
    Write,
}

const fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn contains(s: &str, part: &str) -> bool {
    let (s, p) = (s.as_bytes(), part.as_bytes());
    let mut i = 0;
    while i + p.len() <= s.len() {
        let mut j = 0;
        while j < p.len() && s[i + j] == p[j] {
            j += 1;
        }
        if j == p.len() {
            return true;
        }
        i += 1;
    }
    false
}

/// The access of the operator named `op` that takes a `memarg`.
pub(crate) const fn mem_access(op: &str) -> MemAccess {
    if eq(op, "I32Load") {
        MemAccess::LoadI32
    } else if eq(op, "I64Load") {
        MemAccess::LoadI64
    } else if eq(op, "I32Store") {
        MemAccess::StoreI32
    } else if eq(op, "I64Store") {
        MemAccess::StoreI64
    } else if contains(op, "Load") || contains(op, "Wait") || contains(op, "Notify") {
        MemAccess::Read
    } else {
        MemAccess::Write
    }
}

/// One direct call: the callee and its last arguments as the window saw them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallArgs {
    pub callee: u32,
    /// Parameters of the callee.
    pub params: u32,
    /// Where its known arguments start in [`IndexScan::args`].
    pub start: u32,
    /// How many of its last arguments are known (the rest were pushed before the window).
    pub known: u32,
}

/// What the scan records of one body for the index analysis.
#[derive(Debug, Default)]
pub(crate) struct IndexScan {
    /// Parameters of this function.
    pub params: u32,
    /// Every `local.set` / `local.tee`: the local and the value written.
    pub writes: Vec<(u32, Val)>,
    /// Offsets of writes at the top level of the body, per local.
    pub top_writes: Vec<(u32, u64)>,
    pub calls: Vec<CallArgs>,
    pub args: Vec<Val>,
    /// Every value the function may return (single-result functions only).
    pub returns: Vec<Val>,
    /// The function may return by a construct whose value is not modelled.
    pub returns_unknown: bool,
    /// Every instruction that writes a private memory.
    pub stores: Vec<Store>,
}

impl IndexScan {
    /// Keeps what resolution reads: each distinct value written to a local (only `Unknown`
    /// once a local has an unknown write) and the first top-level write of each local.
    pub fn compact(&mut self) {
        self.writes.sort_unstable();
        self.writes.dedup();
        let mut out: Vec<(u32, Val)> = Vec::with_capacity(self.writes.len());
        for group in self.writes.chunk_by(|a, b| a.0 == b.0) {
            if group.iter().any(|w| w.1 == Val::Unknown) {
                out.push((group[0].0, Val::Unknown));
            } else {
                out.extend_from_slice(group);
            }
        }
        out.shrink_to_fit();
        self.writes = out;
        self.top_writes.sort_unstable();
        self.top_writes.dedup_by_key(|w| w.0);
        self.top_writes.shrink_to_fit();
        self.calls.shrink_to_fit();
        self.args.shrink_to_fit();
        self.returns.sort_unstable();
        self.returns.dedup();
        self.returns.shrink_to_fit();
        self.stores.shrink_to_fit();
    }

    /// Nothing recorded: the body needs no entry.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
            && self.calls.is_empty()
            && self.returns.is_empty()
            && !self.returns_unknown
            && self.stores.is_empty()
    }
}

/// An active data segment: its memory, constant offset (if any) and bytes in the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DataInit {
    pub memory: u32,
    pub offset: Option<u64>,
    pub file_start: u64,
    pub len: u64,
}

/// A set of integers: sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Values(Vec<(u64, u64)>);

impl Values {
    fn range(lo: u64, hi: u64) -> Values {
        Values(vec![(lo, hi)])
    }

    /// The ranges, in increasing order.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.0
    }

    /// Every value, when there are at most [`MAX_SLOTS`].
    pub fn each(&self) -> Option<Vec<u64>> {
        let mut out = Vec::new();
        for &(lo, hi) in &self.0 {
            if hi - lo >= MAX_SLOTS as u64 || out.len() + (hi - lo) as usize >= MAX_SLOTS {
                return None;
            }
            out.extend(lo..=hi);
        }
        Some(out)
    }

    /// Adds `other`; `None` when the result has more than [`MAX_RANGES`] ranges.
    fn union(mut self, other: &Values) -> Option<Values> {
        if other.0.is_empty() {
            return Some(self);
        }
        self.0.extend_from_slice(&other.0);
        self.0.sort_unstable();
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(self.0.len());
        for (lo, hi) in self.0 {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        (out.len() <= MAX_RANGES).then_some(Values(out))
    }
}

/// `None`: unknown.
type Set = Option<Values>;

fn union(a: Set, b: Set) -> Set {
    a?.union(&b?)
}

#[derive(Clone)]
enum Memo {
    InProgress,
    Done(Set),
}

/// Writes to the locals of one function, indexed on first use.
struct Locals {
    writes: HashMap<u32, Vec<Val>>,
    first_top: HashMap<u32, u64>,
}

/// A memory whose every write is known: nothing outside the module can reach it, and every
/// data segment and store into it has a constant address, none overlapping another.
struct Memory {
    /// Active data segments `(start, end, start in the file)`, by address.
    data: Vec<(u64, u64, u64)>,
    /// Store regions `(address, bytes)`, by address, with every `(function, value)` stored.
    regions: Vec<(Region, Stored)>,
}

/// `(address, bytes)` of a store.
type Region = (u64, u8);
/// `(defined function, value)` of every store to one region.
type Stored = Vec<(u32, Val)>;

struct Resolver<'f> {
    scans: &'f [IndexScan],
    bytes: &'f [u8],
    /// Per memory, when every write to it is known.
    memories: &'f [Option<Memory>],
    load_memo: HashMap<(u32, u64, u8), Memo>,
    nimp: u32,
    /// Per defined function: whether only direct calls in this module can run it.
    closed: Vec<bool>,
    /// Per function: `(caller's defined index, call index)` of every direct call.
    callers: Vec<Vec<(u32, u32)>>,
    locals: HashMap<u32, Locals>,
    local_memo: HashMap<(u32, u32), Memo>,
    ret_memo: HashMap<u32, Memo>,
}

/// Resolves the index of every `call_indirect` of the module into `index_sets` (one entry per
/// `indirect` of each body; `None`: unknown), and drops the scan facts. `bytes` is the file
/// the module's offsets point into (data segments are read from it).
pub(crate) fn resolve(facts: &mut ModuleFacts, bytes: &[u8]) {
    let scans: Vec<IndexScan> = facts
        .bodies
        .iter_mut()
        .map(|b| {
            // A body with nothing recorded still has parameters: they are not plain locals.
            let mut scan = b.index_scan.take().map(|s| *s).unwrap_or_default();
            scan.params = b.params;
            scan
        })
        .collect();
    let nimp = facts.num_imported_funcs;
    let nfuncs = facts.func_types.len() as u32;
    let open = callable_from_outside(facts);
    let closed: Vec<bool> = (0..scans.len() as u32)
        .map(|d| !facts.unmodelled_section && !open.contains(&(nimp + d)))
        .collect();
    let mut callers: Vec<Vec<(u32, u32)>> = vec![Vec::new(); nfuncs as usize];
    for (d, scan) in scans.iter().enumerate() {
        for (c, call) in scan.calls.iter().enumerate() {
            if let Some(list) = callers.get_mut(call.callee as usize) {
                list.push((d as u32, c as u32));
            }
        }
    }
    let memories = known_memories(facts, &scans);
    let mut r = Resolver {
        scans: &scans,
        bytes,
        memories: &memories,
        load_memo: HashMap::new(),
        nimp,
        closed,
        callers,
        locals: HashMap::new(),
        local_memo: HashMap::new(),
        ret_memo: HashMap::new(),
    };
    for (d, body) in facts.bodies.iter_mut().enumerate() {
        body.index_sets = body
            .indirect
            .iter()
            .map(|&(_, _, _, v)| r.val(d as u32, v, 0))
            .collect();
    }
}

/// The memories whose every write is known (see [`Memory`]).
fn known_memories(facts: &ModuleFacts, scans: &[IndexScan]) -> Vec<Option<Memory>> {
    let n = facts.memories.len();
    let mut ok: Vec<bool> = facts
        .memories
        .iter()
        .map(|m| !m.imported && !m.exported && !m.shared && !facts.unmodelled_section)
        .collect();
    let mut data: Vec<Vec<(u64, u64, u64)>> = vec![Vec::new(); n];
    for d in &facts.data_init {
        let m = d.memory as usize;
        if m >= n {
            continue;
        }
        match d.offset.and_then(|o| Some((o, o.checked_add(d.len)?))) {
            Some((start, end)) if start < end => data[m].push((start, end, d.file_start)),
            Some(_) => {}
            None => ok[m] = false,
        }
    }
    let mut regions: Vec<std::collections::BTreeMap<Region, Stored>> = vec![Default::default(); n];
    for (d, scan) in scans.iter().enumerate() {
        for st in &scan.stores {
            let m = st.memory as usize;
            if m >= n {
                continue;
            }
            match st.region {
                Some(r) => regions[m].entry(r).or_default().push((d as u32, st.value)),
                None => ok[m] = false,
            }
        }
    }
    let mut out = Vec::with_capacity(n);
    for ((ok, mut data), regions) in ok.into_iter().zip(data).zip(regions) {
        data.sort_unstable();
        let data_apart = data.windows(2).all(|w| w[0].1 <= w[1].0);
        let regions: Vec<(Region, Stored)> = regions.into_iter().collect();
        let regions_apart = regions.windows(2).all(|w| {
            let ((a, size), _) = w[0];
            a.checked_add(u64::from(size))
                .is_some_and(|end| end <= w[1].0.0)
        });
        out.push((ok && data_apart && regions_apart).then_some(Memory { data, regions }));
    }
    out
}

/// Functions the host, a table or a reference can run: their parameters are not known.
fn callable_from_outside(facts: &ModuleFacts) -> BTreeSet<u32> {
    let mut out: BTreeSet<u32> = BTreeSet::new();
    for b in &facts.bodies {
        out.extend(b.ref_funcs.iter().copied());
    }
    for seg in &facts.elements {
        out.extend(seg.functions.iter().copied());
    }
    out.extend(facts.global_ref_funcs.iter().copied());
    out.extend(facts.table_init_funcs.iter().map(|(_, f)| *f));
    out.extend(
        facts
            .exports
            .iter()
            .filter(|(_, k, _)| matches!(k, ExternalKind::Func | ExternalKind::FuncExact))
            .map(|(_, _, i)| *i),
    );
    out.extend(facts.start);
    out
}

impl Resolver<'_> {
    /// The values `v`, seen in defined function `d`, can take.
    fn val(&mut self, d: u32, v: Val, depth: u32) -> Set {
        match v {
            Val::Unknown => None,
            Val::Const(k) => Some(Values::range(k, k)),
            Val::Mask(m) => Some(Values::range(0, m)),
            Val::Local { local, at } => {
                let written = self.local(d, local, depth)?;
                if local >= self.scans[d as usize].params && self.may_read_default(d, local, at) {
                    written.union(&Values::range(0, 0))
                } else {
                    Some(written)
                }
            }
            Val::Ret(g) => self.ret(g, depth),
            Val::Load { memory, addr, size } => self.load(memory, addr, size, depth),
        }
    }

    /// The values `size` bytes at `addr` of `memory` may hold: what the data segments put
    /// there (zero elsewhere) and whatever a store of exactly that region writes.
    fn load(&mut self, memory: u32, addr: u64, size: u8, depth: u32) -> Set {
        let memories = self.memories;
        let mem = memories.get(memory as usize)?.as_ref()?;
        let key = (memory, addr, size);
        match self.load_memo.get(&key) {
            Some(Memo::Done(s)) => return s.clone(),
            Some(Memo::InProgress) => return None,
            None if depth > MAX_DEPTH => return None,
            None => {}
        }
        let end = addr.checked_add(u64::from(size))?;
        // Regions are sorted and apart, so their ends are sorted too.
        let below = mem.regions.partition_point(|((a, _), _)| *a < end);
        let mut hits = mem.regions[..below]
            .iter()
            .rev()
            .take_while(|((a, s), _)| a.saturating_add(u64::from(*s)) > addr);
        let stored = match (hits.next(), hits.next()) {
            (None, _) => &[][..],
            (Some((region, values)), None) if *region == (addr, size) => &values[..],
            // A store that covers part of the value: not modelled.
            _ => return None,
        };
        let mut buf = [0u8; 8];
        let below = mem.data.partition_point(|(start, _, _)| *start < end);
        for &(start, stop, file) in mem.data[..below].iter().rev() {
            if stop <= addr {
                break;
            }
            let (lo, hi) = (start.max(addr), stop.min(end));
            let from = usize::try_from(file.checked_add(lo - start)?).ok()?;
            let len = usize::try_from(hi - lo).ok()?;
            let src = self.bytes.get(from..from.checked_add(len)?)?;
            let at = usize::try_from(lo - addr).ok()?;
            buf.get_mut(at..at + len)?.copy_from_slice(src);
        }
        let initial = u64::from_le_bytes(buf);
        self.load_memo.insert(key, Memo::InProgress);
        let mut set: Set = Some(Values::range(initial, initial));
        for &(d, v) in stored {
            if set.is_none() {
                break;
            }
            let s = self.val(d, v, depth + 1);
            set = union(set, s);
        }
        self.load_memo.insert(key, Memo::Done(set.clone()));
        set
    }

    fn locals_of(&mut self, d: u32) -> &Locals {
        let scans = self.scans;
        let scan = &scans[d as usize];
        self.locals.entry(d).or_insert_with(|| {
            let mut writes: HashMap<u32, Vec<Val>> = HashMap::new();
            for &(l, v) in &scan.writes {
                writes.entry(l).or_default().push(v);
            }
            let mut first_top: HashMap<u32, u64> = HashMap::new();
            for &(l, at) in &scan.top_writes {
                let e = first_top.entry(l).or_insert(at);
                *e = (*e).min(at);
            }
            Locals { writes, first_top }
        })
    }

    /// Whether a read of `local` at `at` may still see its default value: no write at the
    /// top level of the body comes before it.
    fn may_read_default(&mut self, d: u32, local: u32, at: u64) -> bool {
        self.locals_of(d)
            .first_top
            .get(&local)
            .is_none_or(|&first| first > at)
    }

    /// Every value written to `local` of `d`, and for a parameter every argument passed.
    fn local(&mut self, d: u32, local: u32, depth: u32) -> Set {
        match self.local_memo.get(&(d, local)) {
            Some(Memo::Done(s)) => return s.clone(),
            Some(Memo::InProgress) => return None,
            None if depth > MAX_DEPTH => return None,
            None => {}
        }
        self.local_memo.insert((d, local), Memo::InProgress);
        let writes = self
            .locals_of(d)
            .writes
            .get(&local)
            .cloned()
            .unwrap_or_default();
        let mut set: Set = Some(Values::default());
        for w in writes {
            if set.is_none() {
                break;
            }
            let v = self.val(d, w, depth + 1);
            set = union(set, v);
        }
        if set.is_some() && local < self.scans[d as usize].params {
            if !self.closed[d as usize] {
                set = None;
            }
            let f = (self.nimp + d) as usize;
            // By position, not a copy of the list: a function may have many parameters.
            for k in 0..self.callers[f].len() {
                if set.is_none() {
                    break;
                }
                let (caller, c) = self.callers[f][k];
                let scans = self.scans;
                let scan = &scans[caller as usize];
                let call = scan.calls[c as usize];
                // The known arguments are the last `known` of `params`.
                let first_known = call.params.saturating_sub(call.known);
                let arg = if local >= first_known && local < call.params {
                    scan.args[(call.start + local - first_known) as usize]
                } else {
                    Val::Unknown
                };
                let v = self.val(caller, arg, depth + 1);
                set = union(set, v);
            }
        }
        self.local_memo.insert((d, local), Memo::Done(set.clone()));
        set
    }

    /// Every value function `g` may return.
    fn ret(&mut self, g: u32, depth: u32) -> Set {
        let d = g.checked_sub(self.nimp)?;
        let scans = self.scans;
        let scan = scans.get(d as usize)?;
        if scan.returns_unknown {
            return None;
        }
        match self.ret_memo.get(&g) {
            Some(Memo::Done(s)) => return s.clone(),
            Some(Memo::InProgress) => return None,
            None if depth > MAX_DEPTH => return None,
            None => {}
        }
        self.ret_memo.insert(g, Memo::InProgress);
        let mut set: Set = Some(Values::default());
        for &v in &scan.returns {
            if set.is_none() {
                break;
            }
            let s = self.val(d, v, depth + 1);
            set = union(set, s);
        }
        self.ret_memo.insert(g, Memo::Done(set.clone()));
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_merges_adjacent_and_overlapping_ranges() {
        let a = Values(vec![(0, 3), (10, 12)]);
        let b = Values(vec![(4, 5), (11, 20), (30, 30)]);
        assert_eq!(a.union(&b), Some(Values(vec![(0, 5), (10, 20), (30, 30)])));
    }

    #[test]
    fn union_of_too_many_ranges_is_unknown() {
        let mut s = Some(Values::default());
        for k in 0..=MAX_RANGES as u64 {
            s = union(s, Some(Values::range(2 * k, 2 * k)));
        }
        assert_eq!(s, None);
    }
}
