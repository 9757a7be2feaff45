//! [`BufferPoolBuilder`]: the settings of a [`BufferPool`] and how its idle-memory budget is
//! split over the size classes.

use super::classes::SizeClasses;
use super::{BufferPool, Classes};
use crate::builder::MAX_THREAD_CACHE;
use crate::error::ConfigError;
use crate::Pool;
use std::borrow::Cow;

/// Default smallest size class, in bytes: smaller requests get a buffer of this capacity.
///
/// ```
/// let pool = hotpool::BufferPool::new();
/// assert_eq!(pool.get(1).capacity(), hotpool::buffer::DEFAULT_MIN_SIZE);
/// ```
pub const DEFAULT_MIN_SIZE: usize = 64;

/// Default largest size class, in bytes (1 MiB): larger requests are served by a plain
/// allocation that is not kept.
///
/// ```
/// use hotpool::buffer::DEFAULT_MAX_SIZE;
///
/// let pool = hotpool::BufferPool::new();
/// drop(pool.get(DEFAULT_MAX_SIZE + 1)); // allocated, and freed on drop
/// assert_eq!(pool.stats().idle_bytes, 0);
/// ```
pub const DEFAULT_MAX_SIZE: usize = 1 << 20;

/// Default cap on idle memory over all classes, in bytes (32 MiB; see [`BufferPool`] for the
/// exact bound with several threads).
///
/// ```
/// let pool = hotpool::BufferPool::new();
/// assert_eq!(pool.max_idle_bytes(), hotpool::buffer::DEFAULT_MAX_IDLE_BYTES);
/// ```
pub const DEFAULT_MAX_IDLE_BYTES: usize = 32 << 20;

/// Default most buffers of one class that a thread keeps in its own cache (a class whose share
/// of the budget holds fewer than twice this many keeps half its share per thread).
///
/// ```
/// use hotpool::buffer::DEFAULT_THREAD_CACHE;
///
/// let pool = hotpool::BufferPool::new();
/// let small = &pool.stats().classes[0];
/// assert!(small.max_idle > DEFAULT_THREAD_CACHE);
/// ```
pub const DEFAULT_THREAD_CACHE: usize = 16;

/// Largest accepted `max_size` (1 GiB).
///
/// ```
/// use hotpool::buffer::LARGEST_MAX_SIZE;
///
/// let err = hotpool::BufferPool::builder().max_size(LARGEST_MAX_SIZE * 2).build().unwrap_err();
/// assert!(matches!(err, hotpool::ConfigError::TooLarge { setting: "max_size", .. }));
/// ```
pub const LARGEST_MAX_SIZE: usize = 1 << 30;

