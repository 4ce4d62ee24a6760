//! Reading a policy and its `extends` chain: size, value-count and depth bounds, then the
//! two phases for each file, then the merge.

use super::*;

/// Loads a policy file and everything it extends.
pub fn load(path: &Path) -> Result<ValidPolicy, LoadError> {
    let text = read_policy_file(path, MAX_POLICY_BYTES).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_str(path, &text)
}

/// Largest policy file, and largest total of a policy with everything it extends (room for
/// hand-written policies: `policy init` writes 359 KB for a 75,000-export binary), and with
/// [`MAX_POLICY_VALUES`] what bounds the loader's memory (see the README's limits).
pub const MAX_POLICY_BYTES: u64 = 64 << 20;

/// Most TOML values in a policy with everything it extends (counted as [`values_beyond`]
/// does): the parser needs about 150 bytes per value, so this bounds the loader's memory
/// near 300 MB (`policy init` of a 75,000-export binary writes 8,500).
pub const MAX_POLICY_VALUES: usize = 2_000_000;

/// Longest `extends` chain: a policy and at most this many minus one ancestors.
pub const MAX_EXTENDS_DEPTH: usize = 32;

/// Reads a policy or project file: only regular files (a FIFO or device could block or
/// never end), at most `max` bytes.
pub(crate) fn read_policy_file(path: &Path, max: u64) -> std::io::Result<String> {
    crate::files::read_regular_text(path, max)
}

/// Loads a policy from text; `path` names it in diagnostics and anchors `extends`.
pub fn load_str(path: &Path, text: &str) -> Result<ValidPolicy, LoadError> {
    let vocabulary: Vec<String> = CapabilityTable::builtin()
        .map_err(|e| LoadError::Capabilities(e.to_string()))?
        .vocabulary()
        .keys()
        .cloned()
        .collect();
    let mut loader = Loader {
        sources: Vec::new(),
        diags: Diags::default(),
        vocabulary,
    };
    let merged = loader.load_chain(path, text.to_string());
    if !loader.diags.list.is_empty() {
        let rendered = diag::render(&loader.sources, &loader.diags.list, &loader.diags.omitted);
        return Err(LoadError::Invalid {
            path: path.to_path_buf(),
            omitted: loader.diags.omitted.iter().sum(),
            diagnostics: loader.diags.list,
            sources: loader.sources,
            rendered,
        });
    }
    let mut sections = BTreeMap::new();
    // The nearest definition wins: walk from the root ancestor down to the policy itself.
    for (file, f) in merged.1.iter().rev() {
        for (k, span) in &f.sections {
            sections.insert(
                k.clone(),
                Origin {
                    file: *file,
                    span: span.clone(),
                },
            );
        }
    }
    let p = merged.0;
    Ok(ValidPolicy {
        sources: loader.sources,
        capabilities: p.capabilities,
        imports: p.imports,
        features: p.features,
        restrict: p.restrict,
        required_exports: p.required_exports,
        forbidden_exports: p.forbidden_exports,
        limits: p.limits,
        bounds: p.bounds,
        calls: p.calls,
        sandbox_origin: p.sandbox.as_ref().map(|s| s.at.clone()),
        sandbox: p.sandbox.map(|s| s.value).unwrap_or_default(),
        waivers: p.waivers,
        levels: p.levels,
        assume_no_reentry: p.assume_no_reentry,
        sections,
    })
}

