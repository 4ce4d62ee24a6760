//! Hostile inputs besides the binary (issue 9): policy files and their `extends` chains,
//! `wasmgate.toml`, SARIF baselines, standard input and special files, output directories
//! shared with other jobs, the environment. Each test is named after what broke; anything
//! that could hang runs the CLI under a timeout and fails on it.

use std::io::Write;
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

/// Runs `cmd` with [`TIMEOUT`] (killing it and panicking on expiry), feeding `stdin`.
fn run_cmd(cmd: Command, stdin: Option<Vec<u8>>) -> Out {
    run_cmd_full(cmd, stdin, TIMEOUT)
}

fn run_cmd_with(cmd: Command, timeout: Duration) -> Out {
    run_cmd_full(cmd, None, timeout)
}

fn run_cmd_full(cmd: Command, stdin: Option<Vec<u8>>, timeout: Duration) -> Out {
    let (code, stdout, stderr) = crate::common::output_bounded(cmd, stdin, timeout);
    Out {
        code,
        stdout,
        stderr,
    }
}

/// The CLI in `dir`, without SOURCE_DATE_EPOCH unless the test sets it.
fn cli(dir: &Path, args: &[&str]) -> Command {
    let mut c = wasmgate();
    c.args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH");
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
    let victim = std::fs::read_to_string(d.join("victim")).unwrap();
    assert!(victim == "precious\n", "the link's target was overwritten");
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
    let victim = std::fs::read_to_string(d.join("victim")).unwrap();
    assert!(victim == "precious\n", "the link's target was overwritten");
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
    std::fs::write(
        d.join("policy.toml"),
        "[capabilities]\nallow = [\"stdio\"]\n",
    )
    .unwrap();
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
    assert!(
        fake_findings.iter().any(|(_, c, _)| c == "net.io"),
        "{fake_findings:?}"
    );
    assert!(
        fake_findings.iter().all(|(k, _, _)| k == "export"),
        "{fake_findings:?}"
    );
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

/// Loads `child` extending `parent` (both written to a fresh directory); the rendered
/// diagnostics on failure.
fn load_child(parent: &str, child: &str) -> Result<wasmgate_policy::ValidPolicy, String> {
    let dir = tmp();
    std::fs::write(dir.path().join("parent.toml"), parent).unwrap();
    let path = dir.path().join("child.toml");
    std::fs::write(&path, format!("extends = \"parent.toml\"\n{child}")).unwrap();
    wasmgate_policy::load(&path).map_err(|e| match e {
        wasmgate_policy::LoadError::Invalid { rendered, .. } => rendered,
        other => other.to_string(),
    })
}

/// Regression: a child policy could add `[[waivers]]` or grant `[sandbox]` access its parent
/// did not, without `widen`. Every way a child can accept more than its parent (the list in
/// the README) is rejected without its `widen` entry and accepted with it.
#[test]
fn every_widening_of_a_parent_needs_its_widen_entry() {
    // (widen entry, parent, child, text of the error without the entry)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "capability:fs.read",
            "[capabilities]\nallow = [\"stdio\"]\n",
            "[capabilities]\nallow = [\"stdio\", \"fs.read\"]\n",
            "`fs.read` widens the parent policy",
        ),
        (
            "import:wasi_snapshot_preview1#path_open",
            "[imports]\nallow = [\"wasi_snapshot_preview1#fd_*\"]\n",
            "[imports]\nallow = [\"wasi_snapshot_preview1#path_open\"]\n",
            "`wasi_snapshot_preview1#path_open` widens the parent policy",
        ),
        (
            "feature:threads",
            "",
            "[features]\nallow = [\"threads\"]\n",
            "`threads` widens the parent policy",
        ),
        (
            "limit:max_memory_pages",
            "[limits]\nmax_memory_pages = 16\n",
            "[limits]\nmax_memory_pages = 17\n",
            "`limits.max_memory_pages` raises the parent's limit of 16",
        ),
        (
            "limit:max_table_elements",
            "[limits]\nmax_table_elements = 10\n",
            "[limits]\nmax_table_elements = 11\n",
            "`limits.max_table_elements` raises the parent's limit of 10",
        ),
        (
            "limit:require_memory_maximum",
            "",
            "[limits]\nrequire_memory_maximum = false\n",
            "`limits.require_memory_maximum = false` widens the parent policy",
        ),
        (
            "limit:bounds",
            "[bounds]\nsegments = true\n",
            "[bounds]\nsegments = false\n",
            "`bounds.segments = false` switches off the parent's check",
        ),
        (
            "limit:bounds",
            "[bounds.globals]\n\"env#__memory_base\" = { min = 0, max = 100 }\n",
            "[bounds.globals]\n\"env#__memory_base\" = { min = 0, max = 99 }\n",
            "the range of `env#__memory_base` is narrower than the parent's 0..=100",
        ),
        (
            "level:WG0004",
            "",
            "[levels]\ndeclared-import-unreachable = \"off\"\n",
            "lowering the level of WG0004 widens the parent policy",
        ),
        (
            "waiver:capability-not-allowed",
            "[capabilities]\nallow = [\"stdio\"]\n",
            "[[waivers]]\nrule = \"WG0001\"\ntarget = \"*\"\nreason = \"silence the parent\"\n",
            "a waiver of WG0001 widens the parent policy",
        ),
        (
            "analysis:assume_no_reentry",
            "",
            "assume_no_reentry = true\n",
            "`assume_no_reentry = true` widens the parent policy",
        ),
        (
            "sandbox:grants",
            "",
            "[sandbox]\nenv = [\"HOME\"]\n",
            "`[sandbox]` grants more than the parent policy: env \"HOME\"",
        ),
        (
            "sandbox:grants",
            "[sandbox]\nnetwork = [\"example.com:443\"]\nfuel = 10\n",
            "[sandbox]\nnetwork = [\"*:443\"]\nfuel = 11\n",
            "grants more than the parent policy: network \"*:443\", fuel 11 > 10",
        ),
        (
            "sandbox:grants",
            "[[sandbox.preopens]]\nhost = \"data\"\nguest = \"/d\"\nmode = \"ro\"\n",
            "[[sandbox.preopens]]\nhost = \"./data\"\nguest = \"/d\"\nmode = \"rw\"\n",
            "grants more than the parent policy: preopen \"./data\" -> \"/d\" (rw)",
        ),
        (
            "sandbox:grants",
            "",
            "[sandbox]\ntime_ms = 5\n",
            "time_ms 5 (the parent leaves it unset)",
        ),
    ];
    for (entry, parent, child, error) in cases {
        let err = load_child(parent, child).err().unwrap_or_default();
        assert!(
            err.contains(error),
            "{entry}: expected {error:?} in:\n{err}"
        );
        assert!(
            err.contains("add `widen = [\""),
            "{entry}: the note says how:\n{err}"
        );
        let widened = format!("widen = [\"{entry}\"]\n{child}");
        if let Err(e) = load_child(parent, &widened) {
            panic!("{entry}: still rejected with its widen entry:\n{e}");
        }
    }
    // Narrowing needs no entry: a subset of the parent's sandbox, a lower limit, a waiver-free
    // child, a raised level.
    for (parent, child) in [
        (
            "[sandbox]\nenv = [\"HOME\", \"LANG\"]\nfuel = 10\n[[sandbox.preopens]]\nhost = \"data\"\nguest = \"/d\"\nmode = \"rw\"\n",
            "[sandbox]\nenv = [\"HOME\"]\nfuel = 5\n[[sandbox.preopens]]\nhost = \"./x/../data\"\nguest = \"/d\"\nmode = \"ro\"\n",
        ),
        (
            "[limits]\nmax_memory_pages = 16\n",
            "[limits]\nmax_memory_pages = 8\n",
        ),
        ("", "[levels]\ndeclared-import-unreachable = \"error\"\n"),
    ] {
        if let Err(e) = load_child(parent, child) {
            panic!("narrowing rejected:\n{parent}\n--\n{child}\n{e}");
        }
    }
    // `export:NAME` cannot be refused (a child cannot drop a restriction any other way): with
    // it the parent's restriction is gone, without it both restrictions apply.
    let parent = "[exports.restrict]\nrender = [\"stdio\"]\n";
    let child = "[exports.restrict]\nrender = [\"stdio\", \"fs.read\"]\n";
    let caps = |p: &wasmgate_policy::ValidPolicy| -> Vec<Vec<String>> {
        p.restrict
            .iter()
            .map(|r| r.capabilities.iter().map(|c| c.value.clone()).collect())
            .collect()
    };
    assert_eq!(caps(&load_child(parent, child).unwrap()).len(), 2);
    let widened = load_child(parent, &format!("widen = [\"export:render\"]\n{child}")).unwrap();
    assert_eq!(
        caps(&widened),
        vec![vec!["stdio".to_string(), "fs.read".to_string()]]
    );
    // Values a `widen` kind does not take are errors, not silently ignored.
    for bad in [
        "limit:max_pages",
        "sandbox:env",
        "level:no-such-rule",
        "waiver:WG9999",
        "analysis:assume_everything",
        "socket:x",
    ] {
        let err = load_child("", &format!("widen = [\"{bad}\"]\n"))
            .err()
            .unwrap_or_default();
        assert!(err.contains("bad `widen` entry"), "{bad}: {err}");
    }
}

