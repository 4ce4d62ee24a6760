//! The capability graph of a report: entry points -> the internal functions that call an
//! import -> imports, drawn from the witnesses (one per entry point and capability).
//!
//! The functions between an entry point and the caller of an import are collapsed into one
//! edge that says how many calls it stands for. Columns are capped ([`MAX_ENTRY_NODES`]...)
//! with an honest "N more" node: a 75,000-export binary gets a picture, not a hairball.
//! The layout is a fixed three-column layered one written here (no layout engine): each
//! node's row is ordered by the mean row of its neighbours on the left, which keeps
//! crossings down and cannot fail on any input.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use wasmgate_analyzer::{Analysis, ELIDED};
use wasmgate_escape::{dot_string, html};

use crate::{clip, thousands};

/// Entry points drawn (those reaching the most capabilities).
pub const MAX_ENTRY_NODES: usize = 15;
/// Internal functions drawn (those in the most witnesses of the drawn entry points).
pub const MAX_INTERNAL_NODES: usize = 25;
/// Imports drawn.
pub const MAX_IMPORT_NODES: usize = 25;

/// Characters of a node label drawn (the JSON keeps the whole name).
const LABEL_CHARS: usize = 36;

/// A node of one column.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct GraphNode {
    /// Entry point name, function name or import id (untrusted).
    pub name: String,
    /// Capabilities (for an import: those it confers; for an entry point: how many it reaches).
    pub detail: String,
}

/// An edge between two columns: `(column, index)` pairs, with the number of calls it stands
/// for (1: a direct call).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GraphEdge {
    /// `[column, index]` of the source (column 0: entry points, 1: internal, 2: imports).
    pub from: (u8, u32),
    /// `[column, index]` of the target.
    pub to: (u8, u32),
    /// Calls collapsed into this edge (shortest among the witnesses it stands for).
    pub calls: u32,
}

/// The picture's data.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    /// Entry points, top to bottom.
    pub entry_points: Vec<GraphNode>,
    /// Internal functions that call an import, top to bottom.
    pub internal: Vec<GraphNode>,
    /// Imports, top to bottom.
    pub imports: Vec<GraphNode>,
    /// Edges, sorted.
    pub edges: Vec<GraphEdge>,
    /// Entry points reaching a capability that are not drawn.
    pub more_entry_points: usize,
    /// Internal functions (callers of imports in the drawn entry points' witnesses) not drawn.
    pub more_internal: usize,
    /// Imports reached by some entry point that are not drawn.
    pub more_imports: usize,
}

/// Keeps the `max` keys with the highest counts (ties by key), and says how many are left.
fn top<'a>(counts: &HashMap<&'a str, usize>, max: usize) -> (Vec<&'a str>, usize) {
    let mut all: Vec<(&str, usize)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let more = all.len().saturating_sub(max);
    (all.into_iter().take(max).map(|(k, _)| k).collect(), more)
}

/// Orders `nodes` by the mean position of their neighbours in `left` (`pos` in 0..1).
fn order_by_neighbours(nodes: &mut [&str], neighbours: &HashMap<&str, Vec<f64>>) {
    let mean = |n: &str| {
        neighbours
            .get(n)
            .filter(|v| !v.is_empty())
            .map_or(2.0, |v| v.iter().sum::<f64>() / v.len() as f64)
    };
    nodes.sort_by(|a, b| mean(a).total_cmp(&mean(b)).then(a.cmp(b)));
}

