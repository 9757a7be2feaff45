//! Per-thread bump arenas for scratch memory: allocate freely inside a scope, and everything
//! goes away at once when the scope ends, while the memory stays warm for the next scope.
//!
//! ```
//! use hotpool::arena;
//!
//! fn tokens(line: &str) -> usize {
//!     arena::scope(|s| {
//!         let mut words = s.vec();                  // bumpalo Vec in this scope's arena
//!         for w in line.split_whitespace() {
//!             words.push(&*s.alloc_str(w));         // copies live in the arena too
//!         }
//!         words.len()
//!     }) // arena rewound here, kept for the next call: no heap traffic once warm
//! }
//! assert_eq!(tokens("a bump arena per thread"), 5);
//! assert_eq!(arena::stats().idle_arenas, 1);
//! ```
//!
//! Each thread has its own stack of [`bumpalo::Bump`]s. [`scope`](fn@scope) (or the guard returned
//! by [`enter`]) takes one, hands out allocations from it through [`Scope`], and on exit rewinds it
//! and gives it back. Entering and leaving a scope touches only the thread's own state, and an
//! allocation touches only the scope's bump: no lock, no atomic read-modify-write, no borrow
//! flag. [`Scope::bump`] exposes bumpalo's whole API when the helpers here are not enough.
//!
//! # References cannot outlive their scope
//!
//! Every reference a scope hands out borrows the scope:
//!
//! ```compile_fail
//! let leaked = hotpool::arena::scope(|s| s.alloc(1u32)); // the reference would escape
//! ```
//!
//! ```compile_fail
//! let leaked = {
//!     let s = hotpool::arena::enter();
//!     s.alloc_str("scratch")
//! }; // `s` dropped here while still borrowed
//! ```
//!
//! A [`Scope`] is `!Send`: its arena belongs to the thread that entered it.
//!
//! # Destructors
//!
//! bumpalo never runs destructors. A scope does: a value whose type needs dropping
//! ([`std::mem::needs_drop`]) is registered when it is allocated, and dropped when the scope
//! ends, newest first. The bookkeeping is a list node stored in the arena itself; types
//! without drop glue skip it entirely (the check is a constant). If a destructor panics, the
//! others still run and the arena is still rewound and returned; then the panic resumes, where
//! the scope ends. Two places cannot take a panic without aborting the process, so there the
//! panic hook's report is all that remains of it: a scope dropped while its thread is already
//! unwinding, and a scope that ends during thread exit after the thread's arenas were freed (a
//! guard from [`enter`] kept in a `thread_local!` that is destroyed after them). A guard kept in
//! a `thread_local!` destroyed *before* them (first touched after the thread had already used
//! an arena) ends like any scope, and its panic then escapes that thread-local destructor,
//! which Rust turns into an abort, as for any value kept there whose `drop` panics: end kept
//! scopes before the thread exits.
//!
//! ```
//! use std::cell::Cell;
//!
//! struct Loud<'a>(u32, &'a Cell<Vec<u32>>);
//! impl Drop for Loud<'_> {
//!     fn drop(&mut self) {
//!         let mut log = self.1.take();
//!         log.push(self.0);
//!         self.1.set(log);
//!     }
//! }
//!
//! let log = Cell::new(Vec::new());
//! hotpool::arena::scope(|s| {
//!     s.alloc(Loud(1, &log));
//!     s.alloc(Loud(2, &log));
//! });
//! assert_eq!(log.take(), [2, 1]); // newest first
//! ```
//!
//! A value with a destructor may borrow anything that outlives the scope (`'env` in
//! [`Scope<'env>`](Scope)), but not the scope itself: its destructor could otherwise read a
//! neighbour that was dropped first. The compiler enforces it:
//!
//! ```compile_fail,E0521
//! use std::cell::Cell;
//! struct Node<'a> { name: String, next: Cell<Option<&'a Node<'a>>> }
//! impl Drop for Node<'_> {
//!     fn drop(&mut self) {
//!         if let Some(next) = self.next.get() { println!("{}", next.name) } // may be dropped
//!     }
//! }
//! hotpool::arena::scope(|s| {
//!     let a = s.alloc(Node { name: "a".into(), next: Cell::new(None) });
//!     let b = s.alloc(Node { name: "b".into(), next: Cell::new(None) });
//!     a.next.set(Some(b));
//! });
//! ```
//!
//! ```compile_fail,E0597
//! # use std::cell::Cell;
//! # struct Node<'a> { name: String, next: Cell<Option<&'a Node<'a>>> }
//! # impl Drop for Node<'_> { fn drop(&mut self) {} }
//! let s = hotpool::arena::enter(); // the same with the guard
//! let a = s.alloc(Node { name: "a".into(), next: Cell::new(None) });
//! let b = s.alloc(Node { name: "b".into(), next: Cell::new(None) });
//! a.next.set(Some(b));
//! ```
//!
//! Linked structures inside one arena go through [`Scope::bump`] (nothing allocated there is
//! dropped, so anything may point anywhere), or through [`Scope::vec`] and
//! [`Scope::alloc_slice_copy`], which take any type.
//!
//! # Nesting
//!
//! A scope entered while another one of the same thread is alive takes another arena, so it
//! rewinds on its own and never touches the outer scope's memory:
//!
//! ```
//! use hotpool::arena;
//!
//! arena::scope(|outer| {
//!     let kept = outer.alloc_str("outer data");
//!     for _ in 0..3 {
//!         arena::scope(|inner| {
//!             inner.alloc_slice_copy(&[0u8; 256]); // rewound after each round
//!         });
//!     }
//!     assert_eq!(kept, "outer data");
//! });
//! assert_eq!(arena::stats().arenas_created, 2); // one per nesting level, reused
//! ```
//!
//! # Bounds and configuration
//!
//! Memory stays bounded per thread ([`ArenaConfig`], set with [`configure`] for the calling
//! thread, or with [`configure_default`] for every thread that starts using arenas afterwards):
//!
//! - an arena retaining more than [`max_retained_bytes`](ArenaConfig::max_retained_bytes)
//!   (default 1 MiB) when its scope ends is freed, not kept, so one spike does not pin memory;
//! - at most [`max_idle_arenas`](ArenaConfig::max_idle_arenas) (default 8) warm arenas wait
//!   for later scopes;
//! - an optional [`allocation_limit`](ArenaConfig::allocation_limit) caps one arena: past it,
//!   `try_alloc*` return [`AllocError`] and `alloc*` panic (instead of aborting the process).
//!
//! ```
//! use hotpool::arena::{self, ArenaConfig};
//!
//! arena::configure(ArenaConfig { max_retained_bytes: 64 * 1024, ..ArenaConfig::default() })?;
//! arena::scope(|s| {
//!     s.alloc_slice_copy(&[0u8; 200 * 1024]); // a spike
//! });
//! assert_eq!(arena::stats().dropped_oversized, 1); // freed, not kept
//!
//! let bad = arena::configure(ArenaConfig { allocation_limit: Some(0), ..ArenaConfig::default() });
//! assert_eq!(
//!     bad.unwrap_err().to_string(),
//!     "invalid configuration: allocation_limit = 0, but it must be at least 1"
//! );
//! # Ok::<(), hotpool::ConfigError>(())
//! ```
//!
//! # Threads
//!
//! Every thread uses its own arenas, with no synchronization on the hot path; for example, each
//! rayon worker gets per-thread scratch space just by calling [`scope`](fn@scope) inside the
//! closure (set [`configure_default`] before the pool starts to bound its workers' arenas). A
//! thread's arenas are freed when it exits, and its statistics are folded into
//! [`global_stats`].
//!
//! An arena that must cross threads, such as one that belongs to a request that moves between
//! workers, is not a thread arena: take a [`bumpalo::Bump`] from a shared
//! [`Pool`](crate::Pool). The owned guard is `Send`, and dropping it on any thread resets the
//! bump (see [`Recycle for Bump`](crate::Recycle)) and returns it to the pool:
//!
//! ```
//! use std::sync::Arc;
//! use hotpool::{OwnedPooled, Pool};
//! use bumpalo::Bump;
//!
//! let pool = Arc::new(Pool::new(Bump::new));
//! let request_arena: OwnedPooled<Bump> = pool.get_owned();
//! let total = std::thread::spawn(move || {
//!     let xs = request_arena.alloc_slice_copy(&[1u32, 2, 3]);
//!     xs.iter().sum::<u32>()
//!     // `request_arena` is dropped here, on the worker: reset and back in the pool
//! })
//! .join()
//! .unwrap();
//! assert_eq!(total, 6);
//! assert_eq!(pool.stats().idle, 1);
//! ```
//!
//! # Allocator-aware collections
//!
//! With the `allocator-api2` cargo feature, `&Scope` implements
//! [`allocator_api2`](https://docs.rs/allocator-api2/0.2)'s `Allocator` trait (through
//! bumpalo's implementation for `&Bump`), so collections that take an allocator, such as
//! `allocator_api2::vec::Vec`, `allocator_api2::boxed::Box` or hashbrown's `HashMap` (with its
//! `allocator-api2` feature), can live in a scope. Use allocator-api2 0.2, the version bumpalo
//! implements. The collection borrows the scope, so it cannot outlive it; it drops its own
//! elements when it drops, and freeing its memory is a no-op (the memory comes back when the
//! scope ends), except that the newest allocation is taken back at once.
//!
//! ```
//! # #[cfg(feature = "allocator-api2")]
//! # fn main() {
//! use hashbrown::HashMap;
//!
//! let distinct = hotpool::arena::scope(|s| {
//!     let mut counts = HashMap::new_in(s); // the table lives in the scope's arena
//!     for word in "a b a c b a".split(' ') {
//!         *counts.entry(word).or_insert(0u32) += 1;
//!     }
//!     assert_eq!(counts["a"], 3);
//!     counts.len()
//! });
//! assert_eq!(distinct, 3);
//! # }
//! # #[cfg(not(feature = "allocator-api2"))]
//! # fn main() {}
//! ```
//!
//! # Statistics
//!
//! [`stats`](fn@stats) reads the calling thread's counters ([`ArenaStats`]) without a lock;
//! [`global_stats`] sums every thread's, live or exited, under a lock that the hot path never
//! takes.

