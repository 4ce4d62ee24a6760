//! The intraprocedural symbolic evaluator: one pass over a function body keeping each
//! operand-stack slot and local as an expression over the function's parameters, and
//! recording the arguments and path conditions of every call.
//!
//! Soundness rules: a value the evaluator does not model is an opaque symbol with its site;
//! where control flow merges, a local or result that differs between the incoming paths
//! becomes an opaque "merged" symbol; a local assigned inside a loop is an opaque "loop"
//! symbol from the loop's start. Stack effects of operators it does not model come from
//! wasmparser's own arity table, checked against the validator's stack height.

use std::collections::HashMap;

use wasmparser::{BlockType, FrameKind, FuncValidator, Operator, ValidatorResources};

use crate::expr::{Bin, Conv, E, Node, Width};
use crate::module::{GlobalValue, Module};
use crate::{Reason, ReasonKind};

/// Where a call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Direct(u32),
    /// `call_indirect` / `call_ref` with this function type.
    Indirect(u32),
}

/// A path condition: `e != 0` when `nonzero`, else `e == 0`.
#[derive(Debug, Clone)]
pub(crate) struct Cond {
    pub(crate) e: E,
    pub(crate) nonzero: bool,
}

/// One call instruction with its symbolic arguments.
#[derive(Debug, Clone)]
pub(crate) struct CallRec {
    pub(crate) offset: u64,
    pub(crate) target: Target,
    pub(crate) args: Vec<E>,
    pub(crate) conds: Vec<Cond>,
    /// In code no path reaches (after `br`, `return`, `unreachable`).
    pub(crate) dead: bool,
}

/// A memory instruction, recorded when the evaluator is asked to (`Evaluator::accesses`).
#[derive(Debug, Clone)]
pub(crate) struct AccessRec {
    pub(crate) offset: u64,
    /// What the instruction touches.
    pub(crate) shape: crate::bounds::Shape,
    /// The dynamic address operand (for modelled loads and stores).
    pub(crate) addr: Option<E>,
    pub(crate) conds: Vec<Cond>,
    pub(crate) dead: bool,
}

/// The calls of one function, or why it could not be evaluated.
#[derive(Debug, Default)]
pub(crate) struct FuncEval {
    pub(crate) calls: Vec<CallRec>,
    /// Memory instructions, when recorded.
    pub(crate) accesses: Vec<AccessRec>,
    /// Set when evaluation gave up: every value of the function is then this opaque symbol.
    pub(crate) failed: Option<u32>,
}

/// Evaluation stops on a function this large (locals times branches copied): its values
/// become opaque instead.
const MAX_COPIED_SLOTS: usize = 4_000_000;

struct State {
    locals: Vec<E>,
    stack: Vec<E>,
    conds: Vec<Cond>,
    reachable: bool,
    /// Height of the innermost block: dead code never pops below it.
    floor: usize,
}

/// The state a branch carries to its label.
struct Incoming {
    locals: Vec<E>,
    results: Vec<E>,
    conds: Vec<Cond>,
}

/// The state at an `if`: locals, block parameters, path conditions, the condition, and
/// whether the `if` itself is reachable.
type IfEntry = (Vec<E>, Vec<E>, Vec<Cond>, E, bool);

struct Ctl {
    kind: FrameKind,
    /// Stack height below the block's parameters.
    height: usize,
    results: usize,
    incoming: Vec<Incoming>,
    /// For `if`: the state at entry, for the else branch.
    entry: Option<IfEntry>,
}

pub(crate) struct Evaluator<'m, 'a> {
    pub(crate) module: &'m Module<'a>,
    pub(crate) reasons: &'m mut Vec<Reason>,
    /// Record memory instructions (the bounds check) as well as calls.
    pub(crate) accesses: bool,
}

/// `br_table` targets beyond this many get no path conditions (fewer conditions only
/// over-approximate the paths).
const MAX_TABLE_CONDS: usize = 64;

impl Evaluator<'_, '_> {
    fn opaque(&mut self, kind: ReasonKind, func: u32, offset: Option<u64>, w: Width) -> E {
        self.reasons.push(Reason {
            kind,
            function: func,
            offset,
        });
        E::new(Node::Opaque(self.reasons.len() as u32 - 1), w)
    }

