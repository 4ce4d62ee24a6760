//! Policy diagnostics: a message pointing at a TOML span, rendered with a caret by
//! codespan-reporting (plain text, so the output is the same on a terminal and in a snapshot).
//!
//! The output stays proportional to what a reader can use, whatever the file: at most
//! [`MAX_DIAGNOSTICS_PER_FILE`] per file (then a count of the rest), a source line longer than
//! [`MAX_SHOWN_LINE`] bytes shown as a window around the caret, and a note repeated by many
//! diagnostics (the capability vocabulary) shown once.

use std::ops::Range;
use std::path::PathBuf;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::{self, Files, SimpleFiles};
use codespan_reporting::term;

/// The text of one policy file, kept so spans can be shown and turned into line:column.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file as given.
    pub path: PathBuf,
    /// The path as given (relative to the working directory when it was).
    pub name: String,
    /// Its whole text.
    pub text: String,
    /// Built on first use; makes each line:column lookup independent of the file's size
    /// (one finding per entry of a 27 MB policy would otherwise rescan it each time).
    index: std::sync::OnceLock<LineIndex>,
}

/// Where lines start, and how many characters precede every [`CHAR_MARK_EVERY`]th byte.
#[derive(Debug, Clone)]
struct LineIndex {
    line_starts: Vec<usize>,
    /// (byte offset on a character boundary, characters before it), ascending.
    char_marks: Vec<(usize, usize)>,
}

const CHAR_MARK_EVERY: usize = 4096;

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let mut char_marks = Vec::with_capacity(text.len() / CHAR_MARK_EVERY + 1);
        let mut next = 0;
        for (n, (i, _)) in text.char_indices().enumerate() {
            if i >= next {
                char_marks.push((i, n));
                next = i + CHAR_MARK_EVERY;
            }
        }
        char_marks.push((text.len(), text.chars().count()));
        LineIndex {
            line_starts,
            char_marks,
        }
    }
}

impl Source {
    /// A source file, with the line index built once.
    pub fn new(path: PathBuf, name: String, text: String) -> Source {
        Source {
            path,
            name,
            text,
            index: std::sync::OnceLock::new(),
        }
    }

    fn index(&self) -> &LineIndex {
        self.index.get_or_init(|| LineIndex::new(&self.text))
    }

    /// Characters before byte `offset` (a character boundary).
    fn chars_before(&self, offset: usize) -> usize {
        let marks = &self.index().char_marks;
        let k = marks
            .partition_point(|&(b, _)| b <= offset)
            .saturating_sub(1);
        let (b, n) = marks.get(k).copied().unwrap_or((0, 0));
        n + self.text[b.min(offset)..offset].chars().count()
    }

    /// 0-based index of the line holding `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.index()
            .line_starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        let offset = floor_char(&self.text, offset.min(self.text.len()));
        let line = self.line_of(offset);
        let start = self.index().line_starts[line];
        let col = self.chars_before(offset) - self.chars_before(start) + 1;
        (line as u32 + 1, col as u32)
    }

    /// The trimmed text of the line holding `offset`; a long line is cut to a window of
    /// about [`MAX_SHOWN_LINE`] bytes around `offset`, marked with `…`.
    pub fn line_text(&self, offset: usize) -> String {
        let offset = floor_char(&self.text, offset.min(self.text.len()));
        let (start, end) = self.line_bounds(offset);
        let (ws, we) = window(&self.text, start, end, offset);
        let mut out = String::new();
        if ws > start {
            out.push('…');
        }
        out.push_str(&self.text[ws..we]);
        if we < end {
            out.push('…');
        }
        out.trim().to_string()
    }

    /// Byte offset of the end of the line holding `offset` (its newline, or the end).
    pub fn line_end(&self, offset: usize) -> usize {
        self.line_bounds(offset).1
    }

    /// Byte range of the line holding `offset` (without its newline).
    fn line_bounds(&self, offset: usize) -> (usize, usize) {
        let starts = &self.index().line_starts;
        let line = self.line_of(offset.min(self.text.len()));
        let end = starts
            .get(line + 1)
            .map_or(self.text.len(), |&next| next - 1);
        (starts[line], end)
    }
}

/// Most diagnostics shown per file; the rest are counted.
pub const MAX_DIAGNOSTICS_PER_FILE: usize = 50;

/// Longest source line shown whole under a diagnostic, in bytes.
pub const MAX_SHOWN_LINE: usize = 160;

fn floor_char(s: &str, i: usize) -> usize {
    s.floor_char_boundary(i)
}

/// A window of at most [`MAX_SHOWN_LINE`] bytes of the line `start..end` around `at`: a
/// quarter before it, the rest after (on character boundaries).
fn window(text: &str, start: usize, end: usize, at: usize) -> (usize, usize) {
    if end - start <= MAX_SHOWN_LINE {
        return (start, end);
    }
    let ws = floor_char(text, at.saturating_sub(MAX_SHOWN_LINE / 4).max(start));
    let we = floor_char(text, (ws + MAX_SHOWN_LINE).min(end));
    (ws, we)
}

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Index into the loader's sources.
    pub file: usize,
    /// Byte range the caret points at.
    pub span: Range<usize>,
    /// The one-line error message.
    pub message: String,
    /// Short text under the caret.
    pub label: String,
    /// A second place worth showing (the first definition of a duplicate key).
    pub secondary: Option<(Range<usize>, String)>,
    /// Notes printed under the snippet.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error at `span` of source `file`.
    pub fn new(file: usize, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file,
            span,
            message: message.into(),
            label: String::new(),
            secondary: None,
            notes: Vec::new(),
        }
    }

    /// Sets the text under the caret.
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    /// Adds a note under the snippet.
    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
}

