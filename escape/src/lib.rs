//! Untrusted text, rendered safely for each output kind.
//!
//! Every name wasmgate prints (exports, imports, functions, custom sections, producers, WIT,
//! file names found by a directory walk) was chosen by whoever built the binary, and
//! wasmgate is run precisely on binaries nobody trusts. Such text must never become terminal
//! control, CI workflow commands, TOML structure, markup or links. Each output kind has
//! exactly one function here, and every untrusted string goes through it:
//!
//! | output | function |
//! | --- | --- |
//! | terminal, CI logs, TOML comments | [`terminal`] / [`Terminal`] |
//! | TOML strings and keys | [`toml_string`], [`toml_key`] |
//! | SARIF `message.text` | [`sarif_text`] |
//! | Graphviz DOT | [`dot_string`] |
//! | HTML | [`html`] |
//! | Markdown | [`markdown`] |
//! | GitHub workflow command message / property | [`github_message`] / [`github_property`] |
//! | Markdown code block, HTML `<pre>` (multi-line) | [`markdown_code_block`], [`html_pre`] |
//!
//! JSON needs nothing extra: serde escapes control characters, and JSON consumers get the
//! exact bytes back.
//!
//! The escapes are visible (`\u{1b}`, `\n`) rather than dropped, so two names that differ
//! only in hidden characters still look different, and a backslash in a name is doubled so
//! that an escape can be told apart from a name that spells one.
#![warn(missing_docs)]

use std::borrow::Cow;
use std::fmt::{self, Write};

/// Characters that change what a reader sees without being seen themselves: C0 and C1
/// controls (ESC starts terminal sequences, CR and backspace overwrite, newlines start new
/// log lines), DEL, bidirectional overrides and isolates (Trojan Source), zero-width and
/// other invisible formatting characters, line and paragraph separators, the byte order mark
/// and interlinear annotation marks.
pub fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{ad}'                      // soft hyphen
        | '\u{61c}'                     // Arabic letter mark
        | '\u{180e}'                    // Mongolian vowel separator
        | '\u{200b}'..='\u{200f}'       // zero-width, LRM, RLM
        | '\u{2028}'..='\u{202e}'       // separators, bidi embeddings and overrides
        | '\u{2060}'..='\u{206f}'       // word joiner, invisible operators, bidi isolates
        | '\u{feff}'                    // byte order mark
        | '\u{fff9}'..='\u{fffb}'       // interlinear annotation
    )
}

fn needs_terminal_escape(s: &str) -> bool {
    s.chars().any(|c| c == '\\' || is_hidden(c))
        || s.trim_start().starts_with("::")
        || s.contains("##[")
}

/// Writes `s` with hidden characters as visible escapes, and backslashes doubled unless
/// `backslash_as_is`.
fn push_visible(out: &mut String, s: &str, backslash_as_is: bool) {
    // GitHub Actions reads a log line whose trimmed text starts with `::` as a workflow
    // command, and `##[` anywhere as a legacy one: break both so a name printed at the start
    // of a line (or anywhere) cannot become one.
    let lead = s.len() - s.trim_start().len();
    let command_at = s[lead..].starts_with("::").then_some(lead);
    let mut prev_hashes = 0;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !backslash_as_is => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_hidden(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            ':' if Some(i) == command_at => out.push_str("\\u{3a}"),
            '[' if prev_hashes >= 2 => out.push_str("\\u{5b}"),
            c => out.push(c),
        }
        prev_hashes = if c == '#' { prev_hashes + 1 } else { 0 };
    }
}

/// Text for a terminal, a CI log or a TOML comment: control characters, newlines, bidi
/// overrides and other invisible characters become `\u{..}` escapes (`\n`, `\r`, `\t` for
/// the common ones), `\` becomes `\\`, and GitHub workflow command markers are broken.
/// The result is one line of printable text.
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !needs_terminal_escape(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    push_visible(&mut out, s, false);
    Cow::Owned(out)
}

