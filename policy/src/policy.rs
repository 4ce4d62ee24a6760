//! The policy language: types, and the two-phase loader.
//!
//! Phase 1 parses the TOML keeping spans (`toml-span`) and checks its shape: unknown keys and
//! wrong types (`shape`, `sections`, against the lists in `keys`). Phase 2 validates the
//! values (capability names, import globs, dates, rule names: `validate`) and resolves
//! `extends` (`read`, `merge`). Both phases collect every problem before giving up, so one
//! run shows all of them, each pointing at its TOML line and column.
//!
//! Precedence, the one rule every command uses: **deny beats allow**. Anything a policy does
//! not allow is denied (zero trust).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml_span::value::{Key, ValueInner};
use toml_span::{Span, Value};
use wasmgate_analyzer::{CapabilityTable, glob_match, strip_version};

use crate::pattern::{self, Pattern};

use crate::diag::{self, Diagnostic, Source};
use crate::{Date, Level, rules};

pub use bounds::{Bounds, GlobalRange};

/// Where a value was written: a policy file (index into [`ValidPolicy::sources`]) and span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Index into [`ValidPolicy::sources`].
    pub file: usize,
    /// Byte range in that file.
    pub span: Range<usize>,
}

/// A value with its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub at: Origin,
}

/// An allow list (absent = nothing listed) and a deny list.
#[derive(Debug, Clone, Default)]
pub struct AllowDeny {
    /// `None` when the policy does not say; what that means depends on the list.
    pub allow: Option<At<Vec<At<String>>>>,
    /// Entries that deny (deny beats allow).
    pub deny: Vec<At<String>>,
}

/// `[exports.restrict]`: exports matching `export` may reach only `capabilities`. A table
/// entry (`name = [...]`) is one restriction; a group (`[[exports.restrict]]`) is one per
/// pattern of its `exports`, all with the group's capabilities. An export matching several
/// restrictions must satisfy each (it may reach only what all of them allow).
#[derive(Debug, Clone)]
pub struct Restriction {
    /// Export name pattern (where it is written: the table entry, or the group's pattern).
    pub export: At<String>,
    /// The only capabilities (patterns) the matching exports may reach.
    pub capabilities: Vec<At<String>>,
}

/// `[limits]`.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// `max_memory_pages`: largest allowed memory, in 64 KiB pages.
    pub max_memory_pages: Option<At<u64>>,
    /// `max_table_elements`: largest allowed table.
    pub max_table_elements: Option<At<u64>>,
    /// Defaults to true: a memory must declare its maximum.
    pub require_memory_maximum: Option<At<bool>>,
}

/// `[[calls]]`: a constraint on the arguments a call site passes to an import. `check`
/// gives it a verdict per call site (the SMT checker): proven, violated or unknown.
#[derive(Debug, Clone)]
pub struct CallConstraint {
    /// Import pattern `<module>#<name>` the constraint applies to.
    pub import: At<String>,
    /// Which argument: a core-ABI index, or a parameter name (`fd`, `argN`).
    pub arg: ArgRef,
    /// Allowed values (empty: any value the other keys allow).
    pub one_of: Vec<u64>,
    /// Smallest allowed value (unsigned).
    pub min: Option<u64>,
    /// Largest allowed value (unsigned).
    pub max: Option<u64>,
    /// Bits that must be clear in the value.
    pub bits_clear: Option<u64>,
    /// Bits that must be set in the value.
    pub bits_set: Option<u64>,
    /// Solver time limit per query, in milliseconds (`--smt-timeout` wins).
    pub timeout_ms: Option<u64>,
    /// Where the constraint was written.
    pub at: Origin,
}

/// Which argument of an import a `[[calls]]` constraint is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgRef {
    /// 0-based core-ABI parameter index (`arg = 0`, `arg = "arg0"`).
    Index(u32),
    /// A parameter name from the known signatures (`arg = "fd"`).
    Name(String),
}

/// Access mode of a preopened directory.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    #[default]
    /// Read-only.
    Ro,
    /// Read and write.
    Rw,
}

/// A directory the sandbox harness preopens.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Preopen {
    /// Host path, relative to the policy file.
    pub host: String,
    /// Path the guest sees.
    pub guest: String,
    #[serde(default)]
    /// Read-only or read-write.
    pub mode: Access,
}

