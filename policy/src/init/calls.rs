//! The `[[calls]]` constraints `policy init` can prove for today's binary: each candidate of
//! `rules/init/calls.toml` is checked by the SMT checker, and the first one per argument that
//! holds at every call site (not vacuously) is written, so a later build that breaks it fails.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::sync::OnceLock;

use serde::Deserialize;
use wasmgate_analyzer::{Analysis, BinaryKind, ExternKind};
use wasmgate_smt::{Allowed, Checker, Query, Verdict};

use crate::check::calls::DEFAULT_TIMEOUT_MS;
use crate::policy::import_matches;
use crate::signatures;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    candidate: Vec<Candidate>,
}

/// One constraint `policy init` may write.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct Candidate {
    pub(crate) import: String,
    pub(crate) arg: String,
    #[serde(default)]
    pub(crate) one_of: Vec<u64>,
    pub(crate) min: Option<u64>,
    pub(crate) max: Option<u64>,
    pub(crate) bits_clear: Option<u64>,
    pub(crate) bits_set: Option<u64>,
    pub(crate) why: String,
}

/// The embedded candidates (a malformed file fails the unit test, so this cannot panic in
/// a tested build).
pub(crate) fn candidates() -> &'static [Candidate] {
    static C: OnceLock<Vec<Candidate>> = OnceLock::new();
    C.get_or_init(|| {
        let f: File = toml::from_str(include_str!("../../../rules/init/calls.toml"))
            .unwrap_or_else(|e| panic!("rules/init/calls.toml: {e}"));
        f.candidate
    })
}

/// The `[[calls]]` section for `a` (with its bytes): proven constraints, or a comment saying
/// why none could be checked.
pub fn section(a: &Analysis, bytes: &[u8]) -> String {
    let mut s = String::from(
        "\n# Call-site argument constraints proven at every call site today by the SMT checker\n\
         # (candidates: rules/init/calls.toml); a later build that breaks one fails `check`.\n",
    );
    if !wasmgate_smt::SOLVER {
        s.push_str("# None: wasmgate was built without the SMT solver (feature `smt`).\n");
        return s;
    }
    if a.kind == BinaryKind::Component {
        s.push_str("# None: components are not analysed by the SMT checker yet.\n");
        return s;
    }
    let Ok(mut checker) = Checker::new(bytes, a) else {
        s.push_str("# None: the SMT checker could not read the module.\n");
        return s;
    };
    let funcs: Vec<(u32, &wasmgate_analyzer::Import)> = a
        .imports
        .iter()
        .filter(|i| i.kind == ExternKind::Func)
        .enumerate()
        .map(|(n, i)| (n as u32, i))
        .collect();
    let mut done: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut written = 0;
    for c in candidates() {
        if done.contains(&(c.import.as_str(), c.arg.as_str())) {
            continue;
        }
        let allowed = Allowed {
            one_of: c.one_of.clone(),
            min: c.min,
            max: c.max,
            bits_clear: c.bits_clear.unwrap_or(0),
            bits_set: c.bits_set.unwrap_or(0),
        };
        let mut sites = 0;
        let mut holds = true;
        for (func, import) in funcs
            .iter()
            .filter(|(_, i)| import_matches(&c.import, &i.module, &i.name))
        {
            let Some(arg) = signatures::params(&import.module, &import.name)
                .and_then(|p| p.iter().position(|x| *x == c.arg))
            else {
                holds = false;
                break;
            };
            let outcome = checker.check(&Query {
                import: *func,
                arg: arg as u32,
                allowed: allowed.clone(),
                timeout_ms: DEFAULT_TIMEOUT_MS,
            });
            sites += outcome.sites.len();
            holds &= outcome.sites.iter().all(|s| s.verdict == Verdict::Proven);
        }
        if !holds || sites == 0 {
            continue;
        }
        done.insert((c.import.as_str(), c.arg.as_str()));
        written += 1;
        let _ = writeln!(
            s,
            "\n[[calls]]\n# {}: proven at {sites} call site{}.\nimport = \"{}\"\narg = \"{}\"",
            c.why,
            if sites == 1 { "" } else { "s" },
            c.import,
            c.arg
        );
        if !c.one_of.is_empty() {
            let v: Vec<String> = c.one_of.iter().map(u64::to_string).collect();
            let _ = writeln!(s, "one_of = [{}]", v.join(", "));
        }
        for (k, v) in [
            ("min", c.min),
            ("max", c.max),
            ("bits_clear", c.bits_clear),
            ("bits_set", c.bits_set),
        ] {
            if let Some(v) = v {
                let _ = writeln!(s, "{k} = {v}");
            }
        }
    }
    if written == 0 {
        s.push_str("# None of the candidates is proven for this binary.\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every candidate names a known parameter of a known signature and allows something.
    #[test]
    fn candidates_name_known_parameters() {
        assert!(!candidates().is_empty());
        for c in candidates() {
            let (m, f) = c.import.split_once('#').unwrap();
            let params = signatures::params(m, f).unwrap_or_else(|| panic!("{}", c.import));
            assert!(params.contains(&c.arg), "{}: {}", c.import, c.arg);
            assert!(
                !c.one_of.is_empty()
                    || c.min.is_some()
                    || c.max.is_some()
                    || c.bits_clear.is_some()
                    || c.bits_set.is_some(),
                "{}: constrains nothing",
                c.import
            );
        }
    }
}
