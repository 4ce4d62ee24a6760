//! wasmgate's SMT checker: proves or refutes constraints on the arguments a module passes to
//! its imports (`[[calls]]` in a policy), with Z3 over bit-vectors.
//!
//! It reads an [`Analysis`] (call graph, entry points) and the module bytes (bodies), and
//! answers one [`Query`] at a time with a [`Verdict`] per call site. The analyzer never
//! calls a solver; the policy crate turns verdicts into findings. Anything not proven is
//! [`Verdict::Unknown`] with its reasons, never a pass: without the `z3` feature every
//! query is unknown.
#![warn(missing_docs)]

mod bounds;
mod contain;
mod eval;
mod expr;
mod module;
mod solve;

use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

use serde::Serialize;
use wasmgate_analyzer::{Analysis, NodeKind};

pub use bounds::{
    AccessCheck, Bound, BoundsOptions, BoundsReport, FunctionAccesses, GrowSite, SegmentCheck,
    SegmentKind,
};
pub use contain::{Containment, beyond};
use eval::{CallRec, Cond, Evaluator, FuncEval, Target};
use expr::{E, Leaves, Node};
use module::Module;

/// Whether this build can prove anything (the `z3` feature).
pub const SOLVER: bool = cfg!(feature = "z3");

/// Callers followed from a call site up towards the entry points before a parameter is
/// treated as unknown.
pub const MAX_DEPTH: usize = 6;
/// Caller contexts examined per call site before the rest count as unknown.
pub const MAX_CONTEXTS: usize = 64;

/// Why the checker could not be built for a binary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes do not parse or validate (the analyzer accepted them, so this is a bug).
    #[error("module bytes: {0}")]
    Parse(#[from] wasmparser::BinaryReaderError),
    /// Components are not checked yet.
    #[error("components are not analysed by the SMT checker yet")]
    Component,
}

/// The values an argument may take. Unsigned, zero-extended to 64 bits; every present part
/// must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Allowed {
    /// The value is one of these (empty: no such condition).
    pub one_of: Vec<u64>,
    /// Smallest allowed value.
    pub min: Option<u64>,
    /// Largest allowed value.
    pub max: Option<u64>,
    /// Bits that must be clear.
    pub bits_clear: u64,
    /// Bits that must be set.
    pub bits_set: u64,
}

impl Allowed {
    /// Whether a concrete value is allowed.
    pub fn allows(&self, v: u64) -> bool {
        (self.one_of.is_empty() || self.one_of.contains(&v))
            && self.min.is_none_or(|m| v >= m)
            && self.max.is_none_or(|m| v <= m)
            && v & self.bits_clear == 0
            && v & self.bits_set == self.bits_set
    }
}

/// One question: may every call of `import` pass an allowed value as argument `arg`?
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    /// Function index of the import.
    pub import: u32,
    /// Core-ABI parameter index.
    pub arg: u32,
    /// The allowed values.
    pub allowed: Allowed,
    /// Solver time limit per call-site context, in milliseconds.
    pub timeout_ms: u64,
}

/// What makes a value unknown to the checker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
#[non_exhaustive]
pub enum ReasonKind {
    /// A load from linear memory.
    Load,
    /// A mutable or imported global (or one initialised by other than a constant).
    Global(u32),
    /// The result of calling an import (function index).
    ImportResult(u32),
    /// The result of calling a defined function (function index).
    CallResult(u32),
    /// The result of an indirect call.
    IndirectResult,
    /// Different values arriving at a join of control flow.
    Merge,
    /// A value changed by a loop.
    Loop,
    /// An operator the evaluator does not model.
    Unmodelled,
    /// A value that is not an integer.
    NonInteger,
    /// A parameter of a function called through a table or reference.
    IndirectCaller,
    /// The interprocedural depth or context bound.
    Bound,
    /// The solver ran out of time.
    Timeout,
    /// Built without the solver.
    NoSolver,
    /// The function could not be evaluated (why).
    Unsupported(&'static str),
    /// Dead code.
    DeadCode,
}

/// An unknown value and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// What it is.
    pub kind: ReasonKind,
    /// Function (index) holding it.
    pub function: u32,
    /// Byte offset of the instruction, when there is one.
    pub offset: Option<u64>,
}

