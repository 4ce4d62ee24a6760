//! Rules over what entry points reach: capabilities, per-export restrictions, imports.
//!
//! Aggregated findings are made from the analysis' reach groups ([`Reaches`]); only
//! per-entry findings and restrictions ask for one entry point's own witness.

use super::view::{EntryReach, Reaches};
use super::*;

/// The entry points that share an aggregated restriction finding, and the one nearest the
/// import.
struct Group {
    entries: Vec<usize>,
    /// The entry point and reach with the shortest witness so far.
    best: (usize, EntryReach),
    origin: Origin,
    /// Which restriction flagged `best`.
    restriction: usize,
    unresolved: bool,
}

/// How many entry points a message lists by name before "and N more".
const LISTED_ENTRIES: usize = 5;

/// The first few entry points of a group by kind and name, then how many more.
fn entry_list(a: &Analysis, entries: &[usize]) -> String {
    let mut out = entries
        .iter()
        .take(LISTED_ENTRIES)
        .map(|&i| entry_label(&a.entry_points[i]))
        .collect::<Vec<_>>()
        .join(", ");
    if entries.len() > LISTED_ENTRIES {
        out.push_str(&format!(
            " and {} more",
            thousands(entries.len() - LISTED_ENTRIES)
        ));
    }
    out
}

fn caveat(unresolved: bool) -> &'static str {
    if unresolved {
        " (conservative: the component's lifts and lowers are not traced)"
    } else {
        ""
    }
}