/// Grants for the sandbox harness. Closed by default: no preopens, no environment, no
/// network; the limits are unset (the harness applies its own defaults).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxGrants {
    /// Host directories the guest may see.
    pub preopens: Vec<Preopen>,
    /// Environment variable names passed through.
    pub env: Vec<String>,
    /// `host:port` patterns the guest may connect to.
    pub network: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Fuel for one run.
    pub fuel: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Largest linear memory, in bytes.
    pub memory_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Wall-clock limit of one run, in milliseconds.
    pub time_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Largest output of one run, in bytes.
    pub output_bytes: Option<u64>,
}

/// `[[waivers]]`: suppresses the findings of `rule` whose subject matches `target`.
#[derive(Debug, Clone)]
pub struct Waiver {
    /// Rule id.
    pub rule: String,
    /// Glob over the finding's subject (capability, import id, export, feature...).
    pub target: String,
    /// Why the findings are accepted (mandatory).
    pub reason: String,
    /// Date after which the waiver no longer applies and is itself a finding.
    pub expires: Option<Date>,
    /// Where the waiver was written.
    pub at: Origin,
}

/// Level of a rule as set by `[levels]`: a level, or `off`.
pub type LevelSetting = Option<Level>;

/// One policy file as written (phase 1), before `extends` is resolved.
#[derive(Debug, Clone, Default)]
struct PolicyFile {
    extends: Option<At<String>>,
    widen: Vec<At<String>>,
    assume_no_reentry: Option<At<bool>>,
    capabilities: AllowDeny,
    imports: AllowDeny,
    features: AllowDeny,
    restrict: Vec<Restriction>,
    required_exports: Vec<At<String>>,
    forbidden_exports: Vec<At<String>>,
    limits: Limits,
    bounds: Bounds,
    calls: Vec<CallConstraint>,
    sandbox: Option<At<SandboxGrants>>,
    waivers: Vec<Waiver>,
    levels: BTreeMap<String, At<LevelSetting>>,
    /// Span of each top-level key, to point at a section when no entry decided.
    sections: BTreeMap<String, Range<usize>>,
}

/// A loaded, validated policy with `extends` resolved.
#[derive(Debug, Clone)]
pub struct ValidPolicy {
    /// Every file read: the policy first, then its ancestors.
    pub sources: Vec<Source>,
    /// `[capabilities]`.
    pub capabilities: AllowDeny,
    /// `[imports]`.
    pub imports: AllowDeny,
    /// `[features]`.
    pub features: AllowDeny,
    /// `[exports.restrict]`.
    pub restrict: Vec<Restriction>,
    /// `exports.required`.
    pub required_exports: Vec<At<String>>,
    /// `exports.forbidden`.
    pub forbidden_exports: Vec<At<String>>,
    /// `[limits]`.
    pub limits: Limits,
    /// `[bounds]`.
    pub bounds: Bounds,
    /// `[[calls]]`.
    pub calls: Vec<CallConstraint>,
    /// `[sandbox]`.
    pub sandbox: SandboxGrants,
    /// Where `[sandbox]` was written (its preopen paths are relative to that file).
    pub sandbox_origin: Option<Origin>,
    /// `[[waivers]]`.
    pub waivers: Vec<Waiver>,
    /// `[levels]`, by rule id.
    pub levels: BTreeMap<String, At<LevelSetting>>,
    /// `assume_no_reentry`: analyse as if no import called back into the module (unsound
    /// for JavaScript hosts; widening in a child policy).
    pub assume_no_reentry: Option<At<bool>>,
    sections: BTreeMap<String, Origin>,
}

impl ValidPolicy {
    /// The policy file itself.
    pub fn path(&self) -> &Path {
        &self.sources[0].path
    }

    /// Where a top-level section is written (the nearest file defining it), else the start
    /// of the policy file: the place to point at when zero trust decided by omission.
    pub fn section(&self, name: &str) -> Origin {
        self.sections.get(name).cloned().unwrap_or(Origin {
            file: 0,
            span: 0..0,
        })
    }

    /// The analyzer options this policy asks for: read before analysing a binary.
    pub fn analysis_options(&self) -> wasmgate_analyzer::Options {
        wasmgate_analyzer::Options {
            assume_no_reentry: self.assume_no_reentry.as_ref().is_some_and(|a| a.value),
            ..Default::default()
        }
    }

