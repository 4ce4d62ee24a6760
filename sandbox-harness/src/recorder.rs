//! The recording layer for WASI 0.2 components: every host call wasmtime-wasi's bindings make,
//! in order, as [`HostCall`]s.
//!
//! wasmtime-wasi generates its WASI 0.2 host bindings with `bindgen!`'s `tracing` option: each
//! host function opens a span naming its interface and function, emits one event with the
//! lifted arguments (strings and paths as strings, numbers as numbers, lists as `"..."`) and
//! one with the result. Those values are already decoded from guest memory, so instead of
//! re-implementing ~100 host traits to wrap them, this module is a `tracing` subscriber,
//! installed only on the thread that runs the guest, that turns the span/event pairs into
//! trace entries. Interface names in the span are short (`types`); [`Recorder::new`] maps them
//! to the component's own import names (`wasi:filesystem/types@0.2.3`), so trace ids match the
//! analyzer's import ids.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use crate::trace::Trace;

/// Longest argument or result text kept in a trace; longer ones are cut (and say so).
const MAX_TEXT: usize = 4096;

/// Functions whose results carry host facts (inode-derived hashes, access times of the
/// copies) that differ between runs: their successful results are not shown.
const HOST_DEPENDENT: &[&str] = &[
    "[method]descriptor.stat",
    "[method]descriptor.stat-at",
    "[method]descriptor.metadata-hash",
    "[method]descriptor.metadata-hash-at",
];

/// One network address a guest tried to use, as wasmtime-wasi's `socket_addr_check` saw it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NetAttempt {
    /// `IP:port`.
    pub address: String,
    /// What for: `tcp-bind`, `tcp-connect`, `tcp-listen`, `tcp-accept`, `udp-bind`,
    /// `udp-send`, `udp-receive`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Whether a `[sandbox] network` grant allowed it.
    pub allowed: bool,
}

#[derive(Default)]
struct State {
    /// Span id -> (interface, function) of the open host-call spans.
    spans: HashMap<u64, (String, String)>,
    /// Spans entered on this thread, innermost last.
    entered: Vec<u64>,
    /// Span id -> (call id, args) of calls that started and have not returned yet.
    open: HashMap<u64, (String, Value)>,
    /// Calls in start order: a slot is filled when its call returns.
    trace: Trace,
    /// Network attempts not yet attached to a call.
    net: Vec<NetAttempt>,
    /// Every network attempt of the run.
    all_net: Vec<NetAttempt>,
}