/// Builds the graph from the witnesses of `a`.
pub fn build(a: &Analysis) -> Graph {
    let reaches = crate::reaches(a);
    // Entry points by how many capabilities they reach.
    let mut per_entry: HashMap<&str, usize> = HashMap::new();
    let mut all_imports: BTreeSet<&str> = BTreeSet::new();
    for (i, r) in &reaches {
        *per_entry.entry(&a.entry_points[*i].name).or_default() += 1;
        all_imports.insert(&r.import);
    }
    let (entries, more_entry_points) = top(&per_entry, MAX_ENTRY_NODES);
    let entry_pos: HashMap<&str, usize> =
        entries.iter().enumerate().map(|(i, e)| (*e, i)).collect();
    // (entry, caller of the import if it is an internal function, import, calls).
    let mut triples: Vec<(&str, Option<&str>, &str, u32)> = Vec::new();
    let mut caps_of: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for (i, r) in &reaches {
        let entry = a.entry_points[*i].name.as_str();
        if !entry_pos.contains_key(entry) {
            continue;
        }
        caps_of.entry(&r.import).or_default().insert(&r.capability);
        let n = r.path.len();
        let caller = (n >= 3).then(|| &*r.path[n - 2]).filter(|c| *c != ELIDED);
        let calls = (n.saturating_sub(1) as u32).saturating_add(r.elided);
        triples.push((entry, caller, &r.import, calls));
    }
    let mut caller_count: HashMap<&str, usize> = HashMap::new();
    let mut import_count: HashMap<&str, usize> = HashMap::new();
    for (_, caller, import, _) in &triples {
        if let Some(c) = caller {
            *caller_count.entry(c).or_default() += 1;
        }
        *import_count.entry(import).or_default() += 1;
    }
    let (mut internal, more_internal) = top(&caller_count, MAX_INTERNAL_NODES);
    let (mut imports, _) = top(&import_count, MAX_IMPORT_NODES);
    let more_imports = all_imports.len() - imports.len();
    let scale = |i: usize, n: usize| {
        if n <= 1 {
            0.5
        } else {
            i as f64 / (n - 1) as f64
        }
    };
    // Internal functions ordered by their entry points' rows.
    let mut left: HashMap<&str, Vec<f64>> = HashMap::new();
    for (e, caller, _, _) in &triples {
        if let Some(c) = caller {
            left.entry(c)
                .or_default()
                .push(scale(entry_pos[e], entries.len()));
        }
    }
    order_by_neighbours(&mut internal, &left);
    let internal_pos: HashMap<&str, usize> =
        internal.iter().enumerate().map(|(i, e)| (*e, i)).collect();
    // Imports by their callers' rows (or the entry point's, when the caller is not drawn).
    let mut left: HashMap<&str, Vec<f64>> = HashMap::new();
    for (e, caller, import, _) in &triples {
        let y = match caller.and_then(|c| internal_pos.get(c)) {
            Some(&i) => scale(i, internal.len()),
            None => scale(entry_pos[e], entries.len()),
        };
        left.entry(import).or_default().push(y);
    }
    order_by_neighbours(&mut imports, &left);
    let import_pos: HashMap<&str, usize> =
        imports.iter().enumerate().map(|(i, e)| (*e, i)).collect();
    // Edges, keeping the fewest calls each stands for.
    // ((column, index) from, (column, index) to) -> calls.
    type Node = (u8, u32);
    let mut edges: BTreeMap<(Node, Node), u32> = BTreeMap::new();
    let mut add = |from: (u8, u32), to: (u8, u32), calls: u32| {
        let c = edges.entry((from, to)).or_insert(calls);
        *c = (*c).min(calls);
    };
    for (e, caller, import, calls) in &triples {
        let from = (0, entry_pos[e] as u32);
        let to_import = import_pos.get(import).map(|&i| (2, i as u32));
        match caller.and_then(|c| internal_pos.get(c)) {
            Some(&c) => {
                add(from, (1, c as u32), calls.saturating_sub(1).max(1));
                if let Some(to) = to_import {
                    add((1, c as u32), to, 1);
                }
            }
            None => {
                if let Some(to) = to_import {
                    add(from, to, *calls);
                }
            }
        }
    }
    let node = |name: &str, detail: String| GraphNode {
        name: name.to_string(),
        detail,
    };
    Graph {
        entry_points: entries
            .iter()
            .map(|e| {
                let n = per_entry[e];
                node(
                    e,
                    format!("{n} capabilit{}", if n == 1 { "y" } else { "ies" }),
                )
            })
            .collect(),
        internal: internal.iter().map(|c| node(c, String::new())).collect(),
        imports: imports
            .iter()
            .map(|i| {
                let caps: Vec<&str> = caps_of
                    .get(i)
                    .map(|c| c.iter().copied().collect())
                    .unwrap_or_default();
                node(i, caps.join(", "))
            })
            .collect(),
        edges: edges
            .into_iter()
            .map(|((from, to), calls)| GraphEdge { from, to, calls })
            .collect(),
        more_entry_points,
        more_internal,
        more_imports,
    }
}

const COL_W: u32 = 270;
const GAP: u32 = 70;
const ROW_H: u32 = 40;
const BOX_H: u32 = 32;
const TOP: u32 = 34;

fn column_x(col: u8) -> u32 {
    10 + u32::from(col) * (COL_W + GAP)
}

fn row_y(row: usize) -> u32 {
    TOP + row as u32 * ROW_H
}

