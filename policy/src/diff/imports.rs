//! The import dimension of `policy diff`: `[imports]`, `[capabilities]` and `[[calls]]`.
//!
//! The import name space is infinite, so it is cut into regions by every pattern of both
//! policies and the capability table; one witness per region decides it. Kept apart from
//! the finite dimensions because it alone needs the region product and the solver.

use std::collections::{BTreeMap, BTreeSet};

use wasmgate_analyzer::{CapabilityTable, UNKNOWN_HOST};
use wasmgate_smt::{Allowed, Containment};

use super::{Cx, DEFAULT_TIMEOUT_MS, Slots, cap_allowed};
use crate::lang::{self, Lang, Region, Text};
use crate::policy::{ArgRef, ValidPolicy};
use crate::{pattern, signatures};

/// An import pattern as a language; one without `#` matches nothing (the loader rejects
/// it, but the product must not read it as something else).
fn import_lang(p: &str) -> Lang {
    Lang::import(p).unwrap_or(Lang::Plain(Vec::new()))
}

/// The import side of a policy: its `[imports]` lists (when it has any) and its calls.
struct ImportSide {
    allow: Option<Slots>,
    deny: Slots,
    listed: bool,
    calls: Slots,
}

impl ImportSide {
    fn new(langs: &mut Vec<Lang>, p: &ValidPolicy) -> ImportSide {
        let allow = p
            .imports
            .allow
            .as_ref()
            .map(|a| Slots::push(langs, a.value.iter().map(|x| import_lang(&x.value))));
        let deny = Slots::push(langs, p.imports.deny.iter().map(|x| import_lang(&x.value)));
        let calls = Slots::push(langs, p.calls.iter().map(|c| import_lang(&c.import.value)));
        ImportSide {
            listed: p.imports.allow.is_some() || !p.imports.deny.is_empty(),
            allow,
            deny,
            calls,
        }
    }
    /// Whether `[imports]` lets the region's imports through (absent: capabilities decide).
    fn passes(&self, r: &Region) -> bool {
        !self.listed || (self.allow.as_ref().is_none_or(|a| a.any(r)) && !self.deny.any(r))
    }
}

/// Whether a concrete import passes a policy's `[imports]`.
fn passes_concrete(p: &ValidPolicy, module: &str, name: &str) -> bool {
    let listed = p.imports.allow.is_some() || !p.imports.deny.is_empty();
    !listed
        || (p.imports.allow.as_ref().is_none_or(|a| {
            a.value
                .iter()
                .any(|x| crate::import_matches(&x.value, module, name))
        }) && !p
            .imports
            .deny
            .iter()
            .any(|x| crate::import_matches(&x.value, module, name)))
}

/// Capabilities and imports; returns the capabilities NEW lets some import (or the
/// `<unknown-host>` node) confer, which bound what an export can reach under NEW.
/// The import name space split once by every pattern of both policies and the table.
pub(super) struct ImportSpace {
    regions: Result<Vec<Region>, lang::Exhausted>,
    wbg: usize,
    patterns: usize,
    table_rules: usize,
    sides: [ImportSide; 2],
}

impl ImportSpace {
    pub(super) fn new(table: &CapabilityTable, a: &ValidPolicy, b: &ValidPolicy) -> ImportSpace {
        let (rules, _) = table.import_rules();
        // Exact entries (no `*`) as one trie, globs one by one.
        let exact: Vec<(String, String)> = rules
            .iter()
            .filter(|(m, n)| !m.contains('*') && !n.contains('*'))
            .map(|(m, n)| (m.to_string(), n.to_string()))
            .collect();
        let mut langs: Vec<Lang> = vec![Lang::Literals(exact)];
        langs.extend(
            rules
                .iter()
                .filter(|(m, n)| m.contains('*') || n.contains('*'))
                .map(|(m, n)| Lang::table(m, n)),
        );
        // wasm-bindgen imports are classified by the JS name inside theirs: kept apart.
        let wbg = langs.len();
        langs.push(Lang::Import {
            module: pattern::raw_tokens("*"),
            name: pattern::raw_tokens("__wbg_*"),
            versioned: false,
        });
        let sides = [
            ImportSide::new(&mut langs, a),
            ImportSide::new(&mut langs, b),
        ];
        ImportSpace {
            regions: lang::regions(&langs),
            wbg,
            patterns: langs.len(),
            table_rules: rules.len(),
            sides,
        }
    }
}

