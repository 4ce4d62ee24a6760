//! `wasmgate audit`: one report a reviewer can read without running anything (Markdown,
//! HTML or JSON), or a CycloneDX SBOM, for one or more binaries. The report data comes from
//! `wasmgate_report::audit_one`; this file only reads inputs and picks the renderer.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use wasmgate_policy::project::{self, Project};
use wasmgate_policy::{Date, LoadError, SmtOptions, ValidPolicy};
use wasmgate_report::{Audit, AuditInput, Verdict};

use crate::{exit, input, output};

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

The format comes from the -o extension (.md, .html, .json), else --format (default md on
standard output). --sbom cyclonedx writes a CycloneDX 1.5 JSON document instead of the report:
one component per binary with its SHA-256, producers, wasm-metadata licence and version,
capabilities as properties, and the crates of its cargo-auditable `.dep-v0` section.

The verdict, by the policy's levels after waivers: reject when an error counts, review when a
warning counts or no policy applies, accept otherwise. Without --policy, `wasmgate.toml` in the
working directory maps binaries to policies when it exists. The HTML is one self-contained
file (inline CSS and SVG, no script, no network). The binary is not run: the dynamic section
says so (use `wasmgate run`).

Exit status:
  0  every binary's verdict is accept
  1  some verdict is review or reject
  2  usage, input or policy error")]
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
    let mut reports = Vec::with_capacity(opts.files.len());
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
        let bytes = input::read(file)?;
        let analysis = wasmgate_analyzer::analyze_with(&bytes, options)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
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
        let previous = match &opts.previous {
            Some(old) => Some((
                crate::cmd::check::display(old),
                input::analyze(old, options)
                    .with_context(|| format!("analysing {}", old.display()))?,
            )),
            None => None,
        };
        reports.push(wasmgate_report::audit_one(AuditInput {
            artifact: &artifact,
            analysis: &analysis,
            policy: policy_path.as_deref().zip(findings.as_deref()),
            previous: previous.as_ref().map(|(n, a)| (n.as_str(), a)),
        }));
    }
    let audit = Audit::new(env!("CARGO_PKG_VERSION"), reports);
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
    Ok(if audit.verdict == Verdict::Accept {
        exit::OK
    } else {
        exit::VIOLATION
    })
}
