//! Parameter names of known host functions (`rules/capabilities/signatures/`), so a
//! `[[calls]]` constraint can say `arg = "fd"` instead of an index. Names map to core-ABI
//! parameter indices: p1 `path_open` has 9 core parameters.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use wasmgate_analyzer::strip_version;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    modules: Vec<String>,
    functions: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    only: BTreeMap<String, Vec<String>>,
}

const FILES: &[(&str, &str)] = &[(
    "wasi-p1.toml",
    include_str!("../../rules/capabilities/signatures/wasi-p1.toml"),
)];

/// `(module, function)` -> parameter names.
type Table = BTreeMap<(String, String), Vec<String>>;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Table::new();
        for (name, text) in FILES {
            // The files are embedded and covered by a test: a bad one is a build defect.
            let f: File = toml::from_str(text)
                .unwrap_or_else(|e| panic!("rules/capabilities/signatures/{name}: {e}"));
            for (func, params) in &f.functions {
                let modules = f.only.get(func).unwrap_or(&f.modules);
                for m in modules {
                    t.insert((m.clone(), func.clone()), params.clone());
                }
            }
        }
        t
    })
}

/// The parameter names of an import, when its signature is known (the module's `@version`
/// is ignored).
pub fn params(module: &str, name: &str) -> Option<&'static [String]> {
    table()
        .get(&(strip_version(module).to_string(), name.to_string()))
        .map(Vec::as_slice)
}

/// Every known `(module, function, parameter names)`.
pub fn all() -> impl Iterator<Item = (&'static str, &'static str, &'static [String])> {
    table()
        .iter()
        .map(|((m, f), p)| (m.as_str(), f.as_str(), p.as_slice()))
}

/// `argN` -> N.
pub fn positional(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("arg")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_open_has_nine_core_parameters_and_strings_are_pairs() {
        let p = params("wasi_snapshot_preview1", "path_open").unwrap();
        assert_eq!(p.len(), 9);
        assert_eq!(p[2..4], ["path".to_string(), "path_len".to_string()]);
        assert_eq!(p[4], "oflags");
        assert_eq!(params("wasi_unstable", "fd_write").unwrap()[0], "fd");
        assert!(params("wasi_unstable", "sock_accept").is_none());
        assert_eq!(all().count(), 46 + 45);
        assert_eq!(positional("arg3"), Some(3));
        assert_eq!(positional("arg"), None);
        assert_eq!(positional("arg03"), None);
        assert_eq!(positional("fd"), None);
    }
}
