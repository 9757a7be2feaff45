//! [`BufferPool`]: byte buffers of any size from power-of-two size classes.
//!
//! Each class is a [`Pool`] of `Vec<u8>` of exactly that capacity, so the classes share the
//! pools' engine: lock-free thread caches in front of a shared depot, the exit flush, the
//! counters. The guards ([`Buffer`], [`OwnedBuffer`]) remember the class they came from and, when
//! they drop, hand the buffer to the class its capacity fits now: the same one unless it grew
//! (or shrank) while in use.

mod budget;
mod classes;
mod config;
mod guard;
mod stats;
mod waiting;

#[cfg(feature = "bytes")]
mod bytes;

use std::fmt;

pub use config::{
    BufferPoolBuilder, DEFAULT_MAX_IDLE_BYTES, DEFAULT_MAX_SIZE, DEFAULT_MIN_SIZE,
    DEFAULT_THREAD_CACHE, LARGEST_MAX_SIZE,
};
pub use guard::{Buffer, OwnedBuffer};
pub use stats::{BufferStats, ClassStats};
pub use waiting::{GetBufferFuture, GetOwnedBufferFuture};

use crate::sync::{Arc, AtomicUsize, Ordering};
use crate::{BufferError, Pool};
use budget::{Budget, Refusal};
use classes::SizeClasses;
use std::time::Instant;

/// A pooled buffer as the class pools hold it: boxed once, so the tiers move one pointer.
#[allow(clippy::box_collection)]
pub(crate) type Boxed = Box<Vec<u8>>;

/// A thread-safe pool of byte buffers (`Vec<u8>`) in power-of-two size classes.
///
/// [`get(n)`](BufferPool::get) hands out an empty buffer with capacity at least `n`: an idle one
/// of the smallest class that fits (the one this thread returned last, if any), or a new one of
/// exactly the class size. Requests above the largest class are plain allocations, freed when
/// their guard drops; [`try_get`](BufferPool::try_get) makes them fallible, and
/// [`max_request`](BufferPoolBuilder::max_request) caps them (for sizes read from the wire). A buffer that grew while in use goes back to the largest class its
/// capacity covers (shrunk to that class's size if its capacity is not a power of two), or is
/// freed if its capacity is above the largest class.
///
/// # Memory bound
/// Every idle buffer of class `c` has capacity exactly `size(c)`, so [`BufferStats::idle_bytes`]
/// is the idle memory, and it is bounded per class and overall: class `c` keeps at most
/// [`ClassStats::max_idle`] buffers in the depot and the cache of one thread together, and
/// `sum(max_idle(c) * size(c)) <= max_idle_bytes`. Each further thread that uses the pool may
/// cache up to `min(thread_cache, max_idle(c) / 2)` more buffers of class `c` (the thread
/// caches are what make a hit free of locks and shared writes); they move to the depot, within
/// its bound, when the thread exits. So with `T` threads, idle bytes never exceed
/// `max_idle_bytes + (T - 1) * sum(size(c) * min(thread_cache, max_idle(c) / 2))`. Not counted:
/// 24 bytes of bookkeeping per pooled buffer.
///
/// ```
/// use hotpool::BufferPool;
///
/// let pool = BufferPool::new();
/// let mut buf = pool.get(1500);
/// assert!(buf.is_empty() && buf.capacity() >= 1500);
/// buf.extend_from_slice(b"GET / HTTP/1.1\r\n");
/// let first = buf.as_ptr();
/// drop(buf); // cleared and kept in this thread's cache
/// let again = pool.get(1200); // the same class (2048 bytes): the same buffer
/// assert_eq!((again.as_ptr(), again.len()), (first, 0));
/// ```
///
/// Reading into a buffer (an empty one reads nothing: `read` needs length, not capacity):
///
/// ```
/// use std::io::Read;
///
/// let pool = hotpool::BufferPool::new();
/// let mut input: &[u8] = b"hello";
/// let mut buf = pool.get_zeroed(4096); // 4096 zero bytes, never old data
/// let n = input.read(&mut buf)?;
/// buf.truncate(n);
/// assert_eq!(&buf[..], b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct BufferPool {
    classes: Arc<Classes>,
}

