//! `policy init`: the least-privilege policy of a binary, as commented TOML for review.
//!
//! It allows exactly what the entry points reach (capabilities and imports), restricts each
//! export to its own capabilities, and pins the current limits and features, so checking the
//! same binary against it passes and any new authority in a later build is a finding.
//!
//! Exports are restricted in groups (`[[exports.restrict]]`), one per reachable capability
//! set, so the policy grows with the number of distinct sets, not of exports; past
//! [`MAX_LISTED_EXPORTS`] a group names its exports by the shortest prefixes that match
//! them and no export of another group.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use wasmgate_analyzer::{Analysis, EntryKind, ExternKind};

use wasmgate_escape::{terminal, toml_string};

use crate::pattern;
use crate::policy::DEFAULT_FEATURES;
use crate::witness;

mod calls;

/// [`least_privilege`] followed by the `[[calls]]` constraints the SMT checker proves for
/// today's binary (`bytes` are the binary's), so they hold when the same binary is checked.
pub fn least_privilege_with_calls(source: &str, a: &Analysis, bytes: &[u8]) -> String {
    let mut s = least_privilege(source, a);
    s.push_str(&calls::section(a, bytes));
    s
}

// Everything below that comes from the binary (names, paths) is hostile: strings go
// through `toml_string`/`toml_key` (after `pattern::literal`, so a name is matched exactly),
// comments through `terminal`, which leaves no newline or control character to end them.

/// A TOML array of strings, on one line when short.
fn array(items: &BTreeSet<String>) -> String {
    let v: Vec<String> = items.iter().map(|s| toml_string(s)).collect();
    if v.iter().map(String::len).sum::<usize>() < 70 {
        format!("[{}]", v.join(", "))
    } else {
        let mut s = String::from("[\n");
        for i in v {
            let _ = writeln!(s, "  {i},");
        }
        s.push(']');
        s
    }
}

/// A TOML array of strings filled up to 100 columns a line (for thousands of entries).
fn packed(items: &BTreeSet<String>) -> String {
    if items.is_empty() {
        return "[]".to_string();
    }
    let mut s = String::from("[\n ");
    let mut line = 1;
    for i in items {
        let item = toml_string(i);
        if line > 1 && line + item.len() + 2 > 100 {
            s.push_str("\n ");
            line = 1;
        }
        s.push(' ');
        s.push_str(&item);
        s.push(',');
        line += item.len() + 2;
    }
    s.push_str("\n]");
    s
}

/// A multi-line array with a trailing comment per entry (why it is there).
fn commented(items: &BTreeMap<String, String>) -> String {
    if items.is_empty() {
        return "[]".to_string();
    }
    let quoted: Vec<(String, &String)> = items
        .iter()
        .map(|(item, why)| (format!("{},", toml_string(item)), why))
        .collect();
    let width = quoted
        .iter()
        .map(|(q, _)| q.chars().count())
        .max()
        .unwrap_or(0);
    let mut s = String::from("[\n");
    for (q, why) in quoted {
        let _ = writeln!(s, "  {q:<width$} # {}", terminal(why));
    }
    s.push(']');
    s
}

/// Most exports `policy init` names one by one (in `exports.required` and in the
/// restrictions); beyond, restrictions name prefixes and `required` is left to the reader,
/// so the policy of a 75,000-export binary stays a few thousand lines.
pub const MAX_LISTED_EXPORTS: usize = 1_000;

/// The policy text. `source` names the binary in the header comment.
pub fn least_privilege(source: &str, a: &Analysis) -> String {
    least_privilege_with(source, a, MAX_LISTED_EXPORTS)
}

