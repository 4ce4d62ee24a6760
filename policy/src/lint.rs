//! `wasmgate policy lint P`: entries of a policy that do not do what they look like they do.
//!
//! Without a binary, "matches nothing" is about every binary: an allow entry whose every
//! match is denied (deny beats allow), a `[[calls]]` constraint no value satisfies, a waiver
//! no finding of its rule can match (no subject of that form, or only subjects the policy
//! already allows), a restriction whose every export name is forbidden. Overlaps of allow
//! and deny entries are reported with a witness the deny takes away. Each finding points at
//! its entry (line and column, through the loader's diagnostics).

use serde::Serialize;
use wasmgate_analyzer::CapabilityTable;
use wasmgate_smt::{Allowed, Containment};

use crate::diag::{self, Diagnostic};
use crate::lang::{self, Lang};
use crate::policy::{AllowDeny, FEATURES, ValidPolicy};
use crate::{pattern, rules};

/// Version of the JSON output.
pub const SCHEMA_VERSION: u32 = 1;

/// One problem found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Lint {
    /// `shadowed`, `overlap`, `empty-constraint` or `matches-nothing`.
    pub kind: &'static str,
    /// The policy file (as given) holding the entry.
    pub file: String,
    /// 1-based line of the entry.
    pub line: u32,
    /// 1-based column of the entry.
    pub column: u32,
    /// What is wrong.
    pub message: String,
    /// A concrete name or value that shows it, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<String>,
    #[serde(skip)]
    span: (usize, std::ops::Range<usize>),
}

/// The answer of `policy lint`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Version of this shape.
    pub schema_version: u32,
    /// The policy as given.
    pub policy: String,
    /// Findings, in file order.
    pub findings: Vec<Lint>,
    /// The findings rendered with carets (human output).
    #[serde(skip)]
    pub rendered: String,
}

struct Cx<'a> {
    p: &'a ValidPolicy,
    out: Vec<Lint>,
}

impl Cx<'_> {
    fn push(
        &mut self,
        kind: &'static str,
        at: &crate::Origin,
        message: String,
        witness: Option<String>,
    ) {
        let src = &self.p.sources[at.file];
        let (line, column) = src.line_col(at.span.start);
        self.out.push(Lint {
            kind,
            file: src.name.clone(),
            line,
            column,
            message,
            witness,
            span: (at.file, at.span.clone()),
        });
    }
}

/// Lints a loaded policy (its whole `extends` chain: each entry is reported where written).
pub fn lint(p: &ValidPolicy) -> Report {
    let mut cx = Cx { p, out: Vec::new() };
    let vocab: Vec<String> = CapabilityTable::builtin()
        .map(|t| t.vocabulary().keys().cloned().collect())
        .unwrap_or_default();
    let features: Vec<String> = FEATURES.iter().map(|f| f.to_string()).collect();
    finite(&mut cx, "capability", &p.capabilities, &vocab);
    finite(&mut cx, "feature", &p.features, &features);
    imports(&mut cx);
    calls(&mut cx);
    waivers(&mut cx, &vocab, &features);
    restrictions(&mut cx);
    cx.out.sort_by(|a, b| {
        (a.span.0, a.span.1.start, a.kind).cmp(&(b.span.0, b.span.1.start, b.kind))
    });
    let diags: Vec<Diagnostic> = cx
        .out
        .iter()
        .map(|l| {
            let d = Diagnostic::new(l.span.0, l.span.1.clone(), l.message.clone()).label(l.kind);
            match &l.witness {
                Some(w) => d.note(format!("witness: {}", wasmgate_escape::terminal(w))),
                None => d,
            }
        })
        .collect();
    let rendered = diag::render(&p.sources, &diags, &[]);
    Report {
        schema_version: SCHEMA_VERSION,
        policy: p.sources[0].name.clone(),
        findings: cx.out,
        rendered,
    }
}

/// Allow and deny lists over a finite set of names (capabilities, features).
fn finite(cx: &mut Cx<'_>, what: &str, list: &AllowDeny, names: &[String]) {
    let Some(allow) = &list.allow else { return };
    for a in &allow.value {
        let matched: Vec<&String> = names
            .iter()
            .filter(|n| pattern::matches(&a.value, n))
            .collect();
        let denied = |n: &str| list.deny.iter().find(|d| pattern::matches(&d.value, n));
        let kept: Vec<&&String> = matched.iter().filter(|n| denied(n).is_none()).collect();
        if !matched.is_empty() && kept.is_empty() {
            cx.push(
                "shadowed",
                &a.at,
                format!(
                    "allow `{}` is shadowed: every {what} it matches is denied (deny beats allow)",
                    a.value
                ),
                Some(matched[0].to_string()),
            );
        } else if let Some(n) = matched.iter().find(|n| denied(n).is_some()) {
            let d = denied(n).unwrap();
            cx.push(
                "overlap",
                &a.at,
                format!(
                    "allow `{}` overlaps deny `{}`: {what} `{n}` is denied",
                    a.value, d.value
                ),
                Some(n.to_string()),
            );
        }
    }
}

