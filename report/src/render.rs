//! One walk of the audit report and the batch index, shared by the Markdown and HTML
//! renderers: the sections, their order and their wording live here once; a [`Markup`] says
//! how a heading, a table or a list is written, and how untrusted text is escaped, in its
//! format. The output of both formats is byte-identical to the renderers this replaced.

use std::io;

use wasmgate_analyzer::BinaryKind;
use wasmgate_policy::{Kind, Level};

use crate::index::Index;
use crate::{
    Audit, AuditReport, Dependencies, Dynamic, FindingView, Graph, MAX_LISTED_ENTRY_POINTS,
    MAX_WIT_LINES, PolicyStatus, RuleDoc, Verdict, dynamic_lines, thousands,
};

/// Rows of a long table (custom sections, crates) shown before "N more".
pub(crate) const MAX_TABLE_ROWS: usize = 500;

/// What follows the verdict word.
pub(crate) enum Why<'a> {
    /// One binary's reason (escaped): ` — reason` in both formats.
    Reason(&'a str),
    /// A summary of several binaries (trusted text): Markdown puts it in parentheses.
    Summary(String),
}

/// Inline styles; [`Markup::style`] says which ones a format shows.
#[derive(Clone, Copy)]
pub(crate) enum Style {
    /// Literal code, in both formats.
    Code,
    /// Bold, in both formats.
    Strong,
    /// Italic, in both formats.
    Em,
    /// A name from the binary: monospace in HTML, plain in Markdown.
    Name,
    /// A hash: code in HTML, plain in Markdown.
    Hash,
    /// Bold in HTML only, where it helps scanning a table or list.
    Accent,
    /// Red in HTML, plain in Markdown.
    Alarm,
}

/// How one output format writes the blocks of a report. Arguments named `text` are already
/// escaped (or trusted); only [`Markup::esc`] and the block methods named after data (`graph`,
/// `rule_doc`, `code_block`) read untrusted text themselves.
pub(crate) trait Markup {
    /// Untrusted text, escaped for inline use.
    fn esc(&self, s: &str) -> String;
    /// `text` (escaped or trusted) in `style`.
    fn style(&self, style: Style, text: &str) -> String;
    /// Trusted literal code, such as a section name.
    fn code(&self, s: &str) -> String {
        self.style(Style::Code, s)
    }
    /// A name from the binary, escaped.
    fn name(&self, text: &str) -> String {
        self.style(Style::Name, text)
    }
    /// A link to another file (`href` is a file name wasmgate chose).
    fn link(&self, text: &str, href: &str) -> String;
    /// A link to binary `i`'s section of the same page (HTML only).
    fn anchor(&self, text: &str, i: usize) -> String;

    /// The page's opening; `images` allows inline `data:` images.
    fn begin_page(&mut self, title: &str, images: bool) -> io::Result<()>;
    /// The page's closing.
    fn end_page(&mut self) -> io::Result<()>;
    /// A heading of `level` (1 to 4).
    fn heading(&mut self, level: u8, text: &str) -> io::Result<()>;
    /// The heading of binary `i`, an anchor target in HTML.
    fn binary_heading(&mut self, i: usize, text: &str) -> io::Result<()>;
    /// A heading immediately followed by [`Markup::list`]; `class` colours it in HTML.
    fn list_heading(&mut self, level: u8, text: &str, class: Option<&str>) -> io::Result<()>;
    /// The verdict line.
    fn verdict(&mut self, v: Verdict, why: &Why) -> io::Result<()>;
    /// A paragraph.
    fn para(&mut self, text: &str) -> io::Result<()>;
    /// The last paragraph of a page.
    fn footer(&mut self, text: &str) -> io::Result<()>;
    /// Opens a table with its header cells.
    fn table(&mut self, header: &[&str]) -> io::Result<()>;
    /// A table row whose cell `i` has HTML class `classes[i]` when given and not empty.
    fn classed_row(&mut self, cells: &[&str], classes: &[&str]) -> io::Result<()>;
    /// A table row.
    fn row(&mut self, cells: &[&str]) -> io::Result<()> {
        self.classed_row(cells, &[])
    }
    /// Closes a table.
    fn end_table(&mut self) -> io::Result<()>;
    /// Opens a collapsible block; an `open` one is a plain sentence in Markdown.
    fn details(&mut self, summary: &str, open: bool) -> io::Result<()>;
    /// Closes [`Markup::details`].
    fn end_details(&mut self, open: bool) -> io::Result<()>;
    /// Untrusted multi-line text, shown literally.
    fn code_block(&mut self, lang: &str, text: &str) -> io::Result<()>;
    /// Opens a bullet list.
    fn list(&mut self) -> io::Result<()>;
    /// A list item.
    fn item(&mut self, text: &str) -> io::Result<()>;
    /// A list item with a nested list.
    fn item_with_sublist(&mut self, text: &str, sub: &[String]) -> io::Result<()>;
    /// Closes a list.
    fn end_list(&mut self) -> io::Result<()>;
    /// The capability graph: SVG in HTML, DOT source in Markdown.
    fn graph(&mut self, g: &Graph) -> io::Result<()>;
    /// The documentation of one rule that fired.
    fn rule_doc(&mut self, r: &RuleDoc) -> io::Result<()>;
}