#[cfg(feature = "allocator-api2")]
mod allocator;
mod config;
mod drop_list;
mod scope;
mod slices;
mod stats;
mod thread;

pub use config::{
    AllocError, ArenaConfig, DEFAULT_MAX_IDLE_ARENAS, DEFAULT_MAX_RETAINED_BYTES, MAX_IDLE_ARENAS,
};
pub use scope::Scope;
pub use stats::ArenaStats;

use crate::error::ConfigError;

/// bumpalo's growable vector, in a scope's arena (what [`Scope::vec`] returns): `'s` is the
/// borrow of the scope, so it cannot outlive it. It drops its own elements when it drops.
///
/// ```
/// use hotpool::arena;
///
/// fn evens<'s>(s: &'s arena::Scope<'_>, upto: u32) -> arena::Vec<'s, u32> {
///     let mut v = s.vec();
///     v.extend((0..upto).filter(|n| n % 2 == 0));
///     v
/// }
/// arena::scope(|s| assert_eq!(evens(s, 7), [0, 2, 4, 6]));
/// ```
pub type Vec<'s, T> = bumpalo::collections::Vec<'s, T>;

/// bumpalo's growable string, in a scope's arena (what [`Scope::string`] returns).
///
/// ```
/// use hotpool::arena;
///
/// fn shout<'s>(s: &'s arena::Scope<'_>, word: &str) -> arena::String<'s> {
///     let mut out = s.string();
///     out.push_str(&word.to_uppercase());
///     out.push('!');
///     out
/// }
/// arena::scope(|s| assert_eq!(shout(s, "hey"), "HEY!"));
/// ```
pub type String<'s> = bumpalo::collections::String<'s>;

