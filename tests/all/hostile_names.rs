//! Names in a binary are chosen by whoever built it: they must never become TOML structure
//! (policy injection), terminal control or CI workflow commands (log injection), SARIF links
//! or DOT syntax. A module whose every name is hostile goes through every command and output
//! format; a property test checks that `policy init` then `check` passes for any names and
//! that the written policy allows exactly what the analysis reports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use wasm_encoder::{
    CodeSection, CustomSection, EntityType, ExportKind, ExportSection, FunctionSection,
    ImportSection, IndirectNameMap, Module, NameMap, NameSection, ProducersField, ProducersSection,
    TypeSection, ValType,
};
use wasmgate_escape::is_hidden;

use crate::policy_check::{assert_github_requirements, multitool_validate, run_in, scratch};

/// Export (and function) names: newlines that would end a TOML comment and inject allow
/// entries, NUL, ANSI sequences, GitHub workflow commands, bidi overrides, quotes, `#`, `]`,
/// markup, pattern wildcards, reserved entry names, non-ASCII, a very long name.
pub(crate) fn hostile_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "run\n  \"net.*\", \"env\", \"fs.*\",\n#",
        "a\0b",
        "\u{1b}[2K\u{1b}[1A\u{1b}[31mgreen",
        "::error file=app.wasm,line=1::forged",
        "  ::warning::indented",
        "x ##[error]legacy",
        "evil\u{202e}txt.exe",
        "quote\"back\\slash#hash]bracket[x](1)",
        "<script>alert(1)</script>",
        "*",
        "\\",
        "\u{85}nel\u{2028}ls\u{feff}bom",
        "日本語",
        "<start>",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("{}\u{1b}]0;title\u{7}", "L".repeat(5000)));
    v
}

/// Imports the module declares: `(module, name, type)`. Types: 0 `() -> ()`, 1 `fd_write`,
/// 2 `proc_exit`.
pub(crate) fn imports(evil_module: &str, evil_name: &str) -> Vec<(String, String, u32)> {
    vec![
        ("wasi_snapshot_preview1".into(), "fd_write".into(), 1),
        ("wasi_snapshot_preview1".into(), "proc_exit".into(), 2),
        ("a#b".into(), "*".into(), 0),
        (evil_module.into(), evil_name.into(), 0),
    ]
}

/// A module importing `imports`, exporting one function per name in `exports` (function
/// `k` calls import `k % imports.len()`), with the same hostile names in the name section,
/// the producers section and a custom section's name.
pub(crate) fn module(imports: &[(String, String, u32)], exports: &[String]) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    types.ty().function([ValType::I32; 4], [ValType::I32]);
    types.ty().function([ValType::I32], []);
    let mut imp = ImportSection::new();
    for (m, n, t) in imports {
        imp.import(m, n, EntityType::Function(*t));
    }
    let first = imports.len() as u32;
    let mut funcs = FunctionSection::new();
    let mut code = CodeSection::new();
    let mut exp = ExportSection::new();
    let mut names = NameMap::new();
    for (i, (m, n, _)) in imports.iter().enumerate() {
        names.append(i as u32, &format!("{m}\n{n}"));
    }
    for (k, name) in exports.iter().enumerate() {
        let callee = k % imports.len();
        let mut body = vec![0x00];
        let args = match imports[callee].2 {
            1 => 4,
            2 => 1,
            _ => 0,
        };
        for _ in 0..args {
            body.extend([0x41, 0x01]); // i32.const 1
        }
        body.extend([0x10, callee as u8]); // call
        if imports[callee].2 == 1 {
            body.push(0x1a); // drop
        }
        body.push(0x0b);
        funcs.function(0);
        code.raw(&body);
        exp.export(name, ExportKind::Func, first + k as u32);
        names.append(first + k as u32, name);
    }
    let mut name_section = NameSection::new();
    name_section.module("\u{1b}[31mmodule\nname");
    name_section.functions(&names);
    name_section.locals(&IndirectNameMap::new());
    let mut producers = ProducersSection::new();
    let mut field = ProducersField::new();
    field.value("clang\u{1b}[8m", "1.0\n::error::producer");
    producers.field("processed-by", &field);
    let mut m = Module::new();
    m.section(&types)
        .section(&imp)
        .section(&funcs)
        .section(&exp)
        .section(&code)
        .section(&name_section)
        .section(&producers)
        .section(&CustomSection {
            name: "custom\u{202e}\n::error::section".into(),
            data: b"payload".into(),
        });
    m.finish()
}