    /// Evaluates defined function `func` (absolute index).
    pub(crate) fn function(&mut self, func: u32, body_index: usize) -> FuncEval {
        let m = self.module;
        let Some(body) = m.bodies.get(body_index) else {
            return self.fail(func, ReasonKind::Unsupported("no body"));
        };
        let body = body.body.clone();
        let Some(v) = self.take_validator(body_index) else {
            return self.fail(func, ReasonKind::Unsupported("no validator"));
        };
        match self.run(func, &body, v) {
            Ok(e) => e,
            Err(kind) => self.fail(func, kind),
        }
    }

    fn take_validator(&mut self, i: usize) -> Option<FuncValidator<ValidatorResources>> {
        // The module is shared; a validator is rebuilt from its resources each time.
        let b = self.module.bodies.get(i)?;
        let f = b.validator.as_ref()?;
        let to = wasmparser::FuncToValidate {
            resources: f.resources.clone(),
            index: f.index,
            ty: f.ty,
            features: f.features,
        };
        Some(to.into_validator(Default::default()))
    }

    fn fail(&mut self, func: u32, kind: ReasonKind) -> FuncEval {
        let id = self.reasons.len() as u32;
        self.reasons.push(Reason {
            kind,
            function: func,
            offset: None,
        });
        FuncEval {
            calls: Vec::new(),
            accesses: Vec::new(),
            failed: Some(id),
        }
    }

