//! Hostile shapes that once made the call graph quadratic in the input (issue 10, 0b):
//! many identical function types with many table entries (`call_indirect` and `call_ref`),
//! and thousands of Emscripten `invoke_*` imports. The graph must stay linear: at most one
//! node or edge per input byte, counted, not timed (a 60 s guard only detects hangs).
//! WASMGATE_DUMP_HOSTILE=DIR writes the binaries out, to measure a release build by hand.

use std::borrow::Cow;
use std::sync::mpsc;
use std::time::Duration;

use wasm_encoder::{
    CodeSection, ElementSection, Elements, EntityType, ExportKind, ExportSection, Function,
    FunctionSection, ImportSection, Module, TableSection, TypeSection, ValType,
};
use wasmgate_analyzer::Analysis;

const HANG: Duration = Duration::from_secs(60);

/// The shapes: how calls go through the table or references.
#[derive(Clone, Copy)]
enum Shape {
    /// Function `k` has type `k % types` and calls `call_indirect (type k % types)`.
    CallIndirect,
    /// Function `k` has type `k % types` and calls `call_ref` on itself.
    CallRef,
}

/// `types` identical function types and `funcs` functions, all in one private table (or
/// declared, for `call_ref`), each calling through its own type index.
fn identical_types(types: u32, funcs: u32, shape: Shape) -> Vec<u8> {
    let mut ts = TypeSection::new();
    for _ in 0..types {
        match shape {
            Shape::CallIndirect => ts.ty().function([ValType::I32], []),
            Shape::CallRef => ts.ty().function([], []),
        };
    }
    let mut fs = FunctionSection::new();
    let mut code = CodeSection::new();
    for k in 0..funcs {
        let ty = k % types;
        fs.function(ty);
        let mut f = Function::new([]);
        match shape {
            Shape::CallIndirect => {
                f.instructions()
                    .local_get(0)
                    .local_get(0)
                    .call_indirect(0, ty);
            }
            Shape::CallRef => {
                f.instructions().ref_func(k).call_ref(ty);
            }
        }
        f.instructions().end();
        code.function(&f);
    }
    let all: Vec<u32> = (0..funcs).collect();
    let (tables, elems) = match shape {
        Shape::CallIndirect => crate::common::funcref_table(funcs, &all),
        Shape::CallRef => {
            let mut elems = ElementSection::new();
            elems.declared(Elements::Functions(Cow::Borrowed(&all)));
            (TableSection::new(), elems)
        }
    };
    let mut exports = ExportSection::new();
    exports.export("main", ExportKind::Func, 0);
    let mut m = Module::new();
    m.section(&ts).section(&fs);
    if let Shape::CallIndirect = shape {
        m.section(&tables);
    }
    m.section(&exports).section(&elems).section(&code);
    m.finish()
}

/// `imports` Emscripten `invoke_*` imports of one type, `funcs` functions in the exported
/// `__indirect_function_table`, and `main` calling every import.
fn many_invokes(imports: u32, funcs: u32) -> Vec<u8> {
    let mut ts = TypeSection::new();
    ts.ty().function([ValType::I32], []); // type 0: invoke_*(index)
    ts.ty().function([], []); // type 1: table entries and main
    let mut is = ImportSection::new();
    for k in 0..imports {
        is.import("env", &format!("invoke_v{k}"), EntityType::Function(0));
    }
    let mut fs = FunctionSection::new();
    let mut code = CodeSection::new();
    let mut main = Function::new([]);
    for k in 0..imports {
        main.instructions().i32_const(k as i32).call(k);
    }
    main.instructions().end();
    fs.function(1);
    code.function(&main);
    for _ in 0..funcs {
        fs.function(1);
        let mut f = Function::new([]);
        f.instructions().end();
        code.function(&f);
    }
    let entries: Vec<u32> = (imports + 1..=imports + funcs).collect();
    let (tables, elems) = crate::common::funcref_table(funcs, &entries);
    let mut exports = ExportSection::new();
    exports.export("main", ExportKind::Func, imports);
    exports.export("__indirect_function_table", ExportKind::Table, 0);
    let mut m = Module::new();
    m.section(&ts)
        .section(&is)
        .section(&fs)
        .section(&tables)
        .section(&exports)
        .section(&elems)
        .section(&code);
    m.finish()
}

fn analyse(name: &str, wasm: &[u8]) -> Analysis {
    if let Some(dir) = std::env::var_os("WASMGATE_DUMP_HOSTILE") {
        std::fs::write(
            std::path::Path::new(&dir).join(format!("{name}.wasm")),
            wasm,
        )
        .unwrap();
    }
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

/// The graph has at most one node or edge per input byte (the quadratic graphs had hundreds).
fn assert_linear(name: &str, wasm: &[u8], a: &Analysis) {
    let g = &a.module.as_ref().unwrap().call_graph;
    let size = g.nodes.len() + g.edges.len();
    assert!(
        size <= wasm.len(),
        "{name}: {} nodes + {} edges for {} input bytes: not linear",
        g.nodes.len(),
        g.edges.len(),
        wasm.len()
    );
}

/// Regression: dispatch nodes were keyed by type index, so 1,000 identical types made 1,000
/// copies of a 10,000-entry dispatch (7.6 s, 412 MB, 532 MB of JSON).
#[test]
fn identical_types_share_one_call_indirect_dispatch() {
    for (types, funcs) in [(1_000, 10_000), (3_000, 30_000)] {
        let name = format!("identical-types-call-indirect-{types}x{funcs}");
        let wasm = identical_types(types, funcs, Shape::CallIndirect);
        let a = analyse(&name, &wasm);
        assert_linear(&name, &wasm, &a);
    }
}

/// Regression: `ref:type[N]` nodes were per type index and scanned every escaped function.
#[test]
fn identical_types_share_one_call_ref_dispatch() {
    for (types, funcs) in [(1_000, 10_000), (3_000, 30_000)] {
        let name = format!("identical-types-call-ref-{types}x{funcs}");
        let wasm = identical_types(types, funcs, Shape::CallRef);
        let a = analyse(&name, &wasm);
        assert_linear(&name, &wasm, &a);
    }
}

/// Regression: each `invoke_*` import had its own dispatch node over the whole table.
#[test]
fn many_invoke_imports_share_one_dispatch() {
    let name = "invoke-3000x10000";
    let wasm = many_invokes(3_000, 10_000);
    let a = analyse(name, &wasm);
    assert_linear(name, &wasm, &a);
}
