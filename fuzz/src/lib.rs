//! Harness code shared by the fuzz targets in `fuzz_targets/`.
//!
//! - [`tracker`]: [`Tracked`](tracker::Tracked), the pooled object every pool target uses. Each
//!   one has a unique id and a payload the harness writes while it holds the object, and its
//!   drops are counted per id in a [`Tracker`](tracker::Tracker) (made with
//!   [`Tracker::strict`](tracker::Tracker::strict): a second drop panics at once), so a double
//!   drop or a leak is caught. The same file serves the integration tests (`tests/common`).
//! - [`ledger`]: [`Ledger`](ledger::Ledger), the reference model of a pool: where every object
//!   is (lent to a guard, idle in the pool, owned by the harness, dropped) and the statistics the
//!   pool must report. Both pool targets drive it; the shared-pool target on several threads.
//! - [`guards`]: a held guard, the payload the harness expects in it, and the checks made on it
//!   when it is handed out and before it is given back.

pub mod guards;
pub mod ledger;
#[path = "../../tests/common/tracker.rs"]
pub mod tracker;
