//! The Markdown report, written for GitHub: tables, `<details>` for long parts, the graph as
//! DOT source. Every untrusted string goes through [`wasmgate_escape::markdown`] (inline) or
//! [`wasmgate_escape::markdown_code_block`] (WIT, DOT). The sections come from
//! [`crate::render`]; this file only says how Markdown writes them.

use std::io::{self, Write};

use wasmgate_escape::{markdown as md, markdown_code_block};

use crate::render::{self, Markup, Style, Why, verdict_word};
use crate::{Audit, Graph, RuleDoc, Verdict, thousands};

/// Rule docs with their `##` headings moved under the report's own levels (outside code).
pub(crate) fn demote_headings(docs: &str, prefix: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for line in docs.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        match line.strip_prefix("## ") {
            Some(rest) if !in_code => {
                out.push_str(prefix);
                out.push_str(rest);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Writes the Markdown report.
pub fn markdown(audit: &Audit, w: &mut dyn Write) -> io::Result<()> {
    render::audit(&mut Markdown(w), audit)
}

/// Markdown blocks end with a blank line, so consecutive blocks never merge.
pub(crate) struct Markdown<'w>(pub(crate) &'w mut dyn Write);

impl Markup for Markdown<'_> {
    fn esc(&self, s: &str) -> String {
        md(s)
    }
    fn style(&self, style: Style, text: &str) -> String {
        match style {
            Style::Code => format!("`{text}`"),
            Style::Strong => format!("**{text}**"),
            Style::Em => format!("*{text}*"),
            Style::Name | Style::Hash | Style::Accent | Style::Alarm => text.to_string(),
        }
    }
    fn link(&self, text: &str, href: &str) -> String {
        format!("[{text}](<{href}>)")
    }
    fn anchor(&self, text: &str, _i: usize) -> String {
        text.to_string()
    }

    fn begin_page(&mut self, _title: &str, _images: bool) -> io::Result<()> {
        Ok(())
    }
    fn end_page(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn heading(&mut self, level: u8, text: &str) -> io::Result<()> {
        writeln!(self.0, "{} {text}\n", "#".repeat(level.into()))
    }
    fn binary_heading(&mut self, _i: usize, text: &str) -> io::Result<()> {
        self.heading(2, text)
    }
    fn list_heading(&mut self, level: u8, text: &str, _class: Option<&str>) -> io::Result<()> {
        self.heading(level, text)
    }
    fn verdict(&mut self, v: Verdict, why: &Why) -> io::Result<()> {
        let word = verdict_word(v);
        match why {
            Why::Reason(r) => writeln!(self.0, "**Verdict: {word}** — {r}\n"),
            Why::Summary(s) => writeln!(self.0, "**Verdict: {word}** ({s})\n"),
        }
    }
    fn para(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.0, "{text}\n")
    }
    fn footer(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.0, "{text}")
    }
    fn table(&mut self, header: &[&str]) -> io::Result<()> {
        writeln!(
            self.0,
            "| {} |\n|{}",
            header.join(" | "),
            " --- |".repeat(header.len())
        )
    }
    fn classed_row(&mut self, cells: &[&str], _classes: &[&str]) -> io::Result<()> {
        writeln!(self.0, "| {} |", cells.join(" | "))
    }
    fn end_table(&mut self) -> io::Result<()> {
        writeln!(self.0)
    }
    fn details(&mut self, summary: &str, open: bool) -> io::Result<()> {
        if open {
            self.para(&format!("{summary}."))
        } else {
            writeln!(self.0, "<details><summary>{summary}</summary>\n")
        }
    }
    fn end_details(&mut self, open: bool) -> io::Result<()> {
        if open {
            Ok(())
        } else {
            writeln!(self.0, "</details>\n")
        }
    }
    fn code_block(&mut self, lang: &str, text: &str) -> io::Result<()> {
        writeln!(self.0, "{}", markdown_code_block(lang, text))
    }
    fn list(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn item(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.0, "- {text}")
    }
    fn item_with_sublist(&mut self, text: &str, sub: &[String]) -> io::Result<()> {
        self.item(text)?;
        for s in sub {
            writeln!(self.0, "  - {s}")?;
        }
        Ok(())
    }
    fn end_list(&mut self) -> io::Result<()> {
        writeln!(self.0)
    }
    fn graph(&mut self, g: &Graph) -> io::Result<()> {
        self.para(&format!(
            "Entry points → internal functions that call an import → imports, one witness per \
             entry point and capability; dashed edges stand for several calls. Drawn: {} entry \
             points ({} more), {} internal functions ({} more), {} imports ({} more). The HTML \
             report draws it; the DOT source (render with `dot -Tsvg`):",
            g.entry_points.len(),
            thousands(g.more_entry_points),
            g.internal.len(),
            thousands(g.more_internal),
            g.imports.len(),
            thousands(g.more_imports)
        ))?;
        self.details("DOT source", false)?;
        self.code_block("dot", &g.dot())?;
        self.end_details(false)
    }
    fn rule_doc(&mut self, r: &RuleDoc) -> io::Result<()> {
        writeln!(
            self.0,
            "<details><summary>{} {}: {}</summary>\n\n{}\n</details>\n",
            r.id,
            r.name,
            // Inside an HTML block Markdown escapes are not read: entities are.
            wasmgate_escape::html(&r.summary),
            demote_headings(&r.docs, "##### ")
        )
    }
}