impl Graph {
    fn columns(&self) -> [(&[GraphNode], usize, &'static str); 3] {
        [
            (&self.entry_points, self.more_entry_points, "entry points"),
            (&self.internal, self.more_internal, "internal functions"),
            (&self.imports, self.more_imports, "imports"),
        ]
    }

    /// True when no entry point reaches a capability.
    pub fn is_empty(&self) -> bool {
        self.entry_points.is_empty()
    }

    /// The picture as a standalone inline SVG element (no script, no external reference);
    /// it scales down to the page width.
    pub fn svg(&self) -> String {
        let rows = self
            .columns()
            .iter()
            .map(|(n, more, _)| n.len() + usize::from(*more > 0))
            .max()
            .unwrap_or(0)
            .max(1);
        let width = column_x(2) + COL_W + 10;
        let height = row_y(rows) + 8;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"graph\" viewBox=\"0 0 {width} {height}\" \
             width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"capability graph\" \
             font-family=\"ui-monospace, Menlo, Consolas, monospace\" font-size=\"11\">"
        );
        s.push_str(
            "<defs><marker id=\"arrow\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" \
             markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" \
             fill=\"#667\"/></marker></defs>\n",
        );
        for (col, (_, _, title)) in self.columns().iter().enumerate() {
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"18\" font-weight=\"bold\" font-size=\"12\">{title}</text>",
                column_x(col as u8)
            );
        }
        if self.is_empty() {
            let _ = writeln!(
                s,
                "<text x=\"10\" y=\"{}\">No entry point reaches a capability.</text>",
                row_y(0) + 20
            );
        }
        for e in &self.edges {
            let (x1, y1) = (
                column_x(e.from.0) + COL_W,
                row_y(e.from.1 as usize) + BOX_H / 2,
            );
            let (x2, y2) = (column_x(e.to.0), row_y(e.to.1 as usize) + BOX_H / 2);
            let mid = (x1 + x2) / 2;
            let dash = if e.calls > 1 {
                " stroke-dasharray=\"4 3\""
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "<path d=\"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}\" fill=\"none\" \
                 stroke=\"#667\" stroke-width=\"1\"{dash} marker-end=\"url(#arrow)\">\
                 <title>{} call{}</title></path>",
                e.calls,
                if e.calls == 1 { "" } else { "s" }
            );
        }
        const FILL: [&str; 3] = ["#dbeafe", "#f1f5f9", "#ffedd5"];
        const STROKE: [&str; 3] = ["#2563eb", "#64748b", "#ea580c"];
        for (col, (nodes, more, title)) in self.columns().iter().enumerate() {
            let x = column_x(col as u8);
            for (row, n) in nodes.iter().enumerate() {
                let y = row_y(row);
                let _ = writeln!(
                    s,
                    "<g><title>{}</title><rect x=\"{x}\" y=\"{y}\" width=\"{COL_W}\" \
                     height=\"{BOX_H}\" rx=\"4\" fill=\"{}\" stroke=\"{}\"/>\
                     <text x=\"{}\" y=\"{}\">{}</text>",
                    html(&n.name),
                    FILL[col],
                    STROKE[col],
                    x + 6,
                    y + if n.detail.is_empty() { 20 } else { 13 },
                    html(&clip(&n.name, LABEL_CHARS))
                );
                if !n.detail.is_empty() {
                    let _ = write!(
                        s,
                        "<text x=\"{}\" y=\"{}\" fill=\"#475569\" font-size=\"10\">{}</text>",
                        x + 6,
                        y + 26,
                        html(&clip(&n.detail, LABEL_CHARS + 6))
                    );
                }
                s.push_str("</g>\n");
            }
            if *more > 0 {
                let y = row_y(nodes.len());
                let _ = writeln!(
                    s,
                    "<g><rect x=\"{x}\" y=\"{y}\" width=\"{COL_W}\" height=\"{BOX_H}\" rx=\"4\" \
                     fill=\"#fff\" stroke=\"#94a3b8\" stroke-dasharray=\"3 3\"/>\
                     <text x=\"{}\" y=\"{}\" font-style=\"italic\">{} more {title}</text></g>",
                    x + 6,
                    y + 20,
                    thousands(*more)
                );
            }
        }
        s.push_str("</svg>\n");
        s
    }

    /// The picture as Graphviz DOT (every name through [`dot_string`]).
    pub fn dot(&self) -> String {
        let mut s = String::from(
            "digraph capabilities {\n  rankdir=LR;\n  node [shape=box, fontname=monospace];\n",
        );
        const PREFIX: [&str; 3] = ["e", "f", "i"];
        for (col, (nodes, more, title)) in self.columns().iter().enumerate() {
            for (row, n) in nodes.iter().enumerate() {
                let label = if n.detail.is_empty() {
                    n.name.clone()
                } else {
                    format!("{} [{}]", n.name, n.detail)
                };
                let _ = writeln!(s, "  {}{row} [label={}];", PREFIX[col], dot_string(&label));
            }
            if *more > 0 {
                let _ = writeln!(
                    s,
                    "  {}more [label=\"{} more {title}\", style=dashed];",
                    PREFIX[col],
                    thousands(*more)
                );
            }
        }
        for e in &self.edges {
            let style = if e.calls > 1 {
                format!(" [style=dashed, label=\"{} calls\"]", e.calls)
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "  {}{} -> {}{}{style};",
                PREFIX[e.from.0 as usize], e.from.1, PREFIX[e.to.0 as usize], e.to.1
            );
        }
        s.push_str("}\n");
        s
    }
}
