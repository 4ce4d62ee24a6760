//! Integration tests, compiled into one binary (see CONVENTIONS.md).

mod audit;
mod c_programs;
mod callgraph_fixtures;
mod calls;
mod cli;
mod common;
mod component_fixtures;
mod component_shapes;
mod corpus;
mod findings;
mod fuzz_regressions;
mod graph_size;
mod host_reentry;
mod hostile_inputs;
mod hostile_names;
mod index_size;
mod oracle;
mod policy_check;
mod policy_init;
mod policy_rules;
mod robustness;
mod sandbox;
mod shared_reach;
mod soundness_fixtures;
mod spec;
