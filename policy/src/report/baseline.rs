//! Reading a previous SARIF run back (`check --baseline`) and deciding which findings it held.
//!
//! Fingerprint versions, and how each is compared with today's findings:
//! - `wasmgateFinding/v3` (aggregated findings, the default): rule, artifact and subject. Each
//!   result lists its entry points (indices into the run's entry tables, see [`super::sarif`]).
//!   A finding is unchanged when its fingerprint is there *and* every entry point it lists
//!   was listed there: a new entry point reaching a baselined subject makes it new.
//! - `wasmgateFinding/v2` (per-entry findings, `--per-entry`, and every run before v3):
//!   rule, artifact, entry point with its kind, subject. A finding is unchanged when the v2
//!   fingerprint of each of its entry points is there, i.e. when every per-entry finding it
//!   stands for was in the baseline (findings without entry points use the witness's entry
//!   point, as v2 did).
//! - `wasmgateFinding/v1` (entry point by name only) cannot be compared: such results are
//!   counted, the CLI warns, and matching findings count as new.
//!
//! Anything malformed (an index out of its table, a table that is not one) matches nothing,
//! so a finding it would have covered is new: the baseline fails closed.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;
use wasmgate_analyzer::EntryKind;

use super::{FINGERPRINT_KEY, FileReport, PER_ENTRY_FINGERPRINT_KEY};
use crate::finding::{EntryRef, Finding, Suppression, fingerprint};

/// What a `--baseline` SARIF log holds: fingerprints, and the entry points of aggregated
/// results. Everything else in the file is skipped while parsing, without being kept.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Baseline {
    /// `wasmgateFinding/v2` fingerprints of failing results.
    per_entry: HashSet<String>,
    /// `wasmgateFinding/v3` fingerprints of failing results, each with the entry points its
    /// result listed, one per result.
    aggregated: HashMap<String, Vec<Listed>>,
    /// Entry tables of every run, each sorted, with each entry's index in the file.
    tables: Vec<Vec<(EntryKind, Box<str>, u32)>>,
    /// Failing results carrying only another `wasmgateFinding/` version: not comparable.
    pub older_fingerprints: usize,
}

/// The entry points one aggregated result listed: its table, and ascending disjoint index
/// ranges into it.
type Listed = (usize, Vec<(u32, u32)>);

#[derive(serde::Deserialize)]
struct SarifLog {
    runs: Vec<SarifRun>,
}

#[derive(serde::Deserialize)]
struct SarifRun {
    #[serde(default)]
    results: Option<Vec<SarifResult>>,
    #[serde(default)]
    properties: Option<RunProperties>,
}

#[derive(serde::Deserialize)]
struct RunProperties {
    #[serde(default, rename = "wasmgateEntryPoints")]
    tables: Option<Vec<EntryTable>>,
}

#[derive(serde::Deserialize)]
struct EntryTable {
    #[serde(rename = "entryPoints")]
    entry_points: Vec<String>,
}

#[derive(serde::Deserialize)]
struct SarifResult {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default, rename = "partialFingerprints")]
    partial_fingerprints: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    properties: Option<ResultProperties>,
}

#[derive(serde::Deserialize)]
struct ResultProperties {
    #[serde(default, rename = "entryPoints")]
    entry_points: Option<EntryIndices>,
}

#[derive(serde::Deserialize)]
struct EntryIndices {
    table: usize,
    indices: String,
}

/// Why a `--baseline` file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// Not JSON, or JSON without the shape of a SARIF log (`runs`, `results`...).
    #[error("not a SARIF log: {0}")]
    NotSarif(#[source] serde_json::Error),
}

/// `export:name` back to its kind and name.
fn parse_entry(key: &str) -> Option<(EntryKind, &str)> {
    let (kind, name) = key.split_once(':')?;
    let kind = match kind {
        "export" => EntryKind::Export,
        "start" => EntryKind::Start,
        "escaped" => EntryKind::Escaped,
        _ => return None,
    };
    Some((kind, name))
}

/// `"0-4,7"` into ascending, disjoint ranges below `len`; `None` when malformed.
pub(super) fn parse_ranges(text: &str, len: usize) -> Option<Vec<(u32, u32)>> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    if text.is_empty() {
        return Some(out);
    }
    for part in text.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let a = part.parse::<u32>().ok()?;
                (a, a)
            }
        };
        if a > b || b as usize >= len {
            return None;
        }
        // More ranges than entries cannot be a table's index list (and bounds the work).
        if out.len() >= len {
            return None;
        }
        out.push((a, b));
    }
    out.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(out.len());
    for (a, b) in out {
        match merged.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    Some(merged)
}