/// Renders diagnostics as `error: ...` blocks with `--> file:line:col` and a caret.
/// `omitted[file]` counts diagnostics of that file left out of `diagnostics` (over the cap).
pub fn render(sources: &[Source], diagnostics: &[Diagnostic], omitted: &[usize]) -> String {
    let mut files = SimpleFiles::new();
    let ids: Vec<usize> = sources
        .iter()
        .map(|s| files.add(s.name.as_str(), s.text.as_str()))
        .collect();
    let config = term::Config::default();
    let mut out = String::new();
    let mut shown = vec![0usize; sources.len()];
    let mut extra = omitted.to_vec();
    extra.resize(sources.len(), 0);
    let mut notes_seen = std::collections::HashSet::new();
    for d in diagnostics {
        let (Some(&file), Some(src)) = (ids.get(d.file), sources.get(d.file)) else {
            continue;
        };
        if shown[d.file] == MAX_DIAGNOSTICS_PER_FILE {
            extra[d.file] += 1;
            continue;
        }
        shown[d.file] += 1;
        let notes: Vec<String> = d
            .notes
            .iter()
            .filter(|n| notes_seen.insert(n.as_str()))
            .cloned()
            .collect();
        let span = clamp(&src.text, &d.span);
        // With a second label, codespan also prints the lines between the two: check those.
        let long = has_long_line(src, &span)
            || d.secondary.as_ref().is_some_and(|(s2, _)| {
                let s2 = clamp(&src.text, s2);
                has_long_line(src, &(span.start.min(s2.start)..span.end.max(s2.end)))
            });
        let rendered = if long {
            let view = Window::new(src, span.clone());
            let mut labels = vec![Label::primary((), view.map(&span)).with_message(&d.label)];
            let mut notes = notes;
            if let Some((s2, msg)) = &d.secondary {
                let s2 = clamp(&src.text, s2);
                match view.contains(&s2) {
                    true => labels.push(Label::secondary((), view.map(&s2)).with_message(msg)),
                    false => {
                        let (l, c) = src.line_col(s2.start);
                        notes.insert(0, format!("{msg}: {}:{l}:{c}", src.name));
                    }
                }
            }
            let cs = CsDiagnostic::error()
                .with_message(&d.message)
                .with_labels(labels)
                .with_notes(notes);
            term::emit_into_string(&config, &view, &cs)
        } else {
            let mut labels = vec![Label::primary(file, span).with_message(&d.label)];
            if let Some((s2, msg)) = &d.secondary {
                labels.push(Label::secondary(file, clamp(&src.text, s2)).with_message(msg));
            }
            let cs = CsDiagnostic::error()
                .with_message(&d.message)
                .with_labels(labels)
                .with_notes(notes);
            term::emit_into_string(&config, &files, &cs)
        };
        match rendered {
            Ok(s) => out.push_str(&s),
            Err(_) => out.push_str(&format!("error: {}\n", d.message)),
        }
    }
    for (src, n) in sources.iter().zip(extra) {
        if n > 0 {
            out.push_str(&format!(
                "error: {n} more error{} in {} not shown\n",
                if n == 1 { "" } else { "s" },
                src.name
            ));
        }
    }
    out
}

/// A span inside `text`, on character boundaries.
fn clamp(text: &str, span: &Range<usize>) -> Range<usize> {
    let start = floor_char(text, span.start.min(text.len()));
    let end = floor_char(text, span.end.min(text.len())).max(start);
    start..end
}

/// Whether a line the span touches is too long to show whole.
fn has_long_line(src: &Source, span: &Range<usize>) -> bool {
    let start = src.line_bounds(span.start).0;
    let end = src.line_bounds(span.end).1;
    src.text[start..end]
        .split('\n')
        .any(|l| l.len() > MAX_SHOWN_LINE)
}

/// One line of a source, cut to a window around a span, that still reports the real line
/// and column numbers: what a diagnostic on a very long line shows.
struct Window<'a> {
    src: &'a Source,
    /// Byte range of the window in the source.
    range: Range<usize>,
    text: String,
    /// Bytes of the `…` marker before the window text.
    lead: usize,
    line_number: usize,
}

