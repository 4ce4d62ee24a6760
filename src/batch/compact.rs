//! The body of a cached `check` result, compact: aggregated findings of a large binary name
//! the same tens of thousands of entry points over and over (133 MB of JSON for duckdb-coi),
//! and parsing that cost almost as much as recomputing it. Here every distinct entry point is
//! stored once, in a table, and each finding names its own as runs of table indices.
//!
//! Layout (integers are little-endian `u32`):
//!
//! ```text
//! table:    count, then per entry point: kind (u8: 0 export, 1 start, 2 escaped), length, UTF-8 name
//! findings: length, then the JSON array of the findings without their entry points
//! runs:     per finding, in order: count, then per run: first index, length
//! ```
//!
//! The bytes come from the cache directory, which is untrusted: every count, length and index
//! is checked against what remains and against the table, a finding's runs must ascend
//! without overlapping (so a finding names each entry point at most once), and the entry
//! points of all findings together are capped ([`MAX_ENTRY_REFS`]). Anything else is `None`
//! (a miss), never a panic or an allocation the input did not pay for.

use std::sync::Arc;

use anyhow::{Result, bail};
use wasmgate_analyzer::EntryKind;
use wasmgate_policy::{EntryRef, Finding};

/// Most entry points all findings of one entry may list together (each costs a pointer and
/// a kind once decoded). Far above the largest corpus binary under a deny-all policy.
pub const MAX_ENTRY_REFS: usize = 1 << 25;

fn kind_byte(k: EntryKind) -> u8 {
    match k {
        EntryKind::Export => 0,
        EntryKind::Start => 1,
        EntryKind::Escaped => 2,
    }
}

fn byte_kind(b: u8) -> Option<EntryKind> {
    Some(match b {
        0 => EntryKind::Export,
        1 => EntryKind::Start,
        2 => EntryKind::Escaped,
        _ => return None,
    })
}

