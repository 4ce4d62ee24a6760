//! `wasmgate run` on WASI 0.2 components (hand-written ones in corpus/sandbox/ and the
//! componentized C programs in corpus/c/), network grants, and `--invoke` on core modules.
#![cfg(feature = "sandbox")]

use std::path::Path;

use serde_json::Value;

use crate::common::root;
use crate::sandbox::{compile, denial_key, json_run, run, tree};

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn trace_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn component_clock_and_sleep_trace_byte_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = compile(&root().join("corpus/sandbox/clock_p2.wat"), tmp.path());
    let mut traces = Vec::new();
    for i in 0..2 {
        let trace = tmp.path().join(format!("t{i}.jsonl"));
        // A real 1.5 s sleep would still finish; the virtual time below shows it did not happen.
        let (code, v) = json_run(&wasm, &["--trace", trace.to_str().unwrap()]);
        assert_eq!((code, v["outcome"].as_str()), (0, Some("exit(0)")), "{v:#}");
        assert_eq!(v["entries"], serde_json::json!(["wasi:cli/run@0.2.0#run"]));
        // Two monotonic reads of one tick each, two wall reads of one tick each, and the sleep.
        assert_eq!(v["virtual_time_ns"], 1_500_000_000u64 + 4 * 1_000, "{v:#}");
        traces.push(std::fs::read(&trace).unwrap());
    }
    assert_eq!(traces[0], traces[1]);
    let calls = trace_lines(&tmp.path().join("t0.jsonl"));
    let got: Vec<&str> = calls.iter().map(|c| c["call"].as_str().unwrap()).collect();
    assert_eq!(
        got,
        [
            "wasi:clocks/wall-clock@0.2.0#now",
            "wasi:clocks/monotonic-clock@0.2.0#now",
            "wasi:clocks/monotonic-clock@0.2.0#subscribe-duration",
            "wasi:io/poll@0.2.0#[method]pollable.block",
            "wasi:clocks/wall-clock@0.2.0#now",
            "wasi:clocks/monotonic-clock@0.2.0#now",
            "wasi:random/random@0.2.0#get-random-u64",
        ]
    );
    assert_eq!(calls[2]["args"]["when"], 1_500_000_000u64);
    // Virtual clocks: the wall clock starts at 2000-01-01T00:00:00Z plus one tick.
    assert_eq!(
        calls[0]["result"]["ok"],
        "Datetime { seconds: 946684800, nanoseconds: 1000 }"
    );
    assert_eq!(calls[1]["result"]["ok"], 2_000u64);
    assert_eq!(calls[5]["result"]["ok"], 1_500_004_000u64);
}

