//! `--compile-cache-dir` / `--no-compile-cache`: the flags of every command that runs a
//! guest (`run`, `diff`, `audit --scenario`), so a guest is compiled once, not on every run.

use std::path::PathBuf;

use clap::Args;

/// Where compiled guests are cached.
#[derive(Args, Debug, Clone, Default)]
pub struct CompileCacheOpts {
    /// Cache compiled guests in DIR (default: $XDG_CACHE_HOME/wasmgate/compiled, else
    /// ~/.cache/wasmgate/compiled). A directory every user may write is refused.
    #[arg(long, value_name = "DIR")]
    pub compile_cache_dir: Option<PathBuf>,
    /// Compile the guest on every run, reading and writing no compiled code.
    #[arg(long, conflicts_with = "compile_cache_dir")]
    pub no_compile_cache: bool,
}

impl CompileCacheOpts {
    /// The directory these flags ask for, if any (none without a home directory).
    pub fn dir(&self) -> Option<PathBuf> {
        if self.no_compile_cache {
            return None;
        }
        self.compile_cache_dir.clone().or_else(|| {
            // The batch results cache's sibling: $XDG_CACHE_HOME/wasmgate/compiled.
            crate::batch::default_cache_dir().and_then(|d| d.parent().map(|w| w.join("compiled")))
        })
    }

    /// Turns the process-wide compile cache on or off as asked.
    #[cfg(feature = "sandbox")]
    pub fn apply(&self) -> anyhow::Result<()> {
        use wasmgate_sandbox_harness::compile_cache;
        match self.dir() {
            Some(dir) => compile_cache::enable(&dir)
                .map_err(|e| anyhow::anyhow!("{e} (--no-compile-cache runs without it)")),
            None => {
                compile_cache::disable();
                Ok(())
            }
        }
    }
}