// ---- dates --------------------------------------------------------------------------------

/// Regression: SOURCE_DATE_EPOCH was converted with `as i32`, so a huge value wrapped the
/// year into the past, where an expired waiver held again and the check passed.
#[test]
fn dates_outside_the_supported_range_exit_2() {
    let dir = tmp();
    let d = dir.path();
    std::fs::write(
        d.join("policy.toml"),
        "[capabilities]\nallow = [\"stdio\"]\n[[waivers]]\nrule = \"WG0001\"\ntarget = \"*\"\n\
         reason = \"until the end of 2026\"\nexpires = \"2026-12-31\"\n",
    )
    .unwrap();
    let wasm = compute_wasm();
    let args = ["check", "--policy", "policy.toml", wasm.to_str().unwrap()];
    let with_epoch = |epoch: &str| {
        let mut c = cli(d, &args);
        c.env("SOURCE_DATE_EPOCH", epoch);
        run_cmd(c, None)
    };
    // In range: the waiver holds before its date and not after.
    assert_eq!(with_epoch("1767225600").code, 0); // 2026-01-01
    assert_eq!(with_epoch("1798761600").code, 1); // 2027-01-01
    // Year 2^32 + 2000 used to wrap to 2000, before the expiry.
    for epoch in [
        "135536014634284800",
        "253402300800",
        "-1",
        "9223372036854775807",
    ] {
        let out = with_epoch(epoch);
        assert_eq!(out.code, 2, "{epoch}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("outside the supported dates 1970-01-01..=9999-12-31"),
            "{}",
            out.stderr
        );
    }
    let now = |date: &str| {
        let mut a = args.to_vec();
        a.extend(["--now", date]);
        run_in(d, &a)
    };
    assert_eq!(now("2026-06-01").code, 0);
    assert_eq!(now("9999-12-31").code, 1);
    for date in ["1969-12-31", "0000-01-01"] {
        let out = now(date);
        assert_eq!(out.code, 2, "{date}");
        assert!(
            out.stderr.contains("outside the supported dates"),
            "{}",
            out.stderr
        );
    }
}

