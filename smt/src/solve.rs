//! One solver question per caller context: can the argument take a disallowed value on this
//! path? Encoded over Z3 bit-vectors with Wasm's integer semantics (shift counts modulo the
//! width, comparisons as i32 0/1). Without the `z3` feature every question is unknown.

#[cfg(feature = "z3")]
use std::collections::HashMap;

use crate::{Context, Query, ReasonKind};

/// The solver's answer for one context.
#[cfg_attr(not(feature = "z3"), allow(dead_code))]
pub(crate) enum Decision {
    /// No disallowed value is possible.
    Unsat,
    /// A disallowed value: the argument and the free parameters ((function, index), value).
    Sat {
        value: u64,
        inputs: Vec<((u32, u32), u64)>,
    },
    /// Undecided.
    Unknown(ReasonKind),
}

#[cfg(not(feature = "z3"))]
pub(crate) fn decide(_cx: &Context, _q: &Query) -> Decision {
    Decision::Unknown(ReasonKind::NoSolver)
}

#[cfg(feature = "z3")]
pub(crate) fn decide(cx: &Context, q: &Query) -> Decision {
    let ctx = z3::Context::new(&z3::Config::new());
    let mut enc = Encoder::new(&ctx);
    let v = fit(&enc.bv(&cx.arg), 64);
    let solver = timed_solver(&ctx, q.timeout_ms);
    solver.assert(&holds(&ctx, &v, &q.allowed).not());
    answer(&solver, &mut enc, &cx.conds, &v)
}

/// `a` as a formula over the 64-bit value `v` (every key given must hold).
#[cfg(feature = "z3")]
pub(crate) fn holds<'c>(
    ctx: &'c z3::Context,
    v: &z3::ast::BV<'c>,
    a: &crate::Allowed,
) -> z3::ast::Bool<'c> {
    use z3::ast::{Ast, BV, Bool};
    let k = |x: u64| BV::from_u64(ctx, x, 64);
    let mut parts: Vec<Bool<'c>> = Vec::new();
    if !a.one_of.is_empty() {
        let eqs: Vec<Bool<'c>> = a.one_of.iter().map(|x| v._eq(&k(*x))).collect();
        let refs: Vec<&Bool<'c>> = eqs.iter().collect();
        parts.push(Bool::or(ctx, &refs));
    }
    if let Some(m) = a.min {
        parts.push(v.bvuge(&k(m)));
    }
    if let Some(m) = a.max {
        parts.push(v.bvule(&k(m)));
    }
    if a.bits_clear != 0 {
        parts.push(v.bvand(&k(a.bits_clear))._eq(&k(0)));
    }
    if a.bits_set != 0 {
        parts.push(v.bvand(&k(a.bits_set))._eq(&k(a.bits_set)));
    }
    let refs: Vec<&Bool<'c>> = parts.iter().collect();
    Bool::and(ctx, &refs)
}

/// A solver that gives up (answers unknown) after `timeout_ms`.
#[cfg(feature = "z3")]
pub(crate) fn timed_solver(ctx: &z3::Context, timeout_ms: u64) -> z3::Solver<'_> {
    let solver = z3::Solver::new(ctx);
    let mut p = z3::Params::new(ctx);
    p.set_u32(
        "timeout",
        u32::try_from(timeout_ms).unwrap_or(u32::MAX).max(1),
    );
    solver.set_params(&p);
    solver
}

/// Adds the path conditions `conds` to `solver` (whose other assertion says "out of bounds"
/// or "not allowed") and reads the answer: `value` is `v` in the model, with the free
/// parameters met. Anything short of a model is unknown (a timeout), never unsat.
#[cfg(feature = "z3")]
fn answer<'c>(
    solver: &z3::Solver<'c>,
    enc: &mut Encoder<'c>,
    conds: &[crate::eval::Cond],
    v: &z3::ast::BV<'c>,
) -> Decision {
    use z3::SatResult;
    use z3::ast::{Ast, BV};
    for c in conds {
        let e = enc.bv(&c.e);
        let is_zero = e._eq(&BV::from_u64(enc.ctx, 0, e.get_size()));
        solver.assert(&if c.nonzero { is_zero.not() } else { is_zero });
    }
    match solver.check() {
        SatResult::Unsat => Decision::Unsat,
        SatResult::Unknown => Decision::Unknown(ReasonKind::Timeout),
        SatResult::Sat => {
            let Some(model) = solver.get_model() else {
                return Decision::Unknown(ReasonKind::Timeout);
            };
            let Some(value) = model.eval(v, true).and_then(|x| x.as_u64()) else {
                return Decision::Unknown(ReasonKind::Timeout);
            };
            let inputs = enc
                .params
                .iter()
                .filter_map(|(key, bv)| Some((*key, model.eval(bv, true)?.as_u64()?)))
                .collect();
            Decision::Sat { value, inputs }
        }
    }
}

/// One solver context for many bounds queries (a context costs far more than a query).
#[cfg(not(feature = "z3"))]
pub(crate) struct Session;

#[cfg(not(feature = "z3"))]
impl Session {
    pub(crate) fn new() -> Session {
        Session
    }

    pub(crate) fn exceeds(
        &self,
        _addr: &crate::expr::E,
        _conds: &[crate::eval::Cond],
        _extra: u128,
        _limit: u128,
        _timeout_ms: u64,
    ) -> Decision {
        Decision::Unknown(ReasonKind::NoSolver)
    }
}

/// One solver context for many bounds queries (a context costs far more than a query).
#[cfg(feature = "z3")]
pub(crate) struct Session {
    ctx: z3::Context,
}

#[cfg(feature = "z3")]
impl Session {
    pub(crate) fn new() -> Session {
        Session {
            ctx: z3::Context::new(&z3::Config::new()),
        }
    }