    /// The level a rule reports at under this policy (`None`: switched off).
    pub fn level(&self, rule: &rules::Rule) -> LevelSetting {
        match self.levels.get(&rule.id) {
            Some(l) => l.value,
            None => Some(rule.level),
        }
    }
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A policy file (or one it extends) could not be read.
    #[error("reading policy {path}")]
    Io {
        /// The policy that could not be read.
        path: PathBuf,
        #[source]
        /// Why.
        source: std::io::Error,
    },
    /// The policy has problems; `rendered` shows each with line, column and caret.
    #[error("policy {} has {} error{}", path.display(), diagnostics.len() + omitted, if diagnostics.len() + omitted == 1 { "" } else { "s" })]
    Invalid {
        /// The policy file.
        path: PathBuf,
        /// The first [`diag::MAX_DIAGNOSTICS_PER_FILE`] problems of each file.
        diagnostics: Vec<Diagnostic>,
        /// How many more problems there were.
        omitted: usize,
        /// Every source file of the chain (for rendering).
        sources: Vec<Source>,
        /// The diagnostics, rendered with carets.
        rendered: String,
    },
    /// The built-in capability table did not load.
    #[error("capability table: {0}")]
    Capabilities(String),
}

/// Whether an import pattern `<module>#<name>` matches an import. A pattern whose module has
/// no `@version` matches every version of the module.
/// The pattern syntax is [`crate::pattern`]'s: `\` escapes `*`, `#` and itself.
pub fn import_matches(pattern: &str, module: &str, name: &str) -> bool {
    let Some((pm, pn)) = pattern::split_import(pattern) else {
        return false;
    };
    let m = if pm.contains('@') {
        module
    } else {
        strip_version(module)
    };
    pattern::matches(pm, m) && pattern::matches(pn, name)
}

/// Splits an import id `<module>#<name>`.
pub fn split_import_id(id: &str) -> (&str, &str) {
    id.split_once('#').unwrap_or((id, ""))
}

mod bounds;
mod keys;
mod merge;
mod read;
mod sections;
mod shape;
mod validate;

pub use keys::{ACCEPTED_KEYS, DEFAULT_FEATURES, FEATURES, WIDEN_KINDS};
use keys::{PATTERN_NOTE, WIDEN_LIMITS, keys_of};
pub(crate) use merge::lexical;
pub(crate) use read::read_policy_file;
pub use read::{MAX_POLICY_BYTES, load, load_str};

struct Loader {
    sources: Vec<Source>,
    diags: Diags,
    vocabulary: Vec<String>,
}

/// The loader's diagnostics: at most [`diag::MAX_DIAGNOSTICS_PER_FILE`] kept per file (a
/// file of a million bad entries must not hold a million rendered notes), the rest counted.
#[derive(Default)]
struct Diags {
    list: Vec<Diagnostic>,
    kept: Vec<usize>,
    omitted: Vec<usize>,
}

impl Diags {
    fn push(&mut self, d: Diagnostic) {
        let file = d.file;
        self.push_with(file, || d);
    }

    /// Builds the diagnostic only when it is kept (a million of them cost time to format).
    fn push_with(&mut self, file: usize, d: impl FnOnce() -> Diagnostic) {
        if self.kept.len() <= file {
            self.kept.resize(file + 1, 0);
            self.omitted.resize(file + 1, 0);
        }
        if self.kept[file] < diag::MAX_DIAGNOSTICS_PER_FILE {
            self.kept[file] += 1;
            self.list.push(d());
        } else {
            self.omitted[file] += 1;
        }
    }
}

/// Upper bound on the number of TOML values in `text`: every value but the first of a
/// document follows one of `,` `=` `[` `{`. Counted over the raw text, strings and comments
/// included, so no quoting trick can hide values from it. Returns the offset where the count
/// passes `max`, if it does.
fn values_beyond(text: &str, max: usize) -> Option<usize> {
    value_marks(text).nth(max)
}

/// Offsets of the characters [`values_beyond`] counts.
fn value_marks(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter(|(_, b)| matches!(b, b',' | b'=' | b'[' | b'{'))
        .map(|(i, _)| i)
}

type Chain = (PolicyFile, Vec<(usize, PolicyFile)>);

#[cfg(test)]
mod tests;