/// Multi-line text for a terminal that quotes a file the user can open (a policy diagnostic
/// with its source line): line breaks and backslashes stay as they are, every other hidden
/// character becomes a `\u{..}` escape, and workflow command markers are broken on every
/// line. Use [`terminal`] for names: it also escapes newlines and backslashes.
pub fn terminal_text(s: &str) -> Cow<'_, str> {
    let unsafe_line = |l: &str| {
        l.chars().any(|c| is_hidden(c) && c != '\n')
            || l.trim_start().starts_with("::")
            || l.contains("##[")
    };
    if !s.split('\n').any(unsafe_line) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        push_visible(&mut out, line, true);
    }
    Cow::Owned(out)
}

/// `format!("{}", Terminal(name))` renders `name` as [`terminal`] does; padding (`{:<40}`)
/// applies to the escaped text.
#[derive(Debug, Clone, Copy)]
pub struct Terminal<'a>(pub &'a str);

impl fmt::Display for Terminal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&terminal(self.0))
    }
}

/// Joins items (e.g. the nodes of a witness path) with `sep`, each as [`terminal`] renders it.
pub fn join_terminal<S: AsRef<str>>(items: &[S], sep: &str) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(&terminal(item.as_ref()));
    }
    out
}

/// A TOML basic string (with its quotes) holding exactly `s`. Quotes and backslashes are
/// escaped as TOML requires; control, bidi and invisible characters are written as `\uXXXX`
/// escapes so a reviewer reading the file sees them (TOML would accept some of them raw).
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut prev_hashes = 0;
    for c in s.chars() {
        match c {
            // `##[` is a GitHub Actions command anywhere in a log line (a policy file may be
            // printed in a CI log).
            '[' if prev_hashes >= 2 => out.push_str("\\u005B"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if is_hidden(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
        prev_hashes = if c == '#' { prev_hashes + 1 } else { 0 };
    }
    out.push('"');
    out
}

/// A TOML key: bare when TOML allows it (`A-Za-z0-9_-`, not empty), else quoted as
/// [`toml_string`]. Dots are quoted too, so a name never becomes a dotted key.
pub fn toml_key(s: &str) -> Cow<'_, str> {
    let bare = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(toml_string(s))
    }
}

