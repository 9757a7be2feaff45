//! The builder shared by [`Pool`](crate::Pool) and [`LocalPool`](crate::LocalPool).
//!
//! This file holds what both builders share: the settings of every pool (`max_idle`,
//! `prefill`, `max_retained_bytes`) and their checks. What only one pool has, its recycle
//! settings written out for its closure bounds, and its `build`, are in `builder/pool.rs`
//! ([`PoolBuilder`]) and `builder/local.rs` ([`LocalPoolBuilder`]).
//!
//! # Recycle policies, and what they cost
//!
//! A builder's policy, its `R` parameter, is one of:
//!
//! - [`ResetRecycler`], the default: [`Recycle::reset`] and a retained-size cap
//!   (`max_retained_bytes`). Statically dispatched and inlined into the pool's return path.
//! - A [`Recycler`] of your own, given with `recycler`: any type, nameable in a `static`, whose
//!   `recycle` the compiler inlines like `ResetRecycler`'s. It is the whole policy: the builder
//!   then has no `recycle_with`, `keep_if` or `max_retained_bytes` (a compile error), and a
//!   `max_retained_bytes` given *before* `recycler` makes `build()` return
//!   [`ConfigError::Conflicts`], never a cap silently dropped.
//! - A [`Policy`] (a [`LocalPolicy`](crate::LocalPolicy) for a `LocalPool`), made by
//!   `recycle_with` or `keep_if` from boxed closures, so that its type has a name whatever the
//!   closures are. Each closure costs one indirect call per returned object. With `keep_if` and
//!   no `recycle_with`, the reset stays [`Recycle::reset`], called statically: it and the cap are
//!   compiled for `T` into one function that the policy reaches through one function pointer.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use crate::error::ConfigError;
use crate::policy::{Policy, RetainedCap};
use crate::recycle::{Recycle, Recycler, ResetRecycler};

mod local;
mod pool;

/// Default cap on idle objects a pool keeps (the shared depot, for [`Pool`](crate::Pool)).
///
/// ```
/// use hotpool::{builder::DEFAULT_MAX_IDLE, LocalPool};
///
/// let pool = LocalPool::new(String::new);
/// let accepted = (0..2000).filter(|_| pool.put(String::new()).is_ok()).count();
/// assert_eq!(accepted, DEFAULT_MAX_IDLE); // the rest were handed back
/// ```
pub const DEFAULT_MAX_IDLE: usize = 1024;
/// Default per-thread cache size of [`Pool`](crate::Pool).
///
/// ```
/// use hotpool::{builder::DEFAULT_THREAD_CACHE, Pool};
///
/// // Idle objects: at most `max_idle` in the depot plus a cache's worth per thread.
/// let pool = Pool::builder(String::new).max_idle(1).build()?;
/// let accepted = (0..100).filter(|_| pool.put(String::new()).is_ok()).count();
/// assert_eq!(accepted, 1 + DEFAULT_THREAD_CACHE);
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
pub const DEFAULT_THREAD_CACHE: usize = 32;
/// Default [`fair_after`](crate::builder::PoolBuilder::fair_after) of a bounded
/// [`Pool`](crate::Pool): half a millisecond, the bound parking_lot's locks use.
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(hotpool::builder::DEFAULT_FAIR_AFTER, Duration::from_micros(500));
/// ```
pub const DEFAULT_FAIR_AFTER: Duration = Duration::from_micros(500);
/// Largest accepted per-thread cache size: a cache is scanned whole on thread exit and trim.
///
/// ```
/// use hotpool::{builder::MAX_THREAD_CACHE, Pool};
///
/// assert!(Pool::builder(String::new).thread_cache(MAX_THREAD_CACHE).build().is_ok());
/// let too_large = Pool::builder(String::new).thread_cache(MAX_THREAD_CACHE + 1).build();
/// assert_eq!(
///     too_large.unwrap_err().to_string(),
///     "invalid configuration: thread_cache = 65537 is above the maximum of 65536"
/// );
/// ```
pub const MAX_THREAD_CACHE: usize = 1 << 16;