/// The size classes and the counters of what they do not see.
pub(crate) struct Classes {
    /// One pool per class; class `c` holds buffers of capacity `sizes.size(c)`.
    pools: Box<[Pool<Vec<u8>>]>,
    /// Most idle buffers of each class with one thread (depot + one thread cache).
    max_idle: Box<[usize]>,
    sizes: SizeClasses,
    max_idle_bytes: usize,
    /// Requests above it are refused.
    max_request: usize,
    /// `min(max_request, max_size)`: requests up to it are served by a class, with one
    /// comparison; the others take the cold path.
    class_limit: usize,
    /// Requests refused (nothing allocated).
    refused: AtomicUsize,
    /// Requests above the largest class (plain allocations).
    oversized: AtomicUsize,
    /// Oversized buffers in use now.
    oversized_in_use: AtomicUsize,
    /// Buffers whose capacity changed in use: counted `detached` by their first class (and
    /// `put` by the class they moved to, if any), so not user detaches.
    moved: AtomicUsize,
    /// Returned buffers freed because no class fits them (or the fitting class was full).
    dropped: AtomicUsize,
    /// Oversized buffers detached by the user.
    oversized_detached: AtomicUsize,
    /// The in-flight byte budget (`max_live_bytes`), if any (`budget.rs`).
    budget: Option<Budget>,
}

/// What an acquisition does when the in-flight budget is spent.
#[derive(Clone, Copy)]
pub(crate) enum AtBudget {
    /// Return [`BufferError::AtBudget`] (`try_get`).
    Refuse,
    /// Block the thread until the bytes are free, or until the deadline (`get`, `get_timeout`).
    Block(Option<Instant>),
}

impl Classes {
    fn new(
        pools: Box<[Pool<Vec<u8>>]>,
        max_idle: Box<[usize]>,
        sizes: SizeClasses,
        max_idle_bytes: usize,
        max_request: usize,
        max_live_bytes: Option<usize>,
    ) -> Self {
        debug_assert_eq!(pools.len(), sizes.len());
        Self {
            pools,
            max_idle,
            sizes,
            max_idle_bytes,
            max_request,
            class_limit: max_request.min(sizes.max_size()),
            refused: AtomicUsize::new(0),
            oversized: AtomicUsize::new(0),
            oversized_in_use: AtomicUsize::new(0),
            moved: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            oversized_detached: AtomicUsize::new(0),
            budget: max_live_bytes.map(Budget::new),
        }
    }

    /// An empty buffer with capacity >= `n`, its class (as [`Classes::take`]) and the bytes
    /// charged to the budget for it (0 without one); or why not, with nothing allocated.
    #[inline(always)]
    pub(crate) fn acquire(
        &self,
        n: usize,
        at_budget: AtBudget,
    ) -> Result<(Boxed, usize, usize), BufferError> {
        match &self.budget {
            None => self.take(n).map(|(buf, class)| (buf, class, 0)),
            Some(budget) => self.acquire_charged(budget, n, at_budget),
        }
    }

    /// [`Classes::acquire`] within the budget: the charge first (waiting for it as `at_budget`
    /// says), then the buffer.
    #[inline(never)]
    fn acquire_charged(
        &self,
        budget: &Budget,
        n: usize,
        at_budget: AtBudget,
    ) -> Result<(Boxed, usize, usize), BufferError> {
        let charge = self.charge(budget, n)?;
        if budget.try_take(charge).is_err() {
            match at_budget {
                AtBudget::Refuse => {
                    return Err(self.refuse(BufferError::AtBudget {
                        requested: n,
                        charge,
                        max_live_bytes: budget.max(),
                    }))
                }
                AtBudget::Block(deadline) => {
                    let start = Instant::now();
                    budget
                        .take_blocking(charge, deadline)
                        .map_err(|_| BufferError::Timeout {
                            requested: n,
                            waited: start.elapsed(),
                        })?;
                }
            }
        }
        self.take_charged(budget, n, charge)
    }

    /// The bytes a request for `n` takes from `budget`: the capacity of the buffer it gets (its
    /// class size, or `n` above the largest class). Refuses at once what no buffer is made for
    /// and what is more than the whole budget, so that nothing waits for it.
    pub(crate) fn charge(&self, budget: &Budget, n: usize) -> Result<usize, BufferError> {
        let charge = match self.sizes.size_for(n) {
            Some(size) if n <= self.class_limit => size,
            _ => {
                self.check_oversized(n)?;
                n
            }
        };
        match budget.try_fits(charge) {
            Ok(()) => Ok(charge),
            Err(Refusal::OverBudget) => Err(self.refuse(BufferError::OverBudget {
                requested: n,
                charge,
                max_live_bytes: budget.max(),
            })),
            Err(Refusal::AtBudget) => unreachable!("`try_fits` only checks the whole budget"),
        }
    }

