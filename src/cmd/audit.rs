//! `wasmgate audit`: one report a reviewer can read without running anything (Markdown,
//! HTML or JSON), or a CycloneDX SBOM, for one or more binaries. The report data comes from
//! `wasmgate_report::audit_one`; this file only reads inputs and picks the renderer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use wasmgate_policy::project::{self, Project};
use wasmgate_policy::{Date, LoadError, SmtOptions, ValidPolicy};
use wasmgate_report::{Audit, AuditInput, AuditReport, Failure, Index, IndexEntry, Verdict};

use crate::{batch, exit, input, output};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[value(alias = "markdown")]
    Md,
    #[value(alias = "htm")]
    Html,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Sbom {
    Cyclonedx,
}

/// Write an audit report of binaries: verdict, identity, dependencies, capabilities with
/// witnesses, a capability graph, findings with rule docs, and changes since an old version.
#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  wasmgate audit app.wasm --policy policy.toml -o report.html
  wasmgate audit app.wasm --policy policy.toml --previous app-1.2.wasm -o report.md
  wasmgate audit a.wasm b.wasm --policy policy.toml --format json > audit.json
  wasmgate audit app.wasm --sbom cyclonedx -o app.cdx.json
  wasmgate audit copy.wasm --policy copy.toml --scenario copy.scenario.toml -o report.html
  wasmgate audit copy.wasm --policy copy.toml --scenario copy.scenario.toml --no-compile-cache
  wasmgate audit registry/ --policy policy.toml --output-dir audit/ --format html -j 8

The format comes from the -o extension (.md, .html, .json), else --format (default md on
standard output). --sbom cyclonedx writes a CycloneDX 1.5 JSON document instead of the report:
one component per binary with its SHA-256, producers, wasm-metadata licence and version,
capabilities as properties, and the crates of its cargo-auditable `.dep-v0` section.

The verdict, by the policy's levels after waivers: reject when an error counts, review when a
warning counts or no policy applies, accept otherwise. Without --policy, `wasmgate.toml` in the
working directory maps binaries to policies when it exists. The HTML is one self-contained
file (inline CSS and SVG, no script, no network). The binary is not run unless --scenario
names a scenario file (see `wasmgate run --help`): each of its runs then executes the binary
in the sandbox under the policy's [sandbox] grants and limits plus the run's own, and the
dynamic section gives per run the outcome against the expected one, host calls by
capability, the denied attempts, and the capabilities the analysis predicted but the run did
not use. The dynamic section does not change the verdict. A binary the sandbox cannot run
(not a WASI command) counts as a binary that could not be analysed (exit 2), and so does an
import called that the analysis did not predict (an analyzer soundness bug).

Batch mode (--output-dir DIR): FILE... may name directories, walked for `.wasm` files as by
`check`. Each binary gets its own report in DIR (named after its path, `/` and other
characters outside [A-Za-z0-9._-] as `_`) and `index.{md,html,json}` lists every binary with
its verdict and a link to its report (--format picks the format, default md). Binaries are
analysed in parallel (--jobs) and each report is cached like `check`'s findings (same cache
directory, never with --scenario); a progress bar shows on a terminal only. --summary-jsonl F
writes one JSON line per binary (artifact, policy, sha256, cached, verdict; or error), and
--shard I/N audits only every Nth binary of the sorted list (one CI job of N), as `check`.

A binary that cannot be read or parsed is listed in the report with the error (file and
byte offset; its verdict counts as reject) and the others are still audited; the exit status
is then 2.

Exit status:
  0  every binary's verdict is accept
  1  some verdict is review or reject
  2  usage, input or policy error, or some binary could not be analysed")]
