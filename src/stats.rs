//! What a pool holds and has done.

use std::fmt;

/// A snapshot of a pool's counters, from [`LocalPool::stats`](crate::LocalPool::stats) or
/// [`Pool::stats`](crate::Pool::stats).
///
/// The counters are cumulative since the pool was built; `idle`, `in_use` and `peak_in_use` are
/// levels. Every object the pool ever held is created once and ends exactly once: discarded,
/// detached, dropped with the pool, or still idle or in use.
///
/// ```
/// use hotpool::LocalPool;
///
/// let pool = LocalPool::new(Vec::<u8>::new);
/// drop(pool.get()); // created, then returned
/// let g = pool.get(); // reused
/// let s = pool.stats();
/// assert_eq!((s.created, s.reused, s.returned, s.in_use, s.idle), (1, 1, 1, 1, 0));
/// # drop(g);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Objects made by the factory (including `prefill`).
    pub created: u64,
    /// `get`s served by an idle object instead of the factory.
    pub reused: u64,
    /// Objects that came back (guard dropped, or `put`) and were kept idle.
    pub returned: u64,
    /// Objects the pool dropped: the recycle policy refused them, the idle cap was full, or a
    /// trim freed them.
    pub discarded: u64,
    /// Objects taken out of the pool for good with `detach`.
    pub detached: u64,
    /// Objects idle in the pool now, ready for reuse.
    pub idle: usize,
    /// Objects handed out by `get` and not yet back on the idle stack or detached (an object
    /// counts as in use while the recycle policy runs on it).
    ///
    /// Exact when no operation runs during the `stats()` call. A [`Pool`](crate::Pool) keeps
    /// its counts per thread and reads them one thread after another, so a snapshot taken while
    /// objects cross threads can be off in either direction by the gets and returns that ran
    /// during the call; it never reports more objects in use than are alive (`in_use + idle`
    /// is what was created or put and not yet discarded or detached), nor more than
    /// [`max_live`](crate::Builder::max_live).
    pub in_use: usize,
    /// The highest `in_use` seen; it never goes down. Exact for `LocalPool`, and for a `Pool`
    /// without a thread tier. A `Pool` with thread caches keeps no shared counter on its hit path:
    /// each thread adds its share to the estimate whenever it trades with the shared depot (and
    /// `stats()` samples the sum), so the peak is accurate to within `thread_cache` per thread, in
    /// either direction (and never above `max_live` in a bounded pool). Use `thread_cache(0)`
    /// when an exact peak matters more than speed.
    pub peak_in_use: usize,
    /// Acquisitions that found a [`Pool`](crate::Pool) at its
    /// [`max_live`](crate::Builder::max_live) cap with nothing idle in their own thread's cache
    /// or the depot, and queued (blocking, timed or async), whether or not they timed out. A
    /// queued acquisition that objects idle in other threads' caches could serve is served at
    /// once (the first waiter takes them), but it counts here. Always 0 for an unbounded pool.
    pub waits: u64,
}

impl fmt::Display for PoolStats {
    /// One line: what the pool did, then what it holds now (and how many acquisitions waited, if
    /// any did).
    ///
    /// ```
    /// use hotpool::LocalPool;
    ///
    /// let pool = LocalPool::new(String::new);
    /// drop(pool.get());
    /// let _in_use = pool.get();
    /// assert_eq!(
    ///     pool.stats().to_string(),
    ///     "1 created, 1 reused, 1 returned, 0 discarded, 0 detached; 0 idle, 1 in use (peak 1)"
    /// );
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} created, {} reused, {} returned, {} discarded, {} detached; \
             {} idle, {} in use (peak {})",
            self.created,
            self.reused,
            self.returned,
            self.discarded,
            self.detached,
            self.idle,
            self.in_use,
            self.peak_in_use
        )?;
        if self.waits > 0 {
            write!(f, "; {} waits", self.waits)?;
        }
        Ok(())
    }
}