/// A reason as reported: with the function's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonReport {
    /// What it is, for people (`memory load`...).
    pub what: String,
    /// Function name.
    pub function: String,
    /// Byte offset of the instruction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// One call in a caller chain: `function` calls the next step at `offset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Calling function's name.
    pub function: String,
    /// Byte offset of the call instruction.
    pub offset: u64,
}

/// A concrete violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counterexample {
    /// The argument's value.
    pub value: u64,
    /// An entry point that reaches the outermost caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_point: Option<String>,
    /// Callers from the outermost one to the call site (the last step is the site).
    pub chain: Vec<Step>,
    /// Values of the entry function's parameters the value depends on (`name`, value).
    pub inputs: Vec<(String, u64)>,
}

/// The verdict for one call site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "verdict")]
pub enum Verdict {
    /// No execution passes a disallowed value.
    Proven,
    /// An execution passes the value of the counterexample.
    Violated(Counterexample),
    /// Undecided, for these reasons.
    Unknown {
        /// Why (deduplicated, at most a few).
        reasons: Vec<ReasonReport>,
    },
}

/// A call instruction that can call the import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Site {
    /// Name of the function holding the call.
    pub function: String,
    /// Byte offset of the call instruction.
    pub offset: u64,
    /// `call_indirect` / `call_ref` whose table or reference may hold the import.
    pub indirect: bool,
    /// Entry points that reach the function (at most [`MAX_LISTED_ENTRIES`]).
    pub entry_points: Vec<String>,
    /// The verdict.
    pub verdict: Verdict,
}

/// Entry points listed per site.
pub const MAX_LISTED_ENTRIES: usize = 8;

/// The answer to one query: a verdict per site (none: the import is never called, so the
/// constraint holds vacuously).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Every site, sorted by offset.
    pub sites: Vec<Site>,
}

/// Call-graph facts the checker needs, by function index.
struct GraphFacts {
    /// Entry-point names per function that is an entry root.
    entry_of: HashMap<u32, Vec<String>>,
    /// Functions with an indirect or host caller (a dispatch or unknown-host node).
    indirect: HashSet<u32>,
    /// Direct callers per function.
    callers: HashMap<u32, Vec<u32>>,
    /// Functions reachable from some entry point.
    reachable: HashSet<u32>,
    /// Per function, the non-function nodes (dispatch, re-entering imports) that may call it.
    /// Kept factored (target -> node -> callers): the product of a 40,000-target table with
    /// its thousands of `call_indirect` sites would be quadratic (duckdb-eh: over 1 GB).
    called_by_node: HashMap<u32, Vec<u32>>,
    /// Per such node, the functions with an edge to it.
    node_callers: HashMap<u32, Vec<u32>>,
    /// Per such node, the host trampolines (imports such as Emscripten's `invoke_*`) whose
    /// import node has an edge to it.
    node_trampolines: HashMap<u32, Vec<u32>>,
    /// Direct call sites per import: (calling function).
    direct_sites: HashMap<u32, Vec<u32>>,
    names: Vec<String>,
}

