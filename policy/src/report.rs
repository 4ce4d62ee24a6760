//! Renders findings: human text, JSON, SARIF 2.1.0; reads a SARIF baseline back.
//!
//! SARIF lives in [`sarif`], as typed structs.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde::Serialize;
use serde_json::{Value, json};
use wasmgate_escape::{Terminal as T, join_terminal};

mod sarif;
pub use sarif::{Log as Sarif, sarif};

use crate::finding::{Finding, Kind, Level, Suppression};

/// JSON output version (`check --format json`); fields are only added.
pub const SCHEMA_VERSION: u32 = 1;

/// Key of `partialFingerprints` carrying [`Finding::fingerprint`]. The version changes with
/// what the fingerprint hashes (v2 added the entry point's kind), so a baseline of an older
/// version matches nothing: its findings count as new, which fails closed.
pub const FINGERPRINT_KEY: &str = "wasmgateFinding/v2";

/// Largest `--baseline` file read. Only fingerprints are kept in memory, whatever the size.
pub const MAX_BASELINE_BYTES: u64 = 256 << 20;

/// Findings for one binary.
#[derive(Serialize, Debug, Clone)]
pub struct FileReport {
    /// The binary, relative to the working directory.
    pub artifact: String,
    /// The policy applied to it.
    pub policy: String,
    /// Findings, sorted.
    pub findings: Vec<Finding>,
}

/// Counts of findings that count against the build (not suppressed) per level.
#[derive(Serialize, Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Binaries checked.
    pub files: usize,
    /// Errors that count.
    pub errors: usize,
    /// Warnings that count.
    pub warnings: usize,
    /// Notes that count.
    pub notes: usize,
    /// Findings a waiver or the baseline suppressed.
    pub suppressed: usize,
}

/// Counts of the findings that count against the build, per level.
pub fn summary(reports: &[FileReport]) -> Summary {
    let mut s = Summary {
        files: reports.len(),
        ..Summary::default()
    };
    for f in reports.iter().flat_map(|r| &r.findings) {
        if f.kind != Kind::Fail {
            continue;
        }
        if f.suppressed.is_some() {
            s.suppressed += 1;
            continue;
        }
        match f.level {
            Level::Error => s.errors += 1,
            Level::Warning => s.warnings += 1,
            Level::Note => s.notes += 1,
        }
    }
    s
}

/// Text for people: findings grouped per file, with witness path and deciding policy line.
pub fn human(reports: &[FileReport]) -> String {
    let mut s = String::new();
    for r in reports {
        let active: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| f.suppressed.is_none())
            .collect();
        let suppressed = r.findings.len() - active.len();
        // Proofs (SMT `pass` results) are listed but are not findings.
        let proofs = active.iter().filter(|f| f.kind == Kind::Pass).count();
        let failing = active.len() - proofs;
        let _ = write!(
            s,
            "{}: {} finding{} (policy {})",
            T(&r.artifact),
            failing,
            if failing == 1 { "" } else { "s" },
            T(&r.policy)
        );
        if proofs > 0 {
            let _ = write!(s, ", {proofs} proven");
        }
        if suppressed > 0 {
            let _ = write!(s, ", {suppressed} suppressed");
        }
        s.push('\n');
        for f in &active {
            let _ = writeln!(
                s,
                "  {}[{} {}]: {}",
                match f.kind {
                    Kind::Fail => f.level.as_str(),
                    Kind::Pass => "pass",
                },
                f.rule,
                f.name,
                T(&f.message)
            );
            let mut at = format!("    at: {}", T(&f.location.artifact));
            if let Some(o) = f.location.offset {
                let _ = write!(at, " @ {o:#x}");
            }
            if let Some(func) = &f.location.function {
                let _ = write!(at, " in `{}`", T(func));
            }
            let _ = writeln!(s, "{at}");
            if !f.witness.is_empty() {
                let _ = writeln!(s, "    witness: {}", join_terminal(&f.witness, " -> "));
            }
            let _ = writeln!(
                s,
                "    policy: {}:{}:{}: {}",
                T(&f.policy.file),
                f.policy.line,
                f.policy.column,
                T(&f.policy.text)
            );
        }
        for f in r.findings.iter().filter(|f| f.suppressed.is_some()) {
            let why = match &f.suppressed {
                Some(Suppression::Waiver { reason, policy }) => {
                    format!(
                        "waived at {}:{}: {}",
                        T(&policy.file),
                        policy.line,
                        T(reason)
                    )
                }
                _ => "in the baseline".to_string(),
            };
            let _ = writeln!(
                s,
                "  suppressed[{} {}] {}: {why}",
                f.rule,
                f.name,
                T(&f.subject)
            );
        }
    }
    let sum = summary(reports);
    let _ = writeln!(
        s,
        "\n{} file{} checked: {} error{}, {} warning{}, {} note{}, {} suppressed",
        sum.files,
        plural(sum.files),
        sum.errors,
        plural(sum.errors),
        sum.warnings,
        plural(sum.warnings),
        sum.notes,
        plural(sum.notes),
        sum.suppressed
    );
    s
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// JSON for machines: `schema_version`, one entry per file, sorted findings, a summary.
pub fn json(reports: &[FileReport]) -> Value {
    json!({
        "schema_version": SCHEMA_VERSION,
        "files": reports,
        "summary": summary(reports),
    })
}