/// Collects the trace of one component run; cheap to clone (shared state).
#[derive(Clone)]
pub struct Recorder {
    state: Arc<Mutex<State>>,
    next_span: Arc<AtomicU64>,
    /// Short interface name (`types`) -> the component's import name for it.
    interfaces: Arc<BTreeMap<String, String>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder for a component importing `imports` (instance names such as
    /// `wasi:filesystem/types@0.2.3`).
    pub fn new<'a>(imports: impl IntoIterator<Item = &'a str>) -> Recorder {
        let mut interfaces = BTreeMap::new();
        for name in imports {
            if let Some(short) = short_name(name) {
                // Two versions of one interface: keep the first, the trace names one of them.
                interfaces
                    .entry(short.to_string())
                    .or_insert_with(|| name.to_string());
            }
        }
        Recorder {
            state: Arc::default(),
            next_span: Arc::new(AtomicU64::new(1)),
            interfaces: Arc::new(interfaces),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The import id of `function` in the interface named `short` by the bindings.
    pub fn id(&self, short: &str, function: &str) -> String {
        let iface = self.interfaces.get(short).map_or(short, String::as_str);
        format!("{iface}#{function}")
    }

    /// Records a call made by a host function of the harness's own (not traced by the bindings).
    pub fn push(&self, call: String, args: Value, result: Value) {
        let mut s = self.lock();
        let net = std::mem::take(&mut s.net);
        push_call(&mut s.trace, call, args, result, net);
    }

    /// Records a network attempt; it is attached to the host call during which it happened.
    pub fn network(&self, attempt: NetAttempt) {
        let mut s = self.lock();
        s.all_net.push(attempt.clone());
        s.net.push(attempt);
    }

    /// The trace so far and every network attempt. Calls that never returned (the run was
    /// stopped inside them) are closed with a `trap` result.
    pub fn finish(&self) -> (Trace, Vec<NetAttempt>) {
        let mut s = self.lock();
        let mut open: Vec<(String, Value)> = s.open.drain().map(|(_, v)| v).collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        for (call, args) in open {
            let net = std::mem::take(&mut s.net);
            let result = json!({ "trap": "the run ended inside this call" });
            push_call(&mut s.trace, call, args, result, net);
        }
        (std::mem::take(&mut s.trace), std::mem::take(&mut s.all_net))
    }
}

fn push_call(trace: &mut Trace, call: String, args: Value, result: Value, net: Vec<NetAttempt>) {
    let denied = result
        .get("error")
        .and_then(Value::as_str)
        .is_some_and(is_p2_denial)
        || net.iter().any(|n| !n.allowed);
    trace.push(&call, args, result, denied);
    if let Some(last) = trace.calls.last_mut() {
        last.network = net;
    }
}

/// `types` from `wasi:filesystem/types@0.2.3`; only for the WASI packages wasmtime-wasi
/// provides (another package's interface of the same short name is not traced by it).
fn short_name(import: &str) -> Option<&str> {
    let (pkg, rest) = import.split_once('/')?;
    let known = [
        "wasi:cli",
        "wasi:clocks",
        "wasi:filesystem",
        "wasi:io",
        "wasi:random",
        "wasi:sockets",
    ];
    if !known.contains(&pkg) {
        return None;
    }
    Some(rest.split('@').next().unwrap_or(rest))
}

/// Whether a WASI 0.2 error code means "not allowed here".
pub fn is_p2_denial(code: &str) -> bool {
    matches!(
        code,
        "access" | "not-permitted" | "read-only" | "access-denied"
    )
}

/// Collects the fields of one event as `name -> Debug text`.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
}

fn cut(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_string();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...(cut, {} bytes)", &s[..end], s.len())
}

/// An argument as the trace shows it: numbers as numbers, quoted strings unquoted, `"..."`
/// (a list, which the bindings do not render) as null, a resource handle as `own#N` or
/// `borrow#N`, anything else as its text.
pub(crate) fn arg_value(debug: &str) -> Value {
    if debug == "\"...\"" {
        return Value::Null;
    }
    if let Some(rest) = debug.strip_prefix("Resource { rep: ")
        && let Some((rep, state)) = rest.split_once(", state: \"")
    {
        let kind = if state.starts_with("borrow") {
            "borrow"
        } else {
            "own"
        };
        return json!(format!("{kind}#{rep}"));
    }
    if let Ok(n) = debug.parse::<i64>() {
        return json!(n);
    }
    if let Ok(n) = debug.parse::<u64>() {
        return json!(n);
    }
    if debug.len() >= 2 && debug.starts_with('"') && debug.ends_with('"') {
        // Rust's string escapes are JSON's for everything but `\u{..}` and `\'`.
        if let Ok(Value::String(s)) = serde_json::from_str::<Value>(debug) {
            return json!(cut(&s));
        }
    }
    json!(cut(debug))
}

/// A result as the trace shows it: `{"ok": ...}`, `{"error": code}` or `{"trap": message}`.
fn result_value(function: &str, debug: &str) -> Value {
    // Only the first line: an error's debug text may go on with a backtrace.
    let line = debug.lines().next().unwrap_or("");
    if let Some(inner) = line.strip_prefix("Ok(").and_then(|s| s.strip_suffix(')')) {
        if HOST_DEPENDENT.contains(&function) {
            return json!({ "ok": "(host-dependent, not shown)" });
        }
        return json!({ "ok": arg_value(inner) });
    }
    if let Some(inner) = line.strip_prefix("Err(") {
        let inner = inner.strip_suffix(')').unwrap_or(inner);
        if let Some(code) = inner.strip_prefix("Exited with i32 exit status ")
            && let Ok(code) = code.parse::<i32>()
        {
            return json!({ "exit": code });
        }
        return match error_code(inner) {
            Some(code) => json!({ "error": code }),
            None => json!({ "trap": cut(inner) }),
        };
    }
    if line == "\"...\"" {
        return json!({ "ok": Value::Null });
    }
    json!({ "ok": arg_value(line) })
}

/// The WIT name of an error code in its debug (`ErrorCode { code: 0, name: "access", .. }`) or
/// display (`access (error 0)`) form.
fn error_code(text: &str) -> Option<String> {
    if let Some(i) = text.find("name: \"") {
        let rest = &text[i + 7..];
        return rest.split('"').next().map(str::to_string);
    }
    let (name, rest) = text.split_once(' ')?;
    if rest.starts_with("(error ") && name.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
        return Some(name.to_string());
    }
    None
}

