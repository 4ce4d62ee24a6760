//! Capability reachability for all entry points at once, with witness paths only where they
//! are asked for.
//!
//! Dynamic-linking main modules have tens of thousands of entry points: one witness per
//! (entry point, capability) is close to a million paths. Instead, capability sets come from
//! one pass over the strongly connected components of the followed edges (each component's
//! bits are its members' own capabilities united with those of the components it calls,
//! which Tarjan's algorithm finishes first), and each capability's reverse search
//! ([`CapField`]: distances and next hops, i.e. every node's shortest witness) runs once, the
//! first time a witness for it is wanted. Tarjan runs with an explicit stack: a hostile
//! million-deep call chain must not overflow the thread's stack.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use rayon::prelude::*;

use super::{CapField, Graph, sorted_roots};
use crate::model::{EntryPoint, SharedReach};

/// Capability bits reachable from each strongly connected component.
pub(crate) struct Closure {
    /// 64-bit words per bit set.
    words: usize,
    /// Component of each node.
    comp: Vec<u32>,
    /// `words` words per component.
    bits: Vec<u64>,
}

impl Closure {
    /// Ids of the capabilities reachable from any of `roots`, ascending.
    pub fn caps(&self, roots: &[u32]) -> Vec<u16> {
        let mut acc = vec![0u64; self.words];
        self.union(roots, &mut acc);
        let mut out = Vec::new();
        for (w, &word) in acc.iter().enumerate() {
            let mut x = word;
            while x != 0 {
                out.push((w * 64 + x.trailing_zeros() as usize) as u16);
                x &= x - 1;
            }
        }
        out
    }

    /// Adds the capability bits reachable from any of `roots` to `acc` (`words` long).
    fn union(&self, roots: &[u32], acc: &mut [u64]) {
        for &r in roots {
            let c = self.comp[r as usize] as usize;
            for (a, b) in acc
                .iter_mut()
                .zip(&self.bits[c * self.words..][..self.words])
            {
                *a |= b;
            }
        }
    }
}

/// Per-capability searches, each run on first use and then shared.
pub(crate) struct Fields<'g> {
    graph: &'g Graph,
    fields: Vec<OnceLock<CapField>>,
}

impl<'g> Fields<'g> {
    pub fn new(graph: &'g Graph) -> Self {
        Fields {
            graph,
            fields: (0..graph.core.cap_names.len())
                .map(|_| OnceLock::new())
                .collect(),
        }
    }

    /// The search for capability `c`.
    pub fn get(&self, c: u16) -> &CapField {
        self.fields[c as usize].get_or_init(|| self.graph.core.cap_field(c))
    }

    /// Runs the searches of `caps` in parallel, so that later `get`s never wait on each other.
    pub fn prefetch(&self, caps: impl IntoIterator<Item = u16>) {
        let mut want = vec![false; self.fields.len()];
        for c in caps {
            want[c as usize] = true;
        }
        let want: Vec<u16> = (0..want.len() as u16)
            .filter(|&c| want[c as usize])
            .collect();
        want.par_iter().for_each(|&c| {
            self.get(c);
        });
    }
}

/// One shared witness being gathered: the entry points, and the nearest one so far.
struct Group {
    entries: Vec<u32>,
    /// (distance to the import, entry index) of the entry the witness will start from.
    best: (u32, u32),
}

