//! `wasmgate harden`: rewrites a WebAssembly core module (or a component's) so that what
//! its policy denies is gone, whatever runtime hosts it later, and checks that it worked.
//!
//! Imports whose every use is denied become internal functions that refuse (an errno where
//! the family reports errors by value, `rules/capabilities` `[[denied]]`, else a trap);
//! `path_open` serving allowed and denied file access is wrapped in a guard that masks the
//! denied rights, the clock-id imports in one that passes only allowed ids; unreachable
//! code and unreferenced passive element segments go. A component has each embedded core
//! module hardened in place (`component`). The output is then analysed afresh (never trusting
//! the record this crate writes into it) and every denied capability still reached is
//! reported as not enforced.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmgate_analyzer::{Analysis, BinaryKind};
use wasmgate_policy::{ValidPolicy, allows_capability};
use wasmparser::{Parser, Payload, TypeRef, Validator, WasmFeatures};

mod component;
mod plan;
mod rewrite;

use plan::Action;

/// Name of the custom section recording what was hardened. Informational only: it is
/// forgeable, so nothing (the analyzer included) reads it to decide anything.
pub const RECORD_SECTION: &str = "wasmgate.harden";

/// Version of the JSON report and of the record section.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// Parameters and results of a function type.
pub(crate) type FuncSig = (Vec<wasmparser::ValType>, Vec<wasmparser::ValType>);

/// What a refused call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Denied {
    /// Return the family's errno where the function returns one (`[[denied]]`), else trap.
    #[default]
    Errno,
    /// Always trap (`unreachable`).
    Trap,
}

/// How to harden.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// What refused calls do.
    pub denied: Denied,
    /// wasmgate's version, recorded in the output.
    pub version: String,
}

impl Options {
    /// Options with `denied` and the recorded `version`.
    pub fn new(denied: Denied, version: &str) -> Self {
        Options {
            denied,
            version: version.to_string(),
        }
    }
}

/// Why hardening failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is of a kind this version does not rewrite.
    #[error("cannot harden this binary: {0}")]
    Unsupported(String),
    /// The input did not parse (it was analysed first, so this is unexpected).
    #[error("malformed input at byte offset {offset}: {message}")]
    Parse {
        /// Byte offset into the input.
        offset: u64,
        /// What the parser said.
        message: String,
    },
    /// Re-encoding failed.
    #[error("cannot re-encode the module: {0}")]
    Encode(String),
    /// The rewritten module does not validate: a bug of wasmgate, nothing is written.
    #[error("the hardened module does not validate (a wasmgate bug): {0}")]
    Invalid(String),
    /// The rewritten module could not be analysed.
    #[error("the hardened module cannot be analysed: {0}")]
    Analyze(#[from] wasmgate_analyzer::Error),
    /// A core module inside a component could not be hardened.
    #[error("{path}: {source}")]
    InModule {
        /// Its position in the component (`module[1]`).
        path: String,
        /// Why.
        source: Box<Error>,
    },
    /// A panic caught at the boundary (a wasmgate bug).
    #[error("internal error while hardening (a wasmgate bug): {0}")]
    Panic(String),
}

/// A removed import and its stand-in.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RemovedImport {
    /// `<module>#<name>`.
    pub import: String,
    /// The denied capabilities it conferred where reached (empty when unreachable or
    /// denied by `[imports]`).
    pub denied: Vec<String>,
    /// `errno N` or `trap`.
    pub stand_in: String,
    /// Why it was removed.
    pub reason: String,
}

/// A guarded import.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GuardedImport {
    /// `<module>#<name>`.
    pub import: String,
    /// Capabilities the guard withholds.
    pub withheld: Vec<String>,
    /// What a refused request gets: `errno N` or `trap`.
    pub refusal: String,
}

/// A denied capability the output still reaches.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct NotEnforced {
    /// The capability.
    pub capability: String,
    /// The import it is reached through in the output.
    pub import: String,
    /// Why hardening could not take it away.
    pub reason: String,
}

/// What hardening did (the JSON report, `schema_version` 1; arrays sorted).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// wasmgate's version.
    pub wasmgate_version: String,
    /// sha256 of the input.
    pub input_sha256: String,
    /// sha256 of the policy file's text, then of each file it extends, in order.
    pub policy_sha256: Vec<String>,
    /// What refused calls do.
    pub denied_mode: Denied,
    /// Input size in bytes.
    pub size_before: u64,
    /// Output size in bytes.
    pub size_after: u64,
    /// The denied capabilities the input reaches.
    pub denied_capabilities: Vec<String>,
    /// Imports removed, with their stand-ins.
    pub removed_imports: Vec<RemovedImport>,
    /// Imports kept behind a guard.
    pub guarded_imports: Vec<GuardedImport>,
    /// Names of the defined functions whose bodies went (unreachable).
    pub removed_functions: Vec<String>,
    /// Passive data segments emptied (no live code uses them).
    pub emptied_data_segments: Vec<u32>,
    /// Passive and declarative element segments removed (input indices): no live code
    /// initialises a table from them, drops them, or takes a `ref.func` they declare.
    pub removed_element_segments: Vec<u32>,
    /// Custom sections left out (debug information about code that moved).
    pub dropped_sections: Vec<String>,
    /// Denied capabilities the output still reaches (exit 1 when not empty). For a
    /// component, also the denied component imports it still declares.
    pub not_enforced: Vec<NotEnforced>,
    /// For a component: each embedded core module's own hardening, in binary order (its
    /// `not_enforced` is what the module alone would still reach; the component's
    /// `not_enforced` above decides).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<ModuleHardening>,
}

