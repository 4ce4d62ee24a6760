//! Renders findings: human text, JSON, SARIF 2.1.0; reads a SARIF baseline back.
//!
//! SARIF is built with `serde_json::json!` rather than the `serde-sarif` crate: that crate
//! generates every SARIF type from the schema in a build script (schemafy, syn, prettyplease,
//! typed-builder, strum), a heavy build on our two-core CI for the dozen objects we emit.
//! The SARIF Multitool test (`tests/all/policy_check.rs`) validates the output against the
//! SARIF schema and GitHub's ingestion rules instead.
//!
//! **What carries `region.startLine`.** GitHub code scanning requires a text line on every
//! result, and a `.wasm` has none (DWARF line info is not used yet). The primary location of
//! each result is therefore the *policy line that decided it* (a text file in the repository,
//! so the alert opens at the rule to change or waive), and the binary is the first related
//! location, with `byteOffset`/`byteLength` of the import entry or call instruction.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde::Serialize;
use serde_json::{Value, json};

use crate::finding::{Finding, Kind, Level, Suppression};
use crate::rules;

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
    pub findings: Vec<Finding>,
}

/// Counts of findings that count against the build (not suppressed) per level.
#[derive(Serialize, Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
    pub suppressed: usize,
}

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
        let _ = write!(
            s,
            "{}: {} finding{} (policy {})",
            r.artifact,
            active.len(),
            if active.len() == 1 { "" } else { "s" },
            r.policy
        );
        if suppressed > 0 {
            let _ = write!(s, ", {suppressed} suppressed");
        }
        s.push('\n');
        for f in &active {
            let _ = writeln!(
                s,
                "  {}[{} {}]: {}",
                f.level.as_str(),
                f.rule,
                f.name,
                f.message
            );
            let mut at = format!("    at: {}", f.location.artifact);
            if let Some(o) = f.location.offset {
                let _ = write!(at, " @ {o:#x}");
            }
            if let Some(func) = &f.location.function {
                let _ = write!(at, " in `{func}`");
            }
            let _ = writeln!(s, "{at}");
            if !f.witness.is_empty() {
                let _ = writeln!(s, "    witness: {}", f.witness.join(" -> "));
            }
            let _ = writeln!(
                s,
                "    policy: {}:{}:{}: {}",
                f.policy.file, f.policy.line, f.policy.column, f.policy.text
            );
        }
        for f in r.findings.iter().filter(|f| f.suppressed.is_some()) {
            let why = match &f.suppressed {
                Some(Suppression::Waiver { reason, policy }) => {
                    format!("waived at {}:{}: {reason}", policy.file, policy.line)
                }
                _ => "in the baseline".to_string(),
            };
            let _ = writeln!(
                s,
                "  suppressed[{} {}] {}: {why}",
                f.rule, f.name, f.subject
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

/// SARIF 2.1.0: the whole rule catalogue as `reportingDescriptor`s, one result per finding.
/// With a baseline, each result carries `baselineState` (`new` or `unchanged`).
pub fn sarif(reports: &[FileReport], tool_version: &str, with_baseline: bool) -> Value {
    let catalogue = rules::catalogue();
    let descriptors: Vec<Value> = catalogue
        .iter()
        .map(|r| {
            let mut tags = r.tags.clone();
            if let Some(cwe) = &r.cwe {
                tags.push(format!("external/cwe/{}", cwe.to_ascii_lowercase()));
            }
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": r.summary},
                "help": {"text": r.docs, "markdown": r.docs},
                "defaultConfiguration": {"level": r.level.as_str()},
                "properties": {"tags": tags, "category": r.category},
            })
        })
        .collect();
    let mut results = Vec::new();
    for report in reports {
        for f in &report.findings {
            let mut r = sarif_result(f, catalogue);
            if with_baseline && r.get("baselineState").is_none() {
                r["baselineState"] = json!("new");
            }
            results.push(r);
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "wasmgate",
                "version": tool_version,
                "semanticVersion": tool_version,
                "informationUri": "https://example.invalid/wasmgate",
                "rules": descriptors,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

/// A relative path as a URI reference (`/` separators, spaces and `%` escaped).
fn uri(path: &str) -> String {
    let mut out = String::new();
    for c in path.replace('\\', "/").chars() {
        match c {
            ' ' => out.push_str("%20"),
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            c => out.push(c),
        }
    }
    out.trim_start_matches("./").to_string()
}

/// A SARIF `artifactLocation`: relative to `%SRCROOT%` (the working directory) when the path
/// is relative, as GitHub requires; an absolute `file://` URI otherwise (valid SARIF, but
/// GitHub rejects it: run `check` from the repository root with relative paths).
fn artifact_location(path: &str) -> Value {
    let p = path.replace('\\', "/");
    if p.starts_with('/') || p.get(1..3) == Some(":/") {
        let abs = if p.starts_with('/') {
            p
        } else {
            format!("/{p}")
        };
        json!({"uri": format!("file://{}", uri(&abs))})
    } else {
        json!({"uri": uri(&p), "uriBaseId": "%SRCROOT%"})
    }
}

fn sarif_result(f: &Finding, catalogue: &[rules::Rule]) -> Value {
    let rule_index = catalogue.iter().position(|r| r.id == f.rule);
    let mut logical = Vec::new();
    if let Some(e) = &f.location.entry_point {
        logical.push(json!({"name": e, "kind": "function", "fullyQualifiedName": format!("{}!{e}", f.location.artifact)}));
    }
    if let Some(func) = &f.location.function {
        logical.push(json!({"name": func, "kind": "function"}));
    }
    if let Some(m) = &f.location.module {
        logical.push(json!({"name": m, "kind": "module"}));
    }
    let mut primary = json!({
        "physicalLocation": {
            "artifactLocation": artifact_location(&f.policy.file),
            "region": {
                "startLine": f.policy.line,
                "startColumn": f.policy.column,
                "endLine": f.policy.end_line,
                "endColumn": f.policy.end_column.max(f.policy.column),
            },
        },
        "message": {"text": format!("decided by the policy: {}", f.policy.text)},
    });
    if !logical.is_empty() {
        primary["logicalLocations"] = Value::Array(logical);
    }
    let mut binary = json!({
        "id": 1,
        "physicalLocation": {
            "artifactLocation": artifact_location(&f.location.artifact),
        },
        "message": {"text": format!("the binary ({})", match (&f.location.offset, &f.location.function) {
            (Some(_), Some(func)) => format!("call instruction in `{func}`"),
            (Some(_), None) => "import entry".to_string(),
            _ => "whole file".to_string(),
        })},
    });
    if let Some(o) = f.location.offset {
        let mut region = json!({"byteOffset": o});
        if let Some(l) = f.location.length {
            region["byteLength"] = json!(l);
        }
        binary["physicalLocation"]["region"] = region;
    }
    let mut result = json!({
        "ruleId": f.rule,
        "level": f.level.as_str(),
        "kind": match f.kind { Kind::Fail => "fail", Kind::Pass => "pass" },
        "message": {"text": format!("{}: {}", f.location.artifact, f.message)},
        "locations": [primary],
        "relatedLocations": [binary],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": {"subject": f.subject},
    });
    if let Some(i) = rule_index {
        result["ruleIndex"] = json!(i);
    }
    if !f.witness.is_empty() {
        let steps: Vec<Value> = f
            .witness
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let mut loc = json!({
                    "logicalLocations": [{"name": node, "kind": "function"}],
                    "message": {"text": node},
                });
                if i + 1 == f.witness.len() {
                    loc["physicalLocation"] = json!({
                        "artifactLocation": artifact_location(&f.location.artifact),
                    });
                    if let Some(o) = f.location.offset {
                        loc["physicalLocation"]["region"] = json!({"byteOffset": o});
                    }
                }
                json!({"location": loc, "nestingLevel": i})
            })
            .collect();
        result["codeFlows"] = json!([{
            "message": {"text": format!("witness call path ({} calls)", f.witness.len() - 1)},
            "threadFlows": [{"locations": steps}],
        }]);
    }
    if let Some(c) = &f.counterexample {
        result["properties"]["counterexample"] = c.clone();
    }
    match &f.suppressed {
        Some(Suppression::Waiver { reason, .. }) => {
            result["suppressions"] =
                json!([{"kind": "external", "status": "accepted", "justification": reason}]);
        }
        Some(Suppression::Baseline) => result["baselineState"] = json!("unchanged"),
        None => {}
    }
    result
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

/// Fingerprints of the failing results of a previous SARIF run (`--baseline`).
pub fn baseline_fingerprints(sarif: &[u8]) -> Result<Baseline, String> {
    let log: SarifLog =
        serde_json::from_slice(sarif).map_err(|e| format!("not a SARIF log: {e}"))?;
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

/// Fills `location.length` for findings on a core module: the length of the `call` /
/// `return_call` instruction or of the function import entry at `offset`. The analyzer
/// records offsets only; decoding one LEB128 (or two names) here is cheaper than widening its
/// JSON contract. Anything that does not decode as expected keeps `length` unset.
pub fn fill_lengths(findings: &mut [Finding], bytes: &[u8], is_component: bool) {
    if is_component {
        return;
    }
    for f in findings {
        let Some(off) = f.location.offset.and_then(|o| usize::try_from(o).ok()) else {
            continue;
        };
        let len = if f.location.function.is_some() {
            call_length(bytes, off)
        } else {
            import_length(bytes, off)
        };
        f.location.length = len.map(|l| l as u64);
    }
}

/// Length of an unsigned LEB128 at `at` (at most 5 bytes for a u32).
fn leb_u32(bytes: &[u8], at: usize) -> Option<(u32, usize)> {
    let mut v: u32 = 0;
    for i in 0..5 {
        let b = *bytes.get(at + i)?;
        v |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn call_length(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        0x10 | 0x12 => leb_u32(bytes, at + 1).map(|(_, n)| 1 + n),
        _ => None,
    }
}

fn import_length(bytes: &[u8], at: usize) -> Option<usize> {
    let mut p = at;
    for _ in 0..2 {
        let (len, n) = leb_u32(bytes, p)?;
        p = p.checked_add(n)?.checked_add(len as usize)?;
    }
    // Function imports: kind 0x00 then a type index.
    if *bytes.get(p)? != 0x00 {
        return None;
    }
    let (_, n) = leb_u32(bytes, p + 1)?;
    Some(p + 1 + n - at)
}
