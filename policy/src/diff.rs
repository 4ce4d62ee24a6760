//! `wasmgate policy diff OLD NEW`: does NEW accept anything OLD rejects?
//!
//! Both policies are compared resolved (after `extends`/`widen`), by what they let a binary
//! do, not by how they are written. The unit of authority is an import reached with some of
//! its capabilities: NEW is more permissive when some import and capability set passes
//! NEW's `[imports]` and `[capabilities]` but not OLD's. The import name space is infinite,
//! so it is split into regions by every pattern involved, the capability table's included
//! ([`crate::lang`]); one witness per region decides it exactly. The other dimensions are
//! finite (features, levels, limits) or regions again (exports, waivers, sandbox globs);
//! argument constraints are bit-vector containment ([`wasmgate_smt::beyond`]).
//!
//! Every answer is a witness NEW allows and OLD denies, a proof summary, or undecided
//! (the product's state budget, a solver timeout, a build without the solver): undecided
//! fails closed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use wasmgate_analyzer::{CapabilityTable, UNKNOWN_HOST, glob_match};
use wasmgate_smt::{Allowed, Containment};

use crate::lang::{self, Lang, Region, Text};
use crate::policy::{Access, AllowDeny, ArgRef, DEFAULT_FEATURES, FEATURES, ValidPolicy};
use crate::{Date, pattern, rules, signatures};

/// Version of the JSON output.
pub const SCHEMA_VERSION: u32 = 1;

/// Solver time limit per argument question, unless a constraint sets `timeout_ms`.
pub const DEFAULT_TIMEOUT_MS: u64 = 2000;

/// Something NEW allows that OLD denies, or a question left undecided.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Witness {
    /// `capabilities`, `imports`, `calls`, `exports`, `features`, `limits`, `sandbox`,
    /// `analysis`, `bounds`, `waivers` or `levels`.
    pub dimension: &'static str,
    /// The concrete thing: an import id, capability, export name, feature, value...
    pub subject: String,
    /// What NEW allows and why OLD does not (or why it is undecided).
    pub message: String,
}

/// One dimension proven: NEW allows nothing there that OLD denies.
#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    /// As in [`Witness::dimension`].
    pub dimension: &'static str,
    /// How it was decided.
    pub summary: String,
}

/// One direction of the comparison.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Direction {
    /// What the second policy allows beyond the first, sorted.
    pub witnesses: Vec<Witness>,
    /// Questions left open (fail closed), sorted.
    pub undecided: Vec<Witness>,
    /// Dimensions proven, in a fixed order.
    pub proof: Vec<Proof>,
}

impl Direction {
    /// Nothing beyond and nothing undecided.
    pub fn contained(&self) -> bool {
        self.witnesses.is_empty() && self.undecided.is_empty()
    }
}

/// The answer of `policy diff`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Version of this shape.
    pub schema_version: u32,
    /// `not-more-permissive`, `equivalent`, `more-permissive` or `undecided`.
    pub verdict: &'static str,
    /// OLD as given.
    pub old: String,
    /// NEW as given.
    pub new: String,
    /// NEW against OLD (the question asked).
    pub new_over_old: Direction,
    /// OLD against NEW (for equivalence).
    pub old_over_new: Direction,
}

impl Report {
    /// Whether NEW is proven to allow nothing OLD denies.
    pub fn passes(&self) -> bool {
        self.new_over_old.contained()
    }
}

/// Compares two loaded policies both ways.
pub fn diff(old: &ValidPolicy, new: &ValidPolicy) -> Result<Report, crate::LoadError> {
    let table =
        CapabilityTable::builtin().map_err(|e| crate::LoadError::Capabilities(e.to_string()))?;
    let space = ImportSpace::new(table, old, new);
    let forward = direction(table, &space, false, old, new);
    let backward = direction(table, &space, true, new, old);
    let verdict = if !forward.witnesses.is_empty() {
        "more-permissive"
    } else if !forward.undecided.is_empty() {
        "undecided"
    } else if backward.contained() {
        "equivalent"
    } else {
        "not-more-permissive"
    };
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        verdict,
        old: old.sources[0].name.clone(),
        new: new.sources[0].name.clone(),
        new_over_old: forward,
        old_over_new: backward,
    })
}

