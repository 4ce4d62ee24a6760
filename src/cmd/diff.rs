//! `wasmgate diff`: behavioural differences, found by running a guest twice over the same
//! copied inputs and comparing what happened.
//!
//! With one file, the capability-minimal run (what the policy grants) is compared with a
//! permissive run (every input directory read-write; never the host's environment or
//! network), which shows what the guest tried to do that the policy stops. With two files,
//! the old and the new version run the same scenario under the policy, and the analyzer's
//! capability sets of both are compared too, so a new capability shows statically (with a
//! witness path) and dynamically (the new host calls).

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::{Value, json};
use wasmgate_analyzer::Analysis;
use wasmgate_escape::{Terminal as T, sarif_text};
use wasmgate_sandbox_harness::crosscheck::{CrossCheck, crosscheck_entries};
use wasmgate_sandbox_harness::{
    Entry, FileChange, Grants, HostCall, Limits, LimitsOverride, RunReport, run as run_guest,
};

use super::run::{
    analyze_apart, change_line, grants, load_policy, load_scenario, soundness, with_run,
};
use crate::{exit, input, output, scenario};

/// Bytes of context shown on each side of the first differing byte of stdout/stderr.
const CONTEXT: usize = 24;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Sarif,
}

/// Compare two runs: the capability-minimal one against a permissive one, or an old
/// version against a new one.
#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  wasmgate diff corpus/c/copy.wasm --policy in-ro.toml -- /in/a.txt /in/b.txt
  wasmgate diff corpus/c/copy.wasm --policy in-ro.toml --scenario copy.scenario.toml
  wasmgate diff old.wasm new.wasm --policy app.toml --scenario app.scenario.toml --format sarif -o diff.sarif
  wasmgate diff old.wasm new.wasm --policy app.toml --compile-cache-dir /var/cache/wasmgate

One FILE: the capability-minimal run (what the policy's [sandbox] grants) against a
permissive run over the same copied inputs, where every directory is read-write. The
permissive run never gets the host's environment (only the variables the policy or the
scenario gives) and no network.
OLD NEW: both versions run the same scenario under the policy, and the static capability
sets of `_start` (and the start function) are compared: capabilities and imports added or
removed, each with a witness path.
Compiled code is cached as for `wasmgate run` (see its --help).

Compared per run: the outcome, stdout and stderr (the first differing byte, with context),
the files created, changed or deleted in each read-write copy, the host-call trace (the
first divergent call, and imports called in one run only), and the denied attempts.

Exit status:
  0  no difference
  1  differences (a run differs, or a capability or import was added or removed)
  2  usage or input error, or an analyzer soundness bug (an import called that the
     analysis did not predict)")]
pub struct Opts {
    /// One .wasm file (minimal vs permissive), or OLD and NEW.
    #[arg(required = true, num_args = 1..=2, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Policy whose [sandbox] section grants directories, environment and limits.
    #[arg(long, short = 'p')]
    pub policy: PathBuf,
    /// Compare every run of this scenario file instead of one run of ARGS.
    #[arg(long, value_name = "S", conflicts_with_all = ["args", "stdin"])]
    pub scenario: Option<PathBuf>,
    /// File whose bytes the guest reads on stdin (default: empty).
    #[arg(long, value_name = "F")]
    pub stdin: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to this file (atomically) instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Fuel per run (about one unit per Wasm instruction).
    #[arg(long)]
    pub fuel: Option<u64>,
    /// Wall-clock limit per run in milliseconds.
    #[arg(long)]
    pub time_ms: Option<u64>,
    /// Arguments after the program name.
    #[arg(last = true)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub compile_cache: crate::cmd::compile_cache::CompileCacheOpts,
}

/// What one side of a comparison did.
#[derive(Serialize, Debug)]
struct Side {
    outcome: String,
    stdout_bytes: u64,
    stderr_bytes: u64,
    host_calls: usize,
    denied: Vec<HostCall>,
    /// Created, changed and deleted entries, per read-write preopen.
    changes: Vec<PreopenChanges>,
}

