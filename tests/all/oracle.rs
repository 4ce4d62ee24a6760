//! An independent completeness oracle: recomputes every entry point's capability set from
//! the JSON call graph alone (roots, followed edges, call sites, node capabilities) and
//! compares it with the analyzer's `reaches` in both directions, then checks each witness.
//!
//! The analyzer searches backwards from each capability; this searches forwards from the
//! roots over strongly connected components, so the two share no code. Run over the corpus
//! fixtures, the C programs, the spec suite, wasm-smith modules and (from `corpus.rs`) the
//! third-party binaries.

use std::collections::{BTreeSet, HashMap, HashSet};

use wasmgate_analyzer::{
    Analysis, CallGraph, CallSite, EntryPoint, Import, NodeKind, Reach, SharedJson, SharedReach,
};

use crate::common::root;

mod descriptors;

/// What one run of the oracle looked at.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub graphs: usize,
    pub entries: usize,
    /// (entry point, capability) pairs compared.
    pub capabilities: usize,
    pub witnesses: usize,
    pub sites: usize,
}

impl Tally {
    pub fn add(&mut self, o: Tally) {
        self.graphs += o.graphs;
        self.entries += o.entries;
        self.capabilities += o.capabilities;
        self.witnesses += o.witnesses;
        self.sites += o.sites;
    }
}

/// Checks every graph of `a` (the module's, or a component's linked graph and each embedded
/// module's) and returns what was checked and every disagreement found.
pub fn check(a: &Analysis) -> (Tally, Vec<String>) {
    let mut tally = Tally::default();
    let mut problems = Vec::new();
    if let Some(m) = &a.module {
        check_graph(
            "",
            &m.call_graph,
            &a.entry_points,
            &a.shared_reaches,
            Some(&a.imports),
            &mut tally,
            &mut problems,
        );
    }
    if let Some(c) = &a.component {
        check_graph(
            "<linked> ",
            &c.call_graph,
            &a.entry_points,
            &a.shared_reaches,
            None,
            &mut tally,
            &mut problems,
        );
        for m in &c.modules {
            check_graph(
                &format!("{} ", m.path),
                &m.module.call_graph,
                &m.entry_points,
                &m.shared_reaches,
                Some(&m.imports),
                &mut tally,
                &mut problems,
            );
        }
    }
    (tally, problems)
}

/// Round-trips `a` through its JSON form first, so that the oracle reads what a tool would
/// (the corpus test calls `check` on its one in-memory analysis of each large binary).
/// Asserts that the oracle finds a problem mentioning `needle` in `a` (a broken analysis).
fn assert_problem(a: &Analysis, needle: &str) {
    let problems = check_json(a).1;
    assert!(problems.iter().any(|p| p.contains(needle)), "{problems:?}");
}

pub fn check_json(a: &Analysis) -> (Tally, Vec<String>) {
    // Schema 2 is written without the (empty) per-entry `reaches`, as `inspect` writes it.
    let json = if a.schema_version == 2 {
        serde_json::to_vec(&SharedJson(a))
    } else {
        serde_json::to_vec(a)
    }
    .expect("serialise");
    let back: Analysis = serde_json::from_slice(&json).expect("the JSON contract reads back");
    check(&back)
}