pub struct Opts {
    /// The .wasm files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Policy applied to every binary (default: `wasmgate.toml` decides, if present).
    #[arg(long, short = 'p')]
    pub policy: Option<PathBuf>,
    /// An older version of the (single) binary: the report adds the static diff.
    #[arg(long, value_name = "OLD.wasm")]
    pub previous: Option<PathBuf>,
    /// Write the report to this file (atomically) instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Report format (default: from the -o extension, else md).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write a software bill of materials instead of the report.
    #[arg(long, value_enum, conflicts_with = "format")]
    pub sbom: Option<Sbom>,
    /// Today's date for waiver expiry, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub now: Option<String>,
    #[command(flatten)]
    pub analysis: crate::cmd::AnalysisOpts,
    /// Solver time limit per `[[calls]]` query in milliseconds (default 2000).
    #[arg(long, value_name = "MS")]
    pub smt_timeout: Option<u64>,
    /// Batch mode: write one report per binary and an index (`index.md`, `.html` or `.json`)
    /// into this directory; FILE may then name directories. `--jobs`, `--cache-dir`,
    /// `--no-cache`, `--summary-jsonl` and `--shard` apply in batch mode only.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["output", "previous", "sbom"])]
    pub output_dir: Option<PathBuf>,
    #[command(flatten)]
    pub batch: crate::cmd::BatchOpts,
    /// Run each binary in the sandbox once per run of this scenario file (as `wasmgate run
    /// --scenario`) and fill the report's dynamic section.
    #[arg(long, value_name = "S", conflicts_with = "sbom")]
    pub scenario: Option<PathBuf>,
    /// With --scenario: where compiled guests are cached.
    #[command(flatten)]
    pub compile_cache: crate::cmd::compile_cache::CompileCacheOpts,
}

fn format_of(opts: &Opts) -> Result<Format> {
    if let Some(f) = opts.format {
        return Ok(f);
    }
    let Some(out) = &opts.output else {
        return Ok(Format::Md);
    };
    let ext = out
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    Ok(match ext.as_deref() {
        Some("md" | "markdown") => Format::Md,
        Some("html" | "htm") => Format::Html,
        Some("json") => Format::Json,
        _ => bail!(
            "cannot tell the format of {} from its extension: use .md, .html or .json, or --format",
            out.display()
        ),
    })
}

