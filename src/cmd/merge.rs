//! `wasmgate merge`: puts the JSON reports of a sharded `check` (`--shard i/n`, one per CI
//! job) back together into the report the unsharded run would have written, in any format.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Deserialize;
use wasmgate_policy::files;
use wasmgate_policy::report::{self, Failed, FileReport, Shard};
use wasmgate_policy::{EntryRef, Finding};

use crate::cmd::check::{FailOn, Format, render_and_exit};

/// Largest shard report read (the JSON of a deny-all check of the largest corpus binary is a
/// fifth of it).
const MAX_SHARD_BYTES: u64 = 1 << 30;

/// Merge the `--format json` reports of `check --shard i/n` into one report.
#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  # in CI job i of 4 (a matrix):
  wasmgate check registry/ --shard $I/4 --format json -o shard-$I.json
  # then, once all are done:
  wasmgate merge shard-*.json --format sarif -o wasmgate.sarif
  wasmgate merge shard-*.json --format github

Every shard of the run must be given, once: the shards must agree on the number of shards
and on the list of binaries (each records a digest of it), and together cover every binary.
The result is exactly the report the unsharded `check` writes (same file order, summary and,
for SARIF, the same log), binaries a shard could not check included.

Exit status:
  0  nothing at or above --fail-on in the merged findings
  1  at least one such finding
  2  usage or input error (a missing, repeated or foreign shard; an unreadable report), or
     some shard could not check a binary (as the unsharded `check`)")]
pub struct Opts {
    /// The shards' JSON reports (`check --shard I/N --format json -o F`).
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to this file (atomically) instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Lowest level that fails.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
}

#[derive(Deserialize)]
struct ShardReport {
    #[serde(default)]
    failed: Vec<Failed>,
    files: Vec<ShardFile>,
    schema_version: u32,
    shard: Option<Shard>,
}

/// A file of a schema-3 report: its entry points once, findings naming them by index ranges.
#[derive(Deserialize)]
struct ShardFile {
    artifact: String,
    policy: String,
    #[serde(default)]
    entry_points: Vec<EntryRef>,
    findings: Vec<ShardFinding>,
}

#[derive(Deserialize)]
struct ShardFinding {
    #[serde(flatten)]
    finding: Finding,
    #[serde(default)]
    entry_indices: Option<String>,
}

impl ShardFile {
    /// The file's report, each finding with its entry points back in place.
    fn into_report(self, from: &std::path::Path) -> Result<FileReport> {
        let mut findings = Vec::with_capacity(self.findings.len());
        for f in self.findings {
            let mut finding = f.finding;
            if let Some(ix) = &f.entry_indices {
                let Some(entries) = report::entries_from_indices(&self.entry_points, ix) else {
                    bail!(
                        "{}: {}: entry_indices {:?} do not fit the file's {} entry points",
                        from.display(),
                        self.artifact,
                        ix,
                        self.entry_points.len()
                    );
                };
                finding.entry_points = entries;
            }
            findings.push(finding);
        }
        Ok(FileReport {
            artifact: self.artifact,
            policy: self.policy,
            findings,
        })
    }
}

pub fn run(opts: Opts) -> Result<u8> {
    let mut parts = Vec::with_capacity(opts.reports.len());
    for p in &opts.reports {
        let bytes = files::read_regular(p, MAX_SHARD_BYTES)
            .with_context(|| format!("reading {}", p.display()))?;
        let r: ShardReport = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not a wasmgate check JSON report", p.display()))?;
        if r.schema_version != report::SCHEMA_VERSION {
            bail!(
                "{}: schema_version {} (this wasmgate reads {})",
                p.display(),
                r.schema_version,
                report::SCHEMA_VERSION
            );
        }
        let Some(shard) = r.shard else {
            bail!(
                "{}: not a shard (written without `check --shard I/N`)",
                p.display()
            );
        };
        if shard.positions.len() != r.files.len() || shard.failed_positions.len() != r.failed.len()
        {
            bail!(
                "{}: the shard lists {} and {} positions for {} files and {} failed binaries",
                p.display(),
                shard.positions.len(),
                shard.failed_positions.len(),
                r.files.len(),
                r.failed.len()
            );
        }
        let files = r
            .files
            .into_iter()
            .map(|f| f.into_report(p).map(Slot::Checked))
            .chain(r.failed.into_iter().map(|f| Ok(Slot::Failed(f))))
            .collect::<Result<Vec<_>>>()?;
        parts.push((p, shard, files));
    }
    let (_, first, _) = &parts[0];
    let (count, total, listing) = (first.count, first.total, first.listing.clone());
    let mut seen_shards = vec![false; count];
    let mut slots: Vec<Option<Slot>> = (0..total).map(|_| None).collect();
    let mut baseline = false;
    for (p, shard, files) in parts {
        if shard.count != count || shard.total != total || shard.listing != listing {
            bail!(
                "{}: shard of another run ({} shards of {} binaries; the first report has {} of {})",
                p.display(),
                shard.count,
                shard.total,
                count,
                total
            );
        }
        let Some(seen) = shard
            .index
            .checked_sub(1)
            .and_then(|i| seen_shards.get_mut(i))
        else {
            bail!(
                "{}: shard {}/{count} is out of range",
                p.display(),
                shard.index
            );
        };
        if std::mem::replace(seen, true) {
            bail!("{}: shard {}/{count} given twice", p.display(), shard.index);
        }
        baseline |= shard.baseline;
        let positions = shard.positions.into_iter().chain(shard.failed_positions);
        for (pos, file) in positions.zip(files) {
            match slots.get_mut(pos) {
                Some(slot @ None) => *slot = Some(file),
                _ => bail!(
                    "{}: position {pos} is out of range or held by another shard",
                    p.display()
                ),
            }
        }
    }
    if let Some(missing) = seen_shards.iter().position(|s| !s) {
        bail!("shard {}/{count} is missing", missing + 1);
    }
    let Some(slots) = slots.into_iter().collect::<Option<Vec<_>>>() else {
        bail!("the shards do not cover every binary of the run");
    };
    let (mut reports, mut failed) = (Vec::new(), Vec::new());
    for s in slots {
        match s {
            Slot::Checked(r) => reports.push(r),
            Slot::Failed(f) => failed.push(f),
        }
    }
    let status = render_and_exit(
        &reports,
        &failed,
        opts.format,
        opts.output.as_deref(),
        opts.fail_on,
        baseline,
        None,
    )?;
    if failed.is_empty() {
        return Ok(status);
    }
    crate::output::eprint(&format!(
        "error: {} of {total} binar{} could not be checked (listed in the report)\n",
        failed.len(),
        if total == 1 { "y" } else { "ies" }
    ));
    Ok(crate::exit::ERROR)
}

/// What a shard says about one binary of the run.
enum Slot {
    Checked(FileReport),
    Failed(Failed),
}