#[derive(Serialize, Debug)]
struct PreopenChanges {
    guest: String,
    changes: Vec<FileChange>,
}

/// The first byte where two outputs differ.
#[derive(Serialize, Debug)]
struct ByteDiff {
    offset: u64,
    /// Up to [`CONTEXT`] bytes before and after `offset` on each side (lossy UTF-8).
    left: String,
    right: String,
}

/// A file whose change differs between the runs (absent: no change in that run).
#[derive(Serialize, Debug)]
struct FileDiff {
    preopen: String,
    path: String,
    left: Option<FileChange>,
    right: Option<FileChange>,
}

#[derive(Serialize, Debug)]
struct TraceDiff {
    /// Index of the first call that differs (import, arguments or result), or where one
    /// trace ends.
    first: u64,
    left: Option<HostCall>,
    right: Option<HostCall>,
    /// Imports called in one run only.
    only_left: Vec<String>,
    only_right: Vec<String>,
}

/// One run compared.
#[derive(Serialize, Debug)]
struct RunDiff {
    name: String,
    #[serde(skip)]
    line: Option<u32>,
    differs: bool,
    outcome_differs: bool,
    left: Side,
    right: Side,
    #[serde(skip_serializing_if = "Option::is_none")]
    stdout: Option<ByteDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stderr: Option<ByteDiff>,
    files: Vec<FileDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<TraceDiff>,
}

/// A capability reached by one version only, with how.
#[derive(Serialize, Debug)]
struct CapabilityChange {
    capability: String,
    entry: String,
    import: String,
    path: Vec<String>,
}

/// An import declared by one version only.
#[derive(Serialize, Debug)]
struct ImportChange {
    import: String,
    capabilities: Vec<String>,
    /// Call path from an entry point, when the import is reachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    witness: Option<Vec<String>>,
    /// Without a witness: a capability of this import and the other import its witness
    /// goes through (human report only).
    #[serde(skip)]
    witnessed_by: Option<(String, String)>,
}

#[derive(Serialize, Debug, Default)]
struct StaticDiff {
    capabilities_added: Vec<CapabilityChange>,
    capabilities_removed: Vec<CapabilityChange>,
    imports_added: Vec<ImportChange>,
    imports_removed: Vec<ImportChange>,
}

impl StaticDiff {
    fn is_empty(&self) -> bool {
        self.capabilities_added.is_empty()
            && self.capabilities_removed.is_empty()
            && self.imports_added.is_empty()
            && self.imports_removed.is_empty()
    }
}

#[derive(Serialize, Debug)]
struct Report {
    schema_version: u32,
    /// `minimal-vs-permissive` or `old-vs-new`.
    mode: &'static str,
    left: String,
    right: String,
    differs: bool,
    runs: Vec<RunDiff>,
    #[serde(rename = "static", skip_serializing_if = "Option::is_none")]
    static_diff: Option<StaticDiff>,
}

/// One run to make: its name, scenario line and grants.
struct Planned {
    name: String,
    line: Option<u32>,
    grants: Grants,
}

