//! The record of every host call a guest made, in order.
//!
//! One [`HostCall`] per call: the import id (`<module>#<name>`, as everywhere in wasmgate),
//! its arguments with guest pointers resolved (paths as strings, buffers as lengths), and
//! its result (a value or an errno). Nothing in it depends on the host (no addresses, no
//! inode numbers, no real timestamps), so two runs of the same input give identical bytes.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

/// One host call.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostCall {
    /// Position in the trace, from 0.
    pub seq: u64,
    /// Import id, `<module>#<name>`.
    pub call: String,
    /// Arguments by their WASI names.
    pub args: Value,
    /// `{"ok": value}`, `{"errno": name}` or `{"trap": message}`.
    pub result: Value,
    /// The call was refused for lack of authority (see [`is_denial`]).
    pub denied: bool,
    /// Network addresses the call tried to use (WASI 0.2 sockets), each allowed or not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<crate::recorder::NetAttempt>,
}

/// Every host call of one run.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Trace {
    pub calls: Vec<HostCall>,
}

impl Trace {
    pub(crate) fn push(&mut self, call: &str, args: Value, result: Value, denied: bool) {
        let seq = self.calls.len() as u64;
        self.calls.push(HostCall {
            seq,
            call: call.to_owned(),
            args,
            result,
            denied,
            network: Vec::new(),
        });
    }

    /// JSON lines, one call per line.
    pub fn to_json_lines(&self) -> String {
        let mut out = String::new();
        for c in &self.calls {
            // A HostCall holds only strings, numbers and JSON values: serialising cannot fail.
            out.push_str(&serde_json::to_string(c).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// The distinct import ids called.
    pub fn imports(&self) -> BTreeSet<&str> {
        self.calls.iter().map(|c| c.call.as_str()).collect()
    }

    /// The calls refused for lack of authority.
    pub fn denied(&self) -> impl Iterator<Item = &HostCall> {
        self.calls.iter().filter(|c| c.denied)
    }
}

/// Whether `errno` from `call` means "not allowed here": a capability error, a permission
/// error, a read-only file system, or an fd that was never granted. wasi-libc probes
/// `fd_prestat_get` upwards until `badf` at start-up, so that one `badf` is not a denial.
pub fn is_denial(call: &str, errno: &str) -> bool {
    match errno {
        "notcapable" | "perm" | "acces" | "rofs" => true,
        "badf" => !call.ends_with("#fd_prestat_get"),
        _ => false,
    }
}
