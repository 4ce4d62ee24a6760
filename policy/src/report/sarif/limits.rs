//! Code scanning's limits on a SARIF run: which findings a run keeps when there are more than
//! [`MAX_RESULTS`](super::MAX_RESULTS), least severe left out first, and the notification that
//! says what was left out. Kept apart from the log types so the policy reads in one place.

use super::*;

/// What [`Limits::select`] left out of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Omitted {
    /// Findings in the reports.
    pub total: usize,
    /// Findings left out, per level (of those that count against the build).
    pub errors: usize,
    /// Warnings left out.
    pub warnings: usize,
    /// Notes left out.
    pub notes: usize,
    /// Suppressed (waived, baselined) and `pass` results left out.
    pub other: usize,
    /// Results whose witness was cut to [`MAX_LOCATIONS`] steps.
    pub cut_witnesses: usize,
}

impl Omitted {
    /// Results left out in all.
    pub fn results(&self) -> usize {
        self.errors + self.warnings + self.notes + self.other
    }
}

/// Code scanning's limits on one run: the one place [`MAX_RESULTS`] and [`MAX_LOCATIONS`]
/// are applied.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// At most this many results.
    pub results: usize,
    /// At most this many locations per result.
    pub locations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            results: MAX_RESULTS,
            locations: MAX_LOCATIONS,
        }
    }
}

/// Most severe first: what fails the build, then by level, then suppressed ones, then
/// `pass` results.
fn severity(f: &Finding) -> (bool, bool, Level) {
    (f.kind == Kind::Fail, f.suppressed.is_none(), f.level)
}

impl Limits {
    /// The findings a run keeps, in report order: all of them when they fit, else the
    /// [`Limits::results`] most severe (report order among equals).
    pub fn select<'a>(&self, findings: Vec<&'a Finding>) -> (Vec<&'a Finding>, Omitted) {
        let mut omitted = Omitted {
            total: findings.len(),
            ..Omitted::default()
        };
        let mut kept = findings;
        if kept.len() > self.results {
            let mut order: Vec<usize> = (0..kept.len()).collect();
            // Stable: equal severities keep report order.
            order.sort_by(|&a, &b| severity(kept[b]).cmp(&severity(kept[a])));
            let mut keep = vec![false; kept.len()];
            for &i in &order[..self.results] {
                keep[i] = true;
            }
            for &i in &order[self.results..] {
                let f = kept[i];
                match (severity(f), f.level) {
                    ((true, true, _), Level::Error) => omitted.errors += 1,
                    ((true, true, _), Level::Warning) => omitted.warnings += 1,
                    ((true, true, _), Level::Note) => omitted.notes += 1,
                    _ => omitted.other += 1,
                }
            }
            let mut i = 0;
            kept.retain(|_| {
                i += 1;
                keep[i - 1]
            });
        }
        omitted.cut_witnesses = kept
            .iter()
            .filter(|f| f.witness.len() > self.locations)
            .count();
        (kept, omitted)
    }
}

/// What a run left out, for a run-level notification; `None` when nothing was.
pub(super) fn notification(o: &Omitted, limits: Limits) -> Vec<Notification> {
    let mut out = Vec::new();
    if o.results() > 0 {
        out.push(Notification {
            level: "warning",
            message: Message::owned(format!(
                "{} of {} results are left out of this run to stay within GitHub code \
                 scanning's limit of {} results per run: {} errors, {} warnings, {} notes and \
                 {} suppressed or passing results (the most severe are kept). The exit status \
                 counts every finding; `wasmgate check --format json` lists them all.",
                thousands(o.results()),
                thousands(o.total),
                thousands(limits.results),
                thousands(o.errors),
                thousands(o.warnings),
                thousands(o.notes),
                thousands(o.other)
            )),
        });
    }
    if o.cut_witnesses > 0 {
        out.push(Notification {
            level: "note",
            message: Message::owned(format!(
                "{} witness paths are cut to their first {} steps (GitHub's limit of locations \
                 per result); `wasmgate check --format json` shows them whole.",
                thousands(o.cut_witnesses),
                thousands(limits.locations)
            )),
        });
    }
    out
}
