//! Arena statistics: counters each thread writes alone, and a registry that sums them.
//!
//! The hot path (scope entry and exit) only stores into its own thread's [`ThreadCounters`]
//! ([`OwnedCounter`], [`OwnedGauge`]): no read-modify-write and no cache line shared with another
//! thread's counters. Their orderings: [the implementation
//! notes](crate::implementation#memory-orderings). The registry's lock is taken only when a thread
//! first uses an arena, when it exits, and when someone asks for [`global`](fn@global) statistics.

use std::fmt;

use crate::sync::{global, Arc, Mutex, OwnedCounter, OwnedGauge};

/// What a thread's arenas (from [`stats`](fn@super::stats)) or every thread's arenas (from
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
/// assert!(after.bytes_used_at_scope_end - before.bytes_used_at_scope_end >= 100);
/// assert!(after.peak_scope_bytes >= 100);
/// assert_eq!(after.idle_arenas, 1); // kept warm for the next scope
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArenaStats {
    /// Scopes entered ([`enter`](super::enter) and [`scope`](fn@super::scope) calls).
    pub scopes_entered: u64,
    /// Bytes ended scopes still held when they ended, including alignment padding and
    /// drop-list entries. Memory a scope freed before its end is not counted: bumpalo takes back
    /// the newest allocation when it is freed, which is what happens to a dropped
    /// [`vec()`](super::Scope::vec) or [`string()`](super::Scope::string) whose buffer was the
    /// last thing allocated. Use [`retained_bytes`](ArenaStats::retained_bytes) for the memory
    /// the arenas really occupy.
    pub bytes_used_at_scope_end: u64,
    /// The most bytes a single scope held when it ended (same measure as `bytes_used_at_scope_end`).
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
    /// Threads counted that have not exited. For [`stats`](fn@super::stats): 1 once the calling
    /// thread has arena state (its first scope or [`configure`](super::configure)), 0 before
    /// (reading [`stats`](fn@super::stats) or [`config`](fn@super::config) creates none) and once
    /// its arenas are freed at exit. For [`global_stats`](super::global_stats): the threads that
    /// have arena state and are still running (a thread counts as exited once its arenas are
    /// freed and its counters folded).
    pub live_threads: usize,
}

impl ArenaStats {
    /// Adds `other` into `self`: sums, except the peak, which is a maximum.
    fn absorb(&mut self, other: &ArenaStats) {
        self.scopes_entered += other.scopes_entered;
        self.bytes_used_at_scope_end += other.bytes_used_at_scope_end;
        self.peak_scope_bytes = self.peak_scope_bytes.max(other.peak_scope_bytes);
        self.arenas_created += other.arenas_created;
        self.dropped_oversized += other.dropped_oversized;
        self.dropped_surplus += other.dropped_surplus;
        self.retained_bytes += other.retained_bytes;
        self.idle_arenas += other.idle_arenas;
        self.live_threads += other.live_threads;
    }
}

impl fmt::Display for ArenaStats {
    /// One line, bytes in binary units (B, KiB, MiB, GiB): scopes and what they used, then the
    /// arenas made and freed, then what is kept warm now.
    ///
    /// ```
    /// use hotpool::arena::{self, ArenaStats};
    ///
    /// let mut stats = ArenaStats::default();
    /// (stats.scopes_entered, stats.bytes_used_at_scope_end) = (2, 6000);
    /// (stats.peak_scope_bytes, stats.arenas_created) = (3000, 1);
    /// (stats.idle_arenas, stats.retained_bytes, stats.live_threads) = (1, 4000, 1);
    /// assert_eq!(
    ///     stats.to_string(),
    ///     "2 scopes used 5.9 KiB at scope end (peak 2.9 KiB); 1 arena created, \
    ///      0 dropped oversized, 0 dropped surplus; 1 idle arena retaining 3.9 KiB; 1 live thread"
    /// );
    /// println!("{}", arena::stats()); // the current thread's, the same way
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} used {} at scope end (peak {}); {} created, {} dropped oversized, \
             {} dropped surplus; {} retaining {}; {}",
            Count(self.scopes_entered, "scope"),
            Bytes(self.bytes_used_at_scope_end),
            Bytes(self.peak_scope_bytes as u64),
            Count(self.arenas_created, "arena"),
            self.dropped_oversized,
            self.dropped_surplus,
            Count(self.idle_arenas as u64, "idle arena"),
            Bytes(self.retained_bytes as u64),
            Count(self.live_threads as u64, "live thread"),
        )
    }
}

/// `n thing` or `n things`.
struct Count(u64, &'static str);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.0 == 1 { "" } else { "s" };
        write!(f, "{} {}{plural}", self.0, self.1)
    }
}

/// A byte count in binary units, one decimal past 1 KiB.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
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
    pub(super) bytes_used_at_scope_end: OwnedCounter,
    pub(super) peak_scope_bytes: OwnedGauge,
    pub(super) arenas_created: OwnedCounter,
    pub(super) dropped_oversized: OwnedCounter,
    pub(super) dropped_surplus: OwnedCounter,
    /// Chunk capacity of the idle arenas below the hot slot (see `thread.rs`).
    pub(super) below_bytes: OwnedGauge,
    /// Idle arenas below the hot slot.
    pub(super) below_arenas: OwnedGauge,
    /// The hot slot: 0 while it holds no idle arena, else 1 + its arena's chunk capacity. One
    /// gauge, so that a scope's entry and exit each store once.
    hot_slot: OwnedGauge,
}

impl ThreadCounters {
    /// The hot slot holds an idle arena of `capacity` bytes.
    #[inline(always)]
    pub(super) fn hot_slot_holds(&self, capacity: usize) {
        // No overflow: a capacity is at most `isize::MAX`.
        self.hot_slot.set(capacity + 1);
    }

    /// The hot slot holds no idle arena (a scope took it, or none is idle).
    #[inline(always)]
    pub(super) fn hot_slot_empty(&self) {
        self.hot_slot.set(0);
    }

    pub(super) fn snapshot(&self) -> ArenaStats {
        let hot_slot = self.hot_slot.get();
        ArenaStats {
            scopes_entered: self.scopes_entered.get() as u64,
            bytes_used_at_scope_end: self.bytes_used_at_scope_end.get() as u64,
            peak_scope_bytes: self.peak_scope_bytes.get(),
            arenas_created: self.arenas_created.get() as u64,
            dropped_oversized: self.dropped_oversized.get() as u64,
            dropped_surplus: self.dropped_surplus.get() as u64,
            retained_bytes: self.below_bytes.get() + hot_slot.saturating_sub(1),
            idle_arenas: self.below_arenas.get() + usize::from(hot_slot != 0),
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

/// New counters for the calling thread, listed for [`global`](fn@global).
pub(super) fn register() -> Arc<ThreadCounters> {
    let counters = Arc::new(ThreadCounters::default());
    REGISTRY.lock().live.push(Arc::clone(&counters));
    counters
}

/// Folds an exiting thread's counters into the exited total and unlists them, in one critical
/// section: a concurrent [`global`](fn@global) counts the thread exactly once, live or exited.
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