pub fn run(opts: Opts) -> Result<u8> {
    check_usage(&opts)?;
    opts.compile_cache.apply()?;
    let left_path = &opts.files[0];
    let right_path = opts.files.get(1);
    let left_bytes = input::read(left_path)?;
    let left_analysis =
        analyze_apart(&left_bytes).map_err(|e| anyhow::anyhow!("{}: {e}", left_path.display()))?;
    let right = match right_path {
        Some(p) => {
            let b = input::read(p)?;
            let a = analyze_apart(&b).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            Some((b, a))
        }
        None => None,
    };
    let policy = load_policy(Some(&opts.policy))?;
    // argv[0] is the same file name on both sides, so only behaviour differs.
    let (mut base, policy_limits) = grants(left_path, &opts.args, policy.as_ref())?;
    let limits = Limits::default()
        .with(&policy_limits)
        .with(&LimitsOverride {
            fuel: opts.fuel,
            time_ms: opts.time_ms,
            ..LimitsOverride::default()
        });
    let plans = match &opts.scenario {
        Some(s) => load_scenario(s)?
            .iter()
            .map(|r| Planned {
                name: r.name.clone(),
                line: Some(r.line),
                grants: with_run(&base, r),
            })
            .collect(),
        None => {
            if let Some(f) = &opts.stdin {
                base.stdin = scenario::read_text(f, scenario::MAX_STDIN_BYTES)
                    .with_context(|| format!("reading stdin file {}", f.display()))?;
            }
            vec![Planned {
                name: "default".into(),
                line: None,
                grants: base,
            }]
        }
    };

    let mut runs = Vec::new();
    let mut checks: Vec<CrossCheck> = Vec::new();
    for plan in &plans {
        let (l, r) = match &right {
            None => {
                let mut permissive = plan.grants.clone();
                for p in &mut permissive.preopens {
                    p.writable = true;
                }
                (
                    one(&left_bytes, left_path, &plan.grants, &limits, &plan.name)?,
                    one(&left_bytes, left_path, &permissive, &limits, &plan.name)?,
                )
            }
            Some((rb, _)) => (
                one(&left_bytes, left_path, &plan.grants, &limits, &plan.name)?,
                one(rb, &opts.files[1], &plan.grants, &limits, &plan.name)?,
            ),
        };
        checks.push(crosscheck_entries(&left_analysis, &l.entries, &l.trace));
        let right_analysis = right.as_ref().map_or(&left_analysis, |(_, a)| a);
        checks.push(crosscheck_entries(right_analysis, &r.entries, &r.trace));
        runs.push(compare(&plan.name, plan.line, &l, &r));
    }
    let static_diff = right.as_ref().map(|(_, a)| static_diff(&left_analysis, a));
    let differs =
        runs.iter().any(|r| r.differs) || static_diff.as_ref().is_some_and(|s| !s.is_empty());
    let (mode, left, right_label) = match right_path {
        None => ("minimal-vs-permissive", "minimal", "permissive"),
        Some(_) => ("old-vs-new", "old", "new"),
    };
    let report = Report {
        schema_version: 1,
        mode,
        left: left.into(),
        right: right_label.into(),
        differs,
        runs,
        static_diff,
    };
    let text = match opts.format {
        Format::Human => human(&report),
        Format::Json => output::json(&report)?,
        Format::Sarif => output::json(&sarif(&report, &opts))?,
    };
    match &opts.output {
        Some(p) => output::write_atomic(p, text.as_bytes())?,
        None => output::print(&text)?,
    }
    soundness(checks.iter())?;
    Ok(if differs { exit::VIOLATION } else { exit::OK })
}

fn one(
    bytes: &[u8],
    path: &Path,
    grants: &Grants,
    limits: &Limits,
    name: &str,
) -> Result<RunReport> {
    run_guest(bytes, grants, limits, &Entry::Command)
        .with_context(|| format!("running {} (run `{name}`)", path.display()))
}

fn side(r: &RunReport) -> Side {
    Side {
        outcome: r.outcome.to_string(),
        stdout_bytes: r.stdout_bytes,
        stderr_bytes: r.stderr_bytes,
        host_calls: r.trace.calls.len(),
        denied: r.trace.denied().cloned().collect(),
        changes: r
            .preopens
            .iter()
            .filter(|p| p.writable)
            .map(|p| PreopenChanges {
                guest: p.guest.clone(),
                changes: p.changes.clone(),
            })
            .collect(),
    }
}

