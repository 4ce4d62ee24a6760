//! The dimensions of `policy diff` besides imports: exports, features, limits, analysis
//! assumptions, sandbox grants, waivers and rule levels.
//!
//! Each is finite or a small region product of its own, and each adds its witnesses or its
//! proof summary to the direction being computed; none needs the solver.

use std::collections::BTreeSet;
use std::path::Path;

use wasmgate_analyzer::glob_match;

use super::{Cx, Slots, cap_allowed, feature_allowed};
use crate::lang::{self, Lang};
use crate::policy::{Access, FEATURES, ValidPolicy};
use crate::{Date, pattern, rules};

/// `[exports]`: forbidden names, required names, and per-export restrictions.
pub(super) fn exports(cx: &mut Cx<'_>, reachable: &BTreeSet<String>) {
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

pub(super) fn features(cx: &mut Cx<'_>) {
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

pub(super) fn limits(cx: &mut Cx<'_>) {
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

pub(super) fn analysis(cx: &mut Cx<'_>) {
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
pub(super) fn bounds(cx: &mut Cx<'_>) {
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

pub(super) fn sandbox(cx: &mut Cx<'_>) {
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
pub(super) fn waivers(cx: &mut Cx<'_>) {
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

pub(super) fn levels(cx: &mut Cx<'_>) {
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
