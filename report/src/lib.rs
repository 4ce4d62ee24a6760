//! Audit reports: one document a reviewer can read without running anything.
//!
//! The data flow is `bytes -> Analysis -> Findings -> AuditReport -> Markdown / HTML / JSON /
//! CycloneDX`. [`audit_one`] builds the report data of one binary from its [`Analysis`] and
//! the findings of a policy check (it never re-reads the binary: the custom-section payloads
//! it needs, `.dep-v0` and the `wasm-metadata` fields, are kept by the analyzer); the
//! renderers ([`markdown`], [`html`], [`json`], [`cyclonedx`]) only format that data. A batch
//! driver calls [`audit_one`] per binary and renders or caches the result.
//!
//! Everything from the binary is hostile text: each renderer passes it through the one
//! escaping function of its output kind (`wasmgate-escape`), and every list that grows with
//! the binary (entry points, graph nodes, WIT lines) is capped with an honest "N more".
#![warn(missing_docs)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use wasmgate_analyzer::{Analysis, BinaryKind, CustomSection, Reach};
use wasmgate_policy::{Finding, Kind, Level};

pub mod deps;
pub mod graph;
mod html;
mod index;
mod markdown;
mod render;
mod sbom;

pub use deps::{Crate, DepError, parse_dep_v0};
pub use graph::Graph;
pub use html::html;
pub use index::{Index, IndexEntry, index_html, index_json, index_markdown};
pub use markdown::markdown;
pub use sbom::cyclonedx;

/// Version of the JSON report shape; fields are only added within one version.
pub const SCHEMA_VERSION: u32 = 1;

/// Entry point names listed per capability or finding (the count is always given).
pub const MAX_LISTED_ENTRY_POINTS: usize = 5;

/// Entry point names kept per finding in the JSON report (the count is always given).
pub const MAX_JSON_ENTRY_POINTS: usize = 100;

/// Lines of the WIT world shown (the count of the rest is given).
pub const MAX_WIT_LINES: usize = 400;

/// Characters of a `wasm-metadata` field shown.
pub const MAX_METADATA_CHARS: usize = 2_000;

/// Custom sections whose presence says the binary carries a signature (wasmsign2 and the
/// WebAssembly signatures proposal). The signature is not verified.
pub const SIGNATURE_SECTIONS: &[&str] = &["signature", "signature_delimiter"];

/// The decision at the top of a report, by the policy's levels.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No error or warning counts after waivers: the binary may be used as it is.
    Accept,
    /// Warnings count, or no policy decided: a person must look.
    Review,
    /// At least one error counts.
    Reject,
}

impl Verdict {
    /// `accept`, `review` or `reject`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Review => "review",
            Verdict::Reject => "reject",
        }
    }

    /// The verdict of several binaries: the worst one, `review` when there are none, and
    /// `reject` when some binary could not be analysed (it cannot be trusted).
    pub fn overall(verdicts: impl Iterator<Item = Verdict>, any_failed: bool) -> Verdict {
        if any_failed {
            Verdict::Reject
        } else {
            verdicts.max().unwrap_or(Verdict::Review)
        }
    }
}

/// What [`audit_one`] reads.
#[derive(Debug, Clone, Copy)]
pub struct AuditInput<'a> {
    /// The binary as named on the command line.
    pub artifact: &'a str,
    /// Its analysis (either witness form).
    pub analysis: &'a Analysis,
    /// The policy applied and the findings of checking the binary against it; `None` when
    /// no policy was given (the verdict is then `review`).
    pub policy: Option<(&'a str, &'a [Finding])>,
    /// An older version of the binary (its name and analysis), for the static diff.
    pub previous: Option<(&'a str, &'a Analysis)>,
}

