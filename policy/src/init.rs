//! `policy init`: the least-privilege policy of a binary, as commented TOML for review.
//!
//! It allows exactly what the entry points reach (capabilities and imports), restricts each
//! export to its own capabilities, and pins the current limits and features, so checking the
//! same binary against it passes and any new authority in a later build is a finding.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use wasmgate_analyzer::{Analysis, EntryKind, ExternKind};

use wasmgate_escape::{terminal, toml_key, toml_string};

use crate::pattern;
use crate::policy::DEFAULT_FEATURES;
use crate::witness;

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

/// The policy text. `source` names the binary in the header comment.
pub fn least_privilege(source: &str, a: &Analysis) -> String {
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

    let exports: BTreeSet<String> = a
        .exports
        .iter()
        .filter(|x| x.kind == ExternKind::Func)
        .map(|x| pattern::literal(&x.name))
        .collect();
    s.push_str("[exports]\n# The interface the host relies on.\n");
    let _ = writeln!(s, "required = {}\n", array(&exports));
    let restricted: Vec<_> = a
        .entry_points
        .iter()
        .filter(|e| e.kind == EntryKind::Export)
        .collect();
    if !restricted.is_empty() {
        s.push_str("[exports.restrict]\n# Each export may reach only what it reaches today.\n");
        for e in restricted {
            let c: BTreeSet<String> = e.reaches.iter().map(|r| r.capability.clone()).collect();
            let _ = writeln!(
                s,
                "{} = {}",
                toml_key(&pattern::literal(&e.name)),
                array(&c)
            );
        }
        s.push('\n');
    }

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
