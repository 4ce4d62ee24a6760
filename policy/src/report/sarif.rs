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

use super::{Failed, FileReport};
use crate::finding::{EntryRef, Finding, FingerprintVersion, Kind, Level, Suppression, thousands};
use crate::rules::{self, Rule};

mod build;
mod limits;

pub(super) use build::index_ranges;
use build::result;
pub use build::{sarif, sarif_within};
pub use limits::{Limits, Omitted};

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

#[cfg(test)]
mod tests;
