//! Configuration errors.

use std::fmt;

/// A builder setting that cannot work, returned by `build()` instead of a panic.
///
/// The message names the setting and the value that was given:
///
/// ```
/// use hotpool::LocalPool;
///
/// let err = LocalPool::builder(String::new).max_idle(4).prefill(10).build().unwrap_err();
/// assert_eq!(err.to_string(), "invalid configuration: prefill = 10 exceeds max_idle = 4");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting that must be at least 1 was 0.
    Zero {
        /// The builder method that was given 0.
        setting: &'static str,
    },
    /// A setting was above the largest value the crate supports.
    TooLarge {
        /// The builder method that was given the value.
        setting: &'static str,
        /// The value given.
        value: usize,
        /// The largest accepted value.
        max: usize,
    },
    /// A setting was larger than another setting it must not exceed.
    Exceeds {
        /// The builder method that was given the value.
        setting: &'static str,
        /// The value given.
        value: usize,
        /// The setting it must not exceed.
        limit_setting: &'static str,
        /// That setting's value.
        limit: usize,
    },
    /// [`arena::configure`](crate::arena::configure) was called while the thread is exiting,
    /// after its arenas were freed (from a thread-local destructor): there is nothing left to
    /// apply the settings to, and the thread makes only cold, unpooled arenas from then on.
    ///
    /// ```
    /// use hotpool::{arena, ConfigError};
    ///
    /// struct ConfigureOnExit;
    /// impl Drop for ConfigureOnExit {
    ///     fn drop(&mut self) {
    ///         let result = arena::configure(arena::ArenaConfig::default());
    ///         assert_eq!(result, Err(ConfigError::ThreadExiting));
    ///     }
    /// }
    /// thread_local! { static ON_EXIT: ConfigureOnExit = ConfigureOnExit; }
    ///
    /// std::thread::spawn(|| {
    ///     ON_EXIT.with(|_| {}); // registered first, so destroyed after the arenas
    ///     arena::scope(|_| {});
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    ThreadExiting,
    /// A setting was below the smallest value that works with the other settings.
    ///
    /// ```
    /// use hotpool::{BufferPool, ConfigError};
    ///
    /// // Not even one buffer of the smallest class (64 bytes).
    /// let err = BufferPool::builder().max_idle_bytes(10).build().unwrap_err();
    /// assert!(matches!(err, ConfigError::TooSmall { setting: "max_idle_bytes", value: 10, .. }));
    /// ```
    TooSmall {
        /// The builder method that was given the value.
        setting: &'static str,
        /// The value given.
        value: usize,
        /// The smallest accepted value.
        min: usize,
    },
    /// A setting that must be a power of two was not.
    ///
    /// ```
    /// use hotpool::BufferPool;
    ///
    /// let err = BufferPool::builder().max_size(1500).build().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid configuration: max_size = 1500 is not a power of two");
    /// ```
    NotPowerOfTwo {
        /// The builder method that was given the value.
        setting: &'static str,
        /// The value given.
        value: usize,
    },
    /// A setting that another setting given to the same builder replaces: building would
    /// ignore it.
    ///
    /// ```
    /// use hotpool::{ConfigError, LocalPool};
    ///
    /// let err = LocalPool::builder(String::new)
    ///     .max_retained_bytes(64)
    ///     .recycler(|s: &mut String| { s.clear(); s.capacity() <= 128 }) // decides alone
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid configuration: max_retained_bytes = 64 is not applied by recycler: \
    ///      give only one"
    /// );
    /// ```
    Conflicts {
        /// The builder method that was given the value.
        setting: &'static str,
        /// The value given.
        value: usize,
        /// The builder method that replaces it.
        with: &'static str,
    },
    /// A setting that only applies together with another one was given without it.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let err = hotpool::Pool::builder(String::new)
    ///     .fair_after(Duration::ZERO) // fairness among waiters, but nobody ever waits
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid configuration: fair_after is given but applies only with max_live"
    /// );
    /// ```
    Requires {
        /// The builder method that was given a value.
        setting: &'static str,
        /// The builder method it needs.
        requires: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Self::ThreadExiting = self {
            return f.write_str(
                "arena settings not applied: arena::configure was called while the thread is \
                 exiting, after its arenas were freed",
            );
        }
        f.write_str("invalid configuration: ")?;
        match self {
            Self::Zero { setting } => write!(f, "{setting} = 0, but it must be at least 1"),
            Self::TooLarge {
                setting,
                value,
                max,
            } => write!(f, "{setting} = {value} is above the maximum of {max}"),
            Self::Exceeds {
                setting,
                value,
                limit_setting,
                limit,
            } => write!(f, "{setting} = {value} exceeds {limit_setting} = {limit}"),
            Self::ThreadExiting => unreachable!("written above"),
            Self::TooSmall {
                setting,
                value,
                min,
            } => write!(f, "{setting} = {value} is below the minimum of {min}"),
            Self::NotPowerOfTwo { setting, value } => {
                write!(f, "{setting} = {value} is not a power of two")
            }
            Self::Conflicts {
                setting,
                value,
                with,
            } => write!(
                f,
                "{setting} = {value} is not applied by {with}: give only one"
            ),
            Self::Requires { setting, requires } => {
                write!(f, "{setting} is given but applies only with {requires}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// A timed acquisition ([`Pool::get_timeout`](crate::Pool::get_timeout),
/// [`Pool::get_owned_timeout`](crate::Pool::get_owned_timeout)) found the pool at its
/// [`max_live`](crate::Builder::max_live) cap until its deadline: no object came back and no
/// place freed in time. The pool is unchanged; the attempt counts in
/// [`PoolStats::waits`](crate::PoolStats::waits).
///
/// ```
/// use std::time::Duration;
/// use hotpool::{Pool, Timeout};
///
/// let pool = Pool::builder(String::new).max_live(1).build()?;
/// let _only = pool.get();
/// let err = pool.get_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, Timeout);
/// assert_eq!(err.to_string(), "timed out waiting for a pooled object: the pool is at its max_live cap");
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeout;

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting for a pooled object: the pool is at its max_live cap")
    }
}

impl std::error::Error for Timeout {}

/// Why a [`BufferPool`](crate::BufferPool) request was refused: returned by
/// [`try_get`](crate::BufferPool::try_get), [`try_get_owned`](crate::BufferPool::try_get_owned)
/// and [`get_timeout`](crate::BufferPool::get_timeout), and the message
/// [`get`](crate::BufferPool::get) panics with (except `AtBudget`, where `get` waits). A refused
/// request allocates nothing and leaves the pool as it was: it counts in
/// [`BufferStats::refused`](crate::BufferStats::refused), except a `Timeout`, which is a wait
/// (counted in [`BufferStats::waits`](crate::BufferStats::waits)). The message names the size
/// requested.
///
/// New reasons may be added (`#[non_exhaustive]`); [`requested`](BufferError::requested) is
/// there for each of them.
///
/// ```
/// use hotpool::{BufferError, BufferPool};
///
/// let pool = BufferPool::builder().max_request(64 * 1024).build()?;
/// let err = pool.try_get(100_000).unwrap_err();
/// assert!(matches!(err, BufferError::AboveMaxRequest { requested: 100_000, max_request: 65536, .. }));
/// assert_eq!(err.requested(), 100_000);
/// assert_eq!(
///     err.to_string(),
///     "buffer request of 100000 bytes refused: above max_request = 65536"
/// );
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BufferError {
    /// The request was above the pool's
    /// [`max_request`](crate::buffer::BufferPoolBuilder::max_request).
    #[non_exhaustive]
    AboveMaxRequest {
        /// The capacity requested, in bytes.
        requested: usize,
        /// The pool's `max_request`.
        max_request: usize,
    },
    /// The request was above `isize::MAX` bytes, more than any allocation can hold.
    ///
    /// ```
    /// use hotpool::{BufferError, BufferPool};
    ///
    /// let err = BufferPool::new().try_get(usize::MAX).unwrap_err();
    /// assert!(matches!(err, BufferError::CapacityOverflow { requested: usize::MAX, .. }));
    /// assert_eq!(
    ///     err.to_string(),
    ///     format!("buffer request of {} bytes refused: above isize::MAX bytes", usize::MAX)
    /// );
    /// ```
    #[non_exhaustive]
    CapacityOverflow {
        /// The capacity requested, in bytes.
        requested: usize,
    },
    /// The global allocator could not allocate a request above the largest class (it returned
    /// no memory: out of memory, or an allocator with a limit).
    #[non_exhaustive]
    AllocFailed {
        /// The capacity requested, in bytes.
        requested: usize,
    },
    /// [`try_get`](crate::BufferPool::try_get) found the pool's in-flight budget
    /// ([`max_live_bytes`](crate::buffer::BufferPoolBuilder::max_live_bytes)) spent, or other
    /// requests waiting for it first; [`get`](crate::BufferPool::get) would wait.
    ///
    /// ```
    /// use hotpool::{BufferError, BufferPool};
    ///
    /// let pool = BufferPool::builder().max_live_bytes(4096).build()?;
    /// let held = pool.get(4096);
    /// let err = pool.try_get(100).unwrap_err();
    /// assert!(matches!(err, BufferError::AtBudget { requested: 100, charge: 128, .. }));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "buffer request of 100 bytes refused: its 128 bytes are not free in max_live_bytes = 4096"
    /// );
    /// drop(held);
    /// assert!(pool.try_get(100).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[non_exhaustive]
    AtBudget {
        /// The capacity requested, in bytes.
        requested: usize,
        /// What it takes from the budget: the capacity of the buffer it would get (its class
        /// size, or the request itself above the largest class).
        charge: usize,
        /// The pool's `max_live_bytes`.
        max_live_bytes: usize,
    },
    /// The request takes more than the pool's whole in-flight budget
    /// ([`max_live_bytes`](crate::buffer::BufferPoolBuilder::max_live_bytes)): it can never be
    /// served, so no acquisition waits for it.
    #[non_exhaustive]
    OverBudget {
        /// The capacity requested, in bytes.
        requested: usize,
        /// What it would take from the budget (see [`BufferError::AtBudget`]).
        charge: usize,
        /// The pool's `max_live_bytes`.
        max_live_bytes: usize,
    },
    /// [`get_timeout`](crate::BufferPool::get_timeout) waited for the in-flight budget until its
    /// deadline.
    #[non_exhaustive]
    Timeout {
        /// The capacity requested, in bytes.
        requested: usize,
        /// How long it waited.
        waited: std::time::Duration,
    },
}

impl BufferError {
    /// The capacity requested, in bytes.
    ///
    /// ```
    /// let err = hotpool::BufferPool::new().try_get(usize::MAX).unwrap_err();
    /// assert_eq!(err.requested(), usize::MAX);
    /// ```
    pub fn requested(&self) -> usize {
        match *self {
            Self::AboveMaxRequest { requested, .. }
            | Self::CapacityOverflow { requested }
            | Self::AllocFailed { requested }
            | Self::AtBudget { requested, .. }
            | Self::OverBudget { requested, .. }
            | Self::Timeout { requested, .. } => requested,
        }
    }
}

impl fmt::Display for BufferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "buffer request of {} bytes refused: ", self.requested())?;
        match self {
            Self::AboveMaxRequest { max_request, .. } => {
                write!(f, "above max_request = {max_request}")
            }
            Self::CapacityOverflow { .. } => f.write_str("above isize::MAX bytes"),
            Self::AllocFailed { .. } => f.write_str("the allocator could not allocate it"),
            Self::AtBudget {
                charge,
                max_live_bytes,
                ..
            } => write!(
                f,
                "its {charge} bytes are not free in max_live_bytes = {max_live_bytes}"
            ),
            Self::OverBudget {
                charge,
                max_live_bytes,
                ..
            } => write!(
                f,
                "its {charge} bytes are more than max_live_bytes = {max_live_bytes}"
            ),
            Self::Timeout { waited, .. } => {
                write!(f, "max_live_bytes stayed spent for {waited:?}")
            }
        }
    }
}

impl std::error::Error for BufferError {}
