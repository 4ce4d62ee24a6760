//! Per-entry witnesses of a schema 2 analysis, built only when asked for.
//!
//! [`crate::Witnesses::Shared`] keeps one witness per (capability, import). A reader that
//! needs the witness of one particular entry point (a policy check of a restricted export, of
//! the start function) gets it here, from the same searches as
//! [`crate::Witnesses::PerEntry`] and with the same result, without anything materialising
//! the witnesses of every other (entry point, capability) pair.

use std::sync::OnceLock;

use crate::graph::{CapField, Core};
use crate::model::Reach;

/// What the capability searches of one analysed graph read, kept beside a schema 2
/// [`crate::Analysis`] (in memory only; see [`crate::Analysis::reachability`]).
pub struct Reachability {
    core: Core,
    /// Each entry point's roots, in `Analysis::entry_points` order and in the order the
    /// searches read them (ties between equally near roots go to the first).
    roots: Vec<Vec<u32>>,
    /// Each capability's search, run on first use.
    fields: Vec<OnceLock<CapField>>,
}

impl std::fmt::Debug for Reachability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reachability")
            .field("entry_points", &self.roots.len())
            .finish_non_exhaustive()
    }
}

impl Reachability {
    pub(crate) fn new(core: Core, roots: Vec<Vec<u32>>) -> Self {
        let fields = (0..core.capability_count())
            .map(|_| OnceLock::new())
            .collect();
        Reachability {
            core,
            roots,
            fields,
        }
    }

    fn field(&self, capability: &str) -> Option<(u16, &CapField)> {
        let c = self.core.capability_id(capability)?;
        Some((
            c,
            self.fields[c as usize].get_or_init(|| self.core.cap_field(c)),
        ))
    }

    /// Nodes on the shortest witness from entry point `entry` (its index in
    /// `Analysis::entry_points`) to `capability`, elided ones included; `None` when it does
    /// not reach it.
    pub fn witness_len(&self, entry: usize, capability: &str) -> Option<u32> {
        let (_, f) = self.field(capability)?;
        f.nearest(self.roots.get(entry)?).map(|(_, d)| d + 1)
    }

    /// The witness [`crate::Witnesses::PerEntry`] gives entry point `entry` for
    /// `capability`; with the binary's `bytes`, its call instruction's `length` too.
    pub fn witness(&self, entry: usize, capability: &str, bytes: Option<&[u8]>) -> Option<Reach> {
        let (c, f) = self.field(capability)?;
        let mut r = self.core.witness(c as usize, f, self.roots.get(entry)?)?;
        if let Some(bytes) = bytes {
            crate::lengths::fill_reach(&mut r, bytes);
        }
        Some(r)
    }
}