/// Witnesses listed per direction in human output (JSON lists them all).
pub const HUMAN_LIMIT: usize = 40;

impl Report {
    /// The human rendering: the verdict, then witnesses or the proof, then equivalence.
    /// Every policy-written text goes through the terminal escaper.
    pub fn human(&self) -> String {
        use std::fmt::Write;
        let t = |s: &str| wasmgate_escape::terminal(s).into_owned();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "policy diff: OLD {} -> NEW {}",
            t(&self.old),
            t(&self.new)
        );
        let f = &self.new_over_old;
        let list = |out: &mut String, ws: &[Witness]| {
            for w in ws.iter().take(HUMAN_LIMIT) {
                let _ = writeln!(out, "  {:<12} {}", w.dimension, t(&w.message));
            }
            if ws.len() > HUMAN_LIMIT {
                let _ = writeln!(
                    out,
                    "  ... and {} more (--format json lists them all)",
                    ws.len() - HUMAN_LIMIT
                );
            }
        };
        match self.verdict {
            "more-permissive" => {
                let _ = writeln!(
                    out,
                    "NEW is more permissive than OLD: {} witness{} NEW allows and OLD denies",
                    f.witnesses.len(),
                    if f.witnesses.len() == 1 { "" } else { "es" }
                );
                list(&mut out, &f.witnesses);
            }
            "undecided" => {
                let _ = writeln!(
                    out,
                    "undecided (fail closed): {} question{} could not be decided",
                    f.undecided.len(),
                    if f.undecided.len() == 1 { "" } else { "s" }
                );
            }
            _ => {
                let _ = writeln!(out, "not more permissive: NEW allows nothing OLD denies");
                let _ = writeln!(out, "proof:");
                for p in &f.proof {
                    let _ = writeln!(out, "  {:<12} {}", p.dimension, t(&p.summary));
                }
            }
        }
        if !f.undecided.is_empty() {
            let _ = writeln!(out, "undecided:");
            list(&mut out, &f.undecided);
        }
        let b = &self.old_over_new;
        if self.verdict == "equivalent" {
            let _ = writeln!(out, "equivalent: OLD allows nothing NEW denies either");
        } else if f.contained() {
            let _ = writeln!(
                out,
                "not equivalent: NEW is stricter; OLD allows {} thing{} NEW denies{}",
                b.witnesses.len(),
                if b.witnesses.len() == 1 { "" } else { "s" },
                if b.undecided.is_empty() {
                    String::new()
                } else {
                    format!(" ({} undecided)", b.undecided.len())
                }
            );
            list(&mut out, &b.witnesses);
        }
        out
    }
}

struct Cx<'a> {
    old: &'a ValidPolicy,
    new: &'a ValidPolicy,
    vocabulary: Vec<&'a str>,
    out: Direction,
}

impl Cx<'_> {
    fn beyond(&mut self, dimension: &'static str, subject: impl Into<String>, message: String) {
        self.out.witnesses.push(Witness {
            dimension,
            subject: subject.into(),
            message,
        });
    }
    fn undecided(&mut self, dimension: &'static str, subject: impl Into<String>, message: String) {
        self.out.undecided.push(Witness {
            dimension,
            subject: subject.into(),
            message,
        });
    }
    fn proved(&mut self, dimension: &'static str, before: usize, summary: String) {
        let found = self.out.witnesses.len() + self.out.undecided.len() > before;
        if !found {
            self.out.proof.push(Proof { dimension, summary });
        }
    }
    fn count(&self) -> usize {
        self.out.witnesses.len() + self.out.undecided.len()
    }
}

/// Whether a capability passes `[capabilities]` (zero trust: absent allow allows nothing).
fn cap_allowed(p: &ValidPolicy, cap: &str) -> bool {
    allowed_by(&p.capabilities, cap, false)
}