/// The report of one binary: everything the renderers show, nothing they compute.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct AuditReport {
    /// The binary as named on the command line.
    pub artifact: String,
    /// The decision.
    pub verdict: Verdict,
    /// Why, in one sentence.
    pub verdict_reason: String,
    /// The policy file, when one was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// What the binary is.
    pub identity: Identity,
    /// Crates from cargo-auditable's `.dep-v0` section.
    pub dependencies: Dependencies,
    /// The WIT world of a component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wit: Option<String>,
    /// One row per capability some entry point reaches, sorted by capability.
    pub capabilities: Vec<CapabilityRow>,
    /// Entry points -> collapsed internal functions -> imports, capped.
    pub graph: Graph,
    /// Findings, most severe first (then rule, subject).
    pub findings: Vec<FindingView>,
    /// Documentation of each rule that has a finding, by id.
    pub rules: Vec<RuleDoc>,
    /// `[[calls]]` verdicts of the SMT checker, when the policy has constraints.
    pub smt: Vec<SmtVerdict>,
    /// Against `--previous`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<StaticDiff>,
    /// The dynamic section (`wasmgate run`).
    pub dynamic: Dynamic,
    /// The analyzer's warnings.
    pub warnings: Vec<String>,
}

/// Identity of a binary.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Identity {
    /// File size in bytes.
    pub size: u64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// `module` or `component`.
    pub kind: BinaryKind,
    /// `producers` entries of the binary and every embedded module, deduplicated.
    pub producers: Vec<ProducerRow>,
    /// `wasm-metadata` fields (`authors`, `licenses`, `source`, `revision`, `version`...)
    /// of the binary itself, by field.
    pub metadata: BTreeMap<String, String>,
    /// Custom sections of the binary and every embedded module, in binary order.
    pub custom_sections: Vec<SectionRow>,
    /// A section of [`SIGNATURE_SECTIONS`] is present (the signature is not verified).
    pub signature_section: bool,
    /// Wasm proposals used by any core module.
    pub features: Vec<String>,
}

/// One `producers` entry.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProducerRow {
    /// `language`, `processed-by` or `sdk`.
    pub field: String,
    /// Tool or language.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// One custom section.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct SectionRow {
    /// Embedded module holding it (`module[0]`), or none for the binary itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Section name.
    pub name: String,
    /// Payload size in bytes.
    pub size: u64,
}

/// The dependency list, when the binary carries one.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "lowercase", tag = "status")]
pub enum Dependencies {
    /// No `.dep-v0` section.
    Absent,
    /// The crates it lists.
    Listed {
        /// Embedded module holding the section, or none for the binary itself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        module: Option<String>,
        /// Crates, sorted.
        crates: Vec<Crate>,
    },
    /// The section is there but could not be read.
    Unreadable {
        /// Why.
        reason: String,
    },
}

/// Whether the policy allows a capability.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "lowercase", tag = "status")]
pub enum PolicyStatus {
    /// No finding is about it.
    Allowed,
    /// Findings about it count (their rule ids).
    Denied {
        /// Rule ids.
        rules: Vec<String>,
    },
    /// Every finding about it is waived or in the baseline.
    Waived,
    /// No policy was applied.
    Unchecked,
}

/// One capability: who reaches it and one way how.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct CapabilityRow {
    /// Capability name.
    pub capability: String,
    /// Entry points reaching it.
    pub entry_point_count: usize,
    /// The first [`MAX_LISTED_ENTRY_POINTS`] of them, by name.
    pub entry_points: Vec<String>,
    /// The shortest witness among them.
    pub witness: Vec<String>,
    /// What the policy says.
    pub policy: PolicyStatus,
}

/// A finding as a report shows it: its entry point list capped.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct FindingView {
    /// Rule id.
    pub rule: String,
    /// Rule name.
    pub name: String,
    /// Level after the policy's `[levels]`.
    pub level: Level,
    /// `fail` or `pass`.
    pub kind: Kind,
    /// One sentence (untrusted names inside).
    pub message: String,
    /// What it is about.
    pub subject: String,
    /// Entry points it is about.
    pub entry_point_count: usize,
    /// The first [`MAX_JSON_ENTRY_POINTS`] of them.
    pub entry_points: Vec<String>,
    /// Shortest call path, when there is one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub witness: Vec<String>,
    /// Byte offset in the binary, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// `file:line` of the policy entry that decided it.
    pub policy: String,
    /// Why it does not count, if it does not (`waiver: reason` or `baseline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
    /// Counterexample from the SMT checker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<serde_json::Value>,
}

