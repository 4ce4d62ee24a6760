//! `wasmgate`: decide whether a WebAssembly module or component may be trusted.
//!
//! The binary is thin: each subcommand lives in `cmd/` with its options and `run()`.

mod batch;
mod cmd;
mod input;
mod output;
#[cfg(feature = "sandbox")]
mod scenario;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wasmgate_escape::terminal;

/// Exit status shared by every command.
pub mod exit {
    /// Pass / no difference.
    pub const OK: u8 = 0;
    /// Violation / difference found / undecided (fail closed).
    pub const VIOLATION: u8 = 1;
    /// Usage, input or policy error.
    pub const ERROR: u8 = 2;
}

const AFTER_HELP: &str = "\
Analysis model:
  Entry points are exported functions, the start function and (as one `<escaped>` entry)
  function references the host can obtain. An import that may re-enter the module (call
  back into it: anything not listed in rules/capabilities/reentry.toml, e.g. JS imports) leads
  to <host-reentry>, which runs every export and escaped function, so each entry point's
  result counts host callbacks. --assume-no-reentry drops that (unsound for JS hosts).

Exit status:
  0  pass / no difference
  1  violation / difference found
  2  usage, input or policy error (malformed Wasm reports its byte offset)";

#[derive(Parser, Debug)]
#[command(name = "wasmgate", version, about, after_long_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Inspect(cmd::inspect::Opts),
    Graph(cmd::graph::Opts),
    Harden(cmd::harden::Opts),
    Check(cmd::check::Opts),
    Merge(cmd::merge::Opts),
    Audit(cmd::audit::Opts),
    Explain(cmd::explain::Opts),
    Policy(cmd::policy::Opts),
    #[cfg(feature = "sandbox")]
    Run(cmd::run::Opts),
    #[cfg(feature = "sandbox")]
    Diff(cmd::diff::Opts),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Inspect(opts) => cmd::inspect::run(opts),
        Command::Graph(opts) => cmd::graph::run(opts),
        Command::Harden(opts) => cmd::harden::run(opts),
        Command::Check(opts) => cmd::check::run(opts),
        Command::Merge(opts) => cmd::merge::run(opts),
        Command::Audit(opts) => cmd::audit::run(opts),
        Command::Explain(opts) => cmd::explain::run(opts),
        Command::Policy(opts) => cmd::policy::run(opts),
        #[cfg(feature = "sandbox")]
        Command::Run(opts) => cmd::run::run(opts),
        #[cfg(feature = "sandbox")]
        Command::Diff(opts) => cmd::diff::run(opts),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if output::is_broken_pipe(&e) => ExitCode::from(exit::OK),
        Err(e) => {
            // Messages may quote names from the binary (wasmparser's "duplicate export name"):
            // each is one escaped line.
            let mut text = format!("error: {}\n", terminal(&e.to_string()));
            for cause in e.chain().skip(1) {
                text.push_str(&format!("  caused by: {}\n", terminal(&cause.to_string())));
            }
            output::eprint(&text);
            ExitCode::from(exit::ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
