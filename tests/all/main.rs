//! Integration tests, compiled into one binary (see CONVENTIONS.md).

mod c_programs;
mod callgraph_fixtures;
mod cli;
mod component_fixtures;
mod common;
mod corpus;
mod policy_check;
mod policy_rules;