impl GraphFacts {
    fn new(a: &Analysis) -> Option<GraphFacts> {
        let m = a.module.as_ref()?;
        let g = &m.call_graph;
        let func_of = |id: u32| g.nodes.get(id as usize).and_then(|n| n.function);
        let kind_of = |id: u32| g.nodes.get(id as usize).map(|n| n.kind);
        let mut entry_of: HashMap<u32, Vec<String>> = HashMap::new();
        for e in &a.entry_points {
            for r in &e.roots {
                if let Some(f) = func_of(*r) {
                    entry_of.entry(f).or_default().push(e.name.clone());
                }
            }
        }
        let mut indirect = HashSet::new();
        let mut callers: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut succ: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut dispatch_targets: HashMap<u32, Vec<u32>> = HashMap::new();
        for &(from, to) in &g.edges {
            succ.entry(from).or_default().push(to);
            let Some(t) = func_of(to) else {
                if kind_of(to) == Some(NodeKind::Dispatch) {
                    dispatch_targets.entry(to).or_default();
                }
                continue;
            };
            match (kind_of(from), func_of(from)) {
                (Some(NodeKind::Function), Some(f)) => callers.entry(t).or_default().push(f),
                _ => {
                    indirect.insert(t);
                    dispatch_targets.entry(from).or_default().push(t);
                }
            }
        }
        // Reachable nodes from every root.
        let mut seen: HashSet<u32> = HashSet::new();
        let mut queue: VecDeque<u32> = a
            .entry_points
            .iter()
            .flat_map(|e| e.roots.iter().copied())
            .collect();
        while let Some(n) = queue.pop_front() {
            if seen.insert(n) {
                queue.extend(succ.get(&n).into_iter().flatten().copied());
            }
        }
        let reachable = seen.iter().filter_map(|&n| func_of(n)).collect();
        let mut called_by_node: HashMap<u32, Vec<u32>> = HashMap::new();
        for (&node, targets) in &dispatch_targets {
            for &t in targets {
                called_by_node.entry(t).or_default().push(node);
            }
        }
        let mut node_callers: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut node_trampolines: HashMap<u32, Vec<u32>> = HashMap::new();
        for &(from, to) in &g.edges {
            if !dispatch_targets.contains_key(&to) {
                continue;
            }
            match (kind_of(from), func_of(from)) {
                (Some(NodeKind::Function), Some(f)) => node_callers.entry(to).or_default().push(f),
                (Some(NodeKind::Import), Some(tr)) => {
                    node_trampolines.entry(to).or_default().push(tr)
                }
                _ => {}
            }
        }
        // Every function with an edge to an import (the edges hold every direct call, the
        // `sites` only those to plain imports).
        let mut direct_sites: HashMap<u32, Vec<u32>> = HashMap::new();
        for &(from, to) in &g.edges {
            if let (Some(NodeKind::Function), Some(NodeKind::Import), Some(f), Some(i)) =
                (kind_of(from), kind_of(to), func_of(from), func_of(to))
            {
                direct_sites.entry(i).or_default().push(f);
            }
        }
        for v in callers
            .values_mut()
            .chain(called_by_node.values_mut())
            .chain(node_callers.values_mut())
            .chain(node_trampolines.values_mut())
            .chain(direct_sites.values_mut())
        {
            v.sort_unstable();
            v.dedup();
        }
        let names = m.functions.iter().map(|f| f.name.clone()).collect();
        Some(GraphFacts {
            entry_of,
            indirect,
            callers,
            reachable,
            called_by_node,
            node_callers,
            node_trampolines,
            direct_sites,
            names,
        })
    }

    fn name(&self, f: u32) -> String {
        self.names
            .get(f as usize)
            .cloned()
            .unwrap_or_else(|| format!("func[{f}]"))
    }