/// Marks a [`Builder`] that builds a [`LocalPool`](crate::LocalPool).
///
/// ```
/// use hotpool::builder::{Builder, Local};
/// use hotpool::LocalPool;
///
/// let builder: Builder<Local, String, _> = LocalPool::builder(String::new).max_idle(4);
/// let pool: LocalPool<String> = builder.build()?;
/// assert_eq!(pool.max_idle(), 4);
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
///
/// ```compile_fail
/// // A local pool has no thread tier, so its builder has no `thread_cache`.
/// let _ = hotpool::LocalPool::builder(String::new).thread_cache(8);
/// ```
#[derive(Debug)]
pub enum Local {}
/// Marks a [`Builder`] that builds a [`Pool`](crate::Pool).
///
/// ```
/// use hotpool::builder::{Builder, Shared};
/// use hotpool::Pool;
///
/// // Settings of the thread tier exist only on `Shared` builders.
/// fn no_thread_tier<T, F>(builder: Builder<Shared, T, F>) -> Builder<Shared, T, F> {
///     builder.thread_cache(0)
/// }
/// let pool = no_thread_tier(Pool::builder(String::new).max_idle(1)).build()?;
/// assert_eq!(pool.put(String::new()), Ok(()));
/// assert!(pool.put(String::new()).is_err()); // depot full, and no thread cache to fall back on
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
#[derive(Debug)]
pub enum Shared {}

/// Configures a pool; made by `Pool::builder` or `LocalPool::builder`, finished by `build()`.
///
/// `K` says which pool it builds, `F` is the factory and `R` the [`Recycler`] policy:
/// [`ResetRecycler`] until `recycler` replaces it with a policy of your own, or `recycle_with`
/// or `keep_if` makes it a [`Policy`] (a [`LocalPolicy`](crate::LocalPolicy) for a
/// `LocalPool`); see the [module docs](self) for what each costs. The closure settings compose
/// in any order; see [`policy`](crate::policy). Every setting is checked by `build()`, which
/// returns a [`ConfigError`] naming the bad value.
///
/// ```
/// use hotpool::Pool;
///
/// let pool = Pool::builder(|| Vec::<u8>::with_capacity(4096))
///     .max_idle(256)
///     .thread_cache(16)
///     .max_retained_bytes(64 * 1024)
///     .prefill(8)
///     .build()?;
/// assert_eq!(pool.stats().idle, 8);
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
#[must_use = "a builder does nothing until `build()` is called"]
pub struct Builder<K, T, F, R = ResetRecycler> {
    pub(crate) factory: F,
    pub(crate) recycler: R,
    pub(crate) max_idle: usize,
    pub(crate) prefill: usize,
    pub(crate) thread_cache: usize,
    /// `Pool` only: at most this many objects exist at once (see `Builder::max_live`).
    pub(crate) max_live: Option<usize>,
    /// `Pool` only: how long a waiter at the cap may be overtaken (see `Builder::fair_after`);
    /// `None`: not given (the default, [`DEFAULT_FAIR_AFTER`]).
    pub(crate) fair_after: Option<Duration>,
    /// The cap `max_retained_bytes` asked for, kept when the policy changes type.
    explicit_cap: Option<RetainedCap<T>>,
    /// A setting that `recycler` replaced, reported by `build()`.
    conflict: Option<ConfigError>,
    /// Name and registration in [`report`](fn@crate::report) (`Pool` only; see `builder/pool.rs`).
    pub(crate) report: crate::report::Registration,
    _kind: PhantomData<(fn() -> T, K)>,
}

/// Builder of a [`LocalPool`](crate::LocalPool).
///
/// The name to use when a configured builder is passed around before it is built:
///
/// ```
/// use hotpool::builder::LocalPoolBuilder;
/// use hotpool::LocalPool;
///
/// fn line_buffers() -> LocalPoolBuilder<String, impl Fn() -> String> {
///     LocalPool::builder(|| String::with_capacity(256)).max_idle(16)
/// }
/// let pool = line_buffers().prefill(2).build()?;
/// assert_eq!((pool.max_idle(), pool.stats().idle), (16, 2));
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
pub type LocalPoolBuilder<T, F, R = ResetRecycler> = Builder<Local, T, F, R>;
/// Builder of a [`Pool`](crate::Pool).
///
/// The name to use when a configured builder is passed around before it is built:
///
/// ```
/// use hotpool::builder::PoolBuilder;
/// use hotpool::Pool;
///
/// fn frame_buffers() -> PoolBuilder<Vec<u8>, impl Fn() -> Vec<u8> + Send + Sync + 'static> {
///     Pool::builder(|| Vec::with_capacity(1500)).max_idle(64)
/// }
/// let pool = frame_buffers().prefill(4).build()?;
/// assert_eq!(pool.stats().idle, 4);
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
pub type PoolBuilder<T, F, R = ResetRecycler> = Builder<Shared, T, F, R>;