/// What a `--baseline` SARIF log holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Baseline {
    /// [`FINGERPRINT_KEY`] fingerprints of its failing results.
    pub fingerprints: BTreeSet<String>,
    /// Failing results carrying only another `wasmgateFinding/` version: not comparable.
    pub older_fingerprints: usize,
}

/// The parts of a SARIF log a baseline needs; serde skips everything else without keeping
/// it, so memory follows the number of results, not the size of the file.
#[derive(serde::Deserialize)]
struct SarifLog {
    runs: Vec<SarifRun>,
}

#[derive(serde::Deserialize)]
struct SarifRun {
    #[serde(default)]
    results: Option<Vec<SarifResult>>,
}

#[derive(serde::Deserialize)]
struct SarifResult {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default, rename = "partialFingerprints")]
    partial_fingerprints: Option<std::collections::BTreeMap<String, Value>>,
}

/// Why a `--baseline` file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// Not JSON, or JSON without the shape of a SARIF log (`runs`, `results`...).
    #[error("not a SARIF log: {0}")]
    NotSarif(#[source] serde_json::Error),
}

/// Fingerprints of the failing results of a previous SARIF run (`--baseline`).
pub fn baseline_fingerprints(sarif: &[u8]) -> Result<Baseline, BaselineError> {
    let log: SarifLog = serde_json::from_slice(sarif).map_err(BaselineError::NotSarif)?;
    let mut out = Baseline::default();
    for r in log
        .runs
        .into_iter()
        .flat_map(|r| r.results.unwrap_or_default())
    {
        if r.kind.as_deref().unwrap_or("fail") != "fail" {
            continue;
        }
        let fps = r.partial_fingerprints.unwrap_or_default();
        match fps.get(FINGERPRINT_KEY).and_then(Value::as_str) {
            Some(fp) => {
                out.fingerprints.insert(fp.to_string());
            }
            None if fps.keys().any(|k| k.starts_with("wasmgateFinding/")) => {
                out.older_fingerprints += 1;
            }
            None => {}
        }
    }
    Ok(out)
}

/// Marks findings already present in the baseline as suppressed (`baselineState: unchanged`).
pub fn apply_baseline(reports: &mut [FileReport], baseline: &BTreeSet<String>) {
    for f in reports.iter_mut().flat_map(|r| r.findings.iter_mut()) {
        if f.suppressed.is_none() && baseline.contains(&f.fingerprint) {
            f.suppressed = Some(Suppression::Baseline);
        }
    }
}
