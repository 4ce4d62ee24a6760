//! The checks: one `Analysis` and one `ValidPolicy` in, `Finding`s out.
//!
//! Every rule reads the analysis only (never the bytes). Rules apply to what the entry
//! points can reach; deny beats allow; what the policy does not allow is denied.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use wasmgate_analyzer::{Analysis, EntryKind, EntryPoint, ExternKind, Reach, UNKNOWN_HOST};

use crate::Date;
use crate::finding::{Finding, Kind, Location, PolicyRef, Suppression, fingerprint};
use crate::pattern;
use crate::policy::{AllowDeny, DEFAULT_FEATURES, Origin, ValidPolicy, import_matches};
use crate::rules::{self, id};
use crate::witness;

/// Checks one analysed binary. `artifact` names it in findings (a path relative to the
/// working directory); `today` decides which waivers have expired.
pub fn check(
    policy: &ValidPolicy,
    analysis: &Analysis,
    artifact: &str,
    today: Date,
) -> Vec<Finding> {
    let mut cx = Cx {
        policy,
        artifact,
        out: Vec::new(),
    };
    cx.capabilities(analysis);
    cx.restrictions(analysis);
    cx.imports(analysis);
    cx.limits_and_features(analysis);
    cx.exports(analysis);
    cx.start(analysis);
    cx.re_exported_imports(analysis);
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

/// Per entry point, the reach with the shortest witness for each capability.
fn by_capability(e: &EntryPoint) -> BTreeMap<&str, &Reach> {
    witness::shortest_by(e.reaches.iter().map(|r| (e, r)), |r| r.capability.as_str())
        .into_iter()
        .map(|(cap, (_, r))| (cap, r))
        .collect()
}

/// The caller of the import on a witness path.
fn caller(r: &Reach) -> Option<String> {
    (r.path.len() >= 2).then(|| r.path[r.path.len() - 2].to_string())
}

struct Cx<'a> {
    policy: &'a ValidPolicy,
    artifact: &'a str,
    out: Vec<Finding>,
}

/// What a finding is about, before the policy's level and the rule's metadata are applied.
struct Draft {
    rule: &'static str,
    message: String,
    subject: String,
    location: Location,
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
        let entry = location.entry_kind.zip(location.entry_point.as_deref());
        let fingerprint = fingerprint(&rule.id, self.artifact, entry, &d.subject);
        self.out.push(Finding {
            rule: rule.id.clone(),
            name: rule.name.clone(),
            level,
            kind: Kind::Fail,
            message: d.message,
            subject: d.subject,
            location,
            witness: d.witness,
            policy: policy_ref(self.policy, &d.origin),
            counterexample: None,
            fingerprint,
            suppressed: None,
        });
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

    fn capabilities(&mut self, a: &Analysis) {
        let omitted = self.policy.section("capabilities");
        for e in &a.entry_points {
            for (cap, r) in by_capability(e) {
                let decision = decide(
                    &self.policy.capabilities,
                    |_| false,
                    omitted.clone(),
                    cap,
                    pattern::matches,
                );
                let (why, origin) = match decision {
                    Decision::Allowed => continue,
                    Decision::Denied(o) => ("denies", o),
                    Decision::NotAllowed(o) => ("does not allow", o),
                };
                let caveat = if e.unresolved {
                    " (conservative: the component's lifts and lowers are not traced)"
                } else {
                    ""
                };
                self.push(Draft {
                    rule: id::CAPABILITY_NOT_ALLOWED,
                    message: format!(
                        "{} reaches capability `{cap}` through `{}`, which the policy {why}{caveat}",
                        entry_label(e),
                        r.import
                    ),
                    subject: cap.to_string(),
                    location: reach_location(e, r),
                    witness: r.path.clone(),
                    origin,
                });
            }
        }
    }