impl Graph {
    /// The capability closure of every component of the followed edges (iterative Tarjan).
    pub(crate) fn closure(&self) -> Closure {
        let n = self.nodes.len();
        let words = self.core.cap_names.len().div_ceil(64).max(1);
        let mut own = vec![0u64; n * words];
        let mut set = |node: usize, c: u16| own[node * words + c as usize / 64] |= 1 << (c % 64);
        for (node, caps) in self.core.node_caps.iter().enumerate() {
            for &c in caps {
                set(node, c);
            }
        }
        for (node, sites) in self.core.sites.iter().enumerate() {
            for &c in sites.iter().flat_map(|s| &s.caps) {
                set(node, c);
            }
        }

        const UNSEEN: u32 = u32::MAX;
        let mut index = vec![UNSEEN; n];
        let mut low = vec![0u32; n];
        let mut on_stack = vec![false; n];
        let mut comp = vec![UNSEEN; n];
        let mut stack: Vec<u32> = Vec::new();
        // The explicit call stack: (node, position in its successor list).
        let mut calls: Vec<(u32, usize)> = Vec::new();
        let mut bits: Vec<u64> = Vec::new();
        let mut counter = 0u32;
        let mut ncomp = 0u32;
        for start in 0..n {
            if index[start] != UNSEEN {
                continue;
            }
            index[start] = counter;
            low[start] = counter;
            counter += 1;
            stack.push(start as u32);
            on_stack[start] = true;
            calls.push((start as u32, 0));
            while let Some(top) = calls.last_mut() {
                let v = top.0 as usize;
                if let Some(&(w, _)) = self.succ[v].get(top.1) {
                    top.1 += 1;
                    let w = w as usize;
                    if index[w] == UNSEEN {
                        index[w] = counter;
                        low[w] = counter;
                        counter += 1;
                        stack.push(w as u32);
                        on_stack[w] = true;
                        calls.push((w as u32, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                calls.pop();
                if let Some(&(p, _)) = calls.last() {
                    low[p as usize] = low[p as usize].min(low[v]);
                }
                if low[v] != index[v] {
                    continue;
                }
                // `v` roots a component: pop it, then unite its bits with its members' own
                // and with every finished component they call.
                let c = ncomp;
                ncomp += 1;
                let first = stack.iter().rposition(|&x| x as usize == v).unwrap_or(0);
                let mut acc = vec![0u64; words];
                for &m in &stack[first..] {
                    let m = m as usize;
                    on_stack[m] = false;
                    comp[m] = c;
                }
                for &m in &stack[first..] {
                    let m = m as usize;
                    for (a, b) in acc.iter_mut().zip(&own[m * words..][..words]) {
                        *a |= b;
                    }
                    for &(s, _) in &self.succ[m] {
                        let sc = comp[s as usize];
                        if sc != c {
                            let from = &bits[sc as usize * words..][..words];
                            for (a, b) in acc.iter_mut().zip(from) {
                                *a |= b;
                            }
                        }
                    }
                }
                stack.truncate(first);
                bits.extend(acc);
            }
        }
        Closure { words, comp, bits }
    }

    /// Entry points (without per-entry witnesses) and one witness per (capability, import):
    /// for each capability an entry point reaches, the import its shortest witness ends at
    /// names the group it joins; each group's witness starts at its member nearest to the
    /// import (the first in `entry_points` order among equals). Entry points come sorted as
    /// in [`Graph::entry_points`]; groups by capability, then import. Also returns each
    /// entry point's roots in that order, for [`crate::Reachability`].
    ///
    /// One capability at a time: its search lives only while its groups are made, so peak
    /// memory holds one search per thread rather than one per capability.
    pub fn shared_reaches(&self) -> (Vec<EntryPoint>, Vec<SharedReach>, Vec<Vec<u32>>) {
        let mut order: Vec<usize> = (0..self.entries.len()).collect();
        order.sort_by(|&a, &b| {
            let (ea, eb) = (&self.entries[a], &self.entries[b]);
            (ea.1, &ea.0).cmp(&(eb.1, &eb.0))
        });
        let closure = self.closure();
        let words = closure.words;
        // Capability bits of each entry point, `words` per entry, in `order`.
        let mut bits = vec![0u64; order.len() * words];
        for (acc, &i) in bits.chunks_mut(words).zip(&order) {
            closure.union(&self.entries[i].2, acc);
        }
        drop(closure);
        let mut any = vec![0u64; words];
        for acc in bits.chunks(words) {
            for (a, b) in any.iter_mut().zip(acc) {
                *a |= b;
            }
        }
        let names = &self.core.cap_names;
        let mut caps: Vec<u16> = (0..names.len() as u16)
            .filter(|&c| any[c as usize / 64] & (1 << (c % 64)) != 0)
            .collect();
        caps.sort_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
        let shared: Vec<SharedReach> = caps
            .par_iter()
            .map(|&c| self.capability_groups(c, &order, &bits, words))
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect();
        let entries = order
            .iter()
            .map(|&i| {
                let (name, kind, roots) = &self.entries[i];
                EntryPoint {
                    name: name.clone(),
                    kind: *kind,
                    roots: sorted_roots(roots),
                    reaches: Vec::new(),
                    unresolved: false,
                }
            })
            .collect();
        let roots = order.iter().map(|&i| self.entries[i].2.clone()).collect();
        (entries, shared, roots)
    }

    /// The groups of capability `c`, by import name: `bits` holds the capability bits of
    /// the entry points in `order`, `words` each.
    fn capability_groups(
        &self,
        c: u16,
        order: &[usize],
        bits: &[u64],
        words: usize,
    ) -> Vec<SharedReach> {
        let f = self.core.cap_field(c);
        let (word, bit) = (c as usize / 64, 1u64 << (c % 64));
        let mut by_end: HashMap<u32, Group> = HashMap::new();
        for (k, &i) in order.iter().enumerate() {
            if bits[k * words + word] & bit == 0 {
                continue;
            }
            let Some((best, d)) = f.nearest(&self.entries[i].2) else {
                continue;
            };
            let k = k as u32;
            let g = by_end.entry(f.end(best)).or_insert(Group {
                entries: Vec::new(),
                best: (d, k),
            });
            g.entries.push(k);
            g.best = g.best.min((d, k));
        }
        // The same import id may be declared twice (two nodes, one name): one group.
        let mut groups: BTreeMap<&str, Group> = BTreeMap::new();
        for (end, g) in by_end {
            match groups.get_mut(self.nodes[end as usize].name.as_str()) {
                None => {
                    groups.insert(self.nodes[end as usize].name.as_str(), g);
                }
                Some(into) => {
                    into.entries.extend(g.entries);
                    into.entries.sort_unstable();
                    into.best = into.best.min(g.best);
                }
            }
        }
        groups
            .into_values()
            .filter_map(|g| {
                let roots = &self.entries[order[g.best.1 as usize]].2;
                let witness = self.core.witness(c as usize, &f, roots)?;
                Some(SharedReach {
                    entry_points: g.entries,
                    from: g.best.1,
                    witness,
                })
            })
            .collect()
    }
}
