//! The checks: one `Analysis` and one `ValidPolicy` in, `Finding`s out.
//!
//! Every rule reads the analysis only (never the bytes). Rules apply to what the entry
//! points can reach; deny beats allow; what the policy does not allow is denied.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use wasmgate_analyzer::{Analysis, EntryKind, EntryPoint, ExternKind, Reach, UNKNOWN_HOST};

use crate::Date;
use crate::finding::{
    EntryRef, Finding, FingerprintVersion, Kind, Location, PolicyRef, Suppression, fingerprint,
    thousands,
};
use crate::pattern;
use crate::policy::{AllowDeny, DEFAULT_FEATURES, Origin, ValidPolicy, import_matches};
use crate::rules::{self, id};

mod bounds;
pub(crate) mod calls;
mod reach;
mod structure;
mod view;

pub use calls::SmtOptions;

/// How findings are shaped, and what the call-site checker may spend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// One finding per (entry point, rule, subject), as before aggregation
    /// (`check --per-entry`), with `wasmgateFinding/v2` fingerprints. Off: one finding per
    /// (rule, subject) listing its entry points, with `wasmgateFinding/v3` fingerprints.
    pub per_entry: bool,
    /// The `[[calls]]` checker's settings.
    pub smt: SmtOptions,
}

/// Checks one analysed binary with aggregated findings ([`Options::default`]) and without its
/// bytes (so every `[[calls]]` constraint is unproven). `artifact` names it in findings (a
/// path relative to the working directory); `today` decides which waivers have expired.
pub fn check(
    policy: &ValidPolicy,
    analysis: &Analysis,
    artifact: &str,
    today: Date,
) -> Vec<Finding> {
    check_with(policy, analysis, None, artifact, today, Options::default())
}

/// [`check`] with the binary's bytes, which the `[[calls]]` constraints need (without them
/// every constraint is unproven), and with [`Options`].
pub fn check_with(
    policy: &ValidPolicy,
    analysis: &Analysis,
    bytes: Option<&[u8]>,
    artifact: &str,
    today: Date,
    options: Options,
) -> Vec<Finding> {
    let mut cx = Cx {
        policy,
        artifact,
        options,
        entry_refs: analysis
            .entry_points
            .iter()
            .map(|e| EntryRef {
                kind: e.kind,
                name: Arc::from(e.name.as_str()),
            })
            .collect(),
        out: Vec::new(),
    };
    let reaches = view::Reaches::new(analysis, bytes);
    cx.capabilities(analysis, &reaches);
    cx.restrictions(analysis, &reaches);
    cx.imports(analysis, &reaches);
    cx.limits_and_features(analysis);
    cx.exports(analysis);
    cx.start(analysis, &reaches);
    cx.re_exported_imports(analysis);
    cx.calls(analysis, bytes, &options.smt);
    cx.bounds(analysis, bytes, &options.smt);
    cx.waivers(today);
    let mut out = cx.out;
    out.sort_by(|a, b| {
        (
            &a.rule,
            &a.location.entry_point,
            &a.subject,
            a.location.offset,
        )
            .cmp(&(
                &b.rule,
                &b.location.entry_point,
                &b.subject,
                b.location.offset,
            ))
    });
    // Equal fingerprints sort next to each other: aggregation leaves one finding per
    // (rule, subject) with an entry list, and the rest differ in subject or entry point.
    out.dedup_by(|a, b| a.fingerprint == b.fingerprint);
    out
}

/// The deciding entry of an allow/deny list for a value.
enum Decision {
    Allowed,
    Denied(Origin),
    NotAllowed(Origin),
}

fn decide(
    ad: &AllowDeny,
    default_allow: impl Fn(&str) -> bool,
    omitted_at: Origin,
    value: &str,
    matches: impl Fn(&str, &str) -> bool,
) -> Decision {
    if let Some(d) = ad.deny.iter().find(|d| matches(&d.value, value)) {
        return Decision::Denied(d.at.clone());
    }
    match &ad.allow {
        Some(a) if a.value.iter().any(|p| matches(&p.value, value)) => Decision::Allowed,
        Some(a) => Decision::NotAllowed(a.at.clone()),
        None if default_allow(value) => Decision::Allowed,
        None => Decision::NotAllowed(omitted_at),
    }
}

/// Whether `policy` allows capability `cap`, as the capability check decides it (deny
/// beats allow; what is not allowed is denied).
pub fn allows_capability(policy: &ValidPolicy, cap: &str) -> bool {
    let omitted = policy.section("capabilities");
    matches!(
        decide(
            &policy.capabilities,
            |_| false,
            omitted,
            cap,
            pattern::matches
        ),
        Decision::Allowed
    )
}

/// Whether `policy`'s `[imports]` lists allow the function import `module#name`, as the
/// import check decides it (no lists: allowed).
pub fn allows_import(policy: &ValidPolicy, module: &str, name: &str) -> bool {
    let omitted = policy.section("imports");
    let id = format!("{module}#{name}");
    matches!(
        decide(
            &policy.imports,
            |_| true,
            omitted,
            &id,
            |p, _| import_matches(p, module, name)
        ),
        Decision::Allowed
    )
}

/// The caller of the import on a witness path.
fn caller(r: &Reach) -> Option<String> {
    (r.path.len() >= 2).then(|| r.path[r.path.len() - 2].to_string())
}