    fn run(
        &mut self,
        func: u32,
        body: &wasmparser::FunctionBody<'_>,
        mut v: FuncValidator<ValidatorResources>,
    ) -> Result<FuncEval, ReasonKind> {
        let m = self.module;
        let bad = |_| ReasonKind::Unsupported("malformed body");
        let ty = m
            .func_type(func)
            .ok_or(ReasonKind::Unsupported("no type"))?;
        let mut locals: Vec<E> = ty
            .params()
            .iter()
            .enumerate()
            .map(|(i, t)| {
                E::new(
                    Node::Param {
                        func,
                        index: i as u32,
                    },
                    Width::of(Some(*t)),
                )
            })
            .collect();
        let mut lr = body.get_locals_reader().map_err(bad)?;
        for _ in 0..lr.get_count() {
            let (n, t) = lr.read().map_err(bad)?;
            v.define_locals(lr.original_position(), n, t).map_err(bad)?;
            let w = Width::of(Some(t));
            let init = match w {
                Width::Other => self.opaque(ReasonKind::NonInteger, func, None, w),
                _ => E::konst(0, w),
            };
            if locals.len() + n as usize > 100_000 {
                return Err(ReasonKind::Unsupported("too many locals"));
            }
            locals.extend(std::iter::repeat_n(init, n as usize));
        }
        let loop_sets = loop_assignments(body)?;
        let mut st = State {
            locals,
            stack: Vec::new(),
            conds: Vec::new(),
            reachable: true,
            floor: 0,
        };
        let mut ctls = vec![Ctl {
            kind: FrameKind::Block,
            height: 0,
            results: ty.results().len(),
            incoming: Vec::new(),
            entry: None,
        }];
        let mut out = FuncEval::default();
        let mut copied = 0usize;
        let mut r = body.get_operators_reader().map_err(bad)?;
        while !r.eof() {
            let offset = r.original_position();
            let op = r.read().map_err(bad)?;
            let (pops, pushes) = op
                .operator_arity(&v)
                .ok_or(ReasonKind::Unsupported("operator arity"))?;
            let (pops, pushes) = (pops as usize, pushes as usize);
            copied += st.locals.len();
            if copied > MAX_COPIED_SLOTS {
                return Err(ReasonKind::Unsupported("function too large"));
            }
            // Modelled operators push their value here; `None` means "use the arity".
            let mut handled = true;
            match &op {
                Operator::Block { blockty } | Operator::Loop { blockty } => {
                    let (p, res) = block_arity(&v, *blockty)?;
                    let is_loop = matches!(op, Operator::Loop { .. });
                    let height = st.stack.len().saturating_sub(p);
                    if is_loop && st.reachable {
                        // Every local assigned in the loop, and the loop's parameters, may
                        // hold a value from a later iteration.
                        if let Some(set) = loop_sets.get(&offset) {
                            for &l in set {
                                if let Some(slot) = st.locals.get(l as usize) {
                                    let w = slot.width();
                                    st.locals[l as usize] =
                                        self.opaque(ReasonKind::Loop, func, Some(offset), w);
                                }
                            }
                        }
                        for i in height..st.stack.len() {
                            let w = st.stack[i].width();
                            st.stack[i] = self.opaque(ReasonKind::Loop, func, Some(offset), w);
                        }
                    }
                    ctls.push(Ctl {
                        kind: if is_loop {
                            FrameKind::Loop
                        } else {
                            FrameKind::Block
                        },
                        height,
                        results: res,
                        incoming: Vec::new(),
                        entry: None,
                    });
                    st.floor = height;
                }
                Operator::If { blockty } => {
                    let (p, res) = block_arity(&v, *blockty)?;
                    let c = pop(&mut st, self, func, offset);
                    let height = st.stack.len().saturating_sub(p);
                    let params = st.stack[height..].to_vec();
                    ctls.push(Ctl {
                        kind: FrameKind::If,
                        height,
                        results: res,
                        incoming: Vec::new(),
                        entry: Some((
                            st.locals.clone(),
                            params,
                            st.conds.clone(),
                            c.clone(),
                            st.reachable,
                        )),
                    });
                    st.conds.push(Cond {
                        e: c,
                        nonzero: true,
                    });
                    st.floor = height;
                }
                Operator::Else => {
                    let ctl = ctls.last_mut().ok_or(ReasonKind::Unsupported("else"))?;
                    if st.reachable {
                        let results =
                            st.stack[st.stack.len().saturating_sub(ctl.results)..].to_vec();
                        ctl.incoming.push(Incoming {
                            locals: st.locals.clone(),
                            results,
                            conds: st.conds.clone(),
                        });
                    }
                    let (locals, params, conds, c, reachable) =
                        ctl.entry.take().ok_or(ReasonKind::Unsupported("else"))?;
                    ctl.kind = FrameKind::Else;
                    st.stack.truncate(ctl.height);
                    st.stack.extend(params);
                    st.locals = locals;
                    st.conds = conds;
                    st.conds.push(Cond {
                        e: c,
                        nonzero: false,
                    });
                    st.reachable = reachable;
                }
                Operator::End => {
                    let mut ctl = ctls.pop().ok_or(ReasonKind::Unsupported("end"))?;
                    if st.reachable {
                        let results =
                            st.stack[st.stack.len().saturating_sub(ctl.results)..].to_vec();
                        ctl.incoming.push(Incoming {
                            locals: st.locals.clone(),
                            results,
                            conds: st.conds.clone(),
                        });
                    }
                    if let Some((locals, params, conds, c, true)) = ctl.entry.take() {
                        // `if` without `else`: the false path falls through with its params.
                        let mut conds = conds;
                        conds.push(Cond {
                            e: c,
                            nonzero: false,
                        });
                        ctl.incoming.push(Incoming {
                            locals,
                            results: params,
                            conds,
                        });
                    }
                    st.stack.truncate(ctl.height);
                    st.floor = ctls.last().map_or(0, |c| c.height);
                    match merge(self, func, offset, ctl.incoming, ctl.results) {
                        Some(inc) => {
                            st.locals = inc.locals;
                            st.conds = inc.conds;
                            st.stack.extend(inc.results);
                            st.reachable = true;
                        }
                        None => {
                            for _ in 0..ctl.results {
                                let dead = self.opaque(
                                    ReasonKind::DeadCode,
                                    func,
                                    Some(offset),
                                    Width::Other,
                                );
                                st.stack.push(dead);
                            }
                            st.reachable = false;
                        }
                    }
                    v.op(offset, &op).map_err(bad)?;
                    if ctls.is_empty() {
                        break;
                    }
                    continue;
                }
                Operator::Br { relative_depth } => {
                    branch(&mut st, &mut ctls, *relative_depth);
                    st.reachable = false;
                }
                Operator::BrIf { relative_depth } => {
                    let c = pop(&mut st, self, func, offset);
                    st.conds.push(Cond {
                        e: c.clone(),
                        nonzero: true,
                    });
                    branch(&mut st, &mut ctls, *relative_depth);
                    st.conds.pop();
                    st.conds.push(Cond {
                        e: c,
                        nonzero: false,
                    });
                }
                Operator::BrTable { targets } => {
                    let index = pop(&mut st, self, func, offset);
                    let labels: Vec<u32> =
                        targets.targets().collect::<Result<_, _>>().map_err(bad)?;
                    let default = targets.default();
                    let mut seen = Vec::new();
                    for &t in labels.iter().chain(std::iter::once(&default)) {
                        if seen.contains(&t) {
                            continue;
                        }
                        seen.push(t);
                        // The path condition of label `t`: the index is one of its slots, or
                        // past the table when `t` is also the default.
                        let cond = (labels.len() <= MAX_TABLE_CONDS)
                            .then(|| table_cond(&index, &labels, t, default));
                        if let Some(c) = cond.clone() {
                            st.conds.push(Cond {
                                e: c,
                                nonzero: true,
                            });
                        }
                        branch(&mut st, &mut ctls, t);
                        if cond.is_some() {
                            st.conds.pop();
                        }
                    }
                    st.reachable = false;
                }
                Operator::Return | Operator::Unreachable => st.reachable = false,
                Operator::Call { function_index } | Operator::ReturnCall { function_index } => {
                    let args = popn(&mut st, self, func, offset, pops);
                    out.calls.push(CallRec {
                        offset,
                        target: Target::Direct(*function_index),
                        args,
                        conds: st.conds.clone(),
                        dead: !st.reachable,
                    });
                    let kind = if *function_index < m.num_imported {
                        ReasonKind::ImportResult(*function_index)
                    } else {
                        ReasonKind::CallResult(*function_index)
                    };
                    v.op(offset, &op).map_err(bad)?;
                    for i in (0..pushes).rev() {
                        let w = Width::of(v.get_operand_type(i).flatten());
                        let e = self.opaque(kind.clone(), func, Some(offset), w);
                        st.stack.push(e);
                    }
                    if matches!(op, Operator::ReturnCall { .. }) {
                        st.reachable = false;
                    }
                    continue;
                }
                Operator::CallIndirect { type_index, .. }
                | Operator::ReturnCallIndirect { type_index, .. }
                | Operator::CallRef { type_index }
                | Operator::ReturnCallRef { type_index } => {
                    let mut args = popn(&mut st, self, func, offset, pops);
                    args.pop(); // the table index or reference
                    out.calls.push(CallRec {
                        offset,
                        target: Target::Indirect(*type_index),
                        args,
                        conds: st.conds.clone(),
                        dead: !st.reachable,
                    });
                    v.op(offset, &op).map_err(bad)?;
                    for i in (0..pushes).rev() {
                        let w = Width::of(v.get_operand_type(i).flatten());
                        let e = self.opaque(ReasonKind::IndirectResult, func, Some(offset), w);
                        st.stack.push(e);
                    }
                    if matches!(
                        op,
                        Operator::ReturnCallIndirect { .. } | Operator::ReturnCallRef { .. }
                    ) {
                        st.reachable = false;
                    }
                    continue;
                }
                // Exception handling and stack switching move control in ways the merge
                // rules above do not follow: give up on the whole function (opaque).
                Operator::Try { .. }
                | Operator::TryTable { .. }
                | Operator::Catch { .. }
                | Operator::CatchAll
                | Operator::Delegate { .. }
                | Operator::Rethrow { .. }
                | Operator::BrOnNull { .. }
                | Operator::BrOnNonNull { .. }
                | Operator::BrOnCast { .. }
                | Operator::BrOnCastFail { .. }
                | Operator::BrOnCastDescEq { .. }
                | Operator::BrOnCastDescEqFail { .. }
                | Operator::Resume { .. }
                | Operator::ResumeThrow { .. }
                | Operator::ResumeThrowRef { .. }
                | Operator::Switch { .. } => {
                    return Err(ReasonKind::Unsupported(
                        "exception handling or stack switching",
                    ));
                }
                Operator::LocalGet { local_index } => {
                    let e = st
                        .locals
                        .get(*local_index as usize)
                        .cloned()
                        .ok_or(ReasonKind::Unsupported("local"))?;
                    st.stack.push(e);
                }
                Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                    let e = pop(&mut st, self, func, offset);
                    if let Some(slot) = st.locals.get_mut(*local_index as usize) {
                        *slot = e.clone();
                    }
                    if matches!(op, Operator::LocalTee { .. }) {
                        st.stack.push(e);
                    }
                }
                Operator::GlobalGet { global_index } => {
                    let e = match m.globals.get(*global_index as usize) {
                        Some(GlobalValue::Const(c, w)) => E::konst(*c, *w),
                        Some(GlobalValue::Opaque(w)) => {
                            self.opaque(ReasonKind::Global(*global_index), func, Some(offset), *w)
                        }
                        None => return Err(ReasonKind::Unsupported("global")),
                    };
                    st.stack.push(e);
                }
                Operator::I32Const { value } => {
                    st.stack.push(E::konst(*value as u32 as u64, Width::I32))
                }
                Operator::I64Const { value } => st.stack.push(E::konst(*value as u64, Width::I64)),
                Operator::Select | Operator::TypedSelect { .. } => {
                    let c = pop(&mut st, self, func, offset);
                    let b = pop(&mut st, self, func, offset);
                    let a = pop(&mut st, self, func, offset);
                    if a.width() == Width::Other {
                        let e =
                            self.opaque(ReasonKind::NonInteger, func, Some(offset), Width::Other);
                        st.stack.push(e);
                    } else {
                        st.stack.push(E::select(c, a, b));
                    }
                }
                Operator::I32Eqz | Operator::I64Eqz => {
                    let a = pop(&mut st, self, func, offset);
                    st.stack.push(E::eqz(a));
                }
                Operator::I32WrapI64 => {
                    unary(&mut st, self, func, offset, |a| E::conv(Conv::Wrap, a))
                }
                Operator::I64ExtendI32U => {
                    unary(&mut st, self, func, offset, |a| E::conv(Conv::ExtendU, a))
                }
                Operator::I64ExtendI32S => {
                    unary(&mut st, self, func, offset, |a| E::conv(Conv::ExtendS, a))
                }
                Operator::I32Extend8S | Operator::I64Extend8S => {
                    unary(&mut st, self, func, offset, |a| {
                        E::conv(Conv::SignLow(8), a)
                    })
                }
                Operator::I32Extend16S | Operator::I64Extend16S => {
                    unary(&mut st, self, func, offset, |a| {
                        E::conv(Conv::SignLow(16), a)
                    })
                }
                Operator::I64Extend32S => unary(&mut st, self, func, offset, |a| {
                    E::conv(Conv::SignLow(32), a)
                }),
                Operator::Drop | Operator::Nop => {
                    for _ in 0..pops {
                        pop(&mut st, self, func, offset);
                    }
                }
                _ => match bin_op(&op) {
                    Some(b) => {
                        let y = pop(&mut st, self, func, offset);
                        let x = pop(&mut st, self, func, offset);
                        st.stack.push(E::bin(b, x, y));
                    }
                    None => handled = false,
                },
            }
            if !handled {
                if self.accesses
                    && let Some(shape) = crate::bounds::shape(&op)
                {
                    // The address is the deepest operand of a plain load or store.
                    let addr = match shape {
                        crate::bounds::Shape::Access { .. } => st
                            .stack
                            .len()
                            .checked_sub(pops)
                            .filter(|&i| i >= st.floor)
                            .map(|i| st.stack[i].clone()),
                        _ => None,
                    };
                    out.accesses.push(AccessRec {
                        offset,
                        shape,
                        addr,
                        conds: st.conds.clone(),
                        dead: !st.reachable,
                    });
                }
                // Not modelled: pop what it pops, push opaque values of the types it pushes.
                for _ in 0..pops {
                    pop(&mut st, self, func, offset);
                }
                let kind = if is_load(&op) {
                    ReasonKind::Load
                } else {
                    ReasonKind::Unmodelled
                };
                v.op(offset, &op).map_err(bad)?;
                for i in (0..pushes).rev() {
                    let w = Width::of(v.get_operand_type(i).flatten());
                    let e = self.opaque(kind.clone(), func, Some(offset), w);
                    st.stack.push(e);
                }
            } else {
                v.op(offset, &op).map_err(bad)?;
            }
            if st.reachable && st.stack.len() != v.operand_stack_height() as usize {
                return Err(ReasonKind::Unsupported("operand stack out of step"));
            }
        }
        Ok(out)
    }
}

