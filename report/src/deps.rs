//! cargo-auditable's `.dep-v0` section: the crates a Rust binary was built from.
//!
//! The section is zlib-compressed JSON written by whoever built the binary, so it is
//! untrusted twice over: the decompressed size is capped (a zlib bomb stops at the cap with
//! an error) and the JSON is read into our own small shape, ignoring fields we do not use.

use serde::{Deserialize, Serialize};

/// Largest decompressed `.dep-v0` JSON read (a real one is a few KiB to a few hundred).
pub const MAX_DEP_JSON: usize = 8 << 20;

/// One crate of the dependency list.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Crate {
    /// Crate name (untrusted).
    pub name: String,
    /// Version (untrusted; not checked to be semver).
    pub version: String,
    /// Where it came from: `crates.io`, `git`, `local`, `registry`... (untrusted).
    pub source: String,
    /// `runtime` or `build` (a build dependency ran at build time, it is not in the binary).
    pub kind: String,
    /// The crate the binary is (the root of the dependency tree).
    pub root: bool,
}

/// Why a `.dep-v0` section could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DepError {
    /// The zlib stream is corrupt or truncated.
    #[error("not a valid zlib stream ({0})")]
    Zlib(String),
    /// It decompresses to more than [`MAX_DEP_JSON`] bytes.
    #[error("decompresses to more than {MAX_DEP_JSON} bytes")]
    TooLarge,
    /// The JSON does not have cargo-auditable's shape.
    #[error("not cargo-auditable JSON: {0}")]
    Json(String),
}

#[derive(Deserialize)]
struct VersionInfo {
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    root: bool,
}

/// Decompresses (at most [`MAX_DEP_JSON`] bytes) and parses a `.dep-v0` payload into its
/// crates, sorted by name and version.
pub fn parse_dep_v0(compressed: &[u8]) -> Result<Vec<Crate>, DepError> {
    use miniz_oxide::inflate::{TINFLStatus, decompress_to_vec_zlib_with_limit};
    let json = decompress_to_vec_zlib_with_limit(compressed, MAX_DEP_JSON).map_err(|e| {
        if e.status == TINFLStatus::HasMoreOutput {
            DepError::TooLarge
        } else {
            DepError::Zlib(format!("{:?}", e.status))
        }
    })?;
    let info: VersionInfo =
        serde_json::from_slice(&json).map_err(|e| DepError::Json(e.to_string()))?;
    let mut crates: Vec<Crate> = info
        .packages
        .into_iter()
        .map(|p| Crate {
            name: p.name,
            version: p.version,
            source: p.source.unwrap_or_else(|| "crates.io".into()),
            kind: p.kind.unwrap_or_else(|| "runtime".into()),
            root: p.root,
        })
        .collect();
    crates.sort();
    crates.dedup();
    Ok(crates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use miniz_oxide::deflate::compress_to_vec_zlib;

    #[test]
    fn reads_crates_with_defaults_and_ignores_unknown_fields() {
        let json = br#"{"format":1,"packages":[
            {"name":"app","version":"0.1.0","source":"local","dependencies":[1],"root":true},
            {"name":"serde","version":"1.0.200","source":"crates.io","extra":{"x":1}},
            {"name":"cc","version":"1.0.0","kind":"build"}]}"#;
        let crates = parse_dep_v0(&compress_to_vec_zlib(json, 6)).unwrap();
        let got: Vec<(&str, &str, &str, &str, bool)> = crates
            .iter()
            .map(|c| (&*c.name, &*c.version, &*c.source, &*c.kind, c.root))
            .collect();
        assert_eq!(
            got,
            [
                ("app", "0.1.0", "local", "runtime", true),
                ("cc", "1.0.0", "crates.io", "build", false),
                ("serde", "1.0.200", "crates.io", "runtime", false),
            ]
        );
    }

    #[test]
    fn a_zlib_bomb_stops_at_the_cap() {
        let bomb = compress_to_vec_zlib(&vec![b' '; MAX_DEP_JSON + 1], 9);
        assert!(bomb.len() < 64 << 10, "the bomb is small: {}", bomb.len());
        assert_eq!(parse_dep_v0(&bomb), Err(DepError::TooLarge));
    }

    #[test]
    fn corrupt_and_foreign_payloads_are_errors() {
        assert!(matches!(parse_dep_v0(b"not zlib"), Err(DepError::Zlib(_))));
        let full = compress_to_vec_zlib(br#"{"packages":[]}"#, 6);
        assert!(matches!(
            parse_dep_v0(&full[..full.len() - 3]),
            Err(DepError::Zlib(_))
        ));
        let other = compress_to_vec_zlib(br#"{"crates":[]}"#, 6);
        assert!(matches!(parse_dep_v0(&other), Err(DepError::Json(_))));
    }
}
