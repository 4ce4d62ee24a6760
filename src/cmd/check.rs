//! `wasmgate check`: the CI gate. Checks binaries against policies and reports findings as
//! text, JSON or SARIF; the exit status says whether anything at or above `--fail-on` remains
//! after waivers and the baseline.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use wasmgate_policy::files;
use wasmgate_policy::project::{self, Project};
use wasmgate_policy::report::{self, FileReport};
use wasmgate_policy::{Date, Level, LoadError, SmtOptions, ValidPolicy};

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
  wasmgate check --per-entry -p policy.toml app.wasm # one finding per entry point

Findings are aggregated: one per (binary, rule, subject), e.g. \"65,169 entry points reach
capability `fs.write`\", listing every entry point (all of them in JSON, the first few in text
and SARIF) with the shortest witness. --per-entry gives one finding per entry point instead
(wasmgateFinding/v2 fingerprints). A baseline of either form is read. SARIF stays within
GitHub code scanning's limits (25,000 results per run, 1,000 locations per result): beyond
them the least severe results are left out and a run notification says so; the exit status
always counts every finding, and --format json lists them all.

Without --policy, `wasmgate.toml` in the working directory decides which policy applies to
each binary. Directories are walked for `.wasm` files, following links (each file is checked
once); hidden directories, `target/` and `node_modules/` are skipped, `.gitignore` is not
honoured, and special files (FIFOs, devices) are skipped with a warning. Waivers expire
against --now, else SOURCE_DATE_EPOCH, else today's UTC date (1970-01-01..=9999-12-31).

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
    /// One finding per entry point, rule and subject (as before aggregation) instead of one per
    /// rule and subject listing its entry points.
    #[arg(long)]
    pub per_entry: bool,
    /// Today's date for waiver expiry, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub now: Option<String>,
    // Or-ed with each binary's policy `assume_no_reentry`.
    #[command(flatten)]
    pub analysis: crate::cmd::AnalysisOpts,
    /// Solver time limit per `[[calls]]` query in milliseconds (wins over the policy's
    /// `timeout_ms`; default 2000). A timeout is `unknown`, never a pass.
    #[arg(long, value_name = "MS")]
    pub smt_timeout: Option<u64>,
}

pub fn run(opts: Opts) -> Result<u8> {
    let today = match &opts.now {
        Some(s) => Date::parse_today(s),
        None => Date::today(),
    }?;
    let baseline = match &opts.baseline {
        Some(p) => {
            let bytes = files::read_regular(p, report::MAX_BASELINE_BYTES)
                .with_context(|| format!("reading {}", p.display()))?;
            let b = report::baseline_fingerprints(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            if b.older_fingerprints > 0 {
                output::eprint(&format!(
                    "warning: {}: {} result{} carry only fingerprints older than {}; they \
                     cannot be compared, so matching findings count as new\n",
                    p.display(),
                    b.older_fingerprints,
                    if b.older_fingerprints == 1 { "" } else { "s" },
                    report::PER_ENTRY_FINGERPRINT_KEY
                ));
            }
            Some(b)
        }
        None => None,
    };
    let paths = if opts.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        opts.paths.clone()
    };
    let mut binaries = Vec::new();
    let mut seen = HashSet::new();
    for p in &paths {
        collect(p, &mut binaries, &mut seen)?;
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
                        output::eprint(rendered);
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
            // The policy is read first: its assumptions are the analysis' options.
            let mut options = policy.analysis_options();
            options.assume_no_reentry |= opts.analysis.assume_no_reentry;
            let bytes = input::read(bin)?;
            let analysis = wasmgate_analyzer::analyze_with(&bytes, options)
                .map_err(|e| anyhow::anyhow!("{}: {e}", bin.display()))?;
            let options = wasmgate_policy::Options {
                per_entry: opts.per_entry,
                smt: SmtOptions {
                    timeout_ms: opts.smt_timeout,
                },
            };
            let findings = wasmgate_policy::check_with(
                policy,
                &analysis,
                Some(&bytes),
                &artifact,
                today,
                options,
            );
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
    // Written as it is rendered: no whole-report string.
    let render = |w: &mut dyn std::io::Write| -> Result<()> {
        match opts.format {
            Format::Human => report::human(&reports, w)?,
            Format::Json => report::json(&reports, w)?,
            Format::Sarif => {
                let log = report::sarif(&reports, env!("CARGO_PKG_VERSION"), baseline.is_some());
                serde_json::to_writer_pretty(&mut *w, &log)?;
                writeln!(w)?;
            }
        }
        Ok(())
    };
    match &opts.output {
        Some(path) => output::write_atomic_with(path, render)?,
        None => output::print_with(render)?,
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
pub(crate) fn display(p: &Path) -> String {
    let rel = std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .filter(|r| p.is_absolute() && !r.as_os_str().is_empty())
        .unwrap_or_else(|| p.to_path_buf());
    let s = rel.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").unwrap_or(&s).to_string()
}

/// Directory names the walk does not enter (besides hidden directories): build output and
/// dependencies, which hold other projects' binaries. Named in `check --help`.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules"];

/// Adds `p` if it is a file, or every `.wasm` under it (sorted) if it is a directory. Links
/// are followed, loops back to an ancestor are skipped, and a file reached twice (through a
/// link) is checked once. `.gitignore` is not honoured: built `.wasm` files are usually
/// ignored, and a gate that skipped them would fail open.
fn collect(p: &Path, out: &mut Vec<PathBuf>, seen: &mut HashSet<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(p).with_context(|| format!("reading {}", p.display()))?;
    if !meta.is_dir() {
        // Given explicitly: a special file is refused when read (exit 2), not skipped.
        if seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())) {
            out.push(p.to_path_buf());
        }
        return Ok(());
    }
    let walk = walkdir::WalkDir::new(p)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0 || !e.file_type().is_dir() || {
                let name = e.file_name().to_string_lossy();
                !name.starts_with('.') && !SKIPPED_DIRS.contains(&&*name)
            }
        });
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) if e.loop_ancestor().is_some() => {
                // Everything behind the link is walked already, from the ancestor.
                continue;
            }
            Err(e) => {
                let path = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| p.to_path_buf());
                let dangling = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink());
                // A dangling link is only worth an error where a binary was expected.
                if dangling && !is_wasm(&path) {
                    continue;
                }
                return Err(anyhow::Error::new(e).context(format!("walking {}", path.display())));
            }
        };
        if !is_wasm(entry.path()) || entry.file_type().is_dir() {
            continue;
        }
        if !entry.file_type().is_file() {
            output::eprint(&format!(
                "warning: skipping {}: not a regular file\n",
                entry.path().display()
            ));
            continue;
        }
        let canonical = std::fs::canonicalize(entry.path())
            .with_context(|| format!("reading {}", entry.path().display()))?;
        if seen.insert(canonical) {
            out.push(entry.into_path());
        }
    }
    Ok(())
}

fn is_wasm(p: &Path) -> bool {
    p.extension().is_some_and(|x| x == "wasm")
}