    /// With `charge` bytes of `budget` taken: the buffer for `n`, or the bytes given back.
    pub(crate) fn take_charged(
        &self,
        budget: &Budget,
        n: usize,
        charge: usize,
    ) -> Result<(Boxed, usize, usize), BufferError> {
        match self.take(n) {
            Ok((buf, class)) => Ok((buf, class, charge)),
            Err(err) => {
                budget.release(charge);
                Err(err)
            }
        }
    }

    /// Gives a guard's `charged` bytes back to the budget (nothing without one).
    #[inline(always)]
    pub(crate) fn release(&self, charged: usize) {
        if charged > 0 {
            if let Some(budget) = &self.budget {
                budget.release(charged);
            }
        }
    }

    /// The budget, if the pool has one.
    pub(crate) fn budget(&self) -> Option<&Budget> {
        self.budget.as_ref()
    }

    /// Counts a refused request and returns its error.
    fn refuse(&self, err: BufferError) -> BufferError {
        self.refused.fetch_add(1, Ordering::Relaxed);
        err
    }

    /// An empty buffer with capacity >= `n`, and the class it belongs to (`sizes.len()` for a
    /// plain allocation); or why not, with nothing allocated.
    #[inline(always)]
    pub(crate) fn take(&self, n: usize) -> Result<(Boxed, usize), BufferError> {
        if n <= self.class_limit {
            let class = self.sizes.class_for(n);
            if let Some(pool) = self.pools.get(class) {
                return Ok((pool.take_boxed(), class));
            }
        }
        self.take_oversized(n)
    }

    /// A request above `max_request` or above the largest class: refused, or a plain allocation
    /// that fails instead of aborting.
    #[cold]
    #[inline(never)]
    fn take_oversized(&self, n: usize) -> Result<(Boxed, usize), BufferError> {
        self.check_oversized(n)?;
        let mut vec = Vec::new();
        match vec.try_reserve_exact(n) {
            Ok(()) => {
                self.oversized.fetch_add(1, Ordering::Relaxed);
                self.oversized_in_use.fetch_add(1, Ordering::Relaxed);
                Ok((Box::new(vec), self.sizes.len()))
            }
            Err(_) => Err(self.refuse(BufferError::AllocFailed { requested: n })),
        }
    }

    /// Refuses a request no class serves that no buffer is made for: above `max_request`, or
    /// above `isize::MAX` (`try_reserve_exact` would say so too, but its error does not tell
    /// which, as `kind()` is unstable; no allocator is asked).
    fn check_oversized(&self, n: usize) -> Result<(), BufferError> {
        if n > self.max_request {
            return Err(self.refuse(BufferError::AboveMaxRequest {
                requested: n,
                max_request: self.max_request,
            }));
        }
        if n > isize::MAX as usize {
            return Err(self.refuse(BufferError::CapacityOverflow { requested: n }));
        }
        Ok(())
    }

    /// A guard of class `class` drops `buf`.
    #[inline(always)]
    pub(crate) fn give_back(&self, buf: Boxed, class: usize) {
        match self.pools.get(class) {
            Some(pool) if buf.capacity() == self.sizes.size(class) => pool.give_back_boxed(buf),
            _ => self.give_back_moved(buf, class),
        }
    }

