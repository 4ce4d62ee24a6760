//! The vocabulary of the policy language as data: the keys each table accepts, the feature
//! names, the `widen` kinds. Phase 1 checks keys against these lists and phase 2 values;
//! the JSON Schema test and the README are checked against them too, so they live in one place.

/// Keys accepted in each table of a policy file (`""` is the top level, `[]` marks an array
/// of tables). Tables with free-form keys (`levels`, and `[exports.restrict]` in its table
/// form) are not listed.
/// The JSON Schema test checks `schemas/policy.schema.json` against this list.
pub const ACCEPTED_KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "extends",
            "widen",
            "assume_no_reentry",
            "capabilities",
            "imports",
            "features",
            "exports",
            "limits",
            "bounds",
            "calls",
            "sandbox",
            "waivers",
            "levels",
        ],
    ),
    ("capabilities", &["allow", "deny"]),
    ("imports", &["allow", "deny"]),
    ("features", &["allow", "deny"]),
    ("exports", &["required", "forbidden", "restrict"]),
    ("exports.restrict[]", &["exports", "capabilities"]),
    (
        "limits",
        &[
            "max_memory_pages",
            "max_table_elements",
            "require_memory_maximum",
        ],
    ),
    (
        "bounds",
        &[
            "segments",
            "accesses",
            "memory_grow",
            "max_queries",
            "timeout_ms",
            "globals",
        ],
    ),
    (
        "calls[]",
        &[
            "import",
            "arg",
            "one_of",
            "min",
            "max",
            "bits_clear",
            "bits_set",
            "timeout_ms",
        ],
    ),
    (
        "sandbox",
        &[
            "preopens",
            "env",
            "network",
            "fuel",
            "memory_bytes",
            "time_ms",
            "output_bytes",
        ],
    ),
    ("sandbox.preopens[]", &["host", "guest", "mode"]),
    ("waivers[]", &["rule", "target", "reason", "expires"]),
];

pub(super) fn keys_of(table: &str) -> &'static [&'static str] {
    ACCEPTED_KEYS
        .iter()
        .chain(ENTRY_KEYS)
        .find(|(t, _)| *t == table)
        .map_or(&[], |(_, k)| k)
}

/// Keys of the entries of tables whose own keys are free-form (`[bounds.globals]` is keyed by
/// import id; each entry is a table of these keys).
pub(super) const ENTRY_KEYS: &[(&str, &[&str])] = &[("bounds.globals.*", &["min", "max"])];

/// Feature names a policy may list: exactly those the analyzer reports in
/// `module.features` (kebab-case; the MVP is implied and never listed).
pub const FEATURES: &[&str] = wasmgate_analyzer::FEATURE_NAMES;

/// Features allowed when a policy has no `features.allow`: the WebAssembly 2.0 set.
pub const DEFAULT_FEATURES: &[&str] = &[
    "bulk-memory",
    "multi-value",
    "mutable-global",
    "reference-types",
    "saturating-float-to-int",
    "sign-extension",
    "simd",
];

/// How patterns are written, for diagnostics.
pub(super) const PATTERN_NOTE: &str = "in a pattern `*` matches any run of characters and `\\` makes the next character literal \
     (`\\*`, `\\#`, `\\\\`); an import pattern is `<module>#<name>`";

/// `widen = [...]` entry kinds: every way a child policy can accept more than its parent.
/// The README lists them ("Widening a parent"); each is tested both ways.
pub const WIDEN_KINDS: &[&str] = &[
    "capability",
    "import",
    "feature",
    "export",
    "limit",
    "sandbox",
    "level",
    "waiver",
    "analysis",
];

/// Values of `limit:` widenings.
pub(super) const WIDEN_LIMITS: &[&str] = &[
    "max_memory_pages",
    "max_table_elements",
    "require_memory_maximum",
    "bounds",
];
