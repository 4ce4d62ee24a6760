//! The compile cache from the command line: `run`, `diff` and `audit --scenario` compile a
//! guest once into `--compile-cache-dir` (default `$XDG_CACHE_HOME/wasmgate/compiled`),
//! reuse the sealed entry, replace a corrupt one, refuse a world-writable directory, and
//! `--no-compile-cache` writes nothing.
#![cfg(feature = "sandbox")]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::Value;
use wasmgate_sandbox_harness::compile_cache::is_sealed;

use crate::sandbox::{run, run_with_env};

/// Writes "hi" and exits 0.
const HI: &str = r#"(module
    (import "wasi_snapshot_preview1" "fd_write"
        (func $write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 16) "hi")
    (func (export "_start")
        (i32.store (i32.const 0) (i32.const 16))
        (i32.store (i32.const 4) (i32.const 2))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;

fn hi(dir: &Path) -> String {
    let p = dir.join("hi.wasm");
    std::fs::write(&p, wat::parse_str(HI).unwrap()).unwrap();
    p.to_str().unwrap().to_owned()
}

/// The cache entries (wasmtime's files named by a hash, no dot) under `dir`.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for compiler in std::fs::read_dir(dir.join("modules")).into_iter().flatten() {
        for e in std::fs::read_dir(compiler.unwrap().path()).unwrap() {
            let p = e.unwrap().path();
            if !p.file_name().unwrap().to_string_lossy().contains('.') {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The `n` entries under `dir`, each checked to be sealed.
fn sealed(dir: &Path, n: usize) -> Vec<PathBuf> {
    let e = entries(dir);
    assert_eq!(e.len(), n, "{e:?}");
    for p in &e {
        assert!(is_sealed(&std::fs::read(p).unwrap()), "{}", p.display());
    }
    e
}

/// `wasmgate run WASM --format json ARGS` that must exit 0 and print "hi".
fn run_hi(wasm: &str, args: &[&str]) {
    let (code, out, err) = run(&[&["run", wasm, "--format", "json"], args].concat());
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["outcome"], "exit(0)");
    assert_eq!(v["stdout"], "hi");
}

#[test]
fn run_reuses_a_sealed_entry_and_replaces_a_corrupt_one() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = hi(tmp.path());
    let cache = tmp.path().join("compiled");
    let flag = ["--compile-cache-dir", cache.to_str().unwrap()];
    run_hi(&wasm, &flag);
    let entry = sealed(&cache, 1).remove(0);
    let inode = std::fs::metadata(&entry).unwrap().ino();
    // A hit reads the entry and leaves it alone (a miss would write a new file over it).
    run_hi(&wasm, &flag);
    assert_eq!(std::fs::metadata(&entry).unwrap().ino(), inode);

    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x04;
    std::fs::write(&entry, &bytes).unwrap();
    run_hi(&wasm, &flag);
    let now = sealed(&cache, 1).remove(0);
    assert_eq!(now, entry);
    assert_ne!(
        std::fs::read(&now).unwrap(),
        bytes,
        "the corrupt entry was kept"
    );
}

#[test]
fn world_writable_cache_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = hi(tmp.path());
    let cache = tmp.path().join("open");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, out, err) = run(&["run", &wasm, "--compile-cache-dir", cache.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("writable by every user"), "{err}");
    assert!(err.contains("--no-compile-cache"), "{err}");
    assert!(entries(&cache).is_empty());
    // The flags exclude each other.
    let (code, _, err) = run(&[
        "run",
        &wasm,
        "--no-compile-cache",
        "--compile-cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn default_directory_and_no_compile_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = hi(tmp.path());
    let home = tmp.path().join("xdg");
    let env = [("XDG_CACHE_HOME", home.to_str().unwrap())];
    let (code, _, err) = run_with_env(&["run", &wasm, "--no-compile-cache"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(!home.join("wasmgate/compiled").exists());
    let (code, _, err) = run_with_env(&["run", &wasm], &env);
    assert_eq!(code, 0, "{err}");
    sealed(&home.join("wasmgate/compiled"), 1);
}

#[test]
fn diff_audit_and_components_compile_through_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let wasm = hi(d);
    let policy = d.join("p.toml");
    std::fs::write(&policy, "[sandbox]\n").unwrap();
    let policy = policy.to_str().unwrap();

    let cache = d.join("diff");
    let (code, out, err) = run(&[
        "diff",
        &wasm,
        "-p",
        policy,
        "--compile-cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // Both runs (minimal and permissive) compile the same module the same way: one entry.
    sealed(&cache, 1);

    let scenario = d.join("hi.scenario.toml");
    std::fs::write(
        &scenario,
        "[[run]]\nname = \"a\"\n\n[[run]]\nname = \"b\"\n",
    )
    .unwrap();
    let cache = d.join("audit");
    let (code, out, err) = run(&[
        "audit",
        &wasm,
        "-p",
        policy,
        "--now",
        "2026-01-01",
        "--format",
        "json",
        "--scenario",
        scenario.to_str().unwrap(),
        "--compile-cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["binaries"][0]["dynamic"]["status"], "ran", "{out}");
    sealed(&cache, 1);

    let cache = d.join("component");
    let component = crate::common::root().join("corpus/c/compute.component.wasm");
    let (_, out, err) = run(&[
        "run",
        component.to_str().unwrap(),
        "--format",
        "json",
        "--compile-cache-dir",
        cache.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert!(v["outcome"].as_str().unwrap().starts_with("exit("), "{out}");
    sealed(&cache, 1);
}
