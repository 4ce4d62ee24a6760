//! `wasmgate policy diff OLD NEW`: whether a policy change accepts anything the old policy
//! rejected (the review question for every policy pull request).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use wasmgate_policy::LoadError;

use crate::{exit, output};

pub use super::HumanJson as Format;

/// Decide whether NEW allows anything OLD denies, with a witness for each difference.
#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  wasmgate policy diff main/policy.toml policy.toml        # a pull request's change
  wasmgate policy diff old.toml new.toml --format json

Both policies are compared resolved (after extends/widen), by what they let a binary do:
imports with the capabilities they confer (patterns decided exactly, the capability table
included), [[calls]] value sets (Z3 bit-vectors), [exports] (forbidden, required,
restrictions), limits, features, sandbox grants, analysis assumptions (assume_no_reentry),
waivers and rule levels. It prints `not more permissive` with a proof summary, or each
witness NEW allows and OLD denies (an import name, capability, argument value, limit...),
and says whether the two are equivalent.

Exit status:
  0  NEW is not more permissive than OLD (proven)
  1  NEW is more permissive, or a question was undecided (fail closed)
  2  usage or input error (a policy that does not load)")]
pub struct DiffOpts {
    /// The policy before the change.
    pub old: PathBuf,
    /// The policy after the change.
    pub new: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Loads a policy, printing its diagnostics (with carets) before failing.
pub fn load(path: &std::path::Path) -> Result<wasmgate_policy::ValidPolicy> {
    match wasmgate_policy::load(path) {
        Ok(p) => Ok(p),
        Err(e) => {
            if let LoadError::Invalid { rendered, .. } = &e {
                output::eprint(rendered);
            }
            Err(e.into())
        }
    }
}

pub fn run(o: DiffOpts) -> Result<u8> {
    let old = load(&o.old)?;
    let new = load(&o.new)?;
    let report = wasmgate_policy::diff::diff(&old, &new)?;
    match o.format {
        Format::Human => output::print(&report.human())?,
        Format::Json => output::print_json(&report)?,
    }
    Ok(if report.passes() {
        exit::OK
    } else {
        exit::VIOLATION
    })
}
