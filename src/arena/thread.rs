//! Each thread's warm arenas: where a scope gets its bump and where it gives it back.
//!
//! The state is a `thread_local!` touched once on scope entry and once on exit, never per
//! allocation (a scope owns its bump while it lives), and never by another thread. Other
//! threads only read the published counters (see `stats`).
//!
//! The idle arenas form a stack (LIFO keeps the most recently used memory in cache) whose top
//! sits in a `Cell` of its own, the hot slot, outside the `RefCell` that holds the rest. A scope
//! that does not nest takes the hot slot and puts its arena back there: no borrow flag, no
//! `Vec` length, no byte sum, each of which was a store that the next scope had to load back
//! (store-to-load forwarding on the critical path; figures in `benches/README.md`). The rest of
//! the stack is borrowed only by nested scopes, by an arena returned over a full hot slot, and
//! by `configure`.

use std::cell::{Cell, RefCell};
use std::mem;

use bumpalo::Bump;

use super::config::ArenaConfig;
use super::stats::{self, ArenaStats, ThreadCounters};
use crate::error::ConfigError;
use crate::sync::{global, thread_local, Arc, Mutex};

struct ThreadArenas {
    /// The top of the idle stack: the most recently returned idle arena, or `None` while a
    /// scope has it (or no arena is idle). Boxed: a scope takes and returns a pointer, not a
    /// 24-byte struct.
    hot: Cell<Option<Box<Bump>>>,
    /// The idle arenas below `hot`.
    below: RefCell<IdleStack>,
    /// `below`'s length, read without borrowing it (the `max_idle_arenas` check at scope end).
    below_len: Cell<usize>,
    /// A copy read at scope end without a borrow; replaced only by `configure`.
    config: Cell<ArenaConfig>,
    counters: Arc<ThreadCounters>,
}

/// Idle arenas under the hot slot; the last one is the most recently used.
#[derive(Default)]
struct IdleStack {
    #[allow(clippy::vec_box)] // the boxes are the idle arenas themselves
    arenas: Vec<Box<Bump>>,
    /// Sum of the chunk capacity of `arenas`.
    bytes: usize,
}

global! {
    /// The settings a thread's arenas start with ([`configure_default`]); read once per thread,
    /// when it first uses an arena, never on the hot path.
    static DEFAULT_CONFIG: Mutex<ArenaConfig> = Mutex::new(ArenaConfig::new());
}

thread_local! {
    static ARENAS: ThreadArenas = ThreadArenas::new();
    /// Whether this thread has made its [`ARENAS`] (set by [`ThreadArenas::new`]), so that
    /// reading its settings or statistics does not make them: a thread that never used an arena
    /// stays out of [`global_stats`](super::global_stats) and the memory report. No destructor,
    /// never touched by a scope.
    #[allow(clippy::missing_const_for_thread_local)] // loom's `thread_local!` has no `const` form
    static HAS_ARENAS: Cell<bool> = Cell::new(false);
}

/// Runs `read` on this thread's arena state if it has any (not before its first arena use or
/// `configure`, nor after its arenas were freed at exit); never creates it.
fn read_existing<R>(read: impl FnOnce(&ThreadArenas) -> R) -> Option<R> {
    if !HAS_ARENAS.try_with(Cell::get).unwrap_or(false) {
        return None;
    }
    ARENAS.try_with(read).ok()
}

impl ThreadArenas {
    fn new() -> Self {
        // `try_with`: this may run in a thread-local destructor, after `HAS_ARENAS` is gone
        // (under loom, whose thread-locals are all destroyed); then nothing reads it again.
        let _ = HAS_ARENAS.try_with(|has| has.set(true));
        let config = default_config();
        Self {
            hot: Cell::new(None),
            below: RefCell::new(IdleStack {
                arenas: Vec::with_capacity(config.max_idle_arenas),
                bytes: 0,
            }),
            below_len: Cell::new(0),
            config: Cell::new(config),
            counters: stats::register(),
        }
    }

