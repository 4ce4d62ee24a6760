//! Running one job per binary over thousands of binaries: in parallel (`--jobs`), with a
//! progress bar on a terminal, and with each binary's final result cached on disk so an
//! unchanged binary is not analysed again.
//!
//! The job is generic ([`Job`]): `check` caches its findings; `audit` can cache its report
//! data the same way. What is cached is the job's *final* output, never an `Analysis`, which
//! can cost more to load than to recompute.
//!
//! **The cache directory is untrusted input.** Another process, a full disk or an attacker
//! with write access may leave anything there. An entry is used only when its header names
//! the format and the exact key looked up, the SHA-256 of its body matches the digest stored
//! with it, the body parses, and the job accepts the result ([`Job::valid`], e.g. every
//! finding's fingerprint recomputes). Anything else is recomputed and overwritten; no entry
//! can crash the run or be read past [`MAX_ENTRY_BYTES`]. `check` stores its findings in a
//! compact form ([`compact`]) that loads far faster than their JSON. The digest catches corruption, not
//! forgery: whoever can write the directory can write a valid entry, so keep it private (the
//! default is under the user's cache directory).

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use wasmgate_policy::files;

use crate::{input, output};

pub mod compact;

/// First line of every cache entry; a new format gets a new line (old entries then miss).
/// v2: bodies are the job's own encoding ([`Job::encode`]), compact for `check`.
const ENTRY_MAGIC: &str = "wasmgate-cache v2";

/// Largest cache entry read or written (the compact findings of the largest corpus binary
/// under a deny-all policy take 5.7 MB).
pub const MAX_ENTRY_BYTES: u64 = 1 << 26;

/// One kind of per-binary work whose result can be cached.
pub trait Job: Sync {
    /// The final result for one binary.
    type Output: Serialize + DeserializeOwned + Send;
    /// Names the job in the cache (`check`), so two jobs never share entries.
    const KIND: &'static str;
    /// Everything besides the binary's bytes and wasmgate itself that the output depends on
    /// (policy text, flags, names shown in the output...), as bytes hashed into the key.
    fn context(&self, path: &Path) -> Vec<u8>;
    /// Computes the output.
    fn run(&self, path: &Path, bytes: &[u8]) -> Result<Self::Output>;
    /// Whether a cached output is plausible for `path` (a cheap consistency check on top of
    /// the digest).
    fn valid(&self, path: &Path, output: &Self::Output) -> bool;
    /// The body of a cache entry for `output` (JSON unless the job knows better). Mutable
    /// only so that an encoder can move parts out and back instead of copying them.
    fn encode(output: &mut Self::Output) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(output)?)
    }
    /// Reads a body back; `None` when it is not one (the body is untrusted).
    fn decode(body: &[u8]) -> Option<Self::Output> {
        serde_json::from_slice(body).ok()
    }
}

/// One binary's result.
#[derive(Debug)]
pub struct Done<T> {
    /// The job's output.
    pub output: T,
    /// SHA-256 of the binary, hex.
    pub sha256: String,
    /// Served from the cache.
    pub cached: bool,
}

/// One binary's result, or why there is none.
pub type Outcome<T> = Result<Done<T>>;

/// How a batch runs.
#[derive(Debug, Default)]
pub struct Settings {
    /// Worker threads; 0 means one per CPU.
    pub jobs: usize,
    /// Cache directory, or none.
    pub cache: Option<PathBuf>,
    /// Show a progress bar (only ever on a terminal).
    pub progress: bool,
}

/// Counts a run reports once at the end.
#[derive(Debug, Default)]
pub struct Stats {
    /// Cache entries found but refused (corrupt, foreign or tampered) and recomputed.
    pub rejected: usize,
}

/// The default cache directory: `$XDG_CACHE_HOME/wasmgate/results`, else
/// `$HOME/.cache/wasmgate/results`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("wasmgate").join("results"))
}

/// Identifies the running wasmgate: its version, the capability table's version, and the
/// size and modification time of its executable, so a rebuilt wasmgate (with a changed
/// analyzer but the same version number) never reads its predecessor's results.
fn tool_identity() -> Vec<u8> {
    let mut id = format!("wasmgate {}\n", env!("CARGO_PKG_VERSION"));
    if let Ok(t) = wasmgate_analyzer::CapabilityTable::builtin() {
        id.push_str(&format!("capabilities {}\n", t.version()));
    }
    if let Some(m) = std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::metadata(p).ok())
    {
        let mtime = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        id.push_str(&format!("exe {} {mtime}\n", m.len()));
    }
    id.into_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 over length-prefixed parts, so no part can shift into the next.
