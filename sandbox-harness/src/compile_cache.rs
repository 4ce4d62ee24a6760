//! Compiled code cached on disk, so a guest is compiled once, not on every run.
//!
//! The cache is wasmtime's own (the `cache` feature): `Module::deserialize` is `unsafe`,
//! which the workspace denies. wasmtime does not check the machine code it loads from the
//! cache, so one flipped bit in a cache file can crash the process. Every entry is therefore
//! *sealed*: after wasmtime writes it, it is recompressed into a zstd frame carrying a content
//! checksum, which zstd's decoder (the one wasmtime reads entries with) verifies before the
//! bytes are used; a corrupt sealed entry fails to decode, which wasmtime treats as a miss:
//! it compiles again and replaces the entry. Entries without a checksum are deleted before
//! each compilation. Sealing guards against corruption, not against someone who may write
//! the directory, so a world-writable directory is refused.
//!
//! The cache is process-wide: [`enable`] it once (the CLI does, unless `--no-compile-cache`);
//! every run then compiles through it. It is off until enabled.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use wasmtime::{Cache, CacheConfig};

/// Why the cache could not be enabled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Anyone may write the directory: a planted entry would run as native code.
    #[error(
        "compile cache directory {} is writable by every user (mode {mode:o}): refusing to load machine code from it",
        dir.display()
    )]
    WorldWritable { dir: PathBuf, mode: u32 },
    /// The directory could not be created or inspected.
    #[error("compile cache directory {}: {source}", dir.display())]
    Io {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    /// wasmtime rejected the cache configuration.
    #[error("compile cache directory {}: {message}", dir.display())]
    Config { dir: PathBuf, message: String },
}

/// What the cache did since it was enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Compilations served from the cache.
    pub hits: u64,
    /// Compilations done because no valid entry was found.
    pub misses: u64,
    /// Entries wasmtime wrote that were sealed with a checksum.
    pub sealed: u64,
    /// Entries deleted unused: without a checksum, or not a zstd frame.
    pub discarded: u64,
}

struct Active {
    /// The canonical cache directory.
    dir: PathBuf,
    cache: Cache,
    /// wasmtime's hit counter when this state was made (it counts from its `Cache`'s start).
    stats: Stats,
}

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);

fn active() -> std::sync::MutexGuard<'static, Option<Active>> {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Caches compiled code in `dir` (created with mode 0700 if missing) from now on, for the
/// whole process. Refuses a directory every user may write; after an error nothing is
/// cached.
pub fn enable(dir: &Path) -> Result<(), CacheError> {
    let r = try_enable(dir);
    if r.is_err() {
        disable();
    }
    r
}

fn try_enable(dir: &Path) -> Result<(), CacheError> {
    let io_err = |source| CacheError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(io_err)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err)?;
    }
    let dir = fs::canonicalize(dir).map_err(io_err)?;
    let mode = fs::metadata(&dir).map_err(io_err)?.permissions().mode() & 0o7777;
    if mode & 0o002 != 0 {
        return Err(CacheError::WorldWritable { dir, mode });
    }
    let mut guard = active();
    if guard.as_ref().is_some_and(|a| a.dir == dir) {
        return Ok(());
    }
    let mut config = CacheConfig::new();
    config
        .with_directory(&dir)
        // The worker's "optimizing" recompression would rewrite entries without a checksum.
        .with_optimized_compression_usage_counter_threshold(u64::MAX);
    let cache = Cache::new(config).map_err(|e| CacheError::Config {
        dir: dir.clone(),
        message: format!("{e:#}"),
    })?;
    *guard = Some(Active {
        dir,
        cache,
        stats: Stats::default(),
    });
    Ok(())
}

/// Compiles without the cache from now on.
pub fn disable() {
    *active() = None;
}

/// The directory in use, if the cache is enabled.
pub fn directory() -> Option<PathBuf> {
    active().as_ref().map(|a| a.dir.clone())
}

/// What the cache did since it was last enabled (all zero when disabled).
pub fn stats() -> Stats {
    active().as_ref().map(|a| a.stats).unwrap_or_default()
}

/// The cache to put in an engine's configuration, if enabled.
pub(crate) fn wasmtime_cache() -> Option<Cache> {
    active().as_ref().map(|a| a.cache.clone())
}

/// Compiles with `compile` (`Module::new` or `Component::new` on an engine configured with
/// [`wasmtime_cache`]), discarding unsealed entries before and sealing new ones after.
pub(crate) fn compile<T>(compile: impl FnOnce() -> T) -> T {
    let Some((dir, hits_before)) = active()
        .as_ref()
        .map(|a| (a.dir.clone(), a.cache.cache_hits()))
    else {
        return compile();
    };
    let discarded = sweep(&dir, false);
    let compiled = compile();
    let mut guard = active();
    if let Some(a) = guard.as_mut().filter(|a| a.dir == dir) {
        a.stats.discarded += discarded;
        if a.cache.cache_hits() > hits_before {
            a.stats.hits += 1;
        } else {
            a.stats.misses += 1;
            drop(guard);
            let sealed = sweep(&dir, true);
            if let Some(a) = active().as_mut().filter(|a| a.dir == dir) {
                a.stats.sealed += sealed;
            }
        }
    }
    compiled
}