fn load_policy(path: &Path) -> Result<ValidPolicy> {
    match wasmgate_policy::load(path) {
        Ok(p) => Ok(p),
        Err(e @ LoadError::Invalid { .. }) => {
            if let LoadError::Invalid { rendered, .. } = &e {
                output::eprint(rendered);
            }
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

pub fn run(opts: Opts) -> Result<u8> {
    #[cfg(feature = "sandbox")]
    if opts.scenario.is_some() {
        opts.compile_cache.apply()?;
    }
    if opts.output_dir.is_some() {
        return batch(opts);
    }
    if opts.batch.shard.is_some() || opts.batch.summary_jsonl.is_some() {
        bail!("--shard and --summary-jsonl need batch mode (--output-dir)");
    }
    if let Some(dir) = opts.files.iter().find(|f| f.is_dir()) {
        bail!(
            "{} is a directory: a batch audit writes one report per binary, give --output-dir",
            dir.display()
        );
    }
    let format = if opts.sbom.is_some() {
        None
    } else {
        Some(format_of(&opts)?)
    };
    if opts.previous.is_some() && opts.files.len() != 1 {
        bail!("--previous compares one binary: give exactly one file");
    }
    let today = match &opts.now {
        Some(s) => Date::parse_today(s),
        None => Date::today(),
    }?;
    let project = match &opts.policy {
        Some(_) => None,
        None => {
            let path = Path::new(project::FILE_NAME);
            path.exists().then(|| Project::load(path)).transpose()?
        }
    };
    // Loaded once, before any binary: an invalid scenario is a usage error.
    let scenario = match &opts.scenario {
        Some(p) => Some((p.clone(), load_scenario(p)?)),
        None => None,
    };
    let mut reports = Vec::with_capacity(opts.files.len());
    let mut failed = Vec::new();
    for file in &opts.files {
        let artifact = crate::cmd::check::display(file);
        let policy_path = match (&opts.policy, &project) {
            (Some(p), _) => Some(crate::cmd::check::display(p)),
            (None, Some(proj)) => proj.policy_for(&artifact).map(str::to_string),
            (None, None) => None,
        };
        let policy = policy_path
            .as_deref()
            .map(|p| load_policy(Path::new(p)))
            .transpose()?;
        let mut options = policy
            .as_ref()
            .map(ValidPolicy::analysis_options)
            .unwrap_or_default();
        options.assume_no_reentry |= opts.analysis.assume_no_reentry;
        // A binary that cannot be read or parsed gets an entry and the others go on.
        let read = input::read(file).and_then(|bytes| {
            wasmgate_analyzer::analyze_with(&bytes, options)
                .map(|a| (bytes, a))
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
        });
        let (bytes, analysis) = match read {
            Ok(r) => r,
            Err(e) => {
                fail(&mut failed, artifact, &e);
                continue;
            }
        };
        let findings = policy.as_ref().map(|p| {
            wasmgate_policy::check_with(
                p,
                &analysis,
                Some(&bytes),
                &artifact,
                today,
                wasmgate_policy::Options {
                    per_entry: false,
                    smt: SmtOptions {
                        timeout_ms: opts.smt_timeout,
                    },
                },
            )
        });
        let dynamic = match &scenario {
            Some((path, runs)) => {
                match dynamic(file, &bytes, &analysis, policy.as_ref(), path, runs) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        fail(&mut failed, artifact, &e);
                        continue;
                    }
                }
            }
            None => None,
        };
        let previous = match &opts.previous {
            Some(old) => Some((
                crate::cmd::check::display(old),
                input::analyze(old, options)
                    .with_context(|| format!("analysing {}", old.display()))?,
            )),
            None => None,
        };
        let mut report = wasmgate_report::audit_one(AuditInput {
            artifact: &artifact,
            analysis: &analysis,
            policy: policy_path.as_deref().zip(findings.as_deref()),
            previous: previous.as_ref().map(|(n, a)| (n.as_str(), a)),
        });
        if let Some(d) = dynamic {
            report.dynamic = d;
        }
        reports.push(report);
    }
    let audit = Audit::with_failures(env!("CARGO_PKG_VERSION"), reports, failed);
    let render = |w: &mut dyn std::io::Write| -> Result<()> {
        match format {
            None => wasmgate_report::cyclonedx(&audit, w)?,
            Some(Format::Md) => wasmgate_report::markdown(&audit, w)?,
            Some(Format::Html) => wasmgate_report::html(&audit, w)?,
            Some(Format::Json) => wasmgate_report::json(&audit, w)?,
        }
        Ok(())
    };
    match &opts.output {
        Some(path) => output::write_atomic_with(path, render)?,
        None => output::print_with(render)?,
    }
    Ok(if !audit.failed.is_empty() {
        exit::ERROR
    } else if audit.verdict == Verdict::Accept {
        exit::OK
    } else {
        exit::VIOLATION
    })
}

/// The scenario file's runs, or an error when this build has no sandbox.
#[cfg(feature = "sandbox")]
type Runs = Vec<crate::scenario::Run>;
#[cfg(not(feature = "sandbox"))]
type Runs = ();

#[cfg(feature = "sandbox")]
fn load_scenario(path: &Path) -> Result<Runs> {
    crate::cmd::run::load_scenario(path)
}

#[cfg(not(feature = "sandbox"))]
fn load_scenario(_: &Path) -> Result<Runs> {
    bail!("--scenario needs the sandbox: this wasmgate was built without the `sandbox` feature")
}

/// Runs `bytes` once per scenario run, as `wasmgate run --scenario` does, and turns each run
/// into the report's plain data (the report crate does not depend on the sandbox).
#[cfg(feature = "sandbox")]
fn dynamic(
    file: &Path,
    bytes: &[u8],
    analysis: &wasmgate_analyzer::Analysis,
    policy: Option<&ValidPolicy>,
    scenario: &Path,
    runs: &Runs,
) -> Result<wasmgate_report::Dynamic> {
    use wasmgate_report::{DeniedCall, DynamicRun, MAX_DENIED_LISTED};
    use wasmgate_sandbox_harness::crosscheck::crosscheck_entries;
    use wasmgate_sandbox_harness::{Entry, Limits, run as run_guest};

    use crate::cmd::run;

    let (base, policy_limits) = run::grants(file, &[], policy)?;
    let limits = Limits::default().with(&policy_limits);
    let mut out = Vec::with_capacity(runs.len());
    for r in runs {
        let report = run_guest(bytes, &run::with_run(&base, r), &limits, &Entry::Command)
            .with_context(|| format!("running {} (scenario run `{}`)", file.display(), r.name))?;
        let check = crosscheck_entries(analysis, &report.entries, &report.trace);
        run::soundness(std::iter::once(&check))
            .with_context(|| format!("{} (scenario run `{}`)", file.display(), r.name))?;
        let denied: Vec<_> = report.trace.denied().collect();
        out.push(DynamicRun {
            name: r.name.clone(),
            expect: r.expect.to_string(),
            outcome: report.outcome.to_string(),
            matched: r.expect.matches(&report.outcome),
            host_calls: report.trace.calls.len(),
            calls_by_capability: run::by_capability(&report, analysis),
            denied_count: denied.len(),
            denied: denied
                .iter()
                .take(MAX_DENIED_LISTED)
                .map(|c| DeniedCall {
                    call: c.call.clone(),
                    result: c.result.to_string(),
                })
                .collect(),
            predicted_unobserved: check.unobserved_capabilities.clone(),
            unpredicted: check.missing.clone(),
        });
    }
    Ok(wasmgate_report::Dynamic::Ran {
        scenario: crate::cmd::check::display(scenario),
        runs: out,
    })
}

#[cfg(not(feature = "sandbox"))]
fn dynamic(
    _: &Path,
    _: &[u8],
    _: &wasmgate_analyzer::Analysis,
    _: Option<&ValidPolicy>,
    _: &Path,
    _: &Runs,
) -> Result<wasmgate_report::Dynamic> {
    bail!("--scenario needs the sandbox")
}

/// The policy of each binary in a batch: by --policy, else `wasmgate.toml`, else none.
type Assigned = HashMap<PathBuf, (String, Option<PathBuf>)>;

/// `audit` as a batch job: one binary's report data, cached under what it depends on.
struct AuditJob<'a> {
    assigned: Assigned,
    policies: &'a BTreeMap<PathBuf, ValidPolicy>,
    opts: &'a Opts,
    today: Date,
    scenario: Option<&'a (PathBuf, Runs)>,
}