// ---- special files, endless streams, caps ------------------------------------------------

/// Regression: `--policy`, `extends`, `--baseline`, `wasmgate.toml` and binaries were opened
/// before their type was checked, and opening a FIFO blocks until a writer comes: each hung.
#[test]
fn fifos_are_refused_or_skipped_without_blocking() {
    let dir = tmp();
    let d = dir.path();
    mkfifo(&d.join("fifo"));
    std::fs::create_dir(d.join("walk")).unwrap();
    mkfifo(&d.join("walk/pipe.wasm"));
    std::fs::copy(compute_wasm(), d.join("walk/app.wasm")).unwrap();
    std::fs::copy(compute_wasm(), d.join("app.wasm")).unwrap();
    std::fs::write(d.join("policy.toml"), COMPUTE_POLICY).unwrap();
    std::fs::write(d.join("child.toml"), "extends = \"fifo\"\n").unwrap();
    let refused: &[&[&str]] = &[
        &["check", "--policy", "fifo", "app.wasm"],
        &["check", "--policy", "child.toml", "app.wasm"],
        &[
            "check",
            "--policy",
            "policy.toml",
            "app.wasm",
            "--baseline",
            "fifo",
        ],
        &["check", "--policy", "policy.toml", "walk/pipe.wasm"],
        &["inspect", "fifo"],
        &["graph", "fifo"],
        &["policy", "init", "fifo"],
    ];
    for args in refused {
        let out = run_in(d, args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("not a regular file"),
            "{args:?}: {}",
            out.stderr
        );
    }
    // wasmgate.toml as a FIFO.
    let proj = tmp();
    mkfifo(&proj.path().join("wasmgate.toml"));
    std::fs::copy(compute_wasm(), proj.path().join("app.wasm")).unwrap();
    let out = run_in(proj.path(), &["check", "app.wasm"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    // In a walk the FIFO is skipped with a warning, and the rest is checked.
    let out = run_in(
        d,
        &[
            "check",
            "--policy",
            "policy.toml",
            "walk",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("warning: skipping walk/pipe.wasm: not a regular file"),
        "{}",
        out.stderr
    );
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let files: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["artifact"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["walk/app.wasm"]);
}

/// An endless stream of bytes that are not Wasm, written until the reader goes away.
fn endless(byte_pattern: &'static [u8]) -> Vec<u8> {
    byte_pattern.repeat((64 << 20) / byte_pattern.len())
}

/// Regression: `yes | wasmgate inspect -`, `inspect /dev/zero` and `--baseline /dev/zero`
/// read until memory ran out. The magic is checked first, devices are refused, and every
/// read is capped (256 MiB for binaries and baselines).
#[test]
fn endless_and_oversized_inputs_stop_early() {
    let dir = tmp();
    let d = dir.path();
    std::fs::write(d.join("p.toml"), COMPUTE_POLICY).unwrap();
    std::fs::copy(compute_wasm(), d.join("app.wasm")).unwrap();
    // 64 MiB of `y\n` (more than the pipe holds): rejected at the magic, long before the end.
    let out = run_cmd(cli(d, &["inspect", "-"]), Some(endless(b"y\n")));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("not a WebAssembly binary") && out.stderr.contains("byte offset 0"),
        "{}",
        out.stderr
    );
    for args in [
        &["inspect", "/dev/zero"][..],
        &["check", "--policy", "p.toml", "/dev/zero"],
        &["check", "--policy", "/dev/zero", "app.wasm"],
    ] {
        let out = run_in(d, args);
        assert_eq!(out.code, 2, "{args:?}");
        assert!(
            out.stderr.contains("not a regular file"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = run_in(
        d,
        &[
            "check",
            "--policy",
            "p.toml",
            "app.wasm",
            "--baseline",
            "/dev/zero",
        ],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    // Files past the caps are refused by their size, before reading (sparse: no disk used).
    let big = |name: &str, head: &[u8]| {
        let f = std::fs::File::create(d.join(name)).unwrap();
        (&f).write_all(head).unwrap();
        f.set_len((256 << 20) + 1).unwrap();
    };
    big("big.wasm", b"\0asm\x01\0\0\0");
    big("big.sarif", b"{");
    let out = run_in(d, &["inspect", "big.wasm"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("larger than the maximum of 256 MiB"),
        "{}",
        out.stderr
    );
    let out = run_in(
        d,
        &[
            "check",
            "--policy",
            "p.toml",
            "app.wasm",
            "--baseline",
            "big.sarif",
        ],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("larger than the maximum of 256 MiB"),
        "{}",
        out.stderr
    );
    // A stream with the magic then more than the cap: stopped at the cap.
    let mut stream = b"\0asm\x01\0\0\0".to_vec();
    stream.resize((256 << 20) + 16, 0);
    let out = run_cmd(cli(d, &["inspect", "-"]), Some(stream));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("larger than the maximum of 256 MiB"),
        "{}",
        out.stderr
    );
}

// ---- policy loader bounds ----------------------------------------------------------------

/// Regression: each `extends` recursed, so a chain of a few thousand files overflowed the
/// stack (exit 134). The chain is followed iteratively and capped at 32 policies.
#[test]
fn long_extends_chains_are_capped_not_a_stack_overflow() {
    let dir = tmp();
    let d = dir.path();
    let chain = |n: usize| {
        for i in 0..n {
            let text = if i + 1 < n {
                format!("extends = \"p{}.toml\"\n", i + 1)
            } else {
                COMPUTE_POLICY.to_string()
            };
            std::fs::write(d.join(format!("p{i}.toml")), text).unwrap();
        }
    };
    let wasm = compute_wasm();
    let check = || run_in(d, &["check", "--policy", "p0.toml", wasm.to_str().unwrap()]);
    chain(32);
    let out = check();
    assert_eq!(out.code, 0, "32 policies are fine: {}", out.stderr);
    chain(33);
    let out = check();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("`extends` chain longer than 32 policies")
            && out.stderr.contains("p31.toml:1:12"),
        "{}",
        out.stderr
    );
    chain(5000);
    let out = check();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`extends` chain longer than 32 policies"),
        "{}",
        out.stderr
    );
}

/// Regression: 10,000 unknown capabilities on one 40 KB line took 23 s and printed 604 MB:
/// each diagnostic re-rendered the whole line and the whole vocabulary note.
#[test]
fn thousands_of_bad_entries_on_one_line_give_bounded_diagnostics() {
    let dir = tmp();
    let d = dir.path();
    let entries: Vec<String> = (0..10_000).map(|i| format!("\"bad{i}\"")).collect();
    std::fs::write(
        d.join("p.toml"),
        format!("[capabilities]\nallow = [{}]\n", entries.join(", ")),
    )
    .unwrap();
    let wasm = compute_wasm();
    let out = run_in(d, &["check", "--policy", "p.toml", wasm.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    let err = &out.stderr;
    assert!(err.len() < 64 << 10, "{} bytes of diagnostics", err.len());
    assert_eq!(
        err.matches("error: unknown capability").count(),
        50,
        "{err}"
    );
    assert!(
        err.contains("error: 9950 more errors in p.toml not shown"),
        "{err}"
    );
    assert!(err.contains("policy p.toml has 10000 errors"), "{err}");
    assert_eq!(
        err.matches("known capabilities:").count(),
        1,
        "the vocabulary once: {err}"
    );
    let longest = err.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(longest < 300, "a line of {longest} characters");
    // Real columns survive the window (`allow = ["` is 10 characters, each entry 8).
    assert!(err.contains("p.toml:2:11\n"), "{err}");
    assert!(err.contains("p.toml:2:51\n"), "{err}");
}

/// Regression: a 64 MB array of 16M entries (under the file cap) took 2.7 GB in the parser.
/// Values are counted before parsing; the test bounds the process's address space, so a
/// loader that parsed first would die of it rather than answer.
#[test]
fn huge_arrays_are_refused_before_parsing_within_bounded_memory() {
    let dir = tmp();
    let d = dir.path();
    let n = 8_000_000;
    let mut text = String::with_capacity(2 * n + 40);
    text.push_str("[sandbox]\nenv = [");
    for _ in 0..n {
        text.push_str("1,");
    }
    text.push_str("]\n");
    std::fs::write(d.join("huge.toml"), text).unwrap();
    let mut cmd = sh(
        d,
        "ulimit -v 1500000 && exec \"$W\" check --policy huge.toml \"$WASM\"",
    );
    cmd.env("WASM", compute_wasm());
    let out = run_cmd(cmd, None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("policy holds more than the maximum of 2000000 values"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.len() < 4096, "{}", out.stderr);
}

/// Regression: `**` in `wasmgate.toml` backtracked exponentially (ten of them against a path
/// 40 directories deep never finished).
#[test]
fn double_stars_in_the_project_file_match_in_linear_time() {
    let dir = tmp();
    let d = dir.path();
    let deep: PathBuf = (0..40).map(|_| "a").collect();
    std::fs::create_dir_all(d.join(&deep)).unwrap();
    std::fs::copy(compute_wasm(), d.join(&deep).join("app.wasm")).unwrap();
    std::fs::write(d.join("p.toml"), COMPUTE_POLICY).unwrap();
    let pattern = "**/a/".repeat(10) + "nothing.wasm";
    std::fs::write(
        d.join("wasmgate.toml"),
        format!("[[policy]]\npaths = [\"{pattern}\"]\npolicy = \"none.toml\"\n\n[[policy]]\npaths = [\"**/a/**/app.wasm\"]\npolicy = \"p.toml\"\n"),
    )
    .unwrap();
    let out = run_in(d, &["check", "."]);
    assert_eq!(out.code, 0, "the second entry applies: {}", out.stderr);
}

/// Regression: `eprint!` panicked (exit 101) when standard error was closed or a broken
/// pipe; the error is now dropped quietly and the exit status still says 2.
#[test]
fn closed_or_broken_stderr_does_not_panic() {
    let dir = tmp();
    let out = run_cmd(
        sh(dir.path(), "exec \"$W\" inspect /nonexistent 2>&-"),
        None,
    );
    assert_eq!(out.code, 2);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = cli(dir.path(), &["inspect", "/nonexistent"])
        .stdout(Stdio::null())
        .stderr(writer)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
    // The policy diagnostics path too.
    std::fs::write(
        dir.path().join("bad.toml"),
        "[capabilities]\nallow = [\"nope\"]\n",
    )
    .unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = cli(
        dir.path(),
        &[
            "check",
            "--policy",
            "bad.toml",
            compute_wasm().to_str().unwrap(),
        ],
    )
    .stdout(Stdio::null())
    .stderr(writer)
    .status()
    .unwrap();
    assert_eq!(status.code(), Some(2));
}

// ---- the directory walk (from issue 8) ---------------------------------------------------

/// Regression: the walk followed symlinks without a loop check: `a/up -> ..` and
/// `self -> .` made it never finish, and one link listed each file dozens of times. Links
/// are followed, loops skipped, each file checked once; hidden, `target/` and
/// `node_modules/` directories are skipped and `.gitignore` is not honoured.
#[test]
fn walk_survives_link_cycles_and_checks_each_file_once() {
    let dir = tmp();
    let d = dir.path();
    let tree = d.join("tree");
    for sub in ["a/b", "c", ".hidden", "target", "node_modules/m"] {
        std::fs::create_dir_all(tree.join(sub)).unwrap();
    }
    for f in [
        "top.wasm",
        "a/one.wasm",
        "a/b/two.wasm",
        "c/three.wasm",
        ".hidden/h.wasm",
        "target/t.wasm",
        "node_modules/m/n.wasm",
    ] {
        std::fs::copy(compute_wasm(), tree.join(f)).unwrap();
    }
    std::fs::write(tree.join(".gitignore"), "*.wasm\n").unwrap();
    std::os::unix::fs::symlink("..", tree.join("a/up")).unwrap();
    std::os::unix::fs::symlink(".", tree.join("self")).unwrap();
    std::os::unix::fs::symlink("a/b", tree.join("c/again")).unwrap();
    std::os::unix::fs::symlink("../top.wasm", tree.join("c/top-link.wasm")).unwrap();
    std::fs::write(d.join("p.toml"), COMPUTE_POLICY).unwrap();
    let out = run_in(
        d,
        &["check", "--policy", "p.toml", "tree", "--format", "json"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let files: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["artifact"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "tree/a/b/two.wasm",
            "tree/a/one.wasm",
            "tree/c/three.wasm",
            "tree/c/top-link.wasm"
        ],
        "each file once, in walk order, under the first path it is reached by"
    );
    // Naming a file twice checks it once too.
    let out = run_in(
        d,
        &[
            "check",
            "--policy",
            "p.toml",
            "tree/top.wasm",
            "tree/c/top-link.wasm",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), 1, "{}", out.stdout);
    let help = run_in(d, &["check", "--help"]);
    for skipped in [
        "hidden directories",
        "`target/`",
        "`node_modules/`",
        "`.gitignore` is not",
    ] {
        assert!(help.stdout.contains(skipped), "{skipped}: {}", help.stdout);
    }
}

// ---- property test over policy text ------------------------------------------------------

/// xorshift64*: a seeded generator, so a failing case is reproducible from its number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Pieces that hostile policy text is made of: the loader's own keys and shapes, plus what
/// breaks parsers (quotes, escapes, brackets, control and bidi characters, huge numbers).
/// Keys beyond the loader's own (`ACCEPTED_KEYS`, in order): rule names and key syntax.
const EXTRA_KEYS: &[&str] = &[
    "WG0001",
    "capability-not-allowed",
    "\"quoted key\"",
    "\"\"",
    "a.b",
    "'lit'",
    "x-y_z",
];

/// The loader's accepted keys (each once, in table order), then [`EXTRA_KEYS`].
fn keys() -> &'static [&'static str] {
    static KEYS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut v: Vec<&'static str> = Vec::new();
        for (_, keys) in wasmgate_policy::ACCEPTED_KEYS {
            for k in *keys {
                if !v.contains(k) {
                    v.push(k);
                }
            }
        }
        v.extend_from_slice(EXTRA_KEYS);
        v
    })
}
const ATOMS: &[&str] = &[
    "\"stdio\"",
    "\"fs.*\"",
    "\"net.io\"",
    "\"*\"",
    "\"**\"",
    "\"\"",
    "\"a#b\"",
    "\"#\"",
    "\"wasi_snapshot_preview1#fd_*\"",
    "\"capability:fs.read\"",
    "\"limit:max_memory_pages\"",
    "\"sandbox:grants\"",
    "\"waiver:WG0001\"",
    "\"level:WG0004\"",
    "\"2026-01-31\"",
    "\"9999-12-31\"",
    "\"0000-00-00\"",
    "\"ro\"",
    "\"rw\"",
    "\"off\"",
    "\"error\"",
    "\"\\u0000\"",
    "\"\\u202e\"",
    "\"\\u001b[31m\"",
    "\"\\\"\"",
    "'lit\\eral'",
    "\"\"\"multi\nline\"\"\"",
    "'''raw\n'''",
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "1.5",
    "nan",
    "inf",
    "true",
    "false",
    "1979-05-27T07:32:00Z",
    "\"/dev/zero\"",
    "\"missing.toml\"",
    "\"self.toml\"",
    "\"base.toml\"",
    "\"..\"",
    "\"é\"",
    "\"\\uD800\"",
];
const NOISE: &[&str] = &[
    "[", "]", "{", "}", "=", ",", "\"", "'", "#", "\n", "\r\n", "\t", " ", "\\", ".", "[[", "]]",
    "\u{202e}", "\u{0}", "\u{1b}", "é", "\u{feff}",
];

fn value(rng: &mut Rng, depth: usize) -> String {
    match (rng.below(6), depth) {
        (0, d) if d < 6 => {
            let n = rng.below(6);
            let items: Vec<String> = (0..n).map(|_| value(rng, d + 1)).collect();
            format!("[{}]", items.join(", "))
        }
        (1, d) if d < 6 => {
            let n = rng.below(4);
            let items: Vec<String> = (0..n)
                .map(|_| format!("{} = {}", rng.pick(keys()), value(rng, d + 1)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        (2, _) => {
            // A long array of one atom: exercises the per-file diagnostic cap.
            let atom = rng.pick(ATOMS);
            let n = rng.below(3000);
            format!("[{}]", vec![atom; n].join(","))
        }
        _ => rng.pick(ATOMS).to_string(),
    }
}

/// A generated policy: valid-looking structure with hostile values, or noise spliced in.
fn policy_text(rng: &mut Rng, example: &str) -> String {
    if rng.below(4) == 0 {
        // Mutate a complete, valid policy: splice noise at random places, or cut it short.
        let mut s: Vec<char> = example.chars().collect();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(s.len() + 1);
            match rng.below(3) {
                0 => s.truncate(at),
                1 => {
                    let noise: Vec<char> = rng.pick(NOISE).chars().collect();
                    s.splice(at..at, noise);
                }
                _ => {
                    let atom: Vec<char> = rng.pick(ATOMS).chars().collect();
                    s.splice(at..at, atom);
                }
            }
        }
        return s.into_iter().collect();
    }
    let mut out = String::new();
    for _ in 0..rng.below(24) {
        match rng.below(10) {
            0 => out.push_str(&format!("[{}]\n", rng.pick(keys()))),
            1 => out.push_str(&format!("[{}.{}]\n", rng.pick(keys()), rng.pick(keys()))),
            2 => out.push_str(&format!("[[{}]]\n", rng.pick(keys()))),
            3 => out.push_str(rng.pick(NOISE)),
            4 => out.push_str(&format!("# {}\n", rng.pick(ATOMS))),
            _ => {
                let v = value(rng, 0);
                out.push_str(&format!("{} = {v}\n", rng.pick(keys())));
            }
        }
    }
    out
}

/// Cases the property test runs: generated policy texts, loaded with `extends` resolved
/// against a directory holding a valid `base.toml` and a `self.toml` (cycles).
const PROPERTY_CASES: u64 = 3000;

/// The property itself, run by [`policy_text_never_panics_and_stays_bounded`] in a child
/// process under a memory limit and a timeout (ignored when the suite runs, so the limit
/// always applies; `cargo test -- --ignored` runs it directly).
#[test]
#[ignore = "run by policy_text_never_panics_and_stays_bounded under limits"]
fn policy_text_property_cases() {
    let dir = tmp();
    let d = dir.path();
    std::fs::write(d.join("base.toml"), COMPUTE_POLICY).unwrap();
    std::fs::write(d.join("self.toml"), "extends = \"self.toml\"\n").unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/policy.schema.json")).unwrap(),
    )
    .unwrap();
    let example = schema["examples"][0].as_str().unwrap().to_string();
    let mut outcomes = [0usize; 2];
    for case in 0..PROPERTY_CASES {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (case + 1).wrapping_mul(0x1000_0000_01b3));
        let text = policy_text(&mut rng, &example);
        let path = d.join(format!("case{case}.toml"));
        let start = Instant::now();
        let result = std::panic::catch_unwind(|| wasmgate_policy::load_str(&path, &text));
        let took = start.elapsed();
        let result = result.unwrap_or_else(|_| panic!("case {case} panicked on:\n{text}"));
        // Generous: every case is at most a few hundred KB; a regression to quadratic or
        // exponential behaviour takes minutes, not seconds.
        assert!(
            took < Duration::from_secs(20),
            "case {case} took {took:?}:\n{text}"
        );
        match result {
            Ok(_) => outcomes[0] += 1,
            Err(wasmgate_policy::LoadError::Invalid {
                rendered,
                diagnostics,
                ..
            }) => {
                outcomes[1] += 1;
                assert!(
                    !diagnostics.is_empty(),
                    "case {case}: invalid without a diagnostic"
                );
                // At most 50 diagnostics per file, each of a few windowed lines.
                assert!(
                    rendered.len() < 512 << 10,
                    "case {case}: {} bytes of diagnostics",
                    rendered.len()
                );
                let longest = rendered
                    .lines()
                    .map(|l| l.chars().count())
                    .max()
                    .unwrap_or(0);
                assert!(
                    longest < 1024,
                    "case {case}: a line of {longest} characters"
                );
            }
            Err(e) => panic!("case {case}: unexpected {e}"),
        }
    }
    // The generator reaches both outcomes (a generator that only makes garbage tests little).
    assert!(
        outcomes[0] > 50 && outcomes[1] > 50,
        "valid/invalid: {outcomes:?}"
    );
}

/// Regression guard for the policy loader (stands in for the `policy_toml` fuzz target, which
/// needs nightly): thousands of generated hostile policy texts never panic, each within
/// bounded output, the whole run within a 2 GB address space and a timeout.
#[test]
fn policy_text_never_panics_and_stays_bounded() {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -v 2000000 && exec \"$0\" hostile_inputs::policy_text_property_cases --exact --ignored --test-threads=1")
        .arg(exe)
        .current_dir(root());
    let start = Instant::now();
    let out = run_cmd_with(cmd, Duration::from_secs(600));
    assert_eq!(
        out.code,
        0,
        "property run failed after {:?}:\n{}\n{}",
        start.elapsed(),
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.contains("1 passed"), "{}", out.stdout);
}

/// A baseline from before the fingerprint gained the entry kind (`wasmgateFinding/v1`)
/// cannot be compared: its findings count as new (fail closed) and a warning says so. A
/// per-entry (`wasmgateFinding/v2`) baseline of the same run is read.
#[test]
fn a_baseline_with_old_fingerprints_suppresses_nothing_and_says_so() {
    let dir = tmp();
    let d = dir.path();
    std::fs::write(d.join("p.toml"), "[capabilities]\nallow = [\"stdio\"]\n").unwrap();
    std::fs::copy(compute_wasm(), d.join("app.wasm")).unwrap();
    let out = run_in(
        d,
        &[
            "check",
            "--policy",
            "p.toml",
            "app.wasm",
            "--per-entry",
            "--format",
            "sarif",
            "-o",
            "new.sarif",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let new = std::fs::read_to_string(d.join("new.sarif")).unwrap();
    let results = new.matches("\"wasmgateFinding/v2\"").count();
    assert!(results > 0);
    std::fs::write(
        d.join("old.sarif"),
        new.replace("wasmgateFinding/v2", "wasmgateFinding/v1"),
    )
    .unwrap();
    let out = run_in(
        d,
        &[
            "check",
            "--policy",
            "p.toml",
            "app.wasm",
            "--baseline",
            "old.sarif",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{results} result{} carry only fingerprints older than wasmgateFinding/v2",
            if results == 1 { "" } else { "s" }
        )),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains(" 0 suppressed"), "{}", out.stdout);
    let out = run_in(
        d,
        &[
            "check",
            "--policy",
            "p.toml",
            "app.wasm",
            "--baseline",
            "new.sarif",
        ],
    );
    assert_eq!(
        out.code, 0,
        "the current baseline suppresses: {}",
        out.stderr
    );
}