    /// Can `addr + extra` pass `limit` on a path satisfying `conds`? (In 80-bit arithmetic,
    /// so nothing wraps.)
    pub(crate) fn exceeds(
        &self,
        addr: &crate::expr::E,
        conds: &[crate::eval::Cond],
        extra: u128,
        limit: u128,
        timeout_ms: u64,
    ) -> Decision {
        use z3::ast::BV;

        const W: u32 = 80;
        let ctx = &self.ctx;
        let mut enc = Encoder::new(ctx);
        let big = |x: u128| {
            let hi = BV::from_u64(ctx, (x >> 64) as u64, W);
            let lo = BV::from_u64(ctx, x as u64, W);
            hi.bvshl(&BV::from_u64(ctx, 64, W)).bvor(&lo)
        };
        let a = enc.bv(addr);
        let a = a.zero_ext(W - a.get_size());
        let solver = timed_solver(ctx, timeout_ms);
        solver.assert(&a.bvadd(&big(extra)).bvugt(&big(limit)));
        answer(&solver, &mut enc, conds, &a)
    }
}

#[cfg(feature = "z3")]
struct Encoder<'c> {
    ctx: &'c z3::Context,
    memo: HashMap<usize, z3::ast::BV<'c>>,
    /// Free parameters met, in order.
    params: Vec<((u32, u32), z3::ast::BV<'c>)>,
}

/// `b` resized to `bits` (truncated or zero-extended); widths agree in valid code.
#[cfg(feature = "z3")]
fn fit<'c>(b: &z3::ast::BV<'c>, bits: u32) -> z3::ast::BV<'c> {
    let n = b.get_size();
    match n.cmp(&bits) {
        std::cmp::Ordering::Equal => b.clone(),
        std::cmp::Ordering::Less => b.zero_ext(bits - n),
        std::cmp::Ordering::Greater => b.extract(bits - 1, 0),
    }
}

#[cfg(feature = "z3")]
impl<'c> Encoder<'c> {
    fn new(ctx: &'c z3::Context) -> Encoder<'c> {
        Encoder {
            ctx,
            memo: HashMap::new(),
            params: Vec::new(),
        }
    }

    fn bv(&mut self, e: &crate::expr::E) -> z3::ast::BV<'c> {
        use crate::expr::{Bin, Conv, Node};
        use z3::ast::{Ast, BV, Bool};
        if let Some(b) = self.memo.get(&(e.ptr() as usize)) {
            return b.clone();
        }
        let ctx = self.ctx;
        let bits = e.width().bits();
        let bool_bv = |b: Bool<'c>| b.ite(&BV::from_u64(ctx, 1, 32), &BV::from_u64(ctx, 0, 32));
        let out = match e.node() {
            Node::Const(c) => BV::from_u64(ctx, *c, bits),
            Node::Param { func, index } => {
                let b = BV::new_const(ctx, format!("p{func}_{index}"), bits);
                self.params.push(((*func, *index), b.clone()));
                b
            }
            Node::Opaque(id) => BV::new_const(ctx, format!("o{id}_{bits}"), bits),
            Node::Bin(op, a, b) => {
                let x = self.bv(a);
                let w = x.get_size();
                let y = fit(&self.bv(b), w);
                let count = || y.bvand(&BV::from_u64(ctx, u64::from(w - 1), w));
                match op {
                    Bin::Add => x.bvadd(&y),
                    Bin::Sub => x.bvsub(&y),
                    Bin::Mul => x.bvmul(&y),
                    Bin::And => x.bvand(&y),
                    Bin::Or => x.bvor(&y),
                    Bin::Xor => x.bvxor(&y),
                    Bin::Shl => x.bvshl(&count()),
                    Bin::ShrU => x.bvlshr(&count()),
                    Bin::ShrS => x.bvashr(&count()),
                    Bin::Rotl => x.bvrotl(&count()),
                    Bin::Rotr => x.bvrotr(&count()),
                    Bin::Eq => bool_bv(x._eq(&y)),
                    Bin::Ne => bool_bv(x._eq(&y).not()),
                    Bin::LtU => bool_bv(x.bvult(&y)),
                    Bin::LtS => bool_bv(x.bvslt(&y)),
                    Bin::LeU => bool_bv(x.bvule(&y)),
                    Bin::LeS => bool_bv(x.bvsle(&y)),
                    Bin::GtU => bool_bv(x.bvugt(&y)),
                    Bin::GtS => bool_bv(x.bvsgt(&y)),
                    Bin::GeU => bool_bv(x.bvuge(&y)),
                    Bin::GeS => bool_bv(x.bvsge(&y)),
                }
            }
            Node::Conv(c, a) => {
                let x = self.bv(a);
                match c {
                    Conv::Wrap => fit(&x, 64).extract(31, 0),
                    Conv::ExtendU => fit(&x, 32).zero_ext(32),
                    Conv::ExtendS => fit(&x, 32).sign_ext(32),
                    Conv::SignLow(n) => {
                        let w = x.get_size();
                        x.extract(n - 1, 0).sign_ext(w - n)
                    }
                }
            }
            Node::Eqz(a) => {
                let x = self.bv(a);
                let zero = BV::from_u64(ctx, 0, x.get_size());
                bool_bv(x._eq(&zero))
            }
            Node::Select(c, a, b) => {
                let cv = self.bv(c);
                let zero = BV::from_u64(ctx, 0, cv.get_size());
                let x = self.bv(a);
                let y = fit(&self.bv(b), x.get_size());
                cv._eq(&zero).not().ite(&x, &y)
            }
        };
        let out = fit(&out, bits);
        self.memo.insert(e.ptr() as usize, out.clone());
        out
    }
}
