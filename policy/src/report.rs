//! Renders findings: human text, JSON, SARIF 2.1.0; reads a SARIF baseline back.
//!
//! Every renderer writes to an `io::Write` as it goes (no whole-report string): a report
//! can be large, and the process should not hold it twice. SARIF lives in [`sarif`], as
//! typed structs borrowing the findings; the baseline reader in [`baseline`].

use std::io::{self, Write};

use serde::Serialize;
use wasmgate_escape::{Terminal as T, join_terminal};

mod baseline;
mod github;
mod sarif;
pub use baseline::{Baseline, BaselineError, apply_baseline, baseline_fingerprints};
pub use github::{GithubOmitted, MAX_PER_LEVEL, MAX_SUMMARY_BYTES, github};
pub use sarif::{
    Limits as SarifLimits, Log as Sarif, MAX_LOCATIONS, MAX_RESULTS, Omitted, sarif, sarif_within,
};

use crate::finding::{EntryRef, Finding, Kind, Level, Suppression};

/// JSON output version (`check --format json`). 2: findings are aggregated by default and
/// carry `entry_points` and `fingerprint_version`. 3: each file lists the entry points its
/// findings name once (`entry_points`), and a finding names its own by `entry_indices`
/// ranges into that list (as SARIF does), so that a finding 48,000 entry points share costs
/// a few bytes, not 48,000 objects. Otherwise fields are only added.
pub const SCHEMA_VERSION: u32 = 3;

/// Key of `partialFingerprints` of aggregated findings (the default): rule, artifact and
/// subject; the entry points are compared as a set (see [`Baseline`]).
pub const FINGERPRINT_KEY: &str = "wasmgateFinding/v3";

/// Key of per-entry findings (`check --per-entry`): rule, artifact, entry point with its kind,
/// subject. Baselines of either version are read (see [`Baseline`]); `wasmgateFinding/v1`
/// (before the entry kind) cannot be compared and counts as new.
pub const PER_ENTRY_FINGERPRINT_KEY: &str = "wasmgateFinding/v2";

/// Largest `--baseline` file read. Only fingerprints are kept in memory, whatever the size.
pub const MAX_BASELINE_BYTES: u64 = 256 << 20;

/// Findings for one binary.
#[derive(Serialize, serde::Deserialize, Debug, Clone)]
pub struct FileReport {
    /// The binary, relative to the working directory.
    pub artifact: String,
    /// The policy applied to it.
    pub policy: String,
    /// Findings, sorted.
    pub findings: Vec<Finding>,
}

/// A binary that could not be checked (unreadable, not Wasm, malformed). Every format lists
/// these, so a report never looks complete when it is not.
#[derive(Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// The binary, as in [`FileReport::artifact`].
    pub artifact: String,
    /// Why it could not be checked (with the byte offset of malformed Wasm).
    pub error: String,
    /// The policy it was to be checked against.
    pub policy: String,
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

/// Text for people: findings grouped per file, with witness path and deciding policy line,
/// then the binaries that could not be checked.
pub fn human(reports: &[FileReport], failed: &[Failed], s: &mut dyn Write) -> io::Result<()> {
    for r in reports {
        let suppressed = r.findings.iter().filter(|f| f.suppressed.is_some()).count();
        let active = r.findings.len() - suppressed;
        // Proofs (SMT `pass` results) are listed but are not findings.
        let proofs = r
            .findings
            .iter()
            .filter(|f| f.suppressed.is_none() && f.kind == Kind::Pass)
            .count();
        let failing = active - proofs;
        write!(
            s,
            "{}: {} finding{} (policy {})",
            T(&r.artifact),
            failing,
            plural(failing),
            T(&r.policy)
        )?;
        if proofs > 0 {
            write!(s, ", {proofs} proven")?;
        }
        if suppressed > 0 {
            write!(s, ", {suppressed} suppressed")?;
        }
        writeln!(s)?;
        for f in r.findings.iter().filter(|f| f.suppressed.is_none()) {
            writeln!(
                s,
                "  {}[{} {}]: {}",
                match f.kind {
                    Kind::Fail => f.level.as_str(),
                    Kind::Pass => "pass",
                },
                f.rule,
                f.name,
                T(&f.message)
            )?;
            write!(s, "    at: {}", T(&f.location.artifact))?;
            if let Some(o) = f.location.offset {
                write!(s, " @ {o:#x}")?;
            }
            if let Some(func) = &f.location.function {
                write!(s, " in `{}`", T(f.readable(func)))?;
            }
            writeln!(s)?;
            if !f.witness.is_empty() {
                let readable: Vec<&str> = f.witness.iter().map(|n| f.readable(n)).collect();
                writeln!(s, "    witness: {}", join_terminal(&readable, " -> "))?;
            }
            writeln!(
                s,
                "    policy: {}:{}:{}: {}",
                T(&f.policy.file),
                f.policy.line,
                f.policy.column,
                T(&f.policy.text)
            )?;
        }
        for f in r.findings.iter().filter(|f| f.suppressed.is_some()) {
            write!(s, "  suppressed[{} {}] {}: ", f.rule, f.name, T(&f.subject))?;
            match &f.suppressed {
                Some(Suppression::Waiver { reason, policy }) => writeln!(
                    s,
                    "waived at {}:{}: {}",
                    T(&policy.file),
                    policy.line,
                    T(reason)
                )?,
                _ => writeln!(s, "in the baseline")?,
            }
        }
    }
    for f in failed {
        writeln!(
            s,
            "{}: not checked (policy {}): {}",
            T(&f.artifact),
            T(&f.policy),
            T(&f.error)
        )?;
    }
    let sum = summary(reports);
    write!(
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
    )?;
    if !failed.is_empty() {
        write!(s, "; {} could not be checked", failed.len())?;
    }
    writeln!(s)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Serializes a value with its object keys sorted, as `serde_json::Value` does: the JSON
/// report keeps the key order it always had (diffs stay clean), one finding at a time.
struct Sorted<'a, T>(&'a T);