/// Enters a scope on the current thread's next warm arena; the scope ends, and the arena is
/// rewound and kept, when the guard drops.
///
/// Use it where a closure is awkward (a scope that spans a loop body with early `continue`s, or
/// that lives in a struct); [`scope`](fn@scope) is the same thing with the end made explicit.
///
/// ```
/// use hotpool::arena;
///
/// for batch in [[1u64, 2], [3, 4]] {
///     let s = arena::enter();
///     let doubled = s.alloc_slice_fill_iter(batch.iter().map(|x| x * 2));
///     assert_eq!(doubled.len(), 2);
/// } // each iteration rewinds the same arena
/// assert_eq!(arena::stats().arenas_created, 1);
/// ```
#[inline]
pub fn enter<'env>() -> Scope<'env> {
    Scope::new(thread::acquire())
}

/// Runs `f` in a new scope on the current thread's arena and ends the scope when `f` returns
/// (or unwinds): values owed a destructor are dropped, the arena is rewound and kept warm.
///
/// ```
/// let total = hotpool::arena::scope(|s| {
///     let xs = s.alloc_slice_copy(&[1u32, 2, 3]);
///     xs.iter().sum::<u32>()
/// });
/// assert_eq!(total, 6);
/// ```
#[inline]
pub fn scope<'env, R>(f: impl FnOnce(&Scope<'env>) -> R) -> R {
    let s = enter();
    f(&s)
}

