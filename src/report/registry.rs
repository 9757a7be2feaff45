//! The registry behind [`report`](crate::report): a weak handle per pool, read off the hot path.
//!
//! A pool registers once, when it is built; `get` and returns never touch the registry. Entries
//! hold a `Weak`, so the registry never keeps a pool (or its objects) alive: a report upgrades
//! each handle for as long as it reads the pool, and a dropped pool's entry is pruned by the next
//! report or, in bulk, by a later registration. No user code runs under the registry's lock:
//! pools are read, trimmed and (if a report held the last reference) dropped after it is released.

use std::borrow::Cow;

use crate::stats::PoolStats;
use crate::sync::{global, Arc, Mutex, Weak};

/// What a pool kind implements to appear in the report: `Pool`'s shared state does
/// (`pool/report.rs`), and any other pool kind registers with [`register`] the same way.
pub(crate) trait Reported: Send + Sync {
    /// The pool's counters and what the report can measure of its idle memory. Must not run code
    /// that can use the registry (the report calls it outside the registry's lock, but under the
    /// pool's own locks it takes).
    fn snapshot(&self) -> Snapshot;
    /// Drops idle objects now (as `Pool::trim`); returns how many.
    fn trim(&self) -> usize;
    /// Drops what stayed idle since the previous call (as `Pool::trim_unused`); returns how many.
    fn trim_unused(&self) -> usize;
    /// Called just before the registry drops a strong reference it upgraded (see
    /// `sync::ArcDropSync`; empty outside loom).
    fn before_release(&self);
}

/// A pool's answer to [`Reported::snapshot`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    pub(crate) stats: PoolStats,
    /// Objects handed out since the pool was built: served by `get` (idle or new) or adopted by
    /// `attach` (a kept `put` may count too: an overestimate only makes leak hints rarer).
    pub(crate) lent: u64,
    /// `size_of::<T>()`: what each idle object occupies besides the heap memory it retains.
    pub(crate) object_size: usize,
    /// Idle objects measured (bytes including `object_size` each, and how many), or `None` if
    /// the pool's policy cannot measure them.
    pub(crate) measured_idle: Option<(u64, usize)>,
}

/// A pool's report settings, carried by its builder until `build()`.
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) enabled: bool,
}

impl Default for Registration {
    fn default() -> Self {
        Self {
            name: None,
            enabled: true,
        }
    }
}

struct Entry {
    id: u64,
    name: Option<Cow<'static, str>>,
    element_type: &'static str,
    prefilled: usize,
    pool: Weak<dyn Reported>,
    /// `Snapshot::lent` at the previous report that saw this pool.
    lent_at_last_report: Option<u64>,
}

struct Registry {
    entries: Vec<Entry>,
    next_id: u64,
    /// A registration prunes dead entries once the list reaches this length, so pools built and
    /// dropped without any report in between keep the list within twice the live ones (plus 16).
    prune_at: usize,
}

const MIN_PRUNE_AT: usize = 16;

impl Registry {
    fn prune(&mut self) {
        self.entries.retain(|e| e.pool.strong_count() > 0);
        self.prune_at = (2 * self.entries.len()).max(MIN_PRUNE_AT);
    }
}

global! {
    static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
        entries: Vec::new(),
        next_id: 0,
        prune_at: MIN_PRUNE_AT,
    });
}

/// Lists `pool` in the report (unless `registration` turned it off). `element_type` is the type
/// of its objects; `prefilled` objects made at build time do not count as missed gets.
pub(crate) fn register<P: Reported + 'static>(
    pool: &Arc<P>,
    element_type: &'static str,
    registration: Registration,
    prefilled: usize,
) {
    if !registration.enabled {
        return;
    }
    let weak: Weak<dyn Reported> = Arc::downgrade(pool) as Weak<dyn Reported>;
    let mut registry = REGISTRY.lock();
    if registry.entries.len() >= registry.prune_at {
        registry.prune();
    }
    let id = registry.next_id;
    registry.next_id += 1;
    registry.entries.push(Entry {
        id,
        name: registration.name,
        element_type,
        prefilled,
        pool: weak,
        lent_at_last_report: None,
    });
}

/// A registered pool, kept alive while the report reads it.
pub(crate) struct Live {
    pub(crate) id: u64,
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) element_type: &'static str,
    pub(crate) prefilled: usize,
    pub(crate) pool: Arc<dyn Reported>,
}

impl Drop for Live {
    fn drop(&mut self) {
        // The strong reference drops right after: if it is the last one, the pool's teardown
        // runs here, outside the registry's lock.
        self.pool.before_release();
    }
}

/// Every registered pool still alive, in registration order; dead entries are pruned.
pub(crate) fn live() -> Vec<Live> {
    let mut registry = REGISTRY.lock();
    registry.prune();
    registry
        .entries
        .iter()
        .filter_map(|e| {
            Some(Live {
                id: e.id,
                name: e.name.clone(),
                element_type: e.element_type,
                prefilled: e.prefilled,
                pool: e.pool.upgrade()?,
            })
        })
        .collect()
}

/// Records `lent` of each pool `id` as seen by this report and returns, per pool, the objects
/// `in_use` now that were lent before the previous report (`None` for a pool's first report).
///
/// Objects in use now were either lent since the previous report or before it, so at least
/// `in_use − (lent now − lent then)` of them have been out the whole time: a lower bound, which
/// lends in between can hide but never inflate. It also bounds the in-use count from below at
/// every moment in between.
pub(crate) fn mark_reported(seen: &[(u64, u64, usize)]) -> Vec<Option<usize>> {
    let mut registry = REGISTRY.lock();
    seen.iter()
        .map(|&(id, lent, in_use)| {
            let entry = registry.entries.iter_mut().find(|e| e.id == id)?;
            let previous = entry.lent_at_last_report;
            // Concurrent reports may store out of order; `lent` only grows.
            entry.lent_at_last_report = Some(previous.map_or(lent, |p| p.max(lent)));
            let lent_since = lent.saturating_sub(previous?);
            Some((in_use as u64).saturating_sub(lent_since) as usize)
        })
        .collect()
}

#[cfg(all(test, not(hotpool_loom)))]
mod tests {
    use super::REGISTRY;
    use crate::Pool;

    #[test]
    fn dead_entries_are_pruned_by_later_registrations() {
        // Built and dropped with no report in between: registrations alone bound the list.
        for i in 0..if cfg!(miri) { 100 } else { 1000 } {
            drop(
                Pool::builder(String::new)
                    .name(format!("pruned {i}"))
                    .build()
                    .unwrap(),
            );
        }
        let registry = REGISTRY.lock();
        let live = registry
            .entries
            .iter()
            .filter(|e| e.pool.strong_count() > 0)
            .count();
        // Other tests of this binary may hold live pools of their own.
        assert!(
            registry.entries.len() <= 2 * live + 16,
            "{} entries",
            registry.entries.len()
        );
        assert!(!registry
            .entries
            .iter()
            .any(|e| e.name.as_deref() == Some("pruned 0")));
    }
}