impl<K, T, F: Fn() -> T> Builder<K, T, F> {
    pub(crate) fn new(factory: F) -> Self {
        Self {
            factory,
            recycler: ResetRecycler::default(),
            max_idle: DEFAULT_MAX_IDLE,
            prefill: 0,
            thread_cache: DEFAULT_THREAD_CACHE,
            max_live: None,
            fair_after: None,
            explicit_cap: None,
            conflict: None,
            report: crate::report::Registration::default(),
            _kind: PhantomData,
        }
    }
}

impl<K, T: Recycle, F> Builder<K, T, F> {
    /// Drops returned objects that keep more than `bytes` of heap memory after their reset, as
    /// [`Recycle::retained_bytes`] measures it (default
    /// [`DEFAULT_MAX_RETAINED_BYTES`](crate::recycle::DEFAULT_MAX_RETAINED_BYTES)). Composes
    /// with `recycle_with` and `keep_if` in any order; the last `max_retained_bytes` wins.
    /// `0` keeps only objects that retain no heap memory, the same meaning as the arenas'
    /// [`ArenaConfig::max_retained_bytes`](crate::arena::ArenaConfig::max_retained_bytes).
    ///
    /// ```
    /// let pool = hotpool::LocalPool::builder(Vec::<u8>::new).max_retained_bytes(1024).build()?;
    /// pool.get().reserve(100); // small after reset: kept
    /// pool.get().reserve(4096); // would pin 4 KiB: dropped
    /// let stats = pool.stats();
    /// assert_eq!((stats.returned, stats.discarded), (1, 1));
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    ///
    /// It needs [`Recycle`] to measure an object; anything else is a compile error, not a cap
    /// silently ignored:
    ///
    /// ```compile_fail
    /// struct Conn;
    /// let _ = hotpool::LocalPool::builder(|| Conn).max_retained_bytes(1024);
    /// ```
    ///
    /// A policy of your own given with `recycler` decides alone what to keep: after it there is
    /// no `max_retained_bytes` to call, and a cap given before it makes `build()` fail.
    ///
    /// ```compile_fail,E0599
    /// let _ = hotpool::LocalPool::builder(String::new)
    ///     .recycler(|s: &mut String| { s.clear(); true })
    ///     .max_retained_bytes(4096);
    /// ```
    ///
    /// ```
    /// use hotpool::{ConfigError, Pool};
    ///
    /// let both = Pool::builder(String::new)
    ///     .max_retained_bytes(4096)
    ///     .recycler(|s: &mut String| { s.clear(); true })
    ///     .build();
    /// assert_eq!(
    ///     both.unwrap_err(),
    ///     ConfigError::Conflicts { setting: "max_retained_bytes", value: 4096, with: "recycler" }
    /// );
    /// ```
    pub fn max_retained_bytes(mut self, bytes: usize) -> Self {
        self.recycler = ResetRecycler::new(bytes);
        self.explicit_cap = Some(RetainedCap::explicit(bytes));
        self
    }
}

impl<K, T: Recycle, F, Reset: ?Sized, Keep: ?Sized> Builder<K, T, F, Policy<T, Reset, Keep>> {
    /// Drops returned objects that keep more than `bytes` of heap memory after their reset,
    /// whatever the reset step is; the last `max_retained_bytes` wins.
    ///
    /// ```
    /// let pool = hotpool::Pool::builder(Vec::<u8>::new)
    ///     .recycle_with(|v: &mut Vec<u8>| { v.clear(); true })
    ///     .max_retained_bytes(1024) // after `recycle_with`: applies too
    ///     .build()?;
    /// pool.get().reserve(4096);
    /// assert_eq!(pool.stats().discarded, 1);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn max_retained_bytes(mut self, bytes: usize) -> Self {
        let cap = RetainedCap::explicit(bytes);
        self.recycler.set_cap(cap);
        self.explicit_cap = Some(cap);
        self
    }
}

