//! `Finding`: the one shape every check produces and every output format renders.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmgate_analyzer::EntryKind;

/// How serious a finding is. Ordered: `note < warning < error`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing; fails only with `--fail-on note`.
    Note,
    /// Likely a problem; fails with `--fail-on warning`.
    Warning,
    /// A violation; fails the check by default.
    Error,
}

impl Level {
    /// The lowercase name used in every output (`note`, `warning`, `error`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// Whether the finding is a violation or a proof that held (SARIF `kind`).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    /// A violation (the default).
    Fail,
    /// A property proven to hold (the SMT checker's results); never fails a build.
    Pass,
}

/// Where in the binary a finding is.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// The binary, as given on the command line (relative to the working directory).
    pub artifact: String,
    /// Byte offset of the import entry, call instruction, export... when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Byte length of what `offset` points at, when known.
    pub length: Option<u64>,
    /// Function holding the offending instruction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Entry point (export name, `<start>`, `<escaped>`) the finding is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_point: Option<String>,
    /// What kind of entry point `entry_point` is: an export may be *named* `<start>`, only
    /// this tells it from the start function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_kind: Option<EntryKind>,
    /// Embedded core module of a component (`module[0]`), when the finding is inside one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

/// The policy entry that decided a finding.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyRef {
    /// Policy file, as given (relative to the working directory when it was).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// 1-based line where the deciding entry ends.
    pub end_line: u32,
    /// 1-based column where it ends.
    pub end_column: u32,
    /// The text of the deciding line, trimmed.
    pub text: String,
}

/// Why a finding does not count against the build.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Suppression {
    /// A policy waiver.
    Waiver {
        /// The waiver's reason.
        reason: String,
        /// Where the waiver is.
        policy: PolicyRef,
    },
    /// Present in the `--baseline` SARIF.
    Baseline,
}

/// An entry point a finding is about. The name is shared with every other finding that
/// lists the same entry point (one allocation per entry point, not per finding).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryRef {
    /// Export, start function or escaped references.
    pub kind: EntryKind,
    /// Export name, `<start>` or `<escaped>`.
    pub name: Arc<str>,
}

/// Which fingerprint a finding carries: what its hash covers and how a baseline compares it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum FingerprintVersion {
    /// `wasmgateFinding/v2`, per-entry findings (`check --per-entry`): rule, artifact, entry
    /// point (kind and name) and subject.
    V2,
    /// `wasmgateFinding/v3`, aggregated findings (the default): rule, artifact and subject
    /// only; the entry points are compared as a set against the baseline's.
    #[default]
    V3,
}

impl FingerprintVersion {
    /// The SARIF `partialFingerprints` key.
    pub fn key(self) -> &'static str {
        match self {
            FingerprintVersion::V2 => "wasmgateFinding/v2",
            FingerprintVersion::V3 => "wasmgateFinding/v3",
        }
    }
}

/// One result of checking a binary against a policy.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Rule id, `WG0001`.
    pub rule: String,
    /// Rule name, `capability-not-allowed`.
    pub name: String,
    /// Level after the policy's `[levels]`.
    pub level: Level,
    #[serde(default)]
    /// Violation or proof.
    pub kind: Kind,
    /// One sentence for people; names in it are escaped by each renderer.
    pub message: String,
    /// What the finding is about and what a waiver's `target` matches: a capability, an
    /// import id, an export name, a feature, `memory[0]`...
    pub subject: String,
    /// Where in the binary.
    pub location: Location,
    /// Every entry point the finding is about, sorted: all the entry points that reach the
    /// subject (aggregated), or the one entry point (`--per-entry`). Empty for findings about
    /// the binary as a whole or about an import (whose `location.entry_point` names the
    /// entry point of the witness).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<EntryRef>,
    /// Shortest call path from the entry point to the import, when there is one. Aggregated
    /// findings carry one: from the entry point nearest the import (`location.entry_point`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub witness: Vec<std::sync::Arc<str>>,
    /// Readable forms of the mangled names among `witness`, `location.function` and
    /// `location.entry_point`, keyed by the raw name (Rust and C++ symbols; see
    /// [`crate::demangle`]). Reports for people show these; the raw names stay where they are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub demangled: BTreeMap<String, String>,
    /// The policy entry that decided it.
    pub policy: PolicyRef,
    /// A concrete input that breaks the property (SMT checker); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<serde_json::Value>,
    /// Stable across runs and rebuilds: rule, artifact, subject and (v2 only) entry point, no
    /// offsets.
    pub fingerprint: String,
    /// What `fingerprint` hashes.
    #[serde(default)]
    pub fingerprint_version: FingerprintVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Set when a waiver or the baseline suppresses it (it then never fails a check).
    pub suppressed: Option<Suppression>,
}

impl Finding {
    /// `name` as people should read it: its demangled form when it has one.
    pub fn readable<'a>(&'a self, name: &'a str) -> &'a str {
        self.demangled.get(name).map_or(name, String::as_str)
    }
}

/// `1,234,567`: counts in messages are read by people.
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

/// The fingerprint of a finding: what it is about, never where the bytes happen to be.
/// The entry point counts with its kind, so an export named `<start>` cannot stand for the
/// start function (baseline spoofing). Each part is length-prefixed, so names holding the
/// separator cannot shift text from one part into the next.
pub fn fingerprint(
    rule: &str,
    artifact: &str,
    entry: Option<(EntryKind, &str)>,
    subject: &str,
) -> String {
    let kind = match entry.map(|(k, _)| k) {
        None => "",
        Some(EntryKind::Export) => "export",
        Some(EntryKind::Start) => "start",
        Some(EntryKind::Escaped) => "escaped",
    };
    let mut h = Sha256::new();
    for part in [rule, artifact, kind, entry.map_or("", |(_, n)| n), subject] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for b in &h.finalize()[..16] {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: fingerprints hashed the entry point's name only, so an export named
    /// `<start>` or `<escaped>` had the fingerprint of the real start or escaped entry.
    #[test]
    fn reserved_entry_names_do_not_collide_with_real_entries() {
        let fp = |kind, name| fingerprint("WG0001", "app.wasm", Some((kind, name)), "fs.read");
        assert_ne!(
            fp(EntryKind::Export, "<start>"),
            fp(EntryKind::Start, "<start>")
        );
        assert_ne!(
            fp(EntryKind::Export, "<escaped>"),
            fp(EntryKind::Escaped, "<escaped>")
        );
        assert_eq!(
            fp(EntryKind::Start, "<start>"),
            fp(EntryKind::Start, "<start>")
        );
    }

    #[test]
    fn thousands_are_grouped() {
        let got: Vec<String> = [0, 7, 999, 1_000, 65_169, 1_234_567]
            .into_iter()
            .map(thousands)
            .collect();
        assert_eq!(got, ["0", "7", "999", "1,000", "65,169", "1,234,567"]);
    }

    /// Regression: parts were joined with NUL, so a NUL moved between an (attacker-named)
    /// entry point and subject gave the same fingerprint.
    #[test]
    fn parts_cannot_shift_into_each_other() {
        let a = fingerprint("WG0002", "x.wasm", Some((EntryKind::Export, "e\0m#f")), "n");
        let b = fingerprint("WG0002", "x.wasm", Some((EntryKind::Export, "e")), "m#f\0n");
        assert_ne!(a, b);
        assert_ne!(
            fingerprint("WG0002", "x.wasm", None, "s"),
            fingerprint("WG0002", "x.wasm", Some((EntryKind::Export, "")), "s")
        );
    }
}
