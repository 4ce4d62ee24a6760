//! Policy patterns: `*` matches any run of characters and `\` makes the next character
//! literal (`\*`, `\\`, `\#`).
//!
//! Wasm names may hold any character, `*` and `#` included, so a pattern must be able to
//! name exactly one thing: `policy init` writes every name through [`literal`], and an
//! import named `*` is then allowed alone instead of its whole module. In import patterns
//! (`<module>#<name>`) the first unescaped `#` separates the module from the name.

use std::fmt;

/// Why a pattern is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatternError {
    /// A `\` with nothing after it.
    TrailingBackslash,
    /// `**`: not a wildcard of its own; a single `*` already matches any run.
    DoubleStar,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PatternError::TrailingBackslash => {
                "`\\` at the end escapes nothing (write `\\\\` for a backslash)"
            }
            PatternError::DoubleStar => {
                "`**` is not a wildcard here; a single `*` already matches any run"
            }
        })
    }
}

impl std::error::Error for PatternError {}

/// One unit of a pattern: a literal character or the wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Tok {
    /// Matches exactly this character.
    Char(char),
    /// Matches any run of characters.
    Star,
}

/// The units of a policy pattern (a trailing `\` is literal, as [`matches`] reads it).
pub(crate) fn tokens(pattern: &str) -> Vec<Tok> {
    Pattern::lossy(pattern).toks
}

/// The units of a glob without escapes (the capability table's and the sandbox's
/// `glob_match`: `*` is the wildcard, every other character literal).
pub(crate) fn raw_tokens(glob: &str) -> Vec<Tok> {
    glob.chars()
        .map(|c| if c == '*' { Tok::Star } else { Tok::Char(c) })
        .collect()
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    toks: Vec<Tok>,
}

impl Pattern {
    /// Parses and validates a pattern as written in a policy.
    pub fn parse(s: &str) -> Result<Pattern, PatternError> {
        let mut toks = Vec::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => toks.push(Tok::Char(
                    chars.next().ok_or(PatternError::TrailingBackslash)?,
                )),
                '*' if toks.last() == Some(&Tok::Star) => return Err(PatternError::DoubleStar),
                '*' => toks.push(Tok::Star),
                c => toks.push(Tok::Char(c)),
            }
        }
        Ok(Pattern { toks })
    }

    /// Parses a pattern that may not have been validated: a trailing `\` is literal.
    fn lossy(s: &str) -> Pattern {
        let mut toks = Vec::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            toks.push(match c {
                '\\' => Tok::Char(chars.next().unwrap_or('\\')),
                '*' => Tok::Star,
                c => Tok::Char(c),
            });
        }
        Pattern { toks }
    }

    /// Whether `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        glob(&self.toks, &text, |p, c| match p {
            Tok::Char(x) => x == c,
            Tok::Star => false,
        })
    }

    /// Whether every text `other` matches is matched by `self` (used to tell whether a child
    /// policy's entry stays within its parent's). A `*` of `other` is covered only by a `*`.
    pub fn covers(&self, other: &Pattern) -> bool {
        glob(&self.toks, &other.toks, |p, q| p == q)
    }

    /// The one text this pattern matches, when it has no wildcard.
    pub fn as_literal(&self) -> Option<String> {
        self.toks
            .iter()
            .map(|t| match t {
                Tok::Char(c) => Some(*c),
                Tok::Star => None,
            })
            .collect()
    }
}

/// `*` in `pat` consumes any run of `text` units, any other unit must be `eq` to one
/// (the analyzer's glob, over tokens).
fn glob<T: Copy>(pat: &[Tok], text: &[T], eq: impl Fn(Tok, T) -> bool) -> bool {
    wasmgate_analyzer::glob_units(pat, text, |t| t == Tok::Star, eq)
}

/// Whether `text` matches `pattern`. Patterns without `\` take a fast path with no
/// allocation (checks of large binaries call this millions of times).
pub fn matches(pattern: &str, text: &str) -> bool {
    if pattern.contains('\\') {
        Pattern::lossy(pattern).matches(text)
    } else {
        wasmgate_analyzer::glob_match(pattern, text)
    }
}

/// Whether `pattern` matches exactly one text: that text, when it does.
pub fn as_literal(pattern: &str) -> Option<String> {
    if pattern.contains('\\') {
        Pattern::lossy(pattern).as_literal()
    } else {
        (!pattern.contains('*')).then(|| pattern.to_string())
    }
}

/// The text every match of `pattern` starts with: its characters before the first `*`.
pub fn literal_prefix(pattern: &str) -> String {
    Pattern::lossy(pattern)
        .toks
        .iter()
        .map_while(|t| match t {
            Tok::Char(c) => Some(*c),
            Tok::Star => None,
        })
        .collect()
}

/// Whether every text `inner` matches is matched by `outer`.
pub fn covers(outer: &str, inner: &str) -> bool {
    Pattern::lossy(outer).covers(&Pattern::lossy(inner))
}

/// The pattern that matches exactly `name`: `\`, `*` and `#` escaped.
pub fn literal(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '\\' | '*' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The import pattern that matches exactly the import `module`#`name`.
pub fn literal_import(module: &str, name: &str) -> String {
    format!("{}#{}", literal(module), literal(name))
}

/// Splits an import pattern at its first unescaped `#` into module and name patterns.
pub fn split_import(pattern: &str) -> Option<(&str, &str)> {
    let mut escaped = false;
    for (i, c) in pattern.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '#' => return Some((&pattern[..i], &pattern[i + 1..])),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_escapes() {
        assert!(matches("fd_*", "fd_write"));
        assert!(matches("*", ""));
        assert!(!matches("a*b", "ab c"));
        assert!(matches("\\*", "*"));
        assert!(!matches("\\*", "anything"));
        assert!(matches("a\\\\b", "a\\b"));
        assert!(matches("x\\#y*", "x#yz"));
        assert_eq!(Pattern::parse("a\\"), Err(PatternError::TrailingBackslash));
        assert_eq!(Pattern::parse("a**"), Err(PatternError::DoubleStar));
        assert!(
            Pattern::parse("a\\**").is_ok(),
            "a literal star then a wildcard"
        );
    }

    #[test]
    fn literal_names_match_only_themselves() {
        for name in ["*", "a#b", "\\", "x*y\\#", "", "plain", "日本\u{202e}"] {
            let p = literal(name);
            let parsed = Pattern::parse(&p).unwrap();
            assert!(parsed.matches(name), "{p} vs {name}");
            assert_eq!(parsed.as_literal().as_deref(), Some(name));
            assert_eq!(as_literal(&p).as_deref(), Some(name));
            assert!(!parsed.matches(&format!("{name}x")));
        }
        let id = literal_import("a#b", "*");
        assert_eq!(split_import(&id), Some(("a\\#b", "\\*")));
        assert_eq!(split_import("m#n#o"), Some(("m", "n#o")));
        assert_eq!(split_import("m\\#n"), None);
        assert_eq!(literal_prefix("a\\*b*c"), "a*b");
        assert_eq!(literal_prefix("*x"), "");
        assert_eq!(literal_prefix("plain"), "plain");
    }

    #[test]
    fn covering() {
        assert!(covers("a*", "a\\*"));
        assert!(covers("a*", "ab*"));
        assert!(covers("a\\*", "a\\*"));
        // A literal star does not cover a wildcard: that would let a child widen silently.
        assert!(!covers("a\\*", "a*"));
        assert!(!covers("*b", "*"));
        assert!(covers("*", "anything*at*all"));
    }
}
