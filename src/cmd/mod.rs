//! One module per subcommand.

use clap::{Args, ValueEnum};

pub mod audit;
pub mod check;
pub mod compile_cache;
#[cfg(feature = "sandbox")]
pub mod diff;
pub mod explain;
pub mod graph;
pub mod harden;
pub mod inspect;
pub mod merge;
pub mod policy;
pub mod policy_diff;
pub mod policy_lint;
#[cfg(feature = "sandbox")]
pub mod run;

/// `--format` of the commands that write either a human or a JSON report (each names it
/// `Format`; commands with more formats have their own).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum HumanJson {
    Human,
    Json,
}

/// How a batch of binaries is worked through, shared by `check` and `audit`.
#[derive(Args, Debug, Clone)]
pub struct BatchOpts {
    /// Binaries analysed at once (default: one per CPU).
    #[arg(
        long,
        short = 'j',
        value_name = "N",
        default_value_t = 0,
        hide_default_value = true
    )]
    pub jobs: usize,
    /// Where results are cached (default: $XDG_CACHE_HOME/wasmgate/results, else
    /// ~/.cache/wasmgate/results).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<std::path::PathBuf>,
    /// Analyse every binary, reading and writing no cache.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
    /// Also write one JSON line per binary (its result in short, sha256, whether cached) to
    /// this file.
    #[arg(long, value_name = "FILE")]
    pub summary_jsonl: Option<std::path::PathBuf>,
    /// Work through only shard I of N of the sorted list of binaries (round robin), e.g. one
    /// job of a CI matrix.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::batch::Shard>,
}

impl BatchOpts {
    /// The batch runner's settings; `cacheable` false turns the cache off for this run.
    pub fn settings(&self, cacheable: bool) -> crate::batch::Settings {
        crate::batch::Settings {
            jobs: self.jobs,
            cache: if self.no_cache || !cacheable {
                None
            } else {
                self.cache_dir
                    .clone()
                    .or_else(crate::batch::default_cache_dir)
            },
            progress: true,
        }
    }
}

/// Analysis assumptions, shared by every command that analyses a binary.
#[derive(Args, Debug, Clone, Copy)]
pub struct AnalysisOpts {
    /// Assume no import calls back into the module while it runs (the behaviour before
    /// `<host-reentry>`). Unsound for JavaScript hosts (Emscripten, wasm-bindgen, JS imports):
    /// an export that calls a JS import may then run any other export or escaped function.
    #[arg(long)]
    pub assume_no_reentry: bool,
}

impl AnalysisOpts {
    /// The analyzer's options these flags ask for.
    pub fn options(self) -> wasmgate_analyzer::Options {
        wasmgate_analyzer::Options {
            assume_no_reentry: self.assume_no_reentry,
            ..Default::default()
        }
    }
}
