//! Classifies imports into capabilities using the data table under `rules/capabilities/`.
//!
//! The table is data, not code, so that reviewers can audit it and users can read it; this
//! module only loads it (embedded at build time) and applies the matching precedence:
//! exact `[[import]]` > wasm-bindgen `[[js]]` > most specific glob `[[import]]` > `unknown-host`.
//! The same files say which imports may call back into the module (`[[reentry]]`, exact >
//! most specific glob > may call anything).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::Error;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/capability_files.rs"));
}

/// Capability given to imports the table does not classify.
pub const UNKNOWN_HOST: &str = "unknown-host";

/// A call-site narrowing rule: constant arguments that settle which capabilities are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Narrow {
    /// First argument is a WASI p1 file descriptor: 0, 1 and 2 are stdio.
    #[serde(rename = "p1-fd-arg0")]
    P1FdArg0,
    /// `path_open`: constant oflags and rights settle read / write / create.
    #[serde(rename = "p1-path-open")]
    P1PathOpen,
    /// `clock_time_get` / `clock_res_get`: constant clock id settles wall vs monotonic.
    #[serde(rename = "p1-clock-id")]
    P1ClockId,
}

/// What kind of descriptor an import can create (`produces` in the data). Descriptors a
/// host hands over at start are only stdio (0-2) and preopened directories and listening
/// sockets, so every other descriptor a module can read or write comes from one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Produces {
    /// An open file (`path_open`, `openat`): may carry `fs.read` / `fs.write`, as far as the
    /// producing call site's own capabilities (its rights) allow.
    File,
    /// A connected socket (`sock_accept`, `socket`, `accept4`): may carry `net.io`.
    Socket,
    /// An in-process pipe: data the module wrote itself, no authority; still a new number.
    Pipe,
    /// Anything else (a child process's pipes, an HTTP body): may carry every descriptor
    /// capability.
    Other,
}

/// How one import is classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// Sorted, deduplicated capability names.
    pub capabilities: Vec<String>,
    /// Call-site narrowing that applies to the import, if any.
    pub narrow: Option<Narrow>,
    /// Can make descriptor 0, 1 or 2 refer to something other than stdio (renumbering,
    /// duplication), so constant descriptors 0-2 no longer prove stdio in this module.
    pub replaces_stdio: bool,
    /// Creates descriptors of this kind (see [`Produces`]).
    pub produces: Option<Produces>,
    /// Moves data through a descriptor argument: its `fs.read`, `fs.write` and `net.io` are
    /// only possible when a producer of such descriptors is reachable in the module.
    pub descriptor_io: bool,
}

