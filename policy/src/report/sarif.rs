//! SARIF 2.1.0 as typed structs: the fields GitHub code scanning requires are not optional
//! in the types (a result's primary location always has a text region with `startLine`), and
//! every message built from a finding goes through [`Message::new`], which escapes it.
//!
//! Hand-written rather than the `serde-sarif` crate: that crate generates every SARIF type
//! from the schema in a build script (schemafy, syn, prettyplease, typed-builder, strum), a
//! heavy build on our two-core CI for the dozen objects we emit. The SARIF Multitool test
//! (`tests/all/policy_check.rs`) validates the output against the schema and GitHub's rules.
//!
//! **What carries `region.startLine`.** GitHub requires a text line on every result, and a
//! `.wasm` has none (DWARF line info is not used yet). The primary location of each result is
//! therefore the *policy line that decided it* (a text file in the repository, so the alert
//! opens at the rule to change or waive), and the binary is the first related location, with
//! `byteOffset`/`byteLength` of the import entry or call instruction.
//!
//! **Within code scanning's limits.** A run holds at most [`MAX_RESULTS`] results and a result
//! at most [`MAX_LOCATIONS`] locations; [`Limits`] decides what is left out (least severe
//! first) and a run-level notification says so. Results are built one at a time while the log
//! is written, so memory does not follow the number of findings.
//!
//! **Entry points of aggregated findings** are not locations (a finding may list 65,000):
//! `runs[].properties.wasmgateEntryPoints` holds, per binary, its entry points once
//! (`"export:name"`, `"start:<start>"`, `"escaped:<escaped>"`), and each result's
//! `properties.entryPoints` names a table and the indices into it (`"0-4,7"`). A baseline reads
//! them back to tell a new entry point from a known one.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::rc::Rc;

use serde::Serialize;
use serde_json::Value;
use wasmgate_escape::sarif_text;

use super::FileReport;
use crate::finding::{EntryRef, Finding, FingerprintVersion, Kind, Level, Suppression, thousands};
use crate::rules::{self, Rule};

/// GitHub code scanning's limit on results per run. Every result counts, `kind: "pass"`
/// ones included; [`Limits::select`] is the one place it is applied.
pub const MAX_RESULTS: usize = 25_000;

/// GitHub code scanning's limit on locations per result (the longest array of locations a
/// result carries here is its witness, as `threadFlow` locations).
pub const MAX_LOCATIONS: usize = 1_000;

/// The whole log, borrowing the reports it renders.
#[derive(Serialize, Debug)]
pub struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool,
    column_kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<RunProperties<'a>>,
    results: Results<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    invocations: Vec<Invocation>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct RunProperties<'a> {
    wasmgate_entry_points: Rc<Vec<EntryTable<'a>>>,
}

/// The entry points of one binary that the run's results list, sorted.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct EntryTable<'a> {
    artifact: &'a str,
    #[serde(serialize_with = "entry_names")]
    entry_points: Vec<&'a EntryRef>,
}

fn entry_names<S: serde::Serializer>(v: &[&EntryRef], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|e| entry_key(e)))
}

/// `kind:name`: the kind is one of three words without a colon, so the first colon splits.
fn entry_key(e: &EntryRef) -> String {
    let kind = match e.kind {
        wasmgate_analyzer::EntryKind::Export => "export",
        wasmgate_analyzer::EntryKind::Start => "start",
        wasmgate_analyzer::EntryKind::Escaped => "escaped",
    };
    format!("{kind}:{}", e.name)
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize, Debug)]
struct Notification {
    level: &'static str,
    message: Message<'static>,
}

/// The results of the run, rendered one by one as they are written.
#[derive(Debug)]
struct Results<'a> {
    items: Vec<&'a Finding>,
    tables: Rc<Vec<EntryTable<'a>>>,
    table_of: BTreeMap<&'a str, usize>,
    catalogue: &'static [Rule],
    limits: Limits,
    with_baseline: bool,
}

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.items.iter().map(|f| {
            let entries = self
                .table_of
                .get(f.location.artifact.as_str())
                .map(|&t| (t, self.tables[t].entry_points.as_slice()));
            let mut r = result(f, entries, self.catalogue, self.limits);
            if self.with_baseline && r.baseline_state.is_none() {
                r.baseline_state = Some("new");
            }
            r
        }))
    }
}

