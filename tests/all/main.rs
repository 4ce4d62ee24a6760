//! Integration tests, compiled into one binary (see CONVENTIONS.md).

mod callgraph_fixtures;
mod cli;
mod common;
