//! Scenario files: runs of one guest (arguments, environment, stdin, input directories,
//! expected outcome) written down as TOML, so a CI job can replay them with
//! `wasmgate run FILE --scenario S` and `wasmgate diff` can compare runs over the same inputs.
//!
//! A scenario file is input like a policy: errors point at line and column with a caret,
//! rendered by the policy crate's diagnostics. Its JSON Schema is `schemas/scenario.schema.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use wasmgate_policy::diag::{self, Diagnostic, Source};
use wasmgate_sandbox_harness::{Outcome, PreopenGrant};

/// Largest scenario file read (it names inputs, it does not hold them).
const MAX_SCENARIO_BYTES: u64 = 4 << 20;
/// Largest stdin file given to a guest.
pub const MAX_STDIN_BYTES: u64 = 64 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    run: Vec<RawRun>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    name: toml::Spanned<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    stdin: Option<toml::Spanned<String>>,
    #[serde(default)]
    inputs: Vec<RawInput>,
    expect: Option<toml::Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    host: toml::Spanned<String>,
    guest: String,
    #[serde(default)]
    mode: Mode,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Mode {
    #[default]
    Ro,
    Rw,
}

/// One run of a scenario file, with paths resolved against the file's directory.
#[derive(Debug, Clone)]
pub struct Run {
    pub name: String,
    /// Line of the run's `name` in the scenario file (for SARIF locations).
    pub line: u32,
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// Environment variables with the values the guest sees (never the host's).
    pub env: Vec<(String, String)>,
    /// Bytes on stdin (empty when no `stdin` file is named).
    pub stdin: Vec<u8>,
    /// Directories given to the guest (as copies), with their mode.
    pub inputs: Vec<PreopenGrant>,
    /// The outcome the run must have.
    pub expect: Expect,
}

/// An expected outcome: exactly one, or `trap` for any trap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Exactly(String),
    AnyTrap,
}

impl Expect {
    pub fn matches(&self, o: &Outcome) -> bool {
        match self {
            Expect::Exactly(s) => *s == o.to_string(),
            Expect::AnyTrap => matches!(o, Outcome::Trap(_)),
        }
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Exactly(s) => f.write_str(s),
            Expect::AnyTrap => f.write_str("trap"),
        }
    }
}

/// Why a scenario file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("reading scenario {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `rendered` shows each problem with line, column and caret.
    #[error("scenario {} has {} error{}", path.display(), count, if *count == 1 { "" } else { "s" })]
    Invalid {
        path: PathBuf,
        count: usize,
        rendered: String,
    },
}

/// Reads and checks a scenario file.
pub fn load(path: &Path) -> Result<Vec<Run>, ScenarioError> {
    let io = |source| ScenarioError::Io {
        path: path.to_path_buf(),
        source,
    };
    let text = read_text(path, MAX_SCENARIO_BYTES).map_err(io)?;
    let text = String::from_utf8(text).map_err(|_| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not UTF-8 text",
        ))
    })?;
    let source = Source::new(path.to_path_buf(), path.display().to_string(), text);
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let mut problems = Vec::new();
    let runs = parse(&source, base, &mut problems);
    if problems.is_empty() {
        return Ok(runs);
    }
    let rendered = diag::render(std::slice::from_ref(&source), &problems, &[0]);
    Err(ScenarioError::Invalid {
        path: path.to_path_buf(),
        count: problems.len(),
        rendered,
    })
}