    /// A buffer whose capacity no longer matches its class (or an oversized one): its class
    /// lets go of it and the class its capacity covers now takes it, or it is freed.
    #[cold]
    #[inline(never)]
    fn give_back_moved(&self, mut buf: Boxed, class: usize) {
        self.note_left(class);
        let cap = buf.capacity();
        if let Some(fits) = self.sizes.class_at_most(cap) {
            let size = self.sizes.size(fits);
            if cap > size {
                buf.clear();
                buf.shrink_to(size);
            }
            if buf.capacity() == size {
                match self.pools[fits].put_boxed(buf) {
                    Ok(()) => return,
                    Err(full) => buf = full,
                }
            }
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        drop(buf);
    }

    /// A guard of class `class` ends without giving its buffer back to that class.
    fn note_left(&self, class: usize) {
        match self.pools.get(class) {
            Some(pool) => {
                pool.note_detached_boxed();
                self.moved.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.oversized_in_use.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// The user detaches a buffer of class `class`.
    pub(crate) fn note_detached(&self, class: usize) {
        match self.pools.get(class) {
            Some(pool) => pool.note_detached_boxed(),
            None => {
                self.oversized_in_use.fetch_sub(1, Ordering::Relaxed);
                self.oversized_detached.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl BufferPool {
    /// A pool with the default settings of [`BufferPool::builder`]: classes from
    /// [`DEFAULT_MIN_SIZE`] to [`DEFAULT_MAX_SIZE`], at most [`DEFAULT_MAX_IDLE_BYTES`] idle.
    ///
    /// ```
    /// let pool = hotpool::BufferPool::new();
    /// assert_eq!(pool.get(3000).capacity(), 4096);
    /// ```
    pub fn new() -> Self {
        Self::builder()
            .build()
            .expect("the default configuration is valid")
    }

    /// Starts configuring a pool.
    ///
    /// ```
    /// let pool = hotpool::BufferPool::builder().max_size(64 * 1024).max_idle_bytes(1 << 20).build()?;
    /// assert_eq!(pool.max_idle_bytes(), 1 << 20);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn builder() -> BufferPoolBuilder {
        BufferPoolBuilder::new()
    }

    fn from_classes(classes: Classes) -> Self {
        Self {
            classes: Arc::new(classes),
        }
    }

    /// An empty buffer with capacity at least `min_capacity`, given back to the pool when the
    /// guard drops.
    ///
    /// For a size that comes from outside the program (a length field on the wire), use
    /// [`try_get`](BufferPool::try_get): it returns the same refusals as errors.
    ///
    /// With an in-flight budget ([`max_live_bytes`](BufferPoolBuilder::max_live_bytes)), it
    /// blocks while the budget is spent (see [`get_timeout`](BufferPool::get_timeout) and
    /// [`get_async`](BufferPool::get_async) for the other ways to wait).
    ///
    /// # Panics
    /// With the [`BufferError`] message [`try_get`](BufferPool::try_get) would return, naming
    /// `min_capacity`, exactly when it would return one other than `AtBudget` (where `get`
    /// waits), and allocating nothing:
    /// - `min_capacity` is above [`max_request`](BufferPoolBuilder::max_request) (the message
    ///   names both numbers);
    /// - `min_capacity` is above `isize::MAX`;
    /// - its charge is more than the whole in-flight budget (`OverBudget`: it could never be
    ///   served, so it does not wait);
    /// - `min_capacity` is above the largest class (`max_size`) and the global allocator returns
    ///   no memory for it.
    ///
    /// It never aborts the process for a request above `max_size`. A request up to `max_size`
    /// that needs a new buffer allocates at most `max_size` bytes with `Vec::with_capacity`, so
    /// if that fails the global allocator's out-of-memory handling applies (by default: abort),
    /// as for any small allocation.
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let pool = hotpool::BufferPool::new();
    /// let mut buf = pool.get(100);
    /// assert!(buf.capacity() >= 100);
    /// write!(buf, "{} + {} = {}", 1, 2, 3)?;
    /// assert_eq!(&buf[..], b"1 + 2 = 3");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// ```
    /// use std::panic::{catch_unwind, AssertUnwindSafe};
    ///
    /// let pool = hotpool::BufferPool::builder().max_request(1 << 20).build()?;
    /// let refused = catch_unwind(AssertUnwindSafe(|| pool.get((1 << 20) + 1))).unwrap_err();
    /// assert_eq!(
    ///     refused.downcast_ref::<String>().unwrap(),
    ///     "buffer request of 1048577 bytes refused: above max_request = 1048576"
    /// );
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    #[inline]
    #[track_caller]
    pub fn get(&self, min_capacity: usize) -> Buffer<'_> {
        match self.classes.acquire(min_capacity, AtBudget::Block(None)) {
            Ok((buf, class, charged)) => Buffer::new(buf, &self.classes, class, charged),
            Err(err) => refused(err),
        }
    }

    /// Like [`get`](BufferPool::get), but the guard keeps the pool alive instead of borrowing it:
    /// it is `'static` and `Send`, for queues, other threads and `.await` points.
    ///
    /// # Panics
    /// Exactly as [`get`](BufferPool::get) does.
    ///
    /// ```
    /// let pool = hotpool::BufferPool::new();
    /// let mut buf = pool.get_owned(4096);
    /// drop(pool); // the guard keeps the pool alive
    /// let n = std::thread::spawn(move || {
    ///     buf.extend_from_slice(b"filled on another thread");
    ///     buf.len()
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(n, 24);
    /// ```
    #[inline]
    #[track_caller]
    pub fn get_owned(&self, min_capacity: usize) -> OwnedBuffer {
        match self.classes.acquire(min_capacity, AtBudget::Block(None)) {
            Ok((buf, class, charged)) => {
                OwnedBuffer::new(buf, Arc::clone(&self.classes), class, charged)
            }
            Err(err) => refused(err),
        }
    }

    /// Like [`get`](BufferPool::get), but a request it refuses is an error, never a panic or an
    /// abort, whatever `min_capacity` is: for sizes read from the wire.
    ///
    /// # Errors
    /// A [`BufferError`] naming `min_capacity` (nothing allocated, the pool unchanged but for
    /// [`BufferStats::refused`]):
    /// - [`AboveMaxRequest`](BufferError::AboveMaxRequest): above
    ///   [`max_request`](BufferPoolBuilder::max_request);
    /// - [`CapacityOverflow`](BufferError::CapacityOverflow): above `isize::MAX`;
    /// - [`AllocFailed`](BufferError::AllocFailed): above the largest class (`max_size`), and
    ///   the global allocator returned no memory (`Vec::try_reserve_exact`);
    /// - [`OverBudget`](BufferError::OverBudget): its charge is more than the whole in-flight
    ///   budget ([`max_live_bytes`](BufferPoolBuilder::max_live_bytes));
    /// - [`AtBudget`](BufferError::AtBudget): the budget is spent now, or others wait for it
    ///   first (`get` would wait).
    ///
    /// Requests up to `max_size` allocate at most `max_size` bytes (see [`get`](BufferPool::get)).
    ///
    /// ```
    /// use hotpool::{BufferError, BufferPool};
    ///
    /// let pool = BufferPool::builder().max_request(64 << 20).build()?;
    /// let frame_len = u64::MAX; // a corrupt length field
    /// let len = usize::try_from(frame_len).unwrap_or(usize::MAX);
    /// match pool.try_get(len) {
    ///     Ok(buf) => assert!(buf.capacity() >= len),
    ///     Err(err) => {
    ///         assert_eq!(err.requested(), usize::MAX);
    ///         assert!(matches!(err, BufferError::AboveMaxRequest { .. }));
    ///     }
    /// }
    /// assert_eq!(pool.try_get(1500)?.capacity(), 2048);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn try_get(&self, min_capacity: usize) -> Result<Buffer<'_>, BufferError> {
        let (buf, class, charged) = self.classes.acquire(min_capacity, AtBudget::Refuse)?;
        Ok(Buffer::new(buf, &self.classes, class, charged))
    }

    /// Like [`try_get`](BufferPool::try_get), with an [`OwnedBuffer`] (see
    /// [`get_owned`](BufferPool::get_owned)).
    ///
    /// # Errors
    /// Exactly as [`try_get`](BufferPool::try_get).
    ///
    /// ```
    /// let pool = hotpool::BufferPool::builder().max_request(4096).build()?;
    /// let buf = pool.try_get_owned(4096)?;
    /// assert_eq!(buf.capacity(), 4096);
    /// let err = pool.try_get_owned(4097).unwrap_err();
    /// assert_eq!(err.to_string(), "buffer request of 4097 bytes refused: above max_request = 4096");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn try_get_owned(&self, min_capacity: usize) -> Result<OwnedBuffer, BufferError> {
        let (buf, class, charged) = self.classes.acquire(min_capacity, AtBudget::Refuse)?;
        Ok(OwnedBuffer::new(
            buf,
            Arc::clone(&self.classes),
            class,
            charged,
        ))
    }

    /// A buffer of length `len`, every byte zero (a reused buffer's old contents are
    /// overwritten), ready to be passed to `Read::read`.
    ///
    /// # Panics
    /// Exactly as [`get`](BufferPool::get) does.
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let pool = hotpool::BufferPool::new();
    /// let mut old = pool.get(16);
    /// old.extend_from_slice(b"secret");
    /// drop(old);
    /// let mut buf = pool.get_zeroed(16); // the same memory, zeroed
    /// assert_eq!(&buf[..], &[0; 16]);
    /// let n = (&b"abc"[..]).read(&mut buf)?;
    /// assert_eq!(&buf[..n], b"abc");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn get_zeroed(&self, len: usize) -> Buffer<'_> {
        let mut buf = self.get(len);
        buf.resize(len, 0);
        buf
    }

    /// The capacity a `get(min_capacity)` buffer has: its class size, or `None` above the
    /// largest class.
    ///
    /// ```
    /// let pool = hotpool::BufferPool::new();
    /// assert_eq!(pool.class_size(1500), Some(2048));
    /// assert_eq!(pool.class_size(0), Some(64));
    /// assert_eq!(pool.class_size(2 << 20), None);
    /// ```
    pub fn class_size(&self, min_capacity: usize) -> Option<usize> {
        self.classes.sizes.size_for(min_capacity)
    }

    /// The cap on idle bytes this pool was built with (see the type's memory bound).
    ///
    /// ```
    /// let pool = hotpool::BufferPool::builder().max_idle_bytes(8 << 20).build()?;
    /// assert_eq!(pool.max_idle_bytes(), 8 << 20);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn max_idle_bytes(&self) -> usize {
        self.classes.max_idle_bytes
    }

    /// The cap on requests this pool was built with
    /// ([`max_request`](BufferPoolBuilder::max_request); `usize::MAX` if none was given).
    ///
    /// ```
    /// let pool = hotpool::BufferPool::builder().max_request(1 << 24).build()?;
    /// assert_eq!(pool.max_request(), 1 << 24);
    /// assert_eq!(hotpool::BufferPool::new().max_request(), usize::MAX);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn max_request(&self) -> usize {
        self.classes.max_request
    }

    /// Frees every idle buffer in the shared depot and in the calling thread's caches; returns
    /// how many. Other threads' caches are left to them (see [`Pool::trim`]).
    ///
    /// ```
    /// let pool = hotpool::BufferPool::new();
    /// let held: Vec<_> = [100, 5000, 70_000].iter().map(|&n| pool.get(n)).collect();
    /// drop(held);
    /// assert_eq!(pool.trim(), 3);
    /// assert_eq!(pool.stats().idle_bytes, 0);
    /// ```
    pub fn trim(&self) -> usize {
        self.classes.pools.iter().map(Pool::trim).sum()
    }

    /// Frees the depot's buffers that stayed idle since the previous call, in every class, and
    /// returns how many (see [`Pool::trim_unused`]). Call it periodically to shrink back after a
    /// burst.
    ///
    /// ```
    /// let pool = hotpool::BufferPool::builder().thread_cache(0).build()?;
    /// let burst: Vec<_> = (0..10).map(|_| pool.get(4096)).collect();
    /// drop(burst);
    /// pool.trim_unused(); // starts a period
    /// drop(pool.get(4096)); // one buffer still used
    /// assert_eq!(pool.trim_unused(), 9);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn trim_unused(&self) -> usize {
        self.classes.pools.iter().map(Pool::trim_unused).sum()
    }

