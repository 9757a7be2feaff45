//! The parts of the `Pool` lifecycle model (`tests/pool_lifecycle_props.rs`, which has the
//! overview): the objects and workers, the model, the harness and its steps. Each part uses the
//! test crate's items (`use crate::*`), and the crate root uses theirs.

pub mod model;
pub mod run;
pub mod steps;
pub mod worker;