/// `path_flags` -> `path-flags`, `self_` -> `self`: the WIT parameter name back.
fn wit_name(rust: &str) -> String {
    rust.trim_end_matches('_').replace('_', "-")
}

impl Subscriber for Recorder {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.target().starts_with("wasmtime_wasi")
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next_span.fetch_add(1, Ordering::Relaxed);
        if attrs.metadata().name() == "wit-bindgen import" {
            let mut f = Fields::default();
            attrs.record(&mut f);
            let get = |k: &str| {
                f.0.iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.trim_matches('"').to_string())
            };
            if let (Some(module), Some(function)) = (get("module"), get("function")) {
                self.lock().spans.insert(id, (module, function));
            }
        }
        Id::from_u64(id)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let mut s = self.lock();
        let Some(&span) = s.entered.last() else {
            return;
        };
        let Some((module, function)) = s.spans.get(&span).cloned() else {
            return;
        };
        let message =
            f.0.iter()
                .find(|(n, _)| n == "message")
                .map(|(_, v)| v.as_str());
        match message {
            Some("call") => {
                let mut args = Map::new();
                for (n, v) in &f.0 {
                    if n != "message" {
                        args.insert(wit_name(n), arg_value(v));
                    }
                }
                let id = self.id(&module, &function);
                s.open.insert(span, (id, Value::Object(args)));
            }
            Some("return") => {
                let Some((call, args)) = s.open.remove(&span) else {
                    return;
                };
                let result =
                    f.0.iter()
                        .find(|(n, _)| n == "result")
                        .map_or(json!({ "ok": Value::Null }), |(_, v)| {
                            result_value(&function, v)
                        });
                let net = std::mem::take(&mut s.net);
                push_call(&mut s.trace, call, args, result, net);
            }
            _ => {}
        }
    }

    fn enter(&self, span: &Id) {
        self.lock().entered.push(span.into_u64());
    }

    fn exit(&self, span: &Id) {
        let mut s = self.lock();
        if let Some(i) = s.entered.iter().rposition(|&x| x == span.into_u64()) {
            s.entered.remove(i);
        }
    }

    fn try_close(&self, span: Id) -> bool {
        let mut s = self.lock();
        s.spans.remove(&span.into_u64());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_arguments_decode() {
        assert_eq!(arg_value("\"a/b.txt\""), json!("a/b.txt"));
        assert_eq!(arg_value("42"), json!(42));
        assert_eq!(arg_value("\"...\""), Value::Null);
        assert_eq!(
            result_value(
                "x",
                "Err(ErrorCode { code: 0, name: \"access\", message: \"..\" })"
            ),
            json!({"error": "access"})
        );
        assert_eq!(
            result_value("x", "Err(not-permitted (error 21)\n\nStack backtrace: ...)"),
            json!({"error": "not-permitted"})
        );
        assert_eq!(
            result_value("[method]descriptor.stat", "Ok(DescriptorStat { .. })"),
            json!({"ok": "(host-dependent, not shown)"})
        );
        assert_eq!(
            arg_value("Resource { rep: 3, state: \"borrow\" }"),
            json!("borrow#3")
        );
        assert_eq!(
            result_value("exit", "Err(Exited with i32 exit status 1)"),
            json!({"exit": 1})
        );
        assert_eq!(wit_name("self_"), "self");
        assert_eq!(wit_name("path_flags"), "path-flags");
        assert_eq!(short_name("wasi:filesystem/types@0.2.3"), Some("types"));
        assert_eq!(short_name("acme:x/types@1.0.0"), None);
    }
}
