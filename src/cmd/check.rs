//! `wasmgate check`: the CI gate. Checks binaries against policies and reports findings as
//! text, JSON or SARIF; the exit status says whether anything at or above `--fail-on` remains
//! after waivers and the baseline.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use wasmgate_policy::files;
use wasmgate_policy::project::{self, Project};
use wasmgate_policy::report::{self, Failed, FileReport};
use wasmgate_policy::{
    Date, Finding, FingerprintVersion, Kind, Level, LoadError, SmtOptions, ValidPolicy, fingerprint,
};

use crate::{batch, exit, output};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Sarif,
    /// GitHub Actions annotations, and the full list in `$GITHUB_STEP_SUMMARY` when set.
    Github,
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
  wasmgate check . --format github                   # GitHub Actions annotations + job summary
  wasmgate check registry/ -j 8 --summary-jsonl r.jsonl   # many binaries, one JSON line each
  wasmgate check registry/ --shard 2/4 --format json -o s2.json  # one CI job of four;
  wasmgate merge s1.json s2.json s3.json s4.json --format sarif  # then merge the shards

--format github writes workflow-command annotations, most severe first, at most 10 per level
(GitHub shows no more per step; a log line counts the rest), and appends every finding as a
Markdown table to $GITHUB_STEP_SUMMARY when it is set.

Each binary's findings are cached (default $XDG_CACHE_HOME/wasmgate/results, else
~/.cache/wasmgate/results; --cache-dir, --no-cache) under the binary's SHA-256, the resolved
policy text, the flags, the expired waivers and this wasmgate build; an entry that does not
verify is recomputed. A progress bar shows on a terminal only. --shard I/N checks every Nth
binary of the sorted list; `wasmgate merge` puts the shards' JSON reports back together.

Names are shown demangled (Rust, C++) in text, SARIF and annotations; JSON keeps the raw
names and adds `demangled`.

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

A binary that cannot be read or parsed does not stop the batch: an `error:` line on standard
error names it (with the byte offset of malformed Wasm), its --summary-jsonl line carries
`error`, the others are checked and reported, and the exit status is 2.

Exit status:
  0  nothing at or above --fail-on remains after waivers and baseline
  1  at least one such finding
  2  usage, input or policy error (policy errors show line:column with a caret), or some
     binary could not be checked")]
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
    // `--shard`: the shards' `--format json` reports merge with `wasmgate merge`.
    #[command(flatten)]
    pub batch: crate::cmd::BatchOpts,
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
    let mut binaries: Vec<PathBuf> = Vec::new();
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
    let mut shard_meta = batch::take_shard(
        opts.batch.shard,
        &mut binaries,
        display,
        opts.baseline.is_some(),
    );
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
    let job = CheckJob {
        assigned: jobs
            .iter()
            .map(|(bin, artifact, policy)| ((*bin).clone(), (artifact.clone(), policy.clone())))
            .collect(),
        policies: &policies,
        opts: &opts,
        today,
    };
    let settings = opts.batch.settings(true);
    let paths: Vec<PathBuf> = jobs.iter().map(|(bin, _, _)| (*bin).clone()).collect();
    let (checked, stats) = batch::run(&job, &paths, &settings)?;
    if stats.rejected > 0 {
        output::eprint(&format!(
            "warning: {} cache entr{} in {} did not verify (corrupt or tampered) and were \
             recomputed\n",
            stats.rejected,
            if stats.rejected == 1 { "y" } else { "ies" },
            settings.cache.as_deref().unwrap_or(Path::new("")).display()
        ));
    }
    let mut reports = Vec::with_capacity(checked.len());
    let mut lines = Vec::new();
    // A binary that cannot be read or parsed is reported and the batch goes on; the exit
    // status is then 2 (an unchecked binary must not pass the gate).
    let mut failed: Vec<Failed> = Vec::new();
    // A shard's positions, split between checked and failed binaries.
    let mut positions = (Vec::new(), Vec::new());
    for (i, (r, (_, artifact, policy_path))) in checked.into_iter().zip(&jobs).enumerate() {
        let position = shard_meta.as_ref().map_or(i, |m| m.positions[i]);
        let done = match r {
            Ok(done) => done,
            Err(e) => {
                output::eprint(&format!("error: {e:#}\n"));
                let f = Failed {
                    artifact: artifact.clone(),
                    error: format!("{e:#}"),
                    policy: display(policy_path),
                };
                if opts.batch.summary_jsonl.is_some() {
                    // The same three keys (artifact, error, policy) as the report's `failed`.
                    lines.push(serde_json::to_value(&f)?);
                }
                failed.push(f);
                positions.1.push(position);
                continue;
            }
        };
        positions.0.push(position);
        let report = FileReport {
            artifact: artifact.clone(),
            policy: display(policy_path),
            findings: done.output,
        };
        if opts.batch.summary_jsonl.is_some() {
            lines.push(summary_line(&report, &done.sha256, done.cached));
        }
        reports.push(report);
    }
    if let Some(b) = &baseline {
        report::apply_baseline(&mut reports, b);
    }
    if let Some(path) = &opts.batch.summary_jsonl {
        batch::write_jsonl(path, &lines)?;
    }
    if let Some(meta) = &mut shard_meta {
        (meta.positions, meta.failed_positions) = positions;
    }
    let status = render_and_exit(
        &reports,
        &failed,
        opts.format,
        opts.output.as_deref(),
        opts.fail_on,
        baseline.is_some(),
        shard_meta.as_ref(),
    )?;
    if !failed.is_empty() {
        output::eprint(&format!(
            "error: {} of {} binar{} could not be checked (see above)\n",
            failed.len(),
            jobs.len(),
            if jobs.len() == 1 { "y" } else { "ies" }
        ));
        return Ok(exit::ERROR);
    }
    Ok(status)
}