fn block_arity(
    v: &FuncValidator<ValidatorResources>,
    t: BlockType,
) -> Result<(usize, usize), ReasonKind> {
    use wasmparser::ModuleArity;
    v.block_type_arity(t)
        .map(|(p, r)| (p as usize, r as usize))
        .ok_or(ReasonKind::Unsupported("block type"))
}

/// Pops one value; in dead code the stack may be empty (polymorphic): then an opaque one.
fn pop(st: &mut State, ev: &mut Evaluator<'_, '_>, func: u32, offset: u64) -> E {
    if st.stack.len() > st.floor
        && let Some(e) = st.stack.pop()
    {
        return e;
    }
    ev.opaque(ReasonKind::DeadCode, func, Some(offset), Width::Other)
}

fn popn(st: &mut State, ev: &mut Evaluator<'_, '_>, func: u32, offset: u64, n: usize) -> Vec<E> {
    let mut v: Vec<E> = (0..n).map(|_| pop(st, ev, func, offset)).collect();
    v.reverse();
    v
}

fn unary(st: &mut State, ev: &mut Evaluator<'_, '_>, func: u32, offset: u64, f: impl Fn(E) -> E) {
    let a = pop(st, ev, func, offset);
    st.stack.push(f(a));
}

/// `index` selects label `t` of a `br_table` (`labels` then `default`): an i32 that is
/// non-zero exactly when it does.
fn table_cond(index: &E, labels: &[u32], t: u32, default: u32) -> E {
    let w = index.width();
    let mut cond: Option<E> = None;
    let mut or = |e: E| {
        cond = Some(match cond.take() {
            Some(c) => E::bin(Bin::Or, c, e),
            None => e,
        })
    };
    for (i, _) in labels.iter().enumerate().filter(|(_, l)| **l == t) {
        or(E::bin(Bin::Eq, index.clone(), E::konst(i as u64, w)));
    }
    if t == default {
        or(E::bin(
            Bin::GeU,
            index.clone(),
            E::konst(labels.len() as u64, w),
        ));
    }
    cond.unwrap_or_else(|| E::konst(0, Width::I32))
}

