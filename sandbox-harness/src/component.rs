//! One run of a WASI 0.2 command component (`wasi:cli/run`), and [`run`], which picks the
//! runner by the kind of binary.
//!
//! The component gets the same sandbox as a preview 1 module (the same grants, limits,
//! outcomes, virtual clocks and seeded randomness) on wasmtime-wasi's WASI 0.2
//! implementation. Two things differ: host calls are recorded by [`Recorder`] from the
//! bindings' own tracing, and `wasi:clocks/monotonic-clock#subscribe-duration` and
//! `#subscribe-instant` are shadowed by versions whose pollable advances virtual time to its
//! deadline instead of waiting (wasmtime-wasi's waits on a real tokio timer). Network
//! addresses are checked against the `[sandbox] network` grants and recorded.

use std::sync::{Arc, Mutex};

use serde_json::json;
use wasmtime::component::{Component, Linker, Resource, ResourceTable};
use wasmtime::{Engine, Store, StoreContextMut, Trap};
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};
use wasmtime_wasi::{Deterministic, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::invoke::Entry;
use crate::limits::Limits;
use crate::net::{allowed, use_name};
use crate::output::Capture;
use crate::preopen::Copies;
use crate::recorder::{NetAttempt, Recorder, arg_value};
use crate::run::{
    Deadline, Ended, Grants, HarnessError, Limiter, Outcome, RunReport, ended, run_p1_entry,
};
use crate::virt::{Monotonic, SEED, VirtualTime, Wall, random_bytes};

/// The clock interface whose subscriptions are shadowed (the version wasmtime-wasi 48
/// defines; a component importing an older 0.2 version links to it by semver).
const MONOTONIC: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Runs `bytes` under `grants` and `limits`: a core module by `entry` (a WASI preview 1
/// command, or one exported function), a component as a WASI 0.2 command.
pub fn run(
    bytes: &[u8],
    grants: &Grants,
    limits: &Limits,
    entry: &Entry,
) -> Result<RunReport, HarnessError> {
    match (is_component(bytes), entry) {
        (true, Entry::Command) => run_component(bytes, grants, limits),
        (true, Entry::Invoke { .. }) => Err(HarnessError::Invoke(
            "a component runs its `wasi:cli/run` export; --invoke calls a core module's functions"
                .into(),
        )),
        (false, _) => run_p1_entry(bytes, grants, limits, entry),
    }
}

/// Whether `bytes` are a component (the binary's layer field is 1).
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

struct Host {
    ctx: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    rec: Recorder,
    time: VirtualTime,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// A clock subscription in virtual time: ready at once, having moved time to its deadline.
struct VirtualSleep {
    time: VirtualTime,
    deadline: u64,
}

#[wasmtime_wasi::async_trait]
impl Pollable for VirtualSleep {
    async fn ready(&mut self) {
        self.time.advance_to(self.deadline);
    }
}

fn sleep_until(
    mut cx: StoreContextMut<'_, Host>,
    function: &str,
    when: u64,
    deadline: u64,
) -> wasmtime::Result<(Resource<DynPollable>,)> {
    let h = cx.data_mut();
    let sleep = h.table.push(VirtualSleep {
        time: h.time.clone(),
        deadline,
    })?;
    let pollable = subscribe(&mut h.table, sleep)?;
    let id = h.rec.id("monotonic-clock", function);
    h.rec.push(
        id,
        json!({ "when": when }),
        json!({ "ok": arg_value(&format!("{pollable:?}")) }),
    );
    Ok((pollable,))
}

/// Runs `bytes`, a WASI 0.2 command component, under `grants` and `limits`.
pub fn run_component(
    bytes: &[u8],
    grants: &Grants,
    limits: &Limits,
) -> Result<RunReport, HarnessError> {
    let setup = |e: wasmtime::Error| HarnessError::Setup(format!("{e:#}"));
    let mut config = crate::run::sandbox_config(limits);
    config.wasm_component_model(true);
    let engine = Engine::new(&config).map_err(setup)?;
    let component = crate::compile_cache::compile(|| Component::new(&engine, bytes))
        .map_err(|e| HarnessError::Compile(format!("{e:#}")))?;
    let ty = component.component_type();
    let run_export = ty
        .exports(&engine)
        .map(|(name, _)| name)
        .find(|n| n.starts_with("wasi:cli/run@0.2."))
        .map(str::to_string)
        .ok_or(HarnessError::NotComponentCommand)?;
    let imports: Vec<String> = ty
        .imports(&engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let rec = Recorder::new(imports.iter().map(String::as_str));

    let scratch = tempfile::tempdir()
        .map_err(|e| HarnessError::Setup(format!("creating a temporary directory: {e}")))?;
    let time = VirtualTime::default();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let stdout = Capture::new(limits.output_bytes);
    let stderr = Capture::new(limits.output_bytes);
    let mut b = WasiCtxBuilder::new();
    b.args(&grants.args)
        .envs(&grants.env)
        .stdin(wasmtime_wasi::p2::pipe::MemoryInputPipe::new(
            grants.stdin.clone(),
        ))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .wall_clock(Wall(time.clone()))
        .monotonic_clock(Monotonic(time.clone()))
        .secure_random(Deterministic::new(random_bytes(1)))
        .insecure_random(Deterministic::new(random_bytes(2)))
        .insecure_random_seed(u128::from(SEED))
        .allow_blocking_current_thread(true)
        .allow_ip_name_lookup(false)
        // Creating a socket confers nothing: every address it is used with goes through the
        // check below, which records it and refuses what is not granted.
        .allow_tcp(true)
        .allow_udp(true);
    let net_grants = grants.network.clone();
    let net_rec = rec.clone();
    b.socket_addr_check(move |addr, u| {
        let ok = allowed(&net_grants, addr, u);
        net_rec.network(NetAttempt {
            address: addr.to_string(),
            use_: use_name(u).to_string(),
            allowed: ok,
        });
        Box::pin(async move { ok })
    });
    let copies = Copies::make(&grants.preopens, scratch.path(), &mut b)?;

    let host = Host {
        ctx: b.build(),
        table: ResourceTable::new(),
        limiter: Limiter {
            memory_bytes: limits.memory_bytes,
            table_elements: limits.table_elements,
            hits: hits.clone(),
        },
        rec: rec.clone(),
        time: time.clone(),
    };
    let mut store = Store::new(&engine, host);
    store.limiter(|h| &mut h.limiter);
    store.set_fuel(limits.fuel).map_err(setup)?;
    store.set_epoch_deadline(1);
    store.epoch_deadline_trap();

    let mut linker: Linker<Host> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(setup)?;
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC).map_err(setup)?;
    clock
        .func_wrap(
            "subscribe-duration",
            |cx: StoreContextMut<'_, Host>, (when,): (u64,)| {
                let deadline = cx.data().time.peek().saturating_add(when);
                sleep_until(cx, "subscribe-duration", when, deadline)
            },
        )
        .map_err(setup)?;
    clock
        .func_wrap(
            "subscribe-instant",
            |cx: StoreContextMut<'_, Host>, (when,): (u64,)| {
                sleep_until(cx, "subscribe-instant", when, when)
            },
        )
        .map_err(setup)?;
    linker.allow_shadowing(false);
    // No stubs for imports outside WASI 0.2: wasmtime's `define_unknown_imports_as_traps`
    // would also define the types a WASI interface re-exports (`wasi:io/streams` `error`) as
    // fresh resources, which then fail to link. Such a component ends as a link `trap`.

    // Granted sockets are tokio streams: without the IO driver a connect panics.
    let deadline = Deadline::start(&engine, limits.time_ms, true)?;
    // The recorder sees the bindings' tracing on this thread only, where the guest runs.
    let result = tracing::subscriber::with_default(rec.clone(), || {
        deadline.run(async {
            let command = wasmtime_wasi::p2::bindings::Command::instantiate_async(
                &mut store, &component, &linker,
            )
            .await?;
            command.wasi_cli_run().call_run(&mut store).await
        })
    });
    drop(deadline);

    let end = match result {
        None => Outcome::Timeout,
        Some(Ok(Ok(()))) => Outcome::Exit(0),
        // `run` returned `err`: what wasi-libc and the adapter make of a non-zero status.
        Some(Ok(Err(()))) => Outcome::Exit(1),
        // Not a trap and not an exit: a link error, whose cause is in the chain.
        Some(Err(e))
            if e.downcast_ref::<Trap>().is_none() && e.downcast_ref::<I32Exit>().is_none() =>
        {
            Outcome::Trap(format!("{e:#}"))
        }
        Some(Err(e)) => ended(&e),
    };
    let ended = Ended {
        entries: vec![format!("{run_export}#run")],
        returned: Vec::new(),
        end,
    };
    let seen = (&*hits, &stdout, &stderr, &time);
    ended.report(store, |_| rec.finish(), seen, limits, copies, grants)
}
