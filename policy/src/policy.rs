//! The policy language: types, and the two-phase loader.
//!
//! Phase 1 parses the TOML keeping spans (`toml-span`) and checks its shape: unknown keys and
//! wrong types. Phase 2 validates the values (capability names, import globs, dates, rule
//! names) and resolves `extends`. Both phases collect every problem before giving up, so one
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

/// Where a value was written: a policy file (index into [`ValidPolicy::sources`]) and span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: usize,
    pub span: Range<usize>,
}

/// A value with its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At<T> {
    pub value: T,
    pub at: Origin,
}

/// An allow list (absent = nothing listed) and a deny list.
#[derive(Debug, Clone, Default)]
pub struct AllowDeny {
    /// `None` when the policy does not say; what that means depends on the list.
    pub allow: Option<At<Vec<At<String>>>>,
    pub deny: Vec<At<String>>,
}

/// `[exports.restrict]`: exports matching `export` may reach only `capabilities`.
#[derive(Debug, Clone)]
pub struct Restriction {
    pub export: At<String>,
    pub capabilities: Vec<At<String>>,
}

/// `[limits]`.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub max_memory_pages: Option<At<u64>>,
    pub max_table_elements: Option<At<u64>>,
    /// Defaults to true: a memory must declare its maximum.
    pub require_memory_maximum: Option<At<bool>>,
}

/// `[[calls]]`: a constraint on the arguments a call site passes to an import. Parsed and
/// validated here; proving it is the SMT checker's job, so `check` does not evaluate it yet.
#[derive(Debug, Clone)]
pub struct CallConstraint {
    pub import: At<String>,
    pub arg: u32,
    pub one_of: Vec<i64>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub at: Origin,
}

/// Access mode of a preopened directory.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    #[default]
    Ro,
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
    pub mode: Access,
}

/// Grants for the sandbox harness. Closed by default: no preopens, no environment, no
/// network; the limits are unset (the harness applies its own defaults).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxGrants {
    pub preopens: Vec<Preopen>,
    /// Environment variable names passed through.
    pub env: Vec<String>,
    /// `host:port` patterns the guest may connect to.
    pub network: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<u64>,
}

/// `[[waivers]]`: suppresses the findings of `rule` whose subject matches `target`.
#[derive(Debug, Clone)]
pub struct Waiver {
    /// Rule id.
    pub rule: String,
    /// Glob over the finding's subject (capability, import id, export, feature...).
    pub target: String,
    pub reason: String,
    pub expires: Option<Date>,
    pub at: Origin,
}

/// Level of a rule as set by `[levels]`: a level, or `off`.
pub type LevelSetting = Option<Level>;

/// One policy file as written (phase 1), before `extends` is resolved.
#[derive(Debug, Clone, Default)]
struct PolicyFile {
    extends: Option<At<String>>,
    widen: Vec<At<String>>,
    capabilities: AllowDeny,
    imports: AllowDeny,
    features: AllowDeny,
    restrict: Vec<Restriction>,
    required_exports: Vec<At<String>>,
    forbidden_exports: Vec<At<String>>,
    limits: Limits,
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
    pub capabilities: AllowDeny,
    pub imports: AllowDeny,
    pub features: AllowDeny,
    pub restrict: Vec<Restriction>,
    pub required_exports: Vec<At<String>>,
    pub forbidden_exports: Vec<At<String>>,
    pub limits: Limits,
    pub calls: Vec<CallConstraint>,
    pub sandbox: SandboxGrants,
    /// Where `[sandbox]` was written (its preopen paths are relative to that file).
    pub sandbox_origin: Option<Origin>,
    pub waivers: Vec<Waiver>,
    pub levels: BTreeMap<String, At<LevelSetting>>,
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
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The policy has problems; `rendered` shows each with line, column and caret.
    #[error("policy {} has {} error{}", path.display(), diagnostics.len(), if diagnostics.len() == 1 { "" } else { "s" })]
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
        sources: Vec<Source>,
        rendered: String,
    },
    /// The built-in capability table did not load.
    #[error("capability table: {0}")]
    Capabilities(String),
}

/// Keys accepted in each table of a policy file (`""` is the top level, `[]` marks an array
/// of tables). Tables with free-form keys (`exports.restrict`, `levels`) are not listed.
/// The JSON Schema test checks `schemas/policy.schema.json` against this list.
pub const ACCEPTED_KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "extends",
            "widen",
            "capabilities",
            "imports",
            "features",
            "exports",
            "limits",
            "calls",
            "sandbox",
            "waivers",
            "levels",
        ],
    ),
    ("capabilities", &["allow", "deny"]),
    ("imports", &["allow", "deny"]),
    ("features", &["allow", "deny"]),
    ("exports", &["required", "forbidden", "restrict"]),
    (
        "limits",
        &[
            "max_memory_pages",
            "max_table_elements",
            "require_memory_maximum",
        ],
    ),
    ("calls[]", &["import", "arg", "one_of", "min", "max"]),
    (
        "sandbox",
        &[
            "preopens",
            "env",
            "network",
            "fuel",
            "memory_bytes",
            "time_ms",
            "output_bytes",
        ],
    ),
    ("sandbox.preopens[]", &["host", "guest", "mode"]),
    ("waivers[]", &["rule", "target", "reason", "expires"]),
];