/// SARIF `message.text`: as [`terminal`], and square brackets escaped (`\[`, `\]`) because
/// SARIF viewers read `[text](id)` in a message as a link to a location.
pub fn sarif_text(s: &str) -> Cow<'_, str> {
    let t = terminal(s);
    if !t.contains(['[', ']']) {
        return t;
    }
    let mut out = String::with_capacity(t.len() + 4);
    for c in t.chars() {
        if c == '[' || c == ']' {
            out.push('\\');
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// A Graphviz DOT quoted string (with its quotes). Hidden characters are made visible first;
/// then `"` and `\` are escaped, since DOT reads `\n`, `\l`, `\N`... in labels.
pub fn dot_string(s: &str) -> String {
    let visible = terminal(s);
    let mut out = String::with_capacity(visible.len() + 2);
    out.push('"');
    for c in visible.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// HTML text or attribute value: hidden characters visible, then `& < > " '` as entities.
pub fn html(s: &str) -> String {
    let visible = terminal(s);
    let mut out = String::with_capacity(visible.len() + 8);
    for c in visible.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown inline text: hidden characters visible, then every ASCII punctuation character
/// that CommonMark lets a backslash escape is escaped (links, emphasis, code, HTML, tables,
/// headings), so the text renders literally.
pub fn markdown(s: &str) -> String {
    let visible = terminal(s);
    let mut out = String::with_capacity(visible.len() + 8);
    for c in visible.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The message of a GitHub Actions workflow command (after the second `::`): as
/// [`terminal`] (one printable line, no command markers), then `%`, CR and LF
/// percent-encoded as the workflow-command syntax requires, so the runner decodes the text
/// back and nothing in it can end the command or start another.
pub fn github_message(s: &str) -> String {
    github_encode(&terminal(s), false)
}

/// A property value of a GitHub Actions workflow command (`file=`, `title=`): as
/// [`github_message`], and `:` and `,` percent-encoded too, since they end the value.
pub fn github_property(s: &str) -> String {
    github_encode(&terminal(s), true)
}

fn github_encode(s: &str, property: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' if property => out.push_str("%3A"),
            ',' if property => out.push_str("%2C"),
            c => out.push(c),
        }
    }
    out
}

/// A fenced Markdown code block holding `text` literally (multi-line): hidden characters
/// other than newlines are made visible as [`terminal_text`] does, and the fence is one
/// backtick longer than the longest backtick run in the text, so no line can close it early.
/// `info` (the language) is ours, never untrusted.
pub fn markdown_code_block(info: &str, text: &str) -> String {
    let visible = terminal_text(text);
    let (mut run, mut longest) = (0usize, 0usize);
    for c in visible.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    let mut out = String::with_capacity(visible.len() + 2 * fence.len() + info.len() + 3);
    out.push_str(&fence);
    out.push_str(info);
    out.push('\n');
    out.push_str(&visible);
    if !visible.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&fence);
    out.push('\n');
    out
}

/// Multi-line text for an HTML `<pre>`: each line as [`html`] renders it, joined by newlines.
pub fn html_pre(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&html(line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names a hostile binary can carry; every output function is tried on each.
    const HOSTILE: &[&str] = &[
        "run\n  \"net.*\", \"env\", \"fs.*\",\n#",
        "a\0b",
        "\u{1b}[2K\u{1b}[1Ared",
        "evil\u{202e}txt.exe",
        "::error file=x::forged",
        "  ::warning::indented",
        "x ##[error]legacy",
        "quote\"s and back\\slash",
        "# not a comment",
        "]] [x](1) <script>alert(1)</script>",
        "\u{85}next line \u{2028} separator \u{feff}bom \u{200b}zw",
        "日本語 ok",
        "\\u{1b}",
    ];

    fn assert_one_printable_line(s: &str) {
        assert!(!s.chars().any(is_hidden), "hidden character left in {s:?}");
        assert!(
            !s.trim_start().starts_with("::"),
            "workflow command in {s:?}"
        );
        assert!(!s.contains("##["), "legacy workflow command in {s:?}");
    }

    #[test]
    fn terminal_leaves_no_control_and_stays_distinct() {
        let mut seen = std::collections::HashSet::new();
        for h in HOSTILE {
            let t = terminal(h);
            assert_one_printable_line(&t);
            assert!(seen.insert(t.into_owned()), "two names render alike: {h:?}");
        }
        // An escape and a name that spells one are told apart.
        assert_eq!(terminal("\u{1b}"), "\\u{1b}");
        assert_eq!(terminal("\\u{1b}"), "\\\\u{1b}");
        assert_eq!(terminal("plain_name"), "plain_name");
        assert!(matches!(terminal("plain"), Cow::Borrowed(_)));
        assert_eq!(format!("[{:<6}]", Terminal("a\n")), "[a\\n   ]");
    }

    #[test]
    fn terminal_text_keeps_lines_and_backslashes() {
        let t = terminal_text("a\\b = 1\n::error::x\n  \u{1b}[2K\u{202e}");
        assert_eq!(t, "a\\b = 1\n\\u{3a}:error::x\n  \\u{1b}[2K\\u{202e}");
        assert!(matches!(terminal_text("plain\nlines\\"), Cow::Borrowed(_)));
    }

    #[test]
    fn toml_strings_round_trip_through_the_toml_parser() {
        for h in HOSTILE.iter().copied().chain(["", "'", "\"\"\"", "a = 1"]) {
            let doc = format!("{} = {}\n", toml_key(h), toml_string(h));
            let parsed: toml::Table =
                toml::from_str(&doc).unwrap_or_else(|e| panic!("{doc:?}: {e}"));
            assert_eq!(parsed.len(), 1, "{doc:?} made more than one key");
            let (k, v) = parsed.iter().next().unwrap();
            assert_eq!(k, h);
            assert_eq!(v.as_str(), Some(h));
            assert_eq!(doc.lines().count(), 1, "{doc:?} spans lines");
            assert!(!doc.chars().any(|c| is_hidden(c) && c != '\n'));
            assert!(!doc.contains("##["), "{doc}");
        }
        assert_eq!(toml_key("_start"), "_start");
        assert_eq!(toml_key("a.b"), "\"a.b\"");
    }

    #[test]
    fn sarif_text_escapes_links() {
        let t = sarif_text("see [here](1) \u{1b}");
        assert_eq!(t, "see \\[here\\](1) \\u{1b}");
    }

    #[test]
    fn dot_strings_stay_one_quoted_token() {
        for h in HOSTILE {
            let d = dot_string(h);
            assert!(d.starts_with('"') && d.ends_with('"'));
            let inner = &d[1..d.len() - 1];
            // Every quote or backslash inside is escaped: pairs consume them.
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                assert_ne!(c, '"', "unescaped quote in {d}");
                if c == '\\' {
                    assert!(matches!(chars.next(), Some('\\' | '"')), "{d}");
                }
            }
            assert_one_printable_line(inner);
        }
    }

    #[test]
    fn github_values_cannot_end_or_start_a_workflow_command() {
        for h in HOSTILE
            .iter()
            .copied()
            .chain(["100%25 ok", "a,b:c", "x\r\n::error::y"])
        {
            let m = github_message(h);
            let p = github_property(h);
            for v in [&m, &p] {
                assert_one_printable_line(v);
                assert!(!v.contains(['\r', '\n']), "{v:?}");
                // Every `%` starts one of the escapes we write: the runner decodes exactly.
                for (i, _) in v.match_indices('%') {
                    assert!(
                        ["%25", "%0D", "%0A", "%3A", "%2C"]
                            .iter()
                            .any(|e| v[i..].starts_with(e)),
                        "{v:?}"
                    );
                }
            }
            assert!(!p.contains([':', ',']), "{p:?}");
        }
        assert_eq!(github_message("50% a:b,c"), "50%25 a:b,c");
        assert_eq!(github_property("50% a:b,c"), "50%25 a%3Ab%2Cc");
        assert_eq!(github_message("::error::x"), "\\u{3a}:error::x");
    }

    #[test]
    fn html_and_markdown_carry_no_markup() {
        for h in HOSTILE {
            let x = html(h);
            assert!(!x.contains(['<', '>', '"', '\'']), "{x}");
            assert_one_printable_line(&x);
            let m = markdown(h);
            let mut chars = m.chars();
            while let Some(c) = chars.next() {
                if c.is_ascii_punctuation() {
                    assert_eq!(c, '\\', "unescaped {c:?} in {m}");
                    assert!(chars.next().is_some_and(|n| n.is_ascii_punctuation()));
                }
            }
        }
        assert_eq!(html("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
        assert_eq!(markdown("[x](y)"), "\\[x\\]\\(y\\)");
    }

    /// Hostile names in the places reports put them: table cells, link text, code blocks.
    #[test]
    fn markdown_names_cannot_break_tables_links_or_code() {
        let row = format!("| {} | x |", markdown("a|b\n| c | d"));
        // One line, and the only unescaped pipes are the row's own three.
        assert_eq!(row.lines().count(), 1);
        let bare_pipes = row
            .char_indices()
            .filter(|&(i, c)| c == '|' && (i == 0 || &row[i - 1..i] != "\\"))
            .count();
        assert_eq!(bare_pipes, 3, "{row}");
        assert_eq!(
            markdown("](javascript:alert(1))"),
            "\\]\\(javascript\\:alert\\(1\\)\\)"
        );
        assert_eq!(markdown("`code`"), "\\`code\\`");
        assert_eq!(markdown("<script>"), "\\<script\\>");
        assert_eq!(markdown("a\u{202e}b"), "a\\\\u\\{202e\\}b");
    }

    #[test]
    fn code_blocks_cannot_be_closed_by_their_text() {
        let text = "world w {\n```\n# heading\n````md\n\u{202e}x\n}";
        let block = markdown_code_block("wit", text);
        let lines: Vec<&str> = block.lines().collect();
        let fence = lines[0].trim_end_matches("wit");
        assert_eq!(fence, "`````");
        // The fence appears exactly twice as a line opening, first and last.
        let closing = lines.iter().filter(|l| l.starts_with(fence)).count();
        assert_eq!(closing, 2, "{block}");
        assert_eq!(*lines.last().unwrap(), fence);
        assert!(block.contains("\\u{202e}x"), "{block}");
        assert!(!block.chars().any(|c| is_hidden(c) && c != '\n'));
        assert_eq!(markdown_code_block("", "a"), "```\na\n```\n");
    }

    #[test]
    fn html_pre_keeps_lines_and_escapes_each() {
        assert_eq!(
            html_pre("<script>\n\u{1b}&x"),
            "&lt;script&gt;\n\\u{1b}&amp;x"
        );
    }
}
