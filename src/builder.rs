//! The builder shared by [`Pool`](crate::Pool) and [`LocalPool`](crate::LocalPool).

use std::fmt;
use std::marker::PhantomData;

use crate::error::ConfigError;
use crate::policy::{LocalPolicy, Policy, ResetStep, RetainedCap};
use crate::recycle::{Recycle, Recycler, ResetRecycler};

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
/// [`ResetRecycler`] until `recycle_with` or `keep_if` makes it a [`Policy`] (a
/// [`LocalPolicy`] for a `LocalPool`). The recycle settings compose in any order; see
/// [`policy`](crate::policy). Every setting is checked by `build()`, which returns a
/// [`ConfigError`] naming the bad value.
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
    /// The cap `max_retained_bytes` asked for, kept when the policy changes type.
    explicit_cap: Option<RetainedCap<T>>,
    /// Name and registration in [`report`](crate::report) (`Pool` only; see `pool/report.rs`).
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
            explicit_cap: None,
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
        self.recycler.cap = Some(RetainedCap::explicit(bytes));
        self.explicit_cap = self.recycler.cap;
        self
    }
}

/// `recycle_with` and `keep_if` for the builder of kind `$kind`, whose policy is `$policy` and
/// whose closures must be `$($bound)*`. `$pool` names the pool type in the examples.
macro_rules! policy_settings {
    ($kind:ident, $policy:ident, $pool:literal, [$($bound:tt)*]) => {
        impl<T, F> Builder<$kind, T, F, ResetRecycler> {
            /// Gives the reset step: `recycle` resets an object that came back and returns
            /// whether to keep it (`false` drops it). It runs *instead of* [`Recycle::reset`]
            /// (call `value.reset()` in it to run both) and is the only reset of a type that
            /// does not implement [`Recycle`]. An explicit `max_retained_bytes` and every
            /// `keep_if` still apply, in any order; the default cap goes with the default reset.
            ///
            /// ```
            #[doc = concat!("use hotpool::", $pool, ";")]
            ///
            #[doc = concat!("let pool = ", $pool, "::builder(|| Vec::<u8>::with_capacity(64))")]
            ///     .max_retained_bytes(1024) // kept: it composes
            ///     .recycle_with(|v: &mut Vec<u8>| { v.clear(); v.capacity() >= 64 })
            ///     .build()?;
            /// pool.get().shrink_to(0); // refused by the closure
            /// pool.get().reserve(4096); // refused by the cap
            /// assert_eq!(pool.stats().discarded, 2);
            /// # Ok::<(), hotpool::ConfigError>(())
            /// ```
            pub fn recycle_with<C>(self, recycle: C) -> Builder<$kind, T, F, $policy<T>>
            where
                C: Fn(&mut T) -> bool $($bound)*,
            {
                let policy: $policy<T> = Policy {
                    reset: ResetStep::Custom(Box::new(recycle)),
                    cap: self.explicit_cap,
                    keep: None,
                };
                self.with_policy(policy)
            }

            /// Keeps a returned object only if `keep` says so, after [`Recycle::reset`] and the
            /// retained-size cap (which both still apply, in any order).
            ///
            /// ```
            #[doc = concat!("use hotpool::", $pool, ";")]
            ///
            #[doc = concat!("let pool = ", $pool, "::builder(|| Vec::<u8>::with_capacity(64))")]
            ///     .keep_if(|v: &Vec<u8>| v.capacity() >= 64) // not the shrunk ones
            ///     .build()?;
            /// pool.get().push(1);
            /// pool.get().shrink_to(0);
            /// let stats = pool.stats();
            /// assert_eq!((stats.returned, stats.discarded), (1, 1));
            /// assert!(pool.get().is_empty()); // reset ran
            /// # Ok::<(), hotpool::ConfigError>(())
            /// ```
            ///
            /// A type without [`Recycle`] gives its reset first, with `recycle_with`:
            ///
            /// ```compile_fail
            /// struct Conn { healthy: bool }
            #[doc = concat!("let _ = hotpool::", $pool, "::builder(|| Conn { healthy: true })")]
            ///     .keep_if(|c: &Conn| c.healthy);
            /// ```
            pub fn keep_if<C>(self, keep: C) -> Builder<$kind, T, F, $policy<T>>
            where
                T: Recycle,
                C: Fn(&T) -> bool $($bound)*,
            {
                let policy: $policy<T> = Policy {
                    reset: ResetStep::Recycle(T::reset),
                    cap: Some(self.explicit_cap.unwrap_or_else(RetainedCap::default_cap)),
                    keep: Some(Box::new(keep)),
                };
                self.with_policy(policy)
            }
        }

        impl<T: 'static, F> Builder<$kind, T, F, $policy<T>> {
            /// Sets the reset step, replacing [`Recycle::reset`] (and the default cap that
            /// comes with it); a second `recycle_with` runs after the first, and the object is
            /// kept only if both return `true`. The cap and the `keep_if` predicates stay.
            ///
            /// ```
            #[doc = concat!("use hotpool::", $pool, ";")]
            ///
            #[doc = concat!("let pool = ", $pool, "::builder(Vec::<u8>::new)")]
            ///     .keep_if(|v: &Vec<u8>| v.is_empty()) // sees the object after the reset
            ///     .recycle_with(|v: &mut Vec<u8>| { v.truncate(1); true })
            ///     .build()?;
            /// pool.get().push(7); // truncated to one element: refused by keep_if
            /// drop(pool.get()); // empty: kept
            /// let stats = pool.stats();
            /// assert_eq!((stats.returned, stats.discarded), (1, 1));
            /// # Ok::<(), hotpool::ConfigError>(())
            /// ```
            pub fn recycle_with<C>(mut self, recycle: C) -> Self
            where
                C: Fn(&mut T) -> bool $($bound)*,
            {
                let reset = match self.recycler.reset {
                    ResetStep::Recycle(_) => {
                        self.recycler.forget_default_cap();
                        ResetStep::Custom(Box::new(recycle) as Box<_>)
                    }
                    ResetStep::Custom(first) => {
                        ResetStep::Custom(Box::new(move |t: &mut T| first(t) && recycle(t)) as Box<_>)
                    }
                };
                self.recycler.reset = reset;
                self
            }

            /// Adds a keep predicate: an object is kept only if every `keep_if` returns `true`
            /// (they run after the reset step and the cap).
            ///
            /// ```
            #[doc = concat!("use hotpool::", $pool, ";")]
            ///
            #[doc = concat!("let pool = ", $pool, "::builder(|| Vec::<u8>::with_capacity(64))")]
            ///     .recycle_with(|v: &mut Vec<u8>| { v.clear(); true })
            ///     .keep_if(|v: &Vec<u8>| v.capacity() >= 64)
            ///     .keep_if(|v: &Vec<u8>| v.capacity() <= 1024)
            ///     .build()?;
            /// pool.get().shrink_to(0);
            /// pool.get().reserve(4096);
            /// drop(pool.get());
            /// let stats = pool.stats();
            /// assert_eq!((stats.returned, stats.discarded), (1, 2));
            /// # Ok::<(), hotpool::ConfigError>(())
            /// ```
            pub fn keep_if<C>(mut self, keep: C) -> Self
            where
                C: Fn(&T) -> bool $($bound)*,
            {
                self.recycler.keep = Some(match self.recycler.keep.take() {
                    None => Box::new(keep) as Box<_>,
                    Some(first) => Box::new(move |t: &T| first(t) && keep(t)) as Box<_>,
                });
                self
            }
        }
    };
}

