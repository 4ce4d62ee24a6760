//! Property tests: the product's answers agree with brute-force matching.

use super::*;
use crate::pattern;
use crate::policy::import_matches;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

fn random_pattern(r: &mut Rng, units: &[&str], max: u64) -> String {
    let len = r.next() % (max + 1);
    let mut p = String::new();
    for _ in 0..len {
        let u = r.pick(units);
        if u == "*" && p.ends_with('*') && !p.ends_with("\\*") {
            continue;
        }
        p.push_str(u);
    }
    p
}

/// Every string over `chars` up to `len` characters.
fn all_strings(chars: &[char], len: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut layer = vec![String::new()];
    for _ in 0..len {
        let mut next = Vec::new();
        for s in &layer {
            for c in chars {
                next.push(format!("{s}{c}"));
            }
        }
        out.extend(next.iter().cloned());
        layer = next;
    }
    out
}

#[test]
fn plain_containment_agrees_with_brute_force_and_witnesses_are_real() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let names = all_strings(&['a', 'b', 'z', '*'], 6);
    for _ in 0..400 {
        let new = random_pattern(&mut r, &["a", "b", "*", "\\*"], 4);
        let old = random_pattern(&mut r, &["a", "b", "*", "\\*"], 4);
        let regions = regions(&[Lang::plain(&new), Lang::plain(&old)]).unwrap();
        let beyond: Vec<&Region> = regions.iter().filter(|g| g.has(0) && !g.has(1)).collect();
        // Every witness really matches NEW and not OLD.
        for g in &beyond {
            let Text::Plain(w) = &g.witness else { panic!() };
            assert!(
                pattern::matches(&new, w) && !pattern::matches(&old, w),
                "{new} {old} {w:?}"
            );
        }
        // Brute force over short names, literal stars included.
        let brute = names
            .iter()
            .any(|n| pattern::matches(&new, n) && !pattern::matches(&old, n));
        assert_eq!(!beyond.is_empty(), brute, "NEW {new:?} OLD {old:?}");
        // Every region's witness has exactly its combination.
        for g in &regions {
            let Text::Plain(w) = &g.witness else { panic!() };
            assert_eq!(pattern::matches(&new, w), g.has(0));
            assert_eq!(pattern::matches(&old, w), g.has(1));
        }
    }
}

#[test]
fn import_containment_agrees_with_brute_force_including_versions() {
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    let modules: Vec<String> = all_strings(&['m', '@', '1', 'f', '#'], 4);
    let names: Vec<String> = all_strings(&['f', '#', 'x'], 2);
    let units = ["m", "@", "1", "*", "\\#", "f"];
    for _ in 0..300 {
        let pat = |r: &mut Rng| {
            format!(
                "{}#{}",
                random_pattern(r, &units, 3),
                random_pattern(r, &["f", "x", "*", "\\#"], 2)
            )
        };
        let (new, old) = (pat(&mut r), pat(&mut r));
        let langs = [Lang::import(&new).unwrap(), Lang::import(&old).unwrap()];
        let regions = regions(&langs).unwrap();
        for g in &regions {
            let Text::Import(m, n) = &g.witness else {
                panic!()
            };
            assert_eq!(import_matches(&new, m, n), g.has(0), "{new} on {m}#{n}");
            assert_eq!(import_matches(&old, m, n), g.has(1), "{old} on {m}#{n}");
        }
        let found = regions.iter().any(|g| g.has(0) && !g.has(1));
        let brute = modules.iter().any(|m| {
            names
                .iter()
                .any(|n| import_matches(&new, m, n) && !import_matches(&old, m, n))
        });
        assert_eq!(found, brute, "NEW {new:?} OLD {old:?}");
    }
}

#[test]
fn a_version_suffix_is_matched_like_strip_version() {
    // `wasi:io/streams` (no `@`) matches every version; `...@0.2.0` only that one.
    let langs = [
        Lang::import("wasi:io/streams#read").unwrap(),
        Lang::import("wasi:io/streams@0.2.0#read").unwrap(),
    ];
    let regions = regions(&langs).unwrap();
    let beyond = regions.iter().find(|g| g.has(0) && !g.has(1)).unwrap();
    let Text::Import(m, n) = &beyond.witness else {
        panic!()
    };
    assert!(m.starts_with("wasi:io/streams") && n == "read");
    assert!(import_matches("wasi:io/streams#read", m, n));
    assert!(!import_matches("wasi:io/streams@0.2.0#read", m, n));
    assert!(
        regions.iter().all(|g| !g.has(1) || g.has(0)),
        "the versioned one is inside"
    );
}

#[test]
fn the_state_budget_gives_an_undecided_answer_not_a_wrong_one() {
    let langs = [Lang::plain("*a*b*c*"), Lang::plain("*c*b*a*")];
    assert_eq!(regions_within(&langs, 3).unwrap_err(), Exhausted);
}

#[test]
fn literal_tries_say_which_literal_matches_with_versions() {
    let lits = vec![
        ("m".to_string(), "f".to_string()),
        ("m".to_string(), "ff".to_string()),
        ("m@x".to_string(), "f".to_string()),
        ("mm".to_string(), "".to_string()),
    ];
    let mut r = Rng(7);
    for _ in 0..100 {
        let p = format!(
            "{}#{}",
            random_pattern(&mut r, &["m", "@", "1", "*", "x"], 3),
            random_pattern(&mut r, &["f", "*"], 2)
        );
        let langs = [Lang::Literals(lits.clone()), Lang::import(&p).unwrap()];
        for g in regions(&langs).unwrap() {
            let Text::Import(m, n) = &g.witness else {
                panic!()
            };
            // The table matches the versionless module, whatever the entry holds.
            let expect = lits
                .iter()
                .position(|(lm, ln)| wasmgate_analyzer::strip_version(m) == lm && n == ln);
            assert_eq!(g.literal, expect.map(|i| i as u32), "{m}#{n}");
            assert_eq!(import_matches(&p, m, n), g.has(1), "{p} on {m}#{n}");
        }
    }
}
