//! Unit tests of the SARIF limits: what is kept, what is left out, and what the run says.

use std::sync::Arc;

use super::*;
use crate::finding::{Location, PolicyRef};

fn finding(level: Level, kind: Kind, witness: usize) -> Finding {
    Finding {
        rule: "WG0001".into(),
        name: "capability-not-allowed".into(),
        level,
        kind,
        message: format!("{level:?} {kind:?}"),
        subject: "random".into(),
        location: Location {
            artifact: "a.wasm".into(),
            ..Location::default()
        },
        entry_points: Vec::new(),
        witness: (0..witness).map(|i| Arc::from(format!("f{i}"))).collect(),
        demangled: Default::default(),
        policy: PolicyRef {
            file: "p.toml".into(),
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 2,
            text: "x".into(),
        },
        counterexample: None,
        fingerprint: format!("{level:?}{kind:?}"),
        fingerprint_version: FingerprintVersion::V3,
        suppressed: None,
    }
}

/// The result cap keeps the most severe (a `pass` result counts toward it but goes
/// first), the location cap cuts witnesses, and a notification says each.
#[test]
fn limits_keep_the_most_severe_and_say_what_was_left_out() {
    let findings = vec![
        finding(Level::Note, Kind::Fail, 0),
        finding(Level::Error, Kind::Pass, 0),
        finding(Level::Error, Kind::Fail, 5),
        finding(Level::Warning, Kind::Fail, 0),
    ];
    let reports = [FileReport {
        artifact: "a.wasm".into(),
        policy: "p.toml".into(),
        findings,
    }];
    let limits = Limits {
        results: 2,
        locations: 3,
    };
    let log = serde_json::to_value(sarif_within(&reports, &[], "0", false, limits)).unwrap();
    let run = &log["runs"][0];
    let kept: Vec<(&str, &str)> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["level"].as_str().unwrap(), r["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(kept, [("error", "fail"), ("warning", "fail")]);
    let steps = &run["results"][0]["codeFlows"][0]["threadFlows"][0]["locations"];
    assert_eq!(steps.as_array().unwrap().len(), 3);
    let notes: Vec<&str> = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["message"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[0].starts_with("2 of 4 results are left out")
            && notes[0].contains("0 errors, 0 warnings, 1 notes and 1 suppressed or passing"),
        "{}",
        notes[0]
    );
    assert!(
        notes[1].starts_with("1 witness paths are cut"),
        "{}",
        notes[1]
    );

    // Within the limits: everything, and no invocation at all.
    let log = serde_json::to_value(sarif(&reports, &[], "0", false)).unwrap();
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 4);
    assert!(log["runs"][0].get("invocations").is_none());
}

/// A binary that could not be checked is an error notification (its untrusted name escaped)
/// and the run is not successful; the results of the others are all there.
#[test]
fn binaries_not_checked_are_error_notifications() {
    let reports = vec![FileReport {
        artifact: "a.wasm".into(),
        policy: "p.toml".into(),
        findings: vec![finding(Level::Error, Kind::Fail, 1)],
    }];
    let failed = [Failed {
        artifact: "bad\u{202e}[x](y).wasm".into(),
        error: "malformed at byte offset 0x9".into(),
        policy: "p.toml".into(),
    }];
    let log = serde_json::to_value(sarif(&reports, &failed, "0", false)).unwrap();
    let run = &log["runs"][0];
    assert_eq!(run["results"].as_array().unwrap().len(), 1);
    let inv = &run["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    let notes = inv["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["level"], "error");
    let text = notes[0]["message"]["text"].as_str().unwrap();
    assert!(text.contains("could not be checked") && text.contains("byte offset 0x9"));
    assert!(
        !text.contains('\u{202e}') && !text.contains("[x]"),
        "{text}"
    );
}