pub(crate) fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Accept => "ACCEPT",
        Verdict::Review => "REVIEW",
        Verdict::Reject => "REJECT",
    }
}

/// `a → b → c`, each escaped by `m`.
fn path(m: &dyn Markup, p: &[String]) -> String {
    p.iter().map(|n| m.esc(n)).collect::<Vec<_>>().join(" → ")
}

/// `none` or the escaped names, comma-separated.
fn list_or_none(m: &dyn Markup, v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.iter().map(|s| m.esc(s)).collect::<Vec<_>>().join(", ")
    }
}

/// `N: a, b, c, …`, with names escaped by `m`.
fn some_of(m: &dyn Markup, total: usize, names: &[String]) -> String {
    let shown: Vec<String> = names
        .iter()
        .take(MAX_LISTED_ENTRY_POINTS)
        .map(|n| m.esc(n))
        .collect();
    let more = if total > shown.len() { ", …" } else { "" };
    format!("{}: {}{more}", thousands(total), shown.join(", "))
}

/// `Errors (6, 1 suppressed)`.
fn level_heading(level: Level, n: usize, suppressed: usize) -> String {
    let name = match level {
        Level::Error => "Errors",
        Level::Warning => "Warnings",
        Level::Note => "Notes",
    };
    if suppressed > 0 {
        format!("{name} ({n}, {suppressed} suppressed)")
    } else {
        format!("{name} ({n})")
    }
}

fn policy_status(p: &PolicyStatus) -> String {
    match p {
        PolicyStatus::Allowed => "allowed".into(),
        PolicyStatus::Denied { rules } => format!("denied ({})", rules.join(", ")),
        PolicyStatus::Waived => "waived".into(),
        PolicyStatus::Unchecked => "no policy".into(),
    }
}

/// The table of binaries and their verdicts (audit of several binaries, batch index):
/// `rows` gives each binary's first cell (already marked up), verdict and reason.
fn summary_table<'a>(
    m: &mut dyn Markup,
    rows: impl Iterator<Item = (String, Verdict, &'a str)>,
    failed: &[crate::Failure],
) -> io::Result<()> {
    m.table(&["Binary", "Verdict", "Why"])?;
    for (first, verdict, reason) in rows {
        let reason = m.esc(reason);
        m.row(&[&first, verdict.as_str(), &reason])?;
    }
    for f in failed {
        let (artifact, error) = (m.esc(&f.artifact), m.esc(&f.error));
        m.classed_row(
            &[
                &artifact,
                "error",
                &format!("could not be analysed: {error}"),
            ],
            &["name", "error"],
        )?;
    }
    m.end_table()
}