/// Documentation of a rule (from `rules/checks/`, trusted Markdown).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct RuleDoc {
    /// Rule id.
    pub id: String,
    /// Rule name.
    pub name: String,
    /// One sentence.
    pub summary: String,
    /// What it does / Why it matters / Example / How to fix.
    pub docs: String,
}

/// One `[[calls]]` verdict.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct SmtVerdict {
    /// `proven`, `violated` or `unproven`.
    pub verdict: String,
    /// The constrained import (and site).
    pub subject: String,
    /// The checker's sentence.
    pub message: String,
}

/// What changed against `--previous`.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct StaticDiff {
    /// The older binary as named.
    pub previous: String,
    /// Capabilities reached now and not before, each with a witness from the new binary.
    pub capabilities_added: Vec<CapabilityChange>,
    /// Capabilities reached before and not now.
    pub capabilities_removed: Vec<String>,
    /// Import ids added.
    pub imports_added: Vec<String>,
    /// Import ids removed.
    pub imports_removed: Vec<String>,
    /// Export names added.
    pub exports_added: Vec<String>,
    /// Export names removed.
    pub exports_removed: Vec<String>,
    /// Wasm features added.
    pub features_added: Vec<String>,
    /// Wasm features removed.
    pub features_removed: Vec<String>,
}

/// A capability gained, with how.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct CapabilityChange {
    /// Capability name.
    pub capability: String,
    /// Shortest witness in the new binary.
    pub witness: Vec<String>,
}

/// The dynamic section.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum Dynamic {
    /// The binary was not run.
    NotRun {
        /// Why, and how to get the section.
        reason: String,
    },
    /// The binary was run in the sandbox, once per run of a scenario file.
    Ran {
        /// The scenario file.
        scenario: String,
        /// One per scenario run, in file order.
        runs: Vec<DynamicRun>,
    },
}

/// Denied host calls listed per run (the count is always given).
pub const MAX_DENIED_LISTED: usize = 50;

/// One sandboxed run: what happened, compared with what the static analysis predicted.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DynamicRun {
    /// The run's name in the scenario file.
    pub name: String,
    /// The outcome the scenario expects.
    pub expect: String,
    /// How the run ended (`exit(0)`, `trap: ...`, a limit).
    pub outcome: String,
    /// Whether the outcome is the expected one.
    pub matched: bool,
    /// Host calls made.
    pub host_calls: usize,
    /// Host calls per capability of the called import (`none` for imports without one).
    pub calls_by_capability: BTreeMap<String, usize>,
    /// Calls the sandbox refused for lack of authority, the first [`MAX_DENIED_LISTED`].
    pub denied: Vec<DeniedCall>,
    /// How many calls were refused.
    pub denied_count: usize,
    /// Capabilities the analysis predicted for the entry that ran but no call of the run used.
    pub predicted_unobserved: Vec<String>,
    /// Imports called that the analysis did not predict (an analyzer soundness bug).
    pub unpredicted: Vec<String>,
}

/// A host call the sandbox refused.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DeniedCall {
    /// Import id, `module#name`.
    pub call: String,
    /// The result the guest got, as compact JSON (`{"errno":"notcapable"}`).
    pub result: String,
}

/// Several binaries' reports with the overall verdict (the worst).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Audit {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// wasmgate's version.
    pub wasmgate_version: String,
    /// The worst verdict of the binaries.
    pub verdict: Verdict,
    /// One report per binary, in command-line order.
    pub binaries: Vec<AuditReport>,
    /// Binaries that could not be read or parsed (the others are still reported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<Failure>,
}

/// A binary of the run that has no report, and why.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The binary as named on the command line.
    pub artifact: String,
    /// The error, naming the file and, for malformed Wasm, the byte offset.
    pub error: String,
}