#[test]
fn socket_component_is_denied_without_a_grant_and_connects_with_one() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let tmp = tempfile::tempdir().unwrap();
    // The escape-suite guest, pointed at the listener's port.
    let text = std::fs::read_to_string(root().join("corpus/sandbox/socket.wat")).unwrap();
    let port_line = "(i32.const 9)                  ;; port";
    assert_eq!(text.matches(port_line).count(), 1);
    let wat = tmp.path().join("socket.wat");
    std::fs::write(
        &wat,
        text.replace(port_line, &format!("(i32.const {port})")),
    )
    .unwrap();
    let wasm = compile(&wat, tmp.path());
    let addr = format!("127.0.0.1:{port}");
    let attempts = |v: &Value| -> Vec<String> {
        v["network"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| format!("{} {} {}", a["use"], a["address"], a["allowed"]))
            .collect()
    };

    // No policy: the connect is refused, recorded, and the guest fails.
    let (code, v) = json_run(&wasm, &[]);
    assert_eq!((code, v["outcome"].as_str()), (1, Some("exit(1)")), "{v:#}");
    assert_eq!(
        attempts(&v),
        [
            "\"tcp-bind\" \"0.0.0.0:0\" true".to_string(),
            format!("\"tcp-connect\" \"{addr}\" false")
        ]
    );
    let denied: Vec<String> = v["denied"]
        .as_array()
        .unwrap()
        .iter()
        .map(denial_key)
        .collect();
    assert_eq!(
        denied,
        [
            format!("[method]pollable.block {addr}"),
            "[method]tcp-socket.finish-connect null".to_string()
        ]
    );

    // A grant of another port on the same IP does not cover it.
    let other = tmp.path().join("other.toml");
    let wrong_port = if port == 9 { 10 } else { 9 };
    std::fs::write(
        &other,
        format!("[sandbox]\nnetwork = [\"127.0.0.1:{wrong_port}\"]\n"),
    )
    .unwrap();
    let (code, v) = json_run(&wasm, &["--policy", other.to_str().unwrap()]);
    assert_eq!((code, v["outcome"].as_str()), (1, Some("exit(1)")), "{v:#}");

    // Granted: it connects, nothing is denied, the address is still recorded.
    let policy = tmp.path().join("net.toml");
    std::fs::write(&policy, format!("[sandbox]\nnetwork = [\"{addr}\"]\n")).unwrap();
    let (code, v) = json_run(&wasm, &["--policy", policy.to_str().unwrap()]);
    assert_eq!((code, v["outcome"].as_str()), (0, Some("exit(0)")), "{v:#}");
    assert_eq!(
        attempts(&v),
        [
            "\"tcp-bind\" \"0.0.0.0:0\" true".to_string(),
            format!("\"tcp-connect\" \"{addr}\" true")
        ]
    );
    assert_eq!(v["denied"], Value::Array(vec![]));
    assert!(v["crosscheck"]["missing"].as_array().unwrap().is_empty());
    drop(listener);
}

#[test]
fn network_grant_that_is_a_host_name_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = compile(&root().join("corpus/sandbox/socket.wat"), tmp.path());
    let policy = tmp.path().join("net.toml");
    std::fs::write(&policy, "[sandbox]\nnetwork = [\"localhost:80\"]\n").unwrap();
    let (code, _, err) = run(&[
        "run",
        wasm.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not IP:PORT or IP:*"), "{err}");
}

#[test]
fn crosscheck_holds_over_the_c_components() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = crate::sandbox::copy_setup(tmp.path());
    let p = policy.to_str().unwrap();
    let copy = root().join("corpus/c/copy.component.wasm");
    let (code, v) = json_run(&copy, &["--policy", p, "--", "/in/a.txt", "/out/b.txt"]);
    assert_eq!((code, v["outcome"].as_str()), (0, Some("exit(0)")), "{v:#}");
    let observed = ids(&v["crosscheck"]["observed"]);
    for must in [
        "wasi:filesystem/types@0.2.12#[method]descriptor.open-at",
        "wasi:filesystem/types@0.2.12#[method]descriptor.read-via-stream",
        "wasi:filesystem/types@0.2.12#[method]descriptor.write-via-stream",
        "wasi:io/streams@0.2.12#[method]output-stream.blocking-write-and-flush",
        "wasi:filesystem/preopens@0.2.12#get-directories",
        "wasi:cli/environment@0.2.12#get-arguments",
    ] {
        assert!(observed.contains(&must.to_string()), "{must}: {observed:?}");
    }
    assert!(v["crosscheck"]["missing"].as_array().unwrap().is_empty());
    assert_eq!(v["entries"], serde_json::json!(["wasi:cli/run@0.2.12#run"]));
    // Only the copy changed: the host's `out/` is still empty.
    assert_eq!(tree(&tmp.path().join("out")).len(), 0);

    // Into a read-only /out the open for writing is refused as read-only.
    let ro = tmp.path().join("ro.toml");
    std::fs::write(
        &ro,
        std::fs::read_to_string(&policy)
            .unwrap()
            .replace("\"rw\"", "\"ro\""),
    )
    .unwrap();
    let (denied, v) = crate::sandbox::copy_failing(&copy, &ro);
    assert_eq!(denied, ["[method]descriptor.open-at b.txt"]);
    assert!(v["crosscheck"]["missing"].as_array().unwrap().is_empty());

    // compute fails its `run` (a WASI 0.2 exit carries ok/err only); envprint prints nothing.
    for (name, code_want, outcome) in [
        ("compute.component.wasm", 1, "exit(1)"),
        ("envprint.component.wasm", 0, "exit(0)"),
    ] {
        let (code, v) = json_run(&root().join("corpus/c").join(name), &[]);
        assert_eq!(
            (code, v["outcome"].as_str()),
            (code_want, Some(outcome)),
            "{name}: {v:#}"
        );
        assert!(!ids(&v["crosscheck"]["observed"]).is_empty(), "{name}");
        assert!(
            v["crosscheck"]["missing"].as_array().unwrap().is_empty(),
            "{name}"
        );
    }
}