fn put(out: &mut Vec<u8>, n: usize) -> Result<()> {
    let Ok(n) = u32::try_from(n) else {
        bail!("a count of {n} does not fit the cache format");
    };
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

/// Encodes `findings`. Their entry points are taken out while the rest is serialised and put
/// back before returning, whatever happens. Fails (the result is then not cached) when a
/// finding's entry points are not sorted and distinct, or there are too many.
pub fn encode(findings: &mut [Finding]) -> Result<Vec<u8>> {
    let entries: Vec<Vec<EntryRef>> = findings
        .iter_mut()
        .map(|f| std::mem::take(&mut f.entry_points))
        .collect();
    let json = serde_json::to_vec(&*findings);
    for (f, e) in findings.iter_mut().zip(&entries) {
        f.entry_points.clone_from(e);
    }
    let json = json?;
    let total: usize = entries.iter().map(Vec::len).sum();
    if total > MAX_ENTRY_REFS {
        bail!("the findings list {total} entry points (at most {MAX_ENTRY_REFS} are cached)");
    }
    let mut table: Vec<&EntryRef> = entries.iter().flatten().collect();
    table.sort_unstable();
    table.dedup();
    let mut out = Vec::new();
    put(&mut out, table.len())?;
    for e in &table {
        out.push(kind_byte(e.kind));
        put(&mut out, e.name.len())?;
        out.extend_from_slice(e.name.as_bytes());
    }
    put(&mut out, json.len())?;
    out.extend_from_slice(&json);
    for list in &entries {
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for e in list {
            // In the table by construction.
            let i = table.binary_search(&e).unwrap_or_default() as u32;
            match runs.last_mut() {
                Some((first, len)) if *first + *len == i => *len += 1,
                Some((first, len)) if *first + *len > i => {
                    bail!("a finding's entry points are not sorted and distinct")
                }
                _ => runs.push((i, 1)),
            }
        }
        put(&mut out, runs.len())?;
        for (first, len) in runs {
            out.extend_from_slice(&first.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
        }
    }
    Ok(out)
}

/// Reads from the front of the body, every read checked against what remains.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }

    fn len(&mut self) -> Option<usize> {
        self.u32().map(|n| n as usize)
    }
}

/// Decodes what [`encode`] wrote; `None` for anything else.
pub fn decode(body: &[u8]) -> Option<Vec<Finding>> {
    let mut r = Reader(body);
    let count = r.len()?;
    // Each entry point takes at least five bytes: a count beyond that is a lie.
    if count > r.0.len() / 5 {
        return None;
    }
    let mut table = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = byte_kind(r.bytes(1)?[0])?;
        let n = r.len()?;
        let name = std::str::from_utf8(r.bytes(n)?).ok()?;
        table.push(EntryRef {
            kind,
            name: Arc::from(name),
        });
    }
    let n = r.len()?;
    let mut findings: Vec<Finding> = serde_json::from_slice(r.bytes(n)?).ok()?;
    let mut total = 0usize;
    for f in &mut findings {
        let runs = r.len()?;
        // Eight bytes per run.
        if runs > r.0.len() / 8 {
            return None;
        }
        let mut next = 0usize;
        for _ in 0..runs {
            let first = r.len()?;
            let len = r.len()?;
            let end = first.checked_add(len)?;
            if len == 0 || first < next || end > table.len() {
                return None;
            }
            total += len;
            if total > MAX_ENTRY_REFS {
                return None;
            }
            f.entry_points.extend_from_slice(&table[first..end]);
            next = end;
        }
    }
    // Trailing bytes mean this is not what `encode` wrote.
    r.0.is_empty().then_some(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: EntryKind, name: &str) -> EntryRef {
        EntryRef {
            kind,
            name: Arc::from(name),
        }
    }

    fn finding(subject: &str, entries: Vec<EntryRef>) -> Finding {
        Finding {
            rule: "WG0001".into(),
            name: "capability-not-allowed".into(),
            level: wasmgate_policy::Level::Error,
            kind: wasmgate_policy::Kind::Fail,
            message: format!("reaches {subject}"),
            subject: subject.into(),
            location: Default::default(),
            entry_points: entries,
            witness: vec![Arc::from("main"), Arc::from("fd_write")],
            demangled: Default::default(),
            policy: Default::default(),
            counterexample: None,
            fingerprint: "f".into(),
            fingerprint_version: Default::default(),
            suppressed: None,
        }
    }

    /// Findings sharing entry points, with gaps (several runs), hostile names and all kinds.
    fn sample() -> Vec<Finding> {
        let names: Vec<EntryRef> = (0..50)
            .map(|i| entry(EntryKind::Export, &format!("e{i:02}\n\u{202e}\"]")))
            .chain([
                entry(EntryKind::Start, "<start>"),
                entry(EntryKind::Escaped, "<escaped>"),
                // The same name as an export: told apart by the kind.
                entry(EntryKind::Start, "e00\n\u{202e}\"]"),
            ])
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        let every_third: Vec<EntryRef> = sorted.iter().step_by(3).cloned().collect();
        vec![
            finding("fs.write", sorted.clone()),
            finding("net", every_third),
            finding("clock", Vec::new()),
            finding("fs.read", sorted[10..20].to_vec()),
        ]
    }

    #[test]
    fn round_trip_keeps_every_finding_and_shares_names() {
        let mut findings = sample();
        let before = findings.clone();
        let body = encode(&mut findings).unwrap();
        assert_eq!(findings, before, "the entry points are put back");
        let back = decode(&body).unwrap();
        assert_eq!(back, before);
        // One allocation per entry point, shared by the findings naming it.
        assert!(Arc::ptr_eq(
            &back[0].entry_points[10].name,
            &back[3].entry_points[0].name
        ));
        assert!(Arc::ptr_eq(
            &back[0].entry_points[9].name,
            &back[1].entry_points[3].name
        ));
        // Each name once: far smaller than the JSON of the findings.
        assert!(body.len() * 2 < serde_json::to_vec(&before).unwrap().len());
        // An empty list too.
        assert_eq!(
            decode(&encode(&mut []).unwrap()).unwrap(),
            Vec::<Finding>::new()
        );
    }

    #[test]
    fn unsorted_or_repeated_entry_points_are_not_cached() {
        let mut findings = sample();
        findings[1].entry_points.reverse();
        assert!(encode(&mut findings).is_err());
        let mut findings = sample();
        let first = findings[3].entry_points[0].clone();
        findings[3].entry_points.push(first);
        assert!(encode(&mut findings).is_err());
        assert_eq!(
            findings[3].entry_points.len(),
            11,
            "put back on failure too"
        );
    }

    #[test]
    fn truncated_garbled_or_lying_bodies_are_misses() {
        let body = encode(&mut sample()).unwrap();
        // Every truncation, and one byte more.
        for n in 0..body.len() {
            assert!(decode(&body[..n]).is_none(), "truncated to {n}");
        }
        let mut longer = body.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
        // Every byte flipped, one at a time: never a panic; where the result still decodes,
        // the flip hit a name or the JSON text, never an index or a count.
        for i in 0..body.len() {
            let mut b = body.clone();
            b[i] ^= 0xff;
            let _ = decode(&b);
        }
        let u32_at = |b: &mut Vec<u8>, at: usize, v: u32| {
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        };
        // A table count far beyond the bytes (no allocation for it).
        let mut b = body.clone();
        u32_at(&mut b, 0, u32::MAX);
        assert!(decode(&b).is_none());
        // An unknown entry kind.
        let mut b = body.clone();
        b[4] = 3;
        assert!(decode(&b).is_none());
        // The runs: the last finding's single run is `first, len` at the end.
        let end = body.len();
        for (first, len) in [(0, 0), (u32::MAX, 2), (50, 10), (1, u32::MAX)] {
            let mut b = body.clone();
            u32_at(&mut b, end - 8, first);
            u32_at(&mut b, end - 4, len);
            assert!(decode(&b).is_none(), "run {first}+{len}");
        }
        // Overlapping runs: the second finding's every-third list has 18 runs of one; make
        // its second run start at its first.
        let mut findings = sample();
        findings.truncate(2);
        let two = encode(&mut findings).unwrap();
        let runs_at = two.len() - 4 - 18 * 8;
        let first = two[runs_at + 4..runs_at + 8].to_vec();
        let mut b = two.clone();
        b[runs_at + 12..runs_at + 16].copy_from_slice(&first);
        assert!(decode(&two).is_some());
        assert!(decode(&b).is_none());
    }
}