impl Audit {
    /// The reports of a run, with their overall verdict.
    pub fn new(wasmgate_version: &str, binaries: Vec<AuditReport>) -> Self {
        Self::with_failures(wasmgate_version, binaries, Vec::new())
    }

    /// The reports of a run in which some binaries could not be analysed: a binary that
    /// cannot be analysed cannot be trusted, so any failure makes the verdict `reject`.
    pub fn with_failures(
        wasmgate_version: &str,
        binaries: Vec<AuditReport>,
        failed: Vec<Failure>,
    ) -> Self {
        let verdict = Verdict::overall(binaries.iter().map(|b| b.verdict), !failed.is_empty());
        Audit {
            schema_version: SCHEMA_VERSION,
            wasmgate_version: wasmgate_version.to_string(),
            verdict,
            binaries,
            failed,
        }
    }

    /// How many binaries the run named (reported or failed).
    pub fn count(&self) -> usize {
        self.binaries.len() + self.failed.len()
    }
}

/// The facts of one sandboxed run as list items, names escaped by `esc`: shared by the
/// Markdown and HTML renderers so both say the same.
pub(crate) fn dynamic_lines(r: &DynamicRun, esc: &dyn Fn(&str) -> String) -> Vec<String> {
    let none = || "none".to_string();
    let join = |v: &[String]| {
        if v.is_empty() {
            none()
        } else {
            v.iter().map(|x| esc(x)).collect::<Vec<_>>().join(", ")
        }
    };
    let by_cap: Vec<String> = r
        .calls_by_capability
        .iter()
        .map(|(c, n)| format!("{}: {}", esc(c), thousands(*n)))
        .collect();
    let mut denied: Vec<String> = r
        .denied
        .iter()
        .map(|d| format!("{} → {}", esc(&d.call), esc(&d.result)))
        .collect();
    if r.denied_count > r.denied.len() {
        denied.push(format!(
            "… and {} more",
            thousands(r.denied_count - r.denied.len())
        ));
    }
    let mut lines = vec![
        format!(
            "Host calls: {}{}",
            thousands(r.host_calls),
            if by_cap.is_empty() {
                String::new()
            } else {
                format!(" ({})", by_cap.join(", "))
            }
        ),
        format!(
            "Denied attempts: {}{}",
            thousands(r.denied_count),
            if denied.is_empty() {
                String::new()
            } else {
                format!(" ({})", denied.join("; "))
            }
        ),
        format!(
            "Predicted but not observed: {}",
            join(&r.predicted_unobserved)
        ),
    ];
    if !r.unpredicted.is_empty() {
        lines.push(format!(
            "Called but not predicted (analyzer soundness bug): {}",
            join(&r.unpredicted)
        ));
    }
    lines
}

/// Writes the JSON report (pretty, arrays sorted as built).
pub fn json(audit: &Audit, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, audit)?;
    writeln!(w)
}

/// Builds the report data of one binary.
pub fn audit_one(input: AuditInput<'_>) -> AuditReport {
    let a = input.analysis;
    let findings = input.policy.map_or(&[][..], |(_, f)| f);
    let (verdict, verdict_reason) = verdict(input.policy.is_some(), findings);
    let mut views: Vec<FindingView> = findings.iter().map(view).collect();
    views.sort_by(|x, y| {
        y.level
            .cmp(&x.level)
            .then_with(|| (&x.rule, &x.subject, &x.message).cmp(&(&y.rule, &y.subject, &y.message)))
    });
    let rule_ids: BTreeSet<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    let rules = rule_ids
        .into_iter()
        .filter_map(wasmgate_policy::rules::find)
        .map(|r| RuleDoc {
            id: r.id.clone(),
            name: r.name.clone(),
            summary: r.summary.clone(),
            docs: r.docs.clone(),
        })
        .collect();
    AuditReport {
        artifact: input.artifact.to_string(),
        verdict,
        verdict_reason,
        policy: input.policy.map(|(p, _)| p.to_string()),
        identity: identity(a),
        dependencies: dependencies(a),
        wit: a.component.as_ref().and_then(|c| c.wit.clone()),
        capabilities: capability_rows(a, input.policy.map(|(_, f)| f)),
        graph: graph::build(a),
        findings: views,
        rules,
        smt: smt(findings),
        diff: input.previous.map(|(name, old)| diff(name, old, a)),
        dynamic: Dynamic::NotRun {
            reason: "wasmgate audit does not run the binary; `wasmgate run` records its host \
                     calls under a policy's sandbox grants"
                .into(),
        },
        warnings: a.warnings.clone(),
    }
}

