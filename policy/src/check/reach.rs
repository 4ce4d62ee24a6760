//! Rules over what entry points reach: capabilities, per-export restrictions, imports.

use super::*;

impl Cx<'_> {
    pub(super) fn capabilities(&mut self, a: &Analysis) {
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

    pub(super) fn restrictions(&mut self, a: &Analysis) {
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
        // A pattern is tried only on the names starting with its literal prefix, so the
        // thousands of `PREFIX*` patterns `policy init` writes for such a binary do too.
        let mut sorted: Vec<&str> = by_name.keys().copied().collect();
        sorted.sort_unstable();
        for restriction in &self.policy.restrict {
            let pattern = restriction.export.value.as_str();
            let entries: Vec<&EntryPoint> = match pattern::as_literal(pattern) {
                Some(name) => by_name.get(name.as_str()).cloned().unwrap_or_default(),
                None => {
                    let prefix = pattern::literal_prefix(pattern);
                    let from = sorted.partition_point(|n| *n < prefix.as_str());
                    sorted[from..]
                        .iter()
                        .take_while(|n| n.starts_with(prefix.as_str()))
                        .filter(|n| pattern::matches(pattern, n))
                        .flat_map(|n| by_name[n].iter().copied())
                        .collect()
                }
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

    pub(super) fn imports(&mut self, a: &Analysis) {
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
}
