//! `[[calls]]` constraints: each gets verdicts from the SMT checker (`wasmgate-smt`) and
//! becomes findings. Fail closed: whatever is not proven (no bytes, a component, a build
//! without the solver, a timeout, a value from memory) is `call-argument-unproven`, never
//! a pass.
//!
//! Findings are aggregated so real binaries stay readable and SARIF stays small: violations
//! and unknowns one per (constraint, import, function), proofs one `pass` per constraint.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use wasmgate_analyzer::{Analysis, BinaryKind, ExternKind};
use wasmgate_smt::{Allowed, Checker, Outcome, Query, Site, Verdict};

use super::{Cx, Draft};
use crate::finding::{Kind, Location};
use crate::policy::{ArgRef, CallConstraint, import_matches};
use crate::rules::id;
use crate::signatures;

/// Solver time limit per query when neither the flag nor the policy sets one.
pub const DEFAULT_TIMEOUT_MS: u64 = 2_000;

/// Options of the SMT checker given on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmtOptions {
    /// `--smt-timeout`: milliseconds per query; wins over every `timeout_ms` of the policy.
    pub timeout_ms: Option<u64>,
}

/// Why `arg = NAME` cannot be resolved for an import pattern, if it cannot.
///
/// The message never repeats the pattern or the name (policy text may be hostile and long).
pub(crate) fn check_arg_name(pattern: &str, name: &str) -> Result<(), String> {
    let matching: Vec<_> = signatures::all()
        .filter(|(m, f, _)| import_matches(pattern, m, f))
        .collect();
    if matching.is_empty() {
        // The pattern and name are in the quoted source line: keep the message short.
        return Err(
            "no known signature matches the import pattern, so the parameter name names nothing"
                .to_string(),
        );
    }
    for (m, f, params) in matching {
        if !params.iter().any(|p| p == name) {
            return Err(format!(
                "`{m}#{f}` has no parameter of that name (its parameters: {})",
                if params.is_empty() {
                    "none".to_string()
                } else {
                    params.join(", ")
                }
            ));
        }
    }
    Ok(())
}

/// The constraint's allowed values, as the checker takes them.
fn allowed(c: &CallConstraint) -> Allowed {
    Allowed {
        one_of: c.one_of.clone(),
        min: c.min,
        max: c.max,
        bits_clear: c.bits_clear.unwrap_or(0),
        bits_set: c.bits_set.unwrap_or(0),
    }
}

/// `one_of [1, 2], max 7` for messages.
fn describe(c: &CallConstraint) -> String {
    let mut parts = Vec::new();
    if !c.one_of.is_empty() {
        let v: Vec<String> = c.one_of.iter().map(u64::to_string).collect();
        parts.push(format!("one_of [{}]", v.join(", ")));
    }
    if let Some(m) = c.min {
        parts.push(format!("min {m}"));
    }
    if let Some(m) = c.max {
        parts.push(format!("max {m}"));
    }
    if let Some(b) = c.bits_clear {
        parts.push(format!("bits_clear {b:#x}"));
    }
    if let Some(b) = c.bits_set {
        parts.push(format!("bits_set {b:#x}"));
    }
    parts.join(", ")
}

fn arg_label(arg: &ArgRef) -> String {
    match arg {
        ArgRef::Index(i) => format!("arg{i}"),
        ArgRef::Name(n) => n.clone(),
    }
}

/// The core index of `arg` for one import, or why there is none.
fn resolve(arg: &ArgRef, module: &str, name: &str) -> Result<u32, String> {
    match arg {
        ArgRef::Index(i) => Ok(*i),
        ArgRef::Name(n) => signatures::params(module, name)
            .and_then(|p| p.iter().position(|x| x == n))
            .map(|i| i as u32)
            .ok_or_else(|| format!("`{module}#{name}` has no known parameter `{n}`")),
    }
}

