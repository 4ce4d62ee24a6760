//! The rule catalogue: one TOML file per rule under `rules/checks/`, embedded at build time.
//!
//! `wasmgate explain`, the SARIF `reportingDescriptor`s and the checks all read this one
//! table, so the documentation of a rule cannot drift from what reports it.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::Level;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/rule_files.rs"));
}

/// One rule of the catalogue.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id, `WG0001`.
    pub id: String,
    /// Kebab-case name that reads well after allow/warn/deny.
    pub name: String,
    pub category: String,
    /// Default level; a policy's `[levels]` table may change it.
    pub level: Level,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwe: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// One sentence.
    pub summary: String,
    /// Markdown: What it does / Why it matters / Example / How to fix.
    pub docs: String,
}

/// Rule ids, as constants so the checks cannot misspell them.
pub mod id {
    pub const CAPABILITY_NOT_ALLOWED: &str = "WG0001";
    pub const IMPORT_NOT_ALLOWED: &str = "WG0002";
    pub const EXPORT_CAPABILITY_RESTRICTED: &str = "WG0003";
    pub const DECLARED_IMPORT_UNREACHABLE: &str = "WG0004";
    pub const MEMORY_WITHOUT_MAXIMUM: &str = "WG0005";
    pub const MEMORY_OVER_LIMIT: &str = "WG0006";
    pub const TABLE_OVER_LIMIT: &str = "WG0007";
    pub const FEATURE_NOT_ALLOWED: &str = "WG0008";
    pub const FORBIDDEN_EXPORT: &str = "WG0009";
    pub const MISSING_REQUIRED_EXPORT: &str = "WG0010";
    pub const START_FUNCTION_PERFORMS_IO: &str = "WG0011";
    pub const WAIVER_EXPIRED: &str = "WG0012";
    pub const UNKNOWN_HOST_IMPORT: &str = "WG0013";
}

/// Parses rule files; used for the embedded catalogue and by the meta-test.
pub fn parse_rules(files: &[(&str, &str)]) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    for (name, text) in files {
        let rule: Rule = toml::from_str(text).map_err(|e| format!("rules/checks/{name}: {e}"))?;
        if name.trim_end_matches(".toml") != rule.id {
            return Err(format!(
                "rules/checks/{name}: file name must be the id {}",
                rule.id
            ));
        }
        rules.push(rule);
    }
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(rules)
}

/// The embedded catalogue, sorted by id.
pub fn catalogue() -> &'static [Rule] {
    static CATALOGUE: OnceLock<Vec<Rule>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        // The files are part of the build; a malformed one is caught by the unit test below.
        parse_rules(embedded::FILES).unwrap_or_default()
    })
}

/// Finds a rule by id (`WG0001`, case-insensitive) or name (`capability-not-allowed`).
pub fn find(id_or_name: &str) -> Option<&'static Rule> {
    catalogue()
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(id_or_name) || r.name == id_or_name)
}

/// The rule with this id; the ids in [`id`] always exist (checked by a unit test).
pub(crate) fn get(id: &str) -> &'static Rule {
    static MISSING: OnceLock<Rule> = OnceLock::new();
    find(id).unwrap_or_else(|| {
        MISSING.get_or_init(|| Rule {
            id: "WG0000".into(),
            name: "missing-rule".into(),
            category: String::new(),
            level: Level::Error,
            cwe: None,
            tags: Vec::new(),
            summary: String::new(),
            docs: String::new(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalogue_parses_with_unique_ids_and_names() {
        let rules = parse_rules(embedded::FILES).unwrap();
        assert_eq!(rules.len(), embedded::FILES.len());
        let mut ids: Vec<_> = rules.iter().map(|r| &r.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), rules.len(), "duplicate rule id");
        let mut names: Vec<_> = rules.iter().map(|r| &r.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), rules.len(), "duplicate rule name");
        for r in &rules {
            assert!(
                r.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit()),
                "{}: name must be kebab-case",
                r.id
            );
            for section in [
                "## What it does",
                "## Why it matters",
                "## Example",
                "## How to fix",
            ] {
                assert!(r.docs.contains(section), "{}: docs lack {section}", r.id);
            }
        }
        for i in [
            id::CAPABILITY_NOT_ALLOWED,
            id::IMPORT_NOT_ALLOWED,
            id::EXPORT_CAPABILITY_RESTRICTED,
            id::DECLARED_IMPORT_UNREACHABLE,
            id::MEMORY_WITHOUT_MAXIMUM,
            id::MEMORY_OVER_LIMIT,
            id::TABLE_OVER_LIMIT,
            id::FEATURE_NOT_ALLOWED,
            id::FORBIDDEN_EXPORT,
            id::MISSING_REQUIRED_EXPORT,
            id::START_FUNCTION_PERFORMS_IO,
            id::WAIVER_EXPIRED,
            id::UNKNOWN_HOST_IMPORT,
        ] {
            assert!(find(i).is_some(), "{i} has no file");
        }
    }
}