policy_settings!(Local, LocalPolicy, "LocalPool", [+ 'static]);
policy_settings!(Shared, Policy, "Pool", [+ Send + Sync + 'static]);

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
            explicit_cap: self.explicit_cap,
            report: self.report,
            _kind: PhantomData,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError>
    where
        R: Recycler<T>,
    {
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

impl<T, F, R> Builder<Shared, T, F, R> {
    /// Sets how many idle objects each thread caches without synchronization (default
    /// [`DEFAULT_THREAD_CACHE`]; at most [`MAX_THREAD_CACHE`]). `0` turns the thread tier off:
    /// every `get` and return then goes through the shared depot's lock.
    ///
    /// ```
    /// // Idle objects are bounded by `max_idle` (the depot) plus `thread_cache` per thread.
    /// let pool = hotpool::Pool::builder(String::new).max_idle(2).thread_cache(4).build()?;
    /// let accepted = (0..10).filter(|_| pool.put(String::new()).is_ok()).count();
    /// assert_eq!(accepted, 2 + 4);
    /// assert_eq!(pool.stats().idle, 6);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn thread_cache(mut self, size: usize) -> Self {
        self.thread_cache = size;
        self
    }

    /// Caps the objects that exist at once at `n` (at least 1): in use, plus idle anywhere in
    /// the pool, thread caches included. Unbounded by default.
    ///
    /// At the cap, [`get`](crate::Pool::get) and [`get_owned`](crate::Pool::get_owned) wait
    /// until an object comes back or a place frees (an object the policy refuses, a trim drops,
    /// or [`detach`](crate::Pooled::detach) takes out frees its place; then the factory makes a
    /// new one); [`get_timeout`](crate::Pool::get_timeout) waits up to a deadline and
    /// [`get_async`](crate::Pool::get_async) without blocking a thread. Waiters are served
    /// first come, first served, and never wait while an object is idle anywhere in the pool.
    /// [`try_get`](crate::Pool::try_get) never waits, and [`put`](crate::Pool::put) hands its
    /// value back when the pool is at the cap.
    ///
    /// Below the cap a `get` and a return hit the thread cache as in an unbounded pool, with one
    /// more flag read: the cap is counted only when an object is created or ends.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = hotpool::Pool::builder(|| vec![0u8; 1024]).max_live(2).build()?;
    /// let a = pool.get();
    /// let b = pool.get();
    /// assert!(pool.get_timeout(Duration::from_millis(1)).is_err()); // both places are taken
    /// drop(a);
    /// assert!(pool.get_timeout(Duration::from_millis(1)).is_ok()); // `a`'s object, reused
    /// assert_eq!(pool.stats().created, 2);
    /// # drop(b);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// `build()` returns a [`ConfigError`] if `n` is 0 or `prefill` exceeds it:
    ///
    /// ```
    /// let err = hotpool::Pool::builder(String::new).max_live(2).prefill(3).build().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid configuration: prefill = 3 exceeds max_live = 2");
    /// ```
    pub fn max_live(mut self, n: usize) -> Self {
        self.max_live = Some(n);
        self
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
            .finish_non_exhaustive()
    }
}
