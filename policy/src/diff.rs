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

use serde::Serialize;
use wasmgate_analyzer::CapabilityTable;

use crate::lang::{Lang, Region};
use crate::pattern;
use crate::policy::{AllowDeny, DEFAULT_FEATURES, ValidPolicy};

mod dimensions;
mod imports;

use dimensions::{analysis, bounds, exports, features, levels, limits, sandbox, waivers};
use imports::{ImportSpace, imports};

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

#[cfg(test)]
mod tests;