impl batch::Job for AuditJob<'_> {
    type Output = AuditReport;
    const KIND: &'static str = "audit";

    fn context(&self, path: &Path) -> Vec<u8> {
        let (artifact, policy_path) = &self.assigned[path];
        let policy = policy_path
            .as_ref()
            .map(|p| (p.as_path(), &self.policies[p]));
        crate::cmd::check::cache_context(
            artifact,
            policy,
            &[u8::from(self.opts.analysis.assume_no_reentry)],
            self.opts.smt_timeout,
            self.today,
        )
    }

    fn run(&self, path: &Path, bytes: &[u8]) -> Result<AuditReport> {
        let (artifact, policy_path) = &self.assigned[path];
        let policy = policy_path.as_ref().map(|p| &self.policies[p]);
        let mut options = policy
            .map(ValidPolicy::analysis_options)
            .unwrap_or_default();
        options.assume_no_reentry |= self.opts.analysis.assume_no_reentry;
        let analysis = wasmgate_analyzer::analyze_with(bytes, options)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let findings = policy.map(|p| {
            wasmgate_policy::check_with(
                p,
                &analysis,
                Some(bytes),
                artifact,
                self.today,
                wasmgate_policy::Options {
                    per_entry: false,
                    smt: SmtOptions {
                        timeout_ms: self.opts.smt_timeout,
                    },
                },
            )
        });
        let dynamic = match self.scenario {
            Some((s, runs)) => Some(dynamic(path, bytes, &analysis, policy, s, runs)?),
            None => None,
        };
        let policy_name = policy_path.as_deref().map(crate::cmd::check::display);
        let mut report = wasmgate_report::audit_one(AuditInput {
            artifact,
            analysis: &analysis,
            policy: policy_name.as_deref().zip(findings.as_deref()),
            previous: None,
        });
        if let Some(d) = dynamic {
            report.dynamic = d;
        }
        Ok(report)
    }

    fn valid(&self, path: &Path, report: &AuditReport) -> bool {
        // The digest guards against corruption; this against an entry moved between binaries.
        let (artifact, policy_path) = &self.assigned[path];
        report.artifact == *artifact
            && report.policy == policy_path.as_deref().map(crate::cmd::check::display)
    }
}