/// Capabilities of `descriptor_io` imports that depend on which descriptors can exist.
pub const DESCRIPTOR_CAPABILITIES: [&str; 3] = ["fs.read", "fs.write", "net.io"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabularyFile {
    version: String,
    capability: Vec<VocabularyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabularyEntry {
    name: String,
    doc: String,
}

/// Which code of the module an import may run before it returns (`[[reentry]]` entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reentry {
    /// Not listed: the host may call any exported or escaped function during the call.
    Any,
    /// A listed family: it calls back at most these.
    Known {
        /// The entry's name pattern (names the table dispatch node, e.g. `invoke_*`).
        rule: String,
        /// Patterns of exported function names it may call.
        exports: Vec<String>,
        /// Export name of a table any of whose entries it may call.
        table: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FamilyFile {
    #[serde(default)]
    import: Vec<ImportEntry>,
    #[serde(default)]
    js: Vec<JsEntry>,
    #[serde(default)]
    reentry: Vec<ReentryEntry>,
    #[serde(default)]
    denied: Vec<DeniedEntry>,
}

/// `[[denied]]`: what a function of the family returns when `wasmgate harden` replaces it
/// because the policy denies everything it does.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeniedEntry {
    module: OneOrMany,
    name: OneOrMany,
    errno: i32,
    #[allow(dead_code)]
    doc: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReentryEntry {
    module: OneOrMany,
    name: OneOrMany,
    calls: Vec<String>,
    table: Option<String>,
    #[allow(dead_code)]
    doc: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportEntry {
    module: OneOrMany,
    name: String,
    capabilities: Vec<String>,
    narrow: Option<Narrow>,
    #[serde(default)]
    replaces_stdio: bool,
    produces: Option<Produces>,
    #[serde(default)]
    descriptor_io: bool,
    #[allow(dead_code)]
    doc: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsEntry {
    js_name: String,
    capabilities: Vec<String>,
    #[allow(dead_code)]
    doc: Option<String>,
}

struct GlobRule {
    module: String,
    name: String,
    specificity: usize,
    class: Classification,
}
/// What [`CapabilityTable::import_rules`] gives: the `(module, name)` patterns of the
/// `[[import]]` entries, and the JS names with their classes of the `[[js]]` entries.
pub type ImportRules<'a> = (Vec<(&'a str, &'a str)>, Vec<(&'a str, &'a Classification)>);

/// The loaded capability table.
#[derive(Default)]
pub struct CapabilityTable {
    version: String,
    vocabulary: BTreeMap<String, String>,
    exact: HashMap<(String, String), Classification>,
    js: HashMap<String, Classification>,
    globs: Vec<GlobRule>,
    reentry_exact: HashMap<(String, String), Reentry>,
    /// `(module, name, specificity, what)`, most specific first.
    reentry_globs: Vec<(String, String, usize, Reentry)>,
    /// `(module, name, specificity, errno)` of `[[denied]]`, most specific first.
    denied: Vec<(String, String, usize, i32)>,
}

impl std::fmt::Debug for CapabilityTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CapabilityTable")
            .field("version", &self.version)
            .field("exact", &self.exact.len())
            .field("js", &self.js.len())
            .field("globs", &self.globs.len())
            .finish()
    }
}

impl CapabilityTable {
    /// The table embedded in this build, loaded once.
    pub fn builtin() -> Result<&'static CapabilityTable, Error> {
        static TABLE: OnceLock<Result<CapabilityTable, String>> = OnceLock::new();
        TABLE
            .get_or_init(|| CapabilityTable::from_files(embedded::FILES).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|message| Error::CapabilityTable {
                message: message.clone(),
            })
    }

    /// Loads a table from `(file name, TOML text)` pairs; `vocabulary.toml` must be among them.
    pub fn from_files(files: &[(&str, &str)]) -> Result<CapabilityTable, Error> {
        let err = |file: &str, message: String| Error::CapabilityTable {
            message: format!("{file}: {message}"),
        };
        let mut table = CapabilityTable::default();
        let vocab = files
            .iter()
            .find(|(n, _)| *n == "vocabulary.toml")
            .ok_or_else(|| err("rules/capabilities", "vocabulary.toml is missing".into()))?;
        let v: VocabularyFile = toml::from_str(vocab.1).map_err(|e| err(vocab.0, e.to_string()))?;
        table.version = v.version;
        for c in v.capability {
            table.vocabulary.insert(c.name, c.doc);
        }
        table
            .vocabulary
            .entry(UNKNOWN_HOST.into())
            .or_insert_with(|| {
                "A host function the capability table does not classify: assume it can do anything."
                    .into()
            });

        for (file, text) in files.iter().filter(|(n, _)| *n != "vocabulary.toml") {
            let fam: FamilyFile = toml::from_str(text).map_err(|e| err(file, e.to_string()))?;
            let class_of = |caps: Vec<String>,
                            narrow,
                            replaces_stdio,
                            produces,
                            descriptor_io|
             -> Result<Classification, Error> {
                for c in &caps {
                    if !table.vocabulary.contains_key(c) {
                        return Err(err(file, format!("unknown capability `{c}`")));
                    }
                }
                // The mark only cuts descriptor capabilities: without one it is a typo.
                if descriptor_io && !caps.iter().any(|c| DESCRIPTOR_CAPABILITIES.contains(&&**c)) {
                    return Err(err(
                        file,
                        "`descriptor_io` on an entry with none of fs.read, fs.write, net.io".into(),
                    ));
                }
                let caps: BTreeSet<String> = caps.into_iter().collect();
                Ok(Classification {
                    capabilities: caps.into_iter().collect(),
                    narrow,
                    replaces_stdio,
                    produces,
                    descriptor_io,
                })
            };
            let mut new_exact = Vec::new();
            let mut new_globs = Vec::new();
            let mut new_js = Vec::new();
            for entry in fam.import {
                let modules = match entry.module {
                    OneOrMany::One(m) => vec![m],
                    OneOrMany::Many(ms) => ms,
                };
                let class = class_of(
                    entry.capabilities,
                    entry.narrow,
                    entry.replaces_stdio,
                    entry.produces,
                    entry.descriptor_io,
                )?;
                for module in modules {
                    if module.contains('*') || entry.name.contains('*') {
                        let specificity = specificity(&module, &entry.name);
                        new_globs.push(GlobRule {
                            module,
                            name: entry.name.clone(),
                            specificity,
                            class: class.clone(),
                        });
                    } else {
                        new_exact.push(((module, entry.name.clone()), class.clone()));
                    }
                }
            }
            for entry in fam.js {
                new_js.push((
                    entry.js_name,
                    class_of(entry.capabilities, None, false, None, false)?,
                ));
            }
            for (key, class) in new_exact {
                if table.exact.insert(key.clone(), class).is_some() {
                    return Err(err(
                        file,
                        format!("duplicate entry for `{}#{}`", key.0, key.1),
                    ));
                }
            }
            for (name, class) in new_js {
                if table.js.insert(name.clone(), class).is_some() {
                    return Err(err(file, format!("duplicate js entry `{name}`")));
                }
            }
            table.globs.extend(new_globs);
            for entry in fam.reentry {
                let list = |m: OneOrMany| match m {
                    OneOrMany::One(m) => vec![m],
                    OneOrMany::Many(ms) => ms,
                };
                let (modules, names) = (list(entry.module), list(entry.name));
                for name in &names {
                    let what = Reentry::Known {
                        rule: name.clone(),
                        exports: entry.calls.clone(),
                        table: entry.table.clone(),
                    };
                    for module in &modules {
                        if module.contains('*') || name.contains('*') {
                            let s = specificity(module, name);
                            table.reentry_globs.push((
                                module.clone(),
                                name.clone(),
                                s,
                                what.clone(),
                            ));
                        } else if table
                            .reentry_exact
                            .insert((module.clone(), name.clone()), what.clone())
                            .is_some()
                        {
                            return Err(err(
                                file,
                                format!("duplicate reentry entry for `{module}#{name}`"),
                            ));
                        }
                    }
                }
            }
            for entry in fam.denied {
                let list = |m: OneOrMany| match m {
                    OneOrMany::One(m) => vec![m],
                    OneOrMany::Many(ms) => ms,
                };
                let names = list(entry.name);
                for module in list(entry.module) {
                    for name in &names {
                        let s = specificity(&module, name);
                        table
                            .denied
                            .push((module.clone(), name.clone(), s, entry.errno));
                    }
                }
            }
        }
        // Most specific first; ties keep file order, which is sorted and therefore stable.
        table.denied.sort_by_key(|d| std::cmp::Reverse(d.2));
        table
            .globs
            .sort_by_key(|g| std::cmp::Reverse(g.specificity));
        table.reentry_globs.sort_by_key(|g| std::cmp::Reverse(g.2));
        Ok(table)
    }

    /// What a function import may call back while it runs (exact entry, else the most
    /// specific glob, else anything).
    pub fn reentry(&self, module: &str, name: &str) -> Reentry {
        let module = strip_version(module);
        if let Some(r) = self
            .reentry_exact
            .get(&(module.to_string(), name.to_string()))
        {
            return r.clone();
        }
        self.reentry_globs
            .iter()
            .find(|(m, n, _, _)| glob_match(m, module) && glob_match(n, name))
            .map_or(Reentry::Any, |g| g.3.clone())
    }

    /// The error value a function of this import's family returns when it refuses
    /// (`[[denied]]`, the most specific match), if the family reports errors by value.
    pub fn denied_errno(&self, module: &str, name: &str) -> Option<i32> {
        let module = strip_version(module);
        self.denied
            .iter()
            .find(|(m, n, _, _)| glob_match(m, module) && glob_match(n, name))
            .map(|d| d.3)
    }

    /// Version of the table (`capabilities_version` in the output).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Capability names with their one-line docs.
    pub fn vocabulary(&self) -> &BTreeMap<String, String> {
        &self.vocabulary
    }

    /// The `(module, name)` patterns of every `[[import]]` entry (`*` wildcards, no escapes)
    /// and the JS names and classes of the wasm-bindgen `[[js]]` entries: what `policy diff` needs to
    /// split the import name space into regions [`Self::classify`] treats alike.
    pub fn import_rules(&self) -> ImportRules<'_> {
        let mut rules: Vec<(&str, &str)> = self
            .exact
            .keys()
            .map(|(m, n)| (m.as_str(), n.as_str()))
            .chain(
                self.globs
                    .iter()
                    .map(|g| (g.module.as_str(), g.name.as_str())),
            )
            .collect();
        rules.sort_unstable();
        let mut js: Vec<(&String, &Classification)> = self.js.iter().collect();
        js.sort_unstable_by_key(|(n, _)| *n);
        (
            rules,
            js.into_iter().map(|(n, c)| (n.as_str(), c)).collect(),
        )
    }

    /// Classifies a function import.
    pub fn classify(&self, module: &str, name: &str) -> Classification {
        let module = strip_version(module);
        if let Some(c) = self.exact.get(&(module.to_string(), name.to_string())) {
            return c.clone();
        }
        if let Some(js) = wasm_bindgen_js_name(name)
            && let Some(c) = self.js.get(js)
        {
            return c.clone();
        }
        for g in &self.globs {
            if glob_match(&g.module, module) && glob_match(&g.name, name) {
                return g.class.clone();
            }
        }
        Classification {
            capabilities: vec![UNKNOWN_HOST.to_string()],
            narrow: None,
            replaces_stdio: false,
            produces: None,
            descriptor_io: false,
        }
    }
}

/// How specific a glob rule is: its characters other than `*`.
fn specificity(module: &str, name: &str) -> usize {
    module.len() + name.len() - module.matches('*').count() - name.matches('*').count()
}

/// `wasi:filesystem/types@0.2.0` -> `wasi:filesystem/types`; names without a version are kept.
pub fn strip_version(module: &str) -> &str {
    match module.rfind('@') {
        Some(i) if module[i + 1..].starts_with(|c: char| c.is_ascii_digit()) => &module[..i],
        _ => module,
    }
}

/// `__wbg_fetch_1b2c3d4e5f6a7b8c` -> `fetch`; `None` for names that are not wasm-bindgen imports.
fn wasm_bindgen_js_name(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("__wbg_")?;
    match rest.rfind('_') {
        Some(i) if rest.len() - i > 8 && rest[i + 1..].bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(&rest[..i])
        }
        _ => Some(rest),
    }
}