/// Human text: no hidden character but the line breaks, no line that GitHub Actions would
/// read as a workflow command.
fn assert_terminal_safe(what: &str, text: &str) {
    for (n, line) in text.lines().enumerate() {
        if let Some(c) = line.chars().find(|&c| is_hidden(c)) {
            panic!("{what}: line {} holds {c:?}: {line:?}", n + 1);
        }
        assert!(
            !line.trim_start().starts_with("::") && !line.contains("##["),
            "{what}: line {} is a workflow command: {line:?}",
            n + 1
        );
    }
}

/// Every `[` and `]` in SARIF message text is escaped (else `[text](id)` is a link).
fn assert_sarif_messages_escaped(v: &Value) {
    fn walk(v: &Value, count: &mut usize) {
        match v {
            Value::Object(o) => {
                if let Some(Value::Object(msg)) = o.get("message")
                    && let Some(Value::String(t)) = msg.get("text")
                {
                    *count += 1;
                    assert!(!t.chars().any(is_hidden), "hidden character in {t:?}");
                    let mut prev = ' ';
                    for c in t.chars() {
                        if c == '[' || c == ']' {
                            assert_eq!(prev, '\\', "unescaped bracket in {t:?}");
                        }
                        prev = if prev == '\\' { ' ' } else { c };
                    }
                }
                o.values().for_each(|x| walk(x, count));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, count)),
            _ => {}
        }
    }
    let mut count = 0;
    walk(v, &mut count);
    assert!(count > 0, "no message text checked");
}