/// Capabilities and imports; returns the capabilities NEW lets some import (or the
/// `<unknown-host>` node) confer, which bound what an export can reach under NEW.
pub(super) fn imports(
    cx: &mut Cx<'_>,
    table: &CapabilityTable,
    space: &ImportSpace,
    swap: bool,
) -> BTreeSet<String> {
    let before = cx.count();
    let (_, js_classes) = table.import_rules();
    let wbg = space.wbg;
    let (old_side, new_side) = if swap {
        (&space.sides[1], &space.sides[0])
    } else {
        (&space.sides[0], &space.sides[1])
    };
    let mut reachable = BTreeSet::new();
    if cap_allowed(cx.new, UNKNOWN_HOST) {
        reachable.insert(UNKNOWN_HOST.to_string());
        if !cap_allowed(cx.old, UNKNOWN_HOST) {
            cx.beyond(
                "capabilities",
                UNKNOWN_HOST,
                format!(
                    "NEW allows capability `{UNKNOWN_HOST}` (an unclassified import, or a call \
                     the analysis cannot resolve); OLD does not"
                ),
            );
        }
    }
    cx.proved(
        "capabilities",
        before,
        format!(
            "`{UNKNOWN_HOST}` (reachable without an import) is no looser; every other \
             capability is compared through the imports that confer it"
        ),
    );
    let before = cx.count();
    let regions = match &space.regions {
        Ok(r) => r,
        Err(lang::Exhausted) => {
            cx.undecided(
                "imports",
                "*",
                format!(
                    "the import patterns span more than {} automaton states; not decided",
                    lang::MAX_STATES
                ),
            );
            return cx.vocabulary.iter().map(|c| c.to_string()).collect();
        }
    };
    let mut calls_proved = 0usize;
    for r in regions {
        let Text::Import(m, n) = &r.witness else {
            continue;
        };
        let id = r.witness.id();
        let own = table.classify(m, n);
        let mut classes = vec![(None, own)];
        if r.has(wbg) {
            classes.extend(js_classes.iter().map(|(js, c)| (Some(*js), (*c).clone())));
        }
        let (new_in, old_in) = (new_side.passes(r), old_side.passes(r));
        let mut permitted = false;
        for (js, class) in &classes {
            let caps = &class.capabilities;
            // Narrowing (constant descriptors, path_open flags, descriptor refinement) may
            // leave any part of the set; otherwise the whole set is reached.
            let sets: Vec<Vec<&str>> =
                if (class.narrow.is_some() || class.descriptor_io) && !caps.is_empty() {
                    caps.iter().map(|c| vec![c.as_str()]).collect()
                } else {
                    vec![caps.iter().map(String::as_str).collect()]
                };
            for set in sets {
                let new_ok = new_in && set.iter().all(|c| cap_allowed(cx.new, c));
                if !new_ok {
                    continue;
                }
                permitted = true;
                reachable.extend(set.iter().map(|c| c.to_string()));
                let missing: Vec<&str> = set
                    .iter()
                    .copied()
                    .filter(|c| !cap_allowed(cx.old, c))
                    .collect();
                if old_in && missing.is_empty() {
                    continue;
                }
                let why = if !old_in {
                    "OLD's [imports] does not allow it".to_string()
                } else {
                    format!("OLD does not allow {}", list(&missing))
                };
                let with = if set.is_empty() {
                    "(no capability)".to_string()
                } else {
                    format!("with {}", list(&set))
                };
                let Some(js) = js else {
                    cx.beyond(
                        "imports",
                        &id,
                        format!("NEW allows import `{id}` {with}; {why}"),
                    );
                    continue;
                };
                // A wasm-bindgen name carrying this JS name, checked as it stands.
                let name = format!("__wbg_{js}_0000000000000000");
                let concrete = table.classify(m, &name) == *class
                    && passes_concrete(cx.new, m, &name)
                    && (!passes_concrete(cx.old, m, &name) || !missing.is_empty());
                if concrete {
                    let cid = format!("{m}#{name}");
                    cx.beyond(
                        "imports",
                        &cid,
                        format!("NEW allows import `{cid}` {with}; {why}"),
                    );
                } else {
                    cx.undecided(
                        "imports",
                        &id,
                        format!(
                            "a wasm-bindgen import like `{id}` is classified by its JS name; \
                             one class NEW allows {with}, and {why}: not decided per name"
                        ),
                    );
                }
            }
        }
        if permitted {
            calls_proved += calls(cx, r, m, n, old_side, new_side);
        }
    }
    cx.proved(
        "imports",
        before,
        format!(
            "{} regions of the import name space ({} patterns, {} of them the capability \
             table's) allow NEW nothing beyond OLD, with every capability each may confer",
            regions.len(),
            space.patterns,
            space.table_rules
        ),
    );
    if calls_proved > 0 || !cx.old.calls.is_empty() {
        let b = cx.count();
        cx.proved(
            "calls",
            b,
            format!("{calls_proved} (import region, argument) constraints of OLD hold under NEW"),
        );
    }
    reachable
}