fn compare(name: &str, line: Option<u32>, l: &RunReport, r: &RunReport) -> RunDiff {
    let outcome_differs = l.outcome != r.outcome || l.end != r.end;
    let stdout = bytes_diff(&l.stdout, l.stdout_bytes, &r.stdout, r.stdout_bytes);
    let stderr = bytes_diff(&l.stderr, l.stderr_bytes, &r.stderr, r.stderr_bytes);
    let files = files_diff(l, r);
    let trace = trace_diff(&l.trace.calls, &r.trace.calls);
    let differs = outcome_differs
        || stdout.is_some()
        || stderr.is_some()
        || !files.is_empty()
        || trace.is_some();
    RunDiff {
        name: name.to_string(),
        line,
        differs,
        outcome_differs,
        left: side(l),
        right: side(r),
        stdout,
        stderr,
        files,
        trace,
    }
}

/// The first differing byte of two outputs (kept bytes, then the counted totals).
fn bytes_diff(a: &[u8], a_total: u64, b: &[u8], b_total: u64) -> Option<ByteDiff> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if common == a.len() && common == b.len() && a_total == b_total {
        return None;
    }
    let ctx = |s: &[u8]| {
        let from = common.saturating_sub(CONTEXT);
        let to = (common + CONTEXT).min(s.len());
        String::from_utf8_lossy(&s[from.min(to)..to]).into_owned()
    };
    Some(ByteDiff {
        offset: common as u64,
        left: ctx(a),
        right: ctx(b),
    })
}

/// Entries whose change (or absence of one) differs between the runs, by preopen.
fn files_diff(l: &RunReport, r: &RunReport) -> Vec<FileDiff> {
    let mut out = Vec::new();
    let guests: BTreeSet<&str> = l
        .preopens
        .iter()
        .chain(&r.preopens)
        .map(|p| p.guest.as_str())
        .collect();
    let changes_of = |rep: &RunReport, g: &str| -> Vec<FileChange> {
        rep.preopens
            .iter()
            .filter(|p| p.guest == g)
            .flat_map(|p| p.changes.iter().cloned())
            .collect()
    };
    for g in guests {
        let (lc, rc) = (changes_of(l, g), changes_of(r, g));
        let paths: BTreeSet<&str> = lc.iter().chain(&rc).map(|c| c.path.as_str()).collect();
        for p in paths {
            let a = lc.iter().find(|c| c.path == p);
            let b = rc.iter().find(|c| c.path == p);
            if a != b {
                out.push(FileDiff {
                    preopen: g.to_string(),
                    path: p.to_string(),
                    left: a.cloned(),
                    right: b.cloned(),
                });
            }
        }
    }
    out
}

fn same_call(a: &HostCall, b: &HostCall) -> bool {
    a.call == b.call && a.args == b.args && a.result == b.result && a.denied == b.denied
}

fn trace_diff(l: &[HostCall], r: &[HostCall]) -> Option<TraceDiff> {
    let first = l.iter().zip(r).take_while(|(a, b)| same_call(a, b)).count();
    if first == l.len() && first == r.len() {
        return None;
    }
    let ids = |t: &[HostCall]| -> BTreeSet<String> { t.iter().map(|c| c.call.clone()).collect() };
    let (li, ri) = (ids(l), ids(r));
    Some(TraceDiff {
        first: first as u64,
        left: l.get(first).cloned(),
        right: r.get(first).cloned(),
        only_left: li.difference(&ri).cloned().collect(),
        only_right: ri.difference(&li).cloned().collect(),
    })
}

/// Capabilities reached from the entry points that run (`_start` and the start function).
fn reached(a: &Analysis) -> Vec<CapabilityChange> {
    let mut out: Vec<CapabilityChange> = Vec::new();
    for e in &a.entry_points {
        let runs = match e.kind {
            wasmgate_analyzer::EntryKind::Start => true,
            wasmgate_analyzer::EntryKind::Export => e.name == "_start",
            wasmgate_analyzer::EntryKind::Escaped => false,
        };
        if !runs {
            continue;
        }
        for r in &e.reaches {
            if !out.iter().any(|c| c.capability == r.capability) {
                out.push(CapabilityChange {
                    capability: r.capability.clone(),
                    entry: e.name.clone(),
                    import: r.import.clone(),
                    path: r.path.iter().map(|s| s.to_string()).collect(),
                });
            }
        }
    }
    out.sort_by(|x, y| x.capability.cmp(&y.capability));
    out
}