#[test]
fn run_human_report_of_a_component_snapshot() {
    let (code, out, err) = crate::sandbox::run_suite_guest("socket");
    assert_eq!(code, 1, "{err}");
    insta::assert_snapshot!("run-human-socket-component", out);
}

/// A WASI reactor: `_initialize` draws random bytes, `mix` computes from its arguments.
const REACTOR: &str = r#"(module
  (import "wasi_snapshot_preview1" "random_get" (func $rand (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_initialize") (drop (call $rand (i32.const 0) (i32.const 8))))
  (func (export "mix") (param i32 i64 f32 f64) (result f64)
    (f64.add
      (f64.add (f64.convert_i32_s (local.get 0)) (f64.convert_i64_s (local.get 1)))
      (f64.add (f64.promote_f32 (local.get 2)) (local.get 3))))
  (func (export "quit") (param i32) (call $exit (local.get 0))))"#;

#[test]
fn invoke_calls_a_reactor_export_with_typed_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let wat = tmp.path().join("reactor.wat");
    std::fs::write(&wat, REACTOR).unwrap();
    let wasm = compile(&wat, tmp.path());
    let trace = tmp.path().join("t.jsonl");
    let (code, v) = json_run(
        &wasm,
        &[
            "--invoke",
            "mix",
            "--trace",
            trace.to_str().unwrap(),
            "--",
            "-2",
            "40",
            "0.5",
            "1.25",
        ],
    );
    assert_eq!((code, v["outcome"].as_str()), (0, Some("exit(0)")), "{v:#}");
    assert_eq!(v["returned"], serde_json::json!([39.75]));
    assert_eq!(v["entries"], serde_json::json!(["_initialize", "mix"]));
    // `_initialize` ran first, and the cross-check counts it as an entry that ran.
    let calls = trace_lines(&trace);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["call"], "wasi_snapshot_preview1#random_get");
    assert!(
        v["crosscheck"]["missing"].as_array().unwrap().is_empty(),
        "{v:#}"
    );

    // An export that exits: the outcome is its exit status.
    let (code, v) = json_run(&wasm, &["--invoke", "quit", "--", "7"]);
    assert_eq!((code, v["outcome"].as_str()), (1, Some("exit(7)")), "{v:#}");
}

#[test]
fn invoke_mismatches_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let wat = tmp.path().join("reactor.wat");
    std::fs::write(&wat, REACTOR).unwrap();
    let wasm = compile(&wat, tmp.path());
    let w = wasm.to_str().unwrap();
    for (args, message) in [
        (
            &["--invoke", "mix", "--", "1"][..],
            "takes 4 argument(s) (i32, i64, f32, f64), 1 given",
        ),
        (
            &["--invoke", "mix", "--", "1.5", "2", "3", "4"][..],
            "argument 1 of \"mix\": \"1.5\" is not an i32",
        ),
        (
            &["--invoke", "nope"][..],
            "exports no function named \"nope\"",
        ),
        (
            &["--invoke", "memory"][..],
            "exports no function named \"memory\"",
        ),
    ] {
        let mut a = vec!["run", w];
        a.extend_from_slice(args);
        let (code, _, err) = run(&a);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    // A component runs its wasi:cli/run; --invoke is refused.
    let comp = root().join("corpus/c/envprint.component.wasm");
    let (code, _, err) = run(&["run", comp.to_str().unwrap(), "--invoke", "run"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--invoke calls a core module's functions"),
        "{err}"
    );
}