fn list(caps: &[&str]) -> String {
    let v: Vec<String> = caps.iter().map(|c| format!("`{c}`")).collect();
    format!(
        "capabilit{} {}",
        if v.len() == 1 { "y" } else { "ies" },
        v.join(", ")
    )
}

/// `[[calls]]` in one region NEW lets through: each OLD constraint must hold for every
/// value NEW's constraints allow. Returns how many (argument) questions were proven.
fn calls(
    cx: &mut Cx<'_>,
    r: &Region,
    m: &str,
    n: &str,
    old_side: &ImportSide,
    new_side: &ImportSide,
) -> usize {
    let resolve = |arg: &ArgRef| match arg {
        ArgRef::Index(i) => Some(*i),
        ArgRef::Name(name) => signatures::params(m, n)
            .and_then(|p| p.iter().position(|x| x == name))
            .map(|i| i as u32),
    };
    let allowed = |c: &crate::policy::CallConstraint| Allowed {
        one_of: c.one_of.clone(),
        min: c.min,
        max: c.max,
        bits_clear: c.bits_clear.unwrap_or(0),
        bits_set: c.bits_set.unwrap_or(0),
    };
    let mut by_arg: BTreeMap<u32, (Vec<Allowed>, Vec<Allowed>, u64)> = BTreeMap::new();
    for i in old_side.calls.hits(r) {
        let c = &cx.old.calls[i];
        // A name this import has no parameter for constrains nothing here (`check` says so).
        if let Some(a) = resolve(&c.arg) {
            let e = by_arg
                .entry(a)
                .or_insert((Vec::new(), Vec::new(), DEFAULT_TIMEOUT_MS));
            e.0.push(allowed(c));
            if let Some(t) = c.timeout_ms {
                e.2 = e.2.max(t);
            }
        }
    }
    for i in new_side.calls.hits(r) {
        let c = &cx.new.calls[i];
        if let Some(a) = resolve(&c.arg)
            && let Some(e) = by_arg.get_mut(&a)
        {
            e.1.push(allowed(c));
        }
    }
    let id = r.witness.id();
    let mut proved = 0;
    for (arg, (old_c, new_c, timeout)) in by_arg {
        let label = signatures::params(m, n)
            .and_then(|p| p.get(arg as usize).cloned())
            .unwrap_or_else(|| format!("arg{arg}"));
        match wasmgate_smt::beyond(&new_c, &old_c, timeout) {
            Containment::Contained => proved += 1,
            Containment::Beyond(v) => cx.beyond(
                "calls",
                format!("{id} {label}={v}"),
                format!(
                    "NEW lets a call of `{id}` pass {label} = {v} ({v:#x}); OLD's [[calls]] \
                     constraints on it do not allow that value"
                ),
            ),
            Containment::Unknown(why) => cx.undecided(
                "calls",
                format!("{id} {label}"),
                format!("whether NEW lets `{id}` take a {label} OLD denies: {why}"),
            ),
        }
    }
    proved
}