#[test]
fn hostile_names_stay_data_in_every_output() {
    let dir = scratch("hostile-names");
    let names = hostile_names();
    let imports = imports("env\u{1b}[31m", "x\n\"net.*\",\n#");
    std::fs::write(dir.join("app.wasm"), module(&imports, &names)).unwrap();

    // inspect: human text safe, JSON carries the exact names back.
    let (code, out, err) = run_in(&dir, &["inspect", "app.wasm"]);
    assert_eq!(code, 0, "{err}");
    assert_terminal_safe("inspect", &out);
    assert!(
        out.contains("evil\\u{202e}txt.exe") && out.contains("a\\u{0}b"),
        "{out}"
    );
    let (code, out, err) = run_in(&dir, &["inspect", "--format", "json", "app.wasm"]);
    assert_eq!(code, 0, "{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    let exported: BTreeSet<String> = json["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(exported, names.iter().cloned().collect());
    // Schema 2 (the default): what is reached is in the shared witnesses.
    let reached: BTreeSet<String> = json["shared_reaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["witness"]["capability"].as_str().unwrap().to_string())
        .collect();

    // graph: every node line is one well-formed DOT statement.
    let (code, out, err) = run_in(&dir, &["graph", "app.wasm"]);
    assert_eq!(code, 0, "{err}");
    assert_terminal_safe("graph", &out);
    let node_lines = out.lines().filter(|l| l.contains("[label=")).count();
    assert_eq!(
        node_lines,
        json["module"]["call_graph"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        "{out}"
    );
    for line in out.lines().filter(|l| l.contains("[label=")) {
        let label = line.split_once("[label=\"").unwrap().1;
        let end = label.rfind("\", shape=").expect(line);
        let mut chars = label[..end].chars();
        while let Some(c) = chars.next() {
            assert_ne!(c, '"', "unescaped quote in {line:?}");
            if c == '\\' {
                assert!(matches!(chars.next(), Some('\\' | '"')), "{line:?}");
            }
        }
    }

    // policy init: valid TOML that allows exactly what the binary reaches, nothing injected.
    let (code, _, err) = run_in(&dir, &["policy", "init", "app.wasm", "-o", "init.toml"]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(dir.join("init.toml")).unwrap();
    assert_terminal_safe("policy init", &text);
    let policy: toml::Table = toml::from_str(&text).unwrap();
    let allowed: BTreeSet<String> = policy["capabilities"]["allow"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(allowed, reached, "{text}");
    assert!(
        !allowed.contains("net.*") && !allowed.contains("env"),
        "{text}"
    );
    let allowed_imports: BTreeSet<&str> = policy["imports"]["allow"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let expected_imports: BTreeSet<String> = imports
        .iter()
        .map(|(m, n, _)| wasmgate_policy::pattern::literal_import(m, n))
        .collect();
    assert_eq!(
        allowed_imports,
        expected_imports.iter().map(String::as_str).collect(),
        "{text}"
    );
    // Each export reaching less than the whole allow list is named, exactly, in one group
    // whose capabilities are what it reaches; the others are in none.
    let mut in_groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for g in policy["exports"]["restrict"].as_array().unwrap() {
        let caps: BTreeSet<String> = g["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        for p in g["exports"].as_array().unwrap() {
            let name = wasmgate_policy::pattern::as_literal(p.as_str().unwrap()).expect("a name");
            assert!(in_groups.insert(name, caps.clone()).is_none(), "{text}");
        }
    }
    // Schema 2: each shared witness lists the entry points (indices) that reach its capability.
    let mut caps_by_entry: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for r in json["shared_reaches"].as_array().unwrap() {
        let cap = r["witness"]["capability"].as_str().unwrap();
        for i in r["entry_points"].as_array().unwrap() {
            let i = i.as_u64().unwrap();
            caps_by_entry.entry(i).or_default().insert(cap.to_string());
        }
    }
    let mut expected = BTreeMap::new();
    for (i, e) in json["entry_points"].as_array().unwrap().iter().enumerate() {
        if e["kind"] != "export" {
            continue;
        }
        let caps = caps_by_entry.remove(&(i as u64)).unwrap_or_default();
        if caps != allowed {
            expected.insert(e["name"].as_str().unwrap().to_string(), caps);
        }
    }
    assert!(
        !expected.is_empty(),
        "some export reaches less than all: {text}"
    );
    assert_eq!(in_groups, expected, "{text}");
    let (code, out, err) = run_in(
        &dir,
        &[
            "check",
            "-p",
            "init.toml",
            "app.wasm",
            "--now",
            "2026-06-01",
        ],
    );
    assert_eq!(code, 0, "own policy must pass:\n{out}{err}\n{text}");

    // check against a deny-all policy: findings name every export, in every format.
    std::fs::write(dir.join("deny.toml"), "[capabilities]\nallow = []\n").unwrap();
    let (code, out, err) = run_in(&dir, &["check", "-p", "deny.toml", "app.wasm"]);
    assert_eq!(code, 1, "{err}");
    assert_terminal_safe("check human", &out);
    // Per entry point, every name is in a message.
    let (code, out, err) = run_in(
        &dir,
        &["check", "-p", "deny.toml", "--per-entry", "app.wasm"],
    );
    assert_eq!(code, 1, "{err}");
    assert_terminal_safe("check human --per-entry", &out);
    assert!(
        out.contains("::error file=app.wasm"),
        "names are shown, escaped: {out}"
    );
    // An export named like a reserved entry is shown as the export it is.
    assert!(out.contains("export `<start>` reaches"), "{out}");
    assert!(!out.contains("the start function"), "{out}");
    let (code, out, _) = run_in(
        &dir,
        &["check", "-p", "deny.toml", "--format", "json", "app.wasm"],
    );
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&out).unwrap();
    // Aggregated findings list their entry points with kind and exact name.
    let entries: BTreeSet<&str> = report["files"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| crate::common::finding_entries(&report["files"][0], f))
        .filter(|e| e["kind"] == "export")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        entries,
        names.iter().map(String::as_str).collect(),
        "JSON keeps exact names"
    );
    let (code, _, err) = run_in(
        &dir,
        &[
            "check",
            "-p",
            "deny.toml",
            "--format",
            "sarif",
            "-o",
            "r.sarif",
            "app.wasm",
        ],
    );
    assert_eq!(code, 1, "{err}");
    let sarif_path = dir.join("r.sarif");
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_path).unwrap()).unwrap();
    assert_sarif_messages_escaped(&sarif);
    assert_github_requirements(&sarif);
    multitool_validate(&sarif_path);
}

/// A hostile file name (found by a directory walk) is shown escaped, and its SARIF URI is
/// percent-encoded.
#[test]
fn hostile_file_names_are_escaped_and_percent_encoded() {
    let dir = scratch("hostile-file-name");
    let file = "bin\u{1b}[2K ::error::x [a](1).wasm";
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("sub").join(file),
        module(&imports("env", "f"), &["main".to_string()]),
    )
    .unwrap();
    std::fs::write(dir.join("deny.toml"), "[capabilities]\nallow = []\n").unwrap();
    let (code, out, err) = run_in(&dir, &["check", "-p", "deny.toml", "sub"]);
    assert_eq!(code, 1, "{err}");
    assert_terminal_safe("check human", &out);
    assert!(out.contains("bin\\u{1b}[2K"), "{out}");
    let (code, out, _) = run_in(
        &dir,
        &["check", "-p", "deny.toml", "--format", "sarif", "sub"],
    );
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&out).unwrap();
    assert_sarif_messages_escaped(&sarif);
    let uri = sarif["runs"][0]["results"][0]["relatedLocations"][0]["physicalLocation"]
        ["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert_eq!(
        uri,
        "sub/bin%1B%5B2K%20%3A%3Aerror%3A%3Ax%20%5Ba%5D%281%29.wasm"
    );
}

