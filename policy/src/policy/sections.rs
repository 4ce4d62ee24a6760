//! Phase 1, section by section: `[exports]`, `[limits]`, `[[calls]]`, `[sandbox]`,
//! `[[waivers]]`, `[levels]`.

use super::*;

impl Loader {
    pub(super) fn exports(&mut self, file: usize, v: &mut Value<'_>, pf: &mut PolicyFile) {
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
                // An array is the group form (`[[exports.restrict]]`); anything else goes
                // to the table form, which reports a wrong type.
                "restrict" if val.as_array().is_some() => {
                    for mut item in self.array(file, &mut val, "`exports.restrict`") {
                        self.restrict_group(file, &mut item, &mut pf.restrict);
                    }
                }
                "restrict" => {
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
                _ => self.unread(file, &k),
            }
        }
    }

    /// One `[[exports.restrict]]` entry: every export matching one of `exports` may reach
    /// only `capabilities`. Stored as one [`Restriction`] per pattern, each pointing at its
    /// pattern, so checks, `extends` and `widen = ["export:NAME"]` treat both forms alike.
    fn restrict_group(&mut self, file: usize, v: &mut Value<'_>, out: &mut Vec<Restriction>) {
        let span = v.span;
        let Some(t) = self.table(
            file,
            v,
            "exports.restrict[]",
            "an `[[exports.restrict]]` entry",
        ) else {
            return;
        };
        let (mut exports, mut capabilities) = (None, None);
        for (k, mut val) in t {
            let what = format!("`exports.restrict.{}`", k.name);
            match &*k.name {
                "exports" => exports = Some((self.strings(file, &mut val, &what), val.span)),
                "capabilities" => capabilities = Some(self.strings(file, &mut val, &what)),
                _ => self.unread(file, &k),
            }
        }
        let (Some((exports, exports_span)), Some(capabilities)) = (exports, capabilities) else {
            self.err(
                file,
                span,
                "an `[[exports.restrict]]` entry needs `exports` and `capabilities`".into(),
                "incomplete restriction",
            );
            return;
        };
        let (Some(exports), Some(capabilities)) = (exports, capabilities) else {
            return; // a wrong type, already reported
        };
        if exports.is_empty() {
            self.diags.push(
                Diagnostic::new(
                    file,
                    exports_span.start..exports_span.end,
                    "`exports` is empty: this `[[exports.restrict]]` entry restricts nothing",
                )
                .label("no export pattern")
                .note("list the export names (or patterns) the capabilities apply to"),
            );
            return;
        }
        for export in exports {
            out.push(Restriction {
                export,
                capabilities: capabilities.clone(),
            });
        }
    }

    pub(super) fn limits(&mut self, file: usize, v: &mut Value<'_>, limits: &mut Limits) {
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
                "require_memory_maximum" => {
                    limits.require_memory_maximum = self.boolean(file, &mut val, &what)
                }
                _ => self.unread(file, &k),
            }
        }
    }

    pub(super) fn call(&mut self, file: usize, v: &mut Value<'_>) -> Option<CallConstraint> {
        let span = v.span;
        let t = self.table(file, v, "calls[]", "a `[[calls]]` entry")?;
        let mut import = None;
        let mut arg = None;
        let mut one_of = Vec::new();
        let (mut min, mut max) = (None, None);
        let (mut bits_clear, mut bits_set, mut timeout_ms) = (None, None, None);
        for (k, mut val) in t {
            let what = format!("`calls.{}`", k.name);
            match &*k.name {
                "import" => import = self.string(file, &mut val, &what),
                "arg" => arg = self.call_arg(file, &mut val),
                "one_of" => {
                    for mut item in self.array(file, &mut val, &what) {
                        if let Some(i) = self.unsigned(file, &mut item, "each entry of `one_of`") {
                            one_of.push(i.value);
                        }
                    }
                }
                "min" => min = self.unsigned(file, &mut val, &what).map(|i| i.value),
                "max" => max = self.unsigned(file, &mut val, &what).map(|i| i.value),
                "bits_clear" => bits_clear = self.unsigned(file, &mut val, &what).map(|i| i.value),
                "bits_set" => bits_set = self.unsigned(file, &mut val, &what).map(|i| i.value),
                "timeout_ms" => timeout_ms = self.unsigned(file, &mut val, &what).map(|i| i.value),
                _ => self.unread(file, &k),
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
        if one_of.is_empty()
            && min.is_none()
            && max.is_none()
            && bits_clear.is_none()
            && bits_set.is_none()
        {
            self.diags.push(
                Diagnostic::new(
                    file,
                    at.span.clone(),
                    "a `[[calls]]` entry needs `one_of`, `min`, `max`, `bits_clear` or `bits_set`",
                )
                .label("constrains nothing"),
            );
        }
        if let ArgRef::Name(name) = &arg.value
            && let Err(why) = crate::check::calls::check_arg_name(&import.value, name)
        {
            self.diags.push(
                Diagnostic::new(file, arg.at.span.clone(), why)
                    .label("unknown parameter")
                    .note("an argument is named by its core-ABI index (`arg = 0`), as `argN`, or by a parameter name from rules/capabilities/signatures/"),
            );
        }
        Some(CallConstraint {
            import,
            arg: arg.value,
            one_of,
            min,
            max,
            bits_clear,
            bits_set,
            timeout_ms,
            at,
        })
    }

    /// `arg`: an index, `argN`, or a parameter name.
    fn call_arg(&mut self, file: usize, v: &mut Value<'_>) -> Option<At<ArgRef>> {
        let shape = ("an index or a parameter name", "an integer or a string");
        let raw = self.shaped(file, v, "`calls.arg`", shape, |x| match x {
            ValueInner::Integer(i) => Ok(Err(i)),
            ValueInner::String(s) => Ok(Ok(s.into_owned())),
            other => Err(other),
        })?;
        let value = match raw.value {
            Ok(s) => match crate::signatures::positional(&s) {
                Some(i) => ArgRef::Index(i),
                None => ArgRef::Name(s),
            },
            Err(i) => match u32::try_from(i) {
                Ok(i) => ArgRef::Index(i),
                Err(_) => {
                    self.diags.push(
                        Diagnostic::new(file, raw.at.span, "`calls.arg` is not a parameter index")
                            .label("negative or too large"),
                    );
                    return None;
                }
            },
        };
        Some(At { value, at: raw.at })
    }

    pub(super) fn sandbox(&mut self, file: usize, v: &mut Value<'_>) -> Option<At<SandboxGrants>> {
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
                                "mode" => match s.as_ref().map(|s| s.value.as_str()) {
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
                                _ => self.unread(file, &k),
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
                "output_bytes" => {
                    s.output_bytes = self.unsigned(file, &mut val, &what).map(|u| u.value)
                }
                _ => self.unread(file, &k),
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

    pub(super) fn plain_strings(
        &mut self,
        file: usize,
        v: &mut Value<'_>,
        what: &str,
    ) -> Vec<String> {
        self.strings(file, v, what)
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.value)
            .collect()
    }

    pub(super) fn waiver(&mut self, file: usize, v: &mut Value<'_>) -> Option<Waiver> {
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
                "expires" => expires = s,
                _ => self.unread(file, &k),
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

    pub(super) fn levels(
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
}
