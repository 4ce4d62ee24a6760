//! Choosing one witness among many. Every report that shows "the" witness for a capability
//! or an import picks it here, with one tie-break: the shortest path, then the import id,
//! then the entry point's name, so human, JSON, SARIF and `policy init` agree.

use std::collections::BTreeMap;

use wasmgate_analyzer::{EntryPoint, Reach};

/// Per key, the reach with the shortest witness among `reaches`.
pub fn shortest_by<'a, K: Ord>(
    reaches: impl IntoIterator<Item = (&'a EntryPoint, &'a Reach)>,
    key: impl Fn(&'a Reach) -> K,
) -> BTreeMap<K, (&'a EntryPoint, &'a Reach)> {
    let mut best: BTreeMap<K, (&EntryPoint, &Reach)> = BTreeMap::new();
    for (e, r) in reaches {
        let slot = best.entry(key(r)).or_insert((e, r));
        if rank((e, r)) < rank(*slot) {
            *slot = (e, r);
        }
    }
    best
}

/// The order witnesses are chosen in: shortest path, then import id, then entry name.
pub fn rank<'a>((e, r): (&'a EntryPoint, &'a Reach)) -> (usize, &'a str, &'a str) {
    (r.path.len(), r.import.as_str(), e.name.as_str())
}

/// Every (entry point, reach) pair of a list of entry points.
pub fn all(entries: &[EntryPoint]) -> impl Iterator<Item = (&EntryPoint, &Reach)> {
    entries
        .iter()
        .flat_map(|e| e.reaches.iter().map(move |r| (e, r)))
}
