//! Behavioural checks for wasmgate.
//!
//! This crate will run each guest on wasmtime under a sandbox derived from its policy
//! (deterministic clocks and randomness, fuel, memory and time limits), record every host
//! call into a trace, and diff traces (minimal vs permissive grants, version A vs B).
//! It is empty until the sandbox issue.
