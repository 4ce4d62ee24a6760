//! Symbolic values of the operand stack: bit-vector expressions over constants, the
//! parameters of one function and opaque symbols (values wasmgate does not model).
//!
//! Constants are folded as expressions are built, so most wasi-libc arguments never reach
//! the solver; what is left is encoded for Z3 by `solve`.

use std::collections::HashMap;
use std::rc::Rc;

/// Bit width of a value. Only integers are modelled; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Width {
    I32,
    I64,
    Other,
}

impl Width {
    pub(crate) fn bits(self) -> u32 {
        match self {
            Width::I32 => 32,
            Width::I64 | Width::Other => 64,
        }
    }

    pub(crate) fn mask(self) -> u64 {
        match self {
            Width::I32 => u32::MAX as u64,
            _ => u64::MAX,
        }
    }

    pub(crate) fn of(t: Option<wasmparser::ValType>) -> Width {
        match t {
            Some(wasmparser::ValType::I32) => Width::I32,
            Some(wasmparser::ValType::I64) => Width::I64,
            _ => Width::Other,
        }
    }
}

/// Binary operators, with Wasm's semantics (shift counts taken modulo the width).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Bin {
    Add,
    Sub,
    Mul,
    And,
    Or,
    Xor,
    Shl,
    ShrU,
    ShrS,
    Rotl,
    Rotr,
    Eq,
    Ne,
    LtU,
    LtS,
    LeU,
    LeS,
    GtU,
    GtS,
    GeU,
    GeS,
}

impl Bin {
    /// Comparisons give an i32 0 or 1 whatever the operand width.
    pub(crate) fn is_compare(self) -> bool {
        matches!(
            self,
            Bin::Eq
                | Bin::Ne
                | Bin::LtU
                | Bin::LtS
                | Bin::LeU
                | Bin::LeS
                | Bin::GtU
                | Bin::GtS
                | Bin::GeU
                | Bin::GeS
        )
    }
}

/// Width conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Conv {
    /// i32.wrap_i64.
    Wrap,
    /// i64.extend_i32_u.
    ExtendU,
    /// i64.extend_i32_s.
    ExtendS,
    /// Sign-extend the low N bits within the same width (i32.extend8_s...).
    SignLow(u32),
}

/// One node of an expression.
#[derive(Debug)]
pub(crate) enum Node {
    Const(u64),
    /// Parameter `index` of function `func` (resolved by the interprocedural step).
    Param {
        func: u32,
        index: u32,
    },
    /// A value wasmgate does not model; the id indexes the checker's reasons.
    Opaque(u32),
    Bin(Bin, E, E),
    Conv(Conv, E),
    /// `i32.eqz` / `i64.eqz`.
    Eqz(E),
    /// `select`: `c != 0 ? a : b`.
    Select(E, E, E),
}

/// An expression: a shared node with its width.
#[derive(Debug, Clone)]
pub(crate) struct E(pub(crate) Rc<(Node, Width)>);

impl E {
    pub(crate) fn node(&self) -> &Node {
        &self.0.0
    }

    pub(crate) fn width(&self) -> Width {
        self.0.1
    }

    pub(crate) fn new(node: Node, width: Width) -> E {
        E(Rc::new((node, width)))
    }

    pub(crate) fn konst(v: u64, w: Width) -> E {
        E::new(Node::Const(v & w.mask()), w)
    }

    pub(crate) fn as_const(&self) -> Option<u64> {
        match self.node() {
            Node::Const(v) => Some(*v),
            _ => None,
        }
    }