/// Says on stderr why a binary could not be audited and lists it in the report's `failed`.
fn fail(failed: &mut Vec<Failure>, artifact: String, e: &anyhow::Error) {
    let error = format!("{e:#}");
    output::eprint(&format!("error: {error}\n"));
    failed.push(Failure { artifact, error });
}

/// The longest report file stem, well under the usual 255-byte name limit with the atomic
/// write's temporary prefix and suffix and a `-N` suffix added.
const MAX_STEM_BYTES: usize = 200;

/// A report's file name in the output directory: the binary's path with every character
/// outside `[A-Za-z0-9._-]` as `_` (so no name can leave the directory or hide), made unique.
fn report_name(artifact: &str, ext: &str, taken: &mut HashSet<String>) -> String {
    let stem: String = artifact
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = stem.trim_start_matches('.');
    let stem = if stem.is_empty() { "binary" } else { stem };
    // File names are limited (255 bytes on most file systems, and the atomic write adds a
    // temporary prefix and suffix): a long path keeps its end and a hash of the whole.
    let short;
    let stem = if stem.len() > MAX_STEM_BYTES {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(artifact.as_bytes());
        let hex: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
        // ASCII only after the mapping above, so any byte index is a char boundary.
        short = format!("{hex}-{}", &stem[stem.len() - (MAX_STEM_BYTES - 13)..]);
        short.as_str()
    } else {
        stem
    };
    let mut name = format!("{stem}.{ext}");
    let mut n = 2;
    while name == format!("index.{ext}") || !taken.insert(name.clone()) {
        name = format!("{stem}-{n}.{ext}");
        n += 1;
    }
    name
}

