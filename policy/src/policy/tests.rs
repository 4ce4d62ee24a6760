//! Unit tests of the policy loader.

use super::merge::lexical;
use super::validate::check_import_pattern;
use super::*;

/// Every key `ACCEPTED_KEYS` lets through has a reader: given a value of a type no key
/// takes (a float), each is reported by its reader as the wrong type, none as "no reader".
#[test]
fn every_accepted_key_reaches_a_reader() {
    let mut checked = 0;
    for (table, keys) in ACCEPTED_KEYS {
        let header = match table.strip_suffix("[]") {
            _ if table.is_empty() => String::new(),
            Some(array) => format!("[[{array}]]\n"),
            None => format!("[{table}]\n"),
        };
        for key in *keys {
            let text = format!("{header}{key} = 0.5\n");
            let rendered = match load_str(Path::new("keys.toml"), &text) {
                Err(LoadError::Invalid { rendered, .. }) => rendered,
                Ok(_) => panic!("{table}.{key}: a float was accepted"),
                Err(e) => panic!("{table}.{key}: {e}"),
            };
            assert!(
                !rendered.contains("no reader"),
                "{table}.{key}:\n{rendered}"
            );
            assert!(
                rendered.contains("must be") && rendered.contains("found float"),
                "{table}.{key}: not reported as a wrong type:\n{rendered}"
            );
            assert!(
                rendered.contains(key),
                "{table}.{key} not reported:\n{rendered}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} keys checked");
}

#[test]
fn import_patterns_ignore_versions_unless_given() {
    assert!(import_matches(
        "wasi:io/streams#*",
        "wasi:io/streams@0.2.0",
        "[method]output-stream.write"
    ));
    assert!(!import_matches(
        "wasi:io/streams@0.2.1#*",
        "wasi:io/streams@0.2.0",
        "x"
    ));
    assert!(import_matches(
        "wasi_snapshot_preview1#fd_*",
        "wasi_snapshot_preview1",
        "fd_write"
    ));
    assert!(check_import_pattern("wasi_snapshot_preview1").is_err());
    assert!(check_import_pattern("a#**").is_err());
    assert!(check_import_pattern("wasi:filesystem/types@0.2.0#[method]descriptor.open-at").is_ok());
}

#[test]
fn values_are_counted_over_the_raw_text() {
    // Quotes and comments cannot hide structure from the count.
    let text = "a = [1, \"x,y\"] # {\nb = 2";
    assert_eq!(value_marks(text).count(), 6);
    assert_eq!(values_beyond(text, 6), None);
    assert_eq!(values_beyond(text, 5), Some(text.rfind('=').unwrap()));
}

#[test]
fn preopen_hosts_compare_as_lexical_paths() {
    assert_eq!(lexical(Path::new("p/./x/../data")), PathBuf::from("p/data"));
    assert_eq!(lexical(Path::new("../../a")), PathBuf::from("../../a"));
    assert_eq!(lexical(Path::new("/..")), PathBuf::from("/"));
}

/// `[bounds]`: unknown keys are reported (with a suggestion), and so are incomplete,
/// inverted or unnamed `[bounds.globals]` ranges and unknown keys inside them.
#[test]
fn bounds_keys_are_validated() {
    let text = "[bounds]\nsegmentz = true\n[bounds.globals]\n\"env#a\" = { min = 5, max = 1 }\n\"env#b\" = { min = 1 }\n\"nohash\" = { min = 0, max = 1 }\n\"env#c\" = { min = 0, max = 1, step = 2 }\n";
    let rendered = match load_str(Path::new("b.toml"), text) {
        Err(LoadError::Invalid { rendered, .. }) => rendered,
        other => panic!("{other:?}"),
    };
    for want in [
        "unknown key `segmentz` in `[bounds]`",
        "did you mean `segments`?",
        "`bounds.globals.\"env#b\"` needs `min` and `max`",
        "unknown key `step`",
    ] {
        assert!(rendered.contains(want), "{want}:\n{rendered}");
    }
    assert_eq!(
        rendered.matches("with `min <= max`").count(),
        2,
        "{rendered}"
    );
    let ok = load_str(
        Path::new("b.toml"),
        "[bounds]\nsegments = true\n[bounds.globals]\n\"env#a\" = { min = 1, max = 5 }\n",
    )
    .unwrap();
    assert!(ok.bounds.any());
    assert_eq!(ok.bounds.globals[0].import, "env#a");
    assert_eq!((ok.bounds.globals[0].min, ok.bounds.globals[0].max), (1, 5));
}
