//! `wasmgate inspect`: what a binary is, what it imports, and what each entry point can reach.

use std::borrow::Cow;
use std::fmt::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use wasmgate_analyzer::{Analysis, BinaryKind, EntryPoint, SharedJson, Witnesses};
use wasmgate_escape::{Terminal as T, join_terminal, terminal};
use wasmgate_policy::demangle::demangle;

use crate::{exit, input, output};

pub use super::HumanJson as Format;

/// Show a binary's structure, imports with capabilities, and what each entry point reaches.
#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  wasmgate inspect corpus/c/copy.wasm
  wasmgate inspect --format json app.wasm | jq '.shared_reaches[].witness.capability'
  wasmgate inspect --format json --per-entry app.wasm | jq '.entry_points[].reaches[]'
  cat app.wasm | wasmgate inspect -

The JSON shape is versioned by `schema_version` and documented in the README. By default
(schema 2, one line) each (capability, import) has one shortest witness, listing the
entry points that share it; `--per-entry` (schema 1, indented) gives each entry point its
own witness per capability, which on a module with tens of thousands of exports is
hundreds of megabytes.

Exit status:
  0  analysed
  2  usage or input error (malformed Wasm: the message gives the byte offset)")]
pub struct Opts {
    /// The .wasm file (core module or component); `-` reads standard input.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    #[command(flatten)]
    pub analysis: crate::cmd::AnalysisOpts,
    /// JSON: schema 1, one witness per (entry point, capability), instead of schema 2's one
    /// per (capability, import).
    #[arg(long)]
    pub per_entry: bool,
}

pub fn run(opts: Opts) -> Result<u8> {
    let shared = matches!(opts.format, Format::Json) && !opts.per_entry;
    let mut options = opts.analysis.options();
    if shared {
        options.witnesses = Witnesses::Shared;
    }
    let analysis = input::analyze(&opts.file, options)?;
    match opts.format {
        Format::Json if shared => output::print_json_compact(&SharedJson(&analysis))?,
        Format::Json => output::print_json(&analysis)?,
        Format::Human => output::print(&human(&opts.file.display().to_string(), &analysis))?,
    }
    // The process ends here: freeing a large analysis piece by piece is wasted time.
    std::mem::forget(analysis);
    Ok(exit::OK)
}

/// The human report. Kept deterministic so it can be snapshotted.
pub fn human(file: &str, a: &Analysis) -> String {
    let mut s = String::new();
    let kind = match a.kind {
        BinaryKind::Module => "core module",
        BinaryKind::Component => "component",
    };
    let _ = writeln!(
        s,
        "{}: {kind}, {} bytes, sha256 {}",
        T(file),
        a.size,
        a.sha256
    );
    if let Some(m) = &a.module {
        if !m.producers.is_empty() {
            let p: Vec<String> = m
                .producers
                .iter()
                .map(|p| {
                    format!("{} {} {}", T(&p.field), T(&p.name), T(&p.version))
                        .trim_end()
                        .to_string()
                })
                .collect();
            let _ = writeln!(s, "producers: {}", p.join("; "));
        }
        let _ = writeln!(
            s,
            "functions: {} ({} imported), tables: {}, memories: {}, globals: {}",
            m.functions.len(),
            m.functions.iter().filter(|f| f.import.is_some()).count(),
            m.tables.len(),
            m.memories.len(),
            m.globals.len()
        );
        if !m.features.is_empty() {
            let _ = writeln!(s, "features: {}", m.features.join(", "));
        }
    }
    if let Some(c) = &a.component {
        let _ = writeln!(
            s,
            "embedded core modules: {}, nested components: {}",
            c.modules.len(),
            c.components.len()
        );
        for m in &c.modules {
            let _ = writeln!(
                s,
                "  {}: {} bytes at offset {}, {} imports, {} exports",
                m.path,
                m.module.size,
                m.module.offset,
                m.imports.len(),
                m.exports.len()
            );
        }
    }
    if let Some(wit) = a.component.as_ref().and_then(|c| c.wit.as_deref()) {
        let _ = writeln!(s, "\nWIT world:");
        for line in wit.lines() {
            let _ = writeln!(s, "  {}", T(line));
        }
    }
    for w in &a.warnings {
        let _ = writeln!(s, "warning: {}", T(w));
    }
    let _ = writeln!(s, "\nimports ({}):", a.imports.len());
    for i in &a.imports {
        let caps = if i.capabilities.is_empty() {
            "-".to_string()
        } else {
            i.capabilities.join(", ")
        };
        let _ = writeln!(
            s,
            "  {:<56} {:<6} {caps}",
            T(&i.id),
            format!("{:?}", i.kind).to_lowercase()
        );
    }
    let _ = writeln!(s, "\nexports ({}):", a.exports.len());
    for e in &a.exports {
        let _ = writeln!(
            s,
            "  {:<56} {}",
            T(&e.name),
            format!("{:?}", e.kind).to_lowercase()
        );
    }
    if !a.unreachable_imports.is_empty() {
        let _ = writeln!(
            s,
            "\ndeclared but unreachable imports ({}):",
            a.unreachable_imports.len()
        );
        for id in &a.unreachable_imports {
            let _ = writeln!(s, "  {}", T(id));
        }
    }
    let _ = writeln!(s, "\nentry points ({}):", a.entry_points.len());
    // Dynamic-linking main modules export tens of thousands of functions: past a screenful,
    // list capabilities only and leave witnesses to the JSON.
    let witnesses = a.entry_points.len() <= MAX_WITNESSED_ENTRIES;
    for e in &a.entry_points {
        entry(&mut s, e, witnesses);
    }
    if !witnesses {
        let _ = writeln!(
            s,
            "(witness paths omitted for {} entry points; see --format json)",
            a.entry_points.len()
        );
    }
    s
}

/// Entry points beyond which the human report omits witness paths.
const MAX_WITNESSED_ENTRIES: usize = 64;

fn entry(s: &mut String, e: &EntryPoint, witnesses: bool) {
    let kind = format!("{:?}", e.kind).to_lowercase();
    let note = if e.unresolved {
        ", unresolved: assumes every import is reachable"
    } else {
        ""
    };
    let mut caps: Vec<&str> = e.reaches.iter().map(|r| r.capability.as_str()).collect();
    caps.dedup();
    let summary = if caps.is_empty() {
        "no capabilities".to_string()
    } else {
        terminal(&caps.join(", ")).into_owned()
    };
    let name = match demangle(&e.name) {
        Some(d) => format!("{} ({})", e.name, d),
        None => e.name.clone(),
    };
    let _ = writeln!(s, "  {} ({kind}{note}): {summary}", T(&name));
    if !witnesses {
        return;
    }
    let mut last = "";
    for r in &e.reaches {
        // One witness per capability in the human view; JSON has one per (capability, import).
        if r.capability == last {
            continue;
        }
        last = &r.capability;
        let readable: Vec<Cow<str>> = r
            .path
            .iter()
            .map(|n| demangle(n).map_or(Cow::Borrowed(&**n), Cow::Owned))
            .collect();
        let _ = writeln!(
            s,
            "    {:<16} {}",
            T(&r.capability),
            join_terminal(&readable, " -> ")
        );
    }
}
