//! Shared pieces of wasmgate's fuzz targets: wasm-smith configurations and the checks the
//! targets assert (witness paths are real call-graph paths; graph reachability).
//!
//! The same checks run on stable in `tests/all/fuzz_regressions.rs` over the committed
//! crash inputs under `fuzz/regressions/<target>/`.

use std::collections::{BTreeSet, VecDeque};

use arbitrary::{Result, Unstructured};
use wasm_encoder::{
    EntityType, FunctionSection, ImportSection, Module, RefType, TypeSection, ValType,
};
use wasmgate_analyzer::{Analysis, CallGraph, ELIDED, NodeKind};

/// A wasm-smith module for the analyzer: either a fully arbitrary configuration (every
/// import kind, every proposal wasm-smith knows; the analyzer validates with all of them on)
/// or function imports with host names the capability table knows, so witness paths are common.
pub fn analyzer_module(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let config = if u.arbitrary::<u8>()? < 64 {
        u.arbitrary::<wasm_smith::Config>()?
    } else {
        let mut c = function_import_config(u)?;
        c.gc_enabled = u.arbitrary()?;
        c.exceptions_enabled = u.arbitrary()?;
        c.tail_call_enabled = u.arbitrary()?;
        c.threads_enabled = u.arbitrary()?;
        c.memory64_enabled = u.arbitrary()?;
        c.custom_page_sizes_enabled = u.arbitrary()?;
        c.wide_arithmetic_enabled = u.arbitrary()?;
        c.generate_custom_sections = u.arbitrary()?;
        c
    };
    Ok(wasm_smith::Module::new(config, u)?.to_bytes())
}

/// Host functions the modules may import: names the capability table classifies, names the
/// analyzer treats as calling back in (`invoke_*`, `thread-spawn`), `fd_renumber` (which
/// disables fd narrowing) and unknown ones.
const HOST_NAMES: &[(&str, &str)] = &[
    ("wasi_snapshot_preview1", "fd_write"),
    ("wasi_snapshot_preview1", "fd_read"),
    ("wasi_snapshot_preview1", "random_get"),
    ("wasi_snapshot_preview1", "proc_exit"),
    ("wasi_snapshot_preview1", "clock_time_get"),
    ("wasi_snapshot_preview1", "path_open"),
    ("wasi_snapshot_preview1", "fd_renumber"),
    ("wasi_snapshot_preview1", "sock_send"),
    ("wasi_snapshot_preview1", "environ_get"),
    ("env", "invoke_vi"),
    ("env", "invoke_ii"),
    ("wasi", "thread-spawn"),
    ("env", "host"),
    ("env", "log"),
    ("", ""),
];

/// Value types for host function signatures. References are nullable so that a stub can
/// always return its zero value.
fn host_val_type(u: &mut Unstructured<'_>) -> Result<ValType> {
    Ok(*u.choose(&[
        ValType::I32,
        ValType::I32,
        ValType::I64,
        ValType::F32,
        ValType::F64,
        ValType::Ref(RefType::FUNCREF),
        ValType::Ref(RefType::EXTERNREF),
    ])?)
}

/// A module of 1 to 10 function imports with arbitrary names (from [`HOST_NAMES`]) and
/// signatures, for `Config::available_imports`.
pub fn host_imports(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let n = u.int_in_range(1..=10)?;
    let mut types = TypeSection::new();
    let mut imports = ImportSection::new();
    for i in 0..n {
        let params: Vec<ValType> = (0..u.int_in_range(0..=4)?)
            .map(|_| host_val_type(u))
            .collect::<Result<_>>()?;
        let results: Vec<ValType> = (0..u.int_in_range(0..=2)?)
            .map(|_| host_val_type(u))
            .collect::<Result<_>>()?;
        types.ty().function(params, results);
        let (module, name) = *u.choose(HOST_NAMES)?;
        // Mostly the plain name; sometimes the same name twice, sometimes a fresh one.
        let name = match u.int_in_range(0..=3)? {
            0 => format!("{name}{i}"),
            _ => name.to_string(),
        };
        imports.import(module, &name, EntityType::Function(i));
    }
    let mut m = Module::new();
    m.section(&types);
    m.section(&imports);
    // An empty function section keeps the module well-formed for any reader.
    m.section(&FunctionSection::new());
    Ok(m.finish())
}