fn static_diff(old: &Analysis, new: &Analysis) -> StaticDiff {
    let (o, n) = (reached(old), reached(new));
    let has = |v: &[CapabilityChange], c: &str| v.iter().any(|x| x.capability == c);
    let witness = |a: &Analysis, import: &str| {
        a.entry_points
            .iter()
            .flat_map(|e| &e.reaches)
            .find(|r| r.import == import)
            .map(|r| r.path.iter().map(|s| s.to_string()).collect())
    };
    let imports = |from: &Analysis, other: &Analysis| -> Vec<ImportChange> {
        from.imports
            .iter()
            .filter(|i| !other.imports.iter().any(|j| j.id == i.id))
            .map(|i| ImportChange {
                import: i.id.clone(),
                capabilities: i.capabilities.clone(),
                witness: witness(from, &i.id),
                witnessed_by: from
                    .entry_points
                    .iter()
                    .flat_map(|e| &e.reaches)
                    .find(|r| r.import != i.id && i.capabilities.contains(&r.capability))
                    .map(|r| (r.capability.clone(), r.import.clone())),
            })
            .collect()
    };
    StaticDiff {
        imports_added: imports(new, old),
        imports_removed: imports(old, new),
        capabilities_added: n.into_iter().filter(|c| !has(&o, &c.capability)).collect(),
        capabilities_removed: reached(old)
            .into_iter()
            .filter(|c| !has(&reached(new), &c.capability))
            .collect(),
    }
}

