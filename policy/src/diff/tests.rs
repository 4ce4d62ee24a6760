//! Unit tests of the semantic diff over small policies written inline.

use std::path::Path;

use super::*;
use crate::load_str;

fn pol(text: &str) -> ValidPolicy {
    match load_str(Path::new("p.toml"), text) {
        Ok(p) => p,
        Err(crate::LoadError::Invalid { rendered, .. }) => panic!("{rendered}"),
        Err(e) => panic!("{e}"),
    }
}

fn subjects(d: &Direction, dim: &str) -> Vec<String> {
    d.witnesses
        .iter()
        .filter(|w| w.dimension == dim)
        .map(|w| w.subject.clone())
        .collect()
}

const ALL_CAPS: &str = "[capabilities]\nallow = [\"*\"]\n";

#[test]
fn a_widened_import_glob_has_a_concrete_witness_name() {
    let old = pol(&format!(
        "{ALL_CAPS}[imports]\nallow = [\"wasi_snapshot_preview1#fd_read\"]\n"
    ));
    let new = pol(&format!(
        "{ALL_CAPS}[imports]\nallow = [\"wasi_snapshot_preview1#fd_*\"]\n"
    ));
    let r = diff(&old, &new).unwrap();
    assert_eq!(r.verdict, "more-permissive");
    let w = subjects(&r.new_over_old, "imports");
    assert!(!w.is_empty());
    for id in &w {
        let (m, n) = id.split_once('#').unwrap();
        assert!(
            crate::import_matches("wasi_snapshot_preview1#fd_*", m, n),
            "{id}"
        );
        assert!(
            !crate::import_matches("wasi_snapshot_preview1#fd_read", m, n),
            "{id}"
        );
    }
    assert!(
        w.contains(&"wasi_snapshot_preview1#fd_write".to_string()),
        "{w:?}"
    );
    // The other way round nothing is beyond.
    assert!(r.old_over_new.contained(), "{:?}", r.old_over_new);
}

#[test]
fn the_same_policy_is_equivalent_to_itself() {
    let text = format!(
        "{ALL_CAPS}[imports]\nallow = [\"wasi_snapshot_preview1#*\"]\ndeny = [\"*#sock_*\"]\n\
         [exports]\nforbidden = [\"__*\"]\n[exports.restrict]\nrender = [\"stdio\"]\n"
    );
    let r = diff(&pol(&text), &pol(&text)).unwrap();
    assert_eq!(r.verdict, "equivalent", "{:#?}", r.new_over_old);
}

#[test]
fn a_capability_outside_old_is_witnessed_through_an_import() {
    let old = pol("[capabilities]\nallow = [\"stdio\"]\n");
    let new = pol("[capabilities]\nallow = [\"stdio\", \"clock.wall\"]\n");
    let r = diff(&old, &new).unwrap();
    assert_eq!(r.verdict, "more-permissive");
    let w = &r.new_over_old.witnesses;
    assert!(
        w.iter()
            .all(|w| w.dimension == "imports" && w.message.contains("clock.wall")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w.subject == "wasi_snapshot_preview1#clock_time_get"),
        "{w:?}"
    );
    assert_eq!(diff(&new, &old).unwrap().verdict, "not-more-permissive");
}

#[test]
fn export_restrictions_forbidden_and_required_are_compared() {
    let old = pol(&format!(
        "{ALL_CAPS}[exports]\nrequired = [\"_start\"]\nforbidden = [\"debug_*\"]\n\
         [exports.restrict]\n\"render*\" = [\"stdio\"]\n"
    ));
    let new = pol(&format!("{ALL_CAPS}[exports]\nforbidden = [\"debug_x\"]\n"));
    let r = diff(&old, &new).unwrap();
    let w = subjects(&r.new_over_old, "exports");
    assert!(w.contains(&"_start".to_string()), "{w:?}");
    assert!(
        w.iter().any(|s| s.starts_with("debug_") && s != "debug_x"),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|s| s.starts_with("render") && s.ends_with(" fs.read")),
        "{w:?}"
    );
    assert!(
        !w.iter().any(|s| s.ends_with(" stdio")),
        "stdio stays allowed: {w:?}"
    );
}

