//! `wasmgate audit`: reports of the fixture `corpus/fixtures/audit/app.wat` (facts in its
//! header, asserted both ways), hostile names in every output, the CycloneDX shape, the HTML
//! in headless Chromium, and a report for every third-party corpus binary (in corpus.rs).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{root, wasmgate};

/// A temporary directory holding the fixture as `app.wasm`, `app-old.wasm`, `policy.toml`,
/// so reports name them relatively (stable snapshots).
fn fixture_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = root().join("corpus/fixtures/audit");
    for name in ["app", "app-old"] {
        let bytes = wat::parse_file(src.join(format!("{name}.wat"))).unwrap();
        std::fs::write(dir.path().join(format!("{name}.wasm")), bytes).unwrap();
    }
    std::fs::copy(src.join("policy.toml"), dir.path().join("policy.toml")).unwrap();
    dir
}

/// Runs `wasmgate` in `dir` with a time limit; returns (exit code, stdout, stderr).
fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = wasmgate()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const AUDIT: &[&str] = &[
    "audit",
    "app.wasm",
    "--policy",
    "policy.toml",
    "--previous",
    "app-old.wasm",
    "--now",
    "2026-01-01",
];

fn audit_fixture(format: &str) -> String {
    let dir = fixture_dir();
    let mut args = AUDIT.to_vec();
    args.extend(["--format", format]);
    let (code, out, err) = run_in(dir.path(), &args);
    assert_eq!(code, 1, "the fixture's verdict is reject: {err}");
    out
}

const HOSTILE_EXPORT: &str = "](javascript:alert(1))|pipe`tick\n\u{202e}txt";
const SCRIPT_EXPORT: &str = "<script>alert(1)</script>";

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The string field `field` of each object in the array `items`.
fn field_set(items: &Value, field: &str) -> BTreeSet<String> {
    let items = items.as_array().unwrap().iter();
    items
        .map(|x| x[field].as_str().unwrap().to_string())
        .collect()
}

