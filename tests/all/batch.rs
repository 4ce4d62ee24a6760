//! Issue 14, batch part: readable (demangled) names, `check --format github`, and batch runs
//! (cache, `--shard`, `wasmgate merge`, `--summary-jsonl`) over fixtures and corpus binaries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use wasmgate_escape::{is_hidden, terminal};

use crate::common::{root, wasmgate};
use crate::hostile_names::{hostile_names, imports, module};
use crate::policy_check::scratch;

/// Runs wasmgate in `dir` with extra environment; (exit, stdout, stderr).
fn run_env(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> (i32, String, String) {
    let mut cmd = wasmgate();
    cmd.args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run_env(dir, args, &[])
}

/// Undoes the workflow-command encoding (what the runner does).
fn decode(s: &str) -> String {
    s.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

/// Counted findings (failing, not suppressed) of a JSON report, most severe first, file order
/// within a level: the order annotations are written in.
fn counted(report: &Value) -> Vec<&Value> {
    let mut v: Vec<&Value> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["findings"].as_array().unwrap())
        .filter(|f| f["kind"] == "fail" && f.get("suppressed").is_none())
        .collect();
    let rank = |f: &&Value| match f["level"].as_str().unwrap() {
        "error" => 0,
        "warning" => 1,
        _ => 2,
    };
    v.sort_by_key(rank);
    v
}

/// `check` of `app.wasm` against `deny.toml`, one finding per entry point, uncached.
const CHECK_APP_PER_ENTRY: [&str; 6] = [
    "check",
    "-p",
    "deny.toml",
    "--per-entry",
    "--no-cache",
    "app.wasm",
];

#[test]
fn github_annotations_are_escaped_capped_per_level_and_listed_in_the_step_summary() {
    let dir = scratch("batch-github-hostile");
    let names = hostile_names();
    let imports = imports("env\u{1b}[31m", "x\n::error::y,z%0A");
    std::fs::write(dir.join("app.wasm"), module(&imports, &names)).unwrap();
    // Errors for every capability, warnings for the unknown imports: more than 10 of each.
    std::fs::write(
        dir.join("deny.toml"),
        "[capabilities]\nallow = []\n[levels]\nWG0013 = \"warning\"\n",
    )
    .unwrap();
    let summary = dir.join("summary.md");
    std::fs::write(&summary, "previous step\n").unwrap();
    let args = CHECK_APP_PER_ENTRY;
    let (code, json, err) = run_in(&dir, &[&args[..], &["--format", "json"]].concat());
    assert_eq!(code, 1, "{err}");
    let report: Value = serde_json::from_str(&json).unwrap();
    let findings = counted(&report);
    let (code, out, err) = run_env(
        &dir,
        &[&args[..], &["--format", "github"]].concat(),
        &[("GITHUB_STEP_SUMMARY", &summary)],
    );
    assert_eq!(code, 1, "{err}");

    let mut annotations = Vec::new();
    for line in out.lines() {
        assert!(!line.chars().any(is_hidden), "hidden character: {line:?}");
        if let Some(rest) = line.strip_prefix("::") {
            // `::level props::message`; properties hold no raw `:`, so the first `::` ends them.
            let (level, rest) = rest.split_once(' ').expect(line);
            let (props, message) = rest.split_once("::").expect(line);
            let keys: Vec<&str> = props
                .split(',')
                .map(|kv| kv.split_once('=').expect(line).0)
                .collect();
            assert_eq!(
                keys,
                ["file", "line", "col", "endLine", "endColumn", "title"],
                "{line}"
            );
            for (i, _) in message.match_indices('%') {
                assert!(
                    ["%25", "%0A", "%0D"]
                        .iter()
                        .any(|e| message[i..].starts_with(e)),
                    "{line}"
                );
            }
            annotations.push((level.to_string(), props.to_string(), decode(message)));
        } else {
            // Everything else is our own plain text, never a command.
            assert!(line.starts_with("wasmgate: "), "{line:?}");
        }
    }
    // At most 10 per level, the most severe first, each naming its finding exactly.
    let per_level = |l: &str| findings.iter().filter(|f| f["level"] == l).count();
    let (errors, warnings, notes) = (per_level("error"), per_level("warning"), per_level("note"));
    assert!(errors > 10, "{errors} errors, {warnings} warnings");
    let expected: Vec<&&Value> = findings
        .iter()
        .filter(|f| f["level"] == "error")
        .take(10)
        .chain(findings.iter().filter(|f| f["level"] == "warning").take(10))
        .chain(findings.iter().filter(|f| f["level"] == "note").take(10))
        .collect();
    assert_eq!(annotations.len(), expected.len(), "{out}");
    for ((level, props, message), f) in annotations.iter().zip(&expected) {
        let want_level = match f["level"].as_str().unwrap() {
            "note" => "notice",
            l => l,
        };
        assert_eq!(level, want_level);
        let first = message.split('\n').next().unwrap();
        assert_eq!(
            first,
            format!(
                "{}: {}",
                terminal(f["location"]["artifact"].as_str().unwrap()),
                terminal(f["message"].as_str().unwrap())
            )
        );
        let title = decode(props.rsplit_once("title=").unwrap().1);
        assert_eq!(
            title,
            format!(
                "{} {} in app.wasm",
                f["rule"].as_str().unwrap(),
                f["name"].as_str().unwrap()
            )
        );
        assert!(
            props.contains(&format!("line={}", f["policy"]["line"])),
            "{props}"
        );
    }
    let left = |n: usize| n.saturating_sub(10);
    let omitted = left(errors) + left(warnings) + left(notes);
    assert!(
        out.contains(&format!(
            "wasmgate: {omitted} findings not annotated (GitHub shows at most 10 annotations of \
             each level per step): {} errors, {} warnings, {} note",
            left(errors),
            left(warnings),
            left(notes)
        )),
        "{out}"
    );
    // The summary is appended and lists every counted finding, one table row each.
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("previous step\n## wasmgate check"), "{md}");
    let rows = md
        .lines()
        .filter(|l| {
            ["| error |", "| warning |", "| note |"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .count();
    assert_eq!(rows, findings.len(), "{md}");
    for l in md.lines() {
        assert!(!l.chars().any(is_hidden), "{l:?}");
        assert!(!l.trim_start().starts_with("::"), "{l:?}");
        // No markup but our own line breaks: every other `<` is backslash-escaped.
        let l = l.replace("<br>", "");
        for (i, _) in l.match_indices('<') {
            assert!(l[..i].ends_with('\\'), "unescaped < in {l:?}");
        }
    }
}

#[test]
fn github_format_of_the_file_copier() {
    let dir = scratch("batch-github-copy");
    std::fs::copy(root().join("corpus/c/copy.wasm"), dir.join("copy.wasm")).unwrap();
    std::fs::copy(
        root().join("corpus/fixtures/policy/stdio-only.toml"),
        dir.join("stdio-only.toml"),
    )
    .unwrap();
    let args = [
        "check",
        "-p",
        "stdio-only.toml",
        "copy.wasm",
        "--now",
        "2026-06-01",
        "--no-cache",
        "--format",
        "github",
    ];
    let (code, out, err) = run_in(&dir, &args);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err, "");
    insta::assert_snapshot!("check-github-copy-stdio-only", out);
    let summary = dir.join("summary.md");
    let (code, with_summary, _) = run_env(&dir, &args, &[("GITHUB_STEP_SUMMARY", &summary)]);
    assert_eq!(code, 1);
    // Fewer than 10 findings of each level: the log is the same with a summary.
    assert_eq!(with_summary, out);
    insta::assert_snapshot!(
        "check-github-copy-stdio-only-summary",
        std::fs::read_to_string(&summary).unwrap()
    );
}

/// Mangled names as a Rust or C++ toolchain leaves them in the name section, with what each
/// must read as; and hostile ones that must stay raw (and escaped).
const MANGLED: &[(&str, Option<&str>)] = &[
    (
        "_ZN3std2rt19lang_start_internal17h38aa3d6ef7a1c1f1E",
        Some("std::rt::lang_start_internal"),
    ),
    (
        "_RNvCs15kBYyAo9fc_7mycrate7example",
        Some("mycrate::example"),
    ),
    ("_ZN5space3fooEibc", Some("space::foo(int, bool, char)")),
    // A source name holding ESC and a newline: cpp_demangle refuses it, so it stays raw
    // (and is escaped like any name).
    ("_ZN8a\u{1b}[2J\nbbEv", None),
];

fn deep_names() -> Vec<String> {
    vec![
        format!("_Z1fP{}i", "P".repeat(3000)),
        format!("_RNv{}C1a1b", "Nv".repeat(3000)),
    ]
}

#[test]
fn mangled_names_are_readable_in_human_and_sarif_and_json_keeps_both() {
    let dir = scratch("batch-demangle");
    let mut names: Vec<String> = MANGLED.iter().map(|(m, _)| m.to_string()).collect();
    names.extend(deep_names());
    let imports = imports("env", "x");
    std::fs::write(dir.join("app.wasm"), module(&imports, &names)).unwrap();
    std::fs::write(dir.join("deny.toml"), "[capabilities]\nallow = []\n").unwrap();
    let base = CHECK_APP_PER_ENTRY;
    let (code, json, err) = run_in(&dir, &[&base[..], &["--format", "json"]].concat());
    assert_eq!(code, 1, "{err}");
    let report: Value = serde_json::from_str(&json).unwrap();
    let want: BTreeMap<&str, &str> = MANGLED
        .iter()
        .filter_map(|(m, d)| d.map(|d| (*m, d)))
        .collect();
    // Per finding: `demangled` holds exactly the demangled names among its witness, function
    // and entry point; raw names stay in place.
    let mut seen = 0;
    for f in report["files"][0]["findings"].as_array().unwrap() {
        let mut names: Vec<&str> = f["witness"]
            .as_array()
            .map(|w| w.iter().map(|n| n.as_str().unwrap()).collect())
            .unwrap_or_default();
        names.extend(f["location"]["function"].as_str());
        names.extend(f["location"]["entry_point"].as_str());
        let expected: BTreeMap<String, String> = names
            .iter()
            .filter_map(|n| want.get(n).map(|d| (n.to_string(), d.to_string())))
            .collect();
        let got: BTreeMap<String, String> = f
            .get("demangled")
            .map(|d| serde_json::from_value(d.clone()).unwrap())
            .unwrap_or_default();
        assert_eq!(got, expected, "{f}");
        seen += got.len();
    }
    assert!(seen >= want.len(), "every mangled name appears: {json}");

    let (code, human, _) = run_in(&dir, &base);
    assert_eq!(code, 1);
    for (raw, d) in MANGLED {
        let Some(d) = d else {
            assert!(
                human.contains(&format!("witness: {} -> ", terminal(raw))),
                "{raw}: {human}"
            );
            continue;
        };
        // Messages keep the raw export name (what policies match) with the readable one.
        assert!(
            human.contains(&format!("export `{}` ({})", terminal(raw), terminal(d))),
            "{raw}: {human}"
        );
        assert!(
            human.contains(&format!("witness: {} -> ", terminal(d))),
            "{raw}: {human}"
        );
    }
    for deep in deep_names() {
        assert!(human.contains(&format!("witness: {deep} -> ")), "{deep}");
    }
    for line in human.lines() {
        assert!(!line.chars().any(is_hidden), "{line:?}");
    }

    let (code, sarif, _) = run_in(&dir, &[&base[..], &["--format", "sarif"]].concat());
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    let mut decorated = BTreeMap::new();
    for r in sarif["runs"][0]["results"].as_array().unwrap() {
        for flow in r["codeFlows"].as_array().into_iter().flatten() {
            for step in flow["threadFlows"][0]["locations"].as_array().unwrap() {
                let l = &step["location"]["logicalLocations"][0];
                if let Some(raw) = l["decoratedName"].as_str() {
                    decorated.insert(raw.to_string(), l["name"].as_str().unwrap().to_string());
                    let text = step["location"]["message"]["text"].as_str().unwrap();
                    assert_eq!(
                        text,
                        wasmgate_escape::sarif_text(l["name"].as_str().unwrap())
                    );
                }
            }
        }
    }
    let want_owned: BTreeMap<String, String> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(decorated, want_owned);
}

/// Corpus binaries for the batch test: the C programs and a few small third-party ones (a Rust
/// WASI program, an Emscripten module, a component), so the test stays quick.
fn batch_inputs() -> Vec<PathBuf> {
    let mut v = crate::common::files_with_ext(&root().join("corpus/c"), "wasm");
    let corpus = std::env::var_os("WASMGATE_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/wasmgate/corpus")
        });
    for id in [
        "numcodecs-wasm-identity",
        "tree-sitter-json",
        "wasi-adapter-proxy",
        "debian-wasi-libc-crt1-command",
    ] {
        let p = corpus.join(format!("{id}.wasm"));
        assert!(
            p.exists(),
            "{} is missing: run corpus/third-party/fetch.sh",
            p.display()
        );
        v.push(p);
    }
    v
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn shards_merge_to_the_unsharded_report_and_a_second_run_comes_from_the_cache() {
    let dir = scratch("batch-shards");
    let bins = dir.join("bins");
    std::fs::create_dir_all(bins.join("sub")).unwrap();
    for (i, p) in batch_inputs().iter().enumerate() {
        // Some in a subdirectory: the order is the sorted walk's, not the file names'.
        let to = if i % 3 == 0 {
            bins.join("sub")
        } else {
            bins.clone()
        };
        std::fs::copy(p, to.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(root().join("bench/deny-all.toml"), dir.join("deny.toml")).unwrap();
    let check = |extra: &[&str]| {
        let args = [
            &["check", "-p", "deny.toml", "bins", "--now", "2026-06-01"][..],
            extra,
        ]
        .concat();
        run_in(&dir, &args)
    };
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();

    let (code, _, err) = check(&["--no-cache", "--format", "json", "-o", "full.json"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err, "", "nothing extra on a pipe");
    let (code, _, _) = check(&["--no-cache", "--format", "sarif", "-o", "full.sarif"]);
    assert_eq!(code, 1);
    let full: Value = serde_json::from_str(&read("full.json")).unwrap();
    let artifacts: Vec<&str> = full["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["artifact"].as_str().unwrap())
        .collect();
    assert_eq!(artifacts.len(), batch_inputs().len());

    // Two shards, each filling the cache.
    for i in 1..=2 {
        let shard = format!("{i}/2");
        let (code, _, err) = check(&[
            "--shard",
            &shard,
            "--cache-dir",
            "cache",
            "--format",
            "json",
            "-o",
            &format!("s{i}.json"),
            "--summary-jsonl",
            &format!("s{i}.jsonl"),
        ]);
        assert!(code <= 1, "{err}");
        assert_eq!(err, "");
        let lines = jsonl(&dir.join(format!("s{i}.jsonl")));
        assert!(lines.iter().all(|l| l["cached"] == false));
        // Round robin over the sorted list.
        let expect: Vec<&str> = artifacts.iter().copied().skip(i - 1).step_by(2).collect();
        let got: Vec<&str> = lines
            .iter()
            .map(|l| l["artifact"].as_str().unwrap())
            .collect();
        assert_eq!(got, expect);
    }
    // Merged, in either order, in JSON and SARIF: byte for byte the unsharded reports.
    for order in [["s1.json", "s2.json"], ["s2.json", "s1.json"]] {
        let (code, _, err) = run_in(
            &dir,
            &[
                "merge", order[0], order[1], "--format", "json", "-o", "m.json",
            ],
        );
        assert_eq!(code, 1, "{err}");
        assert_eq!(read("m.json"), read("full.json"));
    }
    let (code, _, _) = run_in(
        &dir,
        &[
            "merge", "s1.json", "s2.json", "--format", "sarif", "-o", "m.sarif",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(read("m.sarif"), read("full.sarif"));
    // A missing, repeated or foreign shard is an error.
    let (code, _, err) = run_in(&dir, &["merge", "s1.json"]);
    assert_eq!(
        (code, err.contains("shard 2/2 is missing")),
        (2, true),
        "{err}"
    );
    let (code, _, err) = run_in(&dir, &["merge", "s1.json", "s1.json"]);
    assert_eq!((code, err.contains("given twice")), (2, true), "{err}");
    let (code, _, err) = run_in(&dir, &["merge", "s1.json", "full.json"]);
    assert_eq!((code, err.contains("not a shard")), (2, true), "{err}");

    // The unsharded run now comes entirely from the cache the shards filled, unchanged.
    let (code, _, err) = check(&[
        "--cache-dir",
        "cache",
        "--format",
        "json",
        "-o",
        "cached.json",
        "--summary-jsonl",
        "all.jsonl",
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err, "");
    assert_eq!(read("cached.json"), read("full.json"));
    let lines = jsonl(&dir.join("all.jsonl"));
    assert_eq!(lines.len(), artifacts.len());
    for (l, f) in lines.iter().zip(full["files"].as_array().unwrap()) {
        assert_eq!(l["artifact"], f["artifact"]);
        assert_eq!(l["cached"], true, "{l}");
        let errors = f["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| {
                x["level"] == "error" && x["kind"] == "fail" && x.get("suppressed").is_none()
            })
            .count();
        assert_eq!(l["errors"], errors, "{l}");
        assert_eq!(l["sha256"].as_str().unwrap().len(), 64);
    }

    // Hostile cache entries: a flipped byte, garbage, and a forged entry whose digest is
    // right but whose finding is not this binary's. Each is recomputed, never trusted.
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir.join("cache/check"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "entry"))
        .collect();
    entries.sort();
    assert_eq!(entries.len(), artifacts.len());
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let forged_at = entries
        .iter()
        .position(|p| find(&std::fs::read(p).unwrap(), b"\"subject\":\"").is_some())
        .expect("an entry with findings");
    let entry = std::fs::read(&entries[forged_at]).unwrap();
    assert!(entry.starts_with(b"wasmgate-cache v2\n"));
    // The header is three lines (format, key, digest of the body); the findings' JSON is
    // inside the body: change one letter of a subject, keeping every length right.
    let header_len = entry
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(2)
        .unwrap()
        .0
        + 1;
    let (header, body) = entry.split_at(header_len);
    let mut body = body.to_vec();
    let at = find(&body, b"\"subject\":\"").unwrap() + 11;
    assert!(body[at].is_ascii_alphanumeric(), "{}", body[at]);
    body[at] = if body[at] == b'X' { b'Y' } else { b'X' };
    use sha2::Digest;
    let sum: String = sha2::Sha256::digest(&body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let header = String::from_utf8(header.to_vec()).unwrap();
    let mut lines = header.lines();
    let forged = [
        format!(
            "{}\n{}\n{sum}\n",
            lines.next().unwrap(),
            lines.next().unwrap()
        )
        .into_bytes(),
        body,
    ]
    .concat();
    std::fs::write(&entries[forged_at], forged).unwrap();
    let others: Vec<&PathBuf> = entries
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != forged_at)
        .map(|(_, p)| p)
        .take(2)
        .collect();
    let mut flipped = std::fs::read(others[0]).unwrap();
    let last = flipped.len() - 2;
    flipped[last] ^= 1;
    std::fs::write(others[0], flipped).unwrap();
    std::fs::write(others[1], b"\xff\x00 not an entry").unwrap();
    let (code, _, err) = check(&[
        "--cache-dir",
        "cache",
        "--format",
        "json",
        "-o",
        "again.json",
        "--summary-jsonl",
        "again.jsonl",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("warning: 3 cache entries"), "{err}");
    assert_eq!(read("again.json"), read("full.json"));
    let recomputed = jsonl(&dir.join("again.jsonl"))
        .iter()
        .filter(|l| l["cached"] == false)
        .count();
    assert_eq!(recomputed, 3);
    // Recomputed entries were rewritten: the next run is all from the cache again.
    let (_, _, err) = check(&["--cache-dir", "cache", "--summary-jsonl", "third.jsonl"]);
    assert_eq!(err, "");
    assert!(
        jsonl(&dir.join("third.jsonl"))
            .iter()
            .all(|l| l["cached"] == true)
    );
}

#[test]
fn jobs_and_no_cache_do_not_change_the_report() {
    let dir = scratch("batch-jobs");
    std::fs::create_dir_all(dir.join("bins")).unwrap();
    for p in crate::common::files_with_ext(&root().join("corpus/c"), "wasm") {
        std::fs::copy(&p, dir.join("bins").join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(root().join("bench/deny-all.toml"), dir.join("deny.toml")).unwrap();
    let run = |extra: &[&str]| {
        let args = [
            &["check", "-p", "deny.toml", "bins", "--format", "json"][..],
            extra,
        ]
        .concat();
        let (code, out, err) = run_in(&dir, &args);
        assert_eq!(code, 1, "{err}");
        out
    };
    let one = run(&["--jobs", "1", "--no-cache"]);
    assert_eq!(run(&["--jobs", "2", "--no-cache"]), one);
    assert_eq!(run(&["-j", "3", "--cache-dir", "c"]), one);
    let (code, _, err) = run_in(
        &dir,
        &["check", "-p", "deny.toml", "bins", "--shard", "3/2"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("need 1 <= i <= n"), "{err}");
}

/// Real Rust symbols of corpus binaries (v0 in the WASI adapter, legacy in a wasmer test
/// program), as their witnesses name them under a deny-all policy: every demangled name, and
/// nothing else.
#[test]
fn corpus_rust_symbols_are_demangled() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "wasi-adapter-proxy",
            &[
                (
                    "_RNvMs0_NtCs6R3a5KVuU1Z_22wasi_snapshot_preview111descriptorsNtB5_11Descriptors3new",
                    "<wasi_snapshot_preview1::descriptors::Descriptors>::new",
                ),
                (
                    "_RNvMs5_Cs6R3a5KVuU1Z_22wasi_snapshot_preview1NtB5_5State15descriptors_mut",
                    "<wasi_snapshot_preview1::State>::descriptors_mut",
                ),
                (
                    "_RNvMs5_Cs6R3a5KVuU1Z_22wasi_snapshot_preview1NtB5_5State3new",
                    "<wasi_snapshot_preview1::State>::new",
                ),
                (
                    "_RNvMs5_Cs6R3a5KVuU1Z_22wasi_snapshot_preview1NtB5_5State3ptr",
                    "<wasi_snapshot_preview1::State>::ptr",
                ),
                (
                    "_RNvMsc_NtNtNtNtCs6R3a5KVuU1Z_22wasi_snapshot_preview18bindings4wasi2io7streamsNtB5_12OutputStream24blocking_write_and_flush",
                    "<wasi_snapshot_preview1::bindings::wasi::io::streams::OutputStream>::blocking_write_and_flush",
                ),
                (
                    "_RNvNtCs6R3a5KVuU1Z_22wasi_snapshot_preview16macros5print",
                    "wasi_snapshot_preview1::macros::print",
                ),
            ],
        ),
        (
            "wasmer-wasi-envvar",
            &[
                (
                    "_ZN3std2io8buffered9bufwriter18BufWriter$LT$W$GT$9flush_buf17hb629e20b36805f0aE",
                    "std::io::buffered::bufwriter::BufWriter<W>::flush_buf",
                ),
                (
                    "_ZN3std2rt10lang_start17he21fe8a465c471baE",
                    "std::rt::lang_start",
                ),
                (
                    "_ZN3std2rt19lang_start_internal17h1e63ab493c96e529E",
                    "std::rt::lang_start_internal",
                ),
                (
                    "_ZN3std4sync4once4Once10call_inner17h854d00ebc3ec5d03E",
                    "std::sync::once::Once::call_inner",
                ),
                (
                    "_ZN3std4sync4once4Once9call_once28_$u7b$$u7b$closure$u7d$$u7d$17h75521f33c551be89E",
                    "std::sync::once::Once::call_once::{{closure}}",
                ),
                (
                    "_ZN4wasi13lib_generated8fd_write17h0e14540f2e119982E",
                    "wasi::lib_generated::fd_write",
                ),
            ],
        ),
    ];
    let corpus = std::env::var_os("WASMGATE_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/wasmgate/corpus")
        });
    let dir = scratch("batch-corpus-demangle");
    std::fs::copy(root().join("bench/deny-all.toml"), dir.join("deny.toml")).unwrap();
    for (id, pairs) in cases {
        let file = format!("{id}.wasm");
        std::fs::copy(corpus.join(&file), dir.join(&file)).unwrap();
        let args = ["check", "-p", "deny.toml", &file, "--no-cache"];
        let (code, json, err) = run_in(&dir, &[&args[..], &["--format", "json"]].concat());
        assert_eq!(code, 1, "{err}");
        let report: Value = serde_json::from_str(&json).unwrap();
        let mut got = BTreeMap::new();
        for f in report["files"][0]["findings"].as_array().unwrap() {
            for (k, v) in f
                .get("demangled")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                got.insert(k.clone(), v.as_str().unwrap().to_string());
            }
        }
        let want: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want, "{id}");
        // Human output shows only the readable form of these names in witnesses.
        let (_, human, _) = run_in(&dir, &args);
        for (raw, readable) in pairs.iter() {
            assert!(!human.contains(raw), "{id}: raw {raw} shown");
            assert!(human.contains(readable), "{id}: {readable} missing");
        }
    }
}

/// The progress bar is drawn on a terminal (here a pseudo-terminal from util-linux `script`,
/// part of every Debian system) and never when standard error is a pipe.
#[test]
fn progress_bar_only_on_a_terminal() {
    let dir = scratch("batch-progress");
    std::fs::create_dir_all(dir.join("bins")).unwrap();
    for p in crate::common::files_with_ext(&root().join("corpus/c"), "wasm") {
        std::fs::copy(&p, dir.join("bins").join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(root().join("bench/deny-all.toml"), dir.join("deny.toml")).unwrap();
    let cmd = format!(
        "{} check -p deny.toml bins --no-cache -j 1 > /dev/null",
        env!("CARGO_BIN_EXE_wasmgate")
    );
    let out = std::process::Command::new("timeout")
        .args(["120", "script", "-qec", &cmd, "/dev/null"])
        .current_dir(&dir)
        .output()
        .expect("util-linux `script` is needed for this test");
    let tty = String::from_utf8_lossy(&out.stdout);
    let n = crate::common::files_with_ext(&root().join("corpus/c"), "wasm").len();
    assert!(tty.contains(&format!("/{n} binaries (")), "{tty:?}");
    let (code, _, err) = run_in(&dir, &["check", "-p", "deny.toml", "bins", "--no-cache"]);
    assert_eq!((code, err.as_str()), (1, ""));
}

/// A type section that claims five bytes and ends after two: malformed at a known place.
pub const TRUNCATED_WASM: &[u8] = b"\0asm\x01\0\0\0\x01\x05\x01\x60";

/// Regression: one malformed binary in a directory used to stop the whole batch (`check`
/// returned at the first per-binary error). Now it gets an error line naming it and the byte
/// offset, the others are checked exactly as without it, the report lists it in `failed`,
/// and the exit status is 2.
#[test]
fn a_malformed_binary_does_not_stop_a_batch_check() {
    let dir = scratch("batch-malformed");
    let good: Vec<PathBuf> = crate::common::files_with_ext(&root().join("corpus/c"), "wasm");
    assert!(good.len() >= 2);
    std::fs::create_dir_all(dir.join("bins")).unwrap();
    for p in &good {
        std::fs::copy(p, dir.join("bins").join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(root().join("bench/deny-all.toml"), dir.join("deny.toml")).unwrap();
    let check = |path: &str, extra: &[&str]| {
        let args = [
            &["check", "-p", "deny.toml", path, "--now", "2026-06-01"][..],
            extra,
        ]
        .concat();
        run_in(&dir, &args)
    };
    // The report of the good binaries alone (fingerprints name the path: same directory).
    let (code, clean, err) = check("bins", &["--no-cache", "--format", "json"]);
    assert_eq!(code, 1, "{err}");
    // Sorted between the good ones, so work on both sides of them is seen.
    std::fs::write(dir.join("bins/bad.wasm"), TRUNCATED_WASM).unwrap();
    std::fs::write(dir.join("bins/text.wasm"), "not wasm").unwrap();
    for extra in [
        &["--no-cache", "-j", "1"][..],
        &["--cache-dir", "cache"],
        // Served from the cache now, except the failing binaries, which are never cached.
        &["--cache-dir", "cache"],
    ] {
        let args = [extra, &["--format", "json", "--summary-jsonl", "s.jsonl"]].concat();
        let (code, mixed, err) = check("bins", &args);
        assert_eq!(code, 2, "{extra:?}: {err}");
        // Exactly the report without the failing binaries (not printed: it is long), plus
        // the list of those.
        let mut mixed: Value = serde_json::from_str(&mixed).unwrap();
        let failed = mixed.as_object_mut().unwrap().remove("failed").unwrap();
        assert!(
            mixed == serde_json::from_str::<Value>(&clean).unwrap(),
            "{extra:?}: the good binaries are all checked, as without the failing ones"
        );
        assert_failed(&failed);
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
        assert_eq!(errors.len(), 3, "{err}");
        assert!(
            errors[0].contains("bins/bad.wasm") && errors[0].contains("byte offset"),
            "{err}"
        );
        assert!(
            errors[1].contains("bins/text.wasm") && errors[1].contains("not a WebAssembly binary"),
            "{err}"
        );
        assert_eq!(
            errors[2],
            format!(
                "error: 2 of {} binaries could not be checked (see above)",
                good.len() + 2
            )
        );
        let lines = jsonl(&dir.join("s.jsonl"));
        let failed: Vec<(&str, &str)> = lines
            .iter()
            .filter_map(|l| Some((l["artifact"].as_str()?, l.get("error")?.as_str()?)))
            .collect();
        assert_eq!(
            failed.iter().map(|f| f.0).collect::<Vec<_>>(),
            ["bins/bad.wasm", "bins/text.wasm"]
        );
        assert!(failed[0].1.contains("byte offset"), "{failed:?}");
        assert_eq!(lines.len(), good.len() + 2);
    }
    // Human output on a single malformed file: still exit 2 with the error, and the report
    // says it was not checked.
    let (code, out, err) = check("bins/bad.wasm", &["--no-cache"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bins/bad.wasm") && err.contains("byte offset"),
        "{err}"
    );
    assert!(
        out.starts_with("bins/bad.wasm: not checked (policy deny.toml): ")
            && out.contains("byte offset")
            && out.ends_with("\n0 files checked: 0 errors, 0 warnings, 0 notes, 0 suppressed; 1 could not be checked\n"),
        "{out}"
    );
    // The whole directory in text: every good binary's findings, then the two failures.
    let (code, out, _) = check("bins", &["--cache-dir", "cache"]);
    assert_eq!(code, 2);
    let not_checked: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(": not checked (policy deny.toml): "))
        .collect();
    assert_eq!(not_checked.len(), 2, "{out}");
    assert!(
        not_checked[0].starts_with("bins/bad.wasm: ")
            && not_checked[1].starts_with("bins/text.wasm: ")
    );
    assert!(out.ends_with("; 2 could not be checked\n"), "{out}");
    assert!(
        out.contains(&format!("\n{} files checked: ", good.len())),
        "{out}"
    );

    // SARIF: one error notification per failed binary, the run not successful; without
    // them, no notification at all.
    let (code, sarif, _) = check("bins", &["--cache-dir", "cache", "--format", "sarif"]);
    assert_eq!(code, 2);
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    let inv = &sarif["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    let notes: Vec<&str> = inv["toolExecutionNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            assert_eq!(n["level"], "error");
            n["message"]["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[0].starts_with("bins/bad.wasm could not be checked")
            && notes[0].contains("byte offset")
    );
    assert!(notes[1].starts_with("bins/text.wasm could not be checked"));
    let ok_dir = dir.join("ok");
    std::fs::create_dir_all(&ok_dir).unwrap();
    std::fs::copy(&good[0], ok_dir.join("a.wasm")).unwrap();
    let (_, sarif, _) = check("ok", &["--no-cache", "--format", "sarif"]);
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    assert!(sarif["runs"][0].get("invocations").is_none());

    // Shards keep their failed binaries, and merge puts them back in place: byte for byte
    // the unsharded reports, exit 2 as the unsharded run.
    let (_, full_json, _) = check("bins", &["--cache-dir", "cache", "--format", "json"]);
    let (_, full_sarif, _) = check("bins", &["--cache-dir", "cache", "--format", "sarif"]);
    let (_, full_human, _) = check("bins", &["--cache-dir", "cache"]);
    for i in 1..=2 {
        let (code, _, err) = check(
            "bins",
            &[
                "--cache-dir",
                "cache",
                "--shard",
                &format!("{i}/2"),
                "--format",
                "json",
                "-o",
                &format!("s{i}.json"),
            ],
        );
        assert_eq!(code, 2, "{err}");
    }
    let s1: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("s1.json")).unwrap()).unwrap();
    let s2: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("s2.json")).unwrap()).unwrap();
    // Between them, the shards hold both failures.
    assert_eq!(
        s1["failed"].as_array().unwrap().len() + s2["failed"].as_array().unwrap().len(),
        2
    );
    for r in [&s1, &s2, &serde_json::from_str(&full_json).unwrap()] {
        assert_fits_schema(r);
    }
    for (format, full) in [
        ("json", &full_json),
        ("sarif", &full_sarif),
        ("human", &full_human),
    ] {
        let (code, merged, err) =
            run_in(&dir, &["merge", "s2.json", "s1.json", "--format", format]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("2 of"), "{err}");
        assert!(
            merged == *full,
            "{format}: merged differs from the unsharded report"
        );
    }
    // A shard whose failed positions do not match its list is refused.
    let mut bad = s1.clone();
    bad["shard"]["failed_positions"] = Value::from(Vec::<usize>::new());
    std::fs::write(dir.join("bad.json"), bad.to_string()).unwrap();
    let (code, _, err) = run_in(&dir, &["merge", "bad.json", "s2.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("positions for"), "{err}");
}

/// The keys of a report, of its `failed` entries, `shard`, `summary` and `files` are the ones
/// `schemas/check-report.schema.json` describes: all its required ones, no other.
fn assert_fits_schema(report: &Value) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/check-report.schema.json")).unwrap(),
    )
    .unwrap();
    let check = |v: &Value, node: &Value, at: &str| {
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let props: Vec<&str> = node["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for k in &keys {
            assert!(props.contains(k), "{at}: `{k}` is not in the schema");
        }
        for r in node["required"].as_array().unwrap() {
            assert!(
                keys.contains(&r.as_str().unwrap()),
                "{at}: `{r}` is missing"
            );
        }
    };
    let top = &schema["properties"];
    check(report, &schema, "report");
    check(&report["summary"], &top["summary"], "summary");
    if let Some(shard) = report.get("shard") {
        check(shard, &top["shard"], "shard");
    }
    for f in report
        .get("failed")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check(f, &top["failed"]["items"], "failed[]");
    }
    for f in report["files"].as_array().unwrap() {
        check(f, &top["files"]["items"], "files[]");
    }
}

/// The `failed` list of a JSON report of `bins`: the two failing binaries, in walk order,
/// with their policy and error.
fn assert_failed(failed: &Value) {
    let failed = failed.as_array().unwrap();
    let names: Vec<&str> = failed
        .iter()
        .map(|f| f["artifact"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bins/bad.wasm", "bins/text.wasm"]);
    for f in failed {
        assert_eq!(f["policy"], "deny.toml");
        let keys: Vec<&String> = f.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["artifact", "error", "policy"]);
    }
    assert!(failed[0]["error"].as_str().unwrap().contains("byte offset"));
    assert!(
        failed[1]["error"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly binary")
    );
}

/// `audit --output-dir` shards like `check`: shard 1/2 and 2/2 together audit exactly the
/// binaries of the unsharded run, each once, with the same verdicts; `--summary-jsonl` gives
/// one line per binary (a failed one with its error); both flags need batch mode.
#[test]
fn audit_shards_cover_the_unsharded_run_exactly() {
    let dir = scratch("batch-audit-shards");
    let bins = dir.join("bins");
    std::fs::create_dir_all(bins.join("sub")).unwrap();
    for (i, p) in crate::common::files_with_ext(&root().join("corpus/c"), "wasm")
        .iter()
        .enumerate()
    {
        let to = if i % 2 == 0 {
            bins.join("sub")
        } else {
            bins.clone()
        };
        std::fs::copy(p, to.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(bins.join("bad.wasm"), TRUNCATED_WASM).unwrap();
    std::fs::copy(root().join("bench/deny-all.toml"), dir.join("deny.toml")).unwrap();
    let audit = |out: &str, extra: &[&str]| {
        let args = [
            &["audit", "bins", "-p", "deny.toml", "--now", "2026-06-01"][..],
            &["--output-dir", out, "--format", "json", "--no-cache"],
            extra,
        ]
        .concat();
        run_in(&dir, &args).0
    };
    // Exit 2 where bad.wasm was audited, else 1 (deny-all rejects every binary).
    let expect_code = |lines: &[(String, String)]| {
        if lines.iter().any(|(a, _)| a == "bins/bad.wasm") {
            2
        } else {
            1
        }
    };
    // (artifact, verdict or error) per line.
    let summary = |name: &str| -> Vec<(String, String)> {
        jsonl(&dir.join(name))
            .into_iter()
            .map(|l| {
                let key = match l.get("verdict") {
                    Some(v) => v.as_str().unwrap().to_string(),
                    None => format!("error: {}", l["error"].as_str().unwrap()),
                };
                (l["artifact"].as_str().unwrap().to_string(), key)
            })
            .collect()
    };
    let code = audit("all", &["--summary-jsonl", "all.jsonl"]);
    let all = summary("all.jsonl");
    assert_eq!(code, 2);
    let n = crate::common::files_with_ext(&root().join("corpus/c"), "wasm").len();
    assert_eq!(all.len(), n + 1);
    assert!(
        all.iter()
            .any(|(a, v)| a == "bins/bad.wasm" && v.contains("byte offset")),
        "{all:?}"
    );
    let mut parts = Vec::new();
    for i in 1..=2 {
        let (out, jl) = (format!("s{i}"), format!("s{i}.jsonl"));
        let code = audit(
            &out,
            &["--shard", &format!("{i}/2"), "--summary-jsonl", &jl],
        );
        let lines = summary(&jl);
        assert_eq!(code, expect_code(&lines), "{lines:?}");
        // The shard's index lists the shard's audited binaries, no other.
        let index: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(&out).join("index.json")).unwrap(),
        )
        .unwrap();
        let mut listed: Vec<&str> = index["binaries"]
            .as_array()
            .unwrap()
            .iter()
            .chain(
                index
                    .get("failed")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            )
            .map(|b| b["artifact"].as_str().unwrap())
            .collect();
        listed.sort();
        let mut mine: Vec<&str> = lines.iter().map(|(a, _)| a.as_str()).collect();
        mine.sort();
        assert_eq!(listed, mine);
        assert!(!lines.is_empty() && lines.len() < all.len());
        parts.extend(lines);
    }
    // Together: every binary once, with the unsharded verdict (or error).
    parts.sort();
    let mut all_sorted = all.clone();
    all_sorted.sort();
    assert_eq!(parts, all_sorted);
    // Outside batch mode the flags are refused, not ignored.
    for flag in [&["--shard", "1/2"][..], &["--summary-jsonl", "x.jsonl"]] {
        let args = [&["audit", "bins/copy.wasm", "-p", "deny.toml"][..], flag].concat();
        let (code, _, err) = run_in(&dir, &args);
        assert_eq!(code, 2);
        assert!(err.contains("need batch mode"), "{err}");
    }
}
