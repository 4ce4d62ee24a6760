//! Soundness: run wasm-smith modules in wasmtime with every imported function stubbed by a
//! recorder, and assert that every import an entry point actually calls is reachable from it
//! in the analysis's call graph (the start function during instantiation, then each export),
//! and that the capabilities the call exercised with its actual arguments are among those
//! the analysis reports for the entry point (`wasmgate_fuzz::expected_capabilities`).
//!
//! Stubs return zero values and never call back into the module, so host re-entry (which the
//! analysis models with extra edges) does not arise. Traps and fuel exhaustion end a call,
//! not the check: the imports called before them were still called.
#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use wasmgate_analyzer::{Analysis, CallGraph, EntryKind, ExternKind};
use wasmgate_fuzz::{
    capability_defect, expected_capabilities, function_node, imported_functions, reachable,
};
use wasmtime::{
    Config, Engine, Extern, Func, Instance, Module, Store, StoreLimits, StoreLimitsBuilder, Val,
    ValType,
};

const FUEL: u64 = 100_000;

/// With `WASMGATE_FUZZ_STATS` set, every 1000 modules print how far they got, to check that
/// the target exercises calls: [modules, compiled, instantiated, exports called, imports called].
static STATS: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];

fn stat(i: usize, n: u64) {
    STATS[i].fetch_add(n, Ordering::Relaxed);
}

fn print_stats() {
    let s: Vec<u64> = STATS.iter().map(|s| s.load(Ordering::Relaxed)).collect();
    if s[0] % 1000 == 0 && std::env::var_os("WASMGATE_FUZZ_STATS").is_some() {
        eprintln!(
            "soundness: {} modules, {} compiled, {} instantiated, {} exports called, {} imports called",
            s[0], s[1], s[2], s[3], s[4]
        );
    }
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut c = Config::new();
        c.consume_fuel(true)
            // Compile speed over code speed: the modules are small and run under fuel.
            .cranelift_opt_level(wasmtime::OptLevel::None)
            // Explicit bounds and stack checks: no signal handlers next to libFuzzer's.
            .signals_based_traps(false)
            .memory_reservation(1 << 20)
            .memory_guard_size(0)
            .memory_reservation_for_growth(0)
            .wasm_tail_call(true)
            .wasm_function_references(true)
            .wasm_gc(true)
            .wasm_exceptions(true)
            .wasm_multi_memory(true)
            .wasm_memory64(true)
            .wasm_wide_arithmetic(true)
            .wasm_extended_const(true);
        Engine::new(&c).expect("engine")
    })
}

struct Host {
    limits: StoreLimits,
    /// Function indices of the imports called so far.
    calls: Vec<u32>,
    /// The first argument of each of those calls, when it is an integer.
    first_args: Vec<Option<i64>>,
}

/// Asserts that what each recorded call exercised is in the entry point's reported set.
fn assert_capabilities(
    a: &Analysis,
    entry: &str,
    kind: EntryKind,
    imports: &[(String, String)],
    calls: &[u32],
    first_args: &[Option<i64>],
) {
    let reported: BTreeSet<&str> = a
        .entry_points
        .iter()
        .filter(|e| e.name == entry && e.kind == kind)
        .flat_map(|e| e.reaches.iter().map(|r| r.capability.as_str()))
        .collect();
    for (&c, &arg0) in calls.iter().zip(first_args) {
        let (module, name) = &imports[c as usize];
        let expected = expected_capabilities(module, name, arg0);
        if let Some(d) = capability_defect(&expected, &reported) {
            panic!("{entry}: call of {module}#{name}({arg0:?}): {d}");
        }
    }
}

/// Asserts that every import called from function `f` is reachable from it in the graph.
fn assert_reachable(g: &CallGraph, entry: &str, f: u32, called: &[u32]) {
    let node = function_node(g, f)
        .unwrap_or_else(|| panic!("{entry}: function {f} has no call-graph node"));
    let graph_imports = imported_functions(g, &reachable(g, [node]));
    for c in called {
        assert!(
            graph_imports.contains(c),
            "{entry} (func {f}) called import func {c} ({}) that the analysis says it cannot reach \
             (reachable imports: {graph_imports:?})",
            g.nodes
                .iter()
                .find(|n| n.function == Some(*c))
                .map_or("?", |n| n.name.as_str())
        );
    }
}

/// Asserts that an entry point's witnessed imports are graph-reachable from its function.
fn assert_reaches_consistent(a: &Analysis, g: &CallGraph, entry: &str, kind: EntryKind, f: u32) {
    let Some(node) = function_node(g, f) else {
        return;
    };
    let names: BTreeSet<&str> = reachable(g, [node])
        .into_iter()
        .map(|n| g.nodes[n as usize].name.as_str())
        .collect();
    for e in a
        .entry_points
        .iter()
        .filter(|e| e.name == entry && e.kind == kind)
    {
        for r in &e.reaches {
            assert!(
                names.contains(r.import.as_str()),
                "{entry}: witnessed import {} ({}) is not reachable from func {f} in the graph",
                r.import,
                r.capability
            );
        }
    }
}