    fn restrictions(&mut self, a: &Analysis) {
        // Exact names are looked up, so a policy restricting every one of 65k exports (as
        // `policy init` writes for a large binary) stays linear.
        let mut by_name: HashMap<&str, Vec<&EntryPoint>> = HashMap::new();
        for e in a
            .entry_points
            .iter()
            .filter(|e| e.kind == EntryKind::Export)
        {
            by_name.entry(e.name.as_str()).or_default().push(e);
        }
        for restriction in &self.policy.restrict {
            let pattern = restriction.export.value.as_str();
            let entries: Vec<&EntryPoint> = match pattern::as_literal(pattern) {
                Some(name) => by_name.get(name.as_str()).cloned().unwrap_or_default(),
                None => a
                    .entry_points
                    .iter()
                    .filter(|e| e.kind == EntryKind::Export && pattern::matches(pattern, &e.name))
                    .collect(),
            };
            for e in entries {
                for (cap, r) in by_capability(e) {
                    if restriction
                        .capabilities
                        .iter()
                        .any(|c| pattern::matches(&c.value, cap))
                    {
                        continue;
                    }
                    self.push(Draft {
                        rule: id::EXPORT_CAPABILITY_RESTRICTED,
                        message: format!(
                            "export `{}` reaches capability `{cap}` through `{}`, beyond its restriction to [{}]",
                            e.name,
                            r.import,
                            restriction
                                .capabilities
                                .iter()
                                .map(|c| c.value.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        subject: cap.to_string(),
                        location: reach_location(e, r),
                        witness: r.path.clone(),
                        origin: restriction.export.at.clone(),
                    });
                }
            }
        }
    }

    fn imports(&mut self, a: &Analysis) {
        let unreachable: BTreeSet<&str> =
            a.unreachable_imports.iter().map(String::as_str).collect();
        // Shortest witness per import over every entry point.
        let witness = witness::shortest_by(witness::all(&a.entry_points), |r| r.import.as_str());
        let check_list =
            self.policy.imports.allow.is_some() || !self.policy.imports.deny.is_empty();
        let omitted = self.policy.section("imports");
        for i in a.imports.iter().filter(|i| i.kind == ExternKind::Func) {
            let location = |w: Option<&(&EntryPoint, &Reach)>| Location {
                offset: Some(i.offset),
                length: i.length,
                entry_point: w.map(|(e, _)| e.name.clone()),
                entry_kind: w.map(|(e, _)| e.kind),
                ..Location::default()
            };
            let path = |w: Option<&(&EntryPoint, &Reach)>| {
                w.map(|(_, r)| r.path.clone()).unwrap_or_default()
            };
            if unreachable.contains(i.id.as_str()) {
                self.push(Draft {
                    rule: id::DECLARED_IMPORT_UNREACHABLE,
                    message: format!("`{}` is imported but no entry point can reach it", i.id),
                    subject: i.id.clone(),
                    location: location(None),
                    witness: Vec::new(),
                    origin: self.default_origin(id::DECLARED_IMPORT_UNREACHABLE),
                });
                continue;
            }
            let w = witness.get(i.id.as_str());
            if check_list {
                let decision = decide(
                    &self.policy.imports,
                    |_| true,
                    omitted.clone(),
                    &i.id,
                    |p, _| import_matches(p, &i.module, &i.name),
                );
                let why = match &decision {
                    Decision::Allowed => None,
                    Decision::Denied(o) => Some(("denies", o.clone())),
                    Decision::NotAllowed(o) => Some(("does not allow", o.clone())),
                };
                if let Some((why, origin)) = why {
                    let by = w.map_or(String::new(), |(e, _)| {
                        format!(" (reachable from {})", entry_label(e))
                    });
                    self.push(Draft {
                        rule: id::IMPORT_NOT_ALLOWED,
                        message: format!("import `{}`{by} is one the policy {why}", i.id),
                        subject: i.id.clone(),
                        location: location(w),
                        witness: path(w),
                        origin,
                    });
                }
            }
            if i.capabilities.iter().any(|c| c == UNKNOWN_HOST) {
                self.push(Draft {
                    rule: id::UNKNOWN_HOST_IMPORT,
                    message: format!(
                        "reachable import `{}` is not in the capability table: its effect is unknown",
                        i.id
                    ),
                    subject: i.id.clone(),
                    location: location(w),
                    witness: path(w),
                    origin: self.default_origin(id::UNKNOWN_HOST_IMPORT),
                });
            }
        }
    }

    fn limits_and_features(&mut self, a: &Analysis) {
        let limits = &self.policy.limits;
        let require_max = limits
            .require_memory_maximum
            .as_ref()
            .is_none_or(|r| r.value);
        let require_origin = limits
            .require_memory_maximum
            .as_ref()
            .map(|r| r.at.clone())
            .unwrap_or_else(|| self.default_origin(id::MEMORY_WITHOUT_MAXIMUM));
        let omitted_features = self.policy.section("features");
        for (path, m) in a.core_modules() {
            let prefix = path.map_or(String::new(), |p| format!("{p}/"));
            let location = || Location {
                module: path.map(str::to_string),
                ..Location::default()
            };
            for mem in &m.memories {
                let subject = format!("{prefix}memory[{}]", mem.index);
                if require_max && mem.maximum.is_none() {
                    self.push(Draft {
                        rule: id::MEMORY_WITHOUT_MAXIMUM,
                        message: format!(
                            "{subject} declares no maximum (initial {} pages){}",
                            mem.initial,
                            if mem.imported { ", imported" } else { "" }
                        ),
                        subject: subject.clone(),
                        location: location(),
                        witness: Vec::new(),
                        origin: require_origin.clone(),
                    });
                }
                if let Some(limit) = &limits.max_memory_pages {
                    let bound = mem.maximum.unwrap_or(mem.initial);
                    if bound > limit.value {
                        self.push(Draft {
                            rule: id::MEMORY_OVER_LIMIT,
                            message: format!(
                                "{subject} may grow to {bound} pages, over the limit of {}",
                                limit.value
                            ),
                            subject,
                            location: location(),
                            witness: Vec::new(),
                            origin: limit.at.clone(),
                        });
                    }
                }
            }
            if let Some(limit) = &limits.max_table_elements {
                for t in &m.tables {
                    let bound = t.maximum.unwrap_or(t.initial);
                    if bound > limit.value {
                        let subject = format!("{prefix}table[{}]", t.index);
                        self.push(Draft {
                            rule: id::TABLE_OVER_LIMIT,
                            message: format!(
                                "{subject} may hold {bound} elements, over the limit of {}",
                                limit.value
                            ),
                            subject,
                            location: location(),
                            witness: Vec::new(),
                            origin: limit.at.clone(),
                        });
                    }
                }
            }
            for f in &m.features {
                let decision = decide(
                    &self.policy.features,
                    |f| DEFAULT_FEATURES.contains(&f),
                    omitted_features.clone(),
                    f,
                    pattern::matches,
                );
                let (why, origin) = match decision {
                    Decision::Allowed => continue,
                    Decision::Denied(o) => ("denies", o),
                    Decision::NotAllowed(o) if self.policy.features.allow.is_none() => (
                        "does not allow (by default only WebAssembly 2.0 features are)",
                        o,
                    ),
                    Decision::NotAllowed(o) => ("does not allow", o),
                };
                self.push(Draft {
                    rule: id::FEATURE_NOT_ALLOWED,
                    message: format!(
                        "{}uses the `{f}` feature, which the policy {why}",
                        path.map_or(String::new(), |p| format!("{p} "))
                    ),
                    subject: f.clone(),
                    location: location(),
                    witness: Vec::new(),
                    origin,
                });
            }
        }
    }

    fn exports(&mut self, a: &Analysis) {
        for x in &a.exports {
            if let Some(p) = self
                .policy
                .forbidden_exports
                .iter()
                .find(|p| pattern::matches(&p.value, &x.name))
            {
                self.push(Draft {
                    rule: id::FORBIDDEN_EXPORT,
                    message: format!("exports `{}`, which the policy forbids", x.name),
                    subject: x.name.clone(),
                    location: Location {
                        entry_point: (x.kind == ExternKind::Func).then(|| x.name.clone()),
                        entry_kind: (x.kind == ExternKind::Func).then_some(EntryKind::Export),
                        ..Location::default()
                    },
                    witness: Vec::new(),
                    origin: p.at.clone(),
                });
            }
        }
        let names: HashSet<&str> = a.exports.iter().map(|x| x.name.as_str()).collect();
        for req in &self.policy.required_exports {
            let present = match pattern::as_literal(&req.value) {
                Some(name) => names.contains(name.as_str()),
                None => a
                    .exports
                    .iter()
                    .any(|x| pattern::matches(&req.value, &x.name)),
            };
            if !present {
                self.push(Draft {
                    rule: id::MISSING_REQUIRED_EXPORT,
                    message: format!("does not export `{}`, which the policy requires", req.value),
                    subject: req.value.clone(),
                    location: Location::default(),
                    witness: Vec::new(),
                    origin: req.at.clone(),
                });
            }
        }
    }

    fn start(&mut self, a: &Analysis) {
        for e in a.entry_points.iter().filter(|e| e.kind == EntryKind::Start) {
            for (cap, r) in by_capability(e) {
                self.push(Draft {
                    rule: id::START_FUNCTION_PERFORMS_IO,
                    message: format!(
                        "the start function reaches capability `{cap}` through `{}` during instantiation",
                        r.import
                    ),
                    subject: cap.to_string(),
                    location: reach_location(e, r),
                    witness: r.path.clone(),
                    origin: self.default_origin(id::START_FUNCTION_PERFORMS_IO),
                });
            }
        }
    }

    /// Function imports that a core module exports as they are (top-level modules only:
    /// inside a component, core exports are wiring the host never sees).
    fn re_exported_imports(&mut self, a: &Analysis) {
        let Some(m) = &a.module else {
            return;
        };
        for x in a.exports.iter().filter(|x| x.kind == ExternKind::Func) {
            // Imported functions come first in the function index space, in import order.
            let imported = m
                .functions
                .get(x.index as usize)
                .is_some_and(|f| f.import.is_some());
            let Some(import) = imported
                .then(|| {
                    a.imports
                        .iter()
                        .filter(|i| i.kind == ExternKind::Func)
                        .nth(x.index as usize)
                })
                .flatten()
            else {
                continue;
            };
            if import.capabilities.is_empty() {
                continue;
            }
            self.push(Draft {
                rule: id::IMPORT_RE_EXPORTED,
                message: format!(
                    "exports `{}`, which is the import `{}` itself: every caller of the export holds {}",
                    x.name,
                    import.id,
                    import.capabilities.join(", ")
                ),
                subject: x.name.clone(),
                location: Location {
                    offset: Some(import.offset),
                    length: import.length,
                    entry_point: Some(x.name.clone()),
                    entry_kind: Some(EntryKind::Export),
                    ..Location::default()
                },
                witness: Vec::new(),
                origin: self.default_origin(id::IMPORT_RE_EXPORTED),
            });
        }
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
        EntryKind::Export => format!("export `{}`", e.name),
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
