//! `wasmgate policy lint P`: policy entries that are shadowed, overlap, allow nothing or can
//! match nothing, found without a binary.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::cmd::policy_diff::{Format, load};
use crate::{exit, output};

/// Find entries of a policy that do not do what they seem to (without a binary).
#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  wasmgate policy lint policy.toml
  wasmgate policy lint policy.toml --format json

Findings (each at its entry's line and column; the whole extends chain is read):
  shadowed          an allow entry whose every match is denied (deny beats allow)
  overlap           an allow entry partly denied, with a witness the deny takes away
  empty-constraint  a [[calls]] constraint no value satisfies (min > max, one_of emptied by
                    bit masks...): every call of the import is a violation
  matches-nothing   a waiver no finding of its rule can match (no subject of that form:
                    capability names, features, `<module>#<name>` import ids; or, for
                    capability-not-allowed, only capabilities the policy allows), or an
                    [exports.restrict] entry whose every export name is forbidden
Without a binary, \"matches nothing\" means for every binary: a pattern matching some
name of the right form is kept, whatever today's binary exports or imports.

Exit status:
  0  nothing found
  1  something found
  2  usage or input error (the policy does not load)")]
pub struct LintOpts {
    /// The policy file.
    pub policy: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(o: LintOpts) -> Result<u8> {
    let policy = load(&o.policy)?;
    let report = wasmgate_policy::lint::lint(&policy);
    match o.format {
        Format::Human => {
            let mut text = report.rendered.clone();
            text.push_str(&match report.findings.len() {
                0 => format!("{}: no findings\n", policy.sources[0].name),
                n => format!(
                    "{}: {n} finding{}\n",
                    policy.sources[0].name,
                    if n == 1 { "" } else { "s" }
                ),
            });
            output::print(&text)?
        }
        Format::Json => output::print_json(&report)?,
    }
    Ok(if report.findings.is_empty() {
        exit::OK
    } else {
        exit::VIOLATION
    })
}
