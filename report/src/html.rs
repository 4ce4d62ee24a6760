//! The HTML report: one self-contained file (inline CSS and SVG, no script, no network),
//! readable on a narrow screen (wide tables scroll inside their box, the graph scales).
//! Every untrusted string goes through [`wasmgate_escape::html`] or
//! [`wasmgate_escape::html_pre`]. The sections come from [`crate::render`]; this file only
//! says how HTML writes them.

use std::io::{self, Write};

use wasmgate_escape::{html as h, html_pre};

use crate::render::{self, Markup, Style, Why, verdict_word};
use crate::{Audit, Graph, RuleDoc, Verdict};

pub(crate) const STYLE: &str = "
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0 auto;
  padding: 12px; max-width: 1000px; color: #0f172a; overflow-wrap: break-word; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 2px solid #cbd5e1; }
.verdict { padding: 10px 14px; border-radius: 6px; font-size: 1.15em; font-weight: bold; }
.accept { background: #dcfce7; border: 2px solid #16a34a; }
.review { background: #fef9c3; border: 2px solid #ca8a04; }
.reject { background: #fee2e2; border: 2px solid #dc2626; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #cbd5e1; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f1f5f9; }
code, pre, .name { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.9em; }
.name { overflow-wrap: anywhere; } h2.name { font-size: 1.3em; }
pre { background: #f8fafc; border: 1px solid #e2e8f0; padding: 8px; overflow-x: auto; }
.graph { max-width: 100%; height: auto; }
.error { color: #b91c1c; } .warning { color: #a16207; } .note { color: #334155; }
li { margin: 4px 0; }
";

/// Writes the HTML report.
pub fn html(audit: &Audit, w: &mut dyn Write) -> io::Result<()> {
    render::audit(&mut Html(w), audit)
}

/// HTML blocks end with a newline; tables sit in a box that scrolls on a narrow screen.
pub(crate) struct Html<'w>(pub(crate) &'w mut dyn Write);

impl Markup for Html<'_> {
    fn esc(&self, s: &str) -> String {
        h(s)
    }
    fn style(&self, style: Style, text: &str) -> String {
        match style {
            Style::Code | Style::Hash => format!("<code>{text}</code>"),
            Style::Strong | Style::Accent => format!("<b>{text}</b>"),
            Style::Em => format!("<i>{text}</i>"),
            Style::Name => format!("<span class=\"name\">{text}</span>"),
            Style::Alarm => format!("<span class=\"error\">{text}</span>"),
        }
    }
    fn link(&self, text: &str, href: &str) -> String {
        format!("<a href=\"{}\" class=\"name\">{text}</a>", h(href))
    }
    fn anchor(&self, text: &str, i: usize) -> String {
        self.link(text, &format!("#bin{i}"))
    }

    fn begin_page(&mut self, title: &str, images: bool) -> io::Result<()> {
        writeln!(
            self.0,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'{}\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
            if images { "; img-src data:" } else { "" },
            h(title)
        )
    }
    fn end_page(&mut self) -> io::Result<()> {
        writeln!(self.0, "</body>\n</html>")
    }
    fn heading(&mut self, level: u8, text: &str) -> io::Result<()> {
        writeln!(self.0, "<h{level}>{text}</h{level}>")
    }
    fn binary_heading(&mut self, i: usize, text: &str) -> io::Result<()> {
        writeln!(self.0, "<h2 id=\"bin{i}\" class=\"name\">{text}</h2>")
    }
    fn list_heading(&mut self, level: u8, text: &str, class: Option<&str>) -> io::Result<()> {
        // The line breaks differ so the reports stay byte-identical to earlier versions.
        match class {
            Some(c) => writeln!(self.0, "<h{level} class=\"{c}\">{text}</h{level}>\n<ul>"),
            None => writeln!(self.0, "<h{level}>{text}</h{level}><ul>"),
        }
    }
    fn verdict(&mut self, v: Verdict, why: &Why) -> io::Result<()> {
        let why = match why {
            Why::Reason(r) => r,
            Why::Summary(s) => s.as_str(),
        };
        writeln!(
            self.0,
            "<p class=\"verdict {}\">Verdict: {} — {why}</p>",
            v.as_str(),
            verdict_word(v)
        )
    }
    fn para(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.0, "<p>{text}</p>")
    }
    fn footer(&mut self, text: &str) -> io::Result<()> {
        self.para(text)
    }
    fn table(&mut self, header: &[&str]) -> io::Result<()> {
        write!(self.0, "<div class=\"scroll\"><table><tr>")?;
        for c in header {
            write!(self.0, "<th>{c}</th>")?;
        }
        writeln!(self.0, "</tr>")
    }
    fn classed_row(&mut self, cells: &[&str], classes: &[&str]) -> io::Result<()> {
        write!(self.0, "<tr>")?;
        for (i, c) in cells.iter().enumerate() {
            match classes.get(i) {
                Some(class) if !class.is_empty() => {
                    write!(self.0, "<td class=\"{class}\">{c}</td>")?
                }
                _ => write!(self.0, "<td>{c}</td>")?,
            }
        }
        writeln!(self.0, "</tr>")
    }
    fn end_table(&mut self) -> io::Result<()> {
        writeln!(self.0, "</table></div>")
    }
    fn details(&mut self, summary: &str, open: bool) -> io::Result<()> {
        let open = if open { " open" } else { "" };
        writeln!(self.0, "<details{open}><summary>{summary}</summary>")
    }
    fn end_details(&mut self, _open: bool) -> io::Result<()> {
        writeln!(self.0, "</details>")
    }
    fn code_block(&mut self, _lang: &str, text: &str) -> io::Result<()> {
        writeln!(self.0, "<pre>{}</pre>", html_pre(text))
    }
    fn list(&mut self) -> io::Result<()> {
        writeln!(self.0, "<ul>")
    }
    fn item(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.0, "<li>{text}</li>")
    }
    fn item_with_sublist(&mut self, text: &str, sub: &[String]) -> io::Result<()> {
        write!(self.0, "<li>{text}<ul>")?;
        for s in sub {
            write!(self.0, "<li>{s}</li>")?;
        }
        writeln!(self.0, "</ul></li>")
    }
    fn end_list(&mut self) -> io::Result<()> {
        writeln!(self.0, "</ul>")
    }
    fn graph(&mut self, g: &Graph) -> io::Result<()> {
        self.para(
            "Entry points → internal functions that call an import → imports, one witness per \
             entry point and capability; dashed edges stand for several calls (hover for the \
             count and full names).",
        )?;
        writeln!(self.0, "<div class=\"scroll\">{}</div>", g.svg())
    }
    fn rule_doc(&mut self, r: &RuleDoc) -> io::Result<()> {
        writeln!(
            self.0,
            "<details><summary>{} {}: {}</summary><pre>{}</pre></details>",
            h(&r.id),
            h(&r.name),
            h(&r.summary),
            html_pre(&r.docs)
        )
    }
}