/// The hardening of one core module inside a component.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleHardening {
    /// Position in the component tree, as `inspect` names it (`module[1]`,
    /// `component[0]/module[0]`).
    pub path: String,
    /// What was done to it.
    #[serde(flatten)]
    pub report: Report,
}

/// The hardened module and the report.
#[derive(Debug)]
pub struct Hardened {
    /// The output module (validated).
    pub bytes: Vec<u8>,
    /// What was done.
    pub report: Report,
    /// The analysis of the output (under the policy's options).
    pub analysis: Analysis,
}

/// Hardens `bytes` (analysed as `analysis` under `policy`'s options) against `policy`.
/// Never panics: a panic inside is caught and returned as [`Error::Panic`].
pub fn harden(
    bytes: &[u8],
    analysis: &Analysis,
    policy: &ValidPolicy,
    options: &Options,
) -> Result<Hardened, Error> {
    match catch_unwind(AssertUnwindSafe(|| {
        harden_inner(bytes, analysis, policy, options)
    })) {
        Ok(r) => r,
        Err(p) => Err(Error::Panic(
            p.downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into()),
        )),
    }
}

fn harden_inner(
    bytes: &[u8],
    analysis: &Analysis,
    policy: &ValidPolicy,
    options: &Options,
) -> Result<Hardened, Error> {
    match (&analysis.kind, &analysis.module) {
        (BinaryKind::Module, Some(m)) => harden_module(bytes, analysis, m, policy, options, false),
        (BinaryKind::Component, _) => component::harden(bytes, analysis, policy, options),
        _ => Err(Error::Unsupported(
            "the analysis has no core module and is no component".into(),
        )),
    }
}