#[derive(Serialize, Debug)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: String,
    semantic_version: String,
    information_uri: &'static str,
    rules: Vec<ReportingDescriptor>,
}

/// A rule of the catalogue. Its texts are ours (`rules/checks/`), not from a binary.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: String,
    name: String,
    short_description: CatalogueText,
    full_description: CatalogueText,
    help: CatalogueHelp,
    default_configuration: DefaultConfiguration,
    properties: RuleProperties,
}

#[derive(Serialize, Debug)]
struct CatalogueText {
    text: String,
}

#[derive(Serialize, Debug)]
struct CatalogueHelp {
    text: String,
    markdown: String,
}

#[derive(Serialize, Debug)]
struct DefaultConfiguration {
    level: &'static str,
}

#[derive(Serialize, Debug)]
struct RuleProperties {
    tags: Vec<String>,
    category: String,
}

/// Message text built from a finding: always escaped (control characters, `[`/`]` links).
#[derive(Serialize, Debug)]
struct Message<'a> {
    text: Cow<'a, str>,
}

impl<'a> Message<'a> {
    fn new(text: &'a str) -> Message<'a> {
        Message {
            text: sarif_text(text),
        }
    }

    fn owned(text: String) -> Message<'static> {
        Message {
            text: Cow::Owned(sarif_text(&text).into_owned()),
        }
    }
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    kind: &'static str,
    message: Message<'static>,
    /// Exactly one: the deciding policy line.
    locations: [PrimaryLocation<'a>; 1],
    related_locations: [BinaryLocation<'a>; 1],
    partial_fingerprints: BTreeMap<&'static str, &'a str>,
    properties: ResultProperties<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code_flows: Option<[CodeFlow<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressions: Option<[SarifSuppression<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_state: Option<&'static str>,
}

/// A location in a text file (the policy), with the line GitHub requires.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct PrimaryLocation<'a> {
    physical_location: TextPhysicalLocation,
    message: Message<'static>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation<'a>>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct TextPhysicalLocation {
    artifact_location: ArtifactLocation,
    region: LineRegion,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct LineRegion {
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
}

/// A location in the binary: the whole file or a byte range.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct BinaryLocation<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u32>,
    physical_location: BinaryPhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message<'a>>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct BinaryPhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<ByteRegion>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct ByteRegion {
    byte_offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte_length: Option<u64>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation<'a> {
    name: &'a str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fully_qualified_name: Option<String>,
    /// The mangled name, when `name` is its demangled form.
    #[serde(skip_serializing_if = "Option::is_none")]
    decorated_name: Option<&'a str>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct ResultProperties<'a> {
    subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry_points: Option<EntryIndices>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counterexample: Option<&'a Value>,
}

/// Which entries of a run's entry table a result lists: `"0-4,7"`, ascending.
#[derive(Serialize, Debug)]
struct EntryIndices {
    table: usize,
    indices: String,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct CodeFlow<'a> {
    message: Message<'static>,
    thread_flows: [ThreadFlow<'a>; 1],
}

#[derive(Serialize, Debug)]
struct ThreadFlow<'a> {
    locations: Vec<ThreadFlowLocation<'a>>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct ThreadFlowLocation<'a> {
    location: StepLocation<'a>,
    nesting_level: usize,
}

/// One hop of a witness path: a function by name; the last hop also points into the binary.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct StepLocation<'a> {
    logical_locations: [LogicalLocation<'a>; 1],
    message: Message<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<BinaryPhysicalLocation>,
}

#[derive(Serialize, Debug)]
struct SarifSuppression<'a> {
    kind: &'static str,
    status: &'static str,
    justification: &'a str,
}

/// What [`Limits::select`] left out of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Omitted {
    /// Findings in the reports.
    pub total: usize,
    /// Findings left out, per level (of those that count against the build).
    pub errors: usize,
    /// Warnings left out.
    pub warnings: usize,
    /// Notes left out.
    pub notes: usize,
    /// Suppressed (waived, baselined) and `pass` results left out.
    pub other: usize,
    /// Results whose witness was cut to [`MAX_LOCATIONS`] steps.
    pub cut_witnesses: usize,
}

impl Omitted {
    /// Results left out in all.
    pub fn results(&self) -> usize {
        self.errors + self.warnings + self.notes + self.other
    }
}

/// Code scanning's limits on one run: the one place [`MAX_RESULTS`] and [`MAX_LOCATIONS`]
/// are applied.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// At most this many results.
    pub results: usize,
    /// At most this many locations per result.
    pub locations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            results: MAX_RESULTS,
            locations: MAX_LOCATIONS,
        }
    }
}

/// Most severe first: what fails the build, then by level, then suppressed ones, then
/// `pass` results.
fn severity(f: &Finding) -> (bool, bool, Level) {
    (f.kind == Kind::Fail, f.suppressed.is_none(), f.level)
}

impl Limits {
    /// The findings a run keeps, in report order: all of them when they fit, else the
    /// [`Limits::results`] most severe (report order among equals).
    pub fn select<'a>(&self, findings: Vec<&'a Finding>) -> (Vec<&'a Finding>, Omitted) {
        let mut omitted = Omitted {
            total: findings.len(),
            ..Omitted::default()
        };
        let mut kept = findings;
        if kept.len() > self.results {
            let mut order: Vec<usize> = (0..kept.len()).collect();
            // Stable: equal severities keep report order.
            order.sort_by(|&a, &b| severity(kept[b]).cmp(&severity(kept[a])));
            let mut keep = vec![false; kept.len()];
            for &i in &order[..self.results] {
                keep[i] = true;
            }
            for &i in &order[self.results..] {
                let f = kept[i];
                match (severity(f), f.level) {
                    ((true, true, _), Level::Error) => omitted.errors += 1,
                    ((true, true, _), Level::Warning) => omitted.warnings += 1,
                    ((true, true, _), Level::Note) => omitted.notes += 1,
                    _ => omitted.other += 1,
                }
            }
            let mut i = 0;
            kept.retain(|_| {
                i += 1;
                keep[i - 1]
            });
        }
        omitted.cut_witnesses = kept
            .iter()
            .filter(|f| f.witness.len() > self.locations)
            .count();
        (kept, omitted)
    }
}