struct Cx<'a> {
    policy: &'a ValidPolicy,
    artifact: &'a str,
    options: Options,
    /// Each of the analysis' entry points, its name shared by every finding listing it.
    entry_refs: Vec<EntryRef>,
    out: Vec<Finding>,
}

/// What a finding is about, before the policy's level and the rule's metadata are applied.
struct Draft {
    rule: &'static str,
    message: String,
    subject: String,
    location: Location,
    /// The entry points the finding is about (indices into `Analysis::entry_points`).
    entries: Vec<usize>,
    witness: Vec<std::sync::Arc<str>>,
    origin: Origin,
}

impl Cx<'_> {
    fn push(&mut self, d: Draft) {
        let rule = rules::get(d.rule);
        let Some(level) = self.policy.level(rule) else {
            return;
        };
        let location = Location {
            artifact: self.artifact.to_string(),
            ..d.location
        };
        let version = if self.options.per_entry {
            FingerprintVersion::V2
        } else {
            FingerprintVersion::V3
        };
        // v3 leaves the entry points out of the hash: a baseline compares them as a set.
        let entry = match version {
            FingerprintVersion::V2 => location.entry_kind.zip(location.entry_point.as_deref()),
            FingerprintVersion::V3 => None,
        };
        let fingerprint = fingerprint(&rule.id, self.artifact, entry, &d.subject);
        let entry_points = d.entries.iter().map(|&i| self.entry_ref(i)).collect();
        let demangled = crate::demangle::table(
            d.witness
                .iter()
                .map(|n| &**n)
                .chain(location.function.as_deref())
                .chain(location.entry_point.as_deref()),
        );
        self.out.push(Finding {
            rule: rule.id.clone(),
            name: rule.name.clone(),
            level,
            kind: Kind::Fail,
            message: d.message,
            subject: d.subject,
            location,
            entry_points,
            witness: d.witness,
            demangled,
            policy: policy_ref(self.policy, &d.origin),
            counterexample: None,
            fingerprint,
            fingerprint_version: version,
            suppressed: None,
        });
    }

    fn entry_ref(&self, i: usize) -> EntryRef {
        self.entry_refs[i].clone()
    }

    /// Where a rule that no entry decided points: its `[levels]` line, else the policy's start.
    fn default_origin(&self, rule: &str) -> Origin {
        self.policy
            .levels
            .get(rule)
            .map(|l| l.at.clone())
            .unwrap_or(Origin {
                file: 0,
                span: 0..0,
            })
    }

    /// Applies unexpired waivers; reports expired ones (which waive nothing).
    fn waivers(&mut self, today: Date) {
        let policy = self.policy;
        for w in &policy.waivers {
            match w.expires {
                Some(d) if d < today => self.push(Draft {
                    rule: id::WAIVER_EXPIRED,
                    message: format!(
                        "the waiver of {} for `{}` expired on {d} (reason: {})",
                        w.rule, w.target, w.reason
                    ),
                    subject: format!("{}:{}", w.rule, w.target),
                    location: Location::default(),
                    entries: Vec::new(),
                    witness: Vec::new(),
                    origin: w.at.clone(),
                }),
                _ => {
                    for f in self.out.iter_mut().filter(|f| {
                        f.rule == w.rule
                            && f.suppressed.is_none()
                            && pattern::matches(&w.target, &f.subject)
                    }) {
                        f.suppressed = Some(Suppression::Waiver {
                            reason: w.reason.clone(),
                            policy: policy_ref(policy, &w.at),
                        });
                    }
                }
            }
        }
    }
}

fn reach_location(e: &EntryPoint, r: &Reach) -> Location {
    Location {
        offset: r.offset,
        length: r.length,
        function: caller(r),
        entry_point: Some(e.name.clone()),
        entry_kind: Some(e.kind),
        ..Location::default()
    }
}

/// How messages name an entry point: by its kind as well as its name, because an export may
/// be named `<start>` or `<escaped>` and must not read as the real one.
fn entry_label(e: &EntryPoint) -> String {
    match e.kind {
        // The raw name first: it is what `allow`, `restrict` and waivers match.
        EntryKind::Export => format!("export {}", crate::demangle::quoted(&e.name)),
        EntryKind::Start => "the start function".to_string(),
        EntryKind::Escaped => "`<escaped>` (functions whose references the host holds)".to_string(),
    }
}

/// File, line and column of a policy origin.
pub fn policy_ref(policy: &ValidPolicy, o: &Origin) -> PolicyRef {
    let Some(src) = policy.sources.get(o.file) else {
        return PolicyRef::default();
    };
    let (line, column) = src.line_col(o.span.start);
    // End at the end of the first line: a multi-line array points at its key line.
    let first_line_end = src.line_end(o.span.start);
    let (end_line, end_column) = src.line_col(o.span.end.min(first_line_end).max(o.span.start));
    PolicyRef {
        file: src.name.clone(),
        line,
        column,
        end_line,
        end_column,
        // An empty span is a decision by omission (zero trust, or a rule's default).
        text: if o.span.is_empty() {
            "(policy default)".to_string()
        } else {
            src.line_text(o.span.start)
        },
    }
}

/// Whether a finding counts against the build at `fail_on`.
pub fn counts(f: &Finding, fail_on: crate::Level) -> bool {
    f.kind == Kind::Fail && f.suppressed.is_none() && f.level >= fail_on
}