fn keys_of(table: &str) -> &'static [&'static str] {
    ACCEPTED_KEYS
        .iter()
        .find(|(t, _)| *t == table)
        .map_or(&[], |(_, k)| k)
}

/// Feature names a policy may list: exactly those the analyzer reports in
/// `module.features` (kebab-case; the MVP is implied and never listed).
pub const FEATURES: &[&str] = wasmgate_analyzer::FEATURE_NAMES;

/// Features allowed when a policy has no `features.allow`: the WebAssembly 2.0 set.
pub const DEFAULT_FEATURES: &[&str] = &[
    "bulk-memory",
    "multi-value",
    "mutable-global",
    "reference-types",
    "saturating-float-to-int",
    "sign-extension",
    "simd",
];

/// How patterns are written, for diagnostics.
const PATTERN_NOTE: &str = "in a pattern `*` matches any run of characters and `\\` makes the next character literal \
     (`\\*`, `\\#`, `\\\\`); an import pattern is `<module>#<name>`";

/// `widen = [...]` entry kinds.
const WIDEN_KINDS: &[&str] = &[
    "capability",
    "import",
    "feature",
    "export",
    "limit",
    "sandbox",
    "level",
];

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

/// Loads a policy file and everything it extends.
pub fn load(path: &Path) -> Result<ValidPolicy, LoadError> {
    let text = read_policy_file(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_str(path, &text)
}

/// Largest policy file read: far above any real policy, low enough that a path such as
/// `/dev/zero` or a huge file cannot exhaust memory.
const MAX_POLICY_BYTES: u64 = 64 << 20;

/// Reads a policy or project file: only regular files (a FIFO or device could block or never end), at
/// most `MAX_POLICY_BYTES`.
pub(crate) fn read_policy_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut text = String::new();
    file.take(MAX_POLICY_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_POLICY_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {} MiB", MAX_POLICY_BYTES >> 20),
        ));
    }
    Ok(text)
}

/// Loads a policy from text; `path` names it in diagnostics and anchors `extends`.
pub fn load_str(path: &Path, text: &str) -> Result<ValidPolicy, LoadError> {
    let vocabulary: Vec<String> = CapabilityTable::builtin()
        .map_err(|e| LoadError::Capabilities(e.to_string()))?
        .vocabulary()
        .keys()
        .cloned()
        .collect();
    let mut loader = Loader {
        sources: Vec::new(),
        diags: Vec::new(),
        vocabulary,
    };
    let merged = loader.load_chain(path, text.to_string(), &mut Vec::new())?;
    if !loader.diags.is_empty() {
        let rendered = diag::render(&loader.sources, &loader.diags);
        return Err(LoadError::Invalid {
            path: path.to_path_buf(),
            diagnostics: loader.diags,
            sources: loader.sources,
            rendered,
        });
    }
    let mut sections = BTreeMap::new();
    // The nearest definition wins: walk from the root ancestor down to the policy itself.
    for (file, f) in merged.1.iter().rev() {
        for (k, span) in &f.sections {
            sections.insert(
                k.clone(),
                Origin {
                    file: *file,
                    span: span.clone(),
                },
            );
        }
    }
    let p = merged.0;
    Ok(ValidPolicy {
        sources: loader.sources,
        capabilities: p.capabilities,
        imports: p.imports,
        features: p.features,
        restrict: p.restrict,
        required_exports: p.required_exports,
        forbidden_exports: p.forbidden_exports,
        limits: p.limits,
        calls: p.calls,
        sandbox_origin: p.sandbox.as_ref().map(|s| s.at.clone()),
        sandbox: p.sandbox.map(|s| s.value).unwrap_or_default(),
        waivers: p.waivers,
        levels: p.levels,
        sections,
    })
}

struct Loader {
    sources: Vec<Source>,
    diags: Vec<Diagnostic>,
    vocabulary: Vec<String>,
}

type Chain = (PolicyFile, Vec<(usize, PolicyFile)>);