fn parse(source: &Source, base: &Path, problems: &mut Vec<Diagnostic>) -> Vec<Run> {
    let file: File = match toml::from_str(&source.text) {
        Ok(f) => f,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            problems.push(Diagnostic::new(0, span, e.message().to_string()));
            return Vec::new();
        }
    };
    let mut names = BTreeMap::new();
    let mut runs = Vec::new();
    for raw in file.run {
        let name = raw.name.get_ref().clone();
        if name.is_empty() {
            problems.push(Diagnostic::new(0, raw.name.span(), "a run needs a name").label("empty"));
        } else if let Some(first) = names.insert(name.clone(), raw.name.span()) {
            let mut d =
                Diagnostic::new(0, raw.name.span(), format!("run `{name}` is defined twice"))
                    .label("again here");
            d.secondary = Some((first, "first here".into()));
            problems.push(d);
        }
        let expect = match &raw.expect {
            None => Expect::Exactly("exit(0)".into()),
            Some(e) => match parse_expect(e.get_ref()) {
                Some(x) => x,
                None => {
                    problems.push(
                        Diagnostic::new(0, e.span(), format!("unknown outcome `{}`", e.get_ref()))
                            .label("not an outcome")
                            .note(
                                "expected exit(N), trap, trap: MESSAGE, fuel-exhausted, timeout, \
                                 memory-limit, table-limit, stack-overflow, output-limit or \
                                 uncaught-exception",
                            ),
                    );
                    continue;
                }
            },
        };
        let stdin = match &raw.stdin {
            None => Vec::new(),
            Some(s) => match read_text(&base.join(s.get_ref()), MAX_STDIN_BYTES) {
                Ok(b) => b,
                Err(e) => {
                    problems.push(
                        Diagnostic::new(0, s.span(), format!("cannot read stdin file: {e}"))
                            .label("this file"),
                    );
                    continue;
                }
            },
        };
        let mut inputs = Vec::new();
        for i in &raw.inputs {
            let host = base.join(i.host.get_ref());
            if !std::fs::symlink_metadata(&host).is_ok_and(|m| m.is_dir()) {
                problems.push(
                    Diagnostic::new(0, i.host.span(), "not a directory (links are not followed)")
                        .label("input directory"),
                );
                continue;
            }
            inputs.push(PreopenGrant {
                host,
                guest: i.guest.clone(),
                writable: i.mode == Mode::Rw,
            });
        }
        runs.push(Run {
            line: source.line_col(raw.name.span().start).0,
            name,
            args: raw.args,
            env: raw.env.into_iter().collect(),
            stdin,
            inputs,
            expect,
        });
    }
    runs
}

/// An outcome as `wasmgate run` prints it, or `trap` for any trap.
fn parse_expect(s: &str) -> Option<Expect> {
    let fixed = [
        "fuel-exhausted",
        "timeout",
        "memory-limit",
        "table-limit",
        "stack-overflow",
        "output-limit",
        "uncaught-exception",
    ];
    if s == "trap" {
        return Some(Expect::AnyTrap);
    }
    let ok = fixed.contains(&s)
        || s.strip_prefix("trap: ").is_some_and(|m| !m.is_empty())
        || s.strip_prefix("exit(")
            .and_then(|r| r.strip_suffix(')'))
            .is_some_and(|n| n.parse::<i32>().is_ok());
    ok.then(|| Expect::Exactly(s.to_string()))
}

