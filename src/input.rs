//! Reading the binary to analyse from a path or standard input (`-`).
//!
//! Input may be hostile in shape as well as content: a FIFO, `/dev/zero`, an endless pipe.
//! Paths must name regular files (opened without blocking), the `\0asm` magic is checked
//! before anything else is read, and no binary is read past [`MAX_BINARY_BYTES`].

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use wasmgate_analyzer::Analysis;
use wasmgate_policy::files;

/// Largest binary read: seven times the largest real binary of the corpus (duckdb-eh,
/// 34 MB); the analysis of so large a binary needs far more memory than its bytes.
pub const MAX_BINARY_BYTES: u64 = 256 << 20;

const MAGIC: &[u8; 4] = b"\0asm";

/// Reads `path`, or standard input when it is `-`.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        read_binary(std::io::stdin().lock(), "standard input", 0)
    } else {
        let file =
            files::open_regular(path).with_context(|| format!("reading {}", path.display()))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len > MAX_BINARY_BYTES {
            bail!("{}: {}", path.display(), files::too_large(MAX_BINARY_BYTES));
        }
        read_binary(file, &path.display().to_string(), len)
    }
}

/// Reads the magic first (so `yes | wasmgate inspect -` stops at once), then the rest up to
/// the cap. `len`: the expected size, so a large file is read into one buffer of its size
/// (growing by doubling left up to a tenth of it unused for the whole run).
fn read_binary(mut r: impl Read, name: &str, len: u64) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(len.min(MAX_BINARY_BYTES) as usize);
    (&mut r)
        .take(MAGIC.len() as u64)
        .read_to_end(&mut buf)
        .with_context(|| format!("reading {name}"))?;
    if buf.as_slice() != MAGIC {
        bail!(
            "{name}: not a WebAssembly binary: expected the magic bytes 00 61 73 6d at byte offset 0"
        );
    }
    files::read_capped(r, MAX_BINARY_BYTES, &mut buf).with_context(|| format!("reading {name}"))?;
    Ok(buf)
}

/// Reads and analyses one binary under `options`; errors name the file and the byte offset.
pub fn analyze(path: &Path, options: wasmgate_analyzer::Options) -> Result<Analysis> {
    let bytes = read(path)?;
    wasmgate_analyzer::analyze_with(&bytes, options)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
