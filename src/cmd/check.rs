//! `wasmgate check`: the CI gate. Checks binaries against policies and reports findings as
//! text, JSON or SARIF; the exit status says whether anything at or above `--fail-on` remains
//! after waivers and the baseline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use wasmgate_policy::project::{self, Project};
use wasmgate_policy::report::{self, FileReport};
use wasmgate_policy::{Date, Level, LoadError, ValidPolicy};

use crate::{exit, input, output};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Sarif,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FailOn {
    Note,
    Warning,
    Error,
}

/// Check binaries against a zero-trust policy; fail the build on findings.
#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  wasmgate check --policy policy.toml app.wasm
  wasmgate check .                                   # wasmgate.toml maps paths to policies
  wasmgate check . --format sarif -o wasmgate.sarif  # for GitHub code scanning
  wasmgate check . --baseline old.sarif              # report only new findings

Without --policy, `wasmgate.toml` in the working directory decides which policy applies to
each binary. Directories are walked for `.wasm` files (hidden directories and `target/` are
skipped). Waivers expire against --now, else SOURCE_DATE_EPOCH, else today's UTC date.

Exit status:
  0  nothing at or above --fail-on remains after waivers and baseline
  1  at least one such finding
  2  usage, input or policy error (policy errors show line:column with a caret)")]
pub struct Opts {
    /// Files or directories to check (default: the working directory).
    pub paths: Vec<PathBuf>,
    /// Policy applied to every binary (default: `wasmgate.toml` decides).
    #[arg(long, short = 'p')]
    pub policy: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to this file (atomically) instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Lowest level that fails the check.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// A previous SARIF report: findings already in it do not count.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Today's date for waiver expiry, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub now: Option<String>,
}

pub fn run(opts: Opts) -> Result<u8> {
    let today = match &opts.now {
        Some(s) => {
            Date::parse(s).with_context(|| format!("--now {s:?} is not a date YYYY-MM-DD"))?
        }
        None => Date::today().map_err(anyhow::Error::msg)?,
    };
    let baseline = match &opts.baseline {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Some(
                report::baseline_fingerprints(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
            )
        }
        None => None,
    };
    let paths = if opts.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        opts.paths.clone()
    };
    let mut binaries = Vec::new();
    for p in &paths {
        collect(p, &mut binaries)?;
    }
    if binaries.is_empty() {
        bail!(
            "no .wasm files found in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let project = match &opts.policy {
        Some(_) => None,
        None => {
            let path = Path::new(project::FILE_NAME);
            if !path.exists() {
                bail!(
                    "no --policy given and no {} in the working directory",
                    project::FILE_NAME
                );
            }
            Some(Project::load(path)?)
        }
    };
    // Policies first (sequentially, in file order, so load errors are deterministic), then
    // the binaries in parallel; reports keep file order.
    let mut policies: BTreeMap<PathBuf, ValidPolicy> = BTreeMap::new();
    let mut jobs = Vec::with_capacity(binaries.len());
    for bin in &binaries {
        let artifact = display(bin);
        let policy_path = match (&opts.policy, &project) {
            // Relative to the working directory when inside it, so SARIF URIs are relative.
            (Some(p), _) => PathBuf::from(display(p)),
            (None, Some(proj)) => match proj.policy_for(&artifact) {
                Some(p) => PathBuf::from(p),
                None => bail!(
                    "no policy in {} applies to {artifact} (add a [[policy]] entry or `default`)",
                    project::FILE_NAME
                ),
            },
            (None, None) => bail!("no policy"),
        };
        if !policies.contains_key(&policy_path) {
            let policy = match wasmgate_policy::load(&policy_path) {
                Ok(p) => p,
                Err(e @ LoadError::Invalid { .. }) => {
                    if let LoadError::Invalid { rendered, .. } = &e {
                        eprint!("{rendered}");
                    }
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            };
            policies.insert(policy_path.clone(), policy);
        }
        jobs.push((bin, artifact, policy_path));
    }
    let checked: Vec<Result<FileReport>> = jobs
        .into_par_iter()
        .map(|(bin, artifact, policy_path)| {
            let policy = &policies[&policy_path];
            let analysis = input::analyze(bin)?;
            let findings = wasmgate_policy::check(policy, &analysis, &artifact, today);
            // Freeing a large analysis takes a while: do it beside the other files' work.
            std::thread::spawn(move || drop(analysis));
            Ok(FileReport {
                artifact,
                policy: display(&policy_path),
                findings,
            })
        })
        .collect();
    let mut reports = Vec::with_capacity(checked.len());
    for r in checked {
        reports.push(r?);
    }
    if let Some(b) = &baseline {
        report::apply_baseline(&mut reports, b);
    }
    let text = match opts.format {
        Format::Human => report::human(&reports),
        Format::Json => output::json(&report::json(&reports))?,
        Format::Sarif => output::json(&report::sarif(
            &reports,
            env!("CARGO_PKG_VERSION"),
            baseline.is_some(),
        ))?,
    };
    match &opts.output {
        Some(path) => output::write_atomic(path, text.as_bytes())?,
        None => output::print(&text)?,
    }
    let fail_on = match opts.fail_on {
        FailOn::Note => Level::Note,
        FailOn::Warning => Level::Warning,
        FailOn::Error => Level::Error,
    };
    let failing = reports
        .iter()
        .flat_map(|r| &r.findings)
        .any(|f| wasmgate_policy::counts(f, fail_on));
    // The process ends here: freeing the reports piece by piece is wasted time.
    std::mem::forget(reports);
    Ok(if failing { exit::VIOLATION } else { exit::OK })
}

/// A path as shown in reports: relative to the working directory when it is inside it,
/// `/`-separated, without a leading `./`.
fn display(p: &Path) -> String {
    let rel = std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .filter(|r| p.is_absolute() && !r.as_os_str().is_empty())
        .unwrap_or_else(|| p.to_path_buf());
    let s = rel.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").unwrap_or(&s).to_string()
}

/// Adds `p` if it is a file, or every `.wasm` under it (sorted) if it is a directory.
fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(p).with_context(|| format!("reading {}", p.display()))?;
    if !meta.is_dir() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
        .with_context(|| format!("reading directory {}", p.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        let name = e
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if e.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                collect(&e, out)?;
            }
        } else if e.extension().is_some_and(|x| x == "wasm") {
            out.push(e);
        }
    }
    Ok(())
}
