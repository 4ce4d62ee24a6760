//! Integration tests, compiled into one binary (see CONVENTIONS.md).

mod c_programs;
mod callgraph_fixtures;
mod cli;
mod component_fixtures;
mod common;
mod corpus;