/// Records the state a branch to label `depth` carries (nothing for a loop: its start
/// already holds opaque values for everything the loop changes).
fn branch(st: &mut State, ctls: &mut [Ctl], depth: u32) {
    if !st.reachable {
        return;
    }
    let Some(i) = ctls.len().checked_sub(1 + depth as usize) else {
        return;
    };
    let ctl = &mut ctls[i];
    if ctl.kind == FrameKind::Loop {
        return;
    }
    let results = st.stack[st.stack.len().saturating_sub(ctl.results)..].to_vec();
    ctl.incoming.push(Incoming {
        locals: st.locals.clone(),
        results,
        conds: st.conds.clone(),
    });
}

/// Joins the states arriving at a label: values that differ become opaque "merged" symbols,
/// and only the path conditions common to every path (a shared prefix) are kept.
fn merge(
    ev: &mut Evaluator<'_, '_>,
    func: u32,
    offset: u64,
    mut incoming: Vec<Incoming>,
    results: usize,
) -> Option<Incoming> {
    let first = if incoming.is_empty() {
        return None;
    } else {
        incoming.swap_remove(0)
    };
    if incoming.is_empty() {
        return Some(first);
    }
    let mut out = first;
    for other in &incoming {
        for (a, b) in out.locals.iter_mut().zip(&other.locals) {
            if !a.same(b) && !is_merge_at(ev, a, func, offset) {
                *a = ev.opaque(ReasonKind::Merge, func, Some(offset), a.width());
            }
        }
        for (a, b) in out.results.iter_mut().zip(&other.results) {
            if !a.same(b) && !is_merge_at(ev, a, func, offset) {
                *a = ev.opaque(ReasonKind::Merge, func, Some(offset), a.width());
            }
        }
        let common = out
            .conds
            .iter()
            .zip(&other.conds)
            .take_while(|(x, y)| x.nonzero == y.nonzero && x.e.same(&y.e))
            .count();
        out.conds.truncate(common);
    }
    debug_assert_eq!(out.results.len(), results.min(out.results.len()));
    Some(out)
}