impl Cx<'_> {
    /// Gives every `[[calls]]` constraint its verdicts.
    pub(super) fn calls(&mut self, analysis: &Analysis, bytes: Option<&[u8]>, opts: &SmtOptions) {
        let policy = self.policy;
        if policy.calls.is_empty() {
            return;
        }
        let blocked = if !wasmgate_smt::SOLVER {
            Some("wasmgate was built without the SMT solver (cargo feature `smt`)".to_string())
        } else if analysis.kind == BinaryKind::Component {
            Some("components are not analysed by the SMT checker yet".to_string())
        } else if bytes.is_none() {
            Some("the module's bytes were not given to the checker".to_string())
        } else {
            None
        };
        let mut checker = match (&blocked, bytes) {
            (None, Some(b)) => match Checker::new(b, analysis) {
                Ok(c) => Some(c),
                Err(e) => {
                    for c in &policy.calls {
                        self.unproven_whole(c, &e.to_string());
                    }
                    return;
                }
            },
            _ => None,
        };
        for c in &policy.calls {
            let Some(checker) = checker.as_mut() else {
                self.unproven_whole(c, blocked.as_deref().unwrap_or("no checker"));
                continue;
            };
            self.constraint(c, analysis, checker, opts);
        }
    }

    fn constraint(
        &mut self,
        c: &CallConstraint,
        analysis: &Analysis,
        checker: &mut Checker<'_>,
        opts: &SmtOptions,
    ) {
        let label = arg_label(&c.arg);
        let imports: Vec<(u32, &wasmgate_analyzer::Import)> = analysis
            .imports
            .iter()
            .filter(|i| i.kind == ExternKind::Func)
            .enumerate()
            .map(|(n, i)| (n as u32, i))
            .filter(|(_, i)| import_matches(&c.import.value, &i.module, &i.name))
            .collect();
        let timeout_ms = opts
            .timeout_ms
            .or(c.timeout_ms)
            .unwrap_or(DEFAULT_TIMEOUT_MS);
        let mut proven_sites = 0usize;
        let mut failed = false;
        let mut vacuous: Vec<&str> = Vec::new();
        for (func, import) in &imports {
            let arg = match resolve(&c.arg, &import.module, &import.name) {
                Ok(a) => a,
                Err(why) => {
                    self.unproven_import(c, &import.id, &label, &why);
                    failed = true;
                    continue;
                }
            };
            let params = checker.param_count(*func).unwrap_or(0);
            if arg as usize >= params {
                let why = format!(
                    "`{}` takes {params} core parameter{}, so it has no argument {arg}",
                    import.id,
                    if params == 1 { "" } else { "s" }
                );
                self.unproven_import(c, &import.id, &label, &why);
                failed = true;
                continue;
            }
            let outcome = checker.check(&Query {
                import: *func,
                arg,
                allowed: allowed(c),
                timeout_ms,
            });
            if outcome.sites.is_empty() {
                vacuous.push(&import.id);
                continue;
            }
            let (proven, bad) = self.sites(analysis, c, &import.id, &label, &outcome);
            proven_sites += proven;
            failed |= bad;
        }
        if failed {
            return;
        }
        let subject = format!("{}:{label}", c.import.value);
        let mut message = format!(
            "argument `{label}` of `{}` is proven within {}",
            c.import.value,
            describe(c)
        );
        if imports.is_empty() {
            message.push_str(": proven vacuously, no function import matches");
        } else if proven_sites == 0 {
            let _ = write!(
                message,
                ": proven vacuously, never called ({})",
                vacuous.join(", ")
            );
        } else {
            let _ = write!(
                message,
                " at every call ({proven_sites} call site{})",
                if proven_sites == 1 { "" } else { "s" }
            );
            if !vacuous.is_empty() {
                let _ = write!(message, "; never called: {}", vacuous.join(", "));
            }
        }
        self.emit(
            Draft {
                rule: id::CALL_ARGUMENT_VIOLATED,
                message,
                subject,
                location: Location::default(),
                entries: Vec::new(),
                witness: Vec::new(),
                origin: c.at.clone(),
            },
            Kind::Pass,
            None,
        );
    }

    /// Findings for the sites of one import: returns (proven sites, anything not proven).
    fn sites(
        &mut self,
        analysis: &Analysis,
        c: &CallConstraint,
        import: &str,
        label: &str,
        outcome: &Outcome,
    ) -> (usize, bool) {
        let mut by_function: BTreeMap<(&str, u8), Vec<&Site>> = BTreeMap::new();
        let mut proven = 0;
        for s in &outcome.sites {
            match &s.verdict {
                Verdict::Proven => proven += 1,
                Verdict::Violated(_) => by_function.entry((&s.function, 0)).or_default().push(s),
                Verdict::Unknown { .. } => by_function.entry((&s.function, 1)).or_default().push(s),
            }
        }
        let failed = !by_function.is_empty();
        for ((function, kind), sites) in by_function {
            let offsets: Vec<String> = sites.iter().map(|s| format!("{:#x}", s.offset)).collect();
            let first = sites[0];
            let mut entries: Vec<&str> = sites
                .iter()
                .flat_map(|s| s.entry_points.iter().map(String::as_str))
                .collect();
            entries.sort_unstable();
            entries.dedup();
            let location = Location {
                offset: Some(first.offset),
                function: Some(function.to_string()),
                ..Location::default()
            };
            let subject = format!("{}:{label}@{function}", c.import.value);
            if kind == 0 {
                let Verdict::Violated(cx) = &first.verdict else {
                    continue;
                };
                let chain: Vec<String> = cx
                    .chain
                    .iter()
                    .map(|s| format!("`{}` @ {:#x}", s.function, s.offset))
                    .collect();
                let mut message = format!(
                    "`{function}` passes {label} = {} to `{import}`, outside {} (call at {}; caller chain {}",
                    cx.value,
                    describe(c),
                    offsets.join(", "),
                    chain.join(" -> "),
                );
                if let Some(e) = &cx.entry_point {
                    let _ = write!(message, "; entry point `{e}`");
                }
                if !cx.inputs.is_empty() {
                    let inputs: Vec<String> = cx
                        .inputs
                        .iter()
                        .map(|(n, v)| format!("{n} = {v}"))
                        .collect();
                    let _ = write!(message, "; with {}", inputs.join(", "));
                }
                message.push(')');
                let counterexample = serde_json::json!({
                    "import": import,
                    "arg": label,
                    "value": cx.value,
                    "entry_point": cx.entry_point,
                    "chain": cx.chain,
                    "inputs": cx.inputs.iter().map(|(n, v)| serde_json::json!({"name": n, "value": v})).collect::<Vec<_>>(),
                });
                let mut witness: Vec<std::sync::Arc<str>> = cx
                    .chain
                    .iter()
                    .map(|s| s.function.as_str().into())
                    .collect();
                witness.push(import.into());
                let entry_kind = cx.entry_point.as_ref().and_then(|name| {
                    analysis
                        .entry_points
                        .iter()
                        .find(|e| &e.name == name)
                        .map(|e| e.kind)
                });
                let location = Location {
                    offset: cx.chain.last().map(|s| s.offset),
                    entry_point: cx.entry_point.clone().filter(|_| entry_kind.is_some()),
                    entry_kind,
                    ..location
                };
                self.emit(
                    Draft {
                        rule: id::CALL_ARGUMENT_VIOLATED,
                        message,
                        subject,
                        location,
                        entries: Vec::new(),
                        witness,
                        origin: c.at.clone(),
                    },
                    Kind::Fail,
                    Some(counterexample),
                );
            } else {
                let mut reasons: Vec<String> = Vec::new();
                for s in &sites {
                    if let Verdict::Unknown { reasons: r } = &s.verdict {
                        for r in r {
                            let text = match r.offset {
                                Some(o) => format!("{} in `{}` @ {o:#x}", r.what, r.function),
                                None => format!("{} in `{}`", r.what, r.function),
                            };
                            if !reasons.contains(&text) {
                                reasons.push(text);
                            }
                        }
                    }
                }
                let shown = reasons.len().min(4);
                let mut why = reasons[..shown].join("; ");
                if reasons.len() > shown {
                    let _ = write!(why, "; and {} more", reasons.len() - shown);
                }
                let message = format!(
                    "cannot prove `{label}` of `{import}` within {} at {} call{} in `{function}` ({}): {why}; reached from {}",
                    describe(c),
                    sites.len(),
                    if sites.len() == 1 { "" } else { "s" },
                    offsets.join(", "),
                    if entries.is_empty() {
                        "no entry point".to_string()
                    } else {
                        entries
                            .iter()
                            .map(|e| format!("`{e}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                );
                let counterexample = serde_json::json!({
                    "import": import,
                    "arg": label,
                    "sites": sites.iter().map(|s| s.offset).collect::<Vec<_>>(),
                    "reasons": reasons,
                });
                self.emit(
                    Draft {
                        rule: id::CALL_ARGUMENT_UNPROVEN,
                        message,
                        subject,
                        location,
                        entries: Vec::new(),
                        witness: Vec::new(),
                        origin: c.at.clone(),
                    },
                    Kind::Fail,
                    Some(counterexample),
                );
            }
        }
        (proven, failed)
    }

    /// The whole constraint is undecided (no checker for this binary).
    fn unproven_whole(&mut self, c: &CallConstraint, why: &str) {
        let label = arg_label(&c.arg);
        self.emit(
            Draft {
                rule: id::CALL_ARGUMENT_UNPROVEN,
                message: format!(
                    "cannot prove `{label}` of `{}` within {}: {why}",
                    c.import.value,
                    describe(c)
                ),
                subject: format!("{}:{label}", c.import.value),
                location: Location::default(),
                entries: Vec::new(),
                witness: Vec::new(),
                origin: c.at.clone(),
            },
            Kind::Fail,
            None,
        );
    }

    /// One import of the constraint is undecided (its argument cannot be located).
    fn unproven_import(&mut self, c: &CallConstraint, import: &str, label: &str, why: &str) {
        self.emit(
            Draft {
                rule: id::CALL_ARGUMENT_UNPROVEN,
                message: format!(
                    "cannot prove `{label}` of `{import}` within {}: {why}",
                    describe(c)
                ),
                subject: format!("{import}:{label}"),
                location: Location::default(),
                entries: Vec::new(),
                witness: Vec::new(),
                origin: c.at.clone(),
            },
            Kind::Fail,
            None,
        );
    }

    /// Pushes a finding with its kind and counterexample (`push` makes failing ones).
    fn emit(&mut self, d: Draft, kind: Kind, counterexample: Option<serde_json::Value>) {
        let n = self.out.len();
        self.push(d);
        if let Some(f) = self.out.get_mut(n) {
            f.kind = kind;
            f.counterexample = counterexample;
        }
    }
}
