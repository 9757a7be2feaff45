//! Arena statistics: counters each thread writes alone, and a registry that sums them.
//!
//! The hot path (scope entry and exit) only stores into its own thread's [`ThreadCounters`],
//! with plain relaxed loads and stores ([`OwnedCounter`], [`OwnedGauge`]): no read-modify-write and no cache
//! line shared with another thread's counters. The registry's lock is taken only when a thread
//! first uses an arena, when it exits, and when someone asks for [`global`] statistics.

use crate::sync::{global, Arc, Mutex, OwnedCounter, OwnedGauge};

/// What a thread's arenas (from [`stats`](super::stats)) or every thread's arenas (from
/// [`global_stats`](super::global_stats)) have done.
///
/// Counters are cumulative; `retained_bytes` and `idle_arenas` are levels (for global stats,
/// summed over live threads: an exited thread has freed its arenas); `peak_scope_bytes` is a
/// maximum. Scope bytes are measured when the scope ends, so a live scope is not counted yet.
///
/// ```
/// use hotpool::arena;
///
/// let before = arena::stats();
/// arena::scope(|s| {
///     s.alloc_slice_copy(&[0u8; 100]);
/// });
/// let after = arena::stats();
/// assert_eq!(after.scopes_entered - before.scopes_entered, 1);
/// assert!(after.bytes_allocated - before.bytes_allocated >= 100);
/// assert!(after.peak_scope_bytes >= 100);
/// assert_eq!(after.idle_arenas, 1); // kept warm for the next scope
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArenaStats {
    /// Scopes entered ([`enter`](super::enter) and [`scope`](super::scope) calls).
    pub scopes_entered: u64,
    /// Bytes ended scopes still held when they ended, including alignment padding and
    /// drop-list entries. Memory a scope freed before its end is not counted: bumpalo takes back
    /// the newest allocation when it is freed, which is what happens to a dropped
    /// [`vec()`](super::Scope::vec) or [`string()`](super::Scope::string) whose buffer was the
    /// last thing allocated. Use [`retained_bytes`](ArenaStats::retained_bytes) for the memory
    /// the arenas really occupy.
    pub bytes_allocated: u64,
    /// The most bytes a single scope held when it ended (same measure as `bytes_allocated`).
    pub peak_scope_bytes: usize,
    /// Arenas made because no warm one was idle (first use, deeper nesting, after a drop).
    pub arenas_created: u64,
    /// Arenas freed at scope end because they retained more than
    /// [`max_retained_bytes`](super::ArenaConfig::max_retained_bytes).
    pub dropped_oversized: u64,
    /// Arenas freed at scope end because [`max_idle_arenas`](super::ArenaConfig::max_idle_arenas)
    /// were already idle.
    pub dropped_surplus: u64,
    /// Chunk capacity held by idle, warm arenas now.
    pub retained_bytes: usize,
    /// Warm arenas idle now.
    pub idle_arenas: usize,
    /// Threads counted that have not exited: 1 for [`stats`](super::stats); for
    /// [`global_stats`](super::global_stats), the threads that have used an arena and are still
    /// running (a thread counts as exited once its arenas are freed and its counters folded).
    pub live_threads: usize,
}

impl ArenaStats {
    /// Adds `other` into `self`: sums, except the peak, which is a maximum.
    fn absorb(&mut self, other: &ArenaStats) {
        self.scopes_entered += other.scopes_entered;
        self.bytes_allocated += other.bytes_allocated;
        self.peak_scope_bytes = self.peak_scope_bytes.max(other.peak_scope_bytes);
        self.arenas_created += other.arenas_created;
        self.dropped_oversized += other.dropped_oversized;
        self.dropped_surplus += other.dropped_surplus;
        self.retained_bytes += other.retained_bytes;
        self.idle_arenas += other.idle_arenas;
        self.live_threads += other.live_threads;
    }
}

/// One thread's counters: written by that thread only, read by anyone.
///
/// Aligned to 128 bytes (two cache lines, for the adjacent-line prefetcher) so that two threads'
/// counters never share a line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(super) struct ThreadCounters {
    pub(super) scopes_entered: OwnedCounter,
    pub(super) bytes_allocated: OwnedCounter,
    pub(super) peak_scope_bytes: OwnedGauge,
    pub(super) arenas_created: OwnedCounter,
    pub(super) dropped_oversized: OwnedCounter,
    pub(super) dropped_surplus: OwnedCounter,
    pub(super) retained_bytes: OwnedGauge,
    pub(super) idle_arenas: OwnedGauge,
}

impl ThreadCounters {
    pub(super) fn snapshot(&self) -> ArenaStats {
        ArenaStats {
            scopes_entered: self.scopes_entered.get() as u64,
            bytes_allocated: self.bytes_allocated.get() as u64,
            peak_scope_bytes: self.peak_scope_bytes.get(),
            arenas_created: self.arenas_created.get() as u64,
            dropped_oversized: self.dropped_oversized.get() as u64,
            dropped_surplus: self.dropped_surplus.get() as u64,
            retained_bytes: self.retained_bytes.get(),
            idle_arenas: self.idle_arenas.get(),
            live_threads: 1,
        }
    }
}

/// Every live thread's counters, plus the sum of the threads that exited.
#[derive(Default)]
struct Registry {
    live: Vec<Arc<ThreadCounters>>,
    exited: ArenaStats,
}

global! {
    static REGISTRY: Mutex<Registry> = Mutex::new(Registry::default());
}

/// New counters for the calling thread, listed for [`global`].
pub(super) fn register() -> Arc<ThreadCounters> {
    let counters = Arc::new(ThreadCounters::default());
    REGISTRY.lock().live.push(Arc::clone(&counters));
    counters
}

/// Folds an exiting thread's counters into the exited total and unlists them, in one critical
/// section: a concurrent [`global`] counts the thread exactly once, live or exited.
pub(super) fn retire(counters: &Arc<ThreadCounters>) {
    let mut registry = REGISTRY.lock();
    let snapshot = ArenaStats {
        live_threads: 0,
        ..counters.snapshot()
    };
    registry.exited.absorb(&snapshot);
    if let Some(i) = registry.live.iter().position(|c| Arc::ptr_eq(c, counters)) {
        registry.live.swap_remove(i);
    }
}

/// The sum over live and exited threads.
pub(super) fn global() -> ArenaStats {
    let registry = REGISTRY.lock();
    let mut total = registry.exited;
    for counters in &registry.live {
        total.absorb(&counters.snapshot());
    }
    total
}