/// The audit report of one or more binaries.
pub(crate) fn audit(m: &mut dyn Markup, audit: &Audit) -> io::Result<()> {
    let title = match (audit.binaries.as_slice(), audit.failed.as_slice()) {
        ([one], []) => format!("wasmgate audit: {}", one.artifact),
        ([], [one]) => format!("wasmgate audit: {}", one.artifact),
        _ => format!("wasmgate audit: {} binaries", audit.count()),
    };
    m.begin_page(&title, true)?;
    m.heading(1, "wasmgate audit report")?;
    let reason;
    let why = match (audit.binaries.as_slice(), audit.failed.as_slice()) {
        ([one], []) => {
            reason = m.esc(&one.verdict_reason);
            Why::Reason(&reason)
        }
        ([], [one]) => {
            reason = format!("could not be analysed: {}", m.esc(&one.error));
            Why::Reason(&reason)
        }
        _ => Why::Summary(format!("the worst of {} binaries", audit.count())),
    };
    m.verdict(audit.verdict, &why)?;
    if audit.count() > 1 {
        let rows: Vec<_> = audit
            .binaries
            .iter()
            .enumerate()
            .map(|(i, b)| {
                (
                    m.anchor(&m.esc(&b.artifact), i),
                    b.verdict,
                    &*b.verdict_reason,
                )
            })
            .collect();
        summary_table(m, rows.into_iter(), &audit.failed)?;
    }
    let version = m.esc(&audit.wasmgate_version);
    m.para(&format!(
        "Generated by wasmgate {version} (report schema {}). Everything quoted from the binary \
         is untrusted text, shown escaped.",
        audit.schema_version
    ))?;
    for (i, b) in audit.binaries.iter().enumerate() {
        binary(m, i, b)?;
    }
    m.end_page()
}

/// The index of a batch audit.
pub(crate) fn index(m: &mut dyn Markup, index: &Index) -> io::Result<()> {
    m.begin_page("wasmgate audit index", false)?;
    m.heading(1, "wasmgate audit index")?;
    m.verdict(index.verdict, &Why::Summary(index.counts()))?;
    let rows: Vec<_> = index
        .binaries
        .iter()
        .map(|b| {
            (
                m.link(&m.esc(&b.artifact), &b.report),
                b.verdict,
                &*b.verdict_reason,
            )
        })
        .collect();
    summary_table(m, rows.into_iter(), &index.failed)?;
    let version = m.esc(&index.wasmgate_version);
    m.footer(&format!(
        "Generated by wasmgate {version} (report schema {}).",
        index.schema_version
    ))?;
    m.end_page()
}

fn binary(m: &mut dyn Markup, i: usize, b: &AuditReport) -> io::Result<()> {
    m.binary_heading(i, &m.esc(&b.artifact))?;
    m.verdict(b.verdict, &Why::Reason(&m.esc(&b.verdict_reason)))?;
    let policy = b
        .policy
        .as_deref()
        .map_or("none given".into(), |p| m.esc(p));
    m.para(&format!("Policy: {policy}"))?;
    identity(m, b)?;
    dependencies(m, &b.dependencies)?;
    if let Some(wit) = &b.wit {
        m.heading(3, "WIT world")?;
        let lines: Vec<&str> = wit.lines().collect();
        m.code_block("wit", &lines[..lines.len().min(MAX_WIT_LINES)].join("\n"))?;
        if lines.len() > MAX_WIT_LINES {
            m.para(&format!(
                "{} more lines not shown.",
                thousands(lines.len() - MAX_WIT_LINES)
            ))?;
        }
    }
    capabilities(m, b)?;
    m.heading(3, "Capability graph")?;
    m.graph(&b.graph)?;
    findings(m, b)?;
    smt(m, b)?;
    diff(m, b)?;
    dynamic(m, &b.dynamic)?;
    if !b.warnings.is_empty() {
        m.list_heading(3, "Analyzer warnings", None)?;
        for x in &b.warnings {
            m.item(&m.esc(x))?;
        }
        m.end_list()?;
    }
    Ok(())
}

