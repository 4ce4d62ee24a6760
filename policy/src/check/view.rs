//! What entry points reach, read alike from both analysis forms.
//!
//! A schema 1 analysis holds every entry point's own witnesses; a schema 2 one holds one
//! witness per (capability, import) and a [`wasmgate_analyzer::Reachability`] that gives a
//! single entry point's own witness on demand. The rules read groups (aggregated findings,
//! import witnesses) or one entry point's reaches (per-entry findings, restrictions, the
//! start function) from here, so an aggregated check of a schema 2 analysis never builds the
//! (entry point x capability) witnesses that make a 75,000-export module expensive.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;

use wasmgate_analyzer::{Analysis, EntryKind, Reach, SCHEMA_VERSION_SHARED};

use crate::witness;

/// The entry points whose shortest witness for one capability ends at one import.
pub(super) struct ReachGroup<'a> {
    pub capability: &'a str,
    pub import: &'a str,
    /// Indices into `Analysis::entry_points`, ascending.
    pub entries: Cow<'a, [u32]>,
    /// The member the witness starts from: the one [`witness::rank`] puts first.
    pub from: usize,
    pub witness: &'a Reach,
}

/// One capability one entry point reaches: its group, and its own witness' length.
#[derive(Clone, Copy)]
pub(super) struct EntryReach {
    pub group: u32,
    pub len: u32,
}

/// Every entry point's reaches in two flat vectors (a vector per entry point costs more
/// than its contents when 65,000 entry points reach a dozen capabilities each).
struct ByEntry {
    /// Entry point `i`'s reaches are `items[start[i]..start[i + 1]]`.
    start: Vec<u32>,
    items: Vec<EntryReach>,
}

pub(super) struct Reaches<'a> {
    a: &'a Analysis,
    bytes: Option<&'a [u8]>,
    /// Sorted by capability, then import.
    pub groups: Vec<ReachGroup<'a>>,
    /// Per entry point, its reaches (by capability); built on first use.
    by_entry: OnceCell<ByEntry>,
}

impl<'a> Reaches<'a> {
    pub fn new(a: &'a Analysis, bytes: Option<&'a [u8]>) -> Self {
        let groups = if a.schema_version == SCHEMA_VERSION_SHARED {
            let mut groups: Vec<ReachGroup<'a>> = a
                .shared_reaches
                .iter()
                .map(|s| ReachGroup {
                    capability: &s.witness.capability,
                    import: &s.witness.import,
                    entries: Cow::Borrowed(&s.entry_points),
                    from: s.from as usize,
                    witness: &s.witness,
                })
                .collect();
            groups.sort_by(|x, y| (x.capability, x.import).cmp(&(y.capability, y.import)));
            groups
        } else {
            let mut by_key: BTreeMap<(&str, &str), (Vec<u32>, usize, &Reach)> = BTreeMap::new();
            for (i, e) in a.entry_points.iter().enumerate() {
                for (cap, r) in witness::by_capability(e) {
                    let g = by_key
                        .entry((cap, r.import.as_str()))
                        .or_insert_with(|| (Vec::new(), i, r));
                    g.0.push(i as u32);
                    if witness::rank((e, r)) < witness::rank((&a.entry_points[g.1], g.2)) {
                        g.1 = i;
                        g.2 = r;
                    }
                }
            }
            by_key
                .into_iter()
                .map(
                    |((capability, import), (entries, from, witness))| ReachGroup {
                        capability,
                        import,
                        entries: Cow::Owned(entries),
                        from,
                        witness,
                    },
                )
                .collect()
        };
        Reaches {
            a,
            bytes,
            groups,
            by_entry: OnceCell::new(),
        }
    }

    /// The order groups' witnesses are chosen in (that of [`witness::rank`]).
    pub fn group_rank(&self, g: usize) -> (usize, &'a str, EntryKind, &'a str) {
        let g = &self.groups[g];
        witness::rank((&self.a.entry_points[g.from], g.witness))
    }

    /// What entry point `i` reaches, one element per capability, by capability.
    pub fn of_entry(&self, i: usize) -> &[EntryReach] {
        let by_entry = self.by_entry.get_or_init(|| {
            let n = self.a.entry_points.len();
            let mut start = vec![0u32; n + 1];
            for g in &self.groups {
                for &e in g.entries.iter().filter(|&&e| (e as usize) < n) {
                    start[e as usize + 1] += 1;
                }
            }
            for i in 0..n {
                start[i + 1] += start[i];
            }
            // Groups in order, so each entry point's reaches come by capability.
            let mut fill: Vec<u32> = start[..n].to_vec();
            let mut items = vec![EntryReach { group: 0, len: 0 }; start[n] as usize];
            for (gi, g) in self.groups.iter().enumerate() {
                for &e in g.entries.iter().filter(|&&e| (e as usize) < n) {
                    let slot = &mut fill[e as usize];
                    items[*slot as usize] = EntryReach {
                        group: gi as u32,
                        len: self.own_len(e as usize, g) as u32,
                    };
                    *slot += 1;
                }
            }
            ByEntry { start, items }
        });
        match (by_entry.start.get(i), by_entry.start.get(i + 1)) {
            (Some(&a), Some(&b)) => &by_entry.items[a as usize..b as usize],
            _ => &[],
        }
    }

    /// The groups entry point `i` is in, in order (so by capability), found by a scan of
    /// the groups rather than [`Self::of_entry`]'s index: for one entry point (the start
    /// function) that index costs a witness length per (entry point, capability).
    pub fn groups_of(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let i = i as u32;
        (0..self.groups.len()).filter(move |&g| self.groups[g].entries.contains(&i))
    }

    /// The length of entry point `i`'s own witness in group `g`.
    fn own_len(&self, i: usize, g: &ReachGroup<'a>) -> usize {
        if i == g.from {
            return witness::length(g.witness);
        }
        match &self.a.reachability {
            Some(r) => r
                .witness_len(i, g.capability)
                .map_or(witness::length(g.witness), |n| n as usize),
            None => self.a.entry_points[i]
                .reaches
                .iter()
                .filter(|r| r.capability == g.capability)
                .map(witness::length)
                .min()
                .unwrap_or(witness::length(g.witness)),
        }
    }

    /// The rank of entry point `i`'s own witness for `r`.
    pub fn rank(&self, i: usize, r: EntryReach) -> (usize, &'a str, EntryKind, &'a str) {
        let e = &self.a.entry_points[i];
        (
            r.len as usize,
            self.groups[r.group as usize].import,
            e.kind,
            e.name.as_str(),
        )
    }

    /// Entry point `i`'s own witness in group `group`: borrowed from the analysis where it is there,
    /// else built by the analysis' reachability (a schema 2 analysis read back from JSON has
    /// none: then the group's witness, which starts at another entry point, stands in).
    pub fn witness(&self, i: usize, group: usize) -> Cow<'a, Reach> {
        let g = &self.groups[group];
        if i == g.from {
            return Cow::Borrowed(g.witness);
        }
        if let Some(own) = self.a.entry_points[i]
            .reaches
            .iter()
            .filter(|x| x.capability == g.capability)
            .min_by_key(|x| (witness::length(x), x.import.as_str()))
        {
            return Cow::Borrowed(own);
        }
        match self
            .a
            .reachability
            .as_ref()
            .and_then(|reach| reach.witness(i, g.capability, self.bytes))
        {
            Some(own) => Cow::Owned(own),
            None => Cow::Borrowed(g.witness),
        }
    }
}