    /// A snapshot of the counters, overall and per class (see [`BufferStats`]).
    ///
    /// ```
    /// let pool = hotpool::BufferPool::new();
    /// let held = pool.get(1500);
    /// drop(pool.get(1500));
    /// let stats = pool.stats();
    /// assert_eq!((stats.created, stats.in_use, stats.idle_bytes), (2, 1, 2048));
    /// let class = stats.classes.iter().find(|c| c.size == 2048).unwrap();
    /// assert_eq!((class.in_use, class.idle), (1, 1));
    /// # drop(held);
    /// ```
    pub fn stats(&self) -> BufferStats {
        stats::collect(&self.classes)
    }
}

impl Clone for BufferPool {
    /// Another handle to the same pool: classes, buffers and statistics are shared.
    ///
    /// ```
    /// let pool = hotpool::BufferPool::new();
    /// let handle = pool.clone();
    /// std::thread::spawn(move || drop(handle.get(100))).join().unwrap();
    /// assert_eq!(pool.stats().created, 1);
    /// ```
    fn clone(&self) -> Self {
        Self {
            classes: Arc::clone(&self.classes),
        }
    }
}

impl Default for BufferPool {
    /// [`BufferPool::new`].
    ///
    /// ```
    /// let pool = hotpool::BufferPool::default();
    /// assert_eq!(pool.class_size(1), Some(hotpool::buffer::DEFAULT_MIN_SIZE));
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool")
            .field("min_size", &self.classes.sizes.min_size())
            .field("max_size", &self.classes.sizes.max_size())
            .field("max_idle_bytes", &self.classes.max_idle_bytes)
            .field("max_request", &self.classes.max_request)
            .finish_non_exhaustive()
    }
}

/// [`BufferPool::get`]'s panic: cold, out of line, with the caller's location.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn refused(err: BufferError) -> ! {
    panic!("{err}")
}