/// Names drawn from hostile characters: `policy init` then `check` of the same binary passes,
/// and the policy allows exactly the capabilities and imports the analysis reports.
#[test]
fn init_then_check_passes_for_any_names() {
    const PIECES: &[&str] = &[
        "a", "Z", "_", "-", ".", "*", "#", "\\", "\"", "'", "\n", "\r", "\t", "\0", "\u{1b}", "[",
        "]", "(", ")", "<", ">", "::", "##[", "\u{202e}", "\u{85}", "日", "é", " ", "=", "@", ":",
        "fd_write", "$",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let name = |next: &mut dyn FnMut(usize) -> usize| -> String {
        (0..next(8)).map(|_| PIECES[next(PIECES.len())]).collect()
    };
    let today = wasmgate_policy::Date::parse("2026-06-01").unwrap();
    let mut checked = 0;
    for case in 0..300 {
        let (evil_module, evil_name) = (name(&mut next), name(&mut next));
        let count = 1 + next(6);
        let mut exports: Vec<String> = (0..count).map(|_| name(&mut next)).collect();
        exports.sort();
        exports.dedup();
        let imports = imports(&evil_module, &evil_name);
        let wasm = module(&imports, &exports);
        let analysis = match wasmgate_analyzer::analyze(&wasm) {
            Ok(a) => a,
            // Two imports with the same module and name are legal; an invalid name is not
            // possible here (UTF-8 by construction): any error is a failure.
            Err(e) => panic!("case {case}: {e}"),
        };
        // Names one by one, and by prefix (the form large binaries get).
        for max_listed in [wasmgate_policy::init::MAX_LISTED_EXPORTS, 0] {
            let text =
                wasmgate_policy::init::least_privilege_with("case.wasm", &analysis, max_listed);
            let policy = match wasmgate_policy::load_str(Path::new("case.toml"), &text) {
                Ok(p) => p,
                Err(wasmgate_policy::LoadError::Invalid { rendered, .. }) => {
                    panic!("case {case}: {rendered}\n{text}")
                }
                Err(e) => panic!("case {case}: {e}"),
            };
            let findings = wasmgate_policy::check(&policy, &analysis, "case.wasm", today);
            let failing: Vec<_> = findings
                .iter()
                // By design, whatever the policy: imports no export calls are reported as
                // unreachable, and imports of unknown meaning get a warning.
                .filter(|f| {
                    !["declared-import-unreachable", "unknown-host-import"]
                        .contains(&f.name.as_str())
                })
                .filter(|f| wasmgate_policy::counts(f, wasmgate_policy::Level::Note))
                .collect();
            assert!(failing.is_empty(), "case {case}: {failing:#?}\n{text}");
            let toml: toml::Table = toml::from_str(&text).unwrap();
            let allowed: BTreeSet<&str> = toml["capabilities"]["allow"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let reached: BTreeSet<&str> = analysis
                .entry_points
                .iter()
                .flat_map(|e| &e.reaches)
                .map(|r| r.capability.as_str())
                .collect();
            assert_eq!(allowed, reached, "case {case}\n{text}");
            let allowed_imports: BTreeSet<String> = toml["imports"]["allow"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            let reachable: BTreeSet<String> = analysis
                .imports
                .iter()
                .filter(|i| !analysis.unreachable_imports.contains(&i.id))
                .map(|i| wasmgate_policy::pattern::literal_import(&i.module, &i.name))
                .collect();
            assert_eq!(allowed_imports, reachable, "case {case}\n{text}");
            // Each export's effective restriction is exactly what it reaches, and dropping
            // a capability fails the check.
            if let Err(e) = crate::policy_init::roundtrip(&analysis, max_listed) {
                panic!("case {case} (max_listed {max_listed}): {e}\n{text}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 600);
}

/// Error messages quote names too (wasmparser: "duplicate export name"): stderr stays safe.
#[test]
fn hostile_names_in_error_messages_are_escaped() {
    let dir = scratch("hostile-error-names");
    let name = "dup\u{1b}[2K\n::error::forged";
    let mut exp = ExportSection::new();
    exp.export(name, ExportKind::Func, 0);
    exp.export(name, ExportKind::Func, 0);
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    let mut code = CodeSection::new();
    code.raw(&[0x00, 0x0b]);
    let mut m = Module::new();
    m.section(&types)
        .section(&funcs)
        .section(&exp)
        .section(&code);
    std::fs::write(dir.join("dup.wasm"), m.finish()).unwrap();
    let (code, out, err) = run_in(&dir, &["inspect", "dup.wasm"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("duplicate export name"), "{err}");
    assert!(
        err.contains("dup\\u{1b}[2K\\n"),
        "the name is shown escaped: {err}"
    );
    assert_terminal_safe("inspect stderr", &err);
}