fn digest(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex(&h.finalize())
}

/// Runs `job` over `paths` (results in the order of `paths`).
pub fn run<J: Job>(
    job: &J,
    paths: &[PathBuf],
    settings: &Settings,
) -> Result<(Vec<Outcome<J::Output>>, Stats)> {
    let cache = match &settings.cache {
        Some(dir) => {
            let dir = dir.join(J::KIND);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating the cache directory {}", dir.display()))?;
            Some(dir)
        }
        None => None,
    };
    let identity = tool_identity();
    let bar = if settings.progress && std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(paths.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} binaries ({msg}) eta {eta}",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let hits = AtomicUsize::new(0);
    let rejected = AtomicUsize::new(0);
    let one = |path: &PathBuf| -> Result<Done<J::Output>> {
        let bytes = input::read(path)?;
        let sha256 = hex(&Sha256::digest(&bytes));
        let Some(dir) = &cache else {
            let output = job.run(path, &bytes)?;
            return Ok(Done {
                output,
                sha256,
                cached: false,
            });
        };
        let context = job.context(path);
        let key = digest(&[J::KIND.as_bytes(), &identity, &context, sha256.as_bytes()]);
        let file = dir.join(format!("{key}.entry"));
        match load(&file, &key, J::decode) {
            Lookup::Hit(output) if job.valid(path, &output) => {
                hits.fetch_add(1, Ordering::Relaxed);
                return Ok(Done {
                    output,
                    sha256,
                    cached: true,
                });
            }
            Lookup::Miss => {}
            Lookup::Hit(_) | Lookup::Rejected => {
                rejected.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut output = job.run(path, &bytes)?;
        // A cache that cannot be written costs time, not correctness.
        if let Err(e) = J::encode(&mut output).and_then(|body| store(&file, &key, &body)) {
            output::eprint(&format!("warning: not cached: {}: {e:#}\n", file.display()));
        }
        Ok(Done {
            output,
            sha256,
            cached: false,
        })
    };
    let work = || -> Vec<Result<Done<J::Output>>> {
        paths
            .par_iter()
            .map(|p| {
                let r = one(p);
                bar.set_message(format!("{} cached", hits.load(Ordering::Relaxed)));
                bar.inc(1);
                r
            })
            .collect()
    };
    let results = if settings.jobs > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(settings.jobs)
            .build()
            .context("starting worker threads")?
            .install(work)
    } else {
        work()
    };
    bar.finish_and_clear();
    let stats = Stats {
        rejected: rejected.into_inner(),
    };
    Ok((results, stats))
}

enum Lookup<T> {
    Hit(T),
    Miss,
    Rejected,
}

/// Reads and checks one entry: `magic\nkey\nsha256(body)\nbody`.
fn load<T>(file: &Path, key: &str, decode: impl FnOnce(&[u8]) -> Option<T>) -> Lookup<T> {
    let bytes = match files::read_regular(file, MAX_ENTRY_BYTES) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
        Err(_) => return Lookup::Rejected,
    };
    let mut parts = bytes.splitn(4, |&b| b == b'\n');
    let (Some(magic), Some(k), Some(sum), Some(body)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Lookup::Rejected;
    };
    if magic != ENTRY_MAGIC.as_bytes()
        || k != key.as_bytes()
        || sum != hex(&Sha256::digest(body)).as_bytes()
    {
        return Lookup::Rejected;
    }
    match decode(body) {
        Some(v) => Lookup::Hit(v),
        None => Lookup::Rejected,
    }
}

/// Writes one entry atomically (a reader never sees half of it), readable by the user only.
/// Not synced to disk: after a crash an entry may be lost or torn, which its digest catches.
fn store(file: &Path, key: &str, body: &[u8]) -> Result<()> {
    if body.len() as u64 > MAX_ENTRY_BYTES {
        bail!(
            "the result is larger than {}",
            files::human_size(MAX_ENTRY_BYTES)
        );
    }
    let sum = hex(&Sha256::digest(body));
    let dir = file.parent().unwrap_or(Path::new("."));
    // tempfile creates the file with mode 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(".entry.")
        .tempfile_in(dir)?;
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
        w.write_all(format!("{ENTRY_MAGIC}\n{key}\n{sum}\n").as_bytes())?;
        w.write_all(body)?;
        w.flush()?;
    }
    tmp.persist(file)?;
    Ok(())
}