/// The facts of app.wat's header, read from the JSON report, in both directions.
#[test]
fn audit_json_states_the_fixture_facts() {
    let json: Value = serde_json::from_str(&audit_fixture("json")).unwrap();
    insta::assert_json_snapshot!("audit_fixture_json", json);
    assert_eq!(json["verdict"], "reject");
    let b = &json["binaries"][0];
    assert_eq!(b["artifact"], "app.wasm");
    let id = &b["identity"];
    assert_eq!(id["signature_section"], true);
    let meta: BTreeMap<String, String> = serde_json::from_value(id["metadata"].clone()).unwrap();
    assert_eq!(
        meta,
        BTreeMap::from([
            ("licenses".into(), "Apache-2.0 <b>OR</b> MIT".into()),
            (
                "source".into(),
                "https://example.invalid/audited-app](javascript:alert(1))".into()
            ),
            ("version".into(), "1.2.3".into()),
        ])
    );
    let producers: BTreeSet<(String, String)> = id["producers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["field"].as_str().unwrap().into(),
                p["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        producers,
        BTreeSet::from([
            ("language".into(), "Rust".into()),
            ("processed-by".into(), "rustc` | <b>bold</b>".into())
        ])
    );
    // Dependencies from .dep-v0, exactly.
    assert_eq!(b["dependencies"]["status"], "listed");
    let crates: BTreeSet<(String, String, String, bool)> = b["dependencies"]["crates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().into(),
                c["version"].as_str().unwrap().into(),
                c["kind"].as_str().unwrap().into(),
                c["root"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        crates,
        BTreeSet::from([
            ("audited-app".into(), "1.2.3".into(), "runtime".into(), true),
            ("cc".into(), "1.0.90".into(), "build".into(), false),
            (
                "evil|crate](javascript:alert(1))<script>".into(),
                "0.1.0\n| injected | row |".into(),
                "runtime".into(),
                false
            ),
            ("serde".into(), "1.0.200".into(), "runtime".into(), false),
        ])
    );
    // Capabilities: who reaches each, and what the policy says.
    let mut rows = BTreeMap::new();
    for c in b["capabilities"].as_array().unwrap() {
        let status = match c["policy"]["status"].as_str().unwrap() {
            "denied" => format!("denied {}", c["policy"]["rules"]),
            s => s.to_string(),
        };
        rows.insert(
            c["capability"].as_str().unwrap().to_string(),
            (strings(&c["entry_points"]), status),
        );
    }
    let denied = "denied [\"WG0001\"]".to_string();
    let start = set(&["_start"]);
    let hostile = set(&[HOSTILE_EXPORT]);
    let expected = BTreeMap::from([
        (
            "clock.monotonic".to_string(),
            (hostile.clone(), denied.clone()),
        ),
        ("clock.wall".to_string(), (hostile.clone(), denied.clone())),
        ("fs.create".to_string(), (start.clone(), denied.clone())),
        (
            "fs.metadata".to_string(),
            (start.clone(), "waived".to_string()),
        ),
        ("fs.read".to_string(), (start.clone(), denied.clone())),
        ("fs.write".to_string(), (start.clone(), denied.clone())),
        (
            "random".to_string(),
            (set(&[SCRIPT_EXPORT]), "allowed".into()),
        ),
        (
            "stdio".to_string(),
            (set(&["_start", "log", HOSTILE_EXPORT]), "allowed".into()),
        ),
    ]);
    assert_eq!(rows, expected);
    // The graph: exactly these nodes and edges (names, not positions).
    let g = &b["graph"];
    let names = |col: &str| -> Vec<String> {
        g[col]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap().to_string())
            .collect()
    };
    let cols = [names("entry_points"), names("internal"), names("imports")];
    assert_eq!(
        cols[0].iter().cloned().collect::<BTreeSet<_>>(),
        set(&["_start", "log", SCRIPT_EXPORT, HOSTILE_EXPORT])
    );
    assert_eq!(
        cols[1].iter().cloned().collect::<BTreeSet<_>>(),
        set(&["log", "now", "open_config"])
    );
    let p1 = "wasi_snapshot_preview1#";
    let imports: BTreeSet<String> = ["fd_write", "path_open", "clock_time_get", "random_get"]
        .iter()
        .map(|i| format!("{p1}{i}"))
        .collect();
    assert_eq!(cols[2].iter().cloned().collect::<BTreeSet<_>>(), imports);
    // Edges as (column, name) pairs: the entry point `log` and the internal function `log`
    // are two nodes.
    let edges: BTreeSet<((u64, String), (u64, String))> = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let end = |x: &Value| {
                let col = x[0].as_u64().unwrap();
                (
                    col,
                    cols[col as usize][x[1].as_u64().unwrap() as usize].clone(),
                )
            };
            (end(&e["from"]), end(&e["to"]))
        })
        .collect();
    let e = |a: (u64, &str), b: (u64, &str)| ((a.0, a.1.to_string()), (b.0, b.1.to_string()));
    let (fd_write, path_open) = (format!("{p1}fd_write"), format!("{p1}path_open"));
    let (random_get, clock) = (format!("{p1}random_get"), format!("{p1}clock_time_get"));
    let expected_edges = BTreeSet::from([
        e((0, "_start"), (1, "log")),
        e((0, "_start"), (1, "open_config")),
        e((0, HOSTILE_EXPORT), (1, "log")),
        e((0, HOSTILE_EXPORT), (1, "now")),
        e((0, "log"), (2, &fd_write)),
        e((0, SCRIPT_EXPORT), (2, &random_get)),
        e((1, "log"), (2, &fd_write)),
        e((1, "open_config"), (2, &path_open)),
        e((1, "now"), (2, &clock)),
    ]);
    assert_eq!(edges, expected_edges);
    assert_eq!(
        (
            g["more_entry_points"].as_u64(),
            g["more_internal"].as_u64(),
            g["more_imports"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    // The diff against app-old.wat, both directions.
    let d = &b["diff"];
    let added = field_set(&d["capabilities_added"], "capability");
    assert_eq!(
        added,
        set(&[
            "clock.monotonic",
            "clock.wall",
            "fs.create",
            "fs.metadata",
            "fs.read",
            "fs.write"
        ])
    );
    assert_eq!(
        strings(&d["imports_added"]),
        set(&[&format!("{p1}clock_time_get"), &format!("{p1}path_open")])
    );
    assert_eq!(strings(&d["exports_added"]), set(&[HOSTILE_EXPORT]));
    for k in [
        "capabilities_removed",
        "imports_removed",
        "exports_removed",
        "features_added",
        "features_removed",
    ] {
        assert_eq!(strings(&d[k]), BTreeSet::new(), "{k}");
    }
    assert_eq!(b["dynamic"]["status"], "not-run");
}

/// Unescaped `|` in a Markdown table line (a cell boundary).
fn cell_pipes(line: &str) -> usize {
    let mut n = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => n += 1,
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    n
}

#[test]
fn audit_markdown_snapshot_and_hostile_names_stay_text() {
    let md = audit_fixture("md");
    insta::assert_snapshot!("audit_fixture_md", md);
    assert!(md.contains("**Verdict: REJECT**"), "{md}");
    // Every table row has as many cell boundaries as its table's header.
    let mut header = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = cell_pipes(line);
            let h = *header.get_or_insert(n);
            assert_eq!(n, h, "row breaks its table: {line}");
        } else {
            header = None;
        }
    }
    // No raw markup, link or hidden character from the binary outside the DOT code block
    // (whose text GitHub shows literally; its fence is checked below).
    let dot_start = md.find("```dot\n").expect("DOT block");
    let dot_end = dot_start + md[dot_start..].find("\n```\n").unwrap();
    let prose = format!("{}{}", &md[..dot_start], &md[dot_end..]);
    assert!(!prose.contains("<script>"), "raw script tag");
    assert!(!prose.contains("](javascript:"), "raw link");
    assert!(!prose.contains("<b>"), "raw HTML from a producer name");
    assert!(!md.contains('\u{202e}'), "raw bidi override");
    assert!(
        md.contains("\\<script\\>alert\\(1\\)\\<\\/script\\>"),
        "escaped name missing"
    );
    // The DOT source: no line of it can close the fence, and one edge line per edge.
    let dot = &md[dot_start + 7..dot_end];
    assert!(
        dot.lines().all(|l| !l.trim_start().starts_with("```")),
        "{dot}"
    );
    assert!(dot.starts_with("digraph capabilities {"));
    assert_eq!(dot.lines().filter(|l| l.contains("->")).count(), 9, "{dot}");
}

