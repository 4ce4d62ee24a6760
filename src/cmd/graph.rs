//! `wasmgate graph`: the call graph as Graphviz DOT or JSON.

use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use wasmgate_analyzer::{Analysis, CallGraph, CallSite, CoreModule, Export, ExternKind, Node};
use wasmgate_escape::dot_string;

use crate::{exit, input, output};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Dot,
    Json,
}

/// Print the call graph (functions, imports, indirect-dispatch nodes, unknown host).
#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  wasmgate graph corpus/c/copy.wasm --export _start | dot -Tsvg > copy.svg
  wasmgate graph --format json app.wasm
  wasmgate graph component.wasm                  # linked graph across core instances
  wasmgate graph component.wasm --module module[0]

Node kinds: `function`, `import` (`<module>#<name>`), `dispatch` (`table[T]:type[N]` for
call_indirect, `ref:type[N]` for call_ref, `table[T]:invoke_*` for Emscripten trampolines)
and `<unknown-host>` (host functions reachable through host-visible references).

Exit status:
  0  printed
  2  usage or input error")]
pub struct Opts {
    /// The .wasm file; `-` reads standard input.
    pub file: PathBuf,
    /// Keep only what this exported function can reach.
    #[arg(long)]
    pub export: Option<String>,
    /// For components: show this embedded core module's own graph (e.g. `module[0]`)
    /// instead of the linked component graph.
    #[arg(long)]
    pub module: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    pub format: Format,
    #[command(flatten)]
    pub analysis: crate::cmd::AnalysisOpts,
}

#[derive(Serialize)]
struct GraphOut<'a> {
    module: String,
    nodes: Vec<&'a Node>,
    edges: Vec<(u32, u32)>,
    /// Direct calls to imports with the capabilities narrowed there (see the JSON contract).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sites: Vec<&'a CallSite>,
}

#[derive(Serialize)]
struct Out<'a> {
    schema_version: u32,
    graphs: Vec<GraphOut<'a>>,
}

pub fn run(opts: Opts) -> Result<u8> {
    let analysis = input::analyze(&opts.file, opts.analysis.options())?;
    let mut graphs = Vec::new();
    match (&analysis.component, &opts.module) {
        // A component without `--module`: the linked graph across all its core instances.
        (Some(c), None) => {
            if opts.export.is_some() {
                bail!("--export applies to core modules; for a component pick one with --module");
            }
            graphs.push(GraphOut {
                module: "<linked>".into(),
                nodes: c.call_graph.nodes.iter().collect(),
                edges: c.call_graph.edges.clone(),
                sites: c.call_graph.sites.iter().collect(),
            });
        }
        _ => {
            let modules = modules(&analysis);
            let (path, module, exports) = match &opts.module {
                Some(want) => modules.iter().find(|(p, _, _)| p == want).ok_or_else(|| {
                    let known: Vec<&str> = modules.iter().map(|(p, _, _)| p.as_str()).collect();
                    anyhow::anyhow!("no embedded module `{want}`; known: {}", known.join(", "))
                })?,
                None => &modules[0],
            };
            let g = &module.call_graph;
            let keep = match &opts.export {
                Some(name) => {
                    let Some(e) = exports
                        .iter()
                        .find(|e| &e.name == name && e.kind == ExternKind::Func)
                    else {
                        bail!("no exported function `{name}`");
                    };
                    Some(reachable(g, e.index))
                }
                None => None,
            };
            let nodes = g
                .nodes
                .iter()
                .filter(|n| keep.as_ref().is_none_or(|k| k.contains(&n.id)))
                .collect();
            let edges = g
                .edges
                .iter()
                .copied()
                .filter(|(a, b)| keep.as_ref().is_none_or(|k| k.contains(a) && k.contains(b)))
                .collect();
            let sites = g
                .sites
                .iter()
                .filter(|c| keep.as_ref().is_none_or(|k| k.contains(&c.from)))
                .collect();
            graphs.push(GraphOut {
                module: path.clone(),
                nodes,
                edges,
                sites,
            });
        }
    }
    let text = match opts.format {
        Format::Json => output::json(&Out {
            schema_version: wasmgate_analyzer::SCHEMA_VERSION,
            graphs,
        })?,
        Format::Dot => dot(&graphs),
    };
    output::print(&text)?;
    Ok(exit::OK)
}

/// `(path, module, exports)` for the top-level module or every embedded one.
fn modules(a: &Analysis) -> Vec<(String, &CoreModule, &[Export])> {
    if let Some(m) = &a.module {
        return vec![(String::new(), m, &a.exports)];
    }
    a.component
        .iter()
        .flat_map(|c| {
            c.modules
                .iter()
                .map(|m| (m.path.clone(), &m.module, m.exports.as_slice()))
        })
        .collect()
}

fn reachable(g: &CallGraph, root: u32) -> BTreeSet<u32> {
    let mut succ: Vec<Vec<u32>> = vec![Vec::new(); g.nodes.len()];
    for &(a, b) in &g.edges {
        succ[a as usize].push(b);
    }
    let mut seen = BTreeSet::from([root]);
    let mut queue = VecDeque::from([root]);
    while let Some(n) = queue.pop_front() {
        for &m in &succ[n as usize] {
            if seen.insert(m) {
                queue.push_back(m);
            }
        }
    }
    seen
}

fn dot(graphs: &[GraphOut<'_>]) -> String {
    let mut s =
        String::from("digraph wasmgate {\n  rankdir=LR;\n  node [fontname=\"monospace\"];\n");
    for (gi, g) in graphs.iter().enumerate() {
        let indent = if graphs.len() > 1 { "    " } else { "  " };
        if graphs.len() > 1 {
            let _ = writeln!(
                s,
                "  subgraph cluster_{gi} {{\n    label={};",
                dot_string(&g.module)
            );
        }
        for n in &g.nodes {
            let shape = match n.kind {
                wasmgate_analyzer::NodeKind::Function => "box",
                wasmgate_analyzer::NodeKind::Import => "ellipse",
                wasmgate_analyzer::NodeKind::Dispatch => "diamond",
                wasmgate_analyzer::NodeKind::UnknownHost => "octagon",
            };
            let _ = writeln!(
                s,
                "{indent}n{gi}_{} [label={}, shape={shape}];",
                n.id,
                dot_string(&n.name)
            );
        }
        for (a, b) in &g.edges {
            let _ = writeln!(s, "{indent}n{gi}_{a} -> n{gi}_{b};");
        }
        if graphs.len() > 1 {
            s.push_str("  }\n");
        }
    }
    s.push_str("}\n");
    s
}