/// Whether `e` is a merge symbol made at this very join (so three paths make one symbol;
/// reusing one from another join would equate values that differ).
fn is_merge_at(ev: &Evaluator<'_, '_>, e: &E, func: u32, offset: u64) -> bool {
    match e.node() {
        Node::Opaque(id) => ev.reasons.get(*id as usize).is_some_and(|r| {
            r.kind == ReasonKind::Merge && r.function == func && r.offset == Some(offset)
        }),
        _ => false,
    }
}

/// For each `loop` (by offset), the locals assigned anywhere inside it.
fn loop_assignments(
    body: &wasmparser::FunctionBody<'_>,
) -> Result<HashMap<u64, Vec<u32>>, ReasonKind> {
    let bad = |_| ReasonKind::Unsupported("malformed body");
    let mut r = body.get_operators_reader().map_err(bad)?;
    let mut open: Vec<Option<(u64, Vec<u32>)>> = Vec::new();
    let mut out = HashMap::new();
    while !r.eof() {
        let offset = r.original_position();
        match r.read().map_err(bad)? {
            Operator::Loop { .. } => open.push(Some((offset, Vec::new()))),
            Operator::Block { .. }
            | Operator::If { .. }
            | Operator::Try { .. }
            | Operator::TryTable { .. } => open.push(None),
            Operator::End => {
                if let Some(Some((o, set))) = open.pop() {
                    if let Some(Some((_, parent))) = open.iter_mut().rev().find(|f| f.is_some()) {
                        parent.extend(&set);
                    }
                    out.insert(o, set);
                }
            }
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                if let Some(Some((_, set))) = open.iter_mut().rev().find(|f| f.is_some())
                    && !set.contains(&local_index)
                {
                    set.push(local_index);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn is_load(op: &Operator<'_>) -> bool {
    use Operator::*;
    matches!(
        op,
        I32Load { .. }
            | I64Load { .. }
            | I32Load8S { .. }
            | I32Load8U { .. }
            | I32Load16S { .. }
            | I32Load16U { .. }
            | I64Load8S { .. }
            | I64Load8U { .. }
            | I64Load16S { .. }
            | I64Load16U { .. }
            | I64Load32S { .. }
            | I64Load32U { .. }
            | I32AtomicLoad { .. }
            | I64AtomicLoad { .. }
            | I32AtomicLoad8U { .. }
            | I32AtomicLoad16U { .. }
            | I64AtomicLoad8U { .. }
            | I64AtomicLoad16U { .. }
            | I64AtomicLoad32U { .. }
    )
}

fn bin_op(op: &Operator<'_>) -> Option<Bin> {
    use Operator::*;
    Some(match op {
        I32Add | I64Add => Bin::Add,
        I32Sub | I64Sub => Bin::Sub,
        I32Mul | I64Mul => Bin::Mul,
        I32And | I64And => Bin::And,
        I32Or | I64Or => Bin::Or,
        I32Xor | I64Xor => Bin::Xor,
        I32Shl | I64Shl => Bin::Shl,
        I32ShrU | I64ShrU => Bin::ShrU,
        I32ShrS | I64ShrS => Bin::ShrS,
        I32Rotl | I64Rotl => Bin::Rotl,
        I32Rotr | I64Rotr => Bin::Rotr,
        I32Eq | I64Eq => Bin::Eq,
        I32Ne | I64Ne => Bin::Ne,
        I32LtU | I64LtU => Bin::LtU,
        I32LtS | I64LtS => Bin::LtS,
        I32LeU | I64LeU => Bin::LeU,
        I32LeS | I64LeS => Bin::LeS,
        I32GtU | I64GtU => Bin::GtU,
        I32GtS | I64GtS => Bin::GtS,
        I32GeU | I64GeU => Bin::GeU,
        I32GeS | I64GeS => Bin::GeS,
        _ => return None,
    })
}