/// [`least_privilege`] with another bound on the exports named one by one (tests use 0 to
/// exercise the prefix form on small binaries).
pub fn least_privilege_with(source: &str, a: &Analysis, max_listed: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# wasmgate policy for {} (sha256 {}), written by `wasmgate policy init`.",
        terminal(source),
        a.sha256
    );
    s.push_str(
        "# Least privilege: it allows exactly what the binary's entry points can reach today.\n\
         # Review every line: anything not allowed here is denied, and deny beats allow.\n\n",
    );
    if a.options.assume_no_reentry {
        // The reach below was computed under this assumption: checking needs it too.
        s.push_str(
            "# Analysed assuming no import calls back into the module (--assume-no-reentry):\n\
             # unsound for JavaScript hosts, where an export's callbacks run other exports.\n\
             assume_no_reentry = true\n\n",
        );
    }

    // Per capability, the shortest witness over every entry point, to say why it is allowed.
    let shortest = witness::shortest_by(witness::all(&a.entry_points), |r| r.capability.as_str());
    let caps: BTreeMap<String, String> = shortest
        .iter()
        .map(|(cap, (entry, r))| {
            let calls = r.path.len().saturating_sub(1);
            let why = format!(
                "{} -> {} ({calls} call{})",
                entry.name,
                r.import,
                if calls == 1 { "" } else { "s" }
            );
            (cap.to_string(), why)
        })
        .collect();
    s.push_str("[capabilities]\n# Capabilities some entry point can reach, each with its shortest witness\n# (`wasmgate inspect` prints the whole paths).\n");
    let _ = writeln!(s, "allow = {}\n", commented(&caps));

    let unreachable: BTreeSet<&str> = a.unreachable_imports.iter().map(String::as_str).collect();
    let imports: BTreeMap<String, String> = a
        .imports
        .iter()
        .filter(|i| i.kind == ExternKind::Func && !unreachable.contains(i.id.as_str()))
        .map(|i| {
            let caps = if i.capabilities.is_empty() {
                "no capability".to_string()
            } else {
                i.capabilities.join(", ")
            };
            (pattern::literal_import(&i.module, &i.name), caps)
        })
        .collect();
    s.push_str("[imports]\n# Function imports some entry point can reach, with the capabilities each confers.\n");
    let _ = writeln!(s, "allow = {}\n", commented(&imports));

    exports_section(&mut s, a, &caps.into_keys().collect(), max_listed);
    let modules: Vec<_> = a.core_modules().map(|(_, m)| m).collect();
    let mems = modules.iter().flat_map(|m| &m.memories);
    let max_pages = mems.clone().map(|m| m.maximum.unwrap_or(m.initial)).max();
    let all_have_max = mems.clone().all(|m| m.maximum.is_some());
    let max_elems = modules
        .iter()
        .flat_map(|m| &m.tables)
        .map(|t| t.maximum.unwrap_or(t.initial))
        .max();
    s.push_str("[limits]\n");
    if let Some(p) = max_pages {
        let _ = writeln!(
            s,
            "# Largest declared memory (maximum, else initial), in 64 KiB pages.\nmax_memory_pages = {p}"
        );
    }
    if let Some(e) = max_elems {
        let _ = writeln!(
            s,
            "# Largest declared table (maximum, else initial).\nmax_table_elements = {e}"
        );
    }
    if all_have_max {
        s.push_str("require_memory_maximum = true\n\n");
    } else {
        s.push_str(
            "# A memory declares no maximum; link with one (e.g. -Wl,--max-memory=...) and set this to true.\n\
             require_memory_maximum = false\n\n",
        );
    }

    let features: BTreeSet<String> = modules
        .iter()
        .flat_map(|m| m.features.iter().cloned())
        .chain(DEFAULT_FEATURES.iter().map(|f| f.to_string()))
        .collect();
    s.push_str("[features]\n# The WebAssembly 2.0 features plus those the binary uses.\n");
    let _ = writeln!(s, "allow = {}", array(&features));
    s
}

