//! The builder shared by [`Pool`](crate::Pool) and [`LocalPool`](crate::LocalPool).

use std::fmt;
use std::marker::PhantomData;

use crate::error::ConfigError;
use crate::recycle::{Recycler, ResetRecycler};

/// Default cap on idle objects a pool keeps (the shared depot, for [`Pool`](crate::Pool)).
pub const DEFAULT_MAX_IDLE: usize = 1024;
/// Default per-thread cache size of [`Pool`](crate::Pool).
pub const DEFAULT_THREAD_CACHE: usize = 32;
/// Largest accepted per-thread cache size: a cache is scanned whole on thread exit and trim.
pub const MAX_THREAD_CACHE: usize = 1 << 16;

/// Marks a [`Builder`] that builds a [`LocalPool`](crate::LocalPool).
#[derive(Debug)]
pub enum Local {}
/// Marks a [`Builder`] that builds a [`Pool`](crate::Pool).
#[derive(Debug)]
pub enum Shared {}

/// Configures a pool; made by `Pool::builder` or `LocalPool::builder`, finished by `build()`.
///
/// `K` says which pool it builds, `F` is the factory and `R` the [`Recycler`] policy. Every
/// setting is checked by `build()`, which returns a [`ConfigError`] naming the bad value.
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
    _kind: PhantomData<(fn() -> T, K)>,
}

/// Builder of a [`LocalPool`](crate::LocalPool).
pub type LocalPoolBuilder<T, F, R = ResetRecycler> = Builder<Local, T, F, R>;
/// Builder of a [`Pool`](crate::Pool).
pub type PoolBuilder<T, F, R = ResetRecycler> = Builder<Shared, T, F, R>;

impl<K, T, F: Fn() -> T> Builder<K, T, F> {
    pub(crate) fn new(factory: F) -> Self {
        Self {
            factory,
            recycler: ResetRecycler::default(),
            max_idle: DEFAULT_MAX_IDLE,
            prefill: 0,
            thread_cache: DEFAULT_THREAD_CACHE,
            _kind: PhantomData,
        }
    }

    /// Drops returned objects that keep more than `bytes` of heap memory after
    /// [`Recycle::reset`](crate::Recycle::reset) (default
    /// [`DEFAULT_MAX_RETAINED_BYTES`](crate::recycle::DEFAULT_MAX_RETAINED_BYTES)).
    pub fn max_retained_bytes(mut self, bytes: usize) -> Self {
        self.recycler = ResetRecycler::new(bytes);
        self
    }
}

impl<K, T, F, R> Builder<K, T, F, R> {
    /// Caps the objects kept idle (default [`DEFAULT_MAX_IDLE`]); must be at least 1. Objects
    /// returned while the pool is full are dropped and counted as `discarded`.
    pub fn max_idle(mut self, max_idle: usize) -> Self {
        self.max_idle = max_idle;
        self
    }

    /// Creates `count` objects when the pool is built (default 0); must not exceed `max_idle`.
    pub fn prefill(mut self, count: usize) -> Self {
        self.prefill = count;
        self
    }

    /// Replaces the recycle policy: `recycle` resets an object that came back and returns whether
    /// to keep it (`false` drops it).
    ///
    /// ```
    /// use hotpool::LocalPool;
    ///
    /// let pool = LocalPool::builder(|| Vec::<u8>::with_capacity(64))
    ///     .recycle_with(|v: &mut Vec<u8>| { v.clear(); v.capacity() <= 1024 })
    ///     .build()?;
    /// pool.get().reserve(4096); // grew too large: dropped on return
    /// assert_eq!(pool.stats().discarded, 1);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn recycle_with<R2: Fn(&mut T) -> bool>(self, recycle: R2) -> Builder<K, T, F, R2> {
        Builder {
            factory: self.factory,
            recycler: recycle,
            max_idle: self.max_idle,
            prefill: self.prefill,
            thread_cache: self.thread_cache,
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
    pub fn thread_cache(mut self, size: usize) -> Self {
        self.thread_cache = size;
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
            .finish_non_exhaustive()
    }
}
