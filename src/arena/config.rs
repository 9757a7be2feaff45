//! Per-thread arena settings and the error an allocation limit produces.

use std::fmt;

use crate::error::ConfigError;

/// Default [`ArenaConfig::max_retained_bytes`]: 1 MiB per arena.
///
/// ```
/// use hotpool::arena::{self, DEFAULT_MAX_RETAINED_BYTES};
///
/// arena::scope(|s| {
///     s.alloc_slice_copy(&vec![0u8; 2 * DEFAULT_MAX_RETAINED_BYTES]); // a spike
/// });
/// assert_eq!(arena::stats().dropped_oversized, 1); // freed, not kept warm
/// ```
pub const DEFAULT_MAX_RETAINED_BYTES: usize = crate::recycle::DEFAULT_MAX_RETAINED_BYTES;
/// Default [`ArenaConfig::max_idle_arenas`]: warm arenas a thread keeps between scopes.
///
/// ```
/// use hotpool::arena::{self, DEFAULT_MAX_IDLE_ARENAS};
///
/// fn nest(depth: usize) {
///     if depth > 0 {
///         arena::scope(|_| nest(depth - 1)); // one arena per nesting level
///     }
/// }
/// nest(DEFAULT_MAX_IDLE_ARENAS + 1);
/// let stats = arena::stats();
/// assert_eq!((stats.idle_arenas, stats.dropped_surplus), (DEFAULT_MAX_IDLE_ARENAS, 1));
/// ```
pub const DEFAULT_MAX_IDLE_ARENAS: usize = 8;
/// Largest accepted [`ArenaConfig::max_idle_arenas`]; deeper nesting still works, it just
/// starts with cold arenas.
///
/// ```
/// use hotpool::arena::{self, ArenaConfig, MAX_IDLE_ARENAS};
///
/// let deepest = ArenaConfig { max_idle_arenas: MAX_IDLE_ARENAS, ..ArenaConfig::default() };
/// assert!(arena::configure(deepest).is_ok());
/// let too_deep = ArenaConfig { max_idle_arenas: MAX_IDLE_ARENAS + 1, ..deepest };
/// assert!(arena::configure(too_deep).is_err());
/// ```
pub const MAX_IDLE_ARENAS: usize = 64;

/// How the current thread's arenas are bounded; applied with [`configure`](super::configure).
///
/// Every field bounds memory: what one arena may hold while a scope is alive
/// (`allocation_limit`), what it may keep once the scope ends (`max_retained_bytes`), and how
/// many warm arenas wait for the next scope (`max_idle_arenas`).
///
/// ```
/// use hotpool::arena::{self, ArenaConfig};
///
/// arena::configure(ArenaConfig {
///     max_retained_bytes: 256 * 1024,
///     allocation_limit: Some(4 << 20),
///     ..ArenaConfig::default()
/// })?;
/// assert_eq!(arena::config().max_idle_arenas, arena::DEFAULT_MAX_IDLE_ARENAS);
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArenaConfig {
    /// An arena that holds more than this many bytes of chunk capacity when its scope ends is
    /// freed instead of kept warm, so one spike does not pin its memory for the life of the
    /// thread. The same meaning as a pool's
    /// [`max_retained_bytes`](crate::Builder::max_retained_bytes): `0` keeps only arenas that
    /// hold no memory (those whose scope allocated nothing); use `max_idle_arenas: 0` to keep
    /// no arena at all.
    ///
    /// ```
    /// use hotpool::arena::{self, ArenaConfig};
    ///
    /// arena::configure(ArenaConfig { max_retained_bytes: 0, ..ArenaConfig::default() })?;
    /// arena::scope(|s| { s.alloc(1u8); }); // held memory when it ended: freed
    /// assert_eq!((arena::stats().idle_arenas, arena::stats().dropped_oversized), (0, 1));
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub max_retained_bytes: usize,
    /// The most chunk capacity one arena may grow to (bumpalo's
    /// [`set_allocation_limit`](bumpalo::Bump::set_allocation_limit)); `None` is unbounded.
    /// Past it, `try_alloc*` return [`AllocError`] and `alloc*` panic. Must not be `Some(0)`.
    pub allocation_limit: Option<usize>,
    /// Warm arenas this thread keeps for later scopes; at most [`MAX_IDLE_ARENAS`]. Each level
    /// of scope nesting uses one, so this is the nesting depth that starts warm.
    pub max_idle_arenas: usize,
}

