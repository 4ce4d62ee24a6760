//! `extends`: a child policy over its parent. Narrowing is free; every widening must be
//! named in the child's `widen` (the list is in the README, "Widening a parent").

use super::*;

impl Loader {
    // ---- extends ----------------------------------------------------------------------

    /// Applies a child policy over its parent. Narrowing is free; widening must be named in
    /// the child's `widen`, else it is an error pointing at the widening entry.
    pub(super) fn merge(
        &mut self,
        parent: PolicyFile,
        child: &PolicyFile,
        file: usize,
    ) -> PolicyFile {
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
        // A waiver silences findings the parent would report: widening, whatever its target.
        for w in &child.waivers {
            let name = &rules::get(&w.rule).name;
            if !widened("waiver", &w.rule) && !widened("waiver", name) {
                self.diags.push(
                    Diagnostic::new(
                        file,
                        w.at.span.clone(),
                        format!("a waiver of {} widens the parent policy", w.rule),
                    )
                    .label("waives findings the parent reports")
                    .note(format!(
                        "add `widen = [\"waiver:{}\"]` to waive them deliberately",
                        w.rule
                    )),
                );
            }
        }
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
        self.merge_bounds(
            &parent.bounds,
            &child.bounds,
            &mut out.bounds,
            file,
            widened("limit", "bounds"),
        );
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

        // Assuming no re-entry drops reach (and so findings) the parent's sound analysis has.
        if let Some(cv) = &child.assume_no_reentry {
            let parent_assumes = parent.assume_no_reentry.as_ref().is_some_and(|p| p.value);
            if cv.value && !parent_assumes && !widened("analysis", "assume_no_reentry") {
                self.diags.push(
                    Diagnostic::new(
                        file,
                        cv.at.span.clone(),
                        "`assume_no_reentry = true` widens the parent policy",
                    )
                    .label("widens the parent")
                    .note(
                        "the parent's analysis counts what host callbacks can reach; add \
                         `widen = [\"analysis:assume_no_reentry\"]` to drop that deliberately",
                    ),
                );
            }
            out.assume_no_reentry = Some(cv.clone());
        }

        if let Some(sb) = &child.sandbox {
            let beyond = self.sandbox_widening(parent.sandbox.as_ref(), sb);
            if !beyond.is_empty() && !widened("sandbox", "grants") {
                self.diags.push(
                    Diagnostic::new(
                        file,
                        sb.at.span.clone(),
                        format!(
                            "`[sandbox]` grants more than the parent policy: {}",
                            beyond.join(", ")
                        ),
                    )
                    .label("widens the parent")
                    .note("add `widen = [\"sandbox:grants\"]` to grant them deliberately"),
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

impl Loader {
    /// What the child's sandbox grants beyond the parent's (absent: closed, nothing granted,
    /// no limit set). A limit the parent leaves to the harness's default may be raised by
    /// any value, so setting one is widening too. Preopen hosts are compared as paths
    /// resolved against each policy's directory.
    pub(super) fn sandbox_widening(
        &self,
        parent: Option<&At<SandboxGrants>>,
        child: &At<SandboxGrants>,
    ) -> Vec<String> {
        let empty = SandboxGrants::default();
        let p = parent.map_or(&empty, |p| &p.value);
        let c = &child.value;
        let host = |at: &Origin, h: &str| {
            let dir = self
                .sources
                .get(at.file)
                .and_then(|s| s.path.parent())
                .unwrap_or(Path::new(""));
            lexical(&dir.join(h))
        };
        let mut out = Vec::new();
        for pre in &c.preopens {
            let mine = host(&child.at, &pre.host);
            let covered = parent.is_some_and(|pa| {
                p.preopens.iter().any(|q| {
                    host(&pa.at, &q.host) == mine
                        && q.guest == pre.guest
                        && (q.mode == Access::Rw || pre.mode == Access::Ro)
                })
            });
            if !covered {
                let mode = match pre.mode {
                    Access::Ro => "ro",
                    Access::Rw => "rw",
                };
                out.push(format!(
                    "preopen {:?} -> {:?} ({mode})",
                    pre.host, pre.guest
                ));
            }
        }
        for (what, theirs, mine) in [("env", &p.env, &c.env), ("network", &p.network, &c.network)] {
            for m in mine {
                if !theirs.iter().any(|t| glob_match(t, m)) {
                    out.push(format!("{what} {m:?}"));
                }
            }
        }
        for (what, theirs, mine) in [
            ("fuel", p.fuel, c.fuel),
            ("memory_bytes", p.memory_bytes, c.memory_bytes),
            ("time_ms", p.time_ms, c.time_ms),
            ("output_bytes", p.output_bytes, c.output_bytes),
        ] {
            match (theirs, mine) {
                (Some(t), Some(m)) if m > t => out.push(format!("{what} {m} > {t}")),
                (None, Some(m)) => out.push(format!("{what} {m} (the parent leaves it unset)")),
                _ => {}
            }
        }
        out
    }
}

/// `a/./b/../c` as `a/c`, without touching the file system (the host may not exist yet).
pub(crate) fn lexical(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                None | Some(Component::ParentDir) => out.push(".."),
                Some(Component::RootDir | Component::Prefix(_)) => {}
                Some(_) => {
                    out.pop();
                }
            },
            other => out.push(other.as_os_str()),
        }
    }
    out
}
