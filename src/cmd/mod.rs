//! One module per subcommand.

pub mod check;
pub mod explain;
pub mod graph;
pub mod inspect;
pub mod policy;
#[cfg(feature = "sandbox")]
pub mod run;