/// `[exports]`: the required interface and one restriction group per capability set.
/// `allowed` is `[capabilities] allow`: exports reaching all of it need no group.
fn exports_section(s: &mut String, a: &Analysis, allowed: &BTreeSet<String>, max_listed: usize) {
    let functions: BTreeSet<String> = a
        .exports
        .iter()
        .filter(|x| x.kind == ExternKind::Func)
        .map(|x| pattern::literal(&x.name))
        .collect();
    s.push_str("[exports]\n# The interface the host relies on.\n");
    if functions.len() <= max_listed {
        let _ = writeln!(s, "required = {}\n", array(&functions));
    } else {
        let _ = writeln!(
            s,
            "# {} function exports, too many to list: require the ones your host calls.\nrequired = []\n",
            functions.len()
        );
    }

    // Per export name, what it reaches (entry points sharing a name share a restriction).
    let mut reach: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in a
        .entry_points
        .iter()
        .filter(|e| e.kind == EntryKind::Export)
    {
        let set = reach.entry(e.name.as_str()).or_default();
        set.extend(e.reaches.iter().map(|r| r.capability.as_str()));
    }
    if reach.is_empty() {
        return;
    }
    let mut sets: BTreeMap<BTreeSet<&str>, usize> = BTreeMap::new();
    for set in reach.values() {
        *sets.entry(set.clone()).or_default() += 1;
    }
    let sets: Vec<(BTreeSet<&str>, usize)> = sets.into_iter().collect();
    let id = |set: &BTreeSet<&str>| sets.binary_search_by(|(s, _)| s.cmp(set)).unwrap_or(0);
    let names: Vec<&str> = reach.keys().copied().collect();
    let group: Vec<usize> = reach.values().map(id).collect();
    // An export reaching everything `[capabilities] allow` lists is bounded by it already.
    let unbounded = |set: &BTreeSet<&str>| {
        set.len() == allowed.len() && set.iter().all(|c| allowed.contains(*c))
    };
    let restricted: usize = sets
        .iter()
        .filter(|(s, _)| !unbounded(s))
        .map(|(_, n)| n)
        .sum();
    let prefixes = restricted > max_listed;
    let patterns = if prefixes {
        prefix_patterns(&names, &group, sets.len())
    } else {
        let mut p = vec![Vec::new(); sets.len()];
        for (name, g) in names.iter().zip(&group) {
            p[*g].push(pattern::literal(name));
        }
        p
    };
    if restricted < names.len() {
        let _ = writeln!(
            s,
            "# Exports reaching every capability allowed above ({}) need no group: `[capabilities] allow`\n\
             # bounds them.",
            names.len() - restricted
        );
    }
    if restricted == 0 {
        s.push('\n');
        return;
    }
    s.push_str("# Each group of exports may reach only the capabilities it reaches today.\n");
    if prefixes {
        s.push_str(
            "# `P*` stands for every export whose name starts with P: here, exactly the exports\n\
             # of its group (a later build's new export matching it is held to the group too).\n",
        );
    }
    s.push('\n');
    for ((set, count), pats) in sets.iter().zip(patterns) {
        if unbounded(set) {
            continue;
        }
        let caps: BTreeSet<String> = set.iter().map(|c| c.to_string()).collect();
        let _ = writeln!(s, "[[exports.restrict]]");
        if prefixes {
            let _ = writeln!(
                s,
                "# {count} export{} ({} pattern{}).",
                if *count == 1 { "" } else { "s" },
                pats.len(),
                if pats.len() == 1 { "" } else { "s" }
            );
        }
        let pats: BTreeSet<String> = pats.into_iter().collect();
        let list = if prefixes {
            packed(&pats)
        } else {
            array(&pats)
        };
        let _ = writeln!(s, "exports = {list}");
        let _ = writeln!(s, "capabilities = {}\n", array(&caps));
    }
}

/// For `names` (sorted, distinct) each in one of `groups` groups, patterns per group such
/// that each pattern matches names of its group only and every name is matched: each
/// largest part of the name trie that holds one group only is written as `PREFIX*`, with
/// the shortest prefix that sets it apart (a name is written as itself when that prefix is
/// the whole name). Iterative (names may be long).
fn prefix_patterns(names: &[&str], group: &[usize], groups: usize) -> Vec<Vec<String>> {
    let n = names.len();
    // `names[lo..hi]` is all of one group exactly when `same_until[lo] >= hi`.
    let mut same_until = vec![n; n];
    for i in (0..n.saturating_sub(1)).rev() {
        same_until[i] = if group[i + 1] == group[i] {
            same_until[i + 1]
        } else {
            i + 1
        };
    }
    let mut out = vec![Vec::new(); groups];
    // Each range holds exactly the names starting with the first `d` bytes of its names.
    let mut stack = vec![(0, n, 0)];
    while let Some((mut lo, hi, d)) = stack.pop() {
        if lo >= hi {
            continue;
        }
        if same_until[lo] >= hi {
            out[group[lo]].push(if hi - lo == 1 && names[lo].len() == d {
                pattern::literal(names[lo]) // alone, and the prefix is the whole name
            } else {
                format!("{}*", pattern::literal(&names[lo][..d]))
            });
            continue;
        }
        // Sorted, so the first and the last name share what every name of the range shares.
        let d = d + common_prefix(&names[lo][d..], &names[hi - 1][d..]);
        if names[lo].len() == d {
            out[group[lo]].push(pattern::literal(names[lo]));
            lo += 1;
        }
        while lo < hi {
            let next = names[lo][d..].chars().next().map_or(0, char::len_utf8);
            let key = &names[lo].as_bytes()[..d + next];
            let end = lo
                + names[lo..hi]
                    .partition_point(|s| &s.as_bytes()[..(d + next).min(s.len())] <= key);
            stack.push((lo, end, d + next));
            lo = end;
        }
    }
    out
}