/// Walks the entries under `dir/modules/*/`: with `seal`, seals each unsealed one and counts
/// those sealed; without, deletes each unsealed one and counts those deleted. Errors are
/// skipped: an entry that cannot be handled now is handled by a later run, or never read.
fn sweep(dir: &Path, seal: bool) -> u64 {
    let mut n = 0;
    let Ok(compilers) = fs::read_dir(dir.join("modules")) else {
        return 0;
    };
    for compiler in compilers.flatten() {
        let Ok(entries) = fs::read_dir(compiler.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !is_entry_name(&entry.file_name().to_string_lossy())
                || !entry.file_type().is_ok_and(|t| t.is_file())
                || is_sealed_file(&path).unwrap_or(true)
            {
                continue;
            }
            let done = if seal {
                seal_file(&path).is_ok()
            } else {
                fs::remove_file(&path).is_ok()
            };
            n += u64::from(done);
        }
    }
    n
}

/// wasmtime names entries by a URL-safe base64 SHA-256 (43 characters); its worker's own
/// files (`.stats`, `.wip-*`) have a dot.
fn is_entry_name(name: &str) -> bool {
    name.len() == 43
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Whether `bytes` start a zstd frame whose header promises a content checksum.
pub fn is_sealed(bytes: &[u8]) -> bool {
    // Frame header descriptor: bit 2 is Content_Checksum_flag, bit 3 is reserved (zero).
    bytes.len() > 4 && bytes[..4] == ZSTD_MAGIC && bytes[4] & 0x0c == 0x04
}

/// Reads only the frame header. `None` when the file vanished (a concurrent run).
fn is_sealed_file(path: &Path) -> Option<bool> {
    let mut head = Vec::with_capacity(5);
    let f = fs::File::open(path).ok()?;
    f.take(5).read_to_end(&mut head).ok()?;
    Some(is_sealed(&head))
}

/// `data` compressed into one zstd frame with a content checksum.
pub fn seal(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut c = zstd::bulk::Compressor::new(zstd::DEFAULT_COMPRESSION_LEVEL)?;
    c.include_checksum(true)?;
    c.compress(data)
}

/// Replaces the unsealed entry at `path` by its sealed form (write aside, then rename); an
/// entry that does not decode is deleted instead.
fn seal_file(path: &Path) -> io::Result<()> {
    let raw = fs::read(path)?;
    let Ok(data) = zstd::decode_all(&raw[..]) else {
        return fs::remove_file(path);
    };
    let sealed = seal(&data)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let aside = path.with_file_name(format!("{name}.wip-wasmgate-seal-{}", std::process::id()));
    fs::write(&aside, &sealed)?;
    fs::rename(&aside, path).inspect_err(|_| {
        let _ = fs::remove_file(&aside);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Incompressible bytes (zstd stores them as raw blocks, so a flipped byte still decodes).
    fn noise(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn sealed_frames_carry_a_checksum_that_zstd_verifies() {
        let data = noise(64 << 10);
        let sealed = seal(&data).unwrap();
        assert!(is_sealed(&sealed));
        assert_eq!(zstd::decode_all(&sealed[..]).unwrap(), data);
        // wasmtime writes plain frames: those are not sealed.
        let plain = zstd::encode_all(&data[..], 3).unwrap();
        assert!(!is_sealed(&plain));
        let mut flipped = plain.clone();
        flipped[plain.len() / 2] ^= 0x10;
        // Without a checksum the corruption goes unnoticed: this is what sealing is for.
        let decoded = zstd::decode_all(&flipped[..]).unwrap();
        assert_ne!(decoded, data);
        // With one, the same flip is an error, so wasmtime's read of the entry is a miss.
        let mut flipped = sealed.clone();
        flipped[sealed.len() / 2] ^= 0x10;
        assert!(zstd::decode_all(&flipped[..]).is_err());
    }

    #[test]
    fn entry_names_are_wasmtime_hashes() {
        assert!(is_entry_name("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"));
        assert!(!is_entry_name(
            "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abc.s"
        ));
        assert!(!is_entry_name("short"));
        assert!(!is_sealed(b""));
        assert!(!is_sealed(b"\x28\xb5\x2f\xfd"));
        assert!(!is_sealed(b"\x28\xb5\x2f\xfd\x0c"));
    }
}