impl Loader {
    /// Loads `path` and its ancestors; returns the merged policy and each file's own content.
    fn load_chain(
        &mut self,
        path: &Path,
        text: String,
        seen: &mut Vec<PathBuf>,
    ) -> Result<Chain, LoadError> {
        let file = self.sources.len();
        self.sources.push(Source {
            path: path.to_path_buf(),
            name: path.display().to_string(),
            text: text.clone(),
        });
        seen.push(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
        let mut own = self.parse_file(file, &text);
        self.validate(file, &mut own);
        let Some(ext) = own.extends.clone() else {
            return Ok((own.clone(), vec![(file, own)]));
        };
        let parent_path = path.parent().unwrap_or(Path::new("")).join(&ext.value);
        let canon = std::fs::canonicalize(&parent_path).unwrap_or_else(|_| parent_path.clone());
        if seen.contains(&canon) {
            self.diags.push(
                Diagnostic::new(file, ext.at.span.clone(), "`extends` makes a cycle")
                    .label(format!("{} is already being loaded", parent_path.display())),
            );
            return Ok((own.clone(), vec![(file, own)]));
        }
        let parent_text = match read_policy_file(&parent_path) {
            Ok(t) => t,
            Err(e) => {
                self.diags.push(
                    Diagnostic::new(
                        file,
                        ext.at.span.clone(),
                        format!(
                            "cannot read the parent policy {}: {e}",
                            parent_path.display()
                        ),
                    )
                    .label("extended here"),
                );
                return Ok((own.clone(), vec![(file, own)]));
            }
        };
        let (parent, mut files) = self.load_chain(&parent_path, parent_text, seen)?;
        let merged = self.merge(parent, &own, file);
        files.insert(0, (file, own));
        Ok((merged, files))
    }

    fn err(&mut self, file: usize, span: Span, message: String, label: &str) {
        self.diags
            .push(Diagnostic::new(file, span.start..span.end, message).label(label));
    }

    /// Takes `v` if `take` accepts its shape, else reports "`what` must be `must_be`, found
    /// ..." labelled "expected `expected`". The value keeps the span it came from.
    fn shaped<'de, T>(
        &mut self,
        file: usize,
        v: &mut Value<'de>,
        what: &str,
        (must_be, expected): (&str, &str),
        take: impl FnOnce(ValueInner<'de>) -> Result<T, ValueInner<'de>>,
    ) -> Option<At<T>> {
        let span = v.span;
        match take(v.take()) {
            Ok(value) => Some(At {
                value,
                at: Origin {
                    file,
                    span: span.start..span.end,
                },
            }),
            Err(other) => {
                self.err(
                    file,
                    span,
                    format!("{what} must be {must_be}, found {}", other.type_str()),
                    &format!("expected {expected}"),
                );
                None
            }
        }
    }

    // ---- phase 1: shape -------------------------------------------------------------

    fn parse_file(&mut self, file: usize, text: &str) -> PolicyFile {
        let mut pf = PolicyFile::default();
        let mut root = match toml_span::parse(text) {
            Ok(v) => v,
            Err(e) => {
                let mut d =
                    Diagnostic::new(file, e.span.start..e.span.end, e.to_string()).label("here");
                if let toml_span::ErrorKind::DuplicateKey { first, .. }
                | toml_span::ErrorKind::DuplicateTable { first, .. } = &e.kind
                {
                    d.secondary = Some((first.start..first.end, "first defined here".into()));
                    d.label = "defined again here".into();
                }
                self.diags.push(d);
                return pf;
            }
        };
        let Some(top) = self.table(file, &mut root, "", "the policy") else {
            return pf;
        };
        for (key, mut v) in top {
            pf.sections
                .insert(key.name.to_string(), key.span.start..v.span.end);
            match &*key.name {
                "extends" => pf.extends = self.string(file, &mut v, "`extends`"),
                "widen" => pf.widen = self.strings(file, &mut v, "`widen`").unwrap_or_default(),
                "capabilities" | "imports" | "features" => {
                    let name = key.name.to_string();
                    let ad = self.allow_deny(file, &mut v, &name);
                    match &*name {
                        "capabilities" => pf.capabilities = ad,
                        "imports" => pf.imports = ad,
                        _ => pf.features = ad,
                    }
                }
                "exports" => self.exports(file, &mut v, &mut pf),
                "limits" => self.limits(file, &mut v, &mut pf.limits),
                "calls" => {
                    for mut item in self.array(file, &mut v, "`calls`") {
                        if let Some(c) = self.call(file, &mut item) {
                            pf.calls.push(c);
                        }
                    }
                }
                "sandbox" => pf.sandbox = self.sandbox(file, &mut v),
                "waivers" => {
                    for mut item in self.array(file, &mut v, "`waivers`") {
                        if let Some(w) = self.waiver(file, &mut item) {
                            pf.waivers.push(w);
                        }
                    }
                }
                "levels" => self.levels(file, &mut v, &mut pf.levels),
                // `table()` passes only the keys of ACCEPTED_KEYS, all handled above.
                _ => {}
            }
        }
        pf
    }

    /// Takes a table, reporting a wrong type or each unknown key (with the accepted ones).
    fn table<'de>(
        &mut self,
        file: usize,
        v: &mut Value<'de>,
        keys_table: &str,
        what: &str,
    ) -> Option<Vec<(Key<'de>, Value<'de>)>> {
        let span = v.span;
        match v.take() {
            ValueInner::Table(t) => {
                let known = keys_of(keys_table);
                let mut out = Vec::new();
                for (k, val) in t {
                    if known.contains(&&*k.name) {
                        out.push((k, val));
                    } else {
                        let mut d = Diagnostic::new(
                            file,
                            k.span.start..k.span.end,
                            format!("unknown key `{}` in {what}", k.name),
                        )
                        .label("unknown key");
                        if let Some(near) = known
                            .iter()
                            .filter(|kn| edit_distance(kn, &k.name) <= 2)
                            .min_by_key(|kn| edit_distance(kn, &k.name))
                        {
                            d = d.note(format!("did you mean `{near}`?"));
                        }
                        d = d.note(format!("expected one of: {}", known.join(", ")));
                        self.diags.push(d);
                    }
                }
                Some(out)
            }
            other => {
                self.err(
                    file,
                    span,
                    format!("{what} must be a table, found {}", other.type_str()),
                    "expected a table",
                );
                None
            }
        }
    }