impl Loader {
    /// Loads `path` and its ancestors; returns the merged policy and each file's own content
    /// (the policy first). Iterative, so a long chain cannot exhaust the stack.
    pub(super) fn load_chain(&mut self, path: &Path, text: String) -> Chain {
        let mut files: Vec<(usize, PolicyFile)> = Vec::new();
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut budget = MAX_POLICY_BYTES;
        let mut values = MAX_POLICY_VALUES;
        let mut next = Some((path.to_path_buf(), text));
        while let Some((path, text)) = next.take() {
            let file = self.sources.len();
            seen.push(std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone()));
            let mut own = PolicyFile::default();
            if let Some(d) = self.over_budget(file, &text, &mut budget, &mut values) {
                self.diags.push(d);
            } else {
                own = self.parse_file(file, &text);
                self.validate(file, &mut own);
            }
            self.sources
                .push(Source::new(path.clone(), path.display().to_string(), text));
            if let Some(ext) = &own.extends {
                next = self.parent(file, &path, ext, files.len() + 1, &seen, &budget);
            }
            files.push((file, own));
        }
        // Merge from the root ancestor down to the policy itself.
        let mut ancestors = files.iter().rev();
        let mut merged = ancestors.next().map(|(_, f)| f.clone()).unwrap_or_default();
        for (file, child) in ancestors {
            merged = self.merge(merged, child, *file);
        }
        (merged, files)
    }

    /// Charges `text` to what is left of the chain's bytes and values, or explains why it
    /// does not fit (before parsing: the parser's memory grows with the values it builds).
    pub(super) fn over_budget(
        &mut self,
        file: usize,
        text: &str,
        bytes: &mut u64,
        values: &mut usize,
    ) -> Option<Diagnostic> {
        let shared = if file == 0 {
            ""
        } else {
            " (shared with everything the policy extends)"
        };
        if text.len() as u64 > *bytes {
            return Some(
                Diagnostic::new(
                    file,
                    0..0,
                    format!(
                        "policy text larger than the maximum of {}{shared}",
                        crate::files::human_size(MAX_POLICY_BYTES)
                    ),
                )
                .label("too large"),
            );
        }
        if let Some(at) = values_beyond(text, *values) {
            return Some(
                Diagnostic::new(
                    file,
                    at..at + 1,
                    format!(
                        "policy holds more than the maximum of {MAX_POLICY_VALUES} values{shared}"
                    ),
                )
                .label("one value too many")
                .note("values are counted as the `,` `=` `[` `{` characters of the text"),
            );
        }
        *bytes -= text.len() as u64;
        *values -= value_marks(text).count();
        None
    }

    /// Reads the parent named by `ext` in `file` (at `depth` in the chain), or reports why
    /// it cannot be read: a cycle, a chain too long or too large, an unreadable file.
    pub(super) fn parent(
        &mut self,
        file: usize,
        path: &Path,
        ext: &At<String>,
        depth: usize,
        seen: &[PathBuf],
        budget: &u64,
    ) -> Option<(PathBuf, String)> {
        let parent_path = path.parent().unwrap_or(Path::new("")).join(&ext.value);
        let canon = std::fs::canonicalize(&parent_path).unwrap_or_else(|_| parent_path.clone());
        let problem = if seen.contains(&canon) {
            Diagnostic::new(file, ext.at.span.clone(), "`extends` makes a cycle")
                .label(format!("{} is already being loaded", parent_path.display()))
        } else if depth >= MAX_EXTENDS_DEPTH {
            Diagnostic::new(
                file,
                ext.at.span.clone(),
                format!("`extends` chain longer than {MAX_EXTENDS_DEPTH} policies"),
            )
            .label("one extends too many")
        } else {
            match read_policy_file(&parent_path, *budget) {
                Ok(t) => return Some((parent_path, t)),
                Err(e) => {
                    let why = if e.kind() == std::io::ErrorKind::InvalidData
                        && *budget < MAX_POLICY_BYTES
                    {
                        format!(
                            "{e} (a policy and everything it extends share a maximum of {})",
                            crate::files::human_size(MAX_POLICY_BYTES)
                        )
                    } else {
                        e.to_string()
                    };
                    Diagnostic::new(
                        file,
                        ext.at.span.clone(),
                        format!(
                            "cannot read the parent policy {}: {why}",
                            parent_path.display()
                        ),
                    )
                    .label("extended here")
                }
            }
        };
        self.diags.push(problem);
        None
    }

    /// A key `table()` accepted (it is in [`ACCEPTED_KEYS`]) that no reader handles: a bug in
    /// wasmgate, reported rather than dropped, so a policy key never silently does nothing.
    pub(super) fn unread(&mut self, file: usize, key: &Key<'_>) {
        self.err(
            file,
            key.span,
            format!(
                "wasmgate accepts the key `{}` here but has no reader for it (a bug: please report it)",
                key.name
            ),
            "key not read",
        );
    }

    pub(super) fn err(&mut self, file: usize, span: Span, message: String, label: &str) {
        self.diags
            .push(Diagnostic::new(file, span.start..span.end, message).label(label));
    }

    /// Takes `v` if `take` accepts its shape, else reports "`what` must be `must_be`, found
    /// ..." labelled "expected `expected`". The value keeps the span it came from.
    pub(super) fn shaped<'de, T>(
        &mut self,
        file: usize,
        v: &mut Value<'de>,
        what: &str,
        (must_be, expected): (&str, &str),
        take: impl FnOnce(ValueInner<'de>) -> Result<T, ValueInner<'de>>,
    ) -> Option<At<T>> {
        let span = v.span;
        match take(v.take()) {
            Ok(value) => Some(At {
                value,
                at: Origin {
                    file,
                    span: span.start..span.end,
                },
            }),
            Err(other) => {
                self.err(
                    file,
                    span,
                    format!("{what} must be {must_be}, found {}", other.type_str()),
                    &format!("expected {expected}"),
                );
                None
            }
        }
    }
}
