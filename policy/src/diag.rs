//! Policy diagnostics: a message pointing at a TOML span, rendered with a caret by
//! codespan-reporting (plain text, so the output is the same on a terminal and in a snapshot).

use std::ops::Range;
use std::path::PathBuf;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;

/// The text of one policy file, kept so spans can be shown and turned into line:column.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    /// The path as given (relative to the working directory when it was).
    pub name: String,
    pub text: String,
}

impl Source {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() as u32 + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.text[line_start..offset].chars().count() as u32 + 1;
        (line, col)
    }

    /// The trimmed text of the line holding `offset`.
    pub fn line_text(&self, offset: usize) -> &str {
        let offset = offset.min(self.text.len());
        let start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        self.text[start..end].trim()
    }
}

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Index into the loader's sources.
    pub file: usize,
    pub span: Range<usize>,
    pub message: String,
    /// Short text under the caret.
    pub label: String,
    /// A second place worth showing (the first definition of a duplicate key).
    pub secondary: Option<(Range<usize>, String)>,
    pub notes: Vec<String>,
}

impl Diagnostic {
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

    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
}

/// Renders diagnostics as `error: ...` blocks with `--> file:line:col` and a caret.
pub fn render(sources: &[Source], diagnostics: &[Diagnostic]) -> String {
    let mut files = SimpleFiles::new();
    let ids: Vec<usize> = sources
        .iter()
        .map(|s| files.add(s.name.clone(), s.text.clone()))
        .collect();
    let config = term::Config::default();
    let mut out = String::new();
    for d in diagnostics {
        let Some(&file) = ids.get(d.file) else {
            continue;
        };
        let mut labels = vec![Label::primary(file, d.span.clone()).with_message(&d.label)];
        if let Some((span, msg)) = &d.secondary {
            labels.push(Label::secondary(file, span.clone()).with_message(msg));
        }
        let cs = CsDiagnostic::error()
            .with_message(&d.message)
            .with_labels(labels)
            .with_notes(d.notes.clone());
        match term::emit_into_string(&config, &files, &cs) {
            Ok(s) => out.push_str(&s),
            Err(_) => out.push_str(&format!("error: {}\n", d.message)),
        }
    }
    out
}
