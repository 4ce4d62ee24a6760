//! The benchmark's peer (bench/sandbox-overhead.sh): a WASI preview 1 command run on a plain
//! wasmtime-wasi embedding, the same wasmtime version as the harness, no tracing, no limits,
//! no copies, default engine configuration. It stands in for `wasmtime run`, whose CLI is not
//! built here (see BENCHMARKS.md); like `wasmtime run`, it caches compiled code when given
//! `--cache DIR` (wasmtime's cache, as the harness uses).
//!
//! Usage: plain_wasi FILE.wasm [--cache DIR] [--dir HOST::GUEST]... [-- ARGS...]

use wasmtime::{Cache, CacheConfig, Config, Engine, Linker, Module, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

fn main() -> wasmtime::Result<()> {
    let mut argv = std::env::args().skip(1);
    let file = argv
        .next()
        .expect("usage: plain_wasi FILE.wasm [--cache DIR] [--dir HOST::GUEST]... [-- ARGS...]");
    let mut config = Config::new();
    let mut b = WasiCtxBuilder::new();
    b.inherit_stdio();
    let mut args = vec![file.clone()];
    while let Some(a) = argv.next() {
        match a.as_str() {
            "--dir" => {
                let spec = argv.next().expect("--dir HOST::GUEST");
                let (host, guest) = spec.split_once("::").expect("--dir HOST::GUEST");
                b.preopened_dir(host, guest, FsPerms::ReadWrite)?;
            }
            "--cache" => {
                let mut c = CacheConfig::new();
                c.with_directory(std::path::absolute(argv.next().expect("--cache DIR"))?);
                config.cache(Some(Cache::new(c)?));
            }
            "--" => args.extend(argv.by_ref()),
            other => panic!("unexpected argument {other}"),
        }
    }
    b.args(&args);
    let engine = Engine::new(&config)?;
    let module = Module::from_file(&engine, &file)?;
    let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |t| t)?;
    let mut store = Store::new(&engine, b.build_p1());
    let instance = linker.instantiate(&mut store, &module)?;
    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
    let code = match start.call(&mut store, ()) {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => exit.0,
            None => return Err(e),
        },
    };
    std::process::exit(code)
}
