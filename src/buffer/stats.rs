//! [`BufferStats`]: what a [`BufferPool`](crate::BufferPool) holds and has done.

use super::Classes;
use crate::sync::Ordering;

/// A snapshot of a [`BufferPool`](crate::BufferPool)'s counters, from
/// [`BufferPool::stats`](crate::BufferPool::stats).
///
/// Counters are cumulative since the pool was built; `in_use`, `idle` and `idle_bytes` are
/// levels. Every buffer is created once and ends once (discarded or detached) unless it is still
/// idle or in use, so at rest `created - discarded - detached == idle + in_use`. Snapshots taken
/// while other threads use the pool are exact once they stop.
///
/// ```
/// let pool = hotpool::BufferPool::new();
/// let mut grown = pool.get(64);
/// grown.extend_from_slice(&[1; 100]); // 64 -> 128 bytes: goes back to the 128-byte class
/// drop(grown);
/// drop(pool.get(2 << 20)); // above the largest class: allocated, then freed
/// let s = pool.stats();
/// assert_eq!((s.created, s.oversized, s.discarded, s.in_use), (2, 1, 1, 0));
/// assert_eq!(s.created - s.discarded - s.detached, (s.idle + s.in_use) as u64);
/// assert_eq!((s.classes[1].size, s.classes[1].idle), (128, 1));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BufferStats {
    /// Buffers allocated: new buffers of a class, and plain allocations above the largest class.
    pub created: u64,
    /// `get`s served by an idle buffer.
    pub reused: u64,
    /// Requests above the largest class, served by a plain allocation (counted in `created`).
    pub oversized: u64,
    /// Buffers freed by the pool: over a class's idle cap, grown past the largest class, above
    /// the largest class to begin with, or freed by a trim or at a thread's exit.
    pub discarded: u64,
    /// Buffers taken out of the pool for good with `detach`.
    pub detached: u64,
    /// Requests refused by [`try_get`](crate::BufferPool::try_get) (or made
    /// [`get`](crate::BufferPool::get) panic), with nothing allocated: above `max_request`, above
    /// `isize::MAX`, the allocator returned no memory, more than the whole in-flight budget, or
    /// (`try_get` only) the budget spent (see [`BufferError`](crate::BufferError)). Not counted
    /// in `created` or `oversized`; a `get_timeout` that times out counts in `waits` instead.
    pub refused: u64,
    /// Buffers handed out and not yet returned or detached.
    pub in_use: usize,
    /// Bytes the buffers in use are charged to the in-flight budget
    /// ([`max_live_bytes`](crate::buffer::BufferPoolBuilder::max_live_bytes)): their capacity
    /// when each was handed out. 0 without a budget.
    pub live_bytes: usize,
    /// The pool's `max_live_bytes`, if it has one.
    pub max_live_bytes: Option<usize>,
    /// Acquisitions that found the budget spent and waited (blocking, timed or async), ever.
    pub waits: u64,
    /// Idle buffers over all classes.
    pub idle: usize,
    /// Capacity of the idle buffers, in bytes.
    pub idle_bytes: usize,
    /// Per class, smallest first.
    pub classes: Vec<ClassStats>,
}

/// The counters of one size class, in [`BufferStats::classes`].
///
/// ```
/// let pool = hotpool::BufferPool::builder().max_size(4096).build()?;
/// let _held = pool.get(3000);
/// let class = &pool.stats().classes[6]; // 64, 128, ..., 4096
/// assert_eq!((class.size, class.created, class.in_use), (4096, 1, 1));
/// assert!(class.max_idle * class.size <= pool.max_idle_bytes());
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClassStats {
    /// Capacity of this class's buffers, in bytes.
    pub size: usize,
    /// Most idle buffers this class keeps with one thread (depot and that thread's cache); see
    /// [`BufferPool`](crate::BufferPool) for the bound with several threads.
    pub max_idle: usize,
    /// Buffers of this class allocated.
    pub created: u64,
    /// `get`s of this class served by an idle buffer.
    pub reused: u64,
    /// Buffers of this class in use (a buffer that grows in use still counts here until it is
    /// returned).
    pub in_use: usize,
    /// Idle buffers of this class.
    pub idle: usize,
    /// `idle * size`.
    pub idle_bytes: usize,
}

pub(super) fn collect(classes: &Classes) -> BufferStats {
    let load = |counter: &crate::sync::AtomicUsize| counter.load(Ordering::Relaxed);
    let oversized = load(&classes.oversized) as u64;
    let mut stats = BufferStats {
        created: oversized,
        oversized,
        discarded: load(&classes.dropped) as u64,
        detached: load(&classes.oversized_detached) as u64,
        refused: load(&classes.refused) as u64,
        in_use: load(&classes.oversized_in_use),
        live_bytes: classes.budget().map_or(0, |budget| budget.in_use()),
        max_live_bytes: classes.budget().map(|budget| budget.max()),
        waits: classes.budget().map_or(0, |budget| budget.waits()),
        ..BufferStats::default()
    };
    let mut class_detached = 0;
    for (class, pool) in classes.pools.iter().enumerate() {
        let s = pool.stats();
        let size = classes.sizes.size(class);
        stats.created += s.created;
        stats.reused += s.reused;
        stats.discarded += s.discarded;
        class_detached += s.detached;
        stats.in_use += s.in_use;
        stats.idle += s.idle;
        stats.idle_bytes += s.idle * size;
        stats.classes.push(ClassStats {
            size,
            max_idle: classes.max_idle[class],
            created: s.created,
            reused: s.reused,
            in_use: s.in_use,
            idle: s.idle,
            idle_bytes: s.idle * size,
        });
    }
    // Buffers that changed class count as detached by the class they left.
    stats.detached += class_detached.saturating_sub(load(&classes.moved) as u64);
    stats
}

impl std::fmt::Display for BufferStats {
    /// One line: what the pool did, what it holds now, and the classes in use or idle.
    ///
    /// ```
    /// let pool = hotpool::BufferPool::new();
    /// drop(pool.get(1000));
    /// let _held = pool.get(1000);
    /// assert_eq!(
    ///     pool.stats().to_string(),
    ///     "1 created, 1 reused, 0 oversized, 0 discarded, 0 detached; \
    ///      0 idle (0 B), 1 in use; classes: 1024 B: 1 in use"
    /// );
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} created, {} reused, {} oversized, {} discarded, {} detached; \
             {} idle ({} B), {} in use",
            self.created,
            self.reused,
            self.oversized,
            self.discarded,
            self.detached,
            self.idle,
            self.idle_bytes,
            self.in_use,
        )?;
        let mut busy = self
            .classes
            .iter()
            .filter(|c| c.idle + c.in_use > 0)
            .peekable();
        if busy.peek().is_some() {
            f.write_str("; classes:")?;
        }
        for (i, class) in busy.enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{} B: {} in use", class.size, class.in_use)?;
            if class.idle > 0 {
                write!(f, " + {} idle", class.idle)?;
            }
        }
        Ok(())
    }
}