    /// The same value: the same node, or equal constants of one width.
    pub(crate) fn same(&self, other: &E) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
            || (self.width() == other.width()
                && self.as_const().is_some()
                && self.as_const() == other.as_const())
    }

    pub(crate) fn ptr(&self) -> *const (Node, Width) {
        Rc::as_ptr(&self.0)
    }

    pub(crate) fn bin(op: Bin, a: E, b: E) -> E {
        let w = a.width();
        let out = if op.is_compare() { Width::I32 } else { w };
        if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
            return E::konst(fold_bin(op, x, y, w), out);
        }
        E::new(Node::Bin(op, a, b), out)
    }

    pub(crate) fn conv(c: Conv, a: E) -> E {
        let w = match c {
            Conv::Wrap => Width::I32,
            Conv::ExtendU | Conv::ExtendS => Width::I64,
            Conv::SignLow(_) => a.width(),
        };
        if let Some(x) = a.as_const() {
            let v = match c {
                Conv::Wrap | Conv::ExtendU => x,
                Conv::ExtendS => sign(x, 32),
                Conv::SignLow(n) => sign(x, n),
            };
            return E::konst(v, w);
        }
        E::new(Node::Conv(c, a), w)
    }

    pub(crate) fn eqz(a: E) -> E {
        if let Some(x) = a.as_const() {
            return E::konst(u64::from(x == 0), Width::I32);
        }
        E::new(Node::Eqz(a), Width::I32)
    }

    pub(crate) fn select(c: E, a: E, b: E) -> E {
        if let Some(x) = c.as_const() {
            return if x != 0 { a } else { b };
        }
        if a.same(&b) {
            return a;
        }
        let w = a.width();
        E::new(Node::Select(c, a, b), w)
    }

    /// Visits every leaf (parameters and opaque symbols) once.
    pub(crate) fn leaves(&self, out: &mut Leaves) {
        if !out.seen.insert(self.ptr() as usize) {
            return;
        }
        match self.node() {
            Node::Const(_) => {}
            Node::Param { func, index } => out.params.push((*func, *index)),
            Node::Opaque(id) => out.opaque.push(*id),
            Node::Bin(_, a, b) => {
                a.leaves(out);
                b.leaves(out);
            }
            Node::Conv(_, a) | Node::Eqz(a) => a.leaves(out),
            Node::Select(c, a, b) => {
                c.leaves(out);
                a.leaves(out);
                b.leaves(out);
            }
        }
    }

    /// Replaces the parameters of `func` by `args`, folding constants again.
    pub(crate) fn subst(&self, func: u32, args: &[E], memo: &mut HashMap<usize, E>) -> E {
        if let Some(e) = memo.get(&(self.ptr() as usize)) {
            return e.clone();
        }
        let out = match self.node() {
            Node::Const(_) | Node::Opaque(_) => self.clone(),
            Node::Param { func: f, index } if *f == func => args
                .get(*index as usize)
                .cloned()
                .unwrap_or_else(|| self.clone()),
            Node::Param { .. } => self.clone(),
            Node::Bin(op, a, b) => {
                E::bin(*op, a.subst(func, args, memo), b.subst(func, args, memo))
            }
            Node::Conv(c, a) => E::conv(*c, a.subst(func, args, memo)),
            Node::Eqz(a) => E::eqz(a.subst(func, args, memo)),
            Node::Select(c, a, b) => E::select(
                c.subst(func, args, memo),
                a.subst(func, args, memo),
                b.subst(func, args, memo),
            ),
        };
        memo.insert(self.ptr() as usize, out.clone());
        out
    }
}

impl E {
    /// An unsigned range holding every value of the expression, whatever its leaves are
    /// (cheap and coarse: it lets the bounds check skip the solver for masked or shifted
    /// addresses).
    pub(crate) fn range(&self) -> (u128, u128) {
        let top = u128::from(self.width().mask());
        let full = (0, top);
        let fit = |r: (u128, u128)| if r.1 <= top { r } else { full };
        match self.node() {
            Node::Const(c) => (u128::from(*c), u128::from(*c)),
            Node::Param { .. } | Node::Opaque(_) => full,
            Node::Bin(op, a, b) => {
                let (x, y) = (a.range(), b.range());
                match op {
                    Bin::Add => fit((x.0 + y.0, x.1 + y.1)),
                    Bin::Sub if x.0 >= y.1 => (x.0 - y.1, x.1 - y.0),
                    Bin::Mul => fit((x.0 * y.0, x.1.saturating_mul(y.1))),
                    Bin::And => (0, x.1.min(y.1)),
                    Bin::Or | Bin::Xor => {
                        let hi = x.1.max(y.1);
                        fit((0, hi.checked_next_power_of_two().map_or(top, |p| p * 2 - 1)))
                    }
                    Bin::ShrU => match b.as_const() {
                        Some(s) => {
                            let s = (s % u64::from(self.width().bits())) as u32;
                            (x.0 >> s, x.1 >> s)
                        }
                        None => (0, x.1),
                    },
                    Bin::Shl => match b.as_const() {
                        Some(s) => {
                            let s = (s % u64::from(self.width().bits())) as u32;
                            fit((x.0 << s, x.1 << s))
                        }
                        None => full,
                    },
                    _ if op.is_compare() => (0, 1),
                    _ => full,
                }
            }
            Node::Conv(c, a) => {
                let x = a.range();
                match c {
                    Conv::ExtendU => x,
                    Conv::Wrap => fit(x),
                    Conv::ExtendS if x.1 < 1 << 31 => x,
                    _ => full,
                }
            }
            Node::Eqz(_) => (0, 1),
            Node::Select(_, a, b) => {
                let (x, y) = (a.range(), b.range());
                (x.0.min(y.0), x.1.max(y.1))
            }
        }
    }
}

