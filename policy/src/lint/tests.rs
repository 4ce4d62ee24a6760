//! Each lint fires on its case and stays quiet on the near miss.

use std::path::Path;

use super::*;
use crate::load_str;

type Found = (String, u32, Option<String>);

fn l(kind: &str, line: u32, witness: Option<&str>) -> Found {
    (kind.to_string(), line, witness.map(String::from))
}

fn lints(text: &str) -> Vec<(String, u32, Option<String>)> {
    let p = match load_str(Path::new("p.toml"), text) {
        Ok(p) => p,
        Err(crate::LoadError::Invalid { rendered, .. }) => panic!("{rendered}"),
        Err(e) => panic!("{e}"),
    };
    lint(&p)
        .findings
        .into_iter()
        .map(|l| (l.kind.to_string(), l.line, l.witness))
        .collect()
}

#[test]
fn shadowed_and_overlapping_allows() {
    let found = lints(
        "[capabilities]\nallow = [\"net.*\", \"fs.*\", \"stdio\"]\ndeny = [\"net.*\", \"fs.write\"]\n",
    );
    assert_eq!(
        found,
        [
            l("shadowed", 2, Some("net.connect")),
            l("overlap", 2, Some("fs.write")),
        ]
    );
    let found =
        lints("[imports]\nallow = [\"m#a*\", \"m#b\", \"m#c\"]\ndeny = [\"m#*\\\\*\", \"m#b\"]\n");
    // m#a* overlaps the deny of names ending in a literal star; m#b is shadowed; m#c is fine.
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.contains(&l("overlap", 2, Some("m#a*"))), "{found:?}");
    assert!(found.contains(&l("shadowed", 2, Some("m#b"))), "{found:?}");
}

#[test]
fn constraints_that_allow_nothing() {
    let c = |body: &str| {
        lints(&format!(
            "[[calls]]\nimport = \"wasi_snapshot_preview1#fd_write\"\narg = 0\n{body}\n"
        ))
    };
    // `min > max` never reaches the lint: the loader rejects it.
    assert!(
        load_str(
            Path::new("p.toml"),
            "[[calls]]\nimport = \"wasi_snapshot_preview1#fd_write\"\narg = 0\nmin = 5\nmax = 4\n"
        )
        .is_err()
    );
    assert_eq!(
        c("one_of = [1, 3]\nbits_clear = 1"),
        [l("empty-constraint", 1, None)]
    );
    assert_eq!(
        c("bits_set = 3\nbits_clear = 2"),
        [l("empty-constraint", 1, None)]
    );
    assert!(c("one_of = [1, 2]\nbits_clear = 1").is_empty());
    assert!(c("min = 4\nmax = 4").is_empty());
    if wasmgate_smt::SOLVER {
        // No value in [5, 6] has bits 0 and 1 clear... 4 and 8 bound it: empty only by search.
        assert_eq!(
            c("min = 5\nmax = 7\nbits_clear = 3"),
            [l("empty-constraint", 1, None)]
        );
        assert!(c("min = 5\nmax = 8\nbits_clear = 3").is_empty());
    }
}

#[test]
fn waivers_and_restrictions_that_match_nothing() {
    let found = lints(
        "[capabilities]\nallow = [\"stdio\"]\n[exports]\nforbidden = [\"dbg_*\"]\n\
         [exports.restrict]\n\"dbg_x*\" = []\n\"main\" = []\n\
         [[waivers]]\nrule = \"capability-not-allowed\"\ntarget = \"stdio\"\nreason = \"r\"\n\
         [[waivers]]\nrule = \"import-not-allowed\"\ntarget = \"no-hash\"\nreason = \"r\"\n\
         [[waivers]]\nrule = \"capability-not-allowed\"\ntarget = \"fs.*\"\nreason = \"r\"\n",
    );
    assert_eq!(
        found,
        [
            l("matches-nothing", 6, Some("dbg_x")),
            // Waivers are reported at their `[[waivers]]` header, as `[[calls]]` entries are.
            l("matches-nothing", 8, Some("stdio")),
            l("matches-nothing", 12, None),
        ]
    );
}