/// A regular file (not a FIFO or device: opened without blocking), at most `cap` bytes.
pub fn read_text(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    wasmgate_policy::files::read_regular(path, cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys the serde types accept in each table (`[]`: array of tables), written out so the
    /// schema test below checks `schemas/scenario.schema.json` against them.
    const ACCEPTED_KEYS: &[(&str, &[&str])] = &[
        ("", &["run"]),
        (
            "run[]",
            &["name", "args", "env", "stdin", "inputs", "expect"],
        ),
        ("run[].inputs[]", &["host", "guest", "mode"]),
    ];

    #[test]
    fn schema_lists_exactly_the_keys_the_loader_accepts() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/scenario.schema.json");
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for (table, keys) in ACCEPTED_KEYS {
            let mut node = &schema;
            for part in table.split('.').filter(|p| !p.is_empty()) {
                let name = part.trim_end_matches("[]");
                node = &node["properties"][name]["items"];
            }
            let mut props: Vec<&str> = node["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{table}: no properties"))
                .keys()
                .map(String::as_str)
                .collect();
            props.sort();
            let mut want = keys.to_vec();
            want.sort();
            assert_eq!(props, want, "{table}");
            assert_eq!(node["additionalProperties"], false, "{table}");
        }
        // And the loader rejects a key outside the list, in every table.
        for text in [
            "bogus = 1\n[[run]]\nname = \"a\"\n",
            "[[run]]\nname = \"a\"\nbogus = 1\n",
            "[[run]]\nname = \"a\"\n[[run.inputs]]\nhost = \"in\"\nguest = \"/in\"\nbogus = 1\n",
        ] {
            let p = problems(text);
            assert!(p.iter().any(|x| x.2.contains("bogus")), "{text}: {p:?}");
        }
    }

    fn problems(text: &str) -> Vec<(u32, u32, String)> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        let src = Source::new("s.toml".into(), "s.toml".into(), text.into());
        let mut p = Vec::new();
        parse(&src, dir.path(), &mut p);
        p.iter()
            .map(|d| {
                let (l, c) = src.line_col(d.span.start);
                (l, c, d.message.clone())
            })
            .collect()
    }

    #[test]
    fn a_valid_file_has_no_problems_and_defaults_to_exit_zero() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::fs::write(dir.path().join("stdin.txt"), "hi").unwrap();
        let src = Source::new(
            "s.toml".into(),
            "s.toml".into(),
            "[[run]]\nname = \"a\"\nargs = [\"x\"]\nenv = { K = \"v\" }\nstdin = \"stdin.txt\"\n\
             [[run.inputs]]\nhost = \"in\"\nguest = \"/in\"\nmode = \"rw\"\n\
             [[run]]\nname = \"b\"\nexpect = \"trap\"\n"
                .into(),
        );
        let mut p = Vec::new();
        let runs = parse(&src, dir.path(), &mut p);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].expect, Expect::Exactly("exit(0)".into()));
        assert_eq!(runs[0].stdin, b"hi");
        assert_eq!(runs[0].env, [("K".to_string(), "v".to_string())]);
        assert!(runs[0].inputs[0].writable);
        assert_eq!(runs[1].expect, Expect::AnyTrap);
    }

    #[test]
    fn every_outcome_the_harness_prints_is_an_expectation() {
        use Outcome as O;
        for o in [
            O::Exit(3),
            O::Trap("x".into()),
            O::FuelExhausted,
            O::Timeout,
            O::MemoryLimit,
            O::TableLimit,
            O::StackOverflow,
            O::OutputLimit,
            O::UncaughtException,
        ] {
            let want = Expect::Exactly(o.to_string());
            assert_eq!(parse_expect(&o.to_string()), Some(want), "{o}");
        }
        assert_eq!(parse_expect("uncaught"), None);
        // `trap` is any trap; an uncaught exception is not one.
        assert!(Expect::AnyTrap.matches(&O::Trap("x".into())));
        assert!(!Expect::AnyTrap.matches(&O::UncaughtException));
    }

    #[test]
    fn errors_point_at_line_and_column() {
        // Unknown key.
        let p = problems("[[run]]\nname = \"a\"\nargz = []\n");
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].0, p[0].1), (3, 1), "{p:?}");
        assert!(p[0].2.contains("argz"), "{p:?}");
        // Bad outcome, missing input directory, duplicate name: each at its value.
        let p = problems(
            "[[run]]\nname = \"a\"\nexpect = \"exit(x)\"\n[[run]]\nname = \"a\"\n\
             [[run.inputs]]\nhost = \"nope\"\nguest = \"/n\"\n",
        );
        let at: Vec<_> = p.iter().map(|x| (x.0, x.1)).collect();
        assert_eq!(at, [(3, 10), (5, 8), (7, 8)], "{p:?}");
    }
}
