//! Components: every embedded core module (nested components' too) is hardened as a module
//! of its own and put back in place; every other section is copied as it is, so the
//! component's types, instances, lifts and lowers stay. Hardened modules keep their exports
//! and lose only imports, which core instantiation accepts.
//!
//! A component-level import cannot go this way: the host must still provide it. Taking it
//! out needs composition with a stub component, which this version does not do, so every
//! denied component import the output still declares is reported as not enforced.

use wasm_encoder::Encode;
use wasmgate_analyzer::{Analysis, ExternKind};
use wasmgate_policy::{ValidPolicy, allows_capability, allows_import};
use wasmparser::{BinaryReader, Validator, WasmFeatures};

use crate::{
    Error, Hardened, ModuleHardening, NotEnforced, Options, REPORT_SCHEMA_VERSION, Report,
};

/// Component section ids holding a core module and a nested component.
const CORE_MODULE: u8 = 1;
const COMPONENT: u8 = 4;

/// Hardens the component `bytes` (analysed as `analysis`).
pub(crate) fn harden(
    bytes: &[u8],
    analysis: &Analysis,
    policy: &ValidPolicy,
    options: &Options,
) -> Result<Hardened, Error> {
    let mut modules = Vec::new();
    let mut out = rewrite(bytes, "", policy, options, &mut modules)?;
    let policy_sha256 = crate::policy_sha256(policy);
    let record = serde_json::json!({
        "schema_version": REPORT_SCHEMA_VERSION,
        "wasmgate_version": options.version,
        "policy_sha256": policy_sha256,
        "input_sha256": analysis.sha256,
        "modules": modules.iter().map(|m| &m.path).collect::<Vec<_>>(),
    });
    let mut custom = Vec::new();
    crate::RECORD_SECTION.encode(&mut custom);
    custom.extend_from_slice(record.to_string().as_bytes());
    out.push(0);
    custom.as_slice().encode(&mut out);

    let mut validator = Validator::new_with_features(WasmFeatures::all());
    validator
        .validate_all(&out)
        .map_err(|e| Error::Invalid(format!("byte offset {}: {}", e.offset(), e.message())))?;
    let after = wasmgate_analyzer::analyze_with(&out, policy.analysis_options())?;

    let mut not_enforced: Vec<NotEnforced> = crate::reached_denied(&after, policy)
        .into_iter()
        .map(|(capability, import)| NotEnforced {
            capability,
            import,
            reason: "still reached in the output: the core import leading to it stays (see \
                     `modules` for why)"
                .into(),
        })
        .collect();
    // Sets, not list scans: an instance import may declare 100k functions.
    let unreachable: std::collections::HashSet<&str> = after
        .unreachable_imports
        .iter()
        .map(String::as_str)
        .collect();
    let mut listed: std::collections::HashSet<(String, String)> = not_enforced
        .iter()
        .map(|n| (n.capability.clone(), n.import.clone()))
        .collect();
    for imp in after.imports.iter().filter(|i| i.kind == ExternKind::Func) {
        let denied: Vec<&String> = imp
            .capabilities
            .iter()
            .filter(|c| !allows_capability(policy, c))
            .collect();
        let by_imports = !allows_import(policy, &imp.module, &imp.name);
        let entirely = !denied.is_empty() && denied.len() == imp.capabilities.len();
        if !(entirely || by_imports) {
            continue;
        }
        let unreached = unreachable.contains(imp.id.as_str());
        let reason = format!(
            "the component still imports it{}; taking a component import out needs \
             composition with a stub component, which wasmgate does not do yet",
            if unreached {
                " (no code of the output reaches it)"
            } else {
                ""
            }
        );
        let caps: Vec<String> = if denied.is_empty() {
            vec!["[imports]".to_string()]
        } else {
            denied.into_iter().cloned().collect()
        };
        for capability in caps {
            if listed.insert((capability.clone(), imp.id.clone())) {
                not_enforced.push(NotEnforced {
                    capability,
                    import: imp.id.clone(),
                    reason: reason.clone(),
                });
            }
        }
    }
    not_enforced.sort();
    let denied_capabilities = crate::reached_denied(analysis, policy)
        .into_iter()
        .map(|(c, _)| c)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let report = Report {
        schema_version: REPORT_SCHEMA_VERSION,
        wasmgate_version: options.version.clone(),
        input_sha256: analysis.sha256.clone(),
        policy_sha256,
        denied_mode: options.denied,
        size_before: bytes.len() as u64,
        size_after: out.len() as u64,
        denied_capabilities,
        removed_imports: Vec::new(),
        guarded_imports: Vec::new(),
        removed_functions: Vec::new(),
        emptied_data_segments: Vec::new(),
        removed_element_segments: Vec::new(),
        dropped_sections: Vec::new(),
        not_enforced,
        modules,
    };
    Ok(Hardened {
        bytes: out,
        report,
        analysis: after,
    })
}

fn parse(e: wasmparser::BinaryReaderError) -> Error {
    Error::Parse {
        offset: e.offset(),
        message: e.message().to_string(),
    }
}

/// The component `bytes` (at tree position `path`) with its core modules hardened, section
/// by section; each module's hardening goes to `modules`.
fn rewrite(
    bytes: &[u8],
    path: &str,
    policy: &ValidPolicy,
    options: &Options,
    modules: &mut Vec<ModuleHardening>,
) -> Result<Vec<u8>, Error> {
    let mut r = BinaryReader::new(bytes, 0);
    let mut out = r.read_bytes(8).map_err(parse)?.to_vec();
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    };
    let (mut nmodules, mut ncomponents) = (0usize, 0usize);
    while !r.eof() {
        let id = r.read_u8().map_err(parse)?;
        let size = r.read_var_u32().map_err(parse)?;
        let content = r.read_bytes(size as usize).map_err(parse)?;
        let replaced = match id {
            CORE_MODULE => {
                let here = format!("{prefix}module[{nmodules}]");
                nmodules += 1;
                let h = module(content, &here, policy, options)?;
                modules.push(ModuleHardening {
                    path: here,
                    report: h.report,
                });
                h.bytes
            }
            COMPONENT => {
                let here = format!("{prefix}component[{ncomponents}]");
                ncomponents += 1;
                rewrite(content, &here, policy, options, modules)?
            }
            _ => content.to_vec(),
        };
        out.push(id);
        replaced.as_slice().encode(&mut out);
    }
    Ok(out)
}

/// Hardens one embedded core module, analysed on its own (every export is an entry point,
/// which over-approximates what its component calls).
fn module(
    bytes: &[u8],
    path: &str,
    policy: &ValidPolicy,
    options: &Options,
) -> Result<Hardened, Error> {
    let inside = |e: Error| Error::InModule {
        path: path.to_string(),
        source: Box::new(e),
    };
    let analysis = wasmgate_analyzer::analyze_with(bytes, policy.analysis_options())
        .map_err(|e| inside(e.into()))?;
    let Some(m) = analysis.module.as_ref() else {
        return Err(inside(Error::Unsupported("not a core module".into())));
    };
    crate::harden_module(bytes, &analysis, m, policy, options, true).map_err(inside)
}