fn verdict(has_policy: bool, findings: &[Finding]) -> (Verdict, String) {
    let count = |level| {
        findings
            .iter()
            .filter(|f| wasmgate_policy::counts(f, level) && f.level == level)
            .count()
    };
    let (errors, warnings) = (count(Level::Error), count(Level::Warning));
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    if !has_policy {
        (
            Verdict::Review,
            "no policy was applied, so nothing decided what the binary may do".into(),
        )
    } else if errors > 0 {
        (
            Verdict::Reject,
            format!(
                "{} and {} count after waivers",
                plural(errors, "error"),
                plural(warnings, "warning")
            ),
        )
    } else if warnings > 0 {
        (
            Verdict::Review,
            format!("{} count after waivers", plural(warnings, "warning")),
        )
    } else {
        (
            Verdict::Accept,
            "no error or warning counts after waivers".into(),
        )
    }
}

fn view(f: &Finding) -> FindingView {
    FindingView {
        rule: f.rule.clone(),
        name: f.name.clone(),
        level: f.level,
        kind: f.kind,
        message: f.message.clone(),
        subject: f.subject.clone(),
        entry_point_count: f.entry_points.len(),
        entry_points: f
            .entry_points
            .iter()
            .take(MAX_JSON_ENTRY_POINTS)
            .map(|e| e.name.to_string())
            .collect(),
        witness: f.witness.iter().map(|s| s.to_string()).collect(),
        offset: f.location.offset,
        policy: format!("{}:{}", f.policy.file, f.policy.line),
        suppressed: f.suppressed.as_ref().map(|s| match s {
            wasmgate_policy::Suppression::Waiver { reason, .. } => format!("waiver: {reason}"),
            wasmgate_policy::Suppression::Baseline => "baseline".into(),
        }),
        counterexample: f.counterexample.clone(),
    }
}