/// Function imports only (no memories, tables, globals or tags are imported), small sizes.
pub fn function_import_config(u: &mut Unstructured<'_>) -> Result<wasm_smith::Config> {
    Ok(wasm_smith::Config {
        min_funcs: 1,
        max_funcs: 30,
        min_imports: 1,
        max_imports: 10,
        min_exports: 1,
        max_exports: 10,
        max_instructions: 300,
        max_memory32_bytes: 1 << 20,
        max_memory64_bytes: 1 << 20,
        max_table_elements: 1000,
        max_type_size: 200,
        available_imports: Some(host_imports(u)?),
        ..Default::default()
    })
}

/// The soundness target's configuration: function imports only, proposals wasmtime runs.
pub fn soundness_config(u: &mut Unstructured<'_>) -> Result<wasm_smith::Config> {
    let mut c = function_import_config(u)?;
    c.threads_enabled = false;
    c.shared_everything_threads_enabled = false;
    c.custom_page_sizes_enabled = false;
    // wasmtime 48 does not parse the compact import encoding.
    c.compact_imports_enabled = false;
    c.relaxed_simd_enabled = u.arbitrary()?;
    c.simd_enabled = c.relaxed_simd_enabled || u.arbitrary()?;
    c.gc_enabled = u.arbitrary()?;
    c.exceptions_enabled = u.arbitrary()?;
    c.tail_call_enabled = u.arbitrary()?;
    c.max_memories = 2;
    c.max_tables = 3;
    c.max_globals = 20;
    // Calls into the module that can only trap are of little use here.
    c.disallow_traps = u.ratio(1, 4)?;
    Ok(c)
}

/// Problems with the witness paths of `a`, as messages: each path ends at its import, and
/// each hop not involving the elision marker is an edge. Several nodes may share a name (one
/// import declared twice), so names map to sets of node ids.
pub fn witness_defects(a: &Analysis) -> Vec<String> {
    let mut graphs: Vec<&CallGraph> = Vec::new();
    if let Some(m) = &a.module {
        graphs.push(&m.call_graph);
    }
    if let Some(c) = &a.component {
        graphs.push(&c.call_graph);
    }
    let mut defects = Vec::new();
    for g in graphs {
        let check = g.witnesses();
        let names: BTreeSet<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        for e in &a.entry_points {
            for r in &e.reaches {
                if r.path.first().is_some_and(|n| &**n == ELIDED) {
                    defects.push(format!("{}: path {:?} starts elided", e.name, r.path));
                }
                if r.path
                    .iter()
                    .any(|n| &**n != ELIDED && !names.contains(&**n))
                {
                    defects.push(format!(
                        "{}: path {:?} names a node not in the graph",
                        e.name, r.path
                    ));
                }
                if let Some(d) = check.defect(r) {
                    defects.push(format!("{}: {d}", e.name));
                }
            }
        }
    }
    defects
}

/// Nodes of `g` reachable from `roots` (including them) over every edge.
pub fn reachable(g: &CallGraph, roots: impl IntoIterator<Item = u32>) -> BTreeSet<u32> {
    let mut succ: Vec<Vec<u32>> = vec![Vec::new(); g.nodes.len()];
    for &(a, b) in &g.edges {
        succ[a as usize].push(b);
    }
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<u32> = VecDeque::new();
    for r in roots {
        if seen.insert(r) {
            queue.push_back(r);
        }
    }
    while let Some(n) = queue.pop_front() {
        for &m in &succ[n as usize] {
            if seen.insert(m) {
                queue.push_back(m);
            }
        }
    }
    seen
}