/// `audit --output-dir`: every binary in parallel (cached), one report each, and the index.
fn batch(opts: Opts) -> Result<u8> {
    let format = format_of(&opts)?;
    let out_dir = opts.output_dir.clone().expect("batch mode");
    let today = match &opts.now {
        Some(s) => Date::parse_today(s),
        None => Date::today(),
    }?;
    let scenario = match &opts.scenario {
        Some(p) => Some((p.clone(), load_scenario(p)?)),
        None => None,
    };
    let mut binaries = Vec::new();
    let mut seen = HashSet::new();
    for p in &opts.files {
        crate::cmd::check::collect(p, &mut binaries, &mut seen)?;
    }
    if binaries.is_empty() {
        bail!("no .wasm files found");
    }
    batch::take_shard(
        opts.batch.shard,
        &mut binaries,
        crate::cmd::check::display,
        false,
    );
    let project = match &opts.policy {
        Some(_) => None,
        None => {
            let path = Path::new(project::FILE_NAME);
            path.exists().then(|| Project::load(path)).transpose()?
        }
    };
    // Policies first, sequentially, so a policy error is reported before any work.
    let mut policies: BTreeMap<PathBuf, ValidPolicy> = BTreeMap::new();
    let mut assigned: Assigned = HashMap::new();
    let mut artifacts = Vec::with_capacity(binaries.len());
    for bin in &binaries {
        let artifact = crate::cmd::check::display(bin);
        let policy_path = match (&opts.policy, &project) {
            (Some(p), _) => Some(PathBuf::from(crate::cmd::check::display(p))),
            (None, Some(proj)) => proj.policy_for(&artifact).map(PathBuf::from),
            (None, None) => None,
        };
        if let Some(p) = &policy_path
            && !policies.contains_key(p)
        {
            policies.insert(p.clone(), load_policy(p)?);
        }
        artifacts.push(artifact.clone());
        assigned.insert(bin.clone(), (artifact, policy_path));
    }
    let job = AuditJob {
        assigned,
        policies: &policies,
        opts: &opts,
        today,
        scenario: scenario.as_ref(),
    };
    // A run's outcome depends on the scenario's input directories too: never cached.
    let settings = opts.batch.settings(scenario.is_none());
    let (results, stats) = batch::run(&job, &binaries, &settings)?;
    if stats.rejected > 0 {
        output::eprint(&format!(
            "warning: {} cache entr{} did not verify (corrupt or tampered) and were recomputed\n",
            stats.rejected,
            if stats.rejected == 1 { "y" } else { "ies" },
        ));
    }
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let ext = match format {
        Format::Md => "md",
        Format::Html => "html",
        Format::Json => "json",
    };
    let mut taken = HashSet::new();
    let mut entries = Vec::new();
    let mut failed = Vec::new();
    let mut lines = Vec::new();
    for ((r, artifact), bin) in results.into_iter().zip(artifacts).zip(&binaries) {
        let policy = job.assigned[bin]
            .1
            .as_deref()
            .map(crate::cmd::check::display);
        let done = match r {
            Ok(d) => d,
            Err(e) => {
                lines.push(serde_json::json!({
                    "artifact": artifact,
                    "policy": policy,
                    "error": format!("{e:#}"),
                }));
                fail(&mut failed, artifact, &e);
                continue;
            }
        };
        lines.push(serde_json::json!({
            "artifact": artifact,
            "policy": policy,
            "sha256": done.sha256,
            "cached": done.cached,
            "verdict": done.output.verdict,
        }));
        let name = report_name(&artifact, ext, &mut taken);
        let report = done.output;
        entries.push(IndexEntry {
            artifact: report.artifact.clone(),
            report: name.clone(),
            verdict: report.verdict,
            verdict_reason: report.verdict_reason.clone(),
            sha256: done.sha256,
            cached: done.cached,
        });
        let audit = Audit::new(env!("CARGO_PKG_VERSION"), vec![report]);
        output::write_atomic_with(&out_dir.join(&name), |w| {
            match format {
                Format::Md => wasmgate_report::markdown(&audit, w)?,
                Format::Html => wasmgate_report::html(&audit, w)?,
                Format::Json => wasmgate_report::json(&audit, w)?,
            }
            Ok(())
        })?;
    }
    if let Some(path) = &opts.batch.summary_jsonl {
        batch::write_jsonl(path, &lines)?;
    }
    let index = Index::new(env!("CARGO_PKG_VERSION"), entries, failed);
    output::write_atomic_with(&out_dir.join(format!("index.{ext}")), |w| {
        match format {
            Format::Md => wasmgate_report::index_markdown(&index, w)?,
            Format::Html => wasmgate_report::index_html(&index, w)?,
            Format::Json => wasmgate_report::index_json(&index, w)?,
        }
        Ok(())
    })?;
    Ok(if !index.failed.is_empty() {
        exit::ERROR
    } else if index.verdict == Verdict::Accept {
        exit::OK
    } else {
        exit::VIOLATION
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (review): a binary path over the file-name limit made the atomic write fail
    /// with "File name too long" and stopped the whole batch audit.
    #[test]
    fn long_paths_give_short_distinct_report_names() {
        let tail = "x".repeat(400);
        let (a, b) = (format!("a/{tail}.wasm"), format!("b/{tail}.wasm"));
        let mut taken = HashSet::new();
        let (na, nb) = (
            report_name(&a, "html", &mut taken),
            report_name(&b, "html", &mut taken),
        );
        for n in [&na, &nb] {
            assert!(n.len() <= MAX_STEM_BYTES + ".html".len(), "{n}");
            assert!(n.ends_with("xxx.wasm.html"), "{n}");
        }
        assert_ne!(na, nb);
        // Short paths keep their readable name.
        assert_eq!(
            report_name("dir/app.wasm", "md", &mut taken),
            "dir_app.wasm.md"
        );
    }
}
