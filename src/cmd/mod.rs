//! One module per subcommand.

pub mod graph;
pub mod inspect;
