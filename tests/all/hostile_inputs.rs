//! Hostile inputs besides the binary (issue 9): policy files and their `extends` chains,
//! `wasmgate.toml`, SARIF baselines, standard input and special files, output directories
//! shared with other jobs, the environment. Each test is named after what broke; anything
//! that could hang runs the CLI under a timeout and fails on it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{root, wasmgate};

/// Generous: every command here finishes in well under a second when it works.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Passes corpus/c/compute.wasm (it reaches stdio and proc.exit only).
const COMPUTE_POLICY: &str = "[capabilities]\nallow = [\"stdio\", \"proc.exit\"]\n";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` with a timeout (killing it and panicking on expiry), feeding `stdin`.
fn run_cmd(mut cmd: Command, stdin: Option<Vec<u8>>) -> Out {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    if let Some(bytes) = stdin {
        let mut w = child.stdin.take().unwrap();
        // The child may stop reading early (that is the point of some tests).
        std::thread::spawn(move || {
            let _ = w.write_all(&bytes);
        });
    }
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out after {TIMEOUT:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Out {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
    }
}

/// The CLI in `dir`, without SOURCE_DATE_EPOCH unless the test sets it.
fn cli(dir: &Path, args: &[&str]) -> Command {
    let mut c = wasmgate();
    c.args(args).current_dir(dir).env_remove("SOURCE_DATE_EPOCH");
    c
}

fn run_in(dir: &Path, args: &[&str]) -> Out {
    run_cmd(cli(dir, args), None)
}

/// A shell command (for `exec` tricks: planting files named after its own pid, closing fds,
/// `ulimit`), with the wasmgate binary as `$W`.
fn sh(dir: &Path, script: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("W", env!("CARGO_BIN_EXE_wasmgate"))
        .env_remove("SOURCE_DATE_EPOCH");
    c
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("wasmgate-hostile-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn compute_wasm() -> PathBuf {
    root().join("corpus/c/compute.wasm")
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

// ---- security -----------------------------------------------------------------------------

/// Regression: `-o` wrote `.NAME.PID.tmp` with `File::create`, which follows a planted
/// symlink: `check -o report.sarif` overwrote the link's target and left the report a link.
#[test]
fn planted_temp_file_symlinks_do_not_redirect_the_report() {
    let dir = tmp();
    let d = dir.path();
    std::fs::write(d.join("victim"), "precious\n").unwrap();
    std::fs::write(d.join("policy.toml"), COMPUTE_POLICY).unwrap();
    // `exec` keeps the shell's pid, so the links carry the pid wasmgate runs under.
    let script = r#"ln -s victim ".report.sarif.$$.tmp" && ln -s victim ".policy.toml.$$.tmp" &&
        exec "$W" check --policy policy.toml "$WASM" --format sarif -o report.sarif"#;
    let mut cmd = sh(d, script);
    cmd.env("WASM", compute_wasm());
    let out = run_cmd(cmd, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(d.join("victim")).unwrap(), "precious\n");
    let meta = std::fs::symlink_metadata(d.join("report.sarif")).unwrap();
    assert!(meta.file_type().is_file(), "the report is a regular file");
    let report = std::fs::read_to_string(d.join("report.sarif")).unwrap();
    assert!(report.contains("\"version\": \"2.1.0\""), "{report}");
    // The same write path serves `policy init -o`.
    let mut cmd = sh(
        d,
        r#"ln -s victim ".init.toml.$$.tmp" && exec "$W" policy init "$WASM" -o init.toml"#,
    );
    cmd.env("WASM", compute_wasm());
    let out = run_cmd(cmd, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(d.join("victim")).unwrap(), "precious\n");
    assert!(
        std::fs::symlink_metadata(d.join("init.toml"))
            .unwrap()
            .is_file()
    );
}

/// A module whose export is *named* `<start>` and reaches the same imports as the real start
/// function of [`REAL_START`].
const FAKE_START: &str = r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $send (param i32 i32 i32 i32 i32) (result i32)))
  (memory 1 1)
  (func $f
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                      (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0)))
    (drop (call $send (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))))
  (export "<start>" (func $f)))"#;

/// The same code as the module's real start function.
const REAL_START: &str = r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $send (param i32 i32 i32 i32 i32) (result i32)))
  (memory 1 1)
  (func $f
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                      (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0)))
    (drop (call $send (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))))
  (start $f))"#;

/// WG0001 findings of a `check --format json` run: (entry kind, subject, suppressed).
fn wg0001(stdout: &str) -> Vec<(String, String, bool)> {
    let v: serde_json::Value = serde_json::from_str(stdout).unwrap();
    let mut out: Vec<(String, String, bool)> = v["files"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "WG0001")
        .map(|f| {
            (
                f["location"]["entry_kind"].as_str().unwrap().to_string(),
                f["subject"].as_str().unwrap().to_string(),
                !f["suppressed"].is_null(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Regression: fingerprints hashed the entry point's name only, so a baseline taken from a
/// build exporting a function named `<start>` accepted a later build whose real start
/// function reached the file system and the network.
#[test]
fn an_export_named_start_does_not_baseline_the_real_start_function() {
    let dir = tmp();
    let d = dir.path();
    std::fs::write(d.join("policy.toml"), "[capabilities]\nallow = [\"stdio\"]\n").unwrap();
    let check = |wat_text: &str, extra: &[&str]| {
        std::fs::write(d.join("app.wasm"), wat::parse_str(wat_text).unwrap()).unwrap();
        let mut args = vec!["check", "--policy", "policy.toml", "app.wasm"];
        if !extra.contains(&"--format") {
            args.extend(["--format", "json"]);
        }
        args.extend_from_slice(extra);
        run_in(d, &args)
    };
    let sarif = |name: &'static str| ["--format", "sarif", "-o", name];

    let fake = check(FAKE_START, &[]);
    assert_eq!(fake.code, 1, "{}", fake.stderr);
    let fake_findings = wg0001(&fake.stdout);
    assert!(fake_findings.iter().any(|(_, c, _)| c == "net.io"), "{fake_findings:?}");
    assert!(fake_findings.iter().all(|(k, _, _)| k == "export"), "{fake_findings:?}");
    assert_eq!(check(FAKE_START, &sarif("fake.sarif")).code, 1);
    assert_eq!(check(REAL_START, &sarif("real.sarif")).code, 1);

    // The real build against its own baseline: everything is unchanged (baselines work).
    let own = check(REAL_START, &["--baseline", "real.sarif"]);
    assert_eq!(own.code, 0, "{}", own.stderr);
    // Against the spoofing build's baseline: each capability the fake `<start>` export
    // reached is reached by the real start function, and is new.
    let spoofed = check(REAL_START, &["--baseline", "fake.sarif"]);
    assert_eq!(spoofed.code, 1, "{}", spoofed.stderr);
    let want: Vec<(String, String, bool)> = fake_findings
        .iter()
        .map(|(_, c, _)| ("start".to_string(), c.clone(), false))
        .collect();
    assert_eq!(wg0001(&spoofed.stdout), want);
}