fn identity(m: &mut dyn Markup, b: &AuditReport) -> io::Result<()> {
    let id = &b.identity;
    m.heading(3, "Identity")?;
    m.table(&["Field", "Value"])?;
    m.row(&["File", &m.name(&m.esc(&b.artifact))])?;
    m.row(&["Size", &format!("{} bytes", thousands(id.size as usize))])?;
    m.row(&["SHA-256", &m.style(Style::Hash, &m.esc(&id.sha256))])?;
    let kind = match id.kind {
        BinaryKind::Module => "core module",
        BinaryKind::Component => "component",
    };
    m.row(&["Kind", kind])?;
    let signature = if id.signature_section {
        "present (not verified)"
    } else {
        "none"
    };
    m.row(&["Signature section", signature])?;
    let features = if id.features.is_empty() {
        "none beyond the MVP".to_string()
    } else {
        list_or_none(m, &id.features)
    };
    m.row(&["Wasm features", &features])?;
    for (field, value) in &id.metadata {
        m.row(&[&format!("{} (wasm-metadata)", m.esc(field)), &m.esc(value)])?;
    }
    m.end_table()?;
    if id.producers.is_empty() {
        m.para(&format!("No {} section.", m.code("producers")))?;
    } else {
        m.table(&["Producer field", "Name", "Version"])?;
        for p in &id.producers {
            m.row(&[&m.esc(&p.field), &m.esc(&p.name), &m.esc(&p.version)])?;
        }
        m.end_table()?;
    }
    if id.custom_sections.is_empty() {
        return m.para("No custom sections.");
    }
    let n = id.custom_sections.len();
    m.details(&format!("{} custom sections", thousands(n)), false)?;
    m.table(&["Module", "Section", "Bytes"])?;
    for s in id.custom_sections.iter().take(MAX_TABLE_ROWS) {
        let module = s.module.as_deref().map_or("(binary)".into(), |x| m.esc(x));
        let size = thousands(s.size as usize);
        m.row(&[&module, &m.name(&m.esc(&s.name)), &size])?;
    }
    m.end_table()?;
    if n > MAX_TABLE_ROWS {
        m.para(&format!(
            "{} more sections not listed.",
            thousands(n - MAX_TABLE_ROWS)
        ))?;
    }
    m.end_details(false)
}

fn dependencies(m: &mut dyn Markup, deps: &Dependencies) -> io::Result<()> {
    m.heading(3, "Dependencies")?;
    let section = m.code(".dep-v0");
    let (module, crates) = match deps {
        Dependencies::Absent => {
            return m.para(&format!(
                "No cargo-auditable {section} section: the binary does not list its crates."
            ));
        }
        Dependencies::Unreadable { reason } => {
            let reason = m.esc(reason);
            return m.para(&format!(
                "The {section} section could not be read: {reason}."
            ));
        }
        Dependencies::Listed { module, crates } => (module, crates),
    };
    let of = module
        .as_deref()
        .map_or(String::new(), |x| format!(" of {}", m.esc(x)));
    m.details(
        &format!(
            "{} crates from cargo-auditable's {section} section{of}",
            thousands(crates.len())
        ),
        true,
    )?;
    m.table(&["Crate", "Version", "Source", "Kind"])?;
    for c in crates.iter().take(MAX_TABLE_ROWS) {
        let root = if c.root { " (root)" } else { "" };
        m.row(&[
            &format!("{}{root}", m.esc(&c.name)),
            &m.esc(&c.version),
            &m.esc(&c.source),
            &m.esc(&c.kind),
        ])?;
    }
    m.end_table()?;
    if crates.len() > MAX_TABLE_ROWS {
        m.para(&format!(
            "{} more crates not listed.",
            thousands(crates.len() - MAX_TABLE_ROWS)
        ))?;
    }
    m.end_details(true)
}

fn capabilities(m: &mut dyn Markup, b: &AuditReport) -> io::Result<()> {
    m.heading(3, "Capabilities")?;
    if b.capabilities.is_empty() {
        return m.para("No entry point reaches a capability.");
    }
    m.table(&[
        "Capability",
        "Entry points reaching it",
        "One witness path",
        "Policy",
    ])?;
    for c in &b.capabilities {
        m.row(&[
            &m.style(Style::Accent, &m.esc(&c.capability)),
            &some_of(m, c.entry_point_count, &c.entry_points),
            &m.name(&path(m, &c.witness)),
            &policy_status(&c.policy),
        ])?;
    }
    m.end_table()
}

fn findings(m: &mut dyn Markup, b: &AuditReport) -> io::Result<()> {
    m.heading(3, "Findings")?;
    if b.policy.is_none() {
        m.para("No policy was applied, so there are no findings.")?;
    } else if b.findings.is_empty() {
        m.para("None.")?;
    }
    for level in [Level::Error, Level::Warning, Level::Note] {
        let of: Vec<&FindingView> = b.findings.iter().filter(|f| f.level == level).collect();
        if of.is_empty() {
            continue;
        }
        let suppressed = of.iter().filter(|f| f.suppressed.is_some()).count();
        let heading = level_heading(level, of.len(), suppressed);
        m.list_heading(4, &heading, Some(level.as_str()))?;
        for f in of {
            finding(m, f)?;
        }
        m.end_list()?;
    }
    if !b.rules.is_empty() {
        m.heading(4, "Rule documentation")?;
        for r in &b.rules {
            m.rule_doc(r)?;
        }
    }
    Ok(())
}

