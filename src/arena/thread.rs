//! Each thread's warm arenas: where a scope gets its bump and where it gives it back.
//!
//! The state is a `thread_local!` touched once on scope entry and once on exit, never per
//! allocation (a scope owns its bump while it lives), and never by another thread. Other
//! threads only read the published counters (see `stats`).

use std::cell::{Cell, RefCell};
use std::mem;

use bumpalo::Bump;

use super::config::ArenaConfig;
use super::stats::{self, ArenaStats, ThreadCounters};
use crate::error::ConfigError;
use crate::sync::{global, thread_local, Arc, Mutex};

struct ThreadArenas {
    /// Reset bumps ready for the next scope; the last one is the most recently used (LIFO keeps
    /// its memory in cache). Boxed: a scope takes and returns a pointer, not a 24-byte struct.
    #[allow(clippy::vec_box)]
    idle: Vec<Box<Bump>>,
    /// Sum of the chunk capacity of `idle`.
    idle_bytes: usize,
    config: ArenaConfig,
    counters: Arc<ThreadCounters>,
}

global! {
    /// The settings a thread's arenas start with ([`configure_default`]); read once per thread,
    /// when it first uses an arena, never on the hot path.
    static DEFAULT_CONFIG: Mutex<ArenaConfig> = Mutex::new(ArenaConfig::new());
}

thread_local! {
    static ARENAS: RefCell<ThreadArenas> = RefCell::new(ThreadArenas::new());
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
    ARENAS.try_with(|arenas| read(&arenas.borrow())).ok()
}

impl ThreadArenas {
    fn new() -> Self {
        // `try_with`: this may run in a thread-local destructor, after `HAS_ARENAS` is gone
        // (under loom, whose thread-locals are all destroyed); then nothing reads it again.
        let _ = HAS_ARENAS.try_with(|has| has.set(true));
        let config = default_config();
        Self {
            idle: Vec::with_capacity(config.max_idle_arenas),
            idle_bytes: 0,
            config,
            counters: stats::register(),
        }
    }

    #[inline]
    fn take(&mut self) -> Box<Bump> {
        self.counters.scopes_entered.add(1);
        match self.idle.pop() {
            Some(bump) => {
                self.idle_bytes -= bump.allocated_bytes();
                self.publish_levels();
                bump
            }
            None => self.create(),
        }
    }

    #[cold]
    #[inline(never)]
    fn create(&mut self) -> Box<Bump> {
        self.counters.arenas_created.add(1);
        let bump = Box::new(Bump::new());
        bump.set_allocation_limit(self.config.allocation_limit);
        bump
    }

    /// Keeps a reset bump warm if the settings allow; otherwise hands it back to be freed.
    #[inline]
    fn put(&mut self, bump: Box<Bump>, used: usize) -> Option<Box<Bump>> {
        let c = &self.counters;
        c.bytes_used_at_scope_end.add(used);
        if used > c.peak_scope_bytes.get() {
            c.peak_scope_bytes.set(used);
        }
        let capacity = bump.allocated_bytes();
        if !self.config.may_retain(capacity) {
            c.dropped_oversized.add(1);
            return Some(bump);
        }
        if self.idle.len() >= self.config.max_idle_arenas {
            c.dropped_surplus.add(1);
            return Some(bump);
        }
        // The settings may have changed while the scope was alive.
        bump.set_allocation_limit(self.config.allocation_limit);
        self.idle_bytes += capacity;
        self.idle.push(bump);
        self.publish_levels();
        None
    }

    /// Applies `config` to the idle arenas too; returns the old settings and the arenas it no
    /// longer allows.
    #[allow(clippy::vec_box)] // the boxes are the idle arenas themselves
    fn reconfigure(&mut self, config: ArenaConfig) -> (ArenaConfig, Vec<Box<Bump>>) {
        let old = mem::replace(&mut self.config, config);
        let mut kept = Vec::with_capacity(config.max_idle_arenas);
        let mut freed = Vec::new();
        for bump in mem::take(&mut self.idle) {
            if kept.len() < config.max_idle_arenas && config.may_retain(bump.allocated_bytes()) {
                bump.set_allocation_limit(config.allocation_limit);
                kept.push(bump);
            } else {
                freed.push(bump);
            }
        }
        self.idle = kept;
        self.idle_bytes = self.idle.iter().map(|bump| bump.allocated_bytes()).sum();
        self.publish_levels();
        (old, freed)
    }

    #[inline]
    fn publish_levels(&self) {
        self.counters.retained_bytes.set(self.idle_bytes);
        self.counters.idle_arenas.set(self.idle.len());
    }
}

impl Drop for ThreadArenas {
    /// The thread is exiting: free its arenas and fold its counters into the global total.
    fn drop(&mut self) {
        self.idle.clear();
        self.idle_bytes = 0;
        self.publish_levels();
        stats::retire(&self.counters);
    }
}

/// A bump for a new scope: a warm one if the thread has one. During thread teardown (after the
/// thread's arenas were freed) it is a fresh, unpooled bump.
#[inline]
pub(super) fn acquire() -> Box<Bump> {
    ARENAS
        .try_with(|arenas| arenas.borrow_mut().take())
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
    let untouched = bump.chunk_capacity() == bump.allocated_bytes();
    let used = if untouched { 0 } else { rewind(&mut bump) };
    debug_assert!(!untouched || bump.iter_allocated_chunks().all(<[_]>::is_empty));
    match ARENAS.try_with(|arenas| arenas.borrow_mut().put(bump, used)) {
        Ok(None) => true,
        // Freed outside the borrow.
        Ok(Some(surplus)) => {
            free(surplus);
            true
        }
        // The thread's arenas are gone: the closure's `bump` was freed with it.
        Err(_) => false,
    }
}

/// Measures what a scope left in `bump` and rewinds it; returns the bytes measured. Out of line:
/// its loops over chunks would make every scope end save and restore registers for them.
#[inline(never)]
fn rewind(bump: &mut Bump) -> usize {
    let used = bump.iter_allocated_chunks().map(<[_]>::len).sum();
    bump.reset();
    used
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
        .try_with(|arenas| arenas.borrow_mut().reconfigure(config))
        .map_err(|_| ConfigError::ThreadExiting)?;
    drop(freed);
    Ok(old)
}

/// This thread's settings; without arena state, the default it would start with.
pub(super) fn config() -> ArenaConfig {
    read_existing(|arenas| arenas.config).unwrap_or_else(default_config)
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
