//! Integration tests, compiled into one binary (see CONVENTIONS.md).

mod c_programs;
mod callgraph_fixtures;
mod cli;
mod common;
mod component_fixtures;
mod component_shapes;
mod corpus;
mod findings;
mod fuzz_regressions;
mod graph_size;
mod hostile_inputs;
mod hostile_names;
mod oracle;
mod policy_check;
mod policy_rules;
mod robustness;
mod sandbox;
mod soundness_fixtures;
mod spec;
