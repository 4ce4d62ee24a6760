//! `[bounds]`: which memory and table bounds `check` proves (opt-in, since most accesses of
//! real binaries go through a stack pointer the checker cannot bound), and the ranges of
//! imported globals that segment offsets read (Emscripten's `__memory_base`).

use super::*;

/// `[bounds]`.
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    /// `segments`: active data and element segments fit the initial memory or table.
    pub segments: Option<At<bool>>,
    /// `accesses`: load and store addresses stay within the initial memory.
    pub accesses: Option<At<bool>>,
    /// `memory_grow`: no reachable `memory.grow` can pass `limits.max_memory_pages`.
    pub memory_grow: Option<At<bool>>,
    /// `max_queries`: solver queries for symbolic addresses per binary.
    pub max_queries: Option<At<u64>>,
    /// `timeout_ms`: solver time limit per query (`--smt-timeout` wins).
    pub timeout_ms: Option<At<u64>>,
    /// `[bounds.globals]`: import id to inclusive range.
    pub globals: Vec<GlobalRange>,
}

/// One entry of `[bounds.globals]`.
#[derive(Debug, Clone)]
pub struct GlobalRange {
    /// Import id `<module>#<name>` (literal, no patterns).
    pub import: String,
    /// Smallest value.
    pub min: u64,
    /// Largest value.
    pub max: u64,
    /// Where it is written.
    pub at: Origin,
}

impl Bounds {
    /// Whether any check is switched on.
    pub fn any(&self) -> bool {
        [&self.segments, &self.accesses, &self.memory_grow]
            .iter()
            .any(|b| b.as_ref().is_some_and(|b| b.value))
    }
}

/// Every check `[bounds]` can switch on, for `widen` messages.
const CHECKS: &[&str] = &["segments", "accesses", "memory_grow"];

impl Loader {
    pub(super) fn bounds(&mut self, file: usize, v: &mut Value<'_>, out: &mut Bounds) {
        let Some(t) = self.table(file, v, "bounds", "`[bounds]`") else {
            return;
        };
        for (k, mut val) in t {
            let what = format!("`bounds.{}`", k.name);
            match &*k.name {
                "segments" => out.segments = self.boolean(file, &mut val, &what),
                "accesses" => out.accesses = self.boolean(file, &mut val, &what),
                "memory_grow" => out.memory_grow = self.boolean(file, &mut val, &what),
                "max_queries" => out.max_queries = self.unsigned(file, &mut val, &what),
                "timeout_ms" => out.timeout_ms = self.unsigned(file, &mut val, &what),
                "globals" => {
                    for (name, mut range) in self.free_table(file, &mut val, "`[bounds.globals]`") {
                        let span = name.span.start..range.span.end;
                        let what = format!("`bounds.globals.\"{}\"`", name.name);
                        let Some(t) = self.table(file, &mut range, "bounds.globals.*", &what)
                        else {
                            continue;
                        };
                        let (mut min, mut max) = (None, None);
                        for (rk, mut rv) in t {
                            let w = format!("{what}.{}", rk.name);
                            match &*rk.name {
                                "min" => min = self.unsigned(file, &mut rv, &w),
                                "max" => max = self.unsigned(file, &mut rv, &w),
                                _ => self.unread(file, &rk),
                            }
                        }
                        let (Some(min), Some(max)) = (min, max) else {
                            self.diags.push(
                                Diagnostic::new(
                                    file,
                                    span,
                                    format!("{what} needs `min` and `max`"),
                                )
                                .label("incomplete range"),
                            );
                            continue;
                        };
                        if !name.name.contains('#') || min.value > max.value {
                            self.diags.push(
                                Diagnostic::new(
                                    file,
                                    span,
                                    format!(
                                        "{what} must name a global import `<module>#<name>` with \
                                         `min <= max`"
                                    ),
                                )
                                .label("bad range"),
                            );
                            continue;
                        }
                        out.globals.push(GlobalRange {
                            import: name.name.to_string(),
                            min: min.value,
                            max: max.value,
                            at: Origin { file, span },
                        });
                    }
                }
                _ => self.unread(file, &k),
            }
        }
    }

    /// `[bounds]` of a child over its parent: switching a check off, or assuming a narrower
    /// range for a global than the parent, accepts more and needs `widen = ["limit:bounds"]`.
    pub(super) fn merge_bounds(
        &mut self,
        parent: &Bounds,
        child: &Bounds,
        out: &mut Bounds,
        file: usize,
        widened: bool,
    ) {
        for (name, p, c, o) in [
            (
                CHECKS[0],
                &parent.segments,
                &child.segments,
                &mut out.segments,
            ),
            (
                CHECKS[1],
                &parent.accesses,
                &child.accesses,
                &mut out.accesses,
            ),
            (
                CHECKS[2],
                &parent.memory_grow,
                &child.memory_grow,
                &mut out.memory_grow,
            ),
        ] {
            if let Some(cv) = c {
                if p.as_ref().is_some_and(|p| p.value) && !cv.value && !widened {
                    self.diags.push(
                        Diagnostic::new(
                            file,
                            cv.at.span.clone(),
                            format!("`bounds.{name} = false` switches off the parent's check"),
                        )
                        .label("widens the parent")
                        .note("add `widen = [\"limit:bounds\"]` to switch it off deliberately"),
                    );
                }
                *o = Some(cv.clone());
            }
        }
        if child.max_queries.is_some() {
            out.max_queries = child.max_queries.clone();
        }
        if child.timeout_ms.is_some() {
            out.timeout_ms = child.timeout_ms.clone();
        }
        for g in &child.globals {
            if let Some(pg) = parent.globals.iter().find(|p| p.import == g.import)
                && (g.min > pg.min || g.max < pg.max)
                && !widened
            {
                self.diags.push(
                    Diagnostic::new(
                        file,
                        g.at.span.clone(),
                        format!(
                            "the range of `{}` is narrower than the parent's {}..={}",
                            g.import, pg.min, pg.max
                        ),
                    )
                    .label("widens the parent (a narrower assumption proves more)")
                    .note("add `widen = [\"limit:bounds\"]` to narrow it deliberately"),
                );
            }
            out.globals.retain(|p| p.import != g.import);
            out.globals.push(g.clone());
        }
    }
}
