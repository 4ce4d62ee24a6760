//! Zero-trust policies for wasmgate.
//!
//! A policy (TOML) says what a binary may do; [`load`] reads one in two phases (shape with
//! spans, then values and `extends`) reporting every problem with line, column and caret;
//! [`check`] turns an `Analysis` and a [`ValidPolicy`] into [`Finding`]s; [`report`] renders
//! findings as text, JSON or SARIF 2.1.0; [`init`] writes the least-privilege policy of a
//! binary; [`project`] maps the binaries of a repository to policies (`wasmgate.toml`).
//!
//! Precedence, used by every command: **deny beats allow**, and what is not allowed is denied.
#![warn(missing_docs)]

mod check;
mod date;
pub mod demangle;
pub mod diag;
pub mod diff;
pub mod files;
mod finding;
pub mod init;
mod lang;
pub mod lint;
pub mod pattern;
mod policy;
pub mod project;
pub mod report;
pub mod rules;
pub mod signatures;
mod witness;

pub use check::{
    Options, SmtOptions, allows_capability, allows_import, check, check_with, counts, policy_ref,
};
pub use date::{Date, DateError};
pub use finding::{
    EntryRef, Finding, FingerprintVersion, Kind, Level, Location, PolicyRef, Suppression,
    fingerprint,
};
pub use policy::{
    ACCEPTED_KEYS, Access, AllowDeny, ArgRef, At, Bounds, CallConstraint, DEFAULT_FEATURES,
    FEATURES, GlobalRange, LevelSetting, Limits, LoadError, Origin, Preopen, Restriction,
    SandboxGrants, ValidPolicy, Waiver, import_matches, load, load_str, split_import_id,
};
