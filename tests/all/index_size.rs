//! Hostile shapes for the index analysis of `call_indirect` (issue 10, section 3): many call
//! sites whose index is proven to a set of slots, and chains of parameters and results far
//! deeper than resolution follows. The graph must stay linear (at most one node or edge per
//! input byte, counted, not timed; a 60 s guard only detects hangs) and resolution must not
//! overflow the stack.

use std::sync::mpsc;
use std::time::Duration;

use wasm_encoder::{
    BlockType, CodeSection, ExportKind, ExportSection, Function, FunctionSection, Module,
    TypeSection, ValType,
};
use wasmgate_analyzer::{Analysis, NodeKind};

const HANG: Duration = Duration::from_secs(60);

/// How each of the many functions computes its table index.
#[derive(Clone, Copy, Debug)]
enum Index {
    /// `local.get 0; i32.const 7; i32.and`: slots 0..=7.
    Mask,
    /// `local.get 0; call $pick`, where `pick` returns one of 8 constants.
    Result,
    /// Function `k` passes its parameter to function `k + 1`; the last one calls through the
    /// table; the exported function 1 calls the chain's head (2) with a constant. Far deeper
    /// than resolution follows.
    ParamChain,
    /// Function `k` returns what function `k + 1` returns; the last one returns 3.
    ResultChain,
}

/// `funcs` functions of type `(param i32) (result i32)` in one private table, each calling
/// through it as `shape` says; function 0 is `pick` and is exported as `main`.
fn module(funcs: u32, shape: Index) -> Vec<u8> {
    let mut ts = TypeSection::new();
    ts.ty().function([ValType::I32], [ValType::I32]);
    let mut fs = FunctionSection::new();
    let mut code = CodeSection::new();
    // Function 0: returns k for k in 0..8 when its argument is k, else 7.
    let mut pick = Function::new([]);
    for k in 0..7 {
        pick.instructions()
            .local_get(0)
            .i32_const(k)
            .i32_eq()
            .if_(BlockType::Empty)
            .i32_const(k)
            .return_()
            .end();
    }
    pick.instructions().i32_const(7).end();
    fs.function(0);
    code.function(&pick);
    for k in 1..funcs {
        fs.function(0);
        let mut f = Function::new([]);
        let last = k + 1 == funcs;
        match shape {
            Index::Mask => {
                f.instructions()
                    .local_get(0)
                    .local_get(0)
                    .i32_const(7)
                    .i32_and()
                    .call_indirect(0, 0);
            }
            Index::Result => {
                f.instructions()
                    .local_get(0)
                    .local_get(0)
                    .call(0)
                    .call_indirect(0, 0);
            }
            Index::ParamChain if k == 1 => {
                f.instructions().i32_const(3).call(2);
            }
            Index::ParamChain if last => {
                f.instructions()
                    .local_get(0)
                    .local_get(0)
                    .call_indirect(0, 0);
            }
            Index::ParamChain => {
                f.instructions().local_get(0).call(k + 1);
            }
            Index::ResultChain if last => {
                f.instructions().i32_const(3);
            }
            Index::ResultChain => {
                f.instructions().local_get(0).call(k + 1);
            }
        }
        if k == 1 && matches!(shape, Index::ResultChain) {
            // The chain's head is used as an index.
            f.instructions()
                .drop()
                .local_get(0)
                .local_get(0)
                .call(2)
                .call_indirect(0, 0);
        }
        f.instructions().end();
        code.function(&f);
    }
    let all: Vec<u32> = (0..funcs).collect();
    // Only the first 16 slots: the chains' functions stay out of the table (and closed).
    let (tables, elems) = crate::common::funcref_table(funcs, &all[..16.min(all.len())]);
    let mut exports = ExportSection::new();
    exports.export("main", ExportKind::Func, 0);
    if matches!(shape, Index::ParamChain) {
        exports.export("head", ExportKind::Func, 1);
    }
    let mut m = Module::new();
    m.section(&ts)
        .section(&fs)
        .section(&tables)
        .section(&exports)
        .section(&elems)
        .section(&code);
    m.finish()
}

fn analyse(name: &str, wasm: &[u8]) -> Analysis {
    let bytes = wasm.to_vec();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(wasmgate_analyzer::analyze(&bytes));
    });
    match rx.recv_timeout(HANG) {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => panic!("{name}: {e}"),
        Err(_) => panic!("{name}: hang or panic (no result within {HANG:?})"),
    }
}

/// Every call site narrowed (no dispatch node), at most 8 targets each, and the whole graph
/// at most one node or edge per input byte.
#[test]
fn proven_indices_keep_the_graph_linear() {
    for shape in [Index::Mask, Index::Result] {
        let name = format!("{shape:?}");
        let wasm = module(20_000, shape);
        let a = analyse(&name, &wasm);
        let g = &a.module.as_ref().unwrap().call_graph;
        assert!(
            g.nodes.iter().all(|n| n.kind != NodeKind::Dispatch),
            "{name}: a call site was not narrowed"
        );
        let mut out = vec![0usize; g.nodes.len()];
        for (from, _) in &g.edges {
            out[*from as usize] += 1;
        }
        // Eight slots, plus `pick` for `Result`.
        assert!(out.iter().all(|&n| n <= 9), "{name}: more than 8 slots");
        let size = g.nodes.len() + g.edges.len();
        assert!(
            size <= wasm.len(),
            "{name}: {size} nodes and edges for {} input bytes",
            wasm.len()
        );
    }
}

/// Chains far deeper than resolution follows end as unknown (the dispatch node), without
/// overflowing the stack or going quadratic.
#[test]
fn deep_chains_give_up_soundly() {
    for shape in [Index::ParamChain, Index::ResultChain] {
        let name = format!("{shape:?}");
        let wasm = module(100_000, shape);
        let a = analyse(&name, &wasm);
        let g = &a.module.as_ref().unwrap().call_graph;
        assert!(
            g.nodes.iter().any(|n| n.kind == NodeKind::Dispatch),
            "{name}: a chain deeper than resolution follows was narrowed"
        );
        let size = g.nodes.len() + g.edges.len();
        assert!(
            size <= wasm.len(),
            "{name}: {size} for {} bytes",
            wasm.len()
        );
    }
}
