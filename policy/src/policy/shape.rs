//! Phase 1: the TOML shape of a policy file, with spans: unknown keys, wrong types.

use super::*;

/// Defines a reader of one TOML scalar: the value with its span, or a diagnostic saying what
/// `what` must be (the pair is [`Loader::shaped`]'s). One definition for every scalar so that
/// they cannot drift apart.
macro_rules! scalar_reader {
    ($name:ident -> $t:ty, $shape:expr, $variant:ident($x:ident) => $value:expr) => {
        pub(super) fn $name(
            &mut self,
            file: usize,
            v: &mut Value<'_>,
            what: &str,
        ) -> Option<At<$t>> {
            self.shaped(file, v, what, $shape, |x| match x {
                ValueInner::$variant($x) => Ok($value),
                other => Err(other),
            })
        }
    };
}

impl Loader {
    scalar_reader!(integer -> i64, ("an integer", "an integer"), Integer(i) => i);
    scalar_reader!(boolean -> bool, ("true or false", "a boolean"), Boolean(b) => b);
    scalar_reader!(string -> String, ("a string", "a string"), String(s) => s.into_owned());

    // ---- phase 1: shape -------------------------------------------------------------

    pub(super) fn parse_file(&mut self, file: usize, text: &str) -> PolicyFile {
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
                if let toml_span::ErrorKind::DuplicateTable { name, .. } = &e.kind
                    && name == "restrict"
                {
                    d = d.note(
                        "a file writes `[exports.restrict]` as a table or as groups \
                         (`[[exports.restrict]]`), not both; a group with one pattern says \
                         what a table entry says",
                    );
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
                "assume_no_reentry" => {
                    pf.assume_no_reentry = self.boolean(file, &mut v, "`assume_no_reentry`")
                }
                "capabilities" | "imports" | "features" => {
                    let name = key.name.to_string();
                    let ad = self.allow_deny(file, &mut v, &name);
                    match &*name {
                        "capabilities" => pf.capabilities = ad,
                        "imports" => pf.imports = ad,
                        "features" => pf.features = ad,
                        _ => self.unread(file, &key),
                    }
                }
                "exports" => self.exports(file, &mut v, &mut pf),
                "limits" => self.limits(file, &mut v, &mut pf.limits),
                "bounds" => self.bounds(file, &mut v, &mut pf.bounds),
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
                _ => self.unread(file, &key),
            }
        }
        pf
    }

    /// Takes a table, reporting a wrong type or each unknown key (with the accepted ones).
    pub(super) fn table<'de>(
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
    pub(super) fn free_table<'de>(
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

    pub(super) fn array<'de>(
        &mut self,
        file: usize,
        v: &mut Value<'de>,
        what: &str,
    ) -> Vec<Value<'de>> {
        let array = ("an array", "an array");
        self.shaped(file, v, what, array, |x| match x {
            ValueInner::Array(a) => Ok(a),
            other => Err(other),
        })
        .map(|a| a.value)
        .unwrap_or_default()
    }

    pub(super) fn strings(
        &mut self,
        file: usize,
        v: &mut Value<'_>,
        what: &str,
    ) -> Option<Vec<At<String>>> {
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

    pub(super) fn unsigned(
        &mut self,
        file: usize,
        v: &mut Value<'_>,
        what: &str,
    ) -> Option<At<u64>> {
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

    pub(super) fn allow_deny(
        &mut self,
        file: usize,
        v: &mut Value<'_>,
        section: &str,
    ) -> AllowDeny {
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
                "deny" => ad.deny = list.unwrap_or_default(),
                _ => self.unread(file, &k),
            }
        }
        ad
    }
}

/// Levenshtein distance, for "did you mean" notes on unknown keys.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
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