    /// The nearest entry points whose roots reach `f` (searching callers backwards), at most
    /// [`MAX_LISTED_ENTRIES`] of them: the search stops there, so a binary exporting most of
    /// its functions (75,011 exports in duckdb-eh) costs a few steps per site, not the graph.
    fn entries_reaching(&self, f: u32) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([f]);
        let mut through_table = false;
        let mut nodes_seen = HashSet::new();
        while let Some(g) = queue.pop_front() {
            if !seen.insert(g) {
                continue;
            }
            if let Some(names) = self.entry_of.get(&g) {
                // Distinct names: `<escaped>` has a root per escaped function.
                for n in names {
                    if !out.contains(n) {
                        out.push(n.clone());
                    }
                }
                if out.len() >= MAX_LISTED_ENTRIES {
                    break;
                }
            }
            through_table |= self.indirect.contains(&g);
            queue.extend(self.callers.get(&g).into_iter().flatten().copied());
            // Callers through a table or reference (functions calling a dispatch node).
            for &n in self.called_by_node.get(&g).into_iter().flatten() {
                if nodes_seen.insert(n) {
                    queue.extend(self.node_callers.get(&n).into_iter().flatten().copied());
                }
            }
        }
        if out.is_empty() && through_table {
            out.push("(through a table or reference)".to_string());
        }
        out.sort();
        out.dedup();
        out
    }

    /// The union over the nodes that may call `f` of what `per_node` lists, sorted.
    fn through_nodes(&self, f: u32, per_node: impl Fn(u32) -> Vec<u32>) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .called_by_node
            .get(&f)
            .into_iter()
            .flatten()
            .flat_map(|&n| per_node(n))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Functions with an edge to a dispatch node (or re-entering import) that may call `f`.
    fn indirect_sites(&self, f: u32) -> Vec<u32> {
        self.through_nodes(f, |n| {
            self.node_callers.get(&n).cloned().unwrap_or_default()
        })
    }

    /// The functions calling a host trampoline whose node may call `f`: the arguments pass
    /// through the host, so those calls are sites whose values are unknown.
    fn trampoline_sites(&self, f: u32) -> Vec<u32> {
        self.through_nodes(f, |n| {
            self.node_trampolines
                .get(&n)
                .into_iter()
                .flatten()
                .flat_map(|tr| self.direct_sites.get(tr).into_iter().flatten().copied())
                .collect()
        })
    }
}

/// One caller context of a call site: the argument and path conditions over the
/// parameters of `func` (the outermost caller so far), and the chain of calls to the site.
#[derive(Clone)]
struct Context {
    func: u32,
    arg: E,
    conds: Vec<Cond>,
    /// (calling function, call offset), outermost first.
    chain: Vec<(u32, u64)>,
}

/// Answers queries about one core module. Verdicts are cached per (call site, query).
pub struct Checker<'a> {
    module: Module<'a>,
    facts: GraphFacts,
    reasons: Vec<Reason>,
    evals: HashMap<u32, Rc<FuncEval>>,
    cache: HashMap<(u32, u64, Query), Verdict>,
    /// Entry points reaching each function (a backward search each).
    entries: HashMap<u32, Vec<String>>,
}

impl std::fmt::Debug for Checker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("module", &self.module)
            .finish_non_exhaustive()
    }
}