impl ArenaConfig {
    /// The default settings (also [`ArenaConfig::default`]).
    ///
    /// ```
    /// let config = hotpool::arena::ArenaConfig::new();
    /// assert_eq!(config.max_retained_bytes, 1 << 20);
    /// assert_eq!(config.allocation_limit, None);
    /// ```
    pub const fn new() -> Self {
        Self {
            max_retained_bytes: DEFAULT_MAX_RETAINED_BYTES,
            allocation_limit: None,
            max_idle_arenas: DEFAULT_MAX_IDLE_ARENAS,
        }
    }

    /// Checks every setting, naming the first bad one.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.allocation_limit == Some(0) {
            return Err(ConfigError::Zero {
                setting: "allocation_limit",
            });
        }
        if self.max_idle_arenas > MAX_IDLE_ARENAS {
            return Err(ConfigError::TooLarge {
                setting: "max_idle_arenas",
                value: self.max_idle_arenas,
                max: MAX_IDLE_ARENAS,
            });
        }
        Ok(())
    }

    /// Whether an idle arena holding `capacity` bytes may be kept under these settings.
    #[inline]
    pub(super) fn may_retain(&self, capacity: usize) -> bool {
        capacity <= self.max_retained_bytes && self.allocation_limit.map_or(true, |l| capacity <= l)
    }
}

impl Default for ArenaConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// An arena allocation refused: its size is impossible (over `isize::MAX` bytes, the most any
/// allocation may have), it would take the arena past its
/// [`allocation_limit`](ArenaConfig::allocation_limit), or the global allocator failed.
///
/// Returned by the `try_alloc*` methods of [`Scope`](super::Scope); the `alloc*` methods panic
/// with the same message.
///
/// ```
/// use hotpool::arena::{self, ArenaConfig};
///
/// arena::configure(ArenaConfig { allocation_limit: Some(4096), ..ArenaConfig::default() })?;
/// arena::scope(|s| {
///     let err = s.try_alloc_slice_copy(&[0u8; 8192]).unwrap_err();
///     assert_eq!(err.requested(), 8192);
///     assert_eq!(err.limit(), Some(4096));
///     assert_eq!(
///         err.to_string(),
///         "arena allocation of 8192 bytes failed: it would exceed the arena's allocation limit of 4096 bytes"
///     );
/// });
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocError {
    requested: usize,
    limit: Option<usize>,
}

impl AllocError {
    pub(super) fn new(requested: usize, limit: Option<usize>) -> Self {
        Self { requested, limit }
    }

    /// Whether the size asked for is impossible: above `isize::MAX` bytes (including a size
    /// that overflowed `usize` and was saturated), which no allocator may hand out. Such a
    /// request fails whatever the memory free and the limit; the message says so.
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     let err = s.try_alloc_slice_fill_copy(usize::MAX, 0u8).unwrap_err();
    ///     assert!(err.is_impossible_size());
    ///     assert!(err.to_string().contains("the size is impossible"));
    /// });
    /// ```
    pub fn is_impossible_size(&self) -> bool {
        self.requested > isize::MAX as usize
    }

    /// Bytes the refused allocation asked for (saturated at `usize::MAX` if the size overflowed).
    ///
    /// ```
    /// use hotpool::arena::{self, ArenaConfig};
    ///
    /// arena::configure(ArenaConfig { allocation_limit: Some(1024), ..ArenaConfig::default() })?;
    /// arena::scope(|s| {
    ///     let err = s.try_alloc_slice_copy(&[0u32; 500]).unwrap_err();
    ///     assert_eq!(err.requested(), 2000); // bytes, not elements
    /// });
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn requested(&self) -> usize {
        self.requested
    }

    /// The arena's allocation limit when it refused, `None` if it had none (then the size was
    /// impossible or the global allocator failed).
    ///
    /// ```
    /// use hotpool::arena::{self, ArenaConfig};
    ///
    /// arena::configure(ArenaConfig { allocation_limit: Some(4096), ..ArenaConfig::default() })?;
    /// let s = arena::enter();
    /// arena::configure(ArenaConfig::default())?; // unbounded, but only for arenas not in use
    /// let err = s.try_alloc_slice_copy(&[0u8; 8192]).unwrap_err();
    /// assert_eq!(err.limit(), Some(4096)); // the limit of the arena that refused
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "arena allocation of {} bytes failed: ", self.requested)?;
        if self.is_impossible_size() {
            return write!(
                f,
                "the size is impossible: no allocation may exceed isize::MAX ({}) bytes",
                isize::MAX
            );
        }
        match self.limit {
            Some(limit) => write!(
                f,
                "it would exceed the arena's allocation limit of {limit} bytes"
            ),
            None => f.write_str("the global allocator is out of memory"),
        }
    }
}

impl std::error::Error for AllocError {}