/// Function indices of the import nodes among `nodes`.
pub fn imported_functions(g: &CallGraph, nodes: &BTreeSet<u32>) -> BTreeSet<u32> {
    nodes
        .iter()
        .map(|&n| &g.nodes[n as usize])
        .filter(|n| n.kind == NodeKind::Import)
        .filter_map(|n| n.function)
        .collect()
}

/// Node id of function index `f` (a defined function's node, or an import's).
pub fn function_node(g: &CallGraph, f: u32) -> Option<u32> {
    g.nodes
        .iter()
        .find(|n| n.function == Some(f) && matches!(n.kind, NodeKind::Function | NodeKind::Import))
        .map(|n| n.id)
}

/// The policy the analyze_smith target checks every analysis against.
pub const SMITH_POLICY: &str = r#"
[capabilities]
allow = ["stdio", "random"]
deny = ["net.*"]

[imports]
deny = ["env#invoke_*"]

[exports]
required = ["main"]

[limits]
max_memory_pages = 16
"#;

/// What a host call with concrete arguments tells about the capabilities its entry point must
/// be reported to reach: every one of `all_of`, and at least one of `any_of` when not empty.
/// Written from the capability table and WASI semantics, independently of the analyzer's own
/// narrowing, so the soundness target checks capability sets and not only reachability.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expected {
    pub all_of: BTreeSet<String>,
    pub any_of: BTreeSet<String>,
}

/// The capabilities a call of `module#name` with first argument `arg0` (when it is an
/// integer) exercises, as far as the arguments settle it.
pub fn expected_capabilities(module: &str, name: &str, arg0: Option<i64>) -> Expected {
    use wasmgate_analyzer::{CapabilityTable, Narrow};
    let table = CapabilityTable::builtin().expect("the built-in capability table loads");
    let class = table.classify(module, name);
    let caps: BTreeSet<String> = class.capabilities.iter().cloned().collect();
    let one = |c: &str| -> Expected {
        if caps.contains(c) {
            Expected {
                all_of: BTreeSet::from([c.to_string()]),
                any_of: BTreeSet::new(),
            }
        } else {
            Expected {
                all_of: BTreeSet::new(),
                any_of: caps.clone(),
            }
        }
    };
    match (class.narrow, arg0) {
        // A descriptor 0-2 is standard I/O (whatever a module did to it, stdio stays among
        // what it can reach); another descriptor uses one of the other capabilities.
        (Some(Narrow::P1FdArg0), Some(fd)) if (0..=2).contains(&fd) => one("stdio"),
        (Some(Narrow::P1ClockId), Some(0)) => one("clock.wall"),
        (Some(Narrow::P1ClockId), Some(1..=3)) => one("clock.monotonic"),
        // Narrowed by arguments this oracle does not decode (path_open's flags), or an
        // argument that settles nothing: one of the import's capabilities at least.
        (Some(_), _) => Expected {
            all_of: BTreeSet::new(),
            any_of: caps,
        },
        (None, _) => Expected {
            all_of: caps,
            any_of: BTreeSet::new(),
        },
    }
}

/// What `reported` (an entry point's capability set) lacks of `expected`, as a message.
pub fn capability_defect(expected: &Expected, reported: &BTreeSet<&str>) -> Option<String> {
    let missing: Vec<&String> = expected
        .all_of
        .iter()
        .filter(|c| !reported.contains(c.as_str()))
        .collect();
    if !missing.is_empty() {
        return Some(format!("missing {missing:?} (reported {reported:?})"));
    }
    if !expected.any_of.is_empty()
        && !expected
            .any_of
            .iter()
            .any(|c| reported.contains(c.as_str()))
    {
        return Some(format!(
            "none of {:?} reported (reported {reported:?})",
            expected.any_of
        ));
    }
    None
}