/// Writes the report in `format` (to `out_path` atomically, else standard output) and returns
/// the exit status for `fail_on` (the caller makes it 2 when some binary `failed`). Shared
/// with `merge`, so a merged run renders exactly as an unsharded one.
pub fn render_and_exit(
    reports: &[FileReport],
    failed: &[Failed],
    format: Format,
    out_path: Option<&Path>,
    fail_on: FailOn,
    baseline: bool,
    shard: Option<&report::Shard>,
) -> Result<u8> {
    // Written as it is rendered: no whole-report string.
    let render = |w: &mut dyn std::io::Write| -> Result<()> {
        match format {
            Format::Human => report::human(reports, failed, w)?,
            Format::Json => report::json_sharded(reports, failed, shard, w)?,
            Format::Sarif => {
                let log = report::sarif(reports, failed, env!("CARGO_PKG_VERSION"), baseline);
                serde_json::to_writer_pretty(&mut *w, &log)?;
                writeln!(w)?;
            }
            Format::Github => {
                let step = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty());
                match step {
                    Some(p) => {
                        // Appended, as GitHub expects: earlier steps may have written to it.
                        let mut f = std::fs::OpenOptions::new()
                            .append(true)
                            .create(true)
                            .open(&p)
                            .with_context(|| {
                                format!(
                                    "opening $GITHUB_STEP_SUMMARY ({})",
                                    Path::new(&p).display()
                                )
                            })?;
                        let mut buf = std::io::BufWriter::new(&mut f);
                        report::github(reports, w, Some(&mut buf))?;
                        buf.flush()?;
                    }
                    None => {
                        report::github(reports, w, None)?;
                    }
                }
            }
        }
        Ok(())
    };
    match out_path {
        Some(path) => output::write_atomic_with(path, render)?,
        None => output::print_with(render)?,
    }
    let fail_on = match fail_on {
        FailOn::Note => Level::Note,
        FailOn::Warning => Level::Warning,
        FailOn::Error => Level::Error,
    };
    let failing = reports
        .iter()
        .flat_map(|r| &r.findings)
        .any(|f| wasmgate_policy::counts(f, fail_on));
    Ok(if failing { exit::VIOLATION } else { exit::OK })
}

/// One line of `--summary-jsonl`: a binary's counts, digest and whether it came from the cache.
fn summary_line(r: &FileReport, sha256: &str, cached: bool) -> serde_json::Value {
    let s = report::summary(std::slice::from_ref(r));
    let proven = r
        .findings
        .iter()
        .filter(|f| f.kind == Kind::Pass && f.suppressed.is_none())
        .count();
    serde_json::json!({
        "artifact": r.artifact,
        "policy": r.policy,
        "sha256": sha256,
        "cached": cached,
        "errors": s.errors,
        "warnings": s.warnings,
        "notes": s.notes,
        "suppressed": s.suppressed,
        "proven": proven,
    })
}

/// `check` as a batch job: findings per binary, cached under everything they depend on.
struct CheckJob<'a> {
    /// Per binary: its name in reports and its policy.
    assigned: HashMap<PathBuf, (String, PathBuf)>,
    policies: &'a BTreeMap<PathBuf, ValidPolicy>,
    opts: &'a Opts,
    today: Date,
}

