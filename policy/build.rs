//! Embeds the rule catalogue (`rules/checks/*.toml`) so `explain`, SARIF and the checks share
//! it, and generates the rule-id constants from it, so adding a rule is adding its file.
//!
//! A malformed rule file is a build error here, never an empty catalogue at run time.

use std::collections::BTreeSet;
use std::{env, fs, path::Path, path::PathBuf};

const SECTIONS: &[&str] = &[
    "## What it does",
    "## Why it matters",
    "## Example",
    "## How to fix",
];
const KEYS: &[&str] = &[
    "id", "name", "category", "level", "cwe", "tags", "summary", "docs",
];

/// Checks one rule file; returns (id, name) or what is wrong.
fn validate(path: &Path, text: &str) -> Result<(String, String), String> {
    let table: toml::Table = text.parse().map_err(|e| format!("not TOML: {e}"))?;
    for key in table.keys() {
        if !KEYS.contains(&key.as_str()) {
            return Err(format!("unknown key `{key}` (known: {})", KEYS.join(", ")));
        }
    }
    let string = |key: &str| -> Result<&str, String> {
        table
            .get(key)
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("`{key}` must be a string"))
    };
    let id = string("id")?;
    let name = string("name")?;
    string("category")?;
    string("summary")?;
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let well_formed =
        id.len() == 6 && id.starts_with("WG") && id[2..].bytes().all(|b| b.is_ascii_digit());
    if !well_formed || stem != id {
        return Err(format!("id `{id}` must be WGnnnn and the file name"));
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!("name `{name}` must be kebab-case"));
    }
    if !["note", "warning", "error"].contains(&string("level")?) {
        return Err("`level` must be note, warning or error".into());
    }
    let docs = string("docs")?;
    for s in SECTIONS {
        if !docs.contains(s) {
            return Err(format!("docs lack the section `{s}`"));
        }
    }
    Ok((id.to_string(), name.to_string()))
}

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../rules/checks");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no rule files in {}", dir.display());
    let mut embedded = String::from("pub(crate) static FILES: &[(&str, &str)] = &[\n");
    let mut ids = String::new();
    let (mut seen_ids, mut seen_names) = (BTreeSet::new(), BTreeSet::new());
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let text = fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let (id, name) =
            validate(f, &text).unwrap_or_else(|e| panic!("rule file {}: {e}", f.display()));
        assert!(seen_ids.insert(id.clone()), "rule id {id} used twice");
        assert!(
            seen_names.insert(name.clone()),
            "rule name {name} used twice"
        );
        let file_name = f.file_name().unwrap().to_string_lossy();
        let abs = fs::canonicalize(f).unwrap();
        embedded.push_str(&format!(
            "    ({file_name:?}, include_str!({:?})),\n",
            abs.display().to_string()
        ));
        ids.push_str(&format!(
            "/// `{name}`\npub const {}: &str = {id:?};\n",
            name.to_ascii_uppercase().replace('-', "_")
        ));
    }
    embedded.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out.join("rule_files.rs"), embedded).unwrap();
    fs::write(out.join("rule_ids.rs"), ids).unwrap();
}
