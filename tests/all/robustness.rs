//! Corrupted inputs: every corpus binary, truncated and bit-flipped by a fixed, seeded set of
//! mutations, must analyse or fail with an error carrying an offset inside the input; never a
//! panic, never a hang. The hang guard is generous (a detector, not a performance assertion).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::common::{files_with_ext, root};

/// Mutations per binary of at most [`SMALL`] bytes: [`TRUNCATIONS`] truncations, the rest
/// bit flips.
const MUTATIONS: usize = 24;
const TRUNCATIONS: usize = 6;
/// Larger binaries only get [`BIG_TRUNCATIONS`] truncations, keeping the run short.
const SMALL: usize = 4 << 20;
const BIG_TRUNCATIONS: usize = 3;
/// An analysis taking longer than this is reported as a hang.
const HANG: Duration = Duration::from_secs(60);
const SEED: u64 = 0x5eed_0f3a_7e9a_7e00;

/// SplitMix64: a tiny deterministic PRNG, so a failure reproduces from its printed mutation.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// FNV-1a, to derive a per-binary seed from its name independent of the iteration order.
fn name_seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    /// (byte offset, bit) pairs to flip.
    Flip(Vec<(usize, u8)>),
}

impl Mutation {
    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Mutation::Truncate(len) => bytes[..*len].to_vec(),
            Mutation::Flip(bits) => {
                let mut out = bytes.to_vec();
                for &(at, bit) in bits {
                    out[at] ^= 1 << bit;
                }
                out
            }
        }
    }
}

fn mutations(name: &str, len: usize) -> Vec<Mutation> {
    let mut rng = Rng::new(SEED ^ name_seed(name));
    let (truncations, total) = if len <= SMALL {
        (TRUNCATIONS, MUTATIONS)
    } else {
        (BIG_TRUNCATIONS, BIG_TRUNCATIONS)
    };
    (0..total)
        .map(|i| {
            if i == 0 {
                // Just the header (and whatever fits in 8 bytes).
                Mutation::Truncate(len.min(8))
            } else if i < truncations {
                Mutation::Truncate(rng.below(len))
            } else {
                // Half the flips land in the first 4 KiB, where section headers, types and
                // imports live; the rest anywhere.
                let window = if rng.below(2) == 0 {
                    len.min(4096)
                } else {
                    len
                };
                let n = if rng.below(2) == 0 {
                    1
                } else {
                    2 + rng.below(7)
                };
                Mutation::Flip(
                    (0..n)
                        .map(|_| (rng.below(window), rng.below(8) as u8))
                        .collect(),
                )
            }
        })
        .collect()
}

/// Analyses `bytes` in its own thread: `Ok(None)` on success, `Ok(Some(offset))` on a clean
/// error, `Err(why)` on a panic, an error without a sane offset, or a hang.
pub fn analyse_guarded(bytes: Vec<u8>) -> Result<Option<u64>, String> {
    let len = bytes.len() as u64;
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("analyse-guarded".into())
        .spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(|| {
                wasmgate_analyzer::analyze(&bytes).map(drop)
            }));
            let _ = tx.send(r.map_err(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            }));
        })
        .unwrap();
    match rx.recv_timeout(HANG) {
        Err(_) => Err(format!("hang: no result after {HANG:?}")),
        Ok(Err(panic)) => Err(format!("panic: {panic}")),
        Ok(Ok(Ok(()))) => Ok(None),
        Ok(Ok(Err(e))) => match e.offset() {
            Some(offset) if offset <= len => Ok(Some(offset)),
            Some(offset) => Err(format!("error offset {offset} past the end ({len}): {e}")),
            None => Err(format!("error without an offset: {e}")),
        },
    }
}

#[derive(Deserialize)]
struct Manifest {
    binary: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    id: String,
}

fn corpus_dir() -> PathBuf {
    match std::env::var_os("WASMGATE_CORPUS_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/wasmgate/corpus")
        }
    }
}