/// Hardens one core module. `embedded`: it sits inside a component, so the policy's
/// `[imports]` (which name the component's imports) do not apply to its own imports, and
/// imports the capability table does not know are left alone (what they are is decided by
/// the component's wiring, which the component-level verification checks).
pub(crate) fn harden_module(
    bytes: &[u8],
    analysis: &Analysis,
    module: &wasmgate_analyzer::CoreModule,
    policy: &ValidPolicy,
    options: &Options,
    embedded: bool,
) -> Result<Hardened, Error> {
    if let Some(s) = module
        .custom_sections
        .iter()
        .find(|s| s.name == "linking" || s.name.starts_with("reloc."))
    {
        return Err(Error::Unsupported(format!(
            "relocatable object file (custom section `{}` at byte offset {}): its relocations \
             name function indices the rewrite would move; harden the linked module",
            wasmgate_escape_name(&s.name),
            s.offset
        )));
    }
    let (func_types, import_types) = types_of(bytes)?;
    let trap = options.denied == Denied::Trap;
    let plan = plan::plan(analysis, module, policy, &func_types, trap, embedded);

    let policy_sha256 = policy_sha256(policy);
    let mut removed_imports = Vec::new();
    let mut guarded_imports = Vec::new();
    for ((id, action), denied) in plan.imports.iter().zip(&plan.denied) {
        let refusal = |e: Option<i64>| e.map_or("trap".to_string(), |e| format!("errno {e}"));
        match action {
            Action::Keep => {}
            Action::Stub { errno, why } => removed_imports.push(RemovedImport {
                import: id.clone(),
                denied: denied.iter().cloned().collect(),
                stand_in: refusal(*errno),
                reason: why.clone(),
            }),
            Action::Guard(g) => {
                let mut withheld = Vec::new();
                if g.create {
                    withheld.push("fs.create".to_string());
                }
                if g.read {
                    withheld.push("fs.read".to_string());
                }
                if g.write {
                    withheld.push("fs.write".to_string());
                }
                guarded_imports.push(GuardedImport {
                    import: id.clone(),
                    withheld,
                    refusal: refusal(g.errno),
                })
            }
            Action::Select(g) => guarded_imports.push(GuardedImport {
                import: id.clone(),
                withheld: g.withheld.clone(),
                refusal: refusal(g.errno),
            }),
        }
    }
    let nimp = plan.imports.len();
    let mut removed_functions: Vec<String> = module
        .functions
        .iter()
        .filter(|f| f.import.is_none())
        .filter(|f| {
            !plan
                .live
                .get((f.index as usize).wrapping_sub(nimp))
                .copied()
                .unwrap_or(true)
        })
        .map(|f| f.name.clone())
        .collect();
    removed_functions.sort();
    let record = serde_json::json!({
        "schema_version": REPORT_SCHEMA_VERSION,
        "wasmgate_version": options.version,
        "policy_sha256": policy_sha256,
        "input_sha256": analysis.sha256,
        "removed_imports": removed_imports.iter().map(|r| &r.import).collect::<Vec<_>>(),
        "guarded_imports": guarded_imports.iter().map(|g| &g.import).collect::<Vec<_>>(),
        "removed_functions": removed_functions.len(),
    });
    let done = rewrite::rewrite(
        bytes,
        &plan,
        &import_types,
        &func_types,
        record.to_string().as_bytes(),
    )?;

    let mut validator = Validator::new_with_features(WasmFeatures::all());
    validator
        .validate_all(&done.bytes)
        .map_err(|e| Error::Invalid(format!("byte offset {}: {}", e.offset(), e.message())))?;
    let after = wasmgate_analyzer::analyze_with(&done.bytes, policy.analysis_options())?;

    let denied_before: BTreeSet<String> = reached_denied(analysis, policy)
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    let unrefined = after
        .module
        .as_ref()
        .and_then(|m| m.call_graph.descriptors.as_ref())
        .and_then(|d| d.unrefined.clone());
    let mut not_enforced: Vec<NotEnforced> = reached_denied(&after, policy)
        .into_iter()
        .map(|(capability, import)| {
            let mut reason = plan
                .notes
                .iter()
                .find(|(id, _)| *id == import)
                .map(|(_, why)| why.clone())
                .unwrap_or_else(|| "still reached in the output".into());
            if let Some(u) = unrefined.as_ref().filter(|_| {
                wasmgate_analyzer::DESCRIPTOR_CAPABILITIES.contains(&capability.as_str())
            }) {
                reason.push_str(&format!("; this module's descriptors are not refined: {u}"));
            }
            NotEnforced {
                capability,
                import,
                reason,
            }
        })
        .collect();
    not_enforced.sort();
    not_enforced.dedup();
    removed_imports.sort_by(|a, b| a.import.cmp(&b.import));
    guarded_imports.sort_by(|a, b| a.import.cmp(&b.import));
    let report = Report {
        schema_version: REPORT_SCHEMA_VERSION,
        wasmgate_version: options.version.clone(),
        input_sha256: analysis.sha256.clone(),
        policy_sha256,
        denied_mode: options.denied,
        size_before: bytes.len() as u64,
        size_after: done.bytes.len() as u64,
        denied_capabilities: denied_before.into_iter().collect(),
        removed_imports,
        guarded_imports,
        removed_functions,
        emptied_data_segments: done.emptied_data,
        removed_element_segments: done.removed_elements,
        dropped_sections: done.dropped_sections,
        not_enforced,
        modules: Vec::new(),
    };
    Ok(Hardened {
        bytes: done.bytes,
        report,
        analysis: after,
    })
}

/// `(capability, import)` pairs the analysis reaches that the policy denies. Per-entry
/// reaches list every capability an entry reaches (one witness each).
pub(crate) fn reached_denied(a: &Analysis, policy: &ValidPolicy) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for e in &a.entry_points {
        for r in &e.reaches {
            if !allows_capability(policy, &r.capability) {
                out.insert((r.capability.clone(), r.import.clone()));
            }
        }
    }
    for s in &a.shared_reaches {
        if !allows_capability(policy, &s.witness.capability) {
            out.insert((s.witness.capability.clone(), s.witness.import.clone()));
        }
    }
    out
}

/// Function types by type index, and the type index of each function import.
fn types_of(bytes: &[u8]) -> Result<(Vec<FuncSig>, Vec<u32>), Error> {
    let parse = |e: wasmparser::BinaryReaderError| Error::Parse {
        offset: e.offset(),
        message: e.message().to_string(),
    };
    let mut types = Vec::new();
    let mut imports = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(parse)? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(parse)?.into_types() {
                        types.push(match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => {
                                (f.params().to_vec(), f.results().to_vec())
                            }
                            _ => (Vec::new(), Vec::new()),
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for imp in reader.into_imports() {
                    if let TypeRef::Func(t) | TypeRef::FuncExact(t) = imp.map_err(parse)?.ty {
                        imports.push(t);
                    }
                }
            }
            Payload::CodeSectionStart { .. } => break,
            _ => {}
        }
    }
    Ok((types, imports))
}

/// sha256 of the policy file's text, then of each file it extends.
pub(crate) fn policy_sha256(policy: &ValidPolicy) -> Vec<String> {
    policy
        .sources
        .iter()
        .map(|s| hex(&Sha256::digest(s.text.as_bytes())))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Section names are hostile: shown with Rust's escaping in error text.
fn wasmgate_escape_name(name: &str) -> String {
    name.escape_debug().to_string()
}