fn finding(m: &mut dyn Markup, f: &FindingView) -> io::Result<()> {
    let mut line = m.style(Style::Strong, &format!("{} {}", f.rule, f.name));
    if f.kind == Kind::Pass {
        line.push_str(" (proven)");
    }
    line.push_str(&format!(": {}", m.esc(&f.message)));
    if let Some(s) = &f.suppressed {
        line.push_str(&format!(
            " {}",
            m.style(Style::Em, &format!("Suppressed: {}.", m.esc(s)))
        ));
    }
    let mut sub = Vec::new();
    if f.entry_point_count > 0 {
        let some = some_of(m, f.entry_point_count, &f.entry_points);
        sub.push(format!("Entry points: {some}"));
    }
    if !f.witness.is_empty() {
        sub.push(format!("Witness: {}", m.name(&path(m, &f.witness))));
    }
    sub.push(format!("Decided by: {}", m.esc(&f.policy)));
    m.item_with_sublist(&line, &sub)
}

fn smt(m: &mut dyn Markup, b: &AuditReport) -> io::Result<()> {
    m.heading(3, "SMT verdicts")?;
    if b.smt.is_empty() {
        let calls = m.code("[[calls]]");
        return m.para(&format!("The policy has no {calls} constraints."));
    }
    m.table(&["Verdict", "Subject", "Detail"])?;
    for v in &b.smt {
        m.row(&[&m.esc(&v.verdict), &m.esc(&v.subject), &m.esc(&v.message)])?;
    }
    m.end_table()
}

fn diff(m: &mut dyn Markup, b: &AuditReport) -> io::Result<()> {
    let Some(d) = &b.diff else {
        return Ok(());
    };
    m.heading(3, &format!("Changes since {}", m.esc(&d.previous)))?;
    let added_caps: Vec<String> = d
        .capabilities_added
        .iter()
        .map(|c| c.capability.clone())
        .collect();
    m.table(&["What", "Added", "Removed"])?;
    for (what, added, removed) in [
        ("Capabilities", &added_caps, &d.capabilities_removed),
        ("Imports", &d.imports_added, &d.imports_removed),
        ("Exports", &d.exports_added, &d.exports_removed),
        ("Features", &d.features_added, &d.features_removed),
    ] {
        m.row(&[what, &list_or_none(m, added), &list_or_none(m, removed)])?;
    }
    m.end_table()?;
    if d.capabilities_added.is_empty() {
        return Ok(());
    }
    m.list()?;
    for c in &d.capabilities_added {
        let cap = m.style(Style::Accent, &m.esc(&c.capability));
        m.item(&format!(
            "New capability {cap}: {}",
            m.name(&path(m, &c.witness))
        ))?;
    }
    m.end_list()
}

fn dynamic(m: &mut dyn Markup, d: &Dynamic) -> io::Result<()> {
    m.heading(3, "Dynamic behaviour")?;
    let (scenario, runs) = match d {
        Dynamic::NotRun { reason } => return m.para(&format!("Not run: {}.", m.esc(reason))),
        Dynamic::Ran { scenario, runs } => (scenario, runs),
    };
    let matched = runs.iter().filter(|r| r.matched).count();
    m.para(&format!(
        "Run in the sandbox by the scenario {}: {} run{}, {matched} with the expected outcome.",
        m.name(&m.esc(scenario)),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" }
    ))?;
    for r in runs {
        let mismatch = if r.matched {
            String::new()
        } else {
            format!(", {}", m.style(Style::Alarm, "MISMATCH"))
        };
        let heading = format!(
            "Run {}: {} (expected {}{mismatch})",
            m.name(&m.esc(&r.name)),
            m.esc(&r.outcome),
            m.esc(&r.expect)
        );
        m.list_heading(4, &heading, None)?;
        for line in dynamic_lines(r, &|s| m.esc(s)) {
            m.item(&line)?;
        }
        m.end_list()?;
    }
    Ok(())
}