    #[inline]
    fn take(&self) -> Box<Bump> {
        self.counters.scopes_entered.add(1);
        match self.hot.take() {
            Some(bump) => {
                self.counters.hot_slot_empty();
                bump
            }
            None => self.take_below(),
        }
    }

    /// A nested scope's arena (the hot slot is in use, or nothing is idle).
    #[inline(never)]
    fn take_below(&self) -> Box<Bump> {
        let mut below = self.below.borrow_mut();
        match below.arenas.pop() {
            Some(bump) => {
                below.bytes -= bump.allocated_bytes();
                self.publish_below(&below);
                bump
            }
            None => self.create(),
        }
    }

    #[cold]
    #[inline(never)]
    fn create(&self) -> Box<Bump> {
        self.counters.arenas_created.add(1);
        let bump = Box::new(Bump::new());
        bump.set_allocation_limit(self.config.get().allocation_limit);
        bump
    }

    /// Keeps a reset bump holding `capacity` bytes warm if the settings allow; otherwise hands
    /// it back to be freed.
    #[inline]
    fn put(&self, bump: Box<Bump>, capacity: usize, used: usize) -> Option<Box<Bump>> {
        let c = &self.counters;
        if used != 0 {
            // Skipped by an empty scope: adding 0 would still be a load and a store.
            c.bytes_used_at_scope_end.add(used);
            if used > c.peak_scope_bytes.get() {
                c.peak_scope_bytes.set(used);
            }
        }
        let config = self.config.get();
        if !config.may_retain(capacity) {
            c.dropped_oversized.add(1);
            return Some(bump);
        }
        // With the hot slot free, the idle arenas would be `below_len + 1`.
        if self.below_len.get() >= config.max_idle_arenas {
            c.dropped_surplus.add(1);
            return Some(bump);
        }
        // The settings may have changed while the scope was alive.
        bump.set_allocation_limit(config.allocation_limit);
        match self.hot.replace(Some(bump)) {
            None => {
                c.hot_slot_holds(capacity);
                None
            }
            Some(previous) => self.put_over_hot(previous, capacity),
        }
    }

    /// A scope ended while the hot slot held `previous` (the scope was entered over a nested
    /// one that ended first, or took its arena from below): the returned arena, now in the hot
    /// slot with `capacity` bytes, stays on top and `previous` moves below, if both fit.
    #[cold]
    #[inline(never)]
    fn put_over_hot(&self, previous: Box<Bump>, capacity: usize) -> Option<Box<Bump>> {
        if self.below_len.get() + 1 >= self.config.get().max_idle_arenas {
            // No room for both: the returned arena is the surplus, `previous` stays on top.
            self.counters.dropped_surplus.add(1);
            return self.hot.replace(Some(previous));
        }
        self.counters.hot_slot_holds(capacity);
        let mut below = self.below.borrow_mut();
        below.bytes += previous.allocated_bytes();
        below.arenas.push(previous);
        self.publish_below(&below);
        None
    }

    /// Applies `config` to the idle arenas too; returns the old settings and the arenas it no
    /// longer allows.
    #[allow(clippy::vec_box)] // the boxes are the idle arenas themselves
    fn reconfigure(&self, config: ArenaConfig) -> (ArenaConfig, Vec<Box<Bump>>) {
        let old = self.config.replace(config);
        let mut below = self.below.borrow_mut();
        // The whole idle stack, bottom to top.
        let mut idle = mem::take(&mut below.arenas);
        idle.extend(self.hot.take());
        let mut kept = Vec::with_capacity(config.max_idle_arenas);
        let mut freed = Vec::new();
        for bump in idle {
            if kept.len() < config.max_idle_arenas && config.may_retain(bump.allocated_bytes()) {
                bump.set_allocation_limit(config.allocation_limit);
                kept.push(bump);
            } else {
                freed.push(bump);
            }
        }
        match kept.pop() {
            Some(top) => {
                self.counters.hot_slot_holds(top.allocated_bytes());
                self.hot.set(Some(top));
            }
            None => self.counters.hot_slot_empty(),
        }
        below.bytes = kept.iter().map(|bump| bump.allocated_bytes()).sum();
        below.arenas = kept;
        self.publish_below(&below);
        (old, freed)
    }