impl batch::Job for CheckJob<'_> {
    type Output = Vec<Finding>;
    const KIND: &'static str = "check";

    fn context(&self, path: &Path) -> Vec<u8> {
        let (artifact, policy_path) = &self.assigned[path];
        let policy = &self.policies[policy_path];
        cache_context(
            artifact,
            Some((policy_path, policy)),
            &[
                u8::from(self.opts.per_entry),
                u8::from(self.opts.analysis.assume_no_reentry),
            ],
            self.opts.smt_timeout,
            self.today,
        )
    }

    fn run(&self, path: &Path, bytes: &[u8]) -> Result<Vec<Finding>> {
        let (artifact, policy_path) = &self.assigned[path];
        let policy = &self.policies[policy_path];
        // The policy is read first: its assumptions are the analysis' options.
        let mut options = policy.analysis_options();
        options.assume_no_reentry |= self.opts.analysis.assume_no_reentry;
        // Aggregated findings need one witness per (capability, import), not one per
        // (entry point, capability); a restricted export's own is built when asked.
        options.witnesses = if self.opts.per_entry {
            wasmgate_analyzer::Witnesses::PerEntry
        } else {
            wasmgate_analyzer::Witnesses::Shared
        };
        let analysis = wasmgate_analyzer::analyze_with(bytes, options)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let options = wasmgate_policy::Options {
            per_entry: self.opts.per_entry,
            smt: SmtOptions {
                timeout_ms: self.opts.smt_timeout,
            },
        };
        let findings = wasmgate_policy::check_with(
            policy,
            &analysis,
            Some(bytes),
            artifact,
            self.today,
            options,
        );
        // Freeing a large analysis takes a while: do it beside the other files' work.
        std::thread::spawn(move || drop(analysis));
        Ok(findings)
    }

    fn encode(findings: &mut Vec<Finding>) -> Result<Vec<u8>> {
        batch::compact::encode(findings)
    }

    fn decode(body: &[u8]) -> Option<Vec<Finding>> {
        batch::compact::decode(body)
    }

    fn valid(&self, path: &Path, findings: &Vec<Finding>) -> bool {
        let (artifact, _) = &self.assigned[path];
        let known = wasmgate_policy::rules::catalogue();
        findings.iter().all(|f| {
            let entry = match f.fingerprint_version {
                FingerprintVersion::V2 => {
                    f.location.entry_kind.zip(f.location.entry_point.as_deref())
                }
                FingerprintVersion::V3 => None,
            };
            // The readable names are derived data: recomputed, never taken from the entry.
            let names = f
                .witness
                .iter()
                .map(|n| &**n)
                .chain(f.location.function.as_deref())
                .chain(f.location.entry_point.as_deref());
            f.location.artifact == *artifact
                && known.iter().any(|r| r.id == f.rule && r.name == f.name)
                && f.fingerprint == fingerprint(&f.rule, artifact, entry, &f.subject)
                && f.demangled == wasmgate_policy::demangle::table(names)
        })
    }
}

/// What a cached per-binary result depends on besides the binary and wasmgate: the name it
/// is reported under, the resolved policy, the flags and which waivers have expired. Shared
/// by `check` and `audit`.
pub(crate) fn cache_context(
    artifact: &str,
    policy: Option<(&Path, &ValidPolicy)>,
    flags: &[u8],
    smt_timeout: Option<u64>,
    today: Date,
) -> Vec<u8> {
    // Length-prefixed parts: names and texts cannot run into each other.
    let mut out = Vec::new();
    let mut part = |b: &[u8]| {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(b);
    };
    part(artifact.as_bytes());
    part(&[u8::from(policy.is_some())]);
    if let Some((policy_path, policy)) = policy {
        part(display(policy_path).as_bytes());
        // The resolved policy: every file of its `extends` chain, by name and text.
        for src in &policy.sources {
            part(src.name.as_bytes());
            part(src.text.as_bytes());
        }
        // The date matters only through which waivers have expired.
        let expired: Vec<u8> = policy
            .waivers
            .iter()
            .map(|w| u8::from(w.expires.is_some_and(|d| d < today)))
            .collect();
        part(&expired);
    }
    part(flags);
    part(format!("{smt_timeout:?}").as_bytes());
    out
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
pub(crate) fn collect(p: &Path, out: &mut Vec<PathBuf>, seen: &mut HashSet<PathBuf>) -> Result<()> {
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
