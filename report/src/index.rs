//! The index of a batch audit: one row per binary (its verdict, why, and a link to its own
//! report), the binaries that could not be analysed, and the overall verdict. The per-binary
//! reports are ordinary [`crate::Audit`] documents; the index only points at them. Its
//! Markdown and HTML come from [`crate::render`], like the reports'.

use std::io::{self, Write};

use crate::{Failure, SCHEMA_VERSION, Verdict};
use serde::Serialize;

/// One binary's row.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The binary as named by the walk.
    pub artifact: String,
    /// Its report, relative to the index.
    pub report: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Why, in one sentence.
    pub verdict_reason: String,
    /// SHA-256 of the binary, hex.
    pub sha256: String,
    /// Served from the result cache.
    pub cached: bool,
}

/// The index document.
#[derive(Serialize, Debug, Clone)]
pub struct Index {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// wasmgate's version.
    pub wasmgate_version: String,
    /// The worst verdict; `reject` when some binary could not be analysed.
    pub verdict: Verdict,
    /// The binaries with a report, in walk order.
    pub binaries: Vec<IndexEntry>,
    /// Binaries that could not be read, parsed or run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<Failure>,
}

impl Index {
    /// The index of a batch, with its overall verdict.
    pub fn new(wasmgate_version: &str, binaries: Vec<IndexEntry>, failed: Vec<Failure>) -> Self {
        let verdict = Verdict::overall(binaries.iter().map(|b| b.verdict), !failed.is_empty());
        Index {
            schema_version: SCHEMA_VERSION,
            wasmgate_version: wasmgate_version.to_string(),
            verdict,
            binaries,
            failed,
        }
    }

    pub(crate) fn counts(&self) -> String {
        let n = |v| self.binaries.iter().filter(|b| b.verdict == v).count();
        format!(
            "{} binaries: {} accept, {} review, {} reject, {} could not be analysed",
            self.binaries.len() + self.failed.len(),
            n(Verdict::Accept),
            n(Verdict::Review),
            n(Verdict::Reject),
            self.failed.len()
        )
    }
}

/// Writes the index as JSON.
pub fn index_json(index: &Index, w: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, index)?;
    writeln!(w)
}

/// Writes the index as Markdown.
pub fn index_markdown(index: &Index, w: &mut dyn Write) -> io::Result<()> {
    crate::render::index(&mut crate::markdown::Markdown(w), index)
}

/// Writes the index as one self-contained HTML file.
pub fn index_html(index: &Index, w: &mut dyn Write) -> io::Result<()> {
    crate::render::index(&mut crate::html::Html(w), index)
}