impl<T: Serialize> Serialize for Sorted<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_json::to_value(self.0)
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

/// The findings of one file, keys sorted, each finding converted as it is written: the
/// entry points its findings name, once, then each finding with `entry_indices` into them.
struct JsonFile<'a>(&'a FileReport);

impl Serialize for JsonFile<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut table: Vec<&EntryRef> = self
            .0
            .findings
            .iter()
            .flat_map(|f| &f.entry_points)
            .collect();
        table.sort_unstable();
        table.dedup();
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("artifact", &self.0.artifact)?;
        m.serialize_entry("entry_points", &table)?;
        m.serialize_entry(
            "findings",
            &Seq {
                findings: &self.0.findings,
                table: &table,
            },
        )?;
        m.serialize_entry("policy", &self.0.policy)?;
        m.end()
    }
}

struct Seq<'a> {
    findings: &'a [Finding],
    table: &'a [&'a EntryRef],
}

impl Serialize for Seq<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.findings.iter().map(|f| JsonFinding(f, self.table)))
    }
}

/// The entry points a schema-3 JSON finding names: its `entry_indices` ranges read against
/// its file's `entry_points` table. `None` when the ranges are malformed or out of the table
/// (the report is untrusted input to `wasmgate merge`).
pub fn entries_from_indices(table: &[EntryRef], indices: &str) -> Option<Vec<EntryRef>> {
    let ranges = baseline::parse_ranges(indices, table.len())?;
    Some(
        ranges
            .into_iter()
            .flat_map(|(a, b)| table[a as usize..=b as usize].iter().cloned())
            .collect(),
    )
}

/// A finding with `entry_indices` (ranges into its file's entry points) for `entry_points`.
struct JsonFinding<'a>(&'a Finding, &'a [&'a EntryRef]);

impl Serialize for JsonFinding<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        // Serialised without its entry list (an empty list is left out), which can be long.
        let bare = Finding {
            rule: f.rule.clone(),
            name: f.name.clone(),
            level: f.level,
            kind: f.kind,
            message: f.message.clone(),
            subject: f.subject.clone(),
            location: f.location.clone(),
            entry_points: Vec::new(),
            witness: f.witness.clone(),
            policy: f.policy.clone(),
            counterexample: f.counterexample.clone(),
            fingerprint: f.fingerprint.clone(),
            fingerprint_version: f.fingerprint_version,
            suppressed: f.suppressed.clone(),
            demangled: f.demangled.clone(),
        };
        let mut v = serde_json::to_value(&bare).map_err(serde::ser::Error::custom)?;
        if let Some(o) = v.as_object_mut().filter(|_| !f.entry_points.is_empty()) {
            o.insert(
                "entry_indices".into(),
                sarif::index_ranges(self.1, &f.entry_points).into(),
            );
        }
        v.serialize(s)
    }
}

struct Files<'a>(&'a [FileReport]);

impl Serialize for Files<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(JsonFile))
    }
}

/// Which part of a sharded run (`check --shard i/n`) a JSON report holds; `merge` puts the
/// parts back together and checks that they belong together and cover everything.
#[derive(Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// 1-based shard number.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
    /// Binaries in the whole (unsharded) run.
    pub total: usize,
    /// SHA-256 of the whole run's list of binaries, so shards of different listings do not
    /// merge.
    pub listing: String,
    /// Position in the whole run of each of this report's files, in order.
    pub positions: Vec<usize>,
    /// Position in the whole run of each binary of this report's `failed`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_positions: Vec<usize>,
    /// Whether `--baseline` was given (SARIF then marks new results).
    pub baseline: bool,
}

/// JSON for machines: `schema_version`, one entry per file, sorted findings, a summary;
/// pretty-printed with a trailing newline, written as it is serialized.
pub fn json(reports: &[FileReport], w: &mut dyn Write) -> io::Result<()> {
    json_sharded(reports, &[], None, w)
}

/// [`json`] with the binaries that could not be checked (`failed`, left out when there are
/// none), and a `shard` object when the report is one shard of a run.
pub fn json_sharded(
    reports: &[FileReport],
    failed: &[Failed],
    shard: Option<&Shard>,
    w: &mut dyn Write,
) -> io::Result<()> {
    #[derive(Serialize)]
    struct Json<'a> {
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        failed: &'a [Failed],
        files: Files<'a>,
        schema_version: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        shard: Option<Sorted<'a, Shard>>,
        summary: Sorted<'a, Summary>,
    }
    let summary = summary(reports);
    let report = Json {
        failed,
        files: Files(reports),
        schema_version: SCHEMA_VERSION,
        shard: shard.map(Sorted),
        summary: Sorted(&summary),
    };
    serde_json::to_writer_pretty(&mut *w, &report)?;
    writeln!(w)
}