fn smt(findings: &[Finding]) -> Vec<SmtVerdict> {
    use wasmgate_policy::rules::id;
    let mut out: Vec<SmtVerdict> = findings
        .iter()
        .filter_map(|f| {
            let verdict = if f.rule == id::CALL_ARGUMENT_VIOLATED {
                if f.kind == Kind::Pass {
                    "proven"
                } else {
                    "violated"
                }
            } else if f.rule == id::CALL_ARGUMENT_UNPROVEN {
                "unproven"
            } else {
                return None;
            };
            Some(SmtVerdict {
                verdict: verdict.into(),
                subject: f.subject.clone(),
                message: f.message.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.subject, &a.verdict).cmp(&(&b.subject, &b.verdict)));
    out
}

/// The sections of the binary itself: a component's own, or the module's.
fn own_sections(a: &Analysis) -> &[CustomSection] {
    match (&a.module, &a.component) {
        (Some(m), _) => &m.custom_sections,
        (None, Some(c)) => &c.custom_sections,
        (None, None) => &[],
    }
}

fn identity(a: &Analysis) -> Identity {
    let mut producers = BTreeSet::new();
    let mut sections = Vec::new();
    if let Some(c) = &a.component {
        for p in &c.producers {
            producers.insert((p.field.clone(), p.name.clone(), p.version.clone()));
        }
        for s in &c.custom_sections {
            sections.push(SectionRow {
                module: None,
                name: s.name.clone(),
                size: s.size,
            });
        }
    }
    let mut features = BTreeSet::new();
    for (path, m) in a.core_modules() {
        for p in &m.producers {
            producers.insert((p.field.clone(), p.name.clone(), p.version.clone()));
        }
        for s in &m.custom_sections {
            sections.push(SectionRow {
                module: path.map(str::to_string),
                name: s.name.clone(),
                size: s.size,
            });
        }
        features.extend(m.features.iter().cloned());
    }
    let mut metadata = BTreeMap::new();
    for s in own_sections(a) {
        if s.name == ".dep-v0" || !wasmgate_analyzer::KEPT_SECTIONS.contains(&s.name.as_str()) {
            continue;
        }
        let text = match &s.payload {
            Some(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                let mut shown: String = text.chars().take(MAX_METADATA_CHARS).collect();
                if shown.len() < text.len() {
                    shown.push_str(&format!(" [{} bytes in all]", bytes.len()));
                }
                shown
            }
            None => format!("[not read: {} bytes, over the size cap]", s.size),
        };
        metadata.insert(s.name.clone(), text);
    }
    let signature_section = sections
        .iter()
        .any(|s| SIGNATURE_SECTIONS.contains(&s.name.as_str()));
    Identity {
        size: a.size,
        sha256: a.sha256.clone(),
        kind: a.kind,
        producers: producers
            .into_iter()
            .map(|(field, name, version)| ProducerRow {
                field,
                name,
                version,
            })
            .collect(),
        metadata,
        custom_sections: sections,
        signature_section,
        features: features.into_iter().collect(),
    }
}

fn dependencies(a: &Analysis) -> Dependencies {
    let own = own_sections(a).iter().map(|s| (None, s));
    let embedded = a
        .component
        .iter()
        .flat_map(|c| &c.modules)
        .flat_map(|m| m.module.custom_sections.iter().map(|s| (Some(&m.path), s)));
    let Some((module, section)) = own.chain(embedded).find(|(_, s)| s.name == ".dep-v0") else {
        return Dependencies::Absent;
    };
    let Some(payload) = &section.payload else {
        return Dependencies::Unreadable {
            reason: format!(
                "section of {} bytes is over the {}-byte cap",
                section.size,
                wasmgate_analyzer::MAX_KEPT_PAYLOAD
            ),
        };
    };
    match parse_dep_v0(payload) {
        Ok(crates) => Dependencies::Listed {
            module: module.cloned(),
            crates,
        },
        Err(e) => Dependencies::Unreadable {
            reason: e.to_string(),
        },
    }
}

/// Every (entry point index, reach) of the analysis, from either witness form.
pub(crate) fn reaches(a: &Analysis) -> Vec<(usize, &Reach)> {
    let mut out: Vec<(usize, &Reach)> = Vec::new();
    for (i, e) in a.entry_points.iter().enumerate() {
        out.extend(e.reaches.iter().map(|r| (i, r)));
    }
    for s in &a.shared_reaches {
        out.extend(s.entry_points.iter().map(|&i| (i as usize, &s.witness)));
    }
    out
}

fn capability_rows(a: &Analysis, findings: Option<&[Finding]>) -> Vec<CapabilityRow> {
    struct Acc<'a> {
        entries: BTreeSet<usize>,
        witness: Option<&'a Reach>,
    }
    let mut by_cap: BTreeMap<&str, Acc<'_>> = BTreeMap::new();
    for (i, r) in reaches(a) {
        let acc = by_cap.entry(&r.capability).or_insert(Acc {
            entries: BTreeSet::new(),
            witness: None,
        });
        acc.entries.insert(i);
        if acc
            .witness
            .is_none_or(|w| (r.path.len(), &r.path) < (w.path.len(), &w.path))
        {
            acc.witness = Some(r);
        }
    }
    // Findings about each capability, by subject.
    let mut about: HashMap<&str, Vec<&Finding>> = HashMap::new();
    for f in findings.unwrap_or(&[]) {
        if f.kind == Kind::Fail {
            about.entry(&f.subject).or_default().push(f);
        }
    }
    by_cap
        .into_iter()
        .map(|(cap, acc)| {
            let mut names: Vec<&str> = acc
                .entries
                .iter()
                .map(|&i| a.entry_points[i].name.as_str())
                .collect();
            names.sort_unstable();
            let policy = match (findings, about.get(cap)) {
                (None, _) => PolicyStatus::Unchecked,
                (Some(_), None) => PolicyStatus::Allowed,
                (Some(_), Some(fs)) => {
                    let rules: BTreeSet<&str> = fs
                        .iter()
                        .filter(|f| f.suppressed.is_none())
                        .map(|f| f.rule.as_str())
                        .collect();
                    if rules.is_empty() {
                        PolicyStatus::Waived
                    } else {
                        PolicyStatus::Denied {
                            rules: rules.into_iter().map(str::to_string).collect(),
                        }
                    }
                }
            };
            CapabilityRow {
                capability: cap.to_string(),
                entry_point_count: names.len(),
                entry_points: names
                    .iter()
                    .take(MAX_LISTED_ENTRY_POINTS)
                    .map(|s| s.to_string())
                    .collect(),
                witness: acc
                    .witness
                    .map(|w| w.path.iter().map(|s| s.to_string()).collect())
                    .unwrap_or_default(),
                policy,
            }
        })
        .collect()
}

fn diff(previous: &str, old: &Analysis, new: &Analysis) -> StaticDiff {
    fn split<T: Ord + Clone>(old: &BTreeSet<T>, new: &BTreeSet<T>) -> (Vec<T>, Vec<T>) {
        (
            new.difference(old).cloned().collect(),
            old.difference(new).cloned().collect(),
        )
    }
    let caps = |a: &Analysis| -> BTreeSet<String> {
        reaches(a)
            .iter()
            .map(|(_, r)| r.capability.clone())
            .collect()
    };
    let imports =
        |a: &Analysis| -> BTreeSet<String> { a.imports.iter().map(|i| i.id.clone()).collect() };
    let exports =
        |a: &Analysis| -> BTreeSet<String> { a.exports.iter().map(|e| e.name.clone()).collect() };
    let features = |a: &Analysis| -> BTreeSet<String> {
        a.core_modules()
            .flat_map(|(_, m)| m.features.iter().cloned())
            .collect()
    };
    let (caps_added, capabilities_removed) = split(&caps(old), &caps(new));
    let rows = capability_rows(new, None);
    let capabilities_added = caps_added
        .into_iter()
        .map(|c| CapabilityChange {
            witness: rows
                .iter()
                .find(|r| r.capability == c)
                .map(|r| r.witness.clone())
                .unwrap_or_default(),
            capability: c,
        })
        .collect();
    let (imports_added, imports_removed) = split(&imports(old), &imports(new));
    let (exports_added, exports_removed) = split(&exports(old), &exports(new));
    let (features_added, features_removed) = split(&features(old), &features(new));
    StaticDiff {
        previous: previous.to_string(),
        capabilities_added,
        capabilities_removed,
        imports_added,
        imports_removed,
        exports_added,
        exports_removed,
        features_added,
        features_removed,
    }
}

/// `1,234,567`: counts are read by people.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// At most `max` characters of `s`, with `…` when cut (before escaping, so an escape is
/// never cut in half).
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::Verdict::{self, Accept, Reject, Review};

    #[test]
    fn overall_verdict_is_the_worst_and_a_failure_rejects() {
        let overall = |v: &[Verdict], failed| Verdict::overall(v.iter().copied(), failed);
        assert_eq!(overall(&[Accept, Accept], false), Accept);
        assert_eq!(overall(&[Accept, Review], false), Review);
        assert_eq!(overall(&[Reject, Review, Accept], false), Reject);
        // Nothing audited decides nothing: a person must look.
        assert_eq!(overall(&[], false), Review);
        assert_eq!(overall(&[Accept], true), Reject);
        assert_eq!(overall(&[], true), Reject);
    }
}