fn human(rep: &Report) -> String {
    let mut s = String::new();
    let (l, r) = (rep.left.as_str(), rep.right.as_str());
    let w = l.len().max(r.len()) + 1;
    for run in &rep.runs {
        let _ = writeln!(
            s,
            "== run {}: {l} vs {r}: {}",
            T(&run.name),
            if run.differs { "DIFFERS" } else { "same" }
        );
        let _ = writeln!(
            s,
            "outcome: {} / {}{}",
            T(&run.left.outcome),
            T(&run.right.outcome),
            if run.outcome_differs {
                "  (differs)"
            } else {
                ""
            }
        );
        for (name, d, lb, rb) in [
            (
                "stdout",
                &run.stdout,
                run.left.stdout_bytes,
                run.right.stdout_bytes,
            ),
            (
                "stderr",
                &run.stderr,
                run.left.stderr_bytes,
                run.right.stderr_bytes,
            ),
        ] {
            match d {
                None => {
                    let _ = writeln!(s, "{name}: same ({lb} bytes)");
                }
                Some(d) => {
                    let _ = writeln!(
                        s,
                        "{name}: differs at byte {} ({l} {lb} bytes, {r} {rb} bytes)",
                        d.offset
                    );
                    let _ = writeln!(s, "  {:<w$} {:?}", format!("{l}:"), T(&d.left).to_string());
                    let _ = writeln!(s, "  {:<w$} {:?}", format!("{r}:"), T(&d.right).to_string());
                }
            }
        }
        if run.files.is_empty() {
            let _ = writeln!(s, "files: same changes");
        }
        for f in &run.files {
            let _ = writeln!(s, "files {}: {}", T(&f.preopen), T(&f.path));
            for (who, c) in [(l, &f.left), (r, &f.right)] {
                let text = c.as_ref().map_or("no change".to_string(), change_line);
                let _ = writeln!(s, "  {:<w$} {text}", format!("{who}:"));
            }
        }
        match &run.trace {
            None => {
                let _ = writeln!(s, "trace: same ({} host calls)", run.left.host_calls);
            }
            Some(t) => {
                let _ = writeln!(
                    s,
                    "trace: first divergent call #{} ({l} {} calls, {r} {} calls)",
                    t.first, run.left.host_calls, run.right.host_calls
                );
                for (who, c) in [(l, &t.left), (r, &t.right)] {
                    let text = c.as_ref().map_or("(trace ended)".to_string(), call_line);
                    let _ = writeln!(s, "  {:<w$} {text}", format!("{who}:"));
                }
                for (who, only) in [(l, &t.only_left), (r, &t.only_right)] {
                    for id in only {
                        let _ = writeln!(s, "  called only in the {who} run: {}", T(id));
                    }
                }
            }
        }
        for (who, side) in [(l, &run.left), (r, &run.right)] {
            if side.denied.is_empty() {
                continue;
            }
            let _ = writeln!(s, "denied attempts ({who}): {}", side.denied.len());
            for c in &side.denied {
                let _ = writeln!(s, "  {}", call_line(c));
            }
        }
    }
    if let Some(st) = &rep.static_diff {
        let _ = writeln!(s, "== static: {l} vs {r} (`_start` and the start function)");
        if st.is_empty() {
            let _ = writeln!(s, "capabilities and imports: same");
        }
        for (what, v) in [
            ("added", &st.capabilities_added),
            ("removed", &st.capabilities_removed),
        ] {
            for c in v {
                let _ = writeln!(
                    s,
                    "capability {what}: {} (via {}: {})",
                    T(&c.capability),
                    T(&c.import),
                    c.path
                        .iter()
                        .map(|p| T(p).to_string())
                        .collect::<Vec<_>>()
                        .join(" -> ")
                );
            }
        }
        for (what, v) in [
            ("added", &st.imports_added),
            ("removed", &st.imports_removed),
        ] {
            for i in v {
                let caps = if i.capabilities.is_empty() {
                    "no capability".to_string()
                } else {
                    i.capabilities
                        .iter()
                        .map(|c| T(c).to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let reach = match &i.witness {
                    Some(p) => format!(
                        "reached: {}",
                        p.iter()
                            .map(|x| T(x).to_string())
                            .collect::<Vec<_>>()
                            .join(" -> ")
                    ),
                    // The analysis keeps one witness per capability: say which import
                    // carries it rather than suggesting this one is unreachable.
                    None => match &i.witnessed_by {
                        Some((cap, via)) => format!(
                            "no witness path of its own: {}'s witness goes through {}",
                            T(cap),
                            T(via)
                        ),
                        None => "no witness path".to_string(),
                    },
                };
                let _ = writeln!(s, "import {what}: {} ({caps}; {reach})", T(&i.import));
            }
        }
    }
    let n = rep.runs.iter().filter(|r| r.differs).count();
    let _ = writeln!(
        s,
        "result: {} (differing runs: {n} of {})",
        if rep.differs {
            "differences found"
        } else {
            "no difference"
        },
        rep.runs.len()
    );
    s
}

fn call_line(c: &HostCall) -> String {
    format!(
        "#{} {} {} -> {}",
        c.seq,
        T(&c.call),
        T(&c.args.to_string()),
        T(&c.result.to_string())
    )
}

/// Rule ids of `rules/checks/` that `diff` reports.
const RULE_RUN: &str = "WG0101";
const RULE_CAPABILITY: &str = "WG0102";
const RULE_IMPORT: &str = "WG0103";

/// A relative path as SARIF wants it: `/`-separated, percent-encoded outside the unreserved
/// set; an absolute path is taken relative to the working directory, else by its file name.
fn uri(path: &Path) -> String {
    let rel = if path.is_absolute() {
        std::env::current_dir()
            .ok()
            .and_then(|d| path.strip_prefix(d).ok().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from(path.file_name().unwrap_or_default()))
    } else {
        path.to_path_buf()
    };
    let p = rel.to_string_lossy().replace('\\', "/");
    let mut out = String::new();
    for b in p.trim_start_matches("./").bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn location(path: &Path, line: u32) -> Value {
    json!({"physicalLocation": {
        "artifactLocation": {"uri": uri(path), "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": line}
    }})
}

fn sarif(rep: &Report, opts: &Opts) -> Value {
    let ids = [RULE_RUN, RULE_CAPABILITY, RULE_IMPORT];
    let rules: Vec<Value> = ids
        .iter()
        .filter_map(|id| wasmgate_policy::rules::find(id))
        .map(|r| {
            json!({
                "id": r.id, "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": r.summary},
                "help": {"text": r.docs, "markdown": r.docs},
                "defaultConfiguration": {"level": r.level.as_str()},
                "properties": {"tags": r.tags, "category": r.category},
            })
        })
        .collect();
    let level = |id: &str| wasmgate_policy::rules::find(id).map_or("warning", |r| r.level.as_str());
    let index = |id: &str| ids.iter().position(|x| *x == id).unwrap_or(0);
    let binary = opts.files.last().unwrap_or(&opts.files[0]);
    let related = json!([{"id": 1, "physicalLocation": {
        "artifactLocation": {"uri": uri(binary), "uriBaseId": "%SRCROOT%"}}}]);
    let mut results = Vec::new();
    let mut result = |id: &str, subject: String, text: String, loc: Value| {
        let fp = format!("{id}:{}:{subject}", uri(binary));
        results.push(json!({
            "ruleId": id, "ruleIndex": index(id), "level": level(id),
            "message": {"text": sarif_text(&text)},
            "locations": [loc],
            "relatedLocations": related,
            "partialFingerprints": {"wasmgateDiff/v1": fp},
        }));
    };
    for run in rep.runs.iter().filter(|r| r.differs) {
        let mut what = Vec::new();
        if run.outcome_differs {
            what.push(format!(
                "outcome {} vs {}",
                run.left.outcome, run.right.outcome
            ));
        }
        if let Some(d) = &run.stdout {
            what.push(format!("stdout from byte {}", d.offset));
        }
        if let Some(d) = &run.stderr {
            what.push(format!("stderr from byte {}", d.offset));
        }
        if !run.files.is_empty() {
            what.push(format!("{} file change(s)", run.files.len()));
        }
        if let Some(t) = &run.trace {
            what.push(format!("trace from call #{}", t.first));
        }
        let denied = run.left.denied.len() + run.right.denied.len();
        let text = format!(
            "Run `{}` differs between the {} and the {} run: {}; {denied} denied attempt(s).",
            run.name,
            rep.left,
            rep.right,
            what.join(", ")
        );
        let loc = match (&opts.scenario, run.line) {
            (Some(s), Some(line)) => location(s, line),
            _ => location(&opts.policy, 1),
        };
        result(RULE_RUN, format!("run:{}", run.name), text, loc);
    }
    if let Some(st) = &rep.static_diff {
        for (what, v) in [
            ("added", &st.capabilities_added),
            ("removed", &st.capabilities_removed),
        ] {
            for c in v {
                let text = format!(
                    "Capability {} {what} in the new version (via {}: {}).",
                    c.capability,
                    c.import,
                    c.path.join(" -> ")
                );
                result(
                    RULE_CAPABILITY,
                    format!("capability:{what}:{}", c.capability),
                    text,
                    location(&opts.policy, 1),
                );
            }
        }
        for (what, v) in [
            ("added", &st.imports_added),
            ("removed", &st.imports_removed),
        ] {
            for i in v {
                let text = format!("Import {} {what} in the new version.", i.import);
                result(
                    RULE_IMPORT,
                    format!("import:{what}:{}", i.import),
                    text,
                    location(&opts.policy, 1),
                );
            }
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "wasmgate",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/wasmgate",
                "rules": rules,
            }},
            "columnKind": "utf16CodeUnits",
            "results": results,
        }]
    })
}

/// Refuses a diff that cannot mean anything (kept out of clap so the message can say why).
pub fn check_usage(opts: &Opts) -> Result<()> {
    if opts.files.len() == 2 && opts.files[0] == opts.files[1] {
        bail!("OLD and NEW are the same file");
    }
    Ok(())
}