fn imports(cx: &mut Cx<'_>) {
    let p = cx.p;
    let Some(allow) = &p.imports.allow else {
        return;
    };
    let denies: Vec<Lang> = p
        .imports
        .deny
        .iter()
        .filter_map(|d| Lang::import(&d.value))
        .collect();
    if denies.is_empty() {
        return;
    }
    for a in &allow.value {
        let Some(l) = Lang::import(&a.value) else {
            continue;
        };
        let mut langs = vec![l];
        langs.extend(denies.iter().cloned());
        let Ok(regions) = lang::regions(&langs) else {
            continue;
        };
        let mine: Vec<_> = regions.iter().filter(|r| r.has(0)).collect();
        if mine.iter().all(|r| r.matched.len() > 1) {
            cx.push(
                "shadowed",
                &a.at,
                format!(
                    "allow `{}` is shadowed: every import it matches is denied (deny beats allow)",
                    a.value
                ),
                mine.first().map(|r| r.witness.id()),
            );
        } else if let Some(r) = mine.iter().find(|r| r.matched.len() > 1) {
            let d = &p.imports.deny[r.matched[1] - 1];
            cx.push(
                "overlap",
                &a.at,
                format!(
                    "allow `{}` overlaps deny `{}`: `{}` is denied",
                    a.value,
                    d.value,
                    r.witness.id()
                ),
                Some(r.witness.id()),
            );
        }
    }
}

/// A constraint no value satisfies: every call of the import breaks it.
fn calls(cx: &mut Cx<'_>) {
    for c in &cx.p.calls {
        let a = Allowed {
            one_of: c.one_of.clone(),
            min: c.min,
            max: c.max,
            bits_clear: c.bits_clear.unwrap_or(0),
            bits_set: c.bits_set.unwrap_or(0),
        };
        let empty = if !a.one_of.is_empty() {
            Some(!a.one_of.iter().any(|v| a.allows(*v)))
        } else if a.min.zip(a.max).is_some_and(|(lo, hi)| lo > hi) || a.bits_clear & a.bits_set != 0
        {
            Some(true)
        } else {
            // Is there a value at all? Asked as: does it allow anything outside the empty set.
            let nothing = Allowed {
                min: Some(1),
                max: Some(0),
                ..Allowed::default()
            };
            match wasmgate_smt::beyond(std::slice::from_ref(&a), &[nothing], 2000) {
                Containment::Contained => Some(true),
                Containment::Beyond(_) => Some(false),
                Containment::Unknown(_) => None,
            }
        };
        if empty == Some(true) {
            cx.push(
                "empty-constraint",
                &c.at,
                format!(
                    "this [[calls]] constraint on `{}` allows no value: every call of it is a violation",
                    c.import.value
                ),
                None,
            );
        }
    }
}

/// What the subjects of a rule's findings look like.
enum Subjects<'a> {
    Names(&'a [String]),
    ImportIds,
    Any,
}

fn waivers(cx: &mut Cx<'_>, vocab: &[String], features: &[String]) {
    let p = cx.p;
    for w in &p.waivers {
        let rule = rules::get(&w.rule);
        let subjects = match rule.name.as_str() {
            "capability-not-allowed" | "export-capability-restricted" => Subjects::Names(vocab),
            "feature-not-allowed" => Subjects::Names(features),
            "import-not-allowed"
            | "declared-import-unreachable"
            | "unknown-host-import"
            | "import-re-exported" => Subjects::ImportIds,
            _ => Subjects::Any,
        };
        match subjects {
            Subjects::Names(names) => {
                let matched: Vec<&String> = names
                    .iter()
                    .filter(|n| pattern::matches(&w.target, n))
                    .collect();
                if matched.is_empty() {
                    cx.push(
                        "matches-nothing",
                        &w.at,
                        format!(
                            "the waiver's target `{}` matches no subject {} can report",
                            w.target, rule.name
                        ),
                        None,
                    );
                } else if rule.name == "capability-not-allowed"
                    && matched.iter().all(|c| allowed(&p.capabilities, c))
                {
                    cx.push(
                        "matches-nothing",
                        &w.at,
                        format!(
                            "the waiver of {} for `{}` waives nothing: every capability it matches is allowed",
                            rule.name, w.target
                        ),
                        Some(matched[0].to_string()),
                    );
                }
            }
            Subjects::ImportIds => {
                // An import id is `<module>#<name>`: the target must match some text with a `#`.
                let langs = [Lang::plain(&w.target), Lang::raw("*#*")];
                if let Ok(regions) = lang::regions(&langs)
                    && !regions.iter().any(|r| r.has(0) && r.has(1))
                {
                    cx.push(
                        "matches-nothing",
                        &w.at,
                        format!(
                            "the waiver's target `{}` matches no import id (`<module>#<name>`), the subjects of {}",
                            w.target, rule.name
                        ),
                        None,
                    );
                }
            }
            Subjects::Any => {}
        }
    }
}

fn allowed(list: &AllowDeny, cap: &str) -> bool {
    list.allow
        .as_ref()
        .is_some_and(|a| a.value.iter().any(|x| pattern::matches(&x.value, cap)))
        && !list.deny.iter().any(|d| pattern::matches(&d.value, cap))
}

/// A restriction whose every export name is forbidden restricts nothing a passing binary has.
fn restrictions(cx: &mut Cx<'_>) {
    let p = cx.p;
    if p.forbidden_exports.is_empty() {
        return;
    }
    let forbidden: Vec<Lang> = p
        .forbidden_exports
        .iter()
        .map(|f| Lang::plain(&f.value))
        .collect();
    for r in &p.restrict {
        let mut langs = vec![Lang::plain(&r.export.value)];
        langs.extend(forbidden.iter().cloned());
        let Ok(regions) = lang::regions(&langs) else {
            continue;
        };
        if regions
            .iter()
            .filter(|g| g.has(0))
            .all(|g| g.matched.len() > 1)
        {
            let w = regions.iter().find(|g| g.has(0)).map(|g| g.witness.id());
            cx.push(
                "matches-nothing",
                &r.export.at,
                format!(
                    "`[exports.restrict]` entry `{}` matches only forbidden exports: no binary that passes has one",
                    r.export.value
                ),
                w,
            );
        }
    }
}

#[cfg(test)]
mod tests;