impl<K, T, F> Builder<K, T, F> {
    /// What `recycler` does on both builders: `recycler` becomes the whole policy, and an
    /// explicit cap given before it is a conflict that `build()` reports.
    fn replace_policy<R>(mut self, recycler: R) -> Builder<K, T, F, R> {
        if let Some(cap) = self.explicit_cap.take() {
            self.conflict = Some(ConfigError::Conflicts {
                setting: "max_retained_bytes",
                value: cap.bytes,
                with: "recycler",
            });
        }
        self.with_policy(recycler)
    }
}

impl<K, T, F, R> Builder<K, T, F, R> {
    /// Caps the objects kept idle (default [`DEFAULT_MAX_IDLE`]); must be at least 1. Objects
    /// returned while the pool is full are dropped and counted as `discarded`.
    ///
    /// ```
    /// let pool = hotpool::LocalPool::builder(String::new).max_idle(2).build()?;
    /// let burst: Vec<_> = (0..3).map(|_| pool.get()).collect();
    /// drop(burst); // the third object finds the pool full
    /// let stats = pool.stats();
    /// assert_eq!((stats.idle, stats.discarded), (2, 1));
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn max_idle(mut self, max_idle: usize) -> Self {
        self.max_idle = max_idle;
        self
    }

    /// Creates `count` objects when the pool is built (default 0); must not exceed `max_idle`.
    ///
    /// ```
    /// let pool = hotpool::LocalPool::builder(|| Vec::<u8>::with_capacity(4096))
    ///     .prefill(4)
    ///     .build()?;
    /// assert_eq!(pool.stats().created, 4);
    /// let _buf = pool.get(); // served warm: the factory does not run on the hot path
    /// assert_eq!((pool.stats().created, pool.stats().reused), (4, 1));
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn prefill(mut self, count: usize) -> Self {
        self.prefill = count;
        self
    }

    /// The recycle policy as configured so far.
    ///
    /// ```
    /// use hotpool::{LocalPool, ResetRecycler};
    ///
    /// let builder = LocalPool::builder(String::new).max_retained_bytes(4096);
    /// assert_eq!(*builder.policy(), ResetRecycler::new(4096));
    /// ```
    pub fn policy(&self) -> &R {
        &self.recycler
    }

    /// The same settings with policy `recycler`.
    fn with_policy<R2>(self, recycler: R2) -> Builder<K, T, F, R2> {
        Builder {
            factory: self.factory,
            recycler,
            max_idle: self.max_idle,
            prefill: self.prefill,
            thread_cache: self.thread_cache,
            max_live: self.max_live,
            fair_after: self.fair_after,
            explicit_cap: self.explicit_cap,
            conflict: self.conflict,
            report: self.report,
            _kind: PhantomData,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError>
    where
        R: Recycler<T>,
    {
        if let Some(conflict) = &self.conflict {
            return Err(conflict.clone());
        }
        if self.max_idle == 0 {
            return Err(ConfigError::Zero {
                setting: "max_idle",
            });
        }
        if self.max_live == Some(0) {
            return Err(ConfigError::Zero {
                setting: "max_live",
            });
        }
        if self.fair_after.is_some() && self.max_live.is_none() {
            return Err(ConfigError::Requires {
                setting: "fair_after",
                requires: "max_live",
            });
        }
        if let Some(max_live) = self.max_live.filter(|&max_live| self.prefill > max_live) {
            return Err(ConfigError::Exceeds {
                setting: "prefill",
                value: self.prefill,
                limit_setting: "max_live",
                limit: max_live,
            });
        }
        if self.prefill > self.max_idle {
            return Err(ConfigError::Exceeds {
                setting: "prefill",
                value: self.prefill,
                limit_setting: "max_idle",
                limit: self.max_idle,
            });
        }
        if self.thread_cache > MAX_THREAD_CACHE {
            return Err(ConfigError::TooLarge {
                setting: "thread_cache",
                value: self.thread_cache,
                max: MAX_THREAD_CACHE,
            });
        }
        Ok(())
    }
}

impl<K, T, F, R: fmt::Debug> fmt::Debug for Builder<K, T, F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("recycler", &self.recycler)
            .field("max_idle", &self.max_idle)
            .field("prefill", &self.prefill)
            .field("thread_cache", &self.thread_cache)
            .field("max_live", &self.max_live)
            .field("fair_after", &self.fair_after)
            .finish_non_exhaustive()
    }
}
