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

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;
use wasmgate_escape::sarif_text;

use super::{FINGERPRINT_KEY, FileReport};
use crate::finding::{Finding, Kind, Suppression};
use crate::rules::{self, Rule};

/// The whole log.
#[derive(Serialize, Debug)]
pub struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    column_kind: &'static str,
    results: Vec<SarifResult>,
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
struct Message {
    text: String,
}

impl Message {
    fn new(text: &str) -> Message {
        Message {
            text: sarif_text(text).into_owned(),
        }
    }
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    kind: &'static str,
    message: Message,
    /// Exactly one: the deciding policy line.
    locations: [PrimaryLocation; 1],
    related_locations: Vec<BinaryLocation>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: ResultProperties,
    #[serde(skip_serializing_if = "Option::is_none")]
    code_flows: Option<Vec<CodeFlow>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressions: Option<Vec<SarifSuppression>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_state: Option<&'static str>,
}

/// A location in a text file (the policy), with the line GitHub requires.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct PrimaryLocation {
    physical_location: TextPhysicalLocation,
    message: Message,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
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
struct BinaryLocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u32>,
    physical_location: BinaryPhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message>,
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
struct LogicalLocation {
    name: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fully_qualified_name: Option<String>,
}

#[derive(Serialize, Debug)]
struct ResultProperties {
    subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    counterexample: Option<Value>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct CodeFlow {
    message: Message,
    thread_flows: [ThreadFlow; 1],
}

#[derive(Serialize, Debug)]
struct ThreadFlow {
    locations: Vec<ThreadFlowLocation>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct ThreadFlowLocation {
    location: StepLocation,
    nesting_level: usize,
}

/// One hop of a witness path: a function by name; the last hop also points into the binary.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct StepLocation {
    logical_locations: [LogicalLocation; 1],
    message: Message,
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<BinaryPhysicalLocation>,
}

#[derive(Serialize, Debug)]
struct SarifSuppression {
    kind: &'static str,
    status: &'static str,
    justification: String,
}

/// SARIF 2.1.0: the whole rule catalogue as `reportingDescriptor`s, one result per finding.
/// With a baseline, each result carries `baselineState` (`new` or `unchanged`).
pub fn sarif(reports: &[FileReport], tool_version: &str, with_baseline: bool) -> Log {
    let catalogue = rules::catalogue();
    let results = reports
        .iter()
        .flat_map(|r| &r.findings)
        .map(|f| {
            let mut r = result(f, catalogue);
            if with_baseline && r.baseline_state.is_none() {
                r.baseline_state = Some("new");
            }
            r
        })
        .collect();
    Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: vec![Run {
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
            results,
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

fn result(f: &Finding, catalogue: &[Rule]) -> SarifResult {
    let mut logical = Vec::new();
    if let Some(e) = &f.location.entry_point {
        logical.push(LogicalLocation {
            name: e.clone(),
            kind: "function",
            fully_qualified_name: Some(format!("{}!{e}", f.location.artifact)),
        });
    }
    if let Some(func) = &f.location.function {
        logical.push(LogicalLocation {
            name: func.clone(),
            kind: "function",
            fully_qualified_name: None,
        });
    }
    if let Some(m) = &f.location.module {
        logical.push(LogicalLocation {
            name: m.clone(),
            kind: "module",
            fully_qualified_name: None,
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
        message: Message::new(&format!("decided by the policy: {}", f.policy.text)),
        logical_locations: logical,
    };
    let binary = BinaryLocation {
        id: Some(1),
        physical_location: BinaryPhysicalLocation {
            artifact_location: artifact_location(&f.location.artifact),
            region: binary_region(f),
        },
        message: Some(Message::new(&format!(
            "the binary ({})",
            match (&f.location.offset, &f.location.function) {
                (Some(_), Some(func)) => format!("call instruction in `{func}`"),
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
            .map(|(i, node)| ThreadFlowLocation {
                location: StepLocation {
                    logical_locations: [LogicalLocation {
                        name: node.to_string(),
                        kind: "function",
                        fully_qualified_name: None,
                    }],
                    message: Message::new(node),
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
        vec![CodeFlow {
            message: Message::new(&format!("witness call path ({last} calls)")),
            thread_flows: [ThreadFlow { locations }],
        }]
    });
    let (suppressions, baseline_state) = match &f.suppressed {
        Some(Suppression::Waiver { reason, .. }) => (
            Some(vec![SarifSuppression {
                kind: "external",
                status: "accepted",
                justification: reason.clone(),
            }]),
            None,
        ),
        Some(Suppression::Baseline) => (None, Some("unchanged")),
        None => (None, None),
    };
    SarifResult {
        rule_id: f.rule.clone(),
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
        message: Message::new(&format!("{}: {}", f.location.artifact, f.message)),
        locations: [primary],
        related_locations: vec![binary],
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, f.fingerprint.clone())]),
        properties: ResultProperties {
            subject: f.subject.clone(),
            counterexample: f.counterexample.clone(),
        },
        code_flows,
        suppressions,
        baseline_state,
    }
}
