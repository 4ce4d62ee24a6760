//! Building the SARIF log from the reports: the rule catalogue as descriptors, and one result
//! per finding with its policy line, binary region, witness and entry points. Kept apart
//! from the types so that [`super`] reads as the shape of the log and this as how it is filled.

use super::limits::notification;
use super::*;

/// SARIF 2.1.0: the whole rule catalogue as `reportingDescriptor`s, one result per finding
/// within [`Limits::default`]. With a baseline, each result carries `baselineState` (`new`
/// or `unchanged`). Each binary that could not be checked is an error notification of the
/// run, which is then not `executionSuccessful`. Serialize the log to write it; results are
/// built as they are written.
pub fn sarif<'a>(
    reports: &'a [FileReport],
    failed: &[Failed],
    tool_version: &str,
    with_baseline: bool,
) -> Log<'a> {
    sarif_within(
        reports,
        failed,
        tool_version,
        with_baseline,
        Limits::default(),
    )
}

/// [`sarif`] within other limits (tests use small ones).
pub fn sarif_within<'a>(
    reports: &'a [FileReport],
    failed: &[Failed],
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
            invocations: {
                let mut n: Vec<Notification> = failed.iter().map(not_checked).collect();
                n.extend(notification(&omitted, limits));
                if n.is_empty() {
                    Vec::new()
                } else {
                    vec![Invocation {
                        execution_successful: failed.is_empty(),
                        tool_execution_notifications: n,
                    }]
                }
            },
        }],
    }
}

/// The notification for a binary that could not be checked.
fn not_checked(f: &Failed) -> Notification {
    Notification {
        level: "error",
        message: Message::owned(format!(
            "{} could not be checked (policy {}): {}",
            f.artifact, f.policy, f.error
        )),
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
pub(in crate::report) fn index_ranges(table: &[&EntryRef], entries: &[EntryRef]) -> String {
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

pub(super) fn result<'a>(
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
