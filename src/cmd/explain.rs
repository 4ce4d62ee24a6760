//! `wasmgate explain`: the documentation of a rule, from the same files as SARIF's rule help.

use anyhow::{Result, bail};
use clap::Args;

use crate::{exit, output};

/// Print the documentation of a rule (by id or name), or list the rules.
#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  wasmgate explain WG0001
  wasmgate explain capability-not-allowed
  wasmgate explain --list

Exit status:
  0  printed
  2  unknown rule")]
pub struct Opts {
    /// Rule id (`WG0001`) or name (`capability-not-allowed`).
    #[arg(required_unless_present = "list")]
    pub rule: Option<String>,
    /// List every rule with its level and summary.
    #[arg(long)]
    pub list: bool,
}

pub fn run(opts: Opts) -> Result<u8> {
    let catalogue = wasmgate_policy::rules::catalogue();
    if opts.list {
        let mut s = String::new();
        for r in catalogue {
            s.push_str(&format!(
                "{} {:<30} {:<8} {}\n",
                r.id,
                r.name,
                r.level.as_str(),
                r.summary
            ));
        }
        output::print(&s)?;
        return Ok(exit::OK);
    }
    let name = opts.rule.unwrap_or_default();
    let Some(r) = wasmgate_policy::rules::find(&name) else {
        bail!("unknown rule `{name}` (`wasmgate explain --list` lists them)");
    };
    let mut s = format!("{} {}\n\n", r.id, r.name);
    s.push_str(&format!(
        "category: {}\ndefault level: {}\n",
        r.category,
        r.level.as_str()
    ));
    if let Some(cwe) = &r.cwe {
        s.push_str(&format!("cwe: {cwe}\n"));
    }
    if !r.tags.is_empty() {
        s.push_str(&format!("tags: {}\n", r.tags.join(", ")));
    }
    s.push_str(&format!("\n{}\n\n{}", r.summary, r.docs));
    if !s.ends_with('\n') {
        s.push('\n');
    }
    output::print(&s)?;
    Ok(exit::OK)
}
