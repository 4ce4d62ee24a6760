//! `wasmgate run`: run a WASI preview 1 command or WASI 0.2 command component under the least authority its policy grants,
//! report how it ended and what it did, and cross-check that against the static analysis.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use wasmgate_analyzer::Analysis;
use wasmgate_escape::{Terminal as T, terminal};
use wasmgate_policy::{Access, LoadError, ValidPolicy};
use wasmgate_sandbox_harness::crosscheck::{CrossCheck, crosscheck_entries};
use wasmgate_sandbox_harness::{
    ChangeKind, Entry, EntryKind, FileChange, Grants, Limits, LimitsOverride, Outcome,
    PreopenGrant, RunReport, run as run_guest,
};

use crate::{exit, input, output, scenario};

pub use super::HumanJson as Format;

/// Run a WASI preview 1 command or WASI 0.2 command component in a capability-minimal,
/// deterministic sandbox.
#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  wasmgate run corpus/c/hello.wasm
  wasmgate run corpus/c/copy.wasm --policy copy.toml -- /in/a.txt /out/b.txt
  wasmgate run app.wasm --trace app.trace.jsonl --time-ms 2000 --format json
  wasmgate run corpus/c/copy.wasm --stdin input.txt -- /dev/stdin
  wasmgate run corpus/c/copy.wasm --policy copy.toml --scenario copy.scenario.toml
  wasmgate run corpus/c/copy.component.wasm --policy copy.toml -- /in/a.txt /out/b.txt
  wasmgate run lib.wasm --invoke add -- 2 -3
  wasmgate run app.wasm --compile-cache-dir /var/cache/wasmgate
  wasmgate run app.wasm --no-compile-cache

A core module runs `_start` (a WASI preview 1 command) or, with --invoke NAME, its
exported function NAME (after `_initialize`, if exported) with ARGS as its arguments, parsed
by the parameter types (i32, i64, f32, f64; integers signed or unsigned); what it returns
is reported. A component runs its `wasi:cli/run` export (WASI 0.2).