/// Matches `text` against a pattern where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    glob_units(
        pattern.as_bytes(),
        text.as_bytes(),
        |p| p == b'*',
        |p, t| p == t,
    )
}

/// Glob matching over any units (bytes here, escaped pattern tokens in policies): a unit
/// for which `is_star` holds consumes any run of `text`, any other must be `eq` to one.
/// Greedy with one backtrack point: linear in practice, O(pattern * text) at worst.
pub fn glob_units<P: Copy, T: Copy>(
    pat: &[P],
    text: &[T],
    is_star: impl Fn(P) -> bool,
    eq: impl Fn(P, T) -> bool,
) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < text.len() {
        if pi < pat.len() && is_star(pat[pi]) {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < pat.len() && eq(pat[pi], text[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pat[pi..].iter().all(|&p| is_star(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("invoke_*", "invoke_vii"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYc"));
        assert!(!glob_match("a*b", "ab c"));
        assert!(!glob_match("invoke_*", "invok"));
    }

    #[test]
    fn versions_and_js_names() {
        assert_eq!(strip_version("wasi:io/streams@0.2.10"), "wasi:io/streams");
        assert_eq!(strip_version("@scope/pkg"), "@scope/pkg");
        assert_eq!(
            wasm_bindgen_js_name("__wbg_fetch_1b2c3d4e5f6a7b8c"),
            Some("fetch")
        );
        assert_eq!(
            wasm_bindgen_js_name("__wbg_set_onmessage"),
            Some("set_onmessage")
        );
        assert_eq!(wasm_bindgen_js_name("fd_write"), None);
    }

    #[test]
    fn descriptor_producers_and_movers_come_from_the_data() {
        let t = CapabilityTable::builtin().unwrap();
        let produces = |m: &str, n: &str| t.classify(m, n).produces;
        assert_eq!(
            produces("wasi_snapshot_preview1", "path_open"),
            Some(Produces::File)
        );
        assert_eq!(
            produces("wasi_snapshot_preview1", "sock_accept"),
            Some(Produces::Socket)
        );
        assert_eq!(produces("env", "__syscall_openat"), Some(Produces::File));
        assert_eq!(produces("env", "__syscall_accept4"), Some(Produces::Socket));
        assert_eq!(produces("wasix_32v1", "fd_pipe"), Some(Produces::Pipe));
        assert_eq!(
            produces("wasix_64v1", "http_request"),
            Some(Produces::Other)
        );
        assert_eq!(produces("wasi_snapshot_preview1", "fd_close"), None);
        assert!(
            t.classify("wasi_snapshot_preview1", "fd_write")
                .descriptor_io
        );
        assert!(t.classify("env", "__syscall_pwrite64").descriptor_io);
        assert!(
            !t.classify("wasi_snapshot_preview1", "sock_send")
                .descriptor_io
        );
    }

    #[test]
    fn descriptor_io_without_a_descriptor_capability_is_rejected() {
        let vocab = r#"version = "0"
[[capability]]
name = "stdio"
doc = "d"
"#;
        let family = r#"[[import]]
module = "m"
name = "f"
capabilities = ["stdio"]
descriptor_io = true
"#;
        let e = CapabilityTable::from_files(&[("vocabulary.toml", vocab), ("f.toml", family)])
            .unwrap_err();
        assert!(e.to_string().contains("descriptor_io"), "{e}");
        let bad_kind =
            "[[import]]\nmodule = \"m\"\nname = \"f\"\ncapabilities = []\nproduces = \"tape\"\n";
        assert!(
            CapabilityTable::from_files(&[("vocabulary.toml", vocab), ("f.toml", bad_kind)])
                .is_err()
        );
    }

    #[test]
    fn builtin_table_loads_and_classifies_wasi() {
        let t = CapabilityTable::builtin().unwrap();
        let c = t.classify("wasi_snapshot_preview1", "fd_write");
        assert!(c.capabilities.contains(&"stdio".to_string()));
        assert_eq!(c.narrow, Some(Narrow::P1FdArg0));
        assert_eq!(
            t.classify("env", "no_such_import_xyz").capabilities,
            vec![UNKNOWN_HOST]
        );
    }

    #[test]
    fn reentry_families_come_from_the_data() {
        let t = CapabilityTable::builtin().unwrap();
        let none = |m: &str, n: &str| match t.reentry(m, n) {
            Reentry::Known { exports, table, .. } => exports.is_empty() && table.is_none(),
            Reentry::Any => false,
        };
        assert!(none("wasi_snapshot_preview1", "path_open"));
        assert!(none(
            "wasi:filesystem/types@0.2.3",
            "[method]descriptor.open-at"
        ));
        assert!(none("gojs", "runtime.wasmWrite"));
        assert_eq!(t.reentry("env", "js_callback"), Reentry::Any);
        assert!(none("env", "__syscall_openat"));
        assert_eq!(t.reentry("env", "emscripten_asm_const_int"), Reentry::Any);
        match t.reentry("env", "_mmap_js") {
            Reentry::Known { exports, .. } => assert_eq!(exports, ["emscripten_builtin_memalign"]),
            Reentry::Any => panic!("mmap is listed"),
        }
        assert_eq!(t.reentry("gojs", "syscall/js.valueCall"), Reentry::Any);
        assert_eq!(
            t.reentry("wbg", "__wbg_call_1b2c3d4e5f6a7b8c"),
            Reentry::Any
        );
        match t.reentry("wbg", "__wbindgen_string_get") {
            Reentry::Known { exports, table, .. } => {
                assert_eq!(exports, ["__wbindgen_*", "__externref_*"]);
                assert_eq!(table, None);
            }
            Reentry::Any => panic!("wasm-bindgen intrinsics are listed"),
        }
        match t.reentry("env", "invoke_vii") {
            Reentry::Known { rule, table, .. } => {
                assert_eq!(rule, "invoke_*");
                assert_eq!(table.as_deref(), Some("__indirect_function_table"));
            }
            Reentry::Any => panic!("invoke_* is listed"),
        }
    }
}