fn allowed_by(list: &AllowDeny, subject: &str, absent: bool) -> bool {
    list.allow.as_ref().map_or(absent, |a| {
        a.value.iter().any(|x| pattern::matches(&x.value, subject))
    }) && !list
        .deny
        .iter()
        .any(|d| pattern::matches(&d.value, subject))
}

fn feature_allowed(p: &ValidPolicy, f: &str) -> bool {
    p.features
        .allow
        .as_ref()
        .map_or(DEFAULT_FEATURES.contains(&f), |a| {
            a.value.iter().any(|x| pattern::matches(&x.value, f))
        })
        && !p
            .features
            .deny
            .iter()
            .any(|d| pattern::matches(&d.value, f))
}

fn direction(
    table: &CapabilityTable,
    space: &ImportSpace,
    swap: bool,
    old: &ValidPolicy,
    new: &ValidPolicy,
) -> Direction {
    let mut cx = Cx {
        old,
        new,
        vocabulary: table.vocabulary().keys().map(String::as_str).collect(),
        out: Direction::default(),
    };
    let reachable = imports(&mut cx, table, space, swap);
    exports(&mut cx, &reachable);
    features(&mut cx);
    limits(&mut cx);
    analysis(&mut cx);
    bounds(&mut cx);
    sandbox(&mut cx);
    waivers(&mut cx);
    levels(&mut cx);
    cx.out.witnesses.sort();
    cx.out.witnesses.dedup();
    cx.out.undecided.sort();
    cx.out.undecided.dedup();
    cx.out
}

/// Where each group of patterns sits in the list handed to the product.
struct Slots {
    start: usize,
    len: usize,
}

impl Slots {
    fn push(langs: &mut Vec<Lang>, items: impl IntoIterator<Item = Lang>) -> Slots {
        let start = langs.len();
        langs.extend(items);
        Slots {
            start,
            len: langs.len() - start,
        }
    }
    fn any(&self, r: &Region) -> bool {
        (self.start..self.start + self.len).any(|i| r.has(i))
    }
    fn hits<'r>(&self, r: &'r Region) -> impl Iterator<Item = usize> + 'r {
        let (s, e) = (self.start, self.start + self.len);
        r.matched
            .iter()
            .copied()
            .filter(move |&i| i >= s && i < e)
            .map(move |i| i - s)
    }
}

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
struct ImportSpace {
    regions: Result<Vec<Region>, lang::Exhausted>,
    wbg: usize,
    patterns: usize,
    table_rules: usize,
    sides: [ImportSide; 2],
}