/// `--shard i/n`: 1-based index `i` of `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not of the form i/n (e.g. 1/4)"))?;
        let index: usize = i
            .parse()
            .map_err(|_| format!("`{i}` is not a shard number"))?;
        let count: usize = n
            .parse()
            .map_err(|_| format!("`{n}` is not a shard count"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("shard {index}/{count}: need 1 <= i <= n"));
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether the binary at `position` of the sorted, deduplicated list belongs here:
    /// round robin, so shards get similar mixes whatever the directory layout.
    pub fn owns(self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}

/// With `--shard`, keeps only the shard's binaries of the whole sorted, deduplicated list (so
/// every shard agrees on it) and says which positions they held; `name` is a binary's name
/// in reports.
pub fn take_shard(
    shard: Option<Shard>,
    binaries: &mut Vec<PathBuf>,
    name: impl Fn(&Path) -> String,
    baseline: bool,
) -> Option<wasmgate_policy::report::Shard> {
    let shard = shard?;
    let all: Vec<String> = binaries.iter().map(|b| name(b)).collect();
    let positions: Vec<usize> = (0..binaries.len()).filter(|&i| shard.owns(i)).collect();
    *binaries = positions.iter().map(|&i| binaries[i].clone()).collect();
    Some(wasmgate_policy::report::Shard {
        index: shard.index,
        count: shard.count,
        total: all.len(),
        listing: listing_digest(&all),
        positions,
        failed_positions: Vec::new(),
        baseline,
    })
}

/// `--summary-jsonl`: one JSON object per line, written atomically.
pub fn write_jsonl(path: &Path, lines: &[serde_json::Value]) -> Result<()> {
    output::write_atomic_with(path, |w| {
        for l in lines {
            serde_json::to_writer(&mut *w, l)?;
            writeln!(w)?;
        }
        Ok(())
    })
}

/// A digest of the whole list of binaries (in order), so `merge` can tell shards of
/// different listings apart.
pub fn listing_digest(artifacts: &[String]) -> String {
    let parts: Vec<&[u8]> = artifacts.iter().map(|a| a.as_bytes()).collect();
    digest(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_partition() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/2", "3/2", "1/0", "x/2", "1", "1/2/3", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        // Every position belongs to exactly one shard.
        for n in 1..6 {
            for p in 0..50 {
                let owners = (1..=n)
                    .filter(|&i| Shard { index: i, count: n }.owns(p))
                    .count();
                assert_eq!(owners, 1, "position {p} of {n} shards");
            }
        }
    }

    #[test]
    fn a_tampered_or_foreign_cache_entry_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("e.entry");
        let put = |file: &Path, v: serde_json::Value| {
            store(file, "k1", &serde_json::to_vec(&v).unwrap()).unwrap();
        };
        let get = |file: &Path, key: &str| {
            load(file, key, |b| serde_json::from_slice::<Vec<u32>>(b).ok())
        };
        put(&file, serde_json::json!([1, 2, 3]));
        assert!(matches!(get(&file, "k1"), Lookup::Hit(v) if v == [1, 2, 3]));
        // Readable by the user only: the results of private binaries.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Another key (a renamed entry).
        assert!(matches!(get(&file, "k2"), Lookup::Rejected));
        // One byte of the body changed: the digest no longer matches.
        let mut bytes = std::fs::read(&file).unwrap();
        let last = bytes.len() - 2;
        bytes[last] = b'4';
        std::fs::write(&file, &bytes).unwrap();
        assert!(matches!(get(&file, "k1"), Lookup::Rejected));
        // Garbage, an empty file, the wrong type, a directory, a missing file.
        for junk in [&b"\xff\xfe\n\n"[..], b"", b"wasmgate-cache v2\nk1\n"] {
            std::fs::write(&file, junk).unwrap();
            assert!(matches!(get(&file, "k1"), Lookup::Rejected));
        }
        put(&file, serde_json::json!("text"));
        assert!(matches!(get(&file, "k1"), Lookup::Rejected));
        assert!(matches!(get(dir.path(), "k1"), Lookup::Rejected));
        assert!(matches!(get(&dir.path().join("none"), "k1"), Lookup::Miss));
        // Larger than the cap: neither written nor read. A valid entry just under it is
        // read; with the header, a body of the cap's size is over it.
        let mut big = vec![b' '; MAX_ENTRY_BYTES as usize + 1];
        big[..3].copy_from_slice(b"[1]");
        assert!(store(&file, "k1", &big).is_err());
        big.truncate(MAX_ENTRY_BYTES as usize - 100);
        store(&file, "k1", &big).unwrap();
        assert!(matches!(get(&file, "k1"), Lookup::Hit(v) if v == [1]));
        big.resize(MAX_ENTRY_BYTES as usize, b' ');
        store(&file, "k1", &big).unwrap();
        assert!(matches!(get(&file, "k1"), Lookup::Rejected));
    }
}