/// What a run left out, for a run-level notification; `None` when nothing was.
fn notification(o: &Omitted, limits: Limits) -> Vec<Notification> {
    let mut out = Vec::new();
    if o.results() > 0 {
        out.push(Notification {
            level: "warning",
            message: Message::owned(format!(
                "{} of {} results are left out of this run to stay within GitHub code \
                 scanning's limit of {} results per run: {} errors, {} warnings, {} notes and \
                 {} suppressed or passing results (the most severe are kept). The exit status \
                 counts every finding; `wasmgate check --format json` lists them all.",
                thousands(o.results()),
                thousands(o.total),
                thousands(limits.results),
                thousands(o.errors),
                thousands(o.warnings),
                thousands(o.notes),
                thousands(o.other)
            )),
        });
    }
    if o.cut_witnesses > 0 {
        out.push(Notification {
            level: "note",
            message: Message::owned(format!(
                "{} witness paths are cut to their first {} steps (GitHub's limit of locations \
                 per result); `wasmgate check --format json` shows them whole.",
                thousands(o.cut_witnesses),
                thousands(limits.locations)
            )),
        });
    }
    out
}

/// SARIF 2.1.0: the whole rule catalogue as `reportingDescriptor`s, one result per finding
/// within [`Limits::default`]. With a baseline, each result carries `baselineState` (`new`
/// or `unchanged`). Serialize the log to write it; results are built as they are written.
pub fn sarif<'a>(reports: &'a [FileReport], tool_version: &str, with_baseline: bool) -> Log<'a> {
    sarif_within(reports, tool_version, with_baseline, Limits::default())
}