/// Replaces the current thread's arena settings and returns the previous ones. Idle arenas the
/// new settings no longer allow are freed at once; arenas of live scopes follow the new settings
/// when their scope ends (their allocation limit does not change while they are in use).
///
/// # Errors
/// [`ConfigError`] naming the first invalid field; the settings are then unchanged.
/// [`ConfigError::ThreadExiting`] if called from a thread-local destructor after the thread's
/// arenas were freed: nothing is left to configure.
///
/// ```
/// use hotpool::arena::{self, ArenaConfig};
///
/// let old = arena::configure(ArenaConfig { max_idle_arenas: 2, ..ArenaConfig::default() })?;
/// assert_eq!(old, ArenaConfig::default());
/// assert!(arena::configure(ArenaConfig { max_idle_arenas: 1000, ..old }).is_err());
/// assert_eq!(arena::config().max_idle_arenas, 2);
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
pub fn configure(config: ArenaConfig) -> Result<ArenaConfig, ConfigError> {
    thread::configure(config)
}

/// Replaces the process-wide default arena settings and returns the previous ones: every thread
/// that has not used an arena yet starts with them, such as the workers of a thread pool
/// spawned afterwards (or lazily, as rayon's are).
///
/// Threads that already have arena state (any arena use, or a [`configure`] call) keep their
/// own settings; change those with [`configure`], on that thread. Reading [`config`](fn@config) or
/// [`stats`](fn@stats) creates no state. The default is read once per thread, when it first uses an
/// arena, never on the hot path.
///
/// # Errors
/// [`ConfigError`] naming the first invalid field, as for [`configure`]; the default is then
/// unchanged.
///
/// ```
/// use hotpool::arena::{self, ArenaConfig};
///
/// let spike_safe = ArenaConfig { max_retained_bytes: 64 * 1024, ..ArenaConfig::default() };
/// arena::configure_default(spike_safe)?;
/// // A thread started now (a rayon worker, say) begins with it...
/// let seen = std::thread::spawn(arena::config).join().unwrap();
/// assert_eq!(seen, spike_safe);
/// // ...and a bad setting is refused, the default unchanged.
/// let bad = ArenaConfig { allocation_limit: Some(0), ..spike_safe };
/// assert!(arena::configure_default(bad).is_err());
/// assert_eq!(arena::default_config(), spike_safe);
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
pub fn configure_default(config: ArenaConfig) -> Result<ArenaConfig, ConfigError> {
    thread::configure_default(config)
}

/// The process-wide default arena settings ([`configure_default`]), which threads start with.
///
/// ```
/// use hotpool::arena::{self, ArenaConfig};
///
/// assert_eq!(arena::default_config(), ArenaConfig::default());
/// ```
pub fn default_config() -> ArenaConfig {
    thread::default_config()
}

/// The current thread's arena settings: those its arenas use, or, on a thread that has not
/// used an arena yet, the [default](default_config) they will start with. Reading them creates
/// no thread state (the thread is not counted in [`global_stats`]).
///
/// ```
/// use hotpool::arena;
///
/// let threads = arena::global_stats().live_threads;
/// assert_eq!(arena::config(), arena::default_config());
/// assert_eq!(arena::global_stats().live_threads, threads); // still not an arena user
/// ```
pub fn config() -> ArenaConfig {
    thread::config()
}

/// The current thread's arena statistics (no lock taken). All zero on a thread that has not
/// used an arena; reading them creates no thread state.
///
/// ```
/// use hotpool::arena;
///
/// assert_eq!(arena::stats().live_threads, 0); // nothing yet, and reading made nothing
/// arena::scope(|_| {});
/// assert_eq!((arena::stats().scopes_entered, arena::stats().live_threads), (1, 1));
/// ```
pub fn stats() -> ArenaStats {
    thread::stats()
}

/// Arena statistics summed over every thread, live or exited.
///
/// ```
/// std::thread::spawn(|| hotpool::arena::scope(|s| { s.alloc(1u8); })).join().unwrap();
/// assert!(hotpool::arena::global_stats().scopes_entered >= 1);
/// ```
pub fn global_stats() -> ArenaStats {
    stats::global()
}