/// Reads the fingerprints and entry points of the failing results of a previous SARIF run.
pub fn baseline_fingerprints(sarif: &[u8]) -> Result<Baseline, BaselineError> {
    let log: SarifLog = serde_json::from_slice(sarif).map_err(BaselineError::NotSarif)?;
    let mut out = Baseline::default();
    for run in log.runs {
        // This run's tables, as indices into `out.tables`.
        let first = out.tables.len();
        for t in run.properties.and_then(|p| p.tables).unwrap_or_default() {
            let mut table: Vec<(EntryKind, Box<str>, u32)> = Vec::new();
            for (i, key) in t.entry_points.iter().enumerate() {
                // A malformed key keeps its index taken but matches nothing.
                if let Some((kind, name)) = parse_entry(key) {
                    table.push((kind, name.into(), i as u32));
                }
            }
            table.sort_unstable();
            out.tables.push(table);
        }
        let tables_in_run = out.tables.len() - first;
        for r in run.results.unwrap_or_default() {
            if r.kind.as_deref().unwrap_or("fail") != "fail" {
                continue;
            }
            let fps = r.partial_fingerprints.unwrap_or_default();
            if let Some(fp) = fps.get(FINGERPRINT_KEY).and_then(Value::as_str) {
                let entries = r
                    .properties
                    .and_then(|p| p.entry_points)
                    .filter(|e| e.table < tables_in_run)
                    .and_then(|e| {
                        let table = first + e.table;
                        let len = out.tables[table].iter().map(|t| t.2 as usize + 1).max()?;
                        Some((table, parse_ranges(&e.indices, len)?))
                    })
                    // None listed (or malformed): the finding matches only with no entry points.
                    .unwrap_or((usize::MAX, Vec::new()));
                out.aggregated
                    .entry(fp.to_string())
                    .or_default()
                    .push(entries);
            }
            if let Some(fp) = fps.get(PER_ENTRY_FINGERPRINT_KEY).and_then(Value::as_str) {
                out.per_entry.insert(fp.to_string());
            }
            if !fps.contains_key(FINGERPRINT_KEY)
                && !fps.contains_key(PER_ENTRY_FINGERPRINT_KEY)
                && fps.keys().any(|k| k.starts_with("wasmgateFinding/"))
            {
                out.older_fingerprints += 1;
            }
        }
    }
    Ok(out)
}

impl Baseline {
    /// Whether `entry` is among those of one baseline result.
    fn lists(&self, (table, ranges): &Listed, entry: &EntryRef) -> bool {
        let Some(table) = self.tables.get(*table) else {
            return false;
        };
        let Ok(at) =
            table.binary_search_by(|(k, n, _)| (*k, &**n).cmp(&(entry.kind, &*entry.name)))
        else {
            return false;
        };
        let i = table[at].2;
        let r = ranges.partition_point(|&(a, _)| a <= i);
        r > 0 && ranges[r - 1].1 >= i
    }

    /// Whether the baseline held `f` with every entry point it lists (see the module docs).
    pub fn holds(&self, f: &Finding) -> bool {
        let artifact = f.location.artifact.as_str();
        let v3 = fingerprint(&f.rule, artifact, None, &f.subject);
        if let Some(results) = self.aggregated.get(&v3) {
            let known = f
                .entry_points
                .iter()
                .all(|e| results.iter().any(|r| self.lists(r, e)));
            if known {
                return true;
            }
        }
        if self.per_entry.is_empty() {
            return false;
        }
        let v2 = |entry: Option<(EntryKind, &str)>| {
            self.per_entry
                .contains(&fingerprint(&f.rule, artifact, entry, &f.subject))
        };
        if f.entry_points.is_empty() {
            v2(f.location.entry_kind.zip(f.location.entry_point.as_deref()))
        } else {
            f.entry_points.iter().all(|e| v2(Some((e.kind, &e.name))))
        }
    }

    /// Failing results it holds that a finding can match (v2 or v3).
    pub fn len(&self) -> usize {
        self.per_entry.len() + self.aggregated.values().map(Vec::len).sum::<usize>()
    }

    /// Whether it holds no comparable result.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Marks findings the baseline held as suppressed (`baselineState: unchanged`).
pub fn apply_baseline(reports: &mut [FileReport], baseline: &Baseline) {
    for f in reports.iter_mut().flat_map(|r| r.findings.iter_mut()) {
        if f.suppressed.is_none() && baseline.holds(f) {
            f.suppressed = Some(Suppression::Baseline);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn index_ranges_read_back_as_written() {
        let table: Vec<EntryRef> = (0..10)
            .map(|i| EntryRef {
                kind: EntryKind::Export,
                name: Arc::from(format!("e{i}")),
            })
            .collect();
        let refs: Vec<&EntryRef> = table.iter().collect();
        let listed: Vec<EntryRef> = [0, 1, 2, 4, 7, 8, 9]
            .iter()
            .map(|&i| table[i].clone())
            .collect();
        let text = super::super::sarif::index_ranges(&refs, &listed);
        assert_eq!(text, "0-2,4,7-9");
        assert_eq!(parse_ranges(&text, 10), Some(vec![(0, 2), (4, 4), (7, 9)]));
        assert_eq!(parse_ranges("", 10), Some(vec![]));
        // Overlapping and unordered ranges are merged.
        assert_eq!(parse_ranges("5-6,0-3,2-4", 10), Some(vec![(0, 6)]));
    }

    #[test]
    fn malformed_index_ranges_are_refused() {
        for bad in ["10", "3-2", "-1", "a", "1,", "0-99999999999", " 1"] {
            assert_eq!(parse_ranges(bad, 10), None, "{bad}");
        }
    }
}
