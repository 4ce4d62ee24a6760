//! GitHub Actions annotations (`check --format github`), for repositories that cannot use
//! code scanning: workflow commands (`::error file=...,line=...,title=...::message`) in the
//! log, and the full list as Markdown for the job summary (`$GITHUB_STEP_SUMMARY`).
//!
//! GitHub shows at most [`MAX_PER_LEVEL`] annotations of each level per step (and 50 per
//! job): the most severe findings are annotated first, and a plain log line and the summary
//! say how many were left out. Like SARIF, an annotation points at the policy line that
//! decided the finding (a `.wasm` has no lines); the binary is named in the title and message.
//! Every untrusted string goes through [`github_message`] / [`github_property`] (and the
//! summary through [`markdown`]), so a name cannot end a command or start another one.

use std::io::{self, Write};

use wasmgate_escape::{github_message, github_property, markdown};

use super::{FileReport, summary};
use crate::finding::{Finding, Kind, Level};

/// Annotations GitHub shows per level and step; three levels stay under the 50 per job.
pub const MAX_PER_LEVEL: usize = 10;

/// Bytes of job summary written: GitHub refuses a step summary over 1 MiB, so the table
/// stops short of it and says how many findings it left out.
pub const MAX_SUMMARY_BYTES: usize = 900 * 1024;

/// What the annotations left out, per level.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GithubOmitted {
    /// Errors not annotated.
    pub errors: usize,
    /// Warnings not annotated.
    pub warnings: usize,
    /// Notes not annotated.
    pub notes: usize,
}

impl GithubOmitted {
    fn total(self) -> usize {
        self.errors + self.warnings + self.notes
    }
}

/// Findings that count (failing, not suppressed), most severe first, file order within a level.
fn counted(reports: &[FileReport]) -> Vec<&Finding> {
    let mut out: Vec<&Finding> = reports
        .iter()
        .flat_map(|r| &r.findings)
        .filter(|f| f.kind == Kind::Fail && f.suppressed.is_none())
        .collect();
    // Stable: equal levels keep file and finding order.
    out.sort_by_key(|f| std::cmp::Reverse(f.level));
    out
}

fn command(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Note => "notice",
    }
}

/// Writes the annotations to `w` (the step's log), then the summary line; with `step_summary`
/// (the file `$GITHUB_STEP_SUMMARY` names, appended to), the full list as Markdown.
pub fn github(
    reports: &[FileReport],
    w: &mut dyn Write,
    step_summary: Option<&mut dyn Write>,
) -> io::Result<GithubOmitted> {
    let findings = counted(reports);
    let mut shown = [0usize; 3];
    let mut omitted = GithubOmitted::default();
    for f in &findings {
        let slot = f.level as usize;
        if shown[slot] == MAX_PER_LEVEL {
            match f.level {
                Level::Error => omitted.errors += 1,
                Level::Warning => omitted.warnings += 1,
                Level::Note => omitted.notes += 1,
            }
            continue;
        }
        shown[slot] += 1;
        // Raw text here: each line goes through `github_message` (and so `terminal`) once.
        let mut lines = vec![format!("{}: {}", f.location.artifact, f.message)];
        if !f.witness.is_empty() {
            let path: Vec<&str> = f.witness.iter().map(|n| f.readable(n)).collect();
            lines.push(format!("witness: {}", path.join(" -> ")));
        }
        let message = lines
            .iter()
            .map(|l| github_message(l))
            .collect::<Vec<_>>()
            .join("%0A");
        writeln!(
            w,
            "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            command(f.level),
            github_property(&f.policy.file),
            f.policy.line,
            f.policy.column,
            f.policy.end_line,
            f.policy.end_column.max(f.policy.column),
            github_property(&format!("{} {} in {}", f.rule, f.name, f.location.artifact)),
            message
        )?;
    }
    let sum = summary(reports);
    writeln!(w, "wasmgate: {}", counts(&sum, ""))?;
    if omitted.total() > 0 {
        writeln!(
            w,
            "wasmgate: {} finding{} not annotated (GitHub shows at most {MAX_PER_LEVEL} \
             annotations of each level per step): {} error{}, {} warning{}, {} note{}; {}",
            omitted.total(),
            super::plural(omitted.total()),
            omitted.errors,
            super::plural(omitted.errors),
            omitted.warnings,
            super::plural(omitted.warnings),
            omitted.notes,
            super::plural(omitted.notes),
            if step_summary.is_some() {
                "the job summary lists them all"
            } else {
                "--format json lists them all"
            }
        )?;
    }
    if let Some(s) = step_summary {
        markdown_summary(&findings, &sum, s)?;
    }
    Ok(omitted)
}

/// `N files checked: N errors, N warnings, N notes, N suppressed`, the errors between
/// `strong` (the log line and the job summary say the same counts).
fn counts(sum: &super::Summary, strong: &str) -> String {
    let n = |n: usize, what: &str| format!("{n} {what}{}", super::plural(n));
    format!(
        "{} checked: {strong}{}{strong}, {}, {}, {} suppressed",
        n(sum.files, "file"),
        n(sum.errors, "error"),
        n(sum.warnings, "warning"),
        n(sum.notes, "note"),
        sum.suppressed
    )
}

/// The job summary: counts, then one table row per finding that counts, within
/// [`MAX_SUMMARY_BYTES`].
fn markdown_summary(
    findings: &[&Finding],
    sum: &super::Summary,
    s: &mut dyn Write,
) -> io::Result<()> {
    writeln!(s, "## wasmgate check\n")?;
    writeln!(s, "{}.\n", counts(sum, "**"))?;
    if findings.is_empty() {
        return Ok(());
    }
    let header = "| level | rule | binary | finding | policy |\n| --- | --- | --- | --- | --- |\n";
    s.write_all(header.as_bytes())?;
    let mut written = header.len();
    for (i, f) in findings.iter().enumerate() {
        let mut row = format!(
            "| {} | {} {} | {} | {}",
            f.level.as_str(),
            f.rule,
            f.name,
            markdown(&f.location.artifact),
            markdown(&f.message)
        );
        if !f.witness.is_empty() {
            let path: Vec<String> = f.witness.iter().map(|n| markdown(f.readable(n))).collect();
            row.push_str(&format!("<br>witness: {}", path.join(" → ")));
        }
        row.push_str(&format!(
            " | {}:{} |\n",
            markdown(&f.policy.file),
            f.policy.line
        ));
        if written + row.len() > MAX_SUMMARY_BYTES {
            let left = findings.len() - i;
            writeln!(
                s,
                "\n{left} more finding{} left out (GitHub's step summary holds 1 MiB); \
                 `--format json` lists them all.",
                super::plural(left)
            )?;
            return Ok(());
        }
        written += row.len();
        s.write_all(row.as_bytes())?;
    }
    Ok(())
}
