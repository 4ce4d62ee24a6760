//! The CLI's contract: exit codes, error messages with byte offsets, stdin input.

use crate::common::run;

#[test]
fn malformed_inputs_exit_2_with_an_offset() {
    let copy = std::fs::read(crate::common::root().join("corpus/c/copy.wasm")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", copy[..copy.len() / 2].to_vec()),
        (
            "random bytes",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
        ("text file", b"(module)\nthis is not a binary\n".to_vec()),
        ("empty", Vec::new()),
    ];
    for (what, bytes) in cases {
        let (code, stdout, stderr) = run(&["inspect", "-"], Some(&bytes));
        assert_eq!(code, 2, "{what}: exit code (stderr: {stderr})");
        assert!(stdout.is_empty(), "{what}: nothing on stdout");
        assert!(stderr.starts_with("error: "), "{what}: {stderr}");
        assert!(
            stderr.contains("byte offset"),
            "{what}: message names the offset: {stderr}"
        );
    }
}

#[test]
fn missing_file_and_bad_usage_exit_2() {
    let (code, _, stderr) = run(&["inspect", "no/such/file.wasm"], None);
    assert_eq!(code, 2);
    assert!(stderr.contains("no/such/file.wasm"), "{stderr}");
    let (code, _, _) = run(&["inspect", "--format", "yaml", "x.wasm"], None);
    assert_eq!(code, 2);
    let (code, _, _) = run(&["no-such-command"], None);
    assert_eq!(code, 2);
}

#[test]
fn help_documents_exit_codes_and_model() {
    let (code, stdout, _) = run(&["--help"], None);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Exit status:") && stdout.contains("re-enter"),
        "{stdout}"
    );
    for sub in ["inspect", "graph"] {
        let (code, stdout, _) = run(&[sub, "--help"], None);
        assert_eq!(code, 0);
        assert!(
            stdout.contains("Examples:") && stdout.contains("Exit status:"),
            "{sub}: {stdout}"
        );
    }
}

/// Regression: `check` analyses files on the rayon pool; linking a component used to block a
/// pool worker on a helper thread that itself waited for pool work, which hung with one
/// thread (and could with two). Components and modules, one pool thread, must finish.
#[test]
fn check_of_components_on_one_thread_finishes() {
    use std::time::{Duration, Instant};
    let mut child = crate::common::wasmgate()
        .args([
            "check",
            "--policy",
            "corpus/fixtures/policy/stdio-only.toml",
            "corpus/c",
        ])
        .current_dir(crate::common::root())
        .env("RAYON_NUM_THREADS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("wasmgate check hung with RAYON_NUM_THREADS=1");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        status.code(),
        Some(1),
        "the copier violates the stdio-only policy"
    );
}

/// Regression (found reading the loader while fuzzing): `extends` naming a device must fail
/// with a diagnostic, not read forever.
#[test]
fn extends_of_a_device_is_an_error_not_a_hang() {
    let dir = std::env::temp_dir().join(format!("wasmgate-extends-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("dev.toml");
    std::fs::write(
        &policy,
        "extends = \"/dev/zero\"\n[capabilities]\nallow = [\"stdio\"]\n",
    )
    .unwrap();
    let (code, _, stderr) = run(
        &[
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "corpus/c/compute.wasm",
        ],
        None,
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("not a regular file") && stderr.contains("1:12"),
        "{stderr}"
    );
}

/// `graph --format json` carries the same call sites (with narrowed capabilities) as the
/// analysis, so an outside tool can recompute reachability from either.
#[test]
fn graph_json_lists_the_analysis_call_sites() {
    let (code, graph, err) = run(&["graph", "--format", "json", "corpus/c/copy.wasm"], None);
    assert_eq!(code, 0, "{err}");
    let (code, inspect, err) = run(&["inspect", "--format", "json", "corpus/c/copy.wasm"], None);
    assert_eq!(code, 0, "{err}");
    let graph: serde_json::Value = serde_json::from_str(&graph).unwrap();
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let sites = &graph["graphs"][0]["sites"];
    assert!(sites.as_array().is_some_and(|s| !s.is_empty()), "{sites}");
    assert_eq!(sites, &inspect["module"]["call_graph"]["sites"]);
}