/// Configures a [`BufferPool`]; made by [`BufferPool::builder`], finished by
/// [`build`](BufferPoolBuilder::build), which checks every setting.
///
/// The classes are the powers of two from `min_size` to `max_size`. The idle budget
/// `max_idle_bytes` gives each class room for one buffer, then splits the rest evenly in bytes
/// between the classes: class `c` keeps at most `1 + (max_idle_bytes - sum of class sizes) /
/// classes / size(c)` idle buffers ([`ClassStats::max_idle`](crate::buffer::ClassStats)); half of
/// that, up to `thread_cache`, may sit in each thread's cache, the rest in the shared depot.
/// A budget below the sum of the class sizes gives one buffer to each class from the smallest up
/// while it lasts; the larger classes keep none (their buffers are still served by size class,
/// and freed when returned).
///
/// ```
/// use hotpool::BufferPool;
///
/// let pool = BufferPool::builder()
///     .min_size(256)
///     .max_size(64 * 1024)
///     .max_idle_bytes(4 << 20)
///     .thread_cache(8)
///     .build()?;
/// let sizes: Vec<usize> = pool.stats().classes.iter().map(|c| c.size).collect();
/// assert_eq!(sizes, [256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]);
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build()` is called"]
pub struct BufferPoolBuilder {
    min_size: usize,
    max_size: usize,
    max_idle_bytes: usize,
    thread_cache: usize,
    max_request: usize,
    /// The in-flight budget in bytes, if any.
    max_live_bytes: Option<usize>,
    /// Prefix of the classes' names in [`report`](fn@crate::report).
    name: Cow<'static, str>,
}

impl BufferPoolBuilder {
    pub(super) fn new() -> Self {
        Self {
            min_size: DEFAULT_MIN_SIZE,
            max_size: DEFAULT_MAX_SIZE,
            max_idle_bytes: DEFAULT_MAX_IDLE_BYTES,
            thread_cache: DEFAULT_THREAD_CACHE,
            max_request: usize::MAX,
            max_live_bytes: None,
            name: Cow::Borrowed("BufferPool"),
        }
    }

    /// The smallest class, in bytes (a power of two, default [`DEFAULT_MIN_SIZE`]).
    ///
    /// ```
    /// let pool = hotpool::BufferPool::builder().min_size(1024).build()?;
    /// assert_eq!(pool.get(10).capacity(), 1024);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn min_size(mut self, bytes: usize) -> Self {
        self.min_size = bytes;
        self
    }

    /// The largest class kept, in bytes (a power of two, at most [`LARGEST_MAX_SIZE`], default
    /// [`DEFAULT_MAX_SIZE`]). Larger requests, and buffers that grew past it, are plain
    /// allocations freed when their guard drops.
    ///
    /// ```
    /// let pool = hotpool::BufferPool::builder().max_size(4096).build()?;
    /// drop(pool.get(4096)); // kept
    /// drop(pool.get(4097)); // a plain allocation, freed
    /// let stats = pool.stats();
    /// assert_eq!((stats.idle, stats.oversized), (1, 1));
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn max_size(mut self, bytes: usize) -> Self {
        self.max_size = bytes;
        self
    }

    /// Cap on the capacity of idle buffers over all classes, in bytes (default
    /// [`DEFAULT_MAX_IDLE_BYTES`]), at least `min_size`. It bounds
    /// idle memory exactly for a program that uses the pool from one thread; every further
    /// thread may keep up to its cache's worth more (see [`BufferPool`]).
    ///
    /// ```
    /// let pool = hotpool::BufferPool::builder().max_size(4096).max_idle_bytes(64 * 1024).build()?;
    /// let held: Vec<_> = (0..100).map(|_| pool.get(4096)).collect();
    /// drop(held);
    /// assert!(pool.stats().idle_bytes <= 64 * 1024);
    ///
    /// // A budget smaller than one buffer per class: the largest classes keep nothing.
    /// let lean = hotpool::BufferPool::builder().max_size(4096).max_idle_bytes(4096).build()?;
    /// let kept: Vec<usize> = lean.stats().classes.iter().map(|c| c.max_idle).collect();
    /// assert_eq!(kept, [1, 1, 1, 1, 1, 1, 0]); // 64 + 128 + ... + 2048 = 4032 bytes
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn max_idle_bytes(mut self, bytes: usize) -> Self {
        self.max_idle_bytes = bytes;
        self
    }

    /// Most buffers of one class a thread keeps in its own cache, served without a lock (default
    /// [`DEFAULT_THREAD_CACHE`], at most [`MAX_THREAD_CACHE`]); a class keeps at most half its
    /// share per thread. 0 sends every buffer through the shared depot.
    ///
    /// ```
    /// let pool = hotpool::BufferPool::builder().thread_cache(0).build()?;
    /// drop(pool.get(100));
    /// assert_eq!(pool.stats().idle, 1); // in the depot
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn thread_cache(mut self, buffers: usize) -> Self {
        self.thread_cache = buffers;
        self
    }

    /// The largest capacity a request may ask for, in bytes (at least 1; default `usize::MAX`,
    /// no cap): [`try_get`](BufferPool::try_get) above it returns
    /// [`BufferError::AboveMaxRequest`](crate::BufferError::AboveMaxRequest) and
    /// [`get`](BufferPool::get) panics, both before allocating anything. For servers that size
    /// buffers from a length read off the wire: one bad length field is refused instead of
    /// allocating it.
    ///
    /// It may be below `max_size`: then it caps requests within the classes too (a buffer that
    /// grows in use is not capped; the cap is on what is asked for).
    ///
    /// ```
    /// use hotpool::{BufferError, BufferPool};
    ///
    /// let pool = BufferPool::builder().max_request(16 << 20).build()?;
    /// assert_eq!(pool.try_get(16 << 20).unwrap().capacity(), 16 << 20); // oversized, allowed
    /// let err = pool.try_get((16 << 20) + 1).unwrap_err();
    /// assert!(matches!(err, BufferError::AboveMaxRequest { max_request: 0x100_0000, .. }));
    /// assert_eq!(pool.stats().refused, 1);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn max_request(mut self, bytes: usize) -> Self {
        self.max_request = bytes;
        self
    }

    /// Caps the bytes in flight: the capacity of the buffers in use, counted when each is handed
    /// out (its class size, or the request itself above the largest class), never exceeds
    /// `bytes` (at least `min_size`; default: no cap). A buffer that grows while in use is not
    /// charged for the growth; it shows when the buffer comes back (as idle bytes, within
    /// `max_idle_bytes`, or freed). For proxies and RPC servers that must bound the memory of
    /// requests in flight when load spikes.
    ///
    /// At the budget, [`get`](BufferPool::get) blocks,
    /// [`get_timeout`](BufferPool::get_timeout) gives up at its deadline,
    /// [`get_async`](BufferPool::get_async) and [`get_owned_async`](BufferPool::get_owned_async)
    /// wait without blocking a thread, and [`try_get`](BufferPool::try_get) returns
    /// [`BufferError::AtBudget`](crate::BufferError::AtBudget) at once. Waiters are served first
    /// come, first served, each once its whole charge is free (a large request at the head holds
    /// back smaller ones behind it, so none starves). A request that takes more than the whole
    /// budget can never be served: it is
    /// [`BufferError::OverBudget`](crate::BufferError::OverBudget) at once and never waits.
    /// [`BufferStats::live_bytes`](crate::BufferStats::live_bytes) and
    /// [`waits`](crate::BufferStats::waits) show the budget at work.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hotpool::{BufferError, BufferPool};
    ///
    /// let pool = BufferPool::builder().max_live_bytes(8192).build()?;
    /// let a = pool.get(4096);
    /// let b = pool.get(3000); // 4096 bytes more: the budget is spent
    /// assert!(matches!(pool.try_get(1), Err(BufferError::AtBudget { .. })));
    /// let err = pool.get_timeout(1, Duration::from_millis(1)).unwrap_err();
    /// assert!(matches!(err, BufferError::Timeout { .. }));
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| pool.get(1000).capacity()); // blocks
    ///     drop(a); // 4096 bytes free: the waiter's 1024 fit
    ///     assert_eq!(waiter.join().unwrap(), 1024);
    /// });
    /// assert!(matches!(pool.try_get(10_000), Err(BufferError::OverBudget { .. })));
    /// let stats = pool.stats();
    /// assert_eq!((stats.live_bytes, stats.max_live_bytes), (4096, Some(8192)));
    /// drop(b);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_live_bytes(mut self, bytes: usize) -> Self {
        self.max_live_bytes = Some(bytes);
        self
    }

    /// Names the pool in [`hotpool::report()`](fn@crate::report) (default `"BufferPool"`): each
    /// size class is listed as a pool of its own, `"<name>/<class size>"`, in any order with the
    /// other settings.
    ///
    /// ```
    /// let pool = hotpool::BufferPool::builder().name("net").max_size(4096).build()?;
    /// drop(pool.get(1500));
    /// let report = hotpool::report();
    /// let class = report.pool("net/2 KiB").expect("every class is listed");
    /// assert_eq!((class.stats.created, class.stats.idle), (1, 1));
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Builds the pool (allocating no buffer yet).
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting and its value if `min_size` or `max_size` is 0 or not a
    /// power of two, `max_size` is above [`LARGEST_MAX_SIZE`] or below `min_size`,
    /// `max_idle_bytes` is 0 or below `min_size`, `thread_cache` is
    /// above [`MAX_THREAD_CACHE`], `max_request` is 0, or `max_live_bytes` is below `min_size`.
    ///
    /// ```
    /// use hotpool::{BufferPool, ConfigError};
    ///
    /// let err = BufferPool::builder().max_size(0).build().unwrap_err();
    /// assert_eq!(err, ConfigError::Zero { setting: "max_size" });
    /// let err = BufferPool::builder().min_size(4096).max_size(1024).build().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid configuration: min_size = 4096 exceeds max_size = 1024");
    /// let err = BufferPool::builder().max_idle_bytes(32).build().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid configuration: max_idle_bytes = 32 is below the minimum of 64"
    /// ); // not even one buffer of the smallest class
    /// ```
    pub fn build(self) -> Result<BufferPool, ConfigError> {
        self.validate()?;
        let sizes = SizeClasses::new(self.min_size, self.max_size);
        let mut pools = Vec::with_capacity(sizes.len());
        let mut max_idle = Vec::with_capacity(sizes.len());
        for class in 0..sizes.len() {
            let size = sizes.size(class);
            let count = sizes.idle_buffers(self.max_idle_bytes, class);
            let per_thread = self.thread_cache.min(count / 2);
            pools.push(
                Pool::builder(move || Vec::with_capacity(size))
                    // A `Pool` keeps at least one idle object; a class that keeps none refuses
                    // every buffer through its retained-size cap instead.
                    .max_idle((count - per_thread).max(1))
                    .thread_cache(per_thread)
                    .max_retained_bytes(if count == 0 { 0 } else { size })
                    .name(format!("{}/{}", self.name, sizes.label(class)))
                    .build()?,
            );
            max_idle.push(count);
        }
        Ok(BufferPool::from_classes(Classes::new(
            pools.into_boxed_slice(),
            max_idle.into_boxed_slice(),
            sizes,
            self.max_idle_bytes,
            self.max_request,
            self.max_live_bytes,
        )))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (setting, value) in [("min_size", self.min_size), ("max_size", self.max_size)] {
            if value == 0 {
                return Err(ConfigError::Zero { setting });
            }
            if !value.is_power_of_two() {
                return Err(ConfigError::NotPowerOfTwo { setting, value });
            }
        }
        if self.max_size > LARGEST_MAX_SIZE {
            return Err(ConfigError::TooLarge {
                setting: "max_size",
                value: self.max_size,
                max: LARGEST_MAX_SIZE,
            });
        }
        if self.min_size > self.max_size {
            return Err(ConfigError::Exceeds {
                setting: "min_size",
                value: self.min_size,
                limit_setting: "max_size",
                limit: self.max_size,
            });
        }
        if self.max_idle_bytes == 0 {
            return Err(ConfigError::Zero {
                setting: "max_idle_bytes",
            });
        }
        if self.max_idle_bytes < self.min_size {
            return Err(ConfigError::TooSmall {
                setting: "max_idle_bytes",
                value: self.max_idle_bytes,
                min: self.min_size,
            });
        }
        if self.max_request == 0 {
            return Err(ConfigError::Zero {
                setting: "max_request",
            });
        }
        if let Some(bytes) = self.max_live_bytes {
            if bytes < self.min_size {
                // Not even the smallest class would fit: every request would be over budget.
                return Err(ConfigError::TooSmall {
                    setting: "max_live_bytes",
                    value: bytes,
                    min: self.min_size,
                });
            }
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
