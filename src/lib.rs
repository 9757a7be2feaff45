#![doc = include_str!("../README.md")]
// `doc_cfg` (nightly, on docs.rs through `--cfg docsrs`: Cargo.toml's [package.metadata.docs.rs])
// labels items with the feature they need. Each feature-gated item says so itself with
// `#[cfg_attr(docsrs, doc(cfg(feature = "...")))]`: the automatic labels (`doc_auto_cfg`, folded
// into `doc_cfg` and now E0557 on its own) miss impls inside a gated module.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(rust_2018_idioms, unreachable_pub)]

pub mod arena;
mod barrier;
pub mod buffer;
pub mod builder;
mod counting;
mod error;
mod guard;
pub mod implementation;
mod local;
pub mod policy;
mod pool;
pub mod recycle;
mod report;
mod stats;
mod sync;

pub use buffer::{
    Buffer, BufferPool, BufferStats, GetBufferFuture, GetOwnedBufferFuture, OwnedBuffer,
};
pub use builder::Builder;
pub use bumpalo;
pub use error::{BufferError, ConfigError, Timeout};
pub use local::{LocalOwnedPooled, LocalPool, LocalPooled};
pub use policy::{LocalPolicy, Policy};
pub use pool::{GetFuture, GetOwnedFuture, OwnedPooled, Pool, Pooled};
pub use recycle::{Recycle, Recycler, ResetRecycler};
pub use report::{report, trim_all, trim_unused_all, ArenaReport, MemoryReport, PoolReport};
pub use stats::PoolStats;