    /// A table whose keys are free-form (export names, rule names).
    fn free_table<'de>(
        &mut self,
        file: usize,
        v: &mut Value<'de>,
        what: &str,
    ) -> Vec<(Key<'de>, Value<'de>)> {
        let table = ("a table", "a table");
        self.shaped(file, v, what, table, |x| match x {
            ValueInner::Table(t) => Ok(t.into_iter().collect()),
            other => Err(other),
        })
        .map(|t| t.value)
        .unwrap_or_default()
    }

    fn array<'de>(&mut self, file: usize, v: &mut Value<'de>, what: &str) -> Vec<Value<'de>> {
        let array = ("an array", "an array");
        self.shaped(file, v, what, array, |x| match x {
            ValueInner::Array(a) => Ok(a),
            other => Err(other),
        })
        .map(|a| a.value)
        .unwrap_or_default()
    }

    fn string(&mut self, file: usize, v: &mut Value<'_>, what: &str) -> Option<At<String>> {
        self.shaped(file, v, what, ("a string", "a string"), |x| match x {
            ValueInner::String(s) => Ok(s.into_owned()),
            other => Err(other),
        })
    }

    fn strings(&mut self, file: usize, v: &mut Value<'_>, what: &str) -> Option<Vec<At<String>>> {
        let shape = ("an array of strings", "an array of strings");
        let items = self
            .shaped(file, v, what, shape, |x| match x {
                ValueInner::Array(a) => Ok(a),
                other => Err(other),
            })?
            .value;
        let each = format!("each entry of {what}");
        Some(
            items
                .into_iter()
                .filter_map(|mut item| self.string(file, &mut item, &each))
                .collect(),
        )
    }

    fn integer(&mut self, file: usize, v: &mut Value<'_>, what: &str) -> Option<At<i64>> {
        self.shaped(file, v, what, ("an integer", "an integer"), |x| match x {
            ValueInner::Integer(i) => Ok(i),
            other => Err(other),
        })
    }

    fn unsigned(&mut self, file: usize, v: &mut Value<'_>, what: &str) -> Option<At<u64>> {
        let i = self.integer(file, v, what)?;
        match u64::try_from(i.value) {
            Ok(u) => Some(At { value: u, at: i.at }),
            Err(_) => {
                self.diags.push(
                    Diagnostic::new(file, i.at.span, format!("{what} must not be negative"))
                        .label("negative"),
                );
                None
            }
        }
    }

    fn boolean(&mut self, file: usize, v: &mut Value<'_>, what: &str) -> Option<At<bool>> {
        self.shaped(file, v, what, ("true or false", "a boolean"), |x| match x {
            ValueInner::Boolean(b) => Ok(b),
            other => Err(other),
        })
    }

    fn allow_deny(&mut self, file: usize, v: &mut Value<'_>, section: &str) -> AllowDeny {
        let mut ad = AllowDeny::default();
        let Some(t) = self.table(file, v, section, &format!("`[{section}]`")) else {
            return ad;
        };
        for (k, mut val) in t {
            let span = k.span.start..val.span.end;
            let what = format!("`{section}.{}`", k.name);
            let list = self.strings(file, &mut val, &what);
            match &*k.name {
                "allow" => {
                    ad.allow = list.map(|l| At {
                        value: l,
                        at: Origin { file, span },
                    })
                }
                _ => ad.deny = list.unwrap_or_default(),
            }
        }
        ad
    }

    fn exports(&mut self, file: usize, v: &mut Value<'_>, pf: &mut PolicyFile) {
        let Some(t) = self.table(file, v, "exports", "`[exports]`") else {
            return;
        };
        for (k, mut val) in t {
            match &*k.name {
                "required" => {
                    pf.required_exports = self
                        .strings(file, &mut val, "`exports.required`")
                        .unwrap_or_default()
                }
                "forbidden" => {
                    pf.forbidden_exports = self
                        .strings(file, &mut val, "`exports.forbidden`")
                        .unwrap_or_default()
                }
                _ => {
                    for (name, mut caps) in self.free_table(file, &mut val, "`[exports.restrict]`")
                    {
                        let what = format!("`exports.restrict.{}`", name.name);
                        if let Some(list) = self.strings(file, &mut caps, &what) {
                            pf.restrict.push(Restriction {
                                export: At {
                                    value: name.name.to_string(),
                                    at: Origin {
                                        file,
                                        span: name.span.start..caps.span.end,
                                    },
                                },
                                capabilities: list,
                            });
                        }
                    }
                }
            }
        }
    }

    fn limits(&mut self, file: usize, v: &mut Value<'_>, limits: &mut Limits) {
        let Some(t) = self.table(file, v, "limits", "`[limits]`") else {
            return;
        };
        for (k, mut val) in t {
            let what = format!("`limits.{}`", k.name);
            match &*k.name {
                "max_memory_pages" => {
                    limits.max_memory_pages = self.unsigned(file, &mut val, &what)
                }
                "max_table_elements" => {
                    limits.max_table_elements = self.unsigned(file, &mut val, &what)
                }
                _ => limits.require_memory_maximum = self.boolean(file, &mut val, &what),
            }
        }
    }

    fn call(&mut self, file: usize, v: &mut Value<'_>) -> Option<CallConstraint> {
        let span = v.span;
        let t = self.table(file, v, "calls[]", "a `[[calls]]` entry")?;
        let mut import = None;
        let mut arg = None;
        let mut one_of = Vec::new();
        let (mut min, mut max) = (None, None);
        for (k, mut val) in t {
            let what = format!("`calls.{}`", k.name);
            match &*k.name {
                "import" => import = self.string(file, &mut val, &what),
                "arg" => arg = self.unsigned(file, &mut val, &what),
                "one_of" => {
                    for mut item in self.array(file, &mut val, &what) {
                        if let Some(i) = self.integer(file, &mut item, "each entry of `one_of`") {
                            one_of.push(i.value);
                        }
                    }
                }
                "min" => min = self.integer(file, &mut val, &what).map(|i| i.value),
                _ => max = self.integer(file, &mut val, &what).map(|i| i.value),
            }
        }
        let at = Origin {
            file,
            span: span.start..span.end,
        };
        let (Some(import), Some(arg)) = (import, arg) else {
            self.diags.push(
                Diagnostic::new(
                    file,
                    at.span,
                    "a `[[calls]]` entry needs `import` and `arg`",
                )
                .label("incomplete constraint"),
            );
            return None;
        };
        if one_of.is_empty() && min.is_none() && max.is_none() {
            self.diags.push(
                Diagnostic::new(
                    file,
                    at.span.clone(),
                    "a `[[calls]]` entry needs `one_of`, `min` or `max`",
                )
                .label("constrains nothing"),
            );
        }
        Some(CallConstraint {
            import,
            arg: u32::try_from(arg.value).unwrap_or(u32::MAX),
            one_of,
            min,
            max,
            at,
        })
    }

    fn sandbox(&mut self, file: usize, v: &mut Value<'_>) -> Option<At<SandboxGrants>> {
        let span = v.span;
        let t = self.table(file, v, "sandbox", "`[sandbox]`")?;
        let mut s = SandboxGrants::default();
        for (k, mut val) in t {
            let what = format!("`sandbox.{}`", k.name);
            match &*k.name {
                "preopens" => {
                    for mut item in self.array(file, &mut val, &what) {
                        let Some(t) =
                            self.table(file, &mut item, "sandbox.preopens[]", "a preopen")
                        else {
                            continue;
                        };
                        let (mut host, mut guest, mut mode) = (None, None, Access::Ro);
                        for (k, mut val) in t {
                            let what = format!("`sandbox.preopens.{}`", k.name);
                            let s = self.string(file, &mut val, &what);
                            match &*k.name {
                                "host" => host = s,
                                "guest" => guest = s,
                                _ => match s.as_ref().map(|s| s.value.as_str()) {
                                    Some("ro") => mode = Access::Ro,
                                    Some("rw") => mode = Access::Rw,
                                    Some(other) => self.err(
                                        file,
                                        val.span,
                                        format!(
                                            "preopen mode must be \"ro\" or \"rw\", not {other:?}"
                                        ),
                                        "unknown mode",
                                    ),
                                    None => {}
                                },
                            }
                        }
                        match (host, guest) {
                            (Some(h), Some(g)) => s.preopens.push(Preopen {
                                host: h.value,
                                guest: g.value,
                                mode,
                            }),
                            _ => self.err(
                                file,
                                item.span,
                                "a preopen needs `host` and `guest`".into(),
                                "incomplete preopen",
                            ),
                        }
                    }
                }
                "env" => s.env = self.plain_strings(file, &mut val, &what),
                "network" => s.network = self.plain_strings(file, &mut val, &what),
                "fuel" => s.fuel = self.unsigned(file, &mut val, &what).map(|u| u.value),
                "memory_bytes" => {
                    s.memory_bytes = self.unsigned(file, &mut val, &what).map(|u| u.value)
                }
                "time_ms" => s.time_ms = self.unsigned(file, &mut val, &what).map(|u| u.value),
                _ => s.output_bytes = self.unsigned(file, &mut val, &what).map(|u| u.value),
            }
        }
        Some(At {
            value: s,
            at: Origin {
                file,
                span: span.start..span.end,
            },
        })
    }

    fn plain_strings(&mut self, file: usize, v: &mut Value<'_>, what: &str) -> Vec<String> {
        self.strings(file, v, what)
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.value)
            .collect()
    }

    fn waiver(&mut self, file: usize, v: &mut Value<'_>) -> Option<Waiver> {
        let span = v.span;
        let t = self.table(file, v, "waivers[]", "a `[[waivers]]` entry")?;
        let (mut rule, mut target, mut reason, mut expires) = (None, None, None, None);
        for (k, mut val) in t {
            let what = format!("`waivers.{}`", k.name);
            let s = self.string(file, &mut val, &what);
            match &*k.name {
                "rule" => rule = s,
                "target" => target = s,
                "reason" => reason = s,
                _ => expires = s,
            }
        }
        let at = Origin {
            file,
            span: span.start..span.end,
        };
        let mut missing = Vec::new();
        if rule.is_none() {
            missing.push("`rule`");
        }
        if target.is_none() {
            missing.push("`target`");
        }
        if reason.as_ref().is_none_or(|r| r.value.trim().is_empty()) {
            missing.push("a non-empty `reason`");
        }
        if !missing.is_empty() {
            self.diags.push(
                Diagnostic::new(
                    file,
                    at.span,
                    format!("a waiver needs {}", missing.join(", ")),
                )
                .label("incomplete waiver"),
            );
            return None;
        }
        let rule = rule?;
        let rule_id = match rules::find(&rule.value) {
            Some(r) => Some(r.id.clone()),
            None => {
                self.diags.push(
                    Diagnostic::new(
                        file,
                        rule.at.span.clone(),
                        format!("unknown rule `{}`", rule.value),
                    )
                    .label("not a rule id or name")
                    .note("`wasmgate explain --list` lists the rules"),
                );
                None
            }
        };
        let expires = match expires {
            None => None,
            Some(e) => match Date::parse(&e.value) {
                Some(d) => Some(d),
                None => {
                    self.diags.push(
                        Diagnostic::new(
                            file,
                            e.at.span,
                            format!("`expires` must be a date YYYY-MM-DD, not {:?}", e.value),
                        )
                        .label("not a date"),
                    );
                    return None;
                }
            },
        };
        Some(Waiver {
            rule: rule_id?,
            target: target?.value,
            reason: reason?.value,
            expires,
            at,
        })
    }

    fn levels(
        &mut self,
        file: usize,
        v: &mut Value<'_>,
        levels: &mut BTreeMap<String, At<LevelSetting>>,
    ) {
        for (k, mut val) in self.free_table(file, v, "`[levels]`") {
            let Some(rule) = rules::find(&k.name) else {
                self.err(
                    file,
                    k.span,
                    format!("unknown rule `{}`", k.name),
                    "not a rule id or name",
                );
                continue;
            };
            let Some(s) = self.string(file, &mut val, &format!("`levels.{}`", k.name)) else {
                continue;
            };
            let setting = match s.value.as_str() {
                "off" | "allow" => None,
                "note" => Some(Level::Note),
                "warning" | "warn" => Some(Level::Warning),
                "error" | "deny" => Some(Level::Error),
                other => {
                    self.diags.push(
                        Diagnostic::new(
                            file,
                            s.at.span,
                            format!("unknown level {other:?}: use off, note, warning or error"),
                        )
                        .label("unknown level"),
                    );
                    continue;
                }
            };
            levels.insert(
                rule.id.clone(),
                At {
                    value: setting,
                    at: Origin {
                        file,
                        span: k.span.start..val.span.end,
                    },
                },
            );
        }
    }

    // ---- phase 2: values ------------------------------------------------------------

    fn validate(&mut self, file: usize, pf: &mut PolicyFile) {
        let caps: Vec<At<String>> = pf
            .capabilities
            .allow
            .iter()
            .flat_map(|a| a.value.iter())
            .chain(&pf.capabilities.deny)
            .chain(pf.restrict.iter().flat_map(|r| &r.capabilities))
            .cloned()
            .collect();
        for c in caps {
            if !self.vocabulary.iter().any(|v| glob_match(&c.value, v)) {
                self.diags.push(
                    Diagnostic::new(file, c.at.span, format!("unknown capability `{}`", c.value))
                        .label("not in the capability vocabulary")
                        .note(format!(
                            "known capabilities: {}",
                            self.vocabulary.join(", ")
                        )),
                );
            }
        }
        let imports: Vec<At<String>> = pf
            .imports
            .allow
            .iter()
            .flat_map(|a| a.value.iter())
            .chain(&pf.imports.deny)
            .chain(pf.calls.iter().map(|c| &c.import))
            .cloned()
            .collect();
        for i in imports {
            if let Err(why) = check_import_pattern(&i.value) {
                self.diags.push(
                    Diagnostic::new(
                        file,
                        i.at.span,
                        format!("bad import glob {:?}: {why}", i.value),
                    )
                    .label("bad glob")
                    .note(PATTERN_NOTE),
                );
            }
        }
        let exports: Vec<At<String>> = pf
            .required_exports
            .iter()
            .chain(&pf.forbidden_exports)
            .chain(pf.restrict.iter().map(|r| &r.export))
            .cloned()
            .collect();
        let targets = pf.waivers.iter().map(|w| At {
            value: w.target.clone(),
            at: w.at.clone(),
        });
        for e in exports.into_iter().chain(targets) {
            if let Err(why) = Pattern::parse(&e.value) {
                self.diags.push(
                    Diagnostic::new(file, e.at.span, format!("bad pattern {:?}: {why}", e.value))
                        .label("bad glob")
                        .note(PATTERN_NOTE),
                );
            }
        }
        let features: Vec<At<String>> = pf
            .features
            .allow
            .iter()
            .flat_map(|a| a.value.iter())
            .chain(&pf.features.deny)
            .cloned()
            .collect();
        for f in features {
            if !FEATURES.iter().any(|k| glob_match(&f.value, k)) {
                self.diags.push(
                    Diagnostic::new(file, f.at.span, format!("unknown feature `{}`", f.value))
                        .label("not a Wasm feature wasmgate knows")
                        .note(format!("known features: {}", FEATURES.join(", "))),
                );
            }
        }
        for w in &pf.widen {
            let ok = w
                .value
                .split_once(':')
                .is_some_and(|(k, v)| WIDEN_KINDS.contains(&k) && !v.is_empty());
            if !ok {
                self.diags.push(
                    Diagnostic::new(
                        file,
                        w.at.span.clone(),
                        format!("bad `widen` entry {:?}", w.value),
                    )
                    .label("expected KIND:VALUE")
                    .note(format!("KIND is one of: {}", WIDEN_KINDS.join(", "))),
                );
            }
        }
        for c in &pf.calls {
            if let (Some(min), Some(max)) = (c.min, c.max)
                && min > max
            {
                self.diags.push(
                    Diagnostic::new(file, c.at.span.clone(), "`min` is greater than `max`")
                        .label("empty range"),
                );
            }
        }
    }

    // ---- extends ----------------------------------------------------------------------

    /// Applies a child policy over its parent. Narrowing is free; widening must be named in
    /// the child's `widen`, else it is an error pointing at the widening entry.
    fn merge(&mut self, parent: PolicyFile, child: &PolicyFile, file: usize) -> PolicyFile {
        let widened = |kind: &str, value: &str| {
            child
                .widen
                .iter()
                .any(|w| w.value.split_once(':') == Some((kind, value)))
        };
        let mut out = parent.clone();
        out.extends = None;
        out.widen = Vec::new();

        // Allow lists: the child's replaces the parent's; entries beyond it are widening.
        for (kind, p, c, o, default_all) in [
            (
                "capability",
                &parent.capabilities,
                &child.capabilities,
                &mut out.capabilities,
                false,
            ),
            (
                "import",
                &parent.imports,
                &child.imports,
                &mut out.imports,
                true,
            ),
            (
                "feature",
                &parent.features,
                &child.features,
                &mut out.features,
                false,
            ),
        ] {
            if let Some(allow) = &c.allow {
                for entry in &allow.value {
                    let covered = match &p.allow {
                        Some(pa) => pa
                            .value
                            .iter()
                            .any(|q| pattern::covers(&q.value, &entry.value)),
                        None if kind == "feature" => DEFAULT_FEATURES.contains(&&*entry.value),
                        None => default_all,
                    };
                    if !covered && !widened(kind, &entry.value) {
                        self.diags.push(
                            Diagnostic::new(
                                file,
                                entry.at.span.clone(),
                                format!("`{}` widens the parent policy, which does not allow it", entry.value),
                            )
                            .label("not allowed by the parent")
                            .note(format!(
                                "a policy may only narrow what it extends; add `widen = [\"{kind}:{}\"]` to widen it deliberately",
                                entry.value
                            )),
                        );
                    }
                }
                o.allow = Some(allow.clone());
            }
            o.deny.retain(|d| !widened(kind, &d.value));
            o.deny.extend(c.deny.iter().cloned());
        }

        // Restrictions add up (an export must satisfy each); dropping one is widening.
        out.restrict.retain(|r| !widened("export", &r.export.value));
        out.restrict.extend(child.restrict.iter().cloned());
        out.required_exports
            .extend(child.required_exports.iter().cloned());
        out.forbidden_exports
            .extend(child.forbidden_exports.iter().cloned());
        out.calls.extend(child.calls.iter().cloned());
        out.waivers.extend(child.waivers.iter().cloned());

        for (name, p, c, o) in [
            (
                "max_memory_pages",
                &parent.limits.max_memory_pages,
                &child.limits.max_memory_pages,
                &mut out.limits.max_memory_pages,
            ),
            (
                "max_table_elements",
                &parent.limits.max_table_elements,
                &child.limits.max_table_elements,
                &mut out.limits.max_table_elements,
            ),
        ] {
            if let Some(cv) = c {
                if let Some(pv) = p
                    && cv.value > pv.value
                    && !widened("limit", name)
                {
                    self.diags.push(
                        Diagnostic::new(
                            file,
                            cv.at.span.clone(),
                            format!("`limits.{name}` raises the parent's limit of {}", pv.value),
                        )
                        .label("widens the parent")
                        .note(format!(
                            "add `widen = [\"limit:{name}\"]` to raise it deliberately"
                        )),
                    );
                }
                *o = Some(cv.clone());
            }
        }
        if let Some(cv) = &child.limits.require_memory_maximum {
            let parent_requires = parent
                .limits
                .require_memory_maximum
                .as_ref()
                .is_none_or(|p| p.value);
            if parent_requires && !cv.value && !widened("limit", "require_memory_maximum") {
                self.diags.push(
                    Diagnostic::new(
                        file,
                        cv.at.span.clone(),
                        "`limits.require_memory_maximum = false` widens the parent policy",
                    )
                    .label("widens the parent")
                    .note(
                        "add `widen = [\"limit:require_memory_maximum\"]` to relax it deliberately",
                    ),
                );
            }
            out.limits.require_memory_maximum = Some(cv.clone());
        }

        if let Some(sb) = &child.sandbox {
            if parent.sandbox.is_some() && !widened("sandbox", "grants") {
                self.diags.push(
                    Diagnostic::new(
                        file,
                        sb.at.span.clone(),
                        "`[sandbox]` replaces the parent's grants",
                    )
                    .label("may widen the parent")
                    .note("add `widen = [\"sandbox:grants\"]` to replace them deliberately"),
                );
            }
            out.sandbox = Some(sb.clone());
        }

        for (rule, setting) in &child.levels {
            let parent_level = parent
                .levels
                .get(rule)
                .map(|l| l.value)
                .unwrap_or_else(|| Some(rules::get(rule).level));
            let lowers = match (setting.value, parent_level) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(c), Some(p)) => c < p,
            };
            if lowers && !widened("level", rule) && !widened("level", &rules::get(rule).name) {
                self.diags.push(
                    Diagnostic::new(
                        file,
                        setting.at.span.clone(),
                        format!("lowering the level of {rule} widens the parent policy"),
                    )
                    .label("lowers a level")
                    .note(format!(
                        "add `widen = [\"level:{rule}\"]` to lower it deliberately"
                    )),
                );
            }
            out.levels.insert(rule.clone(), setting.clone());
        }
        out
    }
}

