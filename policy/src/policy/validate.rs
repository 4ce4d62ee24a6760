//! Phase 2: the values of a shaped policy file (capability names, patterns, features,
//! `widen` entries, call ranges).

use super::*;

impl Loader {
    // ---- phase 2: values ------------------------------------------------------------

    pub(super) fn validate(&mut self, file: usize, pf: &mut PolicyFile) {
        let caps: Vec<At<String>> = pf
            .capabilities
            .allow
            .iter()
            .flat_map(|a| a.value.iter())
            .chain(&pf.capabilities.deny)
            .chain(pf.restrict.iter().flat_map(|r| &r.capabilities))
            .cloned()
            .collect();
        // A group's patterns share its capability list: report each written entry once.
        let mut seen = std::collections::HashSet::new();
        for c in caps {
            if !seen.insert(c.at.span.clone()) {
                continue;
            }
            if !self
                .vocabulary
                .iter()
                .any(|v| pattern::matches(&c.value, v))
            {
                let vocabulary = &self.vocabulary;
                self.diags.push_with(file, || {
                    Diagnostic::new(file, c.at.span, format!("unknown capability `{}`", c.value))
                        .label("not in the capability vocabulary")
                        .note(format!("known capabilities: {}", vocabulary.join(", ")))
                });
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
            if !FEATURES.iter().any(|k| pattern::matches(&f.value, k)) {
                self.diags.push_with(file, || {
                    Diagnostic::new(file, f.at.span, format!("unknown feature `{}`", f.value))
                        .label("not a Wasm feature wasmgate knows")
                        .note(format!("known features: {}", FEATURES.join(", ")))
                });
            }
        }
        for w in &pf.widen {
            let ok = w.value.split_once(':').is_some_and(|(k, v)| {
                WIDEN_KINDS.contains(&k)
                    && !v.is_empty()
                    && match k {
                        "limit" => WIDEN_LIMITS.contains(&v),
                        "sandbox" => v == "grants",
                        "analysis" => v == "assume_no_reentry",
                        "level" | "waiver" => rules::find(v).is_some(),
                        _ => true,
                    }
            });
            if !ok {
                self.diags.push(
                    Diagnostic::new(
                        file,
                        w.at.span.clone(),
                        format!("bad `widen` entry {:?}", w.value),
                    )
                    .label("expected KIND:VALUE")
                    .note(format!(
                        "KIND is one of: {}; `limit:` takes {}, `sandbox:` takes `grants`, \
                         `analysis:` takes `assume_no_reentry`, \
                         `level:` and `waiver:` take a rule id or name",
                        WIDEN_KINDS.join(", "),
                        WIDEN_LIMITS.join(", ")
                    )),
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
}

/// Checks an import pattern: `<module>#<name>`, where only `*` is a wildcard. Every other
/// character is literal (Wasm names may hold spaces, `?`, even be empty).
pub(super) fn check_import_pattern(p: &str) -> Result<(), String> {
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
