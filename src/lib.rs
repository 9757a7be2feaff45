#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![warn(rust_2018_idioms, unreachable_pub)]

pub mod arena;
mod barrier;
pub mod builder;
mod error;
mod guard;
pub mod implementation;
mod local;
mod pool;
pub mod recycle;
mod report;
mod stats;
mod sync;

pub use builder::Builder;
pub use error::ConfigError;
pub use local::{LocalOwnedPooled, LocalPool, LocalPooled};
pub use pool::{OwnedPooled, Pool, Pooled};
pub use recycle::{Recycle, Recycler, ResetRecycler};
pub use report::{report, trim_all, trim_unused_all, ArenaReport, MemoryReport, PoolReport};
pub use stats::PoolStats;