    fn publish_below(&self, below: &IdleStack) {
        self.below_len.set(below.arenas.len());
        self.counters.below_bytes.set(below.bytes);
        self.counters.below_arenas.set(below.arenas.len());
    }
}

impl Drop for ThreadArenas {
    /// The thread is exiting: free its arenas and fold its counters into the global total.
    fn drop(&mut self) {
        drop(self.hot.take());
        self.counters.hot_slot_empty();
        drop(mem::take(self.below.get_mut()));
        self.publish_below(&IdleStack::default());
        stats::retire(&self.counters);
    }
}

/// A bump for a new scope: a warm one if the thread has one. During thread teardown (after the
/// thread's arenas were freed) it is a fresh, unpooled bump.
#[inline]
pub(super) fn acquire() -> Box<Bump> {
    ARENAS
        .try_with(ThreadArenas::take)
        .unwrap_or_else(|_| Box::new(Bump::new()))
}

/// Takes back the bump of an ended scope (its destructors already ran): rewinds it and keeps it
/// warm, or frees it. Returns `false` if the thread's arenas are gone: the thread is exiting and
/// this runs in a thread-local destructor.
#[inline]
pub(super) fn release(mut bump: Box<Bump>) -> bool {
    // A reset bump has one chunk, all of it free: its free capacity is all it has. Equal only
    // then, so an empty scope (a common one, and the floor of every scope) skips measuring and
    // rewinding.
    let capacity = bump.allocated_bytes();
    let untouched = bump.chunk_capacity() == capacity;
    let (used, capacity) = if untouched {
        (0, capacity)
    } else {
        rewind(&mut bump)
    };
    debug_assert!(!untouched || bump.iter_allocated_chunks().all(<[_]>::is_empty));
    match ARENAS.try_with(|arenas| arenas.put(bump, capacity, used)) {
        Ok(None) => true,
        // Freed outside the thread's state.
        Ok(Some(surplus)) => {
            free(surplus);
            true
        }
        // The thread's arenas are gone: the closure's `bump` was freed with it.
        Err(_) => false,
    }
}

/// Measures what a scope left in `bump` and rewinds it; returns the bytes measured and the
/// capacity it keeps. Out of line: its loops over chunks would make every scope end save and
/// restore registers for them.
#[inline(never)]
fn rewind(bump: &mut Bump) -> (usize, usize) {
    let used = bump.iter_allocated_chunks().map(<[_]>::len).sum();
    bump.reset();
    (used, bump.allocated_bytes())
}

/// Frees a bump the thread does not keep (over a limit, or a surplus).
#[cold]
#[inline(never)]
fn free(bump: Box<Bump>) {
    drop(bump);
}

pub(super) fn configure(config: ArenaConfig) -> Result<ArenaConfig, ConfigError> {
    config.validate()?;
    let (old, freed) = ARENAS
        .try_with(|arenas| arenas.reconfigure(config))
        .map_err(|_| ConfigError::ThreadExiting)?;
    drop(freed);
    Ok(old)
}

/// This thread's settings; without arena state, the default it would start with.
pub(super) fn config() -> ArenaConfig {
    read_existing(|arenas| arenas.config.get()).unwrap_or_else(default_config)
}

/// Replaces the settings threads start with; threads that already have arena state keep theirs.
pub(super) fn configure_default(config: ArenaConfig) -> Result<ArenaConfig, ConfigError> {
    config.validate()?;
    Ok(mem::replace(&mut *DEFAULT_CONFIG.lock(), config))
}

pub(super) fn default_config() -> ArenaConfig {
    *DEFAULT_CONFIG.lock()
}

/// This thread's counters; all zero without arena state.
pub(super) fn stats() -> ArenaStats {
    read_existing(|arenas| arenas.counters.snapshot()).unwrap_or_default()
}