impl ImportSpace {
    fn new(table: &CapabilityTable, a: &ValidPolicy, b: &ValidPolicy) -> ImportSpace {
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
fn imports(
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

/// `[exports]`: forbidden names, required names, and per-export restrictions.
fn exports(cx: &mut Cx<'_>, reachable: &BTreeSet<String>) {
    let before = cx.count();
    let (old, new) = (cx.old, cx.new);
    let mut langs = Vec::new();
    let old_r = Slots::push(
        &mut langs,
        old.restrict.iter().map(|x| Lang::plain(&x.export.value)),
    );
    let new_r = Slots::push(
        &mut langs,
        new.restrict.iter().map(|x| Lang::plain(&x.export.value)),
    );
    let old_f = Slots::push(
        &mut langs,
        old.forbidden_exports.iter().map(|x| Lang::plain(&x.value)),
    );
    let new_f = Slots::push(
        &mut langs,
        new.forbidden_exports.iter().map(|x| Lang::plain(&x.value)),
    );
    let regions = match lang::regions(&langs) {
        Ok(r) => r,
        Err(lang::Exhausted) => {
            cx.undecided(
                "exports",
                "*",
                "the export patterns span too many automaton states; not decided".into(),
            );
            return;
        }
    };
    for r in &regions {
        if new_f.any(r) {
            continue;
        }
        let name = r.witness.id();
        if old_f.any(r) {
            cx.beyond(
                "exports",
                &name,
                format!("NEW lets a binary export `{name}`; OLD forbids it"),
            );
            continue;
        }
        let may = |p: &ValidPolicy, slots: &Slots, cap: &str| {
            cap_allowed(p, cap)
                && slots.hits(r).all(|k| {
                    p.restrict[k]
                        .capabilities
                        .iter()
                        .any(|c| pattern::matches(&c.value, cap))
                })
        };
        for cap in reachable {
            // A capability OLD denies outright is reported once, under imports.
            if may(new, &new_r, cap) && cap_allowed(old, cap) && !may(old, &old_r, cap) {
                cx.beyond(
                    "exports",
                    format!("{name} {cap}"),
                    format!(
                        "NEW lets export `{name}` reach capability `{cap}`; OLD's \
                         [exports.restrict] does not"
                    ),
                );
            }
        }
    }
    // A required pattern of OLD holds under NEW when NEW requires a pattern inside it.
    for req in &old.required_exports {
        let inside = new.required_exports.iter().any(|q| {
            lang::regions(&[Lang::plain(&q.value), Lang::plain(&req.value)])
                .is_ok_and(|rs| !rs.iter().any(|g| g.has(0) && !g.has(1)))
        });
        if !inside {
            cx.beyond(
                "exports",
                &req.value,
                format!(
                    "NEW accepts a binary with no export matching `{}`, which OLD requires",
                    req.value
                ),
            );
        }
    }
    cx.proved(
        "exports",
        before,
        format!(
            "{} regions of the export name space: nothing forbidden by OLD is allowed, no \
             restriction is looser over the {} capabilities NEW lets imports confer; {} \
             required pattern(s) of OLD each implied by one of NEW",
            regions.len(),
            reachable.len(),
            old.required_exports.len()
        ),
    );
}

fn features(cx: &mut Cx<'_>) {
    let before = cx.count();
    for f in FEATURES {
        if feature_allowed(cx.new, f) && !feature_allowed(cx.old, f) {
            cx.beyond(
                "features",
                *f,
                format!("NEW allows feature `{f}`; OLD does not"),
            );
        }
    }
    cx.proved(
        "features",
        before,
        format!("each of the {} features checked", FEATURES.len()),
    );
}

fn limits(cx: &mut Cx<'_>) {
    let before = cx.count();
    let (o, n) = (&cx.old.limits, &cx.new.limits);
    for (name, ov, nv) in [
        (
            "max_memory_pages",
            o.max_memory_pages.as_ref().map(|a| a.value),
            n.max_memory_pages.as_ref().map(|a| a.value),
        ),
        (
            "max_table_elements",
            o.max_table_elements.as_ref().map(|a| a.value),
            n.max_table_elements.as_ref().map(|a| a.value),
        ),
    ] {
        match (ov, nv) {
            (Some(ov), None) => cx.beyond(
                "limits",
                format!("{name}={}", ov.saturating_add(1)),
                format!(
                    "NEW sets no {name}: it allows {} and beyond; OLD allows at most {ov}",
                    ov.saturating_add(1)
                ),
            ),
            (Some(ov), Some(nv)) if nv > ov => cx.beyond(
                "limits",
                format!("{name}={nv}"),
                format!("NEW allows {name} = {nv}; OLD allows at most {ov}"),
            ),
            _ => {}
        }
    }
    let requires = |p: &ValidPolicy| {
        p.limits
            .require_memory_maximum
            .as_ref()
            .is_none_or(|a| a.value)
    };
    if requires(cx.old) && !requires(cx.new) {
        cx.beyond(
            "limits",
            "require_memory_maximum=false",
            "NEW accepts a memory without a declared maximum; OLD requires one".into(),
        );
    }
    cx.proved(
        "limits",
        before,
        "max_memory_pages, max_table_elements and require_memory_maximum are no looser".into(),
    );
}

fn analysis(cx: &mut Cx<'_>) {
    let before = cx.count();
    let assumes = |p: &ValidPolicy| p.assume_no_reentry.as_ref().is_some_and(|a| a.value);
    if assumes(cx.new) && !assumes(cx.old) {
        cx.beyond(
            "analysis",
            "assume_no_reentry=true",
            "NEW analyses as if no import called back into the module (what host callbacks \
             reach no longer counts); OLD counts it"
                .into(),
        );
    }
    cx.proved(
        "analysis",
        before,
        "the analysis assumptions are the same or stricter".into(),
    );
}

/// A `[bounds]` check OLD runs and NEW does not: a binary OLD fails (an out-of-bounds
/// segment or access, a `memory.grow` past the limit) passes NEW.
fn bounds(cx: &mut Cx<'_>) {
    let before = cx.count();
    let checks = |p: &ValidPolicy| {
        let on = |b: &Option<crate::policy::At<bool>>| b.as_ref().is_some_and(|b| b.value);
        let b = &p.bounds;
        [
            ("segments", on(&b.segments)),
            ("accesses", on(&b.accesses)),
            ("memory_grow", on(&b.memory_grow)),
        ]
    };
    for ((name, old), (_, new)) in checks(cx.old).into_iter().zip(checks(cx.new)) {
        if old && !new {
            cx.beyond(
                "bounds",
                format!("bounds.{name}=false"),
                format!(
                    "NEW does not check `bounds.{name}`; OLD does (what it would fail on \
                     passes NEW)"
                ),
            );
        }
    }
    cx.proved(
        "bounds",
        before,
        "every [bounds] check OLD runs, NEW runs too".into(),
    );
}

/// The host path of a preopen resolved against the directory of the file granting it.
fn host_of(p: &ValidPolicy, host: &str) -> std::path::PathBuf {
    let dir = p
        .sandbox_origin
        .as_ref()
        .and_then(|o| p.sources.get(o.file))
        .and_then(|s| s.path.parent())
        .unwrap_or(Path::new(""));
    crate::policy::lexical(&dir.join(host))
}

fn sandbox(cx: &mut Cx<'_>) {
    let before = cx.count();
    let (o, n) = (&cx.old.sandbox, &cx.new.sandbox);
    for pre in &n.preopens {
        let host = host_of(cx.new, &pre.host);
        let covered = o.preopens.iter().any(|q| {
            host_of(cx.old, &q.host) == host
                && q.guest == pre.guest
                && (q.mode == Access::Rw || pre.mode == Access::Ro)
        });
        if !covered {
            let mode = if pre.mode == Access::Rw { "rw" } else { "ro" };
            cx.beyond(
                "sandbox",
                format!("preopen {} -> {} ({mode})", host.display(), pre.guest),
                format!(
                    "NEW preopens {} as {} ({mode}); OLD does not grant that",
                    host.display(),
                    pre.guest
                ),
            );
        }
    }
    for (what, ol, nl) in [("env", &o.env, &n.env), ("network", &o.network, &n.network)] {
        let mut langs: Vec<Lang> = nl.iter().map(|x| Lang::raw(x)).collect();
        let split = langs.len();
        langs.extend(ol.iter().map(|x| Lang::raw(x)));
        match lang::regions(&langs) {
            Ok(rs) => {
                for r in rs {
                    let new_has = r.matched.iter().any(|&i| i < split);
                    let old_has = r.matched.iter().any(|&i| i >= split);
                    if new_has && !old_has {
                        let w = r.witness.id();
                        debug_assert!(nl.iter().any(|p| glob_match(p, &w)));
                        cx.beyond(
                            "sandbox",
                            format!("{what} {w}"),
                            format!("NEW grants {what} `{w}`; OLD does not"),
                        );
                    }
                }
            }
            Err(lang::Exhausted) => cx.undecided(
                "sandbox",
                what,
                format!("the {what} patterns span too many automaton states"),
            ),
        }
    }
    for (what, ov, nv) in [
        ("fuel", o.fuel, n.fuel),
        ("memory_bytes", o.memory_bytes, n.memory_bytes),
        ("time_ms", o.time_ms, n.time_ms),
        ("output_bytes", o.output_bytes, n.output_bytes),
    ] {
        match (ov, nv) {
            (Some(ov), Some(nv)) if nv > ov => cx.beyond(
                "sandbox",
                format!("{what}={nv}"),
                format!("NEW grants {what} = {nv}; OLD at most {ov}"),
            ),
            // The harness's default is not a policy's to know: unset against set differs.
            (Some(ov), None) => cx.beyond(
                "sandbox",
                format!("{what} unset"),
                format!("NEW leaves {what} to the harness's default; OLD sets {ov}"),
            ),
            (None, Some(nv)) => cx.beyond(
                "sandbox",
                format!("{what}={nv}"),
                format!("NEW sets {what} = {nv}; OLD leaves it to the harness's default"),
            ),
            _ => {}
        }
    }
    cx.proved(
        "sandbox",
        before,
        "preopens, environment, network patterns and run limits grant no more".into(),
    );
}

/// Waivers silence findings: NEW must not silence a (rule, subject) longer than OLD.
fn waivers(cx: &mut Cx<'_>) {
    let before = cx.count();
    let rules: BTreeSet<&str> = cx.new.waivers.iter().map(|w| w.rule.as_str()).collect();
    for rule in rules {
        let nw: Vec<_> = cx.new.waivers.iter().filter(|w| w.rule == rule).collect();
        let ow: Vec<_> = cx.old.waivers.iter().filter(|w| w.rule == rule).collect();
        let mut langs: Vec<Lang> = nw.iter().map(|w| Lang::plain(&w.target)).collect();
        langs.extend(ow.iter().map(|w| Lang::plain(&w.target)));
        let Ok(regions) = lang::regions(&langs) else {
            cx.undecided(
                "waivers",
                rule,
                "the waiver targets span too many automaton states".into(),
            );
            continue;
        };
        // Latest expiry among the matching waivers; `None` inside: never expires.
        let until = |ws: &[&crate::policy::Waiver], idx: &mut dyn Iterator<Item = usize>| {
            let mut best: Option<Option<Date>> = None;
            for i in idx {
                let e = ws[i].expires;
                best = Some(match (best, e) {
                    (None, e) => e,
                    (Some(None), _) | (Some(_), None) => None,
                    (Some(Some(a)), Some(b)) => Some(a.max(b)),
                });
            }
            best
        };
        for r in regions {
            let split = nw.len();
            let n_until = until(&nw, &mut r.matched.iter().copied().filter(|&i| i < split));
            let Some(n_until) = n_until else { continue };
            let o_until = until(
                &ow,
                &mut r
                    .matched
                    .iter()
                    .filter(|&&i| i >= split)
                    .map(|&i| i - split),
            );
            let longer = match (o_until, n_until) {
                (None, _) => true,
                (Some(None), _) => false,
                (Some(Some(_)), None) => true,
                (Some(Some(a)), Some(b)) => b > a,
            };
            if longer {
                let w = r.witness.id();
                let name = &rules::get(rule).name;
                cx.beyond(
                    "waivers",
                    format!("{rule}:{w}"),
                    format!(
                        "NEW waives {rule} ({name}) for `{w}`{}; OLD {}",
                        n_until.map_or(String::new(), |d| format!(" until {d}")),
                        match o_until {
                            None => "does not".to_string(),
                            Some(Some(d)) => format!("only until {d}"),
                            Some(None) => unreachable!(),
                        }
                    ),
                );
            }
        }
    }
    cx.proved(
        "waivers",
        before,
        format!(
            "{} waiver(s) of NEW each within OLD's",
            cx.new.waivers.len()
        ),
    );
}

fn levels(cx: &mut Cx<'_>) {
    let before = cx.count();
    for rule in rules::catalogue() {
        let (o, n) = (cx.old.level(rule), cx.new.level(rule));
        if n < o {
            let show = |l: Option<crate::Level>| {
                l.map_or("off".to_string(), |l| format!("{l:?}").to_lowercase())
            };
            cx.beyond(
                "levels",
                &rule.id,
                format!(
                    "NEW reports {} ({}) at {}; OLD at {}",
                    rule.id,
                    rule.name,
                    show(n),
                    show(o)
                ),
            );
        }
    }
    cx.proved(
        "levels",
        before,
        format!(
            "each of the {} rules at the same or a higher level",
            rules::catalogue().len()
        ),
    );
}

#[cfg(test)]
mod tests;
