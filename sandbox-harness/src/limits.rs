//! Resource limits of one run: one serde struct, so the policy TOML and the CLI set the
//! same keys, and defaults that stop a runaway guest within seconds.

use serde::{Deserialize, Serialize};

/// Every bound a run is held to. The defaults stop an infinite loop, a memory bomb, a
/// flood of output or unbounded recursion within a few seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Fuel units (about one per Wasm instruction).
    pub fuel: u64,
    /// Bytes of linear memory per memory.
    pub memory_bytes: u64,
    /// Elements per table.
    pub table_elements: u64,
    /// Bytes of native stack for Wasm frames.
    pub stack_bytes: u64,
    /// Wall-clock milliseconds for the whole run, host calls included.
    pub time_ms: u64,
    /// Bytes of stdout and of stderr kept; more is counted and cut.
    pub output_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 2_000_000_000,
            memory_bytes: 256 << 20,
            table_elements: 100_000,
            stack_bytes: 512 << 10,
            time_ms: 10_000,
            output_bytes: 1 << 20,
        }
    }
}

/// Limits as given by a policy or the command line: each unset key keeps the value below it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitsOverride {
    pub fuel: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub table_elements: Option<u64>,
    pub stack_bytes: Option<u64>,
    pub time_ms: Option<u64>,
    pub output_bytes: Option<u64>,
}

impl Limits {
    /// `self` with every key that `o` sets replaced.
    pub fn with(self, o: &LimitsOverride) -> Limits {
        Limits {
            fuel: o.fuel.unwrap_or(self.fuel),
            memory_bytes: o.memory_bytes.unwrap_or(self.memory_bytes),
            table_elements: o.table_elements.unwrap_or(self.table_elements),
            stack_bytes: o.stack_bytes.unwrap_or(self.stack_bytes),
            time_ms: o.time_ms.unwrap_or(self.time_ms),
            output_bytes: o.output_bytes.unwrap_or(self.output_bytes),
        }
    }
}
