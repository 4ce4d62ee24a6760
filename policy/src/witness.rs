//! Choosing one witness among many. Every report that shows "the" witness for a capability
//! or an import picks it here, with one tie-break: the shortest path, then the import id,
//! then the entry point's kind and name (the order of `Analysis::entry_points`), so human,
//! JSON, SARIF and `policy init` agree, and a schema 2 analysis' shared witnesses are the
//! ones chosen from its per-entry form.

use std::collections::BTreeMap;

use wasmgate_analyzer::{EntryKind, EntryPoint, Reach};

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

/// Nodes on a witness, counting those an elided path leaves out (so that two long paths
/// compare by their real length, not by the printed one).
pub fn length(r: &Reach) -> usize {
    r.path.len() + r.elided as usize - usize::from(r.elided > 0)
}

/// The order witnesses are chosen in: shortest path, then import id, then entry kind and
/// name.
pub fn rank<'a>((e, r): (&'a EntryPoint, &'a Reach)) -> (usize, &'a str, EntryKind, &'a str) {
    (length(r), r.import.as_str(), e.kind, e.name.as_str())
}

/// Every (entry point, reach) pair of a list of entry points.
pub fn all(entries: &[EntryPoint]) -> impl Iterator<Item = (&EntryPoint, &Reach)> {
    entries
        .iter()
        .flat_map(|e| e.reaches.iter().map(move |r| (e, r)))
}

/// Per capability, the entry point's reach with the shortest witness.
pub fn by_capability(e: &EntryPoint) -> BTreeMap<&str, &Reach> {
    shortest_by(e.reaches.iter().map(|r| (e, r)), |r| r.capability.as_str())
        .into_iter()
        .map(|(cap, (_, r))| (cap, r))
        .collect()
}
