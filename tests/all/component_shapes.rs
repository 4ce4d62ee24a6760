//! Hostile component shapes: the linked call graph must grow linearly with the number of
//! instances. Counts, not timing: the graph of 4x the instances must be at most about 4x the
//! size. Set WASMGATE_DUMP_HOSTILE=DIR to write the generated binaries out, e.g. to measure
//! time and peak memory with `/usr/bin/time -v wasmgate inspect DIR/<name>.wasm`.

use wasm_encoder::{
    CodeSection, ComponentBuilder, ComponentExportKind, ComponentTypeRef, ComponentValType,
    ElementSection, Elements, EntityType, ExportKind, ExportSection, Function, FunctionSection,
    ImportSection, InstanceType, Instruction, Module, ModuleArg, PrimitiveValType, RefType,
    TableSection, TableType, TypeSection, ValType,
};

/// A core module whose table is written (`table.set` of an escaped `ref.func`) and called
/// through (`call_indirect` with an unknown index): the shape that made the linker pair every
/// instance's dispatch with every instance's escaped functions.
fn module() -> Module {
    let mut types = TypeSection::new();
    types.ty().function([], []); // 0
    types.ty().function([ValType::I32], []); // 1
    types.ty().function([], [ValType::I64]); // 2
    let mut imports = ImportSection::new();
    imports.import("host", "rand", EntityType::Function(2)); // func 0
    let mut funcs = FunctionSection::new();
    funcs.function(0); // 1: leaf
    funcs.function(1); // 2: set
    funcs.function(1); // 3: call
    let mut tables = TableSection::new();
    tables.table(TableType {
        element_type: RefType::FUNCREF,
        table64: false,
        minimum: 2,
        maximum: None,
        shared: false,
    });
    let mut exports = ExportSection::new();
    exports.export("leaf", ExportKind::Func, 1);
    exports.export("set", ExportKind::Func, 2);
    exports.export("call", ExportKind::Func, 3);
    let mut elems = ElementSection::new();
    elems.declared(Elements::Functions([1].as_slice().into()));
    let mut code = CodeSection::new();
    let mut leaf = Function::new([]);
    leaf.instruction(&Instruction::Call(0))
        .instruction(&Instruction::Drop)
        .instruction(&Instruction::End);
    code.function(&leaf);
    let mut set = Function::new([]);
    set.instruction(&Instruction::LocalGet(0))
        .instruction(&Instruction::RefFunc(1))
        .instruction(&Instruction::TableSet(0))
        .instruction(&Instruction::End);
    code.function(&set);
    let mut call = Function::new([]);
    call.instruction(&Instruction::LocalGet(0))
        .instruction(&Instruction::CallIndirect {
            type_index: 0,
            table_index: 0,
        })
        .instruction(&Instruction::End);
    code.function(&call);
    let mut m = Module::new();
    m.section(&types)
        .section(&imports)
        .section(&funcs)
        .section(&tables)
        .section(&exports)
        .section(&elems)
        .section(&code);
    m
}

/// A component with `n` instances of [`module`], each given a lowered `wasi:random` import,
/// exporting `call` of the first instance.
fn component(n: u32) -> Vec<u8> {
    let mut b = ComponentBuilder::default();
    let mut ity = InstanceType::new();
    ity.ty()
        .function()
        .params::<[(&str, ComponentValType); 0], _>([])
        .result(Some(ComponentValType::Primitive(PrimitiveValType::U64)));
    ity.export("get-random-u64", ComponentTypeRef::Func(0));
    let ity = b.type_instance(None, &ity);
    let random = b.import("wasi:random/random@0.2.0", ComponentTypeRef::Instance(ity));
    let rand = b.alias_export(random, "get-random-u64", ComponentExportKind::Func);
    let rand_low = b.lower_func(None, rand, []);
    let host = b.core_instantiate_exports(None, [("rand", ExportKind::Func, rand_low)]);
    let m = b.core_module(None, &module());
    let mut first = None;
    for _ in 0..n {
        let i = b.core_instantiate(None, m, [("host", ModuleArg::Instance(host))]);
        first.get_or_insert(i);
    }
    let call = b.core_alias_export(None, first.unwrap(), "call", ExportKind::Func);
    let (fty, enc) = b.ty(None);
    enc.function()
        .params([("i", ComponentValType::Primitive(PrimitiveValType::U32))])
        .result(None);
    let lifted = b.lift_func(None, call, fty, []);
    b.export("call", ComponentExportKind::Func, lifted, None);
    b.finish()
}

fn graph_size(name: &str, n: u32) -> (usize, usize) {
    let wasm = component(n);
    if let Some(dir) = std::env::var_os("WASMGATE_DUMP_HOSTILE") {
        std::fs::write(
            std::path::Path::new(&dir).join(format!("{name}.wasm")),
            &wasm,
        )
        .unwrap();
    }
    let a = wasmgate_analyzer::analyze(&wasm).unwrap();
    let call = a.entry_points.iter().find(|e| e.name == "call").unwrap();
    let caps: Vec<&str> = call.reaches.iter().map(|r| r.capability.as_str()).collect();
    assert_eq!(
        caps,
        ["random"],
        "{name}: `call` reaches the leaf through the table"
    );
    assert!(!call.unresolved, "{name}");
    let g = &a.component.as_ref().unwrap().call_graph;
    (g.nodes.len(), g.edges.len())
}

/// Regression: each instance's table dispatch had an edge to every escaped function of every
/// instance (quadratic edges, found by a linear scan each: 2,000 instances took over 40 s).
#[test]
fn many_instances_of_one_module_link_in_linear_size() {
    let (n1, e1) = graph_size("instances-500", 500);
    let (n2, e2) = graph_size("instances-2000", 2000);
    eprintln!("graph: 500 instances {n1} nodes / {e1} edges; 2000: {n2} / {e2}");
    // 4x the instances: linear growth is 4x plus a constant; quadratic would be 16x.
    assert!(n2 <= 4 * n1 + 64, "nodes {n1} -> {n2}");
    assert!(e2 <= 4 * e1 + 64, "edges {e1} -> {e2}");
}
