//! `wasmgate.toml`: maps path globs to policies so `wasmgate check .` applies the right
//! policy to each binary of a monorepo.
//!
//! ```toml
//! default = "policies/base.toml"     # optional: binaries no entry matches
//!
//! [[policy]]
//! paths = ["services/api/**"]        # relative to this file; `*` stays in one path
//! policy = "policies/api.toml"       # component, `**` spans any number of them
//! ```
//! The first entry whose glob matches a binary decides; paths are relative to the file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The project file name looked up in the working directory.
pub const FILE_NAME: &str = "wasmgate.toml";

/// A parsed `wasmgate.toml`.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct Project {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Policy for binaries no `[[policy]]` entry matches.
    pub default: Option<String>,
    #[serde(default)]
    /// `[[policy]]` entries, first match wins.
    pub policy: Vec<Mapping>,
}

/// One `[[policy]]` entry.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Path globs (`*` within a component, `**` across).
    pub paths: Vec<String>,
    /// The policy file for them.
    pub policy: String,
}

/// Why `wasmgate.toml` could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// The file could not be read.
    #[error("reading {path}")]
    Io {
        /// The project file.
        path: PathBuf,
        #[source]
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The file is not valid (the message carries line and column).
    #[error("{path}: {message}")]
    Invalid {
        /// The project file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Project {
    /// Reads and checks a `wasmgate.toml`.
    pub fn load(path: &Path) -> Result<Project, ProjectError> {
        let text = crate::policy::read_policy_file(path, crate::policy::MAX_POLICY_BYTES).map_err(
            |source| ProjectError::Io {
                path: path.to_path_buf(),
                source,
            },
        )?;
        toml::from_str(&text).map_err(|e| ProjectError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The policy (relative to the project directory) for a binary path relative to it.
    pub fn policy_for(&self, rel: &str) -> Option<&str> {
        let rel = rel.trim_start_matches("./");
        self.policy
            .iter()
            .find(|m| {
                m.paths
                    .iter()
                    .any(|g| path_glob(g.trim_start_matches("./"), rel))
            })
            .map(|m| m.policy.as_str())
            .or(self.default.as_deref())
    }
}

/// Matches a `/`-separated path against a glob: `*` within one component, `**` any number
/// of components (including none). Dynamic programming over (pattern segment, path segment),
/// so time is at most their product: trying every split for every `**` took exponential
/// time (ten `**` against a path 40 directories deep never finished).
pub fn path_glob(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let t: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // rest[j]: whether the pattern segments after the current one match t[j..].
    let mut rest = vec![false; t.len() + 1];
    rest[t.len()] = true;
    for seg in p.iter().rev() {
        let mut here = vec![false; t.len() + 1];
        if *seg == "**" {
            let mut any = false;
            for j in (0..=t.len()).rev() {
                any |= rest[j];
                here[j] = any;
            }
        } else {
            for j in 0..t.len() {
                here[j] = rest[j + 1] && wasmgate_analyzer::glob_match(seg, t[j]);
            }
        }
        rest = here;
    }
    rest[0]
}

#[cfg(test)]
mod tests {
    use super::path_glob;

    #[test]
    fn path_globs() {
        // (glob, path, matches)
        for (glob, path, want) in [
            ("services/api/**", "services/api/x.wasm", true),
            ("services/api/**", "services/api/a/b/x.wasm", true),
            ("services/api/*", "services/api/a/x.wasm", false),
            ("**/*.wasm", "x.wasm", true),
            ("services/web/**", "services/api/x.wasm", false),
            ("**", "", true),
            ("a/**/b/**/c", "a/x/b/y/z/c", true),
            ("a/**/b/**/c", "a/x/c/y/b", false),
            ("**/**/x.wasm", "x.wasm", true),
            ("", "x.wasm", false),
        ] {
            assert_eq!(path_glob(glob, path), want, "{glob:?} against {path:?}");
        }
    }

    /// Regression: `**` was matched by trying every split recursively, exponential in the
    /// number of `**` (ten against a path 40 directories deep never finished). The bound is
    /// a timeout on a thread, so a regression fails instead of hanging.
    #[test]
    fn many_double_stars_against_a_deep_path_finish() {
        let pattern = "**/a/".repeat(10) + "no-match.wasm";
        let path = "a/".repeat(40) + "x.wasm";
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(path_glob(&pattern, &path));
        });
        let matched = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("path_glob did not finish within 20 s");
        assert!(!matched);
    }
}
