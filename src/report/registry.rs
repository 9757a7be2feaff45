//! The registry behind [`report`](fn@crate::report): a weak handle per pool, read off the hot path.
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
    /// What the previous report that saw this pool read of it.
    last_report: Option<Seen>,
}

/// What a report reads of a pool for its leak hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    /// [`Snapshot::lent`].
    pub(crate) lent: u64,
    /// The pool's in-use count.
    pub(crate) in_use: usize,
}

/// A pool's leak hints, comparing a report with the previous one that saw the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    /// The lower of the two in-use counts: the objects out at both reports, at most. Objects
    /// that stayed out the whole time are among them; lends that came back in between are not.
    pub(crate) at_both: usize,
    /// Objects in use now that were lent before the previous report, at least:
    /// `in_use − lends since` (a lower bound, which lends in between can hide but never inflate).
    pub(crate) proven: usize,
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
        last_report: None,
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

/// Records what this report saw of each pool `id` and returns, per pool, its leak hints against
/// the previous report that saw it (`None` for a pool's first report).
///
/// Objects in use now were either lent since the previous report or before it, so at least
/// `in_use − (lent now − lent then)` of them have been out the whole time (`Held::proven`); and
/// no more than the lower of the two in-use counts can have been (`Held::at_both`), which is also
/// what stays put while the same objects are held and others come and go.
pub(crate) fn mark_reported(seen: &[(u64, Seen)]) -> Vec<Option<Held>> {
    let mut registry = REGISTRY.lock();
    seen.iter()
        .map(|&(id, now)| {
            let entry = registry.entries.iter_mut().find(|e| e.id == id)?;
            let previous = entry.last_report;
            // Concurrent reports may store out of order; `lent` only grows, so keep the newest.
            if previous.map_or(true, |p| now.lent >= p.lent) {
                entry.last_report = Some(now);
            }
            let previous = previous?;
            let lent_since = now.lent.saturating_sub(previous.lent);
            Some(Held {
                at_both: now.in_use.min(previous.in_use),
                proven: (now.in_use as u64).saturating_sub(lent_since) as usize,
            })
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