impl<'a> Window<'a> {
    fn new(src: &'a Source, span: Range<usize>) -> Window<'a> {
        let (start, end) = src.line_bounds(span.start);
        let (ws, we) = window(&src.text, start, end, span.start);
        let lead = if ws > start { "…" } else { "" };
        let tail = if we < end { "…" } else { "" };
        Window {
            src,
            range: ws..we,
            text: format!("{lead}{}{tail}", &src.text[ws..we]),
            lead: lead.len(),
            line_number: src.line_col(span.start).0 as usize,
        }
    }

    fn contains(&self, span: &Range<usize>) -> bool {
        self.range.start <= span.start && span.start <= self.range.end
    }

    /// A source span as a span of the window text (cut at the window's end).
    fn map(&self, span: &Range<usize>) -> Range<usize> {
        let at =
            |i: usize| i.clamp(self.range.start, self.range.end) - self.range.start + self.lead;
        at(span.start)..at(span.end).max(at(span.start))
    }
}

impl<'a> Files<'a> for Window<'a> {
    type FileId = ();
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, (): ()) -> Result<&'a str, files::Error> {
        Ok(&self.src.name)
    }

    fn source(&'a self, (): ()) -> Result<&'a str, files::Error> {
        Ok(&self.text)
    }

    fn line_index(&'a self, (): (), _byte_index: usize) -> Result<usize, files::Error> {
        Ok(0)
    }

    fn line_number(&'a self, (): (), _line_index: usize) -> Result<usize, files::Error> {
        Ok(self.line_number)
    }

    fn column_number(
        &'a self,
        (): (),
        _line_index: usize,
        byte_index: usize,
    ) -> Result<usize, files::Error> {
        let real = (byte_index.saturating_sub(self.lead) + self.range.start).min(self.range.end);
        Ok(self.src.line_col(real).1 as usize)
    }

    fn line_range(&'a self, (): (), line_index: usize) -> Result<Range<usize>, files::Error> {
        match line_index {
            0 => Ok(0..self.text.len()),
            _ => Err(files::Error::LineTooLarge {
                given: line_index,
                max: 0,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        Source::new("p.toml".into(), "p.toml".into(), text.into())
    }

    #[test]
    fn line_and_column_count_characters() {
        let s = source("a = 1\né = \"x\"\n\nlast");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(6), (2, 1));
        // `é` is two bytes, one column.
        assert_eq!(s.line_col(9), (2, 3));
        assert_eq!(s.line_col(s.text.len()), (4, 5));
        // Past the char-mark stride, in a long non-ASCII line.
        let long = format!("k = \"{}x\"", "é".repeat(5000));
        let s = source(&long);
        let x = long.find('x').unwrap();
        assert_eq!(s.line_col(x), (1, 6 + 5000));
    }

    /// Regression: a diagnostic re-rendered its whole source line, so many diagnostics on one
    /// 40 KB line printed hundreds of megabytes. Long lines show a window with real columns.
    #[test]
    fn long_lines_are_windowed_with_real_positions() {
        let text = format!("allow = [{}\"bad\"]\n", "\"stdio\", ".repeat(4000));
        let s = source(&text);
        let at = text.find("bad").unwrap();
        let d = Diagnostic::new(0, at..at + 3, "unknown capability `bad`").label("here");
        let out = render(std::slice::from_ref(&s), &[d], &[]);
        let (line, col) = s.line_col(at);
        assert!(out.contains(&format!("p.toml:{line}:{col}")), "{out}");
        assert!(
            out.lines().all(|l| l.chars().count() < 2 * MAX_SHOWN_LINE),
            "{out}"
        );
        assert!(
            out.contains("│ …") && out.contains("\"stdio\", \"bad\"]") && out.contains("^^^ here"),
            "{out}"
        );
        let shown = s.line_text(at);
        assert!(
            shown.starts_with('…')
                && shown.contains("\"bad\"]")
                && shown.len() < 2 * MAX_SHOWN_LINE,
            "{shown}"
        );
    }

    /// Regression: a duplicate key two lines below its first definition printed the long
    /// line between them whole (codespan shows the lines between two labels).
    #[test]
    fn a_long_line_between_two_labels_is_windowed() {
        let text = format!("a = 1\nb = [{}]\na = 2\n", "'x',".repeat(5000));
        let s = source(&text);
        let second = text.rfind("a = 2").unwrap();
        let mut d = Diagnostic::new(0, second..second + 1, "duplicate key: `a`").label("again");
        d.secondary = Some((0..1, "first defined here".to_string()));
        let out = render(std::slice::from_ref(&s), &[d], &[]);
        assert!(
            out.lines().all(|l| l.chars().count() < 2 * MAX_SHOWN_LINE),
            "{out}"
        );
        assert!(out.contains("first defined here"), "{out}");
    }

    #[test]
    fn diagnostics_past_the_cap_are_counted_and_notes_shown_once() {
        let s = source("x = 1\n");
        let diags: Vec<Diagnostic> = (0..MAX_DIAGNOSTICS_PER_FILE + 3)
            .map(|_| Diagnostic::new(0, 0..1, "bad").note("the same long note"))
            .collect();
        let out = render(std::slice::from_ref(&s), &diags, &[7]);
        assert_eq!(out.matches("error: bad").count(), MAX_DIAGNOSTICS_PER_FILE);
        assert_eq!(out.matches("the same long note").count(), 1);
        assert!(
            out.contains("error: 10 more errors in p.toml not shown"),
            "{out}"
        );
    }
}
