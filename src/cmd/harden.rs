//! `wasmgate harden`: writes a version of a module that cannot do what its policy denies.

use std::fmt::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use wasmgate_escape::Terminal as T;
use wasmgate_harden::{Denied, Options, Report};
use wasmgate_policy::LoadError;

use crate::{exit, input, output};

pub use super::HumanJson as Format;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DeniedMode {
    /// Return ENOTCAPABLE (or the family's errno) where the function returns an errno, else trap.
    Errno,
    /// Always trap.
    Trap,
}

/// Rewrite a core module or component so that what the policy denies is gone (enforcement by
/// construction).
#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  wasmgate policy init corpus/c/copy.wasm -o copy.toml   # then remove \"fs.write\" from allow
  wasmgate harden corpus/c/copy.wasm --policy copy.toml -o copy.hardened.wasm
  wasmgate inspect copy.hardened.wasm                     # no fs.write
  wasmgate check copy.hardened.wasm --policy copy.toml    # passes
  wasmgate harden app.wasm --policy p.toml -o out.wasm --denied trap --format json
  wasmgate harden corpus/c/copy.component.wasm --policy copy.toml -o copy.hardened.wasm

Imports whose every use the policy denies are replaced by internal functions that return
the family's errno (WASI: ENOTCAPABLE, 76; Emscripten system calls: -76) or trap;
`path_open` serving allowed and denied file access is guarded (write rights masked,
O_CREAT/O_TRUNC/write-only requests refused), and so are `clock_time_get`/`clock_res_get`
when one clock is denied (only the allowed clock ids reach the host); unreachable function bodies and unused
passive data and unreferenced passive/declarative element segments go. The output is
validated and analysed afresh; the report lists every denied capability it still reaches.
Components: each embedded core module is hardened in place (reported per module); a
component import the policy denies entirely stays declared (removing it needs composition
with a stub component, not done), so it is reported as not enforced (exit 1).

Exit status:
  0  written; every denial is enforced (the output reaches no denied capability)
  1  written; some denials are not enforced (listed, with why)
  2  usage, input or policy error, or the binary cannot be hardened (nothing written)")]
pub struct Opts {
    /// The .wasm core module or component; `-` reads standard input.
    pub file: PathBuf,
    /// The policy to enforce.
    #[arg(long)]
    pub policy: PathBuf,
    /// Where to write the hardened binary (written atomically).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// What a refused call does.
    #[arg(long, value_enum, default_value_t = DeniedMode::Errno)]
    pub denied: DeniedMode,
    /// Report format (on standard output).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(opts: Opts) -> Result<u8> {
    let policy = match wasmgate_policy::load(&opts.policy) {
        Ok(p) => p,
        Err(e @ LoadError::Invalid { .. }) => {
            if let LoadError::Invalid { rendered, .. } = &e {
                output::eprint(rendered);
            }
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let bytes = input::read(&opts.file)?;
    let analysis = wasmgate_analyzer::analyze_with(&bytes, policy.analysis_options())
        .map_err(|e| anyhow::anyhow!("{}: {e}", opts.file.display()))?;
    let denied = match opts.denied {
        DeniedMode::Errno => Denied::Errno,
        DeniedMode::Trap => Denied::Trap,
    };
    let hardened = wasmgate_harden::harden(
        &bytes,
        &analysis,
        &policy,
        &Options::new(denied, env!("CARGO_PKG_VERSION")),
    )
    .with_context(|| format!("hardening {}", opts.file.display()))?;
    output::write_atomic(&opts.output, &hardened.bytes)?;
    let report = &hardened.report;
    match opts.format {
        Format::Json => output::print_json(report)?,
        Format::Human => output::print(&human(
            &opts.file.display().to_string(),
            &opts.output.display().to_string(),
            report,
        ))?,
    }
    Ok(if report.not_enforced.is_empty() {
        exit::OK
    } else {
        exit::VIOLATION
    })
}

/// The human report (deterministic).
pub fn human(file: &str, out: &str, r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} -> {}: {} -> {} bytes",
        T(file),
        T(out),
        r.size_before,
        r.size_after
    );
    if r.denied_capabilities.is_empty() {
        let _ = writeln!(s, "denied capabilities reached: none");
    } else {
        let _ = writeln!(
            s,
            "denied capabilities reached: {}",
            r.denied_capabilities.join(", ")
        );
    }
    let _ = writeln!(s, "removed imports ({}):", r.removed_imports.len());
    for i in &r.removed_imports {
        let _ = writeln!(s, "  {} -> {}: {}", T(&i.import), i.stand_in, T(&i.reason));
    }
    let _ = writeln!(s, "guarded imports ({}):", r.guarded_imports.len());
    for g in &r.guarded_imports {
        let _ = writeln!(
            s,
            "  {}: withholds {}; refused requests get {}",
            T(&g.import),
            g.withheld.join(", "),
            g.refusal
        );
    }
    let _ = writeln!(s, "removed function bodies: {}", r.removed_functions.len());
    if !r.emptied_data_segments.is_empty() {
        let _ = writeln!(
            s,
            "emptied passive data segments: {}",
            r.emptied_data_segments.len()
        );
    }
    if !r.removed_element_segments.is_empty() {
        let _ = writeln!(
            s,
            "removed element segments: {}",
            r.removed_element_segments.len()
        );
    }
    if !r.dropped_sections.is_empty() {
        let names: Vec<String> = r
            .dropped_sections
            .iter()
            .map(|n| T(n).to_string())
            .collect();
        let _ = writeln!(s, "dropped custom sections: {}", names.join(", "));
    }
    for m in &r.modules {
        let _ = writeln!(
            s,
            "{}: {} -> {} bytes; removed imports {}, guarded imports {}, removed function \
             bodies {}, removed element segments {}",
            T(&m.path),
            m.report.size_before,
            m.report.size_after,
            m.report.removed_imports.len(),
            m.report.guarded_imports.len(),
            m.report.removed_functions.len(),
            m.report.removed_element_segments.len()
        );
        for i in &m.report.removed_imports {
            let _ = writeln!(s, "  removed {} -> {}", T(&i.import), i.stand_in);
        }
        for g in &m.report.guarded_imports {
            let _ = writeln!(
                s,
                "  guarded {}: withholds {}",
                T(&g.import),
                g.withheld.join(", ")
            );
        }
    }
    if r.not_enforced.is_empty() {
        let _ = writeln!(s, "every denial is enforced");
    } else {
        let _ = writeln!(s, "NOT enforced ({}):", r.not_enforced.len());
        for n in &r.not_enforced {
            let _ = writeln!(
                s,
                "  {} through {}: {}",
                n.capability,
                T(&n.import),
                T(&n.reason)
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_is_well_formed() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            opts: super::Opts,
        }
        Cli::command().debug_assert();
    }
}