fn check_graph(
    label: &str,
    g: &CallGraph,
    entries: &[EntryPoint],
    shared: &[SharedReach],
    imports: Option<&[Import]>,
    tally: &mut Tally,
    problems: &mut Vec<String>,
) {
    let mut bad = |m: String| problems.push(format!("{label}{m}"));
    // What each entry point claims to reach, and the witnesses to check from its roots: its
    // own reaches (schema 1), or the shared reaches listing it, whose witnesses start at
    // their `from` entry point (schema 2).
    let mut claimed: Vec<Vec<&Reach>> =
        entries.iter().map(|e| e.reaches.iter().collect()).collect();
    let mut witnessed = claimed.clone();
    for s in shared {
        for &i in &s.entry_points {
            match claimed.get_mut(i as usize) {
                Some(c) => c.push(&s.witness),
                None => bad(format!(
                    "shared reach lists entry point {i}, which does not exist"
                )),
            }
        }
        match witnessed.get_mut(s.from as usize) {
            Some(w) if s.entry_points.contains(&s.from) => w.push(&s.witness),
            _ => bad(format!(
                "shared reach of {} starts at entry point {}, which it does not list",
                s.witness.capability, s.from
            )),
        }
    }
    let n = g.nodes.len();
    for (i, node) in g.nodes.iter().enumerate() {
        if node.id as usize != i {
            bad(format!("node {i} has id {}", node.id));
            return;
        }
    }
    if g.edges
        .iter()
        .any(|&(a, b)| a as usize >= n || b as usize >= n)
        || g.sites
            .iter()
            .any(|s| s.from as usize >= n || s.to as usize >= n)
    {
        bad("an edge or site names a node that does not exist".into());
        return;
    }
    let edge_set: HashSet<(u32, u32)> = g.edges.iter().copied().collect();
    let mut sites_at: HashMap<(u32, u32), Vec<&CallSite>> = HashMap::new();
    for s in &g.sites {
        sites_at.entry((s.from, s.to)).or_default().push(s);
    }
    // A call-site edge is not followed: the site says what the call confers.
    let mut succ: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut followed: HashSet<(u32, u32)> = HashSet::new();
    for &(a, b) in &g.edges {
        if !sites_at.contains_key(&(a, b)) {
            succ[a as usize].push(b);
            followed.insert((a, b));
        }
    }
    // What descriptors may carry, recomputed from the graph (core modules only).
    let dropped = match imports {
        Some(imports) => descriptors::check(g, entries, imports, &succ, &mut bad),
        None => BTreeSet::new(),
    };
    // Import nodes confer what the import table says, less what no descriptor the module
    // can hold carries (core modules; a component's lowers are named differently).
    if let Some(imports) = imports {
        // One id may be imported several times (as a function and as a table, say).
        let mut table: HashMap<&str, Vec<Vec<String>>> = HashMap::new();
        for i in imports
            .iter()
            .filter(|i| i.kind == wasmgate_analyzer::ExternKind::Func)
        {
            let mut caps = i.capabilities.clone();
            if descriptors::is_io(i) {
                caps.retain(|c| !dropped.contains(c.as_str()));
            }
            caps.sort();
            caps.dedup();
            table.entry(i.id.as_str()).or_default().push(caps);
        }
        for node in g.nodes.iter().filter(|n| n.kind == NodeKind::Import) {
            let want = table.get(node.name.as_str());
            if !want.is_some_and(|w| w.contains(&node.capabilities)) {
                bad(format!(
                    "import node {} confers {:?}, the import table says {:?}",
                    node.name, node.capabilities, want
                ));
            }
        }
    }
    for s in &g.sites {
        if !edge_set.contains(&(s.from, s.to)) {
            bad(format!("site {} -> {} is not an edge", s.from, s.to));
        }
        if g.nodes[s.to as usize].kind != NodeKind::Import {
            bad(format!(
                "site {} -> {} does not call an import",
                s.from, s.to
            ));
        }
    }
    tally.sites += g.sites.len();

    // Capability numbering, plus one bit for "reaches the <unresolved> node".
    let mut cap_ids: HashMap<&str, usize> = HashMap::new();
    let mut cap_names: Vec<&str> = Vec::new();
    for c in g
        .nodes
        .iter()
        .flat_map(|n| &n.capabilities)
        .chain(g.sites.iter().flat_map(|s| &s.capabilities))
    {
        if !cap_ids.contains_key(c.as_str()) {
            cap_ids.insert(c.as_str(), cap_names.len());
            cap_names.push(c.as_str());
        }
    }
    let unresolved_bit = cap_names.len();
    let words = (unresolved_bit + 1).div_ceil(64);
    let mut own = vec![0u64; n * words];
    let set =
        |v: &mut [u64], node: usize, bit: usize| v[node * words + bit / 64] |= 1 << (bit % 64);
    for node in &g.nodes {
        for c in &node.capabilities {
            set(&mut own, node.id as usize, cap_ids[c.as_str()]);
        }
        if node.name == "<unresolved>" {
            set(&mut own, node.id as usize, unresolved_bit);
        }
    }
    for s in &g.sites {
        for c in &s.capabilities {
            set(&mut own, s.from as usize, cap_ids[c.as_str()]);
        }
    }
    let closure = closure(&succ, &own, words);

    let mut ids: HashMap<&str, Vec<u32>> = HashMap::new();
    for node in &g.nodes {
        ids.entry(node.name.as_str()).or_default().push(node.id);
    }
    tally.graphs += 1;
    for (k, e) in entries.iter().enumerate() {
        tally.entries += 1;
        if e.roots.is_empty() || e.roots.iter().any(|&r| r as usize >= n) {
            bad(format!("{}: roots {:?} are not nodes", e.name, e.roots));
            continue;
        }
        let mut reached = vec![0u64; words];
        for &r in &e.roots {
            for (w, x) in reached
                .iter_mut()
                .zip(&closure[r as usize * words..][..words])
            {
                *w |= x;
            }
        }
        let has = |bit: usize| reached[bit / 64] >> (bit % 64) & 1 == 1;
        let want: BTreeSet<&str> = (0..cap_names.len())
            .filter(|&b| has(b))
            .map(|b| cap_names[b])
            .collect();
        let got: BTreeSet<&str> = claimed[k].iter().map(|r| r.capability.as_str()).collect();
        tally.capabilities += want.len().max(got.len());
        let missing: Vec<&&str> = want.difference(&got).collect();
        let extra: Vec<&&str> = got.difference(&want).collect();
        if !missing.is_empty() {
            bad(format!("{}: reaches lack {missing:?}", e.name));
        }
        if !extra.is_empty() {
            bad(format!(
                "{}: reaches {extra:?}, which nothing reached confers",
                e.name
            ));
        }
        if e.unresolved != has(unresolved_bit) {
            bad(format!(
                "{}: unresolved is {} but <unresolved> is {}reachable",
                e.name,
                e.unresolved,
                if has(unresolved_bit) { "" } else { "not " }
            ));
        }
        for r in &witnessed[k] {
            tally.witnesses += 1;
            if let Some(d) = witness_defect(g, &ids, &followed, &sites_at, &e.roots, r) {
                bad(format!(
                    "{}: {}: witness {:?}: {d}",
                    e.name, r.capability, r.path
                ));
            }
        }
    }
}

