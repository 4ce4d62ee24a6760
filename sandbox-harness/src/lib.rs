//! Behavioural checks for wasmgate: run a guest on wasmtime under the least authority its
//! policy grants, and record what it actually does.
//!
//! The static analyzer says what a guest *could* do; this crate shows what it *does*. A run
//! is capability-minimal (nothing is granted that the caller did not list), deterministic
//! (virtual clocks, seeded randomness, sleeps advance virtual time) and bounded (fuel,
//! memory, tables, stack, wall-clock time, output bytes), and every host call is recorded
//! in a [`Trace`]. [`crosscheck`] compares the imports a run used with the analyzer's
//! reachable set, so a run doubles as an oracle for the static analysis.

pub mod compile_cache;
pub mod component;
pub mod crosscheck;
pub mod invoke;
mod limits;
pub mod net;
mod output;
mod preopen;
pub mod recorder;
mod run;
mod trace;
mod traced;
mod virt;
mod virtfs;

pub use component::{is_component, run, run_component};
pub use invoke::Entry;
pub use limits::{Limits, LimitsOverride};
pub use preopen::{ChangeKind, EntryKind, FileChange, PreopenGrant, PreopenReport};
pub use run::{Grants, HarnessError, LimitHit, Outcome, RunReport, run_p1, run_p1_entry};
pub use trace::{HostCall, Trace};