#[test]
fn audit_html_is_self_contained_and_escapes_hostile_names() {
    let html = audit_fixture("html");
    // Hostile text stays text: `javascript:` may appear as escaped text, never in an attribute.
    assert!(
        !html.contains("href=\"j") && !html.contains("=\"javascript"),
        "a javascript: link"
    );
    // The report's own markup uses <b>; a producer's or licence's must not.
    for forbidden in [
        "<script",
        "<b>bold",
        "<b>OR",
        "src=",
        "http://",
        "\u{202e}",
        "<link",
        "@import",
        "<a href=\"http",
    ] {
        // The SVG namespace URI is the one http:// the page carries; it loads nothing.
        let count = html.matches(forbidden).count();
        let allowed = if forbidden == "http://" { 1 } else { 0 };
        assert!(
            count <= allowed,
            "{forbidden:?} appears {count} times in the HTML report"
        );
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
    assert_eq!(svg.matches("<rect").count(), 4 + 3 + 4, "one box per node");
    assert_eq!(svg.matches("marker-end=").count(), 9, "one arrow per edge");
}

#[test]
fn audit_sbom_has_the_cyclonedx_1_5_shape() {
    let dir = fixture_dir();
    let (code, out, err) = run_in(
        dir.path(),
        &[
            "audit",
            "app.wasm",
            "--policy",
            "policy.toml",
            "--sbom",
            "cyclonedx",
        ],
    );
    assert_eq!(code, 1, "{err}");
    let bom: Value = serde_json::from_str(&out).unwrap();
    check_cyclonedx_1_5(&bom);
    let c = &bom["components"][0];
    let bytes = std::fs::read(dir.path().join("app.wasm")).unwrap();
    let sha = wasmgate_analyzer::analyze(&bytes).unwrap().sha256;
    assert_eq!(c["hashes"][0]["content"], sha);
    assert_eq!(
        c["licenses"][0]["license"]["name"],
        "Apache-2.0 <b>OR</b> MIT"
    );
    assert_eq!(c["version"], "1.2.3");
    let caps: BTreeSet<String> = c["properties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "wasmgate:capability")
        .map(|p| p["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        caps,
        set(&[
            "clock.monotonic",
            "clock.wall",
            "fs.create",
            "fs.metadata",
            "fs.read",
            "fs.write",
            "random",
            "stdio"
        ])
    );
    let purls = field_set(&c["components"], "purl");
    assert_eq!(
        purls,
        set(&[
            "pkg:cargo/audited-app@1.2.3",
            "pkg:cargo/cc@1.0.90",
            "pkg:cargo/evil%7Ccrate%5D%28javascript%3Aalert%281%29%29%3Cscript%3E@0.1.0%0A%7C%20injected%20%7C%20row%20%7C",
            "pkg:cargo/serde@1.0.200",
        ])
    );
}

/// The parts of the CycloneDX 1.5 JSON schema (bom-1.5.schema.json) this document uses:
/// required properties, types, enums and patterns, and unique `bom-ref`s.
fn check_cyclonedx_1_5(bom: &Value) {
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.5");
    let serial = bom["serialNumber"].as_str().unwrap();
    // "^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    let hexes: Vec<&str> = serial
        .strip_prefix("urn:uuid:")
        .unwrap()
        .split('-')
        .collect();
    let lens: Vec<usize> = hexes.iter().map(|h| h.len()).collect();
    assert_eq!(lens, [8, 4, 4, 4, 12], "{serial}");
    assert!(hexes.iter().all(|h| {
        h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }));
    assert!(matches!(hexes[2].as_bytes()[0], b'1'..=b'5'), "{serial}");
    assert!(
        matches!(hexes[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
        "{serial}"
    );
    assert!(bom["version"].as_u64().unwrap() >= 1);
    let known_top: BTreeSet<&str> = [
        "bomFormat",
        "specVersion",
        "serialNumber",
        "version",
        "metadata",
        "components",
        "dependencies",
        "$schema",
    ]
    .into();
    for k in bom.as_object().unwrap().keys() {
        assert!(known_top.contains(k.as_str()), "unknown top-level key {k}");
    }
    let tool = &bom["metadata"]["tools"]["components"][0];
    assert_eq!(tool["name"], "wasmgate");
    let mut refs = BTreeSet::new();
    fn component(c: &Value, refs: &mut BTreeSet<String>) {
        const TYPES: &[&str] = &[
            "application",
            "framework",
            "library",
            "container",
            "platform",
            "operating-system",
            "device",
            "device-driver",
            "firmware",
            "file",
            "machine-learning-model",
            "data",
        ];
        const ALGS: &[&str] = &[
            "MD5",
            "SHA-1",
            "SHA-256",
            "SHA-384",
            "SHA-512",
            "SHA3-256",
            "SHA3-384",
            "SHA3-512",
            "BLAKE2b-256",
            "BLAKE2b-384",
            "BLAKE2b-512",
            "BLAKE3",
        ];
        const KEYS: &[&str] = &[
            "type",
            "bom-ref",
            "name",
            "version",
            "description",
            "author",
            "hashes",
            "licenses",
            "purl",
            "scope",
            "properties",
            "components",
        ];
        for k in c.as_object().unwrap().keys() {
            assert!(KEYS.contains(&k.as_str()), "unexpected component key {k}");
        }
        assert!(TYPES.contains(&c["type"].as_str().unwrap()));
        assert!(c["name"].is_string());
        for k in ["version", "description", "author", "purl"] {
            assert!(c.get(k).is_none_or(Value::is_string), "{k}");
        }
        if let Some(s) = c.get("scope") {
            assert!(["required", "optional", "excluded"].contains(&s.as_str().unwrap()));
        }
        if let Some(r) = c.get("bom-ref") {
            assert!(
                refs.insert(r.as_str().unwrap().to_string()),
                "duplicate bom-ref {r}"
            );
        }
        for h in c
            .get("hashes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            assert!(ALGS.contains(&h["alg"].as_str().unwrap()));
            let content = h["content"].as_str().unwrap();
            assert!(
                (32..=128).contains(&content.len())
                    && content.bytes().all(|b| b.is_ascii_hexdigit())
            );
        }
        for l in c
            .get("licenses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let lic = &l["license"];
            assert!(lic["name"].is_string() || lic["id"].is_string(), "{l}");
        }
        for p in c
            .get("properties")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            assert!(p["name"].is_string() && p["value"].is_string(), "{p}");
        }
        for sub in c
            .get("components")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            component(sub, refs);
        }
    }
    for c in bom["components"].as_array().unwrap() {
        component(c, &mut refs);
    }
}

/// Debian's Chromium, if installed.
fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// [`chromium`], or `None` after saying the test was skipped; a missing Chromium fails
/// under `CI`, where `.ci/run` installs it.
fn chromium_or_skip() -> Option<PathBuf> {
    let browser = chromium();
    if browser.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed (apt-get install chromium; .ci/run does)"
        );
        eprintln!("skipped: chromium is not installed");
    }
    browser
}

/// Runs `cmd` with a time limit (a hung browser fails the test instead of hanging it).
fn output_within(mut cmd: Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chromium");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "chromium did not finish in {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Loads the report in headless Chromium: no console message (a blocked load, a CSP
/// violation or a script error would log one), and the DOM holds the graph's SVG with its
/// boxes. Fails when Chromium is missing and `CI` is set; elsewhere says it was skipped.
#[test]
fn audit_html_loads_in_headless_chromium() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let dir = fixture_dir();
    let (code, _, err) = run_in(
        dir.path(),
        &[
            "audit",
            "app.wasm",
            "--policy",
            "policy.toml",
            "--previous",
            "app-old.wasm",
            "-o",
            "report.html",
        ],
    );
    assert_eq!(code, 1, "{err}");
    let dom = chromium_dom(&browser, &dir.path().join("report.html"));
    let svg_at = dom.find("<svg").expect("the DOM holds the graph's SVG");
    let svg = &dom[svg_at..svg_at + dom[svg_at..].find("</svg>").expect("closed SVG")];
    assert_eq!(
        svg.matches("<rect").count(),
        11,
        "every node box is in the DOM"
    );
    assert!(dom.contains("Verdict: REJECT"));
    // No element from a hostile name made it into the DOM.
    assert!(!dom.contains("<script"), "a script element in the DOM");
    // A screenshot renders (a PNG); docs/audit/regenerate.sh keeps it for the README.
    let profile = tempfile::tempdir().unwrap();
    let page = format!("file://{}", dir.path().join("report.html").display());
    let png = dir.path().join("report.png");
    let mut cmd = Command::new(&browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--hide-scrollbars",
        "--window-size=900,2200",
        &format!("--user-data-dir={}", profile.path().display()),
        &format!("--screenshot={}", png.display()),
        &page,
    ]);
    let out = output_within(cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000,
        "not a PNG"
    );
    if let Some(docs) = std::env::var_os("WASMGATE_AUDIT_DOCS") {
        let docs = PathBuf::from(docs);
        std::fs::copy(&png, docs.join("app.png")).unwrap();
        for fmt in ["md", "html"] {
            let mut args = AUDIT.to_vec();
            let o = docs.join(format!("app.{fmt}"));
            let o = o.to_str().unwrap();
            args.extend(["-o", o]);
            assert_eq!(run_in(dir.path(), &args).0, 1);
        }
    }
}

/// Audits one corpus analysis (called by `corpus.rs` while the analysis is in memory) under
/// a deny-all policy, renders every format, and checks the report against the analysis:
/// the capability rows are exactly the capabilities reached, and the graph's drawn plus
/// "more" imports are exactly the imports reached. Returns whether it listed crates from a
/// `.dep-v0` section.
pub fn corpus_report(id: &str, a: &wasmgate_analyzer::Analysis) -> Result<bool, String> {
    let run = || -> Result<bool, String> {
        let policy =
            wasmgate_policy::load_str(Path::new("deny-all.toml"), "[capabilities]\nallow = []\n")
                .map_err(|e| e.to_string())?;
        let today = wasmgate_policy::Date::parse_today("2026-01-01").unwrap();
        let findings = wasmgate_policy::check_with(
            &policy,
            a,
            None,
            id,
            today,
            wasmgate_policy::Options::default(),
        );
        let report = wasmgate_report::audit_one(wasmgate_report::AuditInput {
            artifact: id,
            analysis: a,
            policy: Some(("deny-all.toml", &findings)),
            previous: None,
        });
        let mut reached = BTreeSet::new();
        let mut imports = BTreeSet::new();
        for e in &a.entry_points {
            for r in &e.reaches {
                reached.insert(r.capability.clone());
                imports.insert(r.import.clone());
            }
        }
        let rows: BTreeSet<String> = report
            .capabilities
            .iter()
            .map(|c| c.capability.clone())
            .collect();
        if rows != reached {
            return Err(format!("capability rows {rows:?} != reached {reached:?}"));
        }
        let g = &report.graph;
        if g.imports.len() + g.more_imports != imports.len()
            || g.imports.len() > wasmgate_report::graph::MAX_IMPORT_NODES
            || g.entry_points.len() > wasmgate_report::graph::MAX_ENTRY_NODES
            || g.internal.len() > wasmgate_report::graph::MAX_INTERNAL_NODES
        {
            return Err(format!(
                "graph: {} + {} imports drawn/more for {} reached",
                g.imports.len(),
                g.more_imports,
                imports.len()
            ));
        }
        if !reached.is_empty() && report.verdict != wasmgate_report::Verdict::Reject {
            return Err(format!(
                "verdict {:?} with {} capabilities under deny-all",
                report.verdict,
                reached.len()
            ));
        }
        let listed = match &report.dependencies {
            wasmgate_report::Dependencies::Listed { crates, .. } if !crates.is_empty() => true,
            wasmgate_report::Dependencies::Absent => false,
            other => return Err(format!("dependencies: {other:?}")),
        };
        let audit = wasmgate_report::Audit::new("test", vec![report]);
        let mut html = Vec::new();
        wasmgate_report::html(&audit, &mut html).map_err(|e| e.to_string())?;
        if !String::from_utf8_lossy(&html).contains("</svg>") {
            return Err("no SVG in the HTML".into());
        }
        let mut sink = std::io::sink();
        wasmgate_report::markdown(&audit, &mut sink).map_err(|e| e.to_string())?;
        wasmgate_report::json(&audit, &mut sink).map_err(|e| e.to_string())?;
        wasmgate_report::cyclonedx(&audit, &mut sink).map_err(|e| e.to_string())?;
        Ok(listed)
    };
    std::panic::catch_unwind(run).unwrap_or_else(|_| Err("PANIC".into()))
}

/// 100 exports, each calling its own helper that calls its own import: the picture keeps
/// its caps and says how many it left out, in the SVG and the DOT alike.
#[test]
fn audit_graph_is_capped_with_an_honest_count() {
    let mut wat = String::from("(module\n");
    for i in 0..100 {
        wat.push_str(&format!("(import \"env{i}\" \"f\" (func $i{i}))\n"));
    }
    for i in 0..100 {
        wat.push_str(&format!(
            "(func $h{i} call $i{i}) (func (export \"e{i:03}\") call $h{i})\n"
        ));
    }
    wat.push(')');
    let a = wasmgate_analyzer::analyze(&wat::parse_str(&wat).unwrap()).unwrap();
    let r = wasmgate_report::audit_one(wasmgate_report::AuditInput {
        artifact: "many.wasm",
        analysis: &a,
        policy: None,
        previous: None,
    });
    let g = &r.graph;
    use wasmgate_report::graph::{MAX_ENTRY_NODES, MAX_IMPORT_NODES, MAX_INTERNAL_NODES};
    assert_eq!(
        (g.entry_points.len(), g.more_entry_points),
        (MAX_ENTRY_NODES, 100 - MAX_ENTRY_NODES)
    );
    // Internal functions and imports are those of the drawn entry points: 15 each; the
    // imports column counts every import reached by any entry point.
    assert_eq!((g.internal.len(), g.more_internal), (MAX_ENTRY_NODES, 0));
    assert_eq!(
        (g.imports.len(), g.more_imports),
        (MAX_ENTRY_NODES, 100 - MAX_ENTRY_NODES)
    );
    const { assert!(MAX_INTERNAL_NODES >= MAX_ENTRY_NODES && MAX_IMPORT_NODES >= MAX_ENTRY_NODES) };
    // Ties are broken by name: e000..e014 are drawn, each with its own chain.
    let drawn: Vec<&str> = g.entry_points.iter().map(|n| n.name.as_str()).collect();
    let expected: Vec<String> = (0..15).map(|i| format!("e{i:03}")).collect();
    assert_eq!(drawn, expected);
    assert_eq!(g.edges.len(), 30);
    let svg = g.svg();
    assert!(svg.contains("85 more entry points"), "{svg}");
    assert!(svg.contains("85 more imports"));
    assert!(
        g.dot()
            .contains("emore [label=\"85 more entry points\", style=dashed];")
    );
    // No verdict without a policy: review, and the exit status follows it.
    assert_eq!(r.verdict, wasmgate_report::Verdict::Review);
}

/// Exit status: 0 accept, 1 review (no policy) or reject, 2 usage or input error.
#[test]
fn audit_exit_status_follows_the_verdict() {
    let dir = fixture_dir();
    let d = dir.path();
    let accept = run_in(
        d,
        &[
            "audit",
            "app-old.wasm",
            "--policy",
            "policy.toml",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        accept.0, 0,
        "app-old.wat reaches only stdio and random: {}",
        accept.2
    );
    let json: Value = serde_json::from_str(&accept.1).unwrap();
    assert_eq!(json["verdict"], "accept");
    let review = run_in(d, &["audit", "app-old.wasm", "--format", "json"]);
    assert_eq!(review.0, 1, "no policy: review");
    assert!(review.1.contains("\"verdict\": \"review\""));
    // Two binaries: the worst verdict decides.
    let both = run_in(
        d,
        &[
            "audit",
            "app-old.wasm",
            "app.wasm",
            "-p",
            "policy.toml",
            "--format",
            "json",
        ],
    );
    assert_eq!(both.0, 1);
    let json: Value = serde_json::from_str(&both.1).unwrap();
    assert_eq!(json["verdict"], "reject");
    assert_eq!(json["binaries"][0]["verdict"], "accept");
    for (args, why) in [
        (&["audit", "missing.wasm"][..], "missing file"),
        (
            &["audit", "app.wasm", "-o", "report.txt"][..],
            "unknown extension",
        ),
        (
            &[
                "audit",
                "app.wasm",
                "app-old.wasm",
                "--previous",
                "app-old.wasm",
            ][..],
            "--previous with two files",
        ),
        (&["audit", "policy.toml"][..], "not Wasm"),
    ] {
        let (code, _, err) = run_in(d, args);
        assert_eq!(code, 2, "{why}: {err}");
        assert!(err.starts_with("error: "), "{why}: {err}");
    }
    let (code, help, _) = run_in(d, &["audit", "--help"]);
    assert_eq!(code, 0);
    assert!(
        help.contains("Examples:") && help.contains("Exit status:"),
        "{help}"
    );
}

/// Regression: `audit` of several files stopped at the first one that did not parse. Now the
/// malformed binary is listed with its error (file, byte offset) in every format, the others
/// keep their full reports, the verdict is reject and the exit status 2.
#[test]
fn a_malformed_binary_among_several_is_listed_and_the_others_audited() {
    let dir = fixture_dir();
    let d = dir.path();
    std::fs::write(d.join("bad.wasm"), crate::batch::TRUNCATED_WASM).unwrap();
    let files = ["app-old.wasm", "bad.wasm", "app.wasm"];
    let run = |format: &str| {
        let args = [
            &["audit"][..],
            &files,
            &[
                "-p",
                "policy.toml",
                "--now",
                "2026-01-01",
                "--format",
                format,
            ],
        ]
        .concat();
        let (code, out, err) = run_in(d, &args);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.starts_with("error: bad.wasm: ") && err.contains("byte offset"),
            "{err}"
        );
        out
    };
    let json: Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(json["verdict"], "reject");
    let reported: Vec<&str> = json["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["artifact"].as_str().unwrap())
        .collect();
    assert_eq!(reported, ["app-old.wasm", "app.wasm"]);
    assert_eq!(json["binaries"][0]["verdict"], "accept");
    let failed = json["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["artifact"], "bad.wasm");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("bad.wasm: ") && error.contains("byte offset"),
        "{error}"
    );
    // The good reports are those of a run without the malformed binary.
    let (_, alone, _) = run_in(
        d,
        &[
            "audit",
            "app-old.wasm",
            "app.wasm",
            "-p",
            "policy.toml",
            "--now",
            "2026-01-01",
            "--format",
            "json",
        ],
    );
    let alone: Value = serde_json::from_str(&alone).unwrap();
    assert_eq!(json["binaries"], alone["binaries"]);
    let md = run("md");
    // The summary table (names Markdown-escaped).
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).take(5).collect();
    assert_eq!(rows[0], "| Binary | Verdict | Why |");
    assert!(rows[2].starts_with("| app\\-old\\.wasm | accept |"), "{md}");
    assert!(rows[3].starts_with("| app\\.wasm | reject |"), "{md}");
    assert!(
        rows[4].starts_with("| bad\\.wasm | error | could not be analysed: bad\\.wasm\\: ")
            && rows[4].contains("byte offset"),
        "{md}"
    );
    assert!(
        md.contains("**Verdict: REJECT** (the worst of 3 binaries)"),
        "{md}"
    );
    let html = run("html");
    assert!(
        html.contains("<td class=\"name\">bad.wasm</td><td class=\"error\">error</td>"),
        "{html}"
    );
}

/// The copier (corpus/c/copy.c) under a scenario of two runs: one copies into a writable
/// input, one tries to write into a read-only input (the sandbox refuses the open).
fn copy_scenario_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(root().join("corpus/c/copy.wasm"), d.join("copy.wasm")).unwrap();
    std::fs::copy(
        root().join("corpus/fixtures/policy/stdio-only.toml"),
        d.join("stdio-only.toml"),
    )
    .unwrap();
    std::fs::create_dir_all(d.join("in")).unwrap();
    std::fs::create_dir_all(d.join("out")).unwrap();
    std::fs::write(d.join("in/a.txt"), "copied by the audit scenario\n").unwrap();
    std::fs::write(
        d.join("copy.scenario.toml"),
        "[[run]]\nname = \"copies\"\nargs = [\"/in/a.txt\", \"/out/b.txt\"]\n\
         [[run.inputs]]\nhost = \"in\"\nguest = \"/in\"\n\
         [[run.inputs]]\nhost = \"out\"\nguest = \"/out\"\nmode = \"rw\"\n\n\
         [[run]]\nname = \"read-only-target\"\nargs = [\"/in/a.txt\", \"/in/b.txt\"]\n\
         expect = \"exit(1)\"\n\
         [[run.inputs]]\nhost = \"in\"\nguest = \"/in\"\n",
    )
    .unwrap();
    dir
}

/// `audit --scenario`: the dynamic section holds each run's outcome, host calls by
/// capability, denied attempts and the capabilities predicted but not used, consistent with
/// the static analysis (`inspect`) both ways; the Markdown section is snapshotted.
#[test]
fn audit_scenario_fills_the_dynamic_section() {
    let dir = copy_scenario_dir();
    let d = dir.path();
    let base = [
        "audit",
        "copy.wasm",
        "-p",
        "stdio-only.toml",
        "--now",
        "2026-01-01",
        "--scenario",
        "copy.scenario.toml",
    ];
    let run = |format: &str| {
        let (code, out, err) = run_in(d, &[&base[..], &["--format", format]].concat());
        assert_eq!(code, 1, "the copier is rejected by stdio-only: {err}");
        assert_eq!(err, "");
        out
    };
    let json: Value = serde_json::from_str(&run("json")).unwrap();
    let dynamic = &json["binaries"][0]["dynamic"];
    assert_eq!(dynamic["status"], "ran");
    assert_eq!(dynamic["scenario"], "copy.scenario.toml");
    let runs = dynamic["runs"].as_array().unwrap();
    assert_eq!(
        crate::common::run_outcomes(&dynamic["runs"]),
        [
            ("copies", "exit(0)", true),
            ("read-only-target", "exit(1)", true)
        ]
    );
    // Denied: nothing in the first run; opening /in/b.txt for writing in the second.
    assert_eq!(runs[0]["denied_count"], 0);
    assert_eq!(runs[0]["denied"], serde_json::json!([]));
    let denied: Vec<&str> = runs[1]["denied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call"].as_str().unwrap())
        .collect();
    assert_eq!(denied, ["wasi_snapshot_preview1#path_open"]);
    assert_eq!(runs[1]["denied_count"], 1);
    // What `_start` reaches, from the static analysis.
    let (code, inspect, err) = run_in(d, &["inspect", "copy.wasm", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let inspect: Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["entry_points"][0]["name"], "_start");
    let predicted: BTreeSet<String> = inspect["shared_reaches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["entry_points"]
                .as_array()
                .unwrap()
                .contains(&Value::from(0))
        })
        .map(|r| r["witness"]["capability"].as_str().unwrap().to_string())
        .collect();
    assert!(predicted.contains("fs.write") && predicted.contains("stdio"));
    for r in runs {
        // Capabilities of the imports called (an import carries all of its capabilities).
        let used: BTreeSet<String> = r["calls_by_capability"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "none")
            .cloned()
            .collect();
        let unobserved = strings(&r["predicted_unobserved"]);
        // Exactly the predicted capabilities no call used: nothing missing, nothing extra.
        assert_eq!(
            unobserved,
            predicted
                .difference(&used)
                .cloned()
                .collect::<BTreeSet<_>>(),
            "{r}"
        );
        let total: u64 = r["calls_by_capability"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert!(total >= r["host_calls"].as_u64().unwrap(), "{r}");
        assert_eq!(r["unpredicted"], serde_json::json!([]));
    }
    let md = run("md");
    let start = md.find("### Dynamic behaviour").unwrap();
    let end = md[start + 4..]
        .find("\n### ")
        .map_or(md.len(), |i| start + 4 + i);
    insta::assert_snapshot!("audit_scenario_dynamic_md", &md[start..end]);
    let html = run("html");
    assert!(
        html.contains(
            "<h4>Run <span class=\"name\">read-only-target</span>: exit(1) (expected exit(1))</h4>"
        ),
        "{html}"
    );
    assert!(
        html.contains("Denied attempts: 1 (wasi_snapshot_preview1#path_open → "),
        "{html}"
    );
}

/// Reads a JSON file.
fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `audit --output-dir` over a directory: the C programs, one with a name that must not reach
/// the file system as is, and a malformed binary. One report per binary, each equal to the
/// report of auditing that binary alone; an index listing every binary (Markdown snapshot);
/// the same output with one or two jobs and from the cache, every entry then cached.
#[test]
fn batch_audit_writes_a_report_per_binary_and_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bins = d.join("bins");
    std::fs::create_dir_all(bins.join("sub")).unwrap();
    let c = crate::common::files_with_ext(&root().join("corpus/c"), "wasm");
    for p in &c {
        std::fs::copy(p, bins.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        root().join("corpus/c/copy.wasm"),
        bins.join("sub/x y;<b>.wasm"),
    )
    .unwrap();
    std::fs::write(bins.join("bad.wasm"), crate::batch::TRUNCATED_WASM).unwrap();
    std::fs::copy(
        root().join("corpus/fixtures/policy/stdio-only.toml"),
        d.join("stdio-only.toml"),
    )
    .unwrap();
    let batch = |out: &str, format: &str, extra: &[&str]| {
        let args = [
            &[
                "audit",
                "bins",
                "-p",
                "stdio-only.toml",
                "--now",
                "2026-01-01",
            ][..],
            &["--output-dir", out, "--format", format],
            extra,
        ]
        .concat();
        let (code, stdout, err) = run_in(d, &args);
        assert_eq!(code, 2, "bad.wasm cannot be analysed: {err}");
        assert_eq!(stdout, "");
        assert!(
            err.starts_with("error: bins/bad.wasm: ") && err.lines().count() == 1,
            "{err}"
        );
        d.join(out)
    };
    let out = batch("out", "json", &["--no-cache", "-j", "1"]);
    let index = read_json(&out.join("index.json"));
    assert_eq!(index["verdict"], "reject");
    let entries = index["binaries"].as_array().unwrap();
    let mut expected: Vec<String> = c
        .iter()
        .map(|p| format!("bins/{}", p.file_name().unwrap().to_str().unwrap()))
        .collect();
    expected.push("bins/sub/x y;<b>.wasm".into());
    expected.sort();
    let listed: Vec<&str> = entries
        .iter()
        .map(|e| e["artifact"].as_str().unwrap())
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(index["failed"][0]["artifact"], "bins/bad.wasm");
    assert_eq!(index["failed"].as_array().unwrap().len(), 1);
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let mut names: Vec<String> = entries
        .iter()
        .map(|e| e["report"].as_str().unwrap().to_string())
        .chain(["index.json".to_string()])
        .collect();
    names.sort();
    assert_eq!(
        files, names,
        "one report per binary and the index, nothing else"
    );
    assert!(
        names.contains(&"bins_sub_x_y__b_.wasm.json".to_string()),
        "{names:?}"
    );
    for e in entries {
        assert_eq!(e["cached"], false);
        // The batch report is the report of auditing the binary alone.
        let artifact = e["artifact"].as_str().unwrap();
        let (_, alone, err) = run_in(
            d,
            &[
                "audit",
                artifact,
                "-p",
                "stdio-only.toml",
                "--now",
                "2026-01-01",
                "--format",
                "json",
            ],
        );
        let alone: Value = serde_json::from_str(&alone).unwrap_or_else(|_| panic!("{err}"));
        let report = read_json(&out.join(e["report"].as_str().unwrap()));
        assert_eq!(report, alone, "{artifact}");
        assert_eq!(e["verdict"], alone["verdict"], "{artifact}");
    }
    // Two jobs, then a cache filled and read: the same files.
    let read_all = |out: &Path| -> BTreeMap<String, String> {
        std::fs::read_dir(out)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    std::fs::read_to_string(e.path()).unwrap(),
                )
            })
            .collect()
    };
    let first = read_all(&out);
    assert_eq!(
        read_all(&batch("two", "json", &["--no-cache", "-j", "2"])),
        first
    );
    assert_eq!(
        read_all(&batch("c1", "json", &["--cache-dir", "cache"])),
        first
    );
    let cached = batch("c2", "json", &["--cache-dir", "cache"]);
    let again = read_all(&cached);
    let index2 = read_json(&cached.join("index.json"));
    assert!(
        index2["binaries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["cached"] == true),
        "{index2}"
    );
    // Only the `cached` flags of the index differ.
    let strip = |m: &BTreeMap<String, String>| {
        let mut m = m.clone();
        m.insert(
            "index.json".into(),
            m["index.json"].replace("\"cached\": true", "\"cached\": false"),
        );
        m
    };
    assert_eq!(strip(&again), first);
    let md = batch("md", "md", &["--no-cache"]);
    insta::assert_snapshot!(
        "audit_batch_index_md",
        std::fs::read_to_string(md.join("index.md"))
            .unwrap()
            .replace(&env!("CARGO_PKG_VERSION").replace('.', "\\."), "VERSION")
    );
    let html = batch("html", "html", &["--no-cache"]);
    let index_html = std::fs::read_to_string(html.join("index.html")).unwrap();
    assert!(
        index_html.contains(
            "<a href=\"bins_sub_x_y__b_.wasm.html\" class=\"name\">bins/sub/x y;&lt;b&gt;.wasm</a>"
        ),
        "{index_html}"
    );
    // A directory without --output-dir is a usage error.
    let (code, _, err) = run_in(d, &["audit", "bins"]);
    assert_eq!(code, 2);
    assert!(err.contains("--output-dir"), "{err}");
}

