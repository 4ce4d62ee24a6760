//! `wasmgate policy`: policy file utilities (`init` writes a binary's least-privilege policy,
//! `diff` compares two policies, `lint` checks one).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::{exit, input, output};

/// Work with policy files.
#[derive(Args, Debug)]
pub struct Opts {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    Init(InitOpts),
    Diff(crate::cmd::policy_diff::DiffOpts),
    Lint(crate::cmd::policy_lint::LintOpts),
}

/// Write the least-privilege policy of a binary: exactly what its entry points reach.
#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  wasmgate policy init app.wasm -o policy.toml
  wasmgate check --policy policy.toml app.wasm      # passes

The policy is commented for review: it allows the capabilities and imports the entry points
reach today, restricts exports in groups ([[exports.restrict]], one per capability set; past
1,000 exports a group names its exports by prefixes) and pins limits and features. It ends
with the [[calls]] constraints (rules/init/calls.toml) the SMT checker proves at every call
site today, e.g. `fd_write` with `fd` one of [1, 2] when every site passes 1 or 2.

Exit status:
  0  written
  2  usage or input error")]
pub struct InitOpts {
    /// The .wasm file; `-` reads standard input.
    pub file: PathBuf,
    /// Write the policy to this file (atomically) instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    // With --assume-no-reentry the policy also says `assume_no_reentry = true`.
    #[command(flatten)]
    pub analysis: crate::cmd::AnalysisOpts,
}

pub fn run(opts: Opts) -> Result<u8> {
    match opts.command {
        PolicyCommand::Init(o) => {
            let bytes = input::read(&o.file)?;
            let analysis = wasmgate_analyzer::analyze_with(&bytes, o.analysis.options())
                .map_err(|e| anyhow::anyhow!("{}: {e}", o.file.display()))?;
            let text = wasmgate_policy::init::least_privilege_with_calls(
                &o.file.display().to_string(),
                &analysis,
                &bytes,
            );
            match &o.output {
                Some(p) => output::write_atomic(p, text.as_bytes())?,
                None => output::print(&text)?,
            }
            Ok(exit::OK)
        }
        PolicyCommand::Diff(o) => crate::cmd::policy_diff::run(o),
        PolicyCommand::Lint(o) => crate::cmd::policy_lint::run(o),
    }
}