Nothing is granted unless the policy's [sandbox] grants it: no environment variables but
those named there (with the host's values), no directories but copies of the granted ones
(made in a fresh temporary directory, so the host is never modified; symbolic links and
special files are left out), an empty stdin (or --stdin F), no network but the policy's
`network` grants (IP:PORT or IP:*, WASI 0.2 components only; every address the guest tries
is recorded, refused ones as denied). After the run, the files created, changed and deleted
in each read-write copy are listed (size, SHA-256). Arguments are the file's name
then ARGS. Clocks are virtual (they start at 2000-01-01 and sleeps pass instantly),
randomness is seeded: two runs of the same input give the same output and trace.

Limits (policy [sandbox] keys, overridden by the flags): fuel 2e9, memory 256 MiB per
memory, 100000 table elements, 512 KiB of Wasm stack, 10 s of wall-clock time, 1 MiB
kept of stdout and of stderr (more is counted and cut, the guest is not stopped).

Outcome: exit(N), trap: MESSAGE, fuel-exhausted, timeout, memory-limit, table-limit,
stack-overflow, output-limit (the first limit the guest hit, else how it ended) or
uncaught-exception (a Wasm exception no handler caught).
After every run each import the guest called is checked against the imports the static
analysis says the entry that ran (`_start`, or a component's `wasi:cli/run@0.2.N#run`)
can reach; a miss is an analyzer soundness bug.

Compiled code is cached (wasmtime's cache, in $XDG_CACHE_HOME/wasmgate/compiled, else
~/.cache/wasmgate/compiled, or --compile-cache-dir DIR), so a guest is compiled once. Each
entry is sealed with a checksum, verified before its code is used; a corrupt entry is
compiled again and replaced. A directory every user may write is refused (exit 2).
--no-compile-cache compiles on every run.

Scenario files (--scenario S) list runs: name, args, env (values given, not the host's),
stdin (a file), inputs (directories copied in, ro or rw) and expect (the outcome, default
exit(0); `trap` matches any trap). Each run also gets the policy's grants and limits.

Exit status:
  0  the guest exited with status 0 and hit no limit (with --scenario: every run had its
     expected outcome)
  1  any other outcome (with --scenario: some run's outcome differed from the expected one)
  2  usage or input error (not a WASI command, unreadable policy...), or an
     import was called that the analysis did not predict (analyzer soundness bug)")]
pub struct Opts {
    /// The .wasm file: a WASI preview 1 command module or a WASI 0.2 command component.
    pub file: PathBuf,
    /// Policy whose [sandbox] section grants directories, environment and limits.
    #[arg(long, short = 'p')]
    pub policy: Option<PathBuf>,
    /// Write every host call as JSON lines to this file (atomically).
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// File whose bytes the guest reads on stdin (default: empty stdin).
    #[arg(long, value_name = "F", conflicts_with = "scenario")]
    pub stdin: Option<PathBuf>,
    /// Replay every run of this scenario file (TOML, schemas/scenario.schema.json); exit 1
    /// when an outcome differs from the expected one.
    #[arg(long, value_name = "S", conflicts_with_all = ["args", "trace"])]
    pub scenario: Option<PathBuf>,
    /// Fuel (about one unit per Wasm instruction).
    #[arg(long)]
    pub fuel: Option<u64>,
    /// Bytes of linear memory per memory.
    #[arg(long)]
    pub memory_bytes: Option<u64>,
    /// Elements per table.
    #[arg(long)]
    pub table_elements: Option<u64>,
    /// Bytes of native stack for Wasm frames.
    #[arg(long)]
    pub stack_bytes: Option<u64>,
    /// Wall-clock limit in milliseconds, host calls included.
    #[arg(long)]
    pub time_ms: Option<u64>,
    /// Bytes of stdout and of stderr kept.
    #[arg(long)]
    pub output_bytes: Option<u64>,
    /// Call this exported function of a core module (a reactor or library) instead of
    /// `_start`; ARGS are then its arguments.
    #[arg(long, value_name = "NAME")]
    pub invoke: Option<String>,
    /// Arguments after the program name (with --invoke: the function's arguments).
    #[arg(last = true)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub compile_cache: crate::cmd::compile_cache::CompileCacheOpts,
}

/// The JSON report.
#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    #[serde(flatten)]
    run: &'a RunReport,
    limits: Limits,
    stdout: String,
    stderr: String,
    host_calls: usize,
    calls_by_capability: BTreeMap<String, usize>,
    denied: Vec<&'a wasmgate_sandbox_harness::HostCall>,
    crosscheck: &'a CrossCheck,
}

pub fn run(opts: Opts) -> Result<u8> {
    opts.compile_cache.apply()?;
    let bytes = input::read(&opts.file)?;
    let analysis =
        analyze_apart(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", opts.file.display()))?;
    let policy = load_policy(opts.policy.as_deref())?;
    // With --invoke, ARGS are the function's, not the program's.
    let program_args = if opts.invoke.is_some() {
        &[][..]
    } else {
        &opts.args[..]
    };
    let (mut grants, policy_limits) = grants(&opts.file, program_args, policy.as_ref())?;
    let limits = Limits::default()
        .with(&policy_limits)
        .with(&LimitsOverride {
            fuel: opts.fuel,
            memory_bytes: opts.memory_bytes,
            table_elements: opts.table_elements,
            stack_bytes: opts.stack_bytes,
            time_ms: opts.time_ms,
            output_bytes: opts.output_bytes,
        });
    if let Some(s) = &opts.scenario {
        let runs = load_scenario(s)?;
        return replay(&opts, &bytes, &analysis, &grants, &limits, &runs);
    }
    if let Some(f) = &opts.stdin {
        grants.stdin = scenario::read_text(f, scenario::MAX_STDIN_BYTES)
            .with_context(|| format!("reading stdin file {}", f.display()))?;
    }
    let entry = match &opts.invoke {
        None => Entry::Command,
        Some(name) => Entry::Invoke {
            name: name.clone(),
            args: opts.args.clone(),
        },
    };
    let report = run_guest(&bytes, &grants, &limits, &entry)
        .with_context(|| format!("running {}", opts.file.display()))?;
    if let Some(path) = &opts.trace {
        output::write_atomic(path, report.trace.to_json_lines().as_bytes())?;
    }
    let check = crosscheck_entries(&analysis, &report.entries, &report.trace);
    match opts.format {
        Format::Human => output::print(&human(&report, &limits, &analysis, &check))?,
        Format::Json => output::print_json(&JsonReport {
            schema_version: 1,
            run: &report,
            limits,
            stdout: String::from_utf8_lossy(&report.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&report.stderr).into_owned(),
            host_calls: report.trace.calls.len(),
            calls_by_capability: by_capability(&report, &analysis),
            denied: report.trace.denied().collect(),
            crosscheck: &check,
        })?,
    }
    soundness(std::iter::once(&check))?;
    Ok(if report.outcome == Outcome::Exit(0) {
        exit::OK
    } else {
        exit::VIOLATION
    })
}

/// Analyses `bytes` on a thread pool of its own, gone before a guest runs (`run`, `diff`): idle workers of
/// the global pool keep yielding the CPU for a while after a job, and on a busy machine each
/// yield costs the guest's thread a time slice (the run took 2x its CPU time in wall time).
pub(crate) fn analyze_apart(bytes: &[u8]) -> Result<Analysis, wasmgate_analyzer::Error> {
    match rayon::ThreadPoolBuilder::new().build() {
        // Dropping the pool ends its threads.
        Ok(pool) => pool.install(|| wasmgate_analyzer::analyze(bytes)),
        Err(_) => wasmgate_analyzer::analyze(bytes),
    }
}

/// Loads a policy, printing its rendered diagnostics when it is invalid.
pub(crate) fn load_policy(path: Option<&Path>) -> Result<Option<ValidPolicy>> {
    let Some(p) = path else {
        return Ok(None);
    };
    match wasmgate_policy::load(p) {
        Ok(p) => Ok(Some(p)),
        Err(e) => {
            if let LoadError::Invalid { rendered, .. } = &e {
                output::eprint(rendered);
            }
            Err(e.into())
        }
    }
}

/// Loads a scenario file, printing its rendered diagnostics when it is invalid.
pub(crate) fn load_scenario(path: &Path) -> Result<Vec<scenario::Run>> {
    match scenario::load(path) {
        Ok(r) => Ok(r),
        Err(e) => {
            if let scenario::ScenarioError::Invalid { rendered, .. } = &e {
                output::eprint(rendered);
            }
            Err(e.into())
        }
    }
}

/// `base` with a scenario run's arguments, environment, stdin and input directories added.
pub(crate) fn with_run(base: &Grants, run: &scenario::Run) -> Grants {
    let mut g = base.clone();
    g.args.truncate(1);
    g.args.extend(run.args.iter().cloned());
    g.env
        .retain(|(k, _)| !run.env.iter().any(|(rk, _)| rk == k));
    g.env.extend(run.env.iter().cloned());
    g.stdin = run.stdin.clone();
    g.preopens.extend(run.inputs.iter().cloned());
    g
}

/// One replayed scenario run, as the JSON report shows it.
#[derive(Serialize)]
struct ReplayJson<'a> {
    name: &'a str,
    expect: String,
    matched: bool,
    #[serde(flatten)]
    run: &'a RunReport,
    stdout: String,
    stderr: String,
    denied: Vec<&'a wasmgate_sandbox_harness::HostCall>,
    crosscheck: &'a CrossCheck,
}

/// `--scenario`: every run, its outcome against the expected one.
fn replay(
    opts: &Opts,
    bytes: &[u8],
    analysis: &Analysis,
    base: &Grants,
    limits: &Limits,
    runs: &[scenario::Run],
) -> Result<u8> {
    let mut results = Vec::new();
    for r in runs {
        let report =
            run_guest(bytes, &with_run(base, r), limits, &Entry::Command).with_context(|| {
                format!(
                    "running {} (scenario run `{}`)",
                    opts.file.display(),
                    r.name
                )
            })?;
        let check = crosscheck_entries(analysis, &report.entries, &report.trace);
        results.push((r, report, check));
    }
    let mismatches = results
        .iter()
        .filter(|(r, rep, _)| !r.expect.matches(&rep.outcome))
        .count();
    match opts.format {
        Format::Human => {
            let mut s = String::new();
            for (r, rep, check) in &results {
                let ok = r.expect.matches(&rep.outcome);
                let _ = writeln!(
                    s,
                    "== run {}: {} (expected {}){}",
                    T(&r.name),
                    T(&rep.outcome.to_string()),
                    T(&r.expect.to_string()),
                    if ok { "" } else { "  MISMATCH" }
                );
                s.push_str(&human(rep, limits, analysis, check));
            }
            let _ = writeln!(
                s,
                "scenario: {} run{}, {} with the expected outcome, {} not",
                results.len(),
                if results.len() == 1 { "" } else { "s" },
                results.len() - mismatches,
                mismatches
            );
            output::print(&s)?;
        }
        Format::Json => {
            let runs: Vec<ReplayJson> = results
                .iter()
                .map(|(r, rep, check)| ReplayJson {
                    name: &r.name,
                    expect: r.expect.to_string(),
                    matched: r.expect.matches(&rep.outcome),
                    run: rep,
                    stdout: String::from_utf8_lossy(&rep.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&rep.stderr).into_owned(),
                    denied: rep.trace.denied().collect(),
                    crosscheck: check,
                })
                .collect();
            output::print_json(&serde_json::json!({
                "schema_version": 1,
                "limits": limits,
                "runs": runs,
                "mismatches": mismatches,
            }))?;
        }
    }
    soundness(results.iter().map(|(_, _, c)| c))?;
    Ok(if mismatches == 0 {
        exit::OK
    } else {
        exit::VIOLATION
    })
}

/// A cross-check miss is an analyzer soundness bug: an internal error (exit 2).
pub(crate) fn soundness<'a>(checks: impl Iterator<Item = &'a CrossCheck>) -> Result<()> {
    let mut names: Vec<String> = checks
        .flat_map(|c| c.missing.iter().map(|m| terminal(m).into_owned()))
        .collect();
    names.sort();
    names.dedup();
    if !names.is_empty() {
        bail!(
            "internal error: analyzer soundness bug: the guest called {} but the analysis \
             says the entry point that ran cannot reach it",
            names.join(", ")
        );
    }
    Ok(())
}

/// The grants and limits a policy's `[sandbox]` gives; nothing without a policy.
pub(crate) fn grants(
    file: &Path,
    args: &[String],
    policy: Option<&ValidPolicy>,
) -> Result<(Grants, LimitsOverride)> {
    // argv[0] is the file name only: the host path is nobody's business.
    let program = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "main.wasm".into());
    let mut g = Grants {
        args: std::iter::once(program)
            .chain(args.iter().cloned())
            .collect(),
        ..Grants::default()
    };
    let Some(p) = policy else {
        return Ok((g, LimitsOverride::default()));
    };
    let s = &p.sandbox;
    for n in &s.network {
        g.network.push(
            n.parse()
                .map_err(|e: String| anyhow::anyhow!("[sandbox] {e}"))?,
        );
    }
    // Preopen paths are relative to the policy file that wrote `[sandbox]`.
    let base: &Path = p
        .sandbox_origin
        .as_ref()
        .and_then(|o| p.sources.get(o.file))
        .and_then(|src| src.path.parent())
        .unwrap_or_else(|| Path::new("."));
    for o in &s.preopens {
        g.preopens.push(PreopenGrant {
            host: base.join(&o.host),
            guest: o.guest.clone(),
            writable: o.mode == Access::Rw,
        });
    }
    for name in &s.env {
        if let Ok(v) = std::env::var(name) {
            g.env.push((name.clone(), v));
        }
    }
    Ok((
        g,
        LimitsOverride {
            fuel: s.fuel,
            memory_bytes: s.memory_bytes,
            time_ms: s.time_ms,
            output_bytes: s.output_bytes,
            ..LimitsOverride::default()
        },
    ))
}

/// Host calls per capability (an import with no capability counts as `none`).
pub(crate) fn by_capability(report: &RunReport, analysis: &Analysis) -> BTreeMap<String, usize> {
    let mut caps: BTreeMap<&str, &[String]> = BTreeMap::new();
    for i in &analysis.imports {
        caps.insert(i.id.as_str(), &i.capabilities);
    }
    let mut out = BTreeMap::new();
    for c in &report.trace.calls {
        match caps.get(c.call.as_str()) {
            Some(cs) if !cs.is_empty() => {
                for cap in cs.iter() {
                    *out.entry(cap.clone()).or_insert(0) += 1;
                }
            }
            _ => *out.entry("none".to_string()).or_insert(0) += 1,
        }
    }
    out
}

/// The human report: outcome, output, host calls by capability, denials, cross-check.
fn human(r: &RunReport, limits: &Limits, analysis: &Analysis, check: &CrossCheck) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "outcome: {}", T(&r.outcome.to_string()));
    if r.end != r.outcome {
        let _ = writeln!(s, "  then: {}", T(&r.end.to_string()));
    }
    if !r.returned.is_empty() {
        let vals: Vec<String> = r.returned.iter().map(|v| v.to_string()).collect();
        let _ = writeln!(s, "returned: {}", T(&vals.join(", ")));
    }
    for p in &r.preopens {
        let mode = if p.writable { "rw" } else { "ro" };
        let _ = writeln!(
            s,
            "preopen {} ({mode}): {} files copied",
            T(&p.guest),
            p.files
        );
        for k in &p.skipped {
            let _ = writeln!(s, "  left out (link or special file): {}", T(k));
        }
        for c in &p.changes {
            let _ = writeln!(s, "  {}", change_line(c));
        }
    }
    for (name, kept, total) in [
        ("stdout", &r.stdout, r.stdout_bytes),
        ("stderr", &r.stderr, r.stderr_bytes),
    ] {
        if total == 0 {
            continue;
        }
        let cut = if total > kept.len() as u64 {
            format!(", cut at {}", limits.output_bytes)
        } else {
            String::new()
        };
        let _ = writeln!(s, "{name}: {total} bytes{cut}");
        for line in String::from_utf8_lossy(kept).lines() {
            let _ = writeln!(s, "  | {}", T(line));
        }
    }
    let _ = writeln!(
        s,
        "host calls: {} (fuel used {}, virtual time {} ms)",
        r.trace.calls.len(),
        r.fuel_used,
        r.virtual_time_ns / 1_000_000
    );
    for (cap, n) in by_capability(r, analysis) {
        let _ = writeln!(s, "  {cap:<16} {n}");
    }
    if !r.network.is_empty() {
        let _ = writeln!(s, "network attempts: {}", r.network.len());
        for n in &r.network {
            let verdict = if n.allowed { "allowed" } else { "DENIED" };
            let _ = writeln!(s, "  {:<12} {} {verdict}", n.use_, T(&n.address));
        }
    }
    let denied: Vec<_> = r.trace.denied().collect();
    if !denied.is_empty() {
        let _ = writeln!(s, "denied attempts: {}", denied.len());
        for c in denied {
            let _ = writeln!(
                s,
                "  #{} {} {} -> {}",
                c.seq,
                T(&c.call),
                T(&c.args.to_string()),
                T(&c.result.to_string())
            );
        }
    }
    if check.missing.is_empty() {
        let _ = writeln!(
            s,
            "cross-check: every import called ({}) was predicted by the analysis",
            check.observed.len()
        );
    } else {
        for m in &check.missing {
            let _ = writeln!(s, "cross-check: NOT PREDICTED: {}", T(m));
        }
    }
    if !check.unobserved_capabilities.is_empty() {
        let _ = writeln!(
            s,
            "  capabilities predicted, not used this run: {}",
            check
                .unobserved_capabilities
                .iter()
                .map(|u| terminal(u).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    s
}

/// `created out/b.txt (file, 13 bytes, sha256 ab12...)`; a changed entry also shows its old
/// size and hash.
pub(crate) fn change_line(c: &FileChange) -> String {
    let what = match c.change {
        ChangeKind::Created => "created",
        ChangeKind::Changed => "changed",
        ChangeKind::Deleted => "deleted",
    };
    let kind = match c.kind {
        EntryKind::File => "file",
        EntryKind::Dir => "directory",
        EntryKind::Link => "symbolic link",
        EntryKind::Other => "special file",
    };
    let mut s = format!("{what} {} ({kind}", T(&c.path));
    if c.kind != EntryKind::Dir {
        s.push_str(&format!(", {} bytes, sha256 {}", c.size, &c.sha256[..16]));
        if let (Some(os), Some(oh)) = (c.old_size, &c.old_sha256) {
            s.push_str(&format!("; was {os} bytes, sha256 {}", &oh[..16]));
        }
    }
    s.push(')');
    s
}
