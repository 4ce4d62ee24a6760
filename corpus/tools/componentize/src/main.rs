//! `componentize IN.wasm OUT.wasm`
//!
//! Turns a WASI preview 1 core module (e.g. what `clang --target=wasm32-wasi`
//! produces) into a WASI 0.2 *command* component: `wit-component` wraps the
//! module, and wasmtime's preview 1 "command" adapter translates every
//! `wasi_snapshot_preview1.*` import into `wasi:*@0.2` interfaces and exports
//! `wasi:cli/run` whose `run` calls the module's `_start`.
//!
//! Output is validated twice before it is written: by wit-component (all
//! wasm features on) and again here with wasmparser's default feature set,
//! which is what a standard runtime accepts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
};
use wasmparser::{Parser, Validator, WasmFeatures};
use wit_component::ComponentEncoder;

const USAGE: &str = "usage: componentize IN.wasm OUT.wasm\n\
    Wraps a WASI preview 1 core module into a WASI 0.2 command component.";

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let Ok([input, output]) = <[_; 2]>::try_from(args) else {
        eprintln!("componentize: expected exactly two arguments\n{USAGE}");
        return ExitCode::from(2);
    };
    match run(&PathBuf::from(input), &PathBuf::from(output)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("componentize: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(input: &Path, output: &Path) -> Result<()> {
    let module =
        std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;

    // Catch the common mistakes up front with a clearer message than the
    // encoder would give.
    if Parser::is_component(&module) {
        bail!("{} is already a component, not a core module", input.display());
    }
    if !Parser::is_core_wasm(&module) {
        bail!("{} is not a WebAssembly core module (bad magic/version)", input.display());
    }
    Validator::new()
        .validate_all(&module)
        .with_context(|| format!("{} is not a valid core module", input.display()))?;

    let component = ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .with_context(|| format!("cannot use {} as the component's main module", input.display()))?
        .adapter(
            WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        )
        .context("cannot load the WASI preview 1 command adapter")?
        .encode()
        .with_context(|| format!("cannot encode {} as a component", input.display()))?;

    // Second check, with the default (stable) feature set only.
    Validator::new_with_features(WasmFeatures::default())
        .validate_all(&component)
        .context("encoded component does not validate with default wasm features")?;

    std::fs::write(output, &component)
        .with_context(|| format!("cannot write {}", output.display()))?;
    eprintln!(
        "componentize: {} ({} bytes) -> {} ({} bytes)",
        input.display(),
        module.len(),
        output.display(),
        component.len()
    );
    Ok(())
}
