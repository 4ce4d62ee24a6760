//! `[bounds]`: segment, access and `memory.grow` verdicts from the SMT crate's bounds check,
//! turned into findings. Violations are errors with offsets; whatever is undecided is
//! `bounds-unproven` with its reason, never a pass; proofs are one `pass` result per memory
//! or table (they count toward the SARIF result cap).

use std::collections::BTreeMap;

use wasmgate_analyzer::{Analysis, BinaryKind};
use wasmgate_smt::{Bound, BoundsOptions, Checker, SegmentKind};

use super::calls::{DEFAULT_TIMEOUT_MS, SmtOptions};
use super::{Cx, Draft};
use crate::finding::{Kind, Location};
use crate::policy::Origin;
use crate::rules::id;

/// Solver queries for symbolic addresses per binary when `bounds.max_queries` is not set.
pub const DEFAULT_MAX_QUERIES: u64 = 10_000;

/// Open accesses named in one message.
const SHOWN: usize = 4;

impl Cx<'_> {
    pub(super) fn bounds(&mut self, analysis: &Analysis, bytes: Option<&[u8]>, smt: &SmtOptions) {
        let b = &self.policy.bounds;
        let on = |x: &Option<crate::At<bool>>| x.as_ref().is_some_and(|x| x.value);
        if !b.any() {
            return;
        }
        let origin = self.policy.section("bounds");
        let opts = BoundsOptions {
            segments: on(&b.segments),
            accesses: on(&b.accesses),
            grow: on(&b.memory_grow),
            globals: b
                .globals
                .iter()
                .map(|g| (g.import.clone(), (g.min, g.max)))
                .collect(),
            max_queries: b
                .max_queries
                .as_ref()
                .map_or(DEFAULT_MAX_QUERIES, |q| q.value) as usize,
            timeout_ms: smt
                .timeout_ms
                .or(b.timeout_ms.as_ref().map(|t| t.value))
                .unwrap_or(DEFAULT_TIMEOUT_MS),
        };
        let blocked = if analysis.kind == BinaryKind::Component {
            Some("components are not analysed by the bounds check yet".to_string())
        } else if bytes.is_none() {
            Some("the module's bytes were not given to the checker".to_string())
        } else {
            None
        };
        let report = match (blocked, bytes) {
            (None, Some(bytes)) => Checker::new(bytes, analysis)
                .and_then(|mut c| c.bounds(bytes, analysis, &opts))
                .map_err(|e| e.to_string()),
            (why, _) => Err(why.unwrap_or_default()),
        };
        let report = match report {
            Ok(r) => r,
            Err(why) => {
                self.bound(
                    id::BOUNDS_UNPROVEN,
                    Kind::Fail,
                    format!("cannot check `[bounds]`: {why}"),
                    "bounds".to_string(),
                    Location::default(),
                    origin,
                );
                return;
            }
        };
        let Some(m) = &analysis.module else {
            return;
        };

        // Segments: one finding per segment not proven, one pass per memory or table.
        let mut clean: BTreeMap<(SegmentKind, u32), bool> = BTreeMap::new();
        for s in &report.segments {
            let (space, name) = match s.kind {
                SegmentKind::Data => ("memory", "data"),
                SegmentKind::Element => ("table", "elem"),
            };
            let ok = clean.entry((s.kind, s.target)).or_insert(true);
            let subject = format!("{name}[{}]", s.index);
            let location = Location {
                offset: Some(s.at),
                ..Location::default()
            };
            let (rule, detail) = match &s.verdict {
                Bound::Proven => continue,
                Bound::Violated(d) => (id::SEGMENT_OUT_OF_BOUNDS, d),
                Bound::Unknown(d) => (id::BOUNDS_UNPROVEN, d),
            };
            *ok = false;
            let message = format!(
                "{subject} (segment at {:#x}) into {space}[{}]: {detail}",
                s.at, s.target
            );
            self.bound(rule, Kind::Fail, message, subject, location, origin.clone());
        }
        for ((kind, target), ok) in clean {
            if !ok {
                continue;
            }
            let (space, what) = match kind {
                SegmentKind::Data => ("memory", "data"),
                SegmentKind::Element => ("table", "element"),
            };
            let n = report
                .segments
                .iter()
                .filter(|s| s.kind == kind && s.target == target)
                .count();
            self.bound(
                id::SEGMENT_OUT_OF_BOUNDS,
                Kind::Pass,
                format!(
                    "every active {what} segment ({n}) is proven to fit the initial size of {space}[{target}]"
                ),
                format!("{space}[{target}]:segments"),
                Location::default(),
                origin.clone(),
            );
        }

        // Accesses: one finding per function and kind, one pass per memory.
        if opts.accesses {
            let mut proven: BTreeMap<u32, usize> = BTreeMap::new();
            let mut open_memories: Vec<u32> = Vec::new();
            for fa in &report.accesses {
                for (mem, n) in &fa.proven {
                    *proven.entry(*mem).or_default() += n;
                }
                for (rule, violated) in [
                    (id::MEMORY_ACCESS_OUT_OF_BOUNDS, true),
                    (id::BOUNDS_UNPROVEN, false),
                ] {
                    let open: Vec<_> = fa
                        .open
                        .iter()
                        .filter(|a| matches!(a.verdict, Bound::Violated(_)) == violated)
                        .collect();
                    let Some(first) = open.first() else {
                        continue;
                    };
                    open_memories.extend(open.iter().map(|a| a.memory));
                    let mut details: Vec<String> = Vec::new();
                    for a in &open {
                        let (Bound::Violated(d) | Bound::Unknown(d)) = &a.verdict else {
                            continue;
                        };
                        let at = a.offset.map_or(String::new(), |o| format!("{o:#x}: "));
                        details.push(format!("{at}{d}"));
                    }
                    let more = details.len().saturating_sub(SHOWN);
                    details.truncate(SHOWN);
                    let mut message = format!(
                        "{} access{} in `{}` {} the initial memory ({} proven): {}",
                        open.len(),
                        if open.len() == 1 { "" } else { "es" },
                        fa.function,
                        if violated {
                            "can pass the end of"
                        } else {
                            "not proven within"
                        },
                        fa.proven.values().sum::<usize>(),
                        details.join("; ")
                    );
                    if more > 0 {
                        message.push_str(&format!("; and {more} more"));
                    }
                    if !fa.entry_points.is_empty() {
                        let e: Vec<String> =
                            fa.entry_points.iter().map(|e| format!("`{e}`")).collect();
                        message.push_str(&format!("; reached from {}", e.join(", ")));
                    }
                    let location = Location {
                        offset: first.offset,
                        function: Some(fa.function.clone()),
                        ..Location::default()
                    };
                    self.bound(
                        rule,
                        Kind::Fail,
                        message,
                        format!("memory[{}]:accesses@{}", first.memory, fa.function),
                        location,
                        origin.clone(),
                    );
                }
            }
            for mem in &m.memories {
                if open_memories.contains(&mem.index) {
                    continue;
                }
                let n = proven.get(&mem.index).copied().unwrap_or(0);
                self.bound(
                    id::MEMORY_ACCESS_OUT_OF_BOUNDS,
                    Kind::Pass,
                    format!(
                        "every load and store of memory[{}] in reachable code ({n}) is proven within its initial size",
                        mem.index
                    ),
                    format!("memory[{}]:accesses", mem.index),
                    Location::default(),
                    origin.clone(),
                );
            }
        }

        // `memory.grow` against `limits.max_memory_pages`.
        if opts.grow {
            let limit = self.policy.limits.max_memory_pages.clone();
            for mem in &m.memories {
                let subject = format!("memory[{}]:grow", mem.index);
                let Some(limit) = &limit else {
                    self.bound(
                        id::BOUNDS_UNPROVEN,
                        Kind::Fail,
                        format!(
                            "`bounds.memory_grow` needs `limits.max_memory_pages` to compare memory[{}] with",
                            mem.index
                        ),
                        subject,
                        Location::default(),
                        origin.clone(),
                    );
                    continue;
                };
                let bounded = mem.maximum.is_some_and(|x| x <= limit.value);
                let mut sites: BTreeMap<&str, Vec<&wasmgate_smt::GrowSite>> = BTreeMap::new();
                for g in report.grows.iter().filter(|g| g.memory == mem.index) {
                    sites.entry(&g.function).or_default().push(g);
                }
                if bounded || sites.is_empty() {
                    let why = if bounded {
                        format!(
                            "its declared maximum of {} pages is within the limit of {}",
                            mem.maximum.unwrap_or(0),
                            limit.value
                        )
                    } else {
                        format!(
                            "no reachable `memory.grow` grows it, so it stays at its initial {} pages",
                            mem.initial
                        )
                    };
                    self.bound(
                        id::MEMORY_GROW_OVER_LIMIT,
                        Kind::Pass,
                        format!("memory[{}] cannot grow past the limit: {why}", mem.index),
                        subject,
                        Location::default(),
                        limit.at.clone(),
                    );
                    continue;
                }
                let declared = match mem.maximum {
                    Some(x) => format!("its declared maximum is {x} pages"),
                    None => "it declares no maximum".to_string(),
                };
                for (function, gs) in sites {
                    let offsets: Vec<String> =
                        gs.iter().map(|g| format!("{:#x}", g.offset)).collect();
                    let mut entries: Vec<String> = gs
                        .iter()
                        .flat_map(|g| g.entry_points.iter().map(|e| format!("`{e}`")))
                        .collect();
                    entries.sort();
                    entries.dedup();
                    self.bound(
                        id::MEMORY_GROW_OVER_LIMIT,
                        Kind::Fail,
                        format!(
                            "`{function}` grows memory[{}] (memory.grow at {}) and {declared}, over the limit of {} pages; reached from {}",
                            mem.index,
                            offsets.join(", "),
                            limit.value,
                            entries.join(", ")
                        ),
                        format!("{subject}@{function}"),
                        Location {
                            offset: Some(gs[0].offset),
                            function: Some(function.to_string()),
                            ..Location::default()
                        },
                        limit.at.clone(),
                    );
                }
            }
        }
    }

    fn bound(
        &mut self,
        rule: &'static str,
        kind: Kind,
        message: String,
        subject: String,
        location: Location,
        origin: Origin,
    ) {
        let n = self.out.len();
        self.push(Draft {
            rule,
            message,
            subject,
            location,
            entries: Vec::new(),
            witness: Vec::new(),
            origin,
        });
        if let Some(f) = self.out.get_mut(n) {
            f.kind = kind;
        }
    }
}