/// The leaves of one or more expressions.
#[derive(Default, Debug)]
pub(crate) struct Leaves {
    seen: std::collections::HashSet<usize>,
    pub(crate) params: Vec<(u32, u32)>,
    pub(crate) opaque: Vec<u32>,
}

fn sign(x: u64, bits: u32) -> u64 {
    let shift = 64 - bits;
    (((x << shift) as i64) >> shift) as u64
}

/// Wasm semantics of a binary operator on constants of width `w` (operands already masked).
fn fold_bin(op: Bin, x: u64, y: u64, w: Width) -> u64 {
    let bits = w.bits();
    let m = w.mask();
    let sx = sign(x, bits) as i64;
    let sy = sign(y, bits) as i64;
    let sh = (y % u64::from(bits)) as u32;
    let b = |c: bool| u64::from(c);
    match op {
        Bin::Add => x.wrapping_add(y) & m,
        Bin::Sub => x.wrapping_sub(y) & m,
        Bin::Mul => x.wrapping_mul(y) & m,
        Bin::And => x & y,
        Bin::Or => x | y,
        Bin::Xor => x ^ y,
        Bin::Shl => (x << sh) & m,
        Bin::ShrU => x >> sh,
        Bin::ShrS => ((sx >> sh) as u64) & m,
        Bin::Rotl => {
            if sh == 0 {
                x
            } else {
                ((x << sh) | (x >> (bits - sh))) & m
            }
        }
        Bin::Rotr => {
            if sh == 0 {
                x
            } else {
                ((x >> sh) | (x << (bits - sh))) & m
            }
        }
        Bin::Eq => b(x == y),
        Bin::Ne => b(x != y),
        Bin::LtU => b(x < y),
        Bin::LtS => b(sx < sy),
        Bin::LeU => b(x <= y),
        Bin::LeS => b(sx <= sy),
        Bin::GtU => b(x > y),
        Bin::GtS => b(sx > sy),
        Bin::GeU => b(x >= y),
        Bin::GeS => b(sx >= sy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_follows_wasm_semantics() {
        let c = |v| E::konst(v, Width::I32);
        let f = |op, x, y| E::bin(op, c(x), c(y)).as_const().unwrap();
        assert_eq!(f(Bin::Add, u32::MAX as u64, 2), 1);
        assert_eq!(f(Bin::Shl, 1, 33), 2); // count modulo 32
        assert_eq!(f(Bin::ShrS, 0x8000_0000, 31), u32::MAX as u64);
        assert_eq!(f(Bin::LtS, u32::MAX as u64, 0), 1); // -1 < 0
        assert_eq!(f(Bin::LtU, u32::MAX as u64, 0), 0);
        assert_eq!(f(Bin::Rotl, 0x8000_0001, 1), 3);
        let e = E::conv(Conv::ExtendS, c(0xffff_fffb));
        assert_eq!(e.as_const(), Some((-5i64) as u64));
        let e = E::conv(Conv::SignLow(8), c(0x80));
        assert_eq!(e.as_const(), Some(0xffff_ff80));
    }

    #[test]
    fn ranges_hold_every_value() {
        let p = E::new(Node::Param { func: 0, index: 0 }, Width::I32);
        let c = |v| E::konst(v, Width::I32);
        let masked = E::bin(Bin::And, p.clone(), c(0xfff));
        assert_eq!(masked.range(), (0, 0xfff));
        assert_eq!(
            E::bin(Bin::Add, masked.clone(), c(16)).range(),
            (16, 0xfff + 16)
        );
        assert_eq!(E::bin(Bin::ShrU, p.clone(), c(28)).range(), (0, 15));
        assert_eq!(
            E::bin(Bin::Or, masked.clone(), c(0x1000)).range(),
            (0, 0x1fff)
        );
        // A sum that may wrap is the whole width.
        assert_eq!(
            E::bin(Bin::Add, p.clone(), c(1)).range(),
            (0, u32::MAX as u128)
        );
        assert_eq!(
            E::bin(Bin::Shl, masked, c(24)).range(),
            (0, u32::MAX as u128)
        );
        // Brute force over a small mask: every value lies in the range.
        for v in 0..0x2000u64 {
            let e = E::bin(Bin::Sub, E::bin(Bin::Or, c(v & 0xfff), c(0x10)), c(0x10));
            let (lo, hi) = E::bin(
                Bin::Sub,
                E::bin(Bin::Or, E::bin(Bin::And, p.clone(), c(0xfff)), c(0x10)),
                c(0x10),
            )
            .range();
            let x = u128::from(e.as_const().unwrap());
            assert!(x >= lo && x <= hi, "{v}: {x} not in {lo}..={hi}");
        }
    }
}
