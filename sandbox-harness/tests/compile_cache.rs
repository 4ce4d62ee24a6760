//! The compile cache: a second run is a hit, a corrupt or unsealed entry is never used (it is
//! replaced and the run still succeeds), and a directory every user may write is refused.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use wasmgate_sandbox_harness::compile_cache::{self, CacheError, Stats};
use wasmgate_sandbox_harness::{Grants, Limits, Outcome, run_p1};

/// The cache is process-wide: these tests take turns, each starting and ending with it off.
static TURN: Mutex<()> = Mutex::new(());

struct Turn(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

impl Drop for Turn {
    fn drop(&mut self) {
        compile_cache::disable();
    }
}

fn turn() -> Turn {
    let t = Turn(TURN.lock().unwrap_or_else(|e| e.into_inner()));
    compile_cache::disable();
    t
}

/// Exits with 7 after writing "hi" (so a wrongly loaded entry would show in the output).
fn guest() -> Vec<u8> {
    wat::parse_str(
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write"
                (func $write (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (data (i32.const 16) "hi")
            (func (export "_start")
                (i32.store (i32.const 0) (i32.const 16))
                (i32.store (i32.const 4) (i32.const 2))
                (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
                (call $exit (i32.const 7))))"#,
    )
    .unwrap()
}

fn run_guest() {
    let run = run_p1(&guest(), &Grants::default(), &Limits::default()).unwrap();
    assert_eq!(run.outcome, Outcome::Exit(7));
    assert_eq!(run.stdout, b"hi");
}

/// The cache entries (wasmtime's files named by a hash) under `dir`.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for compiler in fs::read_dir(dir.join("modules")).into_iter().flatten() {
        for e in fs::read_dir(compiler.unwrap().path()).unwrap() {
            let p = e.unwrap().path();
            if !p.file_name().unwrap().to_string_lossy().contains('.') {
                out.push(p);
            }
        }
    }
    out
}

/// The one entry the guest made, checked to be sealed and to decode.
fn sealed_entry(dir: &Path) -> PathBuf {
    let e = entries(dir);
    assert_eq!(e.len(), 1, "{e:?}");
    let bytes = fs::read(&e[0]).unwrap();
    assert!(compile_cache::is_sealed(&bytes));
    assert!(zstd::decode_all(&bytes[..]).is_ok());
    e[0].clone()
}

#[test]
fn second_run_is_a_hit() {
    let _t = turn();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("compiled");
    compile_cache::enable(&dir).unwrap();
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    run_guest();
    let first = compile_cache::stats();
    assert_eq!((first.hits, first.misses, first.sealed), (0, 1, 1));
    let entry = sealed_entry(&dir);
    let inode = fs::metadata(&entry).unwrap().ino();

    run_guest();
    let second = compile_cache::stats();
    assert_eq!((second.hits, second.misses, second.sealed), (1, 1, 1));
    // Used as it was: not rewritten.
    assert_eq!(fs::metadata(&entry).unwrap().ino(), inode);
    compile_cache::disable();

    // Disabled: compiled again, the directory untouched.
    run_guest();
    assert_eq!(compile_cache::stats(), Stats::default());
    assert_eq!(fs::metadata(&entry).unwrap().ino(), inode);
}

#[test]
fn corrupt_entry_is_replaced_and_the_run_succeeds() {
    let _t = turn();
    let tmp = tempfile::tempdir().unwrap();
    compile_cache::enable(tmp.path()).unwrap();
    run_guest();
    let entry = sealed_entry(tmp.path());
    let mut bytes = fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x04;
    fs::write(&entry, &bytes).unwrap();

    run_guest();
    let s = compile_cache::stats();
    assert_eq!((s.hits, s.misses, s.sealed), (0, 2, 2), "{s:?}");
    let entry = sealed_entry(tmp.path());
    assert_ne!(fs::read(&entry).unwrap(), bytes);
}

#[test]
fn unsealed_entry_is_deleted_before_use() {
    let _t = turn();
    let tmp = tempfile::tempdir().unwrap();
    compile_cache::enable(tmp.path()).unwrap();
    run_guest();
    let entry = sealed_entry(tmp.path());
    // What wasmtime itself writes: the same code in a frame without a checksum.
    let code = zstd::decode_all(&fs::read(&entry).unwrap()[..]).unwrap();
    fs::write(&entry, zstd::encode_all(&code[..], 3).unwrap()).unwrap();

    run_guest();
    let s = compile_cache::stats();
    assert_eq!(
        (s.hits, s.misses, s.discarded, s.sealed),
        (0, 2, 1, 2),
        "{s:?}"
    );
    sealed_entry(tmp.path());
}

#[test]
fn world_writable_directory_is_refused() {
    let _t = turn();
    let tmp = tempfile::tempdir().unwrap();
    let fine = tmp.path().join("fine");
    compile_cache::enable(&fine).unwrap();
    let open = tmp.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let err = compile_cache::enable(&open).unwrap_err();
    assert!(
        matches!(err, CacheError::WorldWritable { mode: 0o777, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("writable by every user"), "{err}");
    // Refused: the cache that was on is off too.
    assert_eq!(compile_cache::directory(), None);
    assert!(fs::read_dir(&open).unwrap().next().is_none());
    // Group-writable is the owner's choice: accepted.
    fs::set_permissions(&open, fs::Permissions::from_mode(0o770)).unwrap();
    compile_cache::enable(&open).unwrap();
    assert_eq!(
        compile_cache::directory(),
        Some(fs::canonicalize(&open).unwrap())
    );
}