#[test]
fn limits_features_analysis_levels_and_waivers_widen() {
    let old = pol(
        "[limits]\nmax_memory_pages = 16\n[features]\nallow = [\"simd\"]\n\
         [levels]\nmemory-without-maximum = \"error\"\n",
    );
    let new = pol(
        "assume_no_reentry = true\n[limits]\nmax_memory_pages = 17\nrequire_memory_maximum = false\n\
         [features]\nallow = [\"simd\", \"threads\"]\n\
         [[waivers]]\nrule = \"WG0001\"\ntarget = \"fs.*\"\nreason = \"r\"\n",
    );
    let r = diff(&old, &new).unwrap();
    let d = &r.new_over_old;
    assert_eq!(
        subjects(d, "limits"),
        ["max_memory_pages=17", "require_memory_maximum=false"]
    );
    assert_eq!(subjects(d, "features"), ["threads"]);
    assert_eq!(subjects(d, "analysis"), ["assume_no_reentry=true"]);
    assert_eq!(subjects(d, "levels"), ["WG0005"]);
    assert_eq!(subjects(d, "waivers"), ["WG0001:fs."]);
}

#[test]
fn call_constraints_are_compared_as_value_sets() {
    let c = |body: &str| {
        pol(&format!(
            "{ALL_CAPS}[[calls]]\nimport = \"wasi_snapshot_preview1#fd_write\"\narg = \"fd\"\n{body}\n"
        ))
    };
    let old = c("one_of = [1, 2]");
    let same = c("min = 1\nmax = 2");
    let wider = c("one_of = [1, 2, 5]");
    let r = diff(&old, &same).unwrap();
    if !wasmgate_smt::SOLVER {
        assert_eq!(r.verdict, "undecided");
        return;
    }
    assert_eq!(r.verdict, "equivalent", "{:#?}", r.new_over_old);
    let r = diff(&old, &wider).unwrap();
    assert_eq!(
        subjects(&r.new_over_old, "calls"),
        ["wasi_snapshot_preview1#fd_write fd=5"]
    );
    // A constraint dropped: any other value.
    let none = pol(ALL_CAPS);
    let r = diff(&old, &none).unwrap();
    let w = subjects(&r.new_over_old, "calls");
    assert_eq!(w.len(), 1, "{w:?}");
    let v: u64 = w[0].rsplit('=').next().unwrap().parse().unwrap();
    assert!(v != 1 && v != 2);
}

#[test]
fn sandbox_grants_are_compared() {
    let old = pol("[sandbox]\nenv = [\"HOME\"]\nfuel = 10\n");
    let new = pol(
        "[sandbox]\nenv = [\"H*\"]\nfuel = 11\n[[sandbox.preopens]]\nhost = \"d\"\nguest = \"/d\"\n",
    );
    let r = diff(&old, &new).unwrap();
    let w = subjects(&r.new_over_old, "sandbox");
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].starts_with("env H") && w[0] != "env HOME", "{w:?}");
    assert_eq!(w[1], "fuel=11");
    assert!(w[2].starts_with("preopen "), "{w:?}");
}

/// Switching a `[bounds]` check off (false or absent) lets through what it failed: a
/// widening, named per check, and only in that direction.
#[test]
fn a_bounds_check_switched_off_widens() {
    let old = pol(&format!(
        "{ALL_CAPS}[bounds]\nsegments = true\naccesses = true\nmemory_grow = true\n"
    ));
    let new = pol(&format!(
        "{ALL_CAPS}[bounds]\nsegments = true\naccesses = false\n"
    ));
    let r = diff(&old, &new).unwrap();
    assert_eq!(r.verdict, "more-permissive");
    assert_eq!(
        subjects(&r.new_over_old, "bounds"),
        ["bounds.accesses=false", "bounds.memory_grow=false"]
    );
    assert!(subjects(&r.old_over_new, "bounds").is_empty());
    let same = diff(&old, &old).unwrap();
    assert!(subjects(&same.new_over_old, "bounds").is_empty());
    assert!(
        same.new_over_old
            .proof
            .iter()
            .any(|p| p.dimension == "bounds")
    );
}