/// [`sarif`] within other limits (tests use small ones).
pub fn sarif_within<'a>(
    reports: &'a [FileReport],
    tool_version: &str,
    with_baseline: bool,
    limits: Limits,
) -> Log<'a> {
    let catalogue = rules::catalogue();
    let all: Vec<&Finding> = reports.iter().flat_map(|r| &r.findings).collect();
    let (kept, omitted) = limits.select(all);
    // One entry table per binary, over the kept findings only.
    let mut tables: Vec<EntryTable> = Vec::new();
    let mut table_of: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &kept {
        // Only v3 baselines compare entry points; a per-entry (v2) result names its own.
        if f.entry_points.is_empty() || f.fingerprint_version != FingerprintVersion::V3 {
            continue;
        }
        let t = *table_of
            .entry(f.location.artifact.as_str())
            .or_insert_with(|| {
                tables.push(EntryTable {
                    artifact: f.location.artifact.as_str(),
                    entry_points: Vec::new(),
                });
                tables.len() - 1
            });
        tables[t].entry_points.extend(&f.entry_points);
    }
    for t in &mut tables {
        t.entry_points.sort_unstable();
        t.entry_points.dedup();
    }
    let tables = Rc::new(tables);
    Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "wasmgate",
                    version: tool_version.to_string(),
                    semantic_version: tool_version.to_string(),
                    information_uri: "https://example.invalid/wasmgate",
                    rules: catalogue.iter().map(descriptor).collect(),
                },
            },
            column_kind: "unicodeCodePoints",
            properties: (!tables.is_empty()).then(|| RunProperties {
                wasmgate_entry_points: tables.clone(),
            }),
            results: Results {
                items: kept,
                tables,
                table_of,
                catalogue,
                limits,
                with_baseline,
            },
            invocations: match notification(&omitted, limits) {
                n if n.is_empty() => Vec::new(),
                n => vec![Invocation {
                    execution_successful: true,
                    tool_execution_notifications: n,
                }],
            },
        }],
    }
}

fn descriptor(r: &Rule) -> ReportingDescriptor {
    let mut tags = r.tags.clone();
    if let Some(cwe) = &r.cwe {
        tags.push(format!("external/cwe/{}", cwe.to_ascii_lowercase()));
    }
    ReportingDescriptor {
        id: r.id.clone(),
        name: r.name.clone(),
        short_description: CatalogueText {
            text: r.summary.clone(),
        },
        full_description: CatalogueText {
            text: r.summary.clone(),
        },
        help: CatalogueHelp {
            text: r.docs.clone(),
            markdown: r.docs.clone(),
        },
        default_configuration: DefaultConfiguration {
            level: r.level.as_str(),
        },
        properties: RuleProperties {
            tags,
            category: r.category.clone(),
        },
    }
}