impl<'a> Checker<'a> {
    /// Prepares a checker for a core module's bytes and its analysis.
    pub fn new(bytes: &'a [u8], analysis: &Analysis) -> Result<Checker<'a>, Error> {
        let facts = GraphFacts::new(analysis).ok_or(Error::Component)?;
        let module = Module::parse(bytes)?;
        Ok(Checker {
            module,
            facts,
            reasons: Vec::new(),
            evals: HashMap::new(),
            cache: HashMap::new(),
            entries: HashMap::new(),
        })
    }

    /// Number of core parameters of function `func` (an import), when it is a function.
    pub fn param_count(&self, func: u32) -> Option<usize> {
        self.module.func_type(func).map(|t| t.params().len())
    }

    /// Answers one query.
    pub fn check(&mut self, q: &Query) -> Outcome {
        let mut sites = Vec::new();
        let direct = self
            .facts
            .direct_sites
            .get(&q.import)
            .cloned()
            .unwrap_or_default();
        let indirect = self.facts.indirect_sites(q.import);
        let import_ty = self.module.func_type(q.import).cloned();
        let trampolines = self.facts.trampoline_sites(q.import);
        for f in trampolines {
            if self.facts.reachable.contains(&f) {
                let verdict = Verdict::Unknown {
                    reasons: vec![ReasonReport {
                        what: "called by the host through a table (e.g. Emscripten invoke_*) \
                               with arguments the module passes to the host"
                            .to_string(),
                        function: self.facts.name(f),
                        offset: None,
                    }],
                };
                sites.push(self.site(f, None, true, verdict));
            }
        }
        for (funcs, is_indirect) in [(direct, false), (indirect, true)] {
            for f in funcs {
                if !self.facts.reachable.contains(&f) {
                    continue;
                }
                let eval = self.eval(f);
                let recs: Vec<CallRec> = eval
                    .calls
                    .iter()
                    .filter(|c| match c.target {
                        Target::Direct(t) => !is_indirect && t == q.import,
                        // Same parameters (results and subtyping aside): the call may
                        // reach the import through the table or reference. Also from a
                        // function with a plain edge to the import: the analyzer's index
                        // analysis turns a `call_indirect` at a proven slot into that edge.
                        Target::Indirect(t) => import_ty.as_ref().is_some_and(|i| {
                            self.module
                                .type_at(t)
                                .is_some_and(|c| c.params() == i.params())
                        }),
                    })
                    .cloned()
                    .collect();
                if let Some(id) = eval.failed {
                    let verdict = Verdict::Unknown {
                        reasons: vec![self.report(id)],
                    };
                    sites.push(self.site(f, None, is_indirect, verdict));
                    continue;
                }
                for rec in recs {
                    let key = (f, rec.offset, q.clone());
                    let verdict = match self.cache.get(&key) {
                        Some(v) => v.clone(),
                        None => {
                            let v = self.site_verdict(f, &rec, q);
                            self.cache.insert(key, v.clone());
                            v
                        }
                    };
                    let indirect = matches!(rec.target, Target::Indirect(_));
                    sites.push(self.site(f, Some(rec.offset), indirect, verdict));
                }
            }
        }
        sites.sort_by(|a, b| (a.offset, &a.function).cmp(&(b.offset, &b.function)));
        sites.dedup_by(|a, b| a.offset == b.offset && a.function == b.function);
        Outcome { sites }
    }

    fn site(&mut self, f: u32, offset: Option<u64>, indirect: bool, verdict: Verdict) -> Site {
        let facts = &self.facts;
        let mut entry_points = self
            .entries
            .entry(f)
            .or_insert_with(|| facts.entries_reaching(f))
            .clone();
        entry_points.truncate(MAX_LISTED_ENTRIES);
        Site {
            function: self.facts.name(f),
            offset: offset.unwrap_or(0),
            indirect,
            entry_points,
            verdict,
        }
    }

    fn eval(&mut self, f: u32) -> Rc<FuncEval> {
        if let Some(e) = self.evals.get(&f) {
            return e.clone();
        }
        let body = f.checked_sub(self.module.num_imported);
        let mut ev = Evaluator {
            module: &self.module,
            reasons: &mut self.reasons,
            accesses: false,
        };
        let e = Rc::new(match body {
            Some(b) => ev.function(f, b as usize),
            None => FuncEval::default(),
        });
        self.evals.insert(f, e.clone());
        e
    }

    fn opaque(&mut self, kind: ReasonKind, func: u32, offset: Option<u64>, w: expr::Width) -> E {
        self.reasons.push(Reason {
            kind,
            function: func,
            offset,
        });
        E::new(Node::Opaque(self.reasons.len() as u32 - 1), w)
    }

    fn param_widths(&self, f: u32) -> Vec<expr::Width> {
        self.module.func_type(f).map_or(Vec::new(), |t| {
            t.params()
                .iter()
                .map(|p| expr::Width::of(Some(*p)))
                .collect()
        })
    }

    fn report(&self, id: u32) -> ReasonReport {
        let r = &self.reasons[id as usize];
        let what = match &r.kind {
            ReasonKind::Load => "memory load".to_string(),
            ReasonKind::Global(g) => format!("mutable or imported global {g}"),
            ReasonKind::ImportResult(f) => format!("result of import `{}`", self.facts.name(*f)),
            ReasonKind::CallResult(f) => format!("result of `{}`", self.facts.name(*f)),
            ReasonKind::IndirectResult => "result of an indirect call".to_string(),
            ReasonKind::Merge => "value merged from several paths".to_string(),
            ReasonKind::Loop => "value changed in a loop".to_string(),
            ReasonKind::Unmodelled => "instruction not modelled".to_string(),
            ReasonKind::NonInteger => "not an integer".to_string(),
            ReasonKind::IndirectCaller => {
                "parameter of a function called through a table or reference".to_string()
            }
            ReasonKind::Bound => format!(
                "caller depth or context bound ({MAX_DEPTH} levels, {MAX_CONTEXTS} contexts)"
            ),
            ReasonKind::Timeout => "solver timeout".to_string(),
            ReasonKind::NoSolver => "built without the SMT solver (feature `smt`)".to_string(),
            ReasonKind::Unsupported(why) => format!("function not evaluated: {why}"),
            ReasonKind::DeadCode => "dead code".to_string(),
        };
        ReasonReport {
            what,
            function: self.facts.name(r.function),
            offset: r.offset,
        }
    }

    /// The contexts of a call site: its argument followed up through direct callers until
    /// it depends on no parameter, on an entry point's parameters (free inputs), or on
    /// something unknown.
    fn contexts(&mut self, f: u32, rec: &CallRec, arg: E) -> Vec<Context> {
        let mut done = Vec::new();
        let mut work = vec![(
            Context {
                func: f,
                arg,
                conds: rec.conds.clone(),
                chain: vec![(f, rec.offset)],
            },
            0usize,
        )];
        while let Some((cx, depth)) = work.pop() {
            let mut leaves = Leaves::default();
            cx.arg.leaves(&mut leaves);
            for c in &cx.conds {
                c.e.leaves(&mut leaves);
            }
            let needs_params = leaves.params.iter().any(|&(pf, _)| pf == cx.func);
            if !needs_params || self.facts.entry_of.contains_key(&cx.func) {
                done.push(cx);
                continue;
            }
            if self.facts.indirect.contains(&cx.func)
                || depth >= MAX_DEPTH
                || done.len() + work.len() >= MAX_CONTEXTS
            {
                let kind = if self.facts.indirect.contains(&cx.func) {
                    ReasonKind::IndirectCaller
                } else {
                    ReasonKind::Bound
                };
                let args: Vec<E> = self
                    .param_widths(cx.func)
                    .into_iter()
                    .map(|w| self.opaque(kind.clone(), cx.func, None, w))
                    .collect();
                done.push(substitute(&cx, cx.func, &args, cx.func, None));
                continue;
            }
            // Callers no entry point reaches never run.
            let callers: Vec<u32> = self
                .facts
                .callers
                .get(&cx.func)
                .into_iter()
                .flatten()
                .copied()
                .filter(|g| self.facts.reachable.contains(g))
                .collect();
            for g in callers {
                let eval = self.eval(g);
                if let Some(id) = eval.failed {
                    // The caller could not be evaluated: its arguments are that reason.
                    let args: Vec<E> = self
                        .param_widths(cx.func)
                        .into_iter()
                        .map(|w| E::new(Node::Opaque(id), w))
                        .collect();
                    done.push(substitute(&cx, cx.func, &args, g, None));
                    continue;
                }
                let direct: Vec<CallRec> = eval
                    .calls
                    .iter()
                    .filter(|c| c.target == Target::Direct(cx.func))
                    .cloned()
                    .collect();
                // The graph has an edge from `g` that may come from a `call_indirect` the
                // analyzer's index analysis resolved to this function (always so when `g`
                // has no direct call of it). Those arguments are not followed: fail closed
                // (unknown, never an empty set of contexts, never only the direct calls).
                let params = self.module.func_type(cx.func).map(|t| t.params().to_vec());
                let via_table = eval.calls.iter().any(|c| match c.target {
                    Target::Indirect(t) => match (&params, self.module.type_at(t)) {
                        (Some(p), Some(ct)) => ct.params() == p.as_slice(),
                        _ => true,
                    },
                    Target::Direct(_) => false,
                });
                if direct.is_empty() || via_table {
                    let args: Vec<E> = self
                        .param_widths(cx.func)
                        .into_iter()
                        .map(|w| self.opaque(ReasonKind::IndirectCaller, cx.func, None, w))
                        .collect();
                    done.push(substitute(&cx, cx.func, &args, g, None));
                }
                for call in direct.iter().filter(|c| !c.dead) {
                    let mut next = substitute(&cx, cx.func, &call.args, g, Some(call.offset));
                    let mut conds = call.conds.clone();
                    conds.extend(next.conds);
                    next.conds = conds;
                    work.push((next, depth + 1));
                }
            }
        }
        done
    }

    fn site_verdict(&mut self, f: u32, rec: &CallRec, q: &Query) -> Verdict {
        if rec.dead {
            return Verdict::Proven;
        }
        let Some(arg) = rec.args.get(q.arg as usize).cloned() else {
            return Verdict::Unknown {
                reasons: vec![ReasonReport {
                    what: format!("the import has no parameter {}", q.arg),
                    function: self.facts.name(f),
                    offset: Some(rec.offset),
                }],
            };
        };
        let contexts = self.contexts(f, rec, arg);
        let mut unknown: Vec<ReasonReport> = Vec::new();
        for cx in &contexts {
            match solve::decide(cx, q) {
                solve::Decision::Unsat => {}
                solve::Decision::Sat { value, inputs } => {
                    // A violation counts only when it depends on nothing unknown.
                    let mut leaves = Leaves::default();
                    cx.arg.leaves(&mut leaves);
                    for c in &cx.conds {
                        c.e.leaves(&mut leaves);
                    }
                    if leaves.opaque.is_empty() {
                        let entry = self
                            .facts
                            .entry_of
                            .get(&cx.func)
                            .and_then(|v| v.first().cloned())
                            .or_else(|| self.facts.entries_reaching(cx.func).into_iter().next());
                        let chain = cx
                            .chain
                            .iter()
                            .map(|&(g, o)| Step {
                                function: self.facts.name(g),
                                offset: o,
                            })
                            .collect();
                        let inputs = inputs
                            .into_iter()
                            .map(|((pf, i), v)| (format!("{} param {i}", self.facts.name(pf)), v))
                            .collect();
                        return Verdict::Violated(Counterexample {
                            value,
                            entry_point: entry,
                            chain,
                            inputs,
                        });
                    }
                    // Name what decides the value; only when the value itself is known,
                    // what decides whether the path is taken.
                    let mut own = Leaves::default();
                    cx.arg.leaves(&mut own);
                    let mut ids = if own.opaque.is_empty() {
                        leaves.opaque
                    } else {
                        own.opaque
                    };
                    ids.sort_unstable();
                    for id in ids {
                        let r = self.report(id);
                        if !unknown.contains(&r) {
                            unknown.push(r);
                        }
                    }
                }
                solve::Decision::Unknown(kind) => {
                    let r = self.report_kind(kind, f, rec.offset);
                    if !unknown.contains(&r) {
                        unknown.push(r);
                    }
                }
            }
        }
        if unknown.is_empty() {
            Verdict::Proven
        } else {
            Verdict::Unknown { reasons: unknown }
        }
    }

    fn report_kind(&mut self, kind: ReasonKind, f: u32, offset: u64) -> ReasonReport {
        self.reasons.push(Reason {
            kind,
            function: f,
            offset: Some(offset),
        });
        self.report(self.reasons.len() as u32 - 1)
    }
}

/// The context one level up: parameters of `func` replaced by `args` (values in `caller`).
fn substitute(cx: &Context, func: u32, args: &[E], caller: u32, offset: Option<u64>) -> Context {
    let mut memo = HashMap::new();
    let arg = cx.arg.subst(func, args, &mut memo);
    let conds = cx
        .conds
        .iter()
        .map(|c| Cond {
            e: c.e.subst(func, args, &mut memo),
            nonzero: c.nonzero,
        })
        .collect();
    let mut chain = cx.chain.clone();
    if let Some(o) = offset {
        chain.insert(0, (caller, o));
    }
    Context {
        func: caller,
        arg,
        conds,
        chain,
    }
}

#[cfg(test)]
mod tests;