/// Length in bytes of the longest common prefix of `a` and `b` that ends on a character.
fn common_prefix(a: &str, b: &str) -> usize {
    let mut n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    while !a.is_char_boundary(n) {
        n -= 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `prefix_patterns` with the policy's own matcher: every pattern matches only
    /// names of its group, every name is matched by a pattern of its group.
    fn exact(names: &[&str], group: &[usize]) {
        let mut sorted: Vec<(&str, usize)> =
            names.iter().copied().zip(group.iter().copied()).collect();
        sorted.sort();
        let names: Vec<&str> = sorted.iter().map(|(n, _)| *n).collect();
        let group: Vec<usize> = sorted.iter().map(|(_, g)| *g).collect();
        let groups = group.iter().max().map_or(0, |g| g + 1);
        let patterns = prefix_patterns(&names, &group, groups);
        for (g, pats) in patterns.iter().enumerate() {
            for p in pats {
                crate::pattern::Pattern::parse(p).unwrap();
                let matched: Vec<_> = names
                    .iter()
                    .zip(&group)
                    .filter(|(n, _)| pattern::matches(p, n))
                    .collect();
                assert!(!matched.is_empty(), "{p:?} matches nothing");
                for (n, other) in matched {
                    assert_eq!(*other, g, "{p:?} of group {g} matches {n:?}");
                }
            }
        }
        for (n, g) in names.iter().zip(&group) {
            assert!(
                patterns[*g].iter().any(|p| pattern::matches(p, n)),
                "{n:?} unmatched: {patterns:?}"
            );
        }
    }

    #[test]
    fn prefixes_cover_each_group_exactly() {
        exact(&["get_a", "get_b", "gz", "run"], &[0, 0, 1, 0]);
        let p = prefix_patterns(&["get_a", "get_b", "gz"], &[0, 0, 1], 2);
        assert_eq!(p, vec![vec!["ge*".to_string()], vec!["gz".to_string()]]);
        let p = prefix_patterns(&["get_a", "get_b", "gzip"], &[0, 0, 1], 2);
        assert_eq!(p, vec![vec!["ge*".to_string()], vec!["gz*".to_string()]]);
        // One group: every export, `*`.
        assert_eq!(
            prefix_patterns(&["a", "b"], &[0, 0], 1),
            vec![vec!["*".to_string()]]
        );
        // A name that is a prefix of others, the empty name, and hostile characters.
        exact(&["", "a", "ab", "abc", "abd"], &[1, 0, 1, 0, 0]);
        exact(
            &[
                "*",
                "**",
                "\\",
                "\\*",
                "a#b",
                "a#c",
                "日本",
                "日本語",
                "日x",
                "\u{202e}",
                "\n",
            ],
            &[0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1],
        );
        // Seeded names over few characters, so the trie branches everywhere.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n) as usize
        };
        for _ in 0..200 {
            let mut names: Vec<String> = (0..next(40))
                .map(|_| {
                    (0..next(6))
                        .map(|_| ['a', '*', '\\', '#', 'é'][next(5)])
                        .collect()
                })
                .collect();
            names.sort();
            names.dedup();
            let groups: Vec<usize> = names.iter().map(|_| next(3)).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            exact(&refs, &groups);
        }
    }
}
