//! What the pools count: one vocabulary for [`LocalPool`](crate::LocalPool)'s counters
//! (`local/counters.rs`) and [`Pool`](crate::Pool)'s (`pool/counts.rs`). Each pool applies a
//! [`Change`] its own way (cells on one thread; per-thread counters summed by `stats()`), so
//! the same event moves the same [`PoolStats`](crate::PoolStats) fields in both.
//!
//! Hits are not changes: a `get` served from a thread's cache and a kept return are counted by
//! the cache itself (`LocalPool`'s idle stack, `Pool`'s fill word), never through this type.

/// An event off the hit paths, and the counters it moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// The factory made an object for a `get` (`created`; one more in use).
    Created,
    /// The factory made an idle object for `prefill` (`created`).
    Prefilled,
    /// A `get` was served by an idle object outside any thread cache (`reused`; one more in
    /// use).
    Reused,
    /// `put` handed the pool an object it kept (`put`).
    Put,
    /// `attach` adopted an object into a guard: a kept `put`, then a `get` it served (`put`,
    /// `reused` and, for `Pool`, `returned`; one more in use).
    Attached,
    /// A lent object ended instead of coming back: the policy refused it, no tier had room, or
    /// the policy panicked (`discarded`; one fewer in use).
    DiscardedOnReturn,
    /// This many idle objects were dropped: a trim, or no room for objects entering the depot
    /// in bulk (`discarded`).
    IdleDropped(usize),
    /// A lent object left the pool for good (`detached`; one fewer in use).
    Detached,
}
