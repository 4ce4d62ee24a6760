//! Reading the binary to analyse from a path or standard input (`-`).

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use wasmgate_analyzer::Analysis;

/// Reads `path`, or standard input when it is `-`.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

/// Reads and analyses one binary; errors name the file and the byte offset.
pub fn analyze(path: &Path) -> Result<Analysis> {
    let bytes = read(path)?;
    wasmgate_analyzer::analyze(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
