//! Zero-trust policies for wasmgate.
//!
//! This crate will hold the TOML policy language (default deny, `extends`, waivers), its
//! span-keeping loader and the checks that turn an `Analysis` into `Finding`s. The Z3-backed
//! bounds and containment checker also lands here. It is empty until the policy issue.
