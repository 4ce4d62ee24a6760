//! Integration tests, compiled into one binary (see CONVENTIONS.md).

mod c_programs;
mod callgraph_fixtures;
mod cli;
mod common;
mod component_fixtures;
mod corpus;
mod fuzz_regressions;
mod hostile_names;
mod policy_check;
mod policy_rules;
mod robustness;
mod sandbox;
mod spec;