/// The batch audit draws a progress bar on a terminal (a pseudo-terminal from util-linux
/// `script`) and nothing when standard error is a pipe.
#[test]
fn batch_audit_progress_bar_only_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("bins")).unwrap();
    let c = crate::common::files_with_ext(&root().join("corpus/c"), "wasm");
    for p in &c {
        std::fs::copy(p, d.join("bins").join(p.file_name().unwrap())).unwrap();
    }
    let cmd = format!(
        "{} audit bins --output-dir out --no-cache -j 1 > /dev/null",
        env!("CARGO_BIN_EXE_wasmgate")
    );
    let out = Command::new("timeout")
        .args(["120", "script", "-qec", &cmd, "/dev/null"])
        .current_dir(d)
        .output()
        .expect("util-linux `script` is needed for this test");
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(tty.contains(&format!("/{} binaries (", c.len())), "{tty:?}");
    let (code, _, err) = run_in(d, &["audit", "bins", "--output-dir", "out2", "--no-cache"]);
    assert_eq!((code, err.as_str()), (1, ""), "no policy: review");
}

/// Loads `page` in headless Chromium; fails on any console message; returns the DOM.
fn chromium_dom(browser: &Path, page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        &format!("--user-data-dir={}", profile.path().display()),
        "--dump-dom",
        &format!("file://{}", page.display()),
    ]);
    let out = output_within(cmd, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Refused to"))
        .collect();
    assert!(
        console.is_empty(),
        "{}: {}",
        page.display(),
        console.join("\n")
    );
    assert!(out.status.success(), "chromium failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The HTML of a scenario run's dynamic section and of a batch index load in headless
/// Chromium without errors, and hold what they were written with.
#[test]
fn audit_scenario_and_index_html_load_in_headless_chromium() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let dir = copy_scenario_dir();
    let d = dir.path();
    let (code, _, err) = run_in(
        d,
        &[
            "audit",
            "copy.wasm",
            "-p",
            "stdio-only.toml",
            "--scenario",
            "copy.scenario.toml",
            "-o",
            "report.html",
        ],
    );
    assert_eq!(code, 1, "{err}");
    let dom = chromium_dom(&browser, &d.join("report.html"));
    assert_eq!(dom.matches("<h4>Run ").count(), 2, "{dom}");
    assert!(dom.contains("Denied attempts: 1"), "{dom}");
    let (code, _, err) = run_in(
        d,
        &[
            "audit",
            "copy.wasm",
            "--output-dir",
            "out",
            "--format",
            "html",
            "--no-cache",
        ],
    );
    assert_eq!(code, 1, "{err}");
    let dom = chromium_dom(&browser, &d.join("out/index.html"));
    assert!(
        dom.contains("<a href=\"copy.wasm.html\" class=\"name\">copy.wasm</a>"),
        "{dom}"
    );
    assert!(d.join("out/copy.wasm.html").is_file());
}
