//! Rules over the binary's structure: limits, features, exports, the start function,
//! re-exported imports.

use super::*;

impl Cx<'_> {
    pub(super) fn limits_and_features(&mut self, a: &Analysis) {
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
                        entries: Vec::new(),
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
                            entries: Vec::new(),
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
                            entries: Vec::new(),
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
                    entries: Vec::new(),
                    witness: Vec::new(),
                    origin,
                });
            }
        }
    }

    pub(super) fn exports(&mut self, a: &Analysis) {
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
                    entries: Vec::new(),
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
                    entries: Vec::new(),
                    witness: Vec::new(),
                    origin: req.at.clone(),
                });
            }
        }
    }

    pub(super) fn start(&mut self, a: &Analysis, reaches: &super::view::Reaches<'_>) {
        for (i, e) in a
            .entry_points
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == EntryKind::Start)
        {
            for g in reaches.groups_of(i) {
                let cap = reaches.groups[g].capability;
                let r = reaches.witness(i, g);
                self.push(Draft {
                    rule: id::START_FUNCTION_PERFORMS_IO,
                    message: format!(
                        "the start function reaches capability `{cap}` through `{}` during instantiation",
                        r.import
                    ),
                    subject: cap.to_string(),
                    location: reach_location(e, &r),
                    entries: vec![i],
                    witness: r.path.clone(),
                    origin: self.default_origin(id::START_FUNCTION_PERFORMS_IO),
                });
            }
        }
    }

    /// Function imports that a core module exports as they are (top-level modules only:
    /// inside a component, core exports are wiring the host never sees).
    pub(super) fn re_exported_imports(&mut self, a: &Analysis) {
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
                entries: Vec::new(),
                witness: Vec::new(),
                origin: self.default_origin(id::IMPORT_RE_EXPORTED),
            });
        }
    }
}