impl Cx<'_> {
    pub(super) fn capabilities(&mut self, a: &Analysis, reaches: &Reaches<'_>) {
        let policy = self.policy;
        let omitted = policy.section("capabilities");
        // The decision depends on the capability only: made once per capability.
        let mut decisions: HashMap<&str, Option<(&'static str, Origin)>> = HashMap::new();
        let mut decide_cap = |cap| {
            decisions
                .entry(cap)
                .or_insert_with(|| {
                    match decide(
                        &policy.capabilities,
                        |_| false,
                        omitted.clone(),
                        cap,
                        pattern::matches,
                    ) {
                        Decision::Allowed => None,
                        Decision::Denied(o) => Some(("denies", o)),
                        Decision::NotAllowed(o) => Some(("does not allow", o)),
                    }
                })
                .clone()
        };
        if self.options.per_entry {
            for (i, e) in a.entry_points.iter().enumerate() {
                for &er in reaches.of_entry(i) {
                    let cap = reaches.groups[er.group as usize].capability;
                    let Some((why, origin)) = decide_cap(cap) else {
                        continue;
                    };
                    let r = reaches.witness(i, er.group as usize);
                    self.push(Draft {
                        rule: id::CAPABILITY_NOT_ALLOWED,
                        message: format!(
                            "{} reaches capability `{cap}` through `{}`, which the policy {why}{}",
                            entry_label(e),
                            r.import,
                            caveat(e.unresolved)
                        ),
                        subject: cap.to_string(),
                        location: reach_location(e, &r),
                        entries: vec![i],
                        witness: r.path.clone(),
                        origin,
                    });
                }
            }
            return;
        }
        // Groups come by capability: each run of one capability is one finding.
        let mut g = 0;
        while g < reaches.groups.len() {
            let cap = reaches.groups[g].capability;
            let end = g + reaches.groups[g..]
                .iter()
                .take_while(|x| x.capability == cap)
                .count();
            let run = g..end;
            g = end;
            let Some((why, origin)) = decide_cap(cap) else {
                continue;
            };
            let best = run
                .clone()
                .min_by_key(|&k| reaches.group_rank(k))
                .unwrap_or(run.start);
            let mut entries: Vec<usize> = run
                .flat_map(|k| reaches.groups[k].entries.iter().map(|&i| i as usize))
                .collect();
            entries.sort_unstable();
            entries.dedup();
            let unresolved = entries.iter().any(|&i| a.entry_points[i].unresolved);
            let bg = &reaches.groups[best];
            let (e, r) = (&a.entry_points[bg.from], bg.witness);
            let message = if entries.len() == 1 {
                format!(
                    "{} reaches capability `{cap}` through `{}`, which the policy {why}{}",
                    entry_label(e),
                    r.import,
                    caveat(unresolved)
                )
            } else {
                format!(
                    "{} entry points reach capability `{cap}`, which the policy {why}{}: {}; \
                     the shortest witness is from {} through `{}`",
                    thousands(entries.len()),
                    caveat(unresolved),
                    entry_list(a, &entries),
                    entry_label(e),
                    r.import
                )
            };
            self.push(Draft {
                rule: id::CAPABILITY_NOT_ALLOWED,
                message,
                subject: cap.to_string(),
                location: reach_location(e, r),
                entries,
                witness: r.path.clone(),
                origin,
            });
        }
    }

    pub(super) fn restrictions(&mut self, a: &Analysis, reaches: &Reaches<'_>) {
        if self.policy.restrict.is_empty() {
            return;
        }
        // Exact names are looked up, so a policy restricting every one of 65k exports (as
        // `policy init` writes for a large binary) stays linear.
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, e) in a.entry_points.iter().enumerate() {
            if e.kind == EntryKind::Export {
                by_name.entry(e.name.as_str()).or_default().push(i);
            }
        }
        // A pattern is tried only on the names starting with its literal prefix, so the
        // thousands of `PREFIX*` patterns `policy init` writes for such a binary do too.
        let mut sorted: Vec<&str> = by_name.keys().copied().collect();
        sorted.sort_unstable();
        let policy = self.policy;
        let allowed = |k: usize| {
            policy.restrict[k]
                .capabilities
                .iter()
                .map(|c| c.value.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut groups: BTreeMap<&str, Group> = BTreeMap::new();
        for (k, restriction) in policy.restrict.iter().enumerate() {
            let pattern = restriction.export.value.as_str();
            let entries: Vec<usize> = match pattern::as_literal(pattern) {
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
            for i in entries {
                let e = &a.entry_points[i];
                for &er in reaches.of_entry(i) {
                    let cap = reaches.groups[er.group as usize].capability;
                    if restriction
                        .capabilities
                        .iter()
                        .any(|c| pattern::matches(&c.value, cap))
                    {
                        continue;
                    }
                    let origin = &restriction.export.at;
                    if self.options.per_entry {
                        let r = reaches.witness(i, er.group as usize);
                        self.push(Draft {
                            rule: id::EXPORT_CAPABILITY_RESTRICTED,
                            message: format!(
                                "export {} reaches capability `{cap}` through `{}`, beyond its restriction to [{}]",
                                crate::demangle::quoted(&e.name),
                                r.import,
                                allowed(k)
                            ),
                            subject: cap.to_string(),
                            location: reach_location(e, &r),
                            entries: vec![i],
                            witness: r.path.clone(),
                            origin: origin.clone(),
                        });
                        continue;
                    }
                    let g = groups.entry(cap).or_insert_with(|| Group {
                        entries: Vec::new(),
                        best: (i, er),
                        origin: origin.clone(),
                        restriction: k,
                        unresolved: false,
                    });
                    g.entries.push(i);
                    g.unresolved |= e.unresolved;
                    if reaches.rank(i, er) < reaches.rank(g.best.0, g.best.1) {
                        g.best = (i, er);
                        g.origin = origin.clone();
                        g.restriction = k;
                    }
                }
            }
        }
        for (cap, mut g) in groups {
            // An export several restrictions match is listed once.
            g.entries.sort_unstable();
            g.entries.dedup();
            let e = &a.entry_points[g.best.0];
            let r = reaches.witness(g.best.0, g.best.1.group as usize);
            let message = if g.entries.len() == 1 {
                format!(
                    "export {} reaches capability `{cap}` through `{}`, beyond its restriction to [{}]",
                    crate::demangle::quoted(&e.name),
                    r.import,
                    allowed(g.restriction)
                )
            } else {
                format!(
                    "{} exports reach capability `{cap}` beyond their restrictions: {}; the \
                     shortest witness is from export {} through `{}` (restricted to [{}])",
                    thousands(g.entries.len()),
                    entry_list(a, &g.entries),
                    crate::demangle::quoted(&e.name),
                    r.import,
                    allowed(g.restriction)
                )
            };
            self.push(Draft {
                rule: id::EXPORT_CAPABILITY_RESTRICTED,
                message,
                subject: cap.to_string(),
                location: reach_location(e, &r),
                entries: g.entries,
                witness: r.path.clone(),
                origin: g.origin,
            });
        }
    }

    pub(super) fn imports(&mut self, a: &Analysis, reaches: &Reaches<'_>) {
        let unreachable: BTreeSet<&str> =
            a.unreachable_imports.iter().map(String::as_str).collect();
        // Shortest witness per import over every entry point: the best of its groups.
        let mut witness: BTreeMap<&str, usize> = BTreeMap::new();
        for (k, g) in reaches.groups.iter().enumerate() {
            let slot = witness.entry(g.import).or_insert(k);
            if reaches.group_rank(k) < reaches.group_rank(*slot) {
                *slot = k;
            }
        }
        let check_list =
            self.policy.imports.allow.is_some() || !self.policy.imports.deny.is_empty();
        let omitted = self.policy.section("imports");
        for i in a.imports.iter().filter(|i| i.kind == ExternKind::Func) {
            let w = witness.get(i.id.as_str()).map(|&k| {
                let g = &reaches.groups[k];
                (&a.entry_points[g.from], g.witness)
            });
            let location = |w: Option<(&EntryPoint, &Reach)>| Location {
                offset: Some(i.offset),
                length: i.length,
                entry_point: w.map(|(e, _)| e.name.clone()),
                entry_kind: w.map(|(e, _)| e.kind),
                ..Location::default()
            };
            let path = |w: Option<(&EntryPoint, &Reach)>| {
                w.map(|(_, r)| r.path.clone()).unwrap_or_default()
            };
            if unreachable.contains(i.id.as_str()) {
                self.push(Draft {
                    rule: id::DECLARED_IMPORT_UNREACHABLE,
                    message: format!("`{}` is imported but no entry point can reach it", i.id),
                    subject: i.id.clone(),
                    location: location(None),
                    entries: Vec::new(),
                    witness: Vec::new(),
                    origin: self.default_origin(id::DECLARED_IMPORT_UNREACHABLE),
                });
                continue;
            }
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
                        entries: Vec::new(),
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
                    entries: Vec::new(),
                    witness: path(w),
                    origin: self.default_origin(id::UNKNOWN_HOST_IMPORT),
                });
            }
        }
    }
}