fn args(u: &mut Unstructured<'_>, params: impl Iterator<Item = ValType>) -> Option<Vec<Val>> {
    params
        .map(|t| {
            Some(match t {
                ValType::I32 => Val::I32(u.arbitrary().unwrap_or(0)),
                ValType::I64 => Val::I64(u.arbitrary().unwrap_or(0)),
                ValType::F32 => Val::F32(u.arbitrary().unwrap_or(0)),
                ValType::F64 => Val::F64(u.arbitrary().unwrap_or(0)),
                ValType::V128 => Val::V128(u.arbitrary::<u128>().unwrap_or(0).into()),
                ValType::Ref(r) => Val::default_for_ty(&ValType::Ref(r))?,
            })
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(config) = wasmgate_fuzz::soundness_config(&mut u) else {
        return;
    };
    let Ok(m) = wasm_smith::Module::new(config, &mut u) else {
        return;
    };
    let wasm = m.to_bytes();
    stat(0, 1);
    print_stats();
    let a = match wasmgate_analyzer::analyze(&wasm) {
        Ok(a) => a,
        Err(e) => panic!("a valid wasm-smith module was rejected: {e}"),
    };
    let core = a.module.as_ref().expect("a core module");
    let g = &core.call_graph;

    let engine = engine();
    let module = match Module::new(engine, &wasm) {
        Ok(m) => m,
        // A proposal combination wasmtime does not run: nothing to execute.
        Err(e) => {
            if std::env::var_os("WASMGATE_FUZZ_STATS").is_some() {
                eprintln!("soundness: wasmtime rejects: {e:?}");
            }
            return;
        }
    };
    stat(1, 1);
    let mut store = Store::new(
        engine,
        Host {
            limits: StoreLimitsBuilder::new()
                .memory_size(16 << 20)
                .table_elements(100_000)
                .instances(1)
                .build(),
            calls: Vec::new(),
            first_args: Vec::new(),
        },
    );
    store.limiter(|h| &mut h.limits);
    let mut imports = Vec::new();
    let import_names: Vec<(String, String)> = module
        .imports()
        .map(|i| (i.module().to_string(), i.name().to_string()))
        .collect();
    for (i, imp) in module.imports().enumerate() {
        let Some(ty) = imp.ty().func().cloned() else {
            return; // only function imports are stubbed
        };
        let index = i as u32; // function imports only: import order is function index order
        let func = Func::new(
            &mut store,
            ty.clone(),
            move |mut caller, params, results| {
                let arg0 = match params.first() {
                    Some(Val::I32(v)) => Some(i64::from(*v)),
                    Some(Val::I64(v)) => Some(*v),
                    _ => None,
                };
                caller.data_mut().calls.push(index);
                caller.data_mut().first_args.push(arg0);
                for (slot, t) in results.iter_mut().zip(ty.results()) {
                    *slot = Val::default_for_ty(&t).expect("host results are nullable");
                }
                Ok(())
            },
        );
        imports.push(Extern::Func(func));
    }
    if store.set_fuel(FUEL).is_err() {
        return;
    }
    let instance = Instance::new(&mut store, &module, &imports);
    let called = std::mem::take(&mut store.data_mut().calls);
    let first_args = std::mem::take(&mut store.data_mut().first_args);
    stat(4, called.len() as u64);
    if let Some(s) = core.start {
        assert_reachable(g, "<start>", s, &called);
        assert_reaches_consistent(&a, g, "<start>", EntryKind::Start, s);
        assert_capabilities(&a, "<start>", EntryKind::Start, &import_names, &called, &first_args);
    } else {
        assert!(
            called.is_empty(),
            "imports called at instantiation without a start function"
        );
    }
    let Ok(instance) = instance else {
        return; // start trapped, ran out of fuel, or a segment was out of bounds
    };
    stat(2, 1);

    for export in &a.exports {
        if export.kind != ExternKind::Func {
            continue;
        }
        let Some(func) = instance.get_func(&mut store, &export.name) else {
            continue;
        };
        let ty = func.ty(&store);
        let Some(params) = args(&mut u, ty.params()) else {
            continue; // a non-nullable reference parameter
        };
        let mut results: Vec<Val> = ty.results().map(|_| Val::I32(0)).collect();
        if store.set_fuel(FUEL).is_err() {
            return;
        }
        // Traps and fuel exhaustion are fine; what was called before them counts.
        let _ = func.call(&mut store, &params, &mut results);
        let called = std::mem::take(&mut store.data_mut().calls);
        let first_args = std::mem::take(&mut store.data_mut().first_args);
        stat(3, 1);
        stat(4, called.len() as u64);
        assert_reachable(g, &export.name, export.index, &called);
        assert_reaches_consistent(&a, g, &export.name, EntryKind::Export, export.index);
        assert_capabilities(
            &a,
            &export.name,
            EntryKind::Export,
            &import_names,
            &called,
            &first_args,
        );
    }
});