/// Capability bits reachable from each node: the union over its strongly connected
/// component and every component below it (iterative Tarjan, components come out
/// successors first).
fn closure(succ: &[Vec<u32>], own: &[u64], words: usize) -> Vec<u64> {
    let n = succ.len();
    const UNSEEN: u32 = u32::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![UNSEEN; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut comp_bits: Vec<u64> = Vec::new();
    let mut next = 0u32;
    let mut ncomp = 0u32;
    for start in 0..n as u32 {
        if index[start as usize] != UNSEEN {
            continue;
        }
        let mut call: Vec<(u32, usize)> = vec![(start, 0)];
        index[start as usize] = next;
        low[start as usize] = next;
        next += 1;
        stack.push(start);
        on_stack[start as usize] = true;
        while let Some(&mut (v, ref mut i)) = call.last_mut() {
            let vi = v as usize;
            if let Some(&w) = succ[vi].get(*i) {
                *i += 1;
                let wi = w as usize;
                if index[wi] == UNSEEN {
                    index[wi] = next;
                    low[wi] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[wi] = true;
                    call.push((w, 0));
                } else if on_stack[wi] {
                    low[vi] = low[vi].min(index[wi]);
                }
                continue;
            }
            call.pop();
            if let Some(&(p, _)) = call.last() {
                low[p as usize] = low[p as usize].min(low[vi]);
            }
            if low[vi] == index[vi] {
                let c = ncomp;
                ncomp += 1;
                let mut bits = vec![0u64; words];
                let mut members = Vec::new();
                loop {
                    let w = stack.pop().expect("tarjan stack");
                    on_stack[w as usize] = false;
                    comp[w as usize] = c;
                    members.push(w);
                    if w == v {
                        break;
                    }
                }
                for &m in &members {
                    let mi = m as usize;
                    for (b, x) in bits.iter_mut().zip(&own[mi * words..][..words]) {
                        *b |= x;
                    }
                    for &s in &succ[mi] {
                        let sc = comp[s as usize];
                        // Successor components are finished before this one.
                        if sc != c {
                            for (b, x) in bits
                                .iter_mut()
                                .zip(&comp_bits[sc as usize * words..][..words])
                            {
                                *b |= x;
                            }
                        }
                    }
                }
                comp_bits.extend(bits);
            }
        }
    }
    let mut out = vec![0u64; n * words];
    for v in 0..n {
        let c = comp[v] as usize;
        out[v * words..][..words].copy_from_slice(&comp_bits[c * words..][..words]);
    }
    out
}

/// Why `r` is not a witness for its capability from `roots`, if it is not: it must start
/// at a root, follow followed edges (hops next to `...` are not checked), and end at an
/// import that confers the capability, either on arrival or through a call site.
fn witness_defect(
    g: &CallGraph,
    ids: &HashMap<&str, Vec<u32>>,
    followed: &HashSet<(u32, u32)>,
    sites_at: &HashMap<(u32, u32), Vec<&CallSite>>,
    roots: &[u32],
    r: &Reach,
) -> Option<String> {
    let none = Vec::new();
    let names: Vec<&str> = r.path.iter().map(|s| &**s).collect();
    let first = *names.first()?;
    if names.last() != Some(&r.import.as_str()) {
        return Some(format!("does not end at {}", r.import));
    }
    let confers = |id: u32| g.nodes[id as usize].capabilities.contains(&r.capability);
    let mut cur: Vec<u32> = roots
        .iter()
        .copied()
        .filter(|&x| g.nodes[x as usize].name == first)
        .collect();
    if cur.is_empty() {
        return Some("does not start at a root of the entry point".into());
    }
    if names.len() == 1 {
        return (!cur.iter().any(|&x| confers(x)))
            .then(|| "its only node confers nothing".to_string());
    }
    let mut by_site: Vec<&CallSite> = Vec::new();
    for (i, name) in names.iter().enumerate().skip(1) {
        if *name == wasmgate_analyzer::ELIDED {
            continue;
        }
        let cands = ids.get(name).unwrap_or(&none);
        if names[i - 1] == wasmgate_analyzer::ELIDED {
            cur = cands.clone();
            continue;
        }
        let last = i == names.len() - 1;
        let mut nxt = Vec::new();
        for &y in cands {
            let mut ok = false;
            for &x in &cur {
                if followed.contains(&(x, y)) && (!last || confers(y)) {
                    ok = true;
                }
                if last {
                    for s in sites_at.get(&(x, y)).into_iter().flatten() {
                        if s.capabilities.contains(&r.capability) {
                            by_site.push(s);
                            ok = true;
                        }
                    }
                }
            }
            if ok {
                nxt.push(y);
            }
        }
        if nxt.is_empty() {
            return Some(if last {
                format!("the last hop to {name} confers nothing of it")
            } else {
                format!("hop {} -> {name} is not a followed edge", names[i - 1])
            });
        }
        cur = nxt;
    }
    // A witness through a call site names that call.
    if !by_site.is_empty()
        && !cur.iter().any(|&y| confers(y))
        && !by_site.iter().any(|s| Some(s.offset) == r.offset)
    {
        return Some(format!(
            "offset {:?} is not the offset of a call site",
            r.offset
        ));
    }
    None
}

/// Fails when the oracle found problems or checked nothing.
pub fn assert_clean(what: &str, tally: Tally, problems: &[String]) {
    eprintln!("oracle over {what}: {tally:?}");
    assert!(
        problems.is_empty(),
        "oracle over {what}: {} problems:\n{}",
        problems.len(),
        problems
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        tally.entries > 0 && tally.capabilities > 0 && tally.witnesses > 0 && tally.sites > 0,
        "oracle over {what} checked nothing: {tally:?}"
    );
}

#[test]
fn oracle_agrees_on_every_corpus_fixture() {
    let files = crate::common::wat_files(&root().join("corpus/fixtures"));
    let (mut tally, mut problems, mut analysed) = (Tally::default(), Vec::new(), 0);
    for f in &files {
        let name = f.strip_prefix(root()).unwrap().display().to_string();
        let bytes = wat::parse_file(f).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Fixtures of invalid input are the subject of other tests.
        let Ok(a) = wasmgate_analyzer::analyze(&bytes) else {
            continue;
        };
        analysed += 1;
        let (t, p) = check_json(&a);
        tally.add(t);
        problems.extend(p.into_iter().map(|d| format!("{name}: {d}")));
    }
    assert!(
        analysed >= 50,
        "only {analysed} of {} fixtures analysed",
        files.len()
    );
    assert_clean("corpus fixtures", tally, &problems);
}

#[test]
fn oracle_agrees_on_every_c_program() {
    let (mut tally, mut problems, mut count) = (Tally::default(), Vec::new(), 0);
    for f in crate::common::files_with_ext(&root().join("corpus/c"), "wasm") {
        let a = wasmgate_analyzer::analyze(&std::fs::read(&f).unwrap()).unwrap();
        count += 1;
        let (t, p) = check_json(&a);
        tally.add(t);
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        problems.extend(p.into_iter().map(|d| format!("{name}: {d}")));
    }
    // Three programs, each as a module and as a component.
    assert_eq!(count, 6, "C programs and their components");
    assert_clean("C programs", tally, &problems);
}

#[test]
fn oracle_agrees_on_spec_suite_modules() {
    let (mut tally, mut problems) = (Tally::default(), Vec::new());
    let mut analysed = 0;
    for (name, bytes) in crate::spec::valid_modules() {
        let Ok(a) = wasmgate_analyzer::analyze(&bytes) else {
            continue;
        };
        analysed += 1;
        let (t, p) = check_json(&a);
        tally.add(t);
        problems.extend(p.into_iter().map(|d| format!("{name}: {d}")));
    }
    assert!(analysed >= 1000, "only {analysed} spec modules analysed");
    assert_clean(&format!("{analysed} spec-suite modules"), tally, &problems);
}

/// wasm-smith modules checked by the oracle (the property test runs more for panics).
const SMITH_CASES: u64 = 600;

#[test]
fn oracle_agrees_on_wasm_smith_modules() {
    let (mut tally, mut problems) = (Tally::default(), Vec::new());
    for case in 0..SMITH_CASES {
        let seed = 0x0_7ac1e ^ case.wrapping_mul(0x9e37_79b9);
        let wasm = crate::robustness::smith_module(seed);
        let a = wasmgate_analyzer::analyze(&wasm)
            .unwrap_or_else(|e| panic!("seed {seed:#x}: rejected a valid module: {e}"));
        let (t, p) = check_json(&a);
        tally.add(t);
        problems.extend(p.into_iter().map(|d| format!("seed {seed:#x}: {d}")));
    }
    assert_clean("wasm-smith modules", tally, &problems);
}

/// The oracle itself must notice a tampered analysis: a dropped reach, an invented one, a
/// witness that does not start at the entry point, and call sites lost from the graph
/// (then a narrowed call would look like a full one).
#[test]
fn oracle_rejects_tampered_analyses() {
    let bytes =
        wat::parse_file(root().join("corpus/fixtures/callgraph/fd_write_narrowing.wat")).unwrap();
    let clean = wasmgate_analyzer::analyze(&bytes).unwrap();
    assert!(
        check_json(&clean).1.is_empty(),
        "the untouched analysis passes"
    );
    let entry = |a: &mut Analysis, name: &str| -> usize {
        a.entry_points.iter().position(|e| e.name == name).unwrap()
    };

    let mut a = clean.clone();
    let i = entry(&mut a, "both");
    a.entry_points[i].reaches.pop();
    assert_problem(&a, "both: reaches lack");

    let mut a = clean.clone();
    let i = entry(&mut a, "via_helper");
    let mut extra = a.entry_points[i].reaches[0].clone();
    extra.capability = "fs.write".into();
    a.entry_points[i].reaches.push(extra);
    assert_problem(
        &a,
        "via_helper: reaches [\"fs.write\"], which nothing reached",
    );
    // The invented reach reuses a stdio-only path: its witness does not confer fs.write.
    assert_problem(&a, "confers nothing of it");

    let mut a = clean.clone();
    let i = entry(&mut a, "via_helper");
    a.entry_points[i].reaches[0].path[0] = "write_file".into();
    assert_problem(&a, "does not start at a root");

    let mut a = clean.clone();
    a.module.as_mut().unwrap().call_graph.sites.clear();
    assert_problem(&a, "via_helper: reaches lack");
}

fn module_graph(a: &mut Analysis) -> &mut CallGraph {
    &mut a.module.as_mut().unwrap().call_graph
}

/// The descriptor check notices a stated `carry` the producers do not allow, a site that
/// keeps a capability no descriptor carries, and an import node cut by more than `carry`.
#[test]
fn oracle_rejects_tampered_descriptor_facts() {
    let bytes =
        wat::parse_file(root().join("corpus/fixtures/callgraph/descriptors_read_only_open.wat"))
            .unwrap();
    let clean = wasmgate_analyzer::analyze(&bytes).unwrap();
    assert!(
        check_json(&clean).1.is_empty(),
        "the untouched analysis passes"
    );

    let mut a = clean.clone();
    module_graph(&mut a)
        .descriptors
        .as_mut()
        .unwrap()
        .carry
        .push("net.io".into());
    assert_problem(&a, "the reachable producers allow");

    let mut a = clean.clone();
    let g = module_graph(&mut a);
    let write = g
        .nodes
        .iter()
        .position(|n| n.name == "wasi_snapshot_preview1#fd_write")
        .unwrap() as u32;
    let site = g.sites.iter_mut().find(|s| s.to == write).unwrap();
    site.capabilities.push("fs.write".into());
    site.capabilities.sort();
    assert_problem(&a, "which no descriptor carries");

    let mut a = clean.clone();
    let g = module_graph(&mut a);
    let read = g
        .nodes
        .iter_mut()
        .find(|n| n.name == "wasi_snapshot_preview1#fd_read")
        .unwrap();
    read.capabilities.retain(|c| c != "fs.read");
    assert_problem(&a, "import node wasi_snapshot_preview1#fd_read confers");
}