/// Levenshtein distance, for "did you mean" notes on unknown keys.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Checks an import pattern: `<module>#<name>`, where only `*` is a wildcard. Every other
/// character is literal (Wasm names may hold spaces, `?`, even be empty).
fn check_import_pattern(p: &str) -> Result<(), String> {
    let Some((module, name)) = pattern::split_import(p) else {
        return Err(
            "missing `#` between module and name (a `#` inside a module name is `\\#`)".into(),
        );
    };
    for part in [module, name] {
        Pattern::parse(part).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_patterns_ignore_versions_unless_given() {
        assert!(import_matches(
            "wasi:io/streams#*",
            "wasi:io/streams@0.2.0",
            "[method]output-stream.write"
        ));
        assert!(!import_matches(
            "wasi:io/streams@0.2.1#*",
            "wasi:io/streams@0.2.0",
            "x"
        ));
        assert!(import_matches(
            "wasi_snapshot_preview1#fd_*",
            "wasi_snapshot_preview1",
            "fd_write"
        ));
        assert!(check_import_pattern("wasi_snapshot_preview1").is_err());
        assert!(check_import_pattern("a#**").is_err());
        assert!(
            check_import_pattern("wasi:filesystem/types@0.2.0#[method]descriptor.open-at").is_ok()
        );
    }
}