/// (name, path) of every corpus binary: the third-party cache and the committed C programs.
fn corpus() -> Vec<(String, PathBuf)> {
    let text = std::fs::read_to_string(root().join("corpus/third-party/manifest.toml")).unwrap();
    let manifest: Manifest = toml::from_str(&text).unwrap();
    let dir = corpus_dir();
    let mut all = Vec::new();
    for e in manifest.binary {
        let path = dir.join(format!("{}.wasm", e.id));
        assert!(
            path.exists(),
            "{} is missing; run corpus/third-party/fetch.sh (or set WASMGATE_CORPUS_DIR)",
            path.display()
        );
        all.push((e.id, path));
    }
    for p in files_with_ext(&root().join("corpus/c"), "wasm") {
        let name = format!("c/{}", p.file_name().unwrap().to_string_lossy());
        all.push((name, p));
    }
    all
}

#[test]
fn corrupted_corpus_binaries_never_panic_or_hang() {
    let start = Instant::now();
    let (mut ok, mut rejected, mut bytes_analysed) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for (name, path) in corpus() {
        let original = std::fs::read(&path).unwrap();
        for (i, m) in mutations(&name, original.len()).into_iter().enumerate() {
            let input = m.apply(&original);
            bytes_analysed += input.len();
            match analyse_guarded(input) {
                Ok(None) => ok += 1,
                Ok(Some(_)) => rejected += 1,
                Err(why) => failures.push(format!("{name} mutation #{i} {m:?}: {why}")),
            }
        }
    }
    eprintln!(
        "corrupted inputs: {ok} analysed, {rejected} rejected cleanly, {} failures; \
         {} MB analysed in {:.1?}",
        failures.len(),
        bytes_analysed >> 20,
        start.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Hostile shapes: generated modules at the edges of size and depth. Each must analyse (or fail
// with a documented `Limit` error) within the hang guard, with no stack overflow. Set
// WASMGATE_DUMP_HOSTILE=DIR to write the generated binaries out, e.g. to measure peak memory
// with `/usr/bin/time -v wasmgate inspect DIR/<name>.wasm`.

pub(crate) mod hostile {
    use std::time::Instant;

    use wasm_encoder::{
        CodeSection, EntityType, ExportKind, ExportSection, FunctionSection, ImportSection, Module,
        TypeSection, ValType,
    };
    use wasmgate_analyzer::Analysis;

    const IMPORT_MODULE: &str = "wasi_snapshot_preview1";
    const IMPORT_NAME: &str = "random_get";

    /// A module: type 0 is `() -> ()`, type 1 `(i32 i32) -> i32` imported as `random_get`
    /// (func 0); `bodies[k]` is the raw body (locals + code) of defined function `k + 1`.
    pub fn module(bodies: &[Vec<u8>], exports: &[(String, u32)], extra_types: u32) -> Vec<u8> {
        let mut types = TypeSection::new();
        types.ty().function([], []);
        types
            .ty()
            .function([ValType::I32, ValType::I32], [ValType::I32]);
        for _ in 0..extra_types {
            types.ty().function([], []);
        }
        let mut imports = ImportSection::new();
        imports.import(IMPORT_MODULE, IMPORT_NAME, EntityType::Function(1));
        let mut funcs = FunctionSection::new();
        let mut code = CodeSection::new();
        for body in bodies {
            funcs.function(0);
            code.raw(body);
        }
        let mut exp = ExportSection::new();
        for (name, index) in exports {
            exp.export(name, ExportKind::Func, *index);
        }
        let mut m = Module::new();
        m.section(&types)
            .section(&imports)
            .section(&funcs)
            .section(&exp)
            .section(&code);
        m.finish()
    }

    /// Body bytes: no locals, then `code`, then `end`.
    pub fn body(code: &[u8]) -> Vec<u8> {
        let mut b = vec![0x00];
        b.extend_from_slice(code);
        b.push(0x0b);
        b
    }

    pub fn leb(mut v: u32, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    /// `call f`.
    pub fn call(f: u32) -> Vec<u8> {
        let mut c = vec![0x10];
        leb(f, &mut c);
        c
    }

    /// `n` function bodies: function k calls function k+1, the last calls the import.
    pub fn call_chain(n: u32) -> Vec<Vec<u8>> {
        (1..=n)
            .map(|k| body(&if k < n { call(k + 1) } else { call_import() }))
            .collect()
    }

    /// `(drop (call $random_get (i32.const 0) (i32.const 4)))`.
    pub fn call_import() -> Vec<u8> {
        vec![0x41, 0x00, 0x41, 0x04, 0x10, 0x00, 0x1a]
    }

    /// Analyses in a guarded thread; prints the time (and the binary size).
    pub fn analyse(name: &str, wasm: Vec<u8>) -> Analysis {
        if let Some(dir) = std::env::var_os("WASMGATE_DUMP_HOSTILE") {
            std::fs::write(
                std::path::Path::new(&dir).join(format!("{name}.wasm")),
                &wasm,
            )
            .unwrap();
        }
        let size = wasm.len();
        let start = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(wasmgate_analyzer::analyze(&wasm));
        });
        let analysis = match rx.recv_timeout(super::HANG) {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => panic!("{name}: {e}"),
            Err(_) => panic!("{name}: hang or panic (no result within {:?})", super::HANG),
        };
        eprintln!(
            "hostile shape {name}: {} KiB analysed in {:.2?}",
            size >> 10,
            start.elapsed()
        );
        analysis
    }

    pub fn reach_len(a: &Analysis, entry: &str) -> Option<usize> {
        a.entry_points
            .iter()
            .find(|e| e.name == entry)?
            .reaches
            .iter()
            .find(|r| r.import == format!("{IMPORT_MODULE}#{IMPORT_NAME}"))
            // The full length: shown nodes, minus the elision marker, plus the elided ones.
            .map(|r| r.path.len() + r.elided as usize - usize::from(r.elided > 0))
    }
}

#[test]
fn hostile_a_million_tiny_functions() {
    // wasmparser caps a module at 1,000,000 functions, imports included.
    const N: u32 = 1_000_000 - 1;
    let mut bodies = vec![hostile::body(&[]); N as usize];
    bodies[0] = hostile::body(&hostile::call_import());
    let wasm = hostile::module(&bodies, &[("f".into(), 1)], 0);
    let a = hostile::analyse("million-functions", wasm);
    assert_eq!(a.module.unwrap().functions.len(), N as usize + 1);
}

#[test]
fn hostile_deeply_nested_blocks() {
    const DEPTH: usize = 100_000;
    let mut code = Vec::with_capacity(DEPTH * 3 + 8);
    for _ in 0..DEPTH {
        code.extend_from_slice(&[0x02, 0x40]); // block (empty)
    }
    code.extend_from_slice(&hostile::call_import());
    code.extend(std::iter::repeat_n(0x0b, DEPTH)); // end
    let wasm = hostile::module(&[hostile::body(&code)], &[("f".into(), 1)], 0);
    let a = hostile::analyse("nested-blocks", wasm);
    assert_eq!(hostile::reach_len(&a, "f"), Some(2));
}

#[test]
fn hostile_huge_type_section() {
    // wasmparser's cap is 1,000,000 types in a module; two are used by the helper.
    let extra = 1_000_000 - 2;
    let wasm = hostile::module(
        &[hostile::body(&hostile::call_import())],
        &[("f".into(), 1)],
        extra,
    );
    let a = hostile::analyse("huge-type-section", wasm);
    assert_eq!(hostile::reach_len(&a, "f"), Some(2));
}

#[test]
fn hostile_long_call_chain() {
    // func k calls func k+1; the last calls the import. The witness path is the whole chain.
    const N: u32 = 100_000;
    let bodies = hostile::call_chain(N);
    let wasm = hostile::module(&bodies, &[("head".into(), 1)], 0);
    let a = hostile::analyse("call-chain", wasm);
    assert_eq!(hostile::reach_len(&a, "head"), Some(N as usize + 1));
    let r = &a
        .entry_points
        .iter()
        .find(|e| e.name == "head")
        .unwrap()
        .reaches[0];
    assert!(
        r.path.len() <= 64 && r.elided > 0,
        "long witnesses are elided: {}",
        r.path.len()
    );
}

/// Regression guard for witness-path output size: a chain of `n` exported functions, each calling
/// the next, the last calling an import. Every entry point carries the full chain below it as
/// its witness, so the output holds n²/2 path entries: a 1 MB module with 100,000 such
/// functions asks for ~5·10⁹ strings and exhausts memory. The analysis must stay proportional
/// to the input (shared or capped witness paths) or stop with a documented `Limit` error.
#[test]
fn exported_call_chain_witness_paths_stay_linear() {
    const N: u32 = 4_000;
    let bodies = hostile::call_chain(N);
    let exports: Vec<(String, u32)> = (1..=N).map(|k| (format!("e{k}"), k)).collect();
    let wasm = hostile::module(&bodies, &exports, 0);
    match wasmgate_analyzer::analyze(&wasm) {
        Err(wasmgate_analyzer::Error::Limit { .. }) => {}
        Err(e) => panic!("unexpected error: {e}"),
        Ok(a) => {
            let entries: usize = a
                .entry_points
                .iter()
                .flat_map(|e| &e.reaches)
                .map(|r| r.path.len())
                .sum();
            assert!(
                entries <= 64 * N as usize,
                "{entries} witness-path entries for {N} functions: quadratic output"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Property tests: seeded wasm-smith modules. No panic, and every witness path is a real path in
// the call graph: it ends at its import, and each hop is an edge (several nodes may share a
// name, e.g. one import declared twice, so names map to sets of node ids).

/// wasm-smith cases per run (each from its own seed, so a failure names its seed).
const PROPERTY_CASES: u64 = 3000;

pub(crate) fn smith_module(seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut data = vec![0u8; 1024 + rng.below(16 << 10)];
    for b in data.iter_mut() {
        *b = rng.next_u64() as u8;
    }
    let mut u = arbitrary::Unstructured::new(&data);
    let mut config = wasm_smith::Config {
        min_funcs: 2,
        max_funcs: 40,
        min_imports: 1,
        max_imports: 12,
        min_exports: 1,
        max_exports: 12,
        max_instructions: 400,
        // Function imports only, with host names the capability table knows and one it does
        // not, so that witness paths are common.
        available_imports: Some(
            wat::parse_str(
                r#"(module
                (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))
                (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
                (import "env" "host" (func)))"#,
            )
            .unwrap(),
        ),
        ..Default::default()
    };
    // A quarter of the cases draw arbitrary imports (tables, memories, globals, tags) instead.
    if rng.below(4) == 0 {
        config.available_imports = None;
    }
    // Vary the proposals too; the analyzer validates with all of them on.
    config.gc_enabled = rng.below(2) == 0;
    config.exceptions_enabled = rng.below(2) == 0;
    config.tail_call_enabled = rng.below(2) == 0;
    wasm_smith::Module::new(config, &mut u)
        .map(|m| m.to_bytes())
        .unwrap_or_else(|e| panic!("wasm-smith seed {seed}: {e}"))
}

/// Problems with the witness paths of `a`, as messages.
fn witness_defects(a: &wasmgate_analyzer::Analysis) -> Vec<String> {
    let Some(m) = &a.module else {
        return Vec::new();
    };
    let check = m.call_graph.witnesses();
    a.entry_points
        .iter()
        .flat_map(|e| {
            e.reaches
                .iter()
                .filter_map(|r| check.defect(r))
                .map(move |d| format!("{}: {d}", e.name))
        })
        .collect()
}

#[test]
fn wasm_smith_modules_analyse_with_real_witness_paths() {
    let start = Instant::now();
    let (mut reaches, mut rejected) = (0usize, 0usize);
    let mut failures = Vec::new();
    for case in 0..PROPERTY_CASES {
        let seed = SEED ^ case.wrapping_mul(0x9e37_79b9);
        let wasm = smith_module(seed);
        match catch_unwind(AssertUnwindSafe(|| wasmgate_analyzer::analyze(&wasm))) {
            Err(_) => failures.push(format!("seed {seed:#x}: analyzer panicked")),
            // wasm-smith output is valid by construction; the analyzer must accept it.
            Ok(Err(e)) => {
                rejected += 1;
                failures.push(format!("seed {seed:#x}: rejected a valid module: {e}"));
            }
            Ok(Ok(a)) => {
                reaches += a
                    .entry_points
                    .iter()
                    .map(|e| e.reaches.len())
                    .sum::<usize>();
                for d in witness_defects(&a) {
                    failures.push(format!("seed {seed:#x}: {d}"));
                }
            }
        }
    }
    eprintln!(
        "property: {PROPERTY_CASES} wasm-smith modules, {reaches} witness paths checked, \
         {rejected} rejected, {} failures; {:.1?}",
        failures.len(),
        start.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
