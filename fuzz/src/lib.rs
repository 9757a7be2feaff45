//! Harness code shared by the fuzz targets in `fuzz_targets/`.
//!
//! - [`tracker`]: [`Tracked`](tracker::Tracked), the pooled object every pool target uses. Each
//!   one has a unique id and a payload the harness writes while it holds the object, and its
//!   drops are counted per id in a [`Tracker`](tracker::Tracker) (made with
//!   [`Tracker::strict`](tracker::Tracker::strict): a second drop panics at once), so a double
//!   drop or a leak is caught. The same file serves the integration tests (`tests/support`).
//! - [`model`]: [`Ledger`](model::Ledger), the reference model of a pool: where every object
//!   is (lent to a guard, idle in the pool, owned by the harness, dropped) and the statistics the
//!   pool must report, and [`Guard`](model::Guard), either kind of guard. Both pool targets drive
//!   it; the shared-pool target on several threads. The same file is the model of the proptest
//!   models (`tests/pool_props.rs`, `tests/local_pool_props.rs`): one model for both.
//! - [`guards`]: a held guard, the payload the harness expects in it, and the checks made on it
//!   when it is handed out and before it is given back.

pub mod guards;
#[path = "../../tests/support/model.rs"]
pub mod model;
#[path = "../../tests/support/tracker.rs"]
pub mod tracker;