/// A relative path as a URI reference: `/` separators, every byte outside RFC 3986's
/// unreserved set and `/` percent-encoded (file names found by a walk are untrusted).
fn uri(path: &str) -> String {
    let p = path.replace('\\', "/");
    let p = p.trim_start_matches("./");
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Relative to `%SRCROOT%` (the working directory) when the path is relative, as GitHub
/// requires; an absolute `file://` URI otherwise (valid SARIF, but GitHub rejects it: run
/// `check` from the repository root with relative paths).
fn artifact_location(path: &str) -> ArtifactLocation {
    let p = path.replace('\\', "/");
    if p.starts_with('/') || p.get(1..3) == Some(":/") {
        let abs = if p.starts_with('/') {
            p
        } else {
            format!("/{p}")
        };
        ArtifactLocation {
            uri: format!("file://{}", uri(&abs)),
            uri_base_id: None,
        }
    } else {
        ArtifactLocation {
            uri: uri(&p),
            uri_base_id: Some("%SRCROOT%"),
        }
    }
}

fn binary_region(f: &Finding) -> Option<ByteRegion> {
    f.location.offset.map(|o| ByteRegion {
        byte_offset: o,
        byte_length: f.location.length,
    })
}

/// `"0-4,7"`: the positions of `entries` in `table` (both sorted), as ascending ranges.
pub(super) fn index_ranges(table: &[&EntryRef], entries: &[EntryRef]) -> String {
    let mut out = String::new();
    let mut run: Option<(usize, usize)> = None;
    let flush = |out: &mut String, (a, b): (usize, usize)| {
        if !out.is_empty() {
            out.push(',');
        }
        let _ = if a == b {
            write!(out, "{a}")
        } else {
            write!(out, "{a}-{b}")
        };
    };
    for e in entries {
        let Ok(i) = table.binary_search(&e) else {
            continue;
        };
        run = match run {
            Some((a, b)) if i == b + 1 => Some((a, i)),
            Some(r) => {
                flush(&mut out, r);
                Some((i, i))
            }
            None => Some((i, i)),
        };
    }
    if let Some(r) = run {
        flush(&mut out, r);
    }
    out
}

/// SARIF's `decoratedName` (the compiled, mangled form) when `name` was demangled.
fn decorated<'a>(f: &'a Finding, name: &'a str) -> Option<&'a str> {
    f.demangled.contains_key(name).then_some(name)
}

fn result<'a>(
    f: &'a Finding,
    entries: Option<(usize, &[&'a EntryRef])>,
    catalogue: &[Rule],
    limits: Limits,
) -> SarifResult<'a> {
    let mut logical = Vec::new();
    if let Some(e) = &f.location.entry_point {
        logical.push(LogicalLocation {
            name: f.readable(e),
            kind: "function",
            fully_qualified_name: Some(format!("{}!{e}", f.location.artifact)),
            decorated_name: decorated(f, e),
        });
    }
    if let Some(func) = &f.location.function {
        logical.push(LogicalLocation {
            name: f.readable(func),
            kind: "function",
            fully_qualified_name: None,
            decorated_name: decorated(f, func),
        });
    }
    if let Some(m) = &f.location.module {
        logical.push(LogicalLocation {
            name: m,
            kind: "module",
            fully_qualified_name: None,
            decorated_name: None,
        });
    }
    let primary = PrimaryLocation {
        physical_location: TextPhysicalLocation {
            artifact_location: artifact_location(&f.policy.file),
            region: LineRegion {
                start_line: f.policy.line,
                start_column: f.policy.column,
                end_line: f.policy.end_line,
                end_column: f.policy.end_column.max(f.policy.column),
            },
        },
        message: Message::owned(format!("decided by the policy: {}", f.policy.text)),
        logical_locations: logical,
    };
    let binary = BinaryLocation {
        id: Some(1),
        physical_location: BinaryPhysicalLocation {
            artifact_location: artifact_location(&f.location.artifact),
            region: binary_region(f),
        },
        message: Some(Message::owned(format!(
            "the binary ({})",
            match (&f.location.offset, &f.location.function) {
                (Some(_), Some(func)) => format!("call instruction in `{}`", f.readable(func)),
                (Some(_), None) => "import entry".to_string(),
                _ => "whole file".to_string(),
            }
        ))),
    };
    let code_flows = (!f.witness.is_empty()).then(|| {
        let last = f.witness.len() - 1;
        let locations = f
            .witness
            .iter()
            .enumerate()
            .take(limits.locations)
            .map(|(i, node)| ThreadFlowLocation {
                location: StepLocation {
                    logical_locations: [LogicalLocation {
                        name: f.readable(node),
                        kind: "function",
                        fully_qualified_name: None,
                        decorated_name: decorated(f, node),
                    }],
                    message: Message::new(f.readable(node)),
                    physical_location: (i == last).then(|| BinaryPhysicalLocation {
                        artifact_location: artifact_location(&f.location.artifact),
                        region: f.location.offset.map(|o| ByteRegion {
                            byte_offset: o,
                            byte_length: None,
                        }),
                    }),
                },
                nesting_level: i,
            })
            .collect();
        [CodeFlow {
            message: Message::owned(format!("witness call path ({last} calls)")),
            thread_flows: [ThreadFlow { locations }],
        }]
    });
    let (suppressions, baseline_state) = match &f.suppressed {
        Some(Suppression::Waiver { reason, .. }) => (
            Some([SarifSuppression {
                kind: "external",
                status: "accepted",
                justification: reason,
            }]),
            None,
        ),
        Some(Suppression::Baseline) => (None, Some("unchanged")),
        None => (None, None),
    };
    SarifResult {
        rule_id: &f.rule,
        rule_index: catalogue.iter().position(|r| r.id == f.rule),
        // SARIF 2.1.0 §3.27.10: a result of kind `pass` has level `none`.
        level: match f.kind {
            Kind::Fail => f.level.as_str(),
            Kind::Pass => "none",
        },
        kind: match f.kind {
            Kind::Fail => "fail",
            Kind::Pass => "pass",
        },
        message: Message::owned(format!("{}: {}", f.location.artifact, f.message)),
        locations: [primary],
        related_locations: [binary],
        partial_fingerprints: BTreeMap::from([(
            f.fingerprint_version.key(),
            f.fingerprint.as_str(),
        )]),
        properties: ResultProperties {
            subject: &f.subject,
            entry_points: entries
                .filter(|_| {
                    !f.entry_points.is_empty() && f.fingerprint_version == FingerprintVersion::V3
                })
                .map(|(table, t)| EntryIndices {
                    table,
                    indices: index_ranges(t, &f.entry_points),
                }),
            counterexample: f.counterexample.as_ref(),
        },
        code_flows,
        suppressions,
        baseline_state,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::finding::{Location, PolicyRef};

    fn finding(level: Level, kind: Kind, witness: usize) -> Finding {
        Finding {
            rule: "WG0001".into(),
            name: "capability-not-allowed".into(),
            level,
            kind,
            message: format!("{level:?} {kind:?}"),
            subject: "random".into(),
            location: Location {
                artifact: "a.wasm".into(),
                ..Location::default()
            },
            entry_points: Vec::new(),
            witness: (0..witness).map(|i| Arc::from(format!("f{i}"))).collect(),
            demangled: Default::default(),
            policy: PolicyRef {
                file: "p.toml".into(),
                line: 1,
                column: 1,
                end_line: 1,
                end_column: 2,
                text: "x".into(),
            },
            counterexample: None,
            fingerprint: format!("{level:?}{kind:?}"),
            fingerprint_version: FingerprintVersion::V3,
            suppressed: None,
        }
    }

    /// The result cap keeps the most severe (a `pass` result counts toward it but goes
    /// first), the location cap cuts witnesses, and a notification says each.
    #[test]
    fn limits_keep_the_most_severe_and_say_what_was_left_out() {
        let findings = vec![
            finding(Level::Note, Kind::Fail, 0),
            finding(Level::Error, Kind::Pass, 0),
            finding(Level::Error, Kind::Fail, 5),
            finding(Level::Warning, Kind::Fail, 0),
        ];
        let reports = [FileReport {
            artifact: "a.wasm".into(),
            policy: "p.toml".into(),
            findings,
        }];
        let limits = Limits {
            results: 2,
            locations: 3,
        };
        let log = serde_json::to_value(sarif_within(&reports, "0", false, limits)).unwrap();
        let run = &log["runs"][0];
        let kept: Vec<(&str, &str)> = run["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["level"].as_str().unwrap(), r["kind"].as_str().unwrap()))
            .collect();
        assert_eq!(kept, [("error", "fail"), ("warning", "fail")]);
        let steps = &run["results"][0]["codeFlows"][0]["threadFlows"][0]["locations"];
        assert_eq!(steps.as_array().unwrap().len(), 3);
        let notes: Vec<&str> = run["invocations"][0]["toolExecutionNotifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["message"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].starts_with("2 of 4 results are left out")
                && notes[0].contains("0 errors, 0 warnings, 1 notes and 1 suppressed or passing"),
            "{}",
            notes[0]
        );
        assert!(
            notes[1].starts_with("1 witness paths are cut"),
            "{}",
            notes[1]
        );

        // Within the limits: everything, and no invocation at all.
        let log = serde_json::to_value(sarif(&reports, "0", false)).unwrap();
        assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 4);
        assert!(log["runs"][0].get("invocations").is_none());
    }
}
