//! [`Pool`]: a pool of reusable objects shared by threads.

mod acquire;
mod cache;
mod counts;
mod depot;
mod guard;
mod inner;
mod lanes;
mod lend;
pub(crate) mod limiter;
mod magazines;
mod owned;
pub(crate) mod places;
mod refs;
mod report;
mod slots;
mod spare_nodes;
mod tally;
mod thread;
mod tier;
pub(crate) mod waiter;
mod waiting;

use std::fmt;

pub use guard::{OwnedPooled, Pooled};
pub use waiting::{GetFuture, GetOwnedFuture};

use crate::builder::PoolBuilder;
use crate::recycle::{Recycle, Recycler, ResetRecycler};
use crate::stats::PoolStats;
use crate::sync::Arc;
use inner::Inner;
use limiter::Limiter;
use tier::Source;

/// A pool of reusable `T` shared by threads.
///
/// [`get`](Pool::get) hands out an idle object, or a new one from the factory; the guard gives
/// it back when it drops, on whichever thread that happens, even during a panic, after the
/// recycle policy reset it. Three tiers serve a `get`:
///
/// 1. the calling thread's cache: no lock and no read-modify-write atomic;
/// 2. the shared depot, which trades half a cache of objects per lock acquisition;
/// 3. the factory.
///
/// Objects are boxed once and never move: the tiers pass pointers, so a large `T` costs no more
/// than a small one.
///
/// # Memory bounds
/// Idle objects never exceed `max_idle` (the depot) plus `thread_cache` per live thread that
/// used the pool. Objects that grew past the recycle policy's cap are dropped. When a thread
/// exits, its cache moves to the depot (what does not fit is dropped); [`trim`](Pool::trim)
/// frees idle objects now and [`trim_unused`](Pool::trim_unused) frees what went unused since its
/// last call. Everything left is dropped with the pool.
///
/// Besides the objects, the depot keeps up to 64 empty magazine buffers (each room for half a
/// thread cache of pointers, 128 bytes at the default `thread_cache` of 32) so that trading
/// batches allocates nothing in steady state; `trim` frees them too.
///
/// With [`max_live`](crate::Builder::max_live), at most that many objects exist at once (in
/// use and idle, thread caches included), and acquisitions at the cap wait: blocking
/// ([`get`](Pool::get)), with a deadline ([`get_timeout`](Pool::get_timeout)) or as a future
/// ([`get_async`](Pool::get_async)).
///
/// An [`OwnedPooled`] keeps its pool alive. One stored inside an idle object of its own pool
/// therefore keeps the pool alive for good, a cycle as with `Rc`: detach it first.
///
/// ```
/// use hotpool::Pool;
/// use std::sync::Arc;
///
/// let pool = Arc::new(Pool::new(|| Vec::<u8>::with_capacity(4096)));
/// let workers: Vec<_> = (0..4)
///     .map(|_| {
///         let pool = Arc::clone(&pool);
///         std::thread::spawn(move || {
///             for i in 0..100u8 {
///                 let mut buf = pool.get();
///                 buf.push(i);
///                 assert_eq!(buf.len(), 1); // always starts empty
///             }
///         })
///     })
///     .collect();
/// for w in workers {
///     w.join().unwrap();
/// }
/// let stats = pool.stats();
/// assert_eq!(stats.in_use, 0);
/// assert!(stats.created <= 4); // one buffer per thread at most
/// ```
///
/// A global pool, created on first use:
///
/// ```
/// use hotpool::Pool;
/// use once_cell::sync::Lazy;
///
/// static BUFFERS: Lazy<Pool<Vec<u8>>> = Lazy::new(|| Pool::new(|| Vec::with_capacity(1024)));
///
/// fn render(n: u32) -> usize {
///     let mut buf = BUFFERS.get();
///     buf.extend_from_slice(n.to_string().as_bytes());
///     buf.len()
/// }
/// assert_eq!(render(1234), 4);
/// assert_eq!(BUFFERS.stats().created, 1);
/// ```
pub struct Pool<T, R = ResetRecycler> {
    inner: Arc<Inner<T, R>>,
}

impl<T: Recycle + Send + 'static> Pool<T> {
    /// A pool that makes objects with `factory` and resets returned ones with
    /// [`Recycle::reset`], with the default settings of [`Pool::builder`].
    ///
    /// ```
    /// let pool = hotpool::Pool::new(Vec::<u8>::new);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| pool.get().push(1)); // a `&Pool` is enough to share it
    ///     s.spawn(|| pool.get().push(2));
    /// });
    /// let stats = pool.stats();
    /// assert_eq!((stats.created + stats.reused, stats.in_use), (2, 0));
    /// ```
    pub fn new(factory: impl Fn() -> T + Send + Sync + 'static) -> Self {
        Self::builder(factory)
            .build()
            .expect("the default configuration is valid")
    }
}

impl<T> Pool<T> {
    /// Starts configuring a pool that makes objects with `factory`.
    ///
    /// Types that do not implement [`Recycle`] give their policy with
    /// [`recycle_with`](crate::Builder::recycle_with) (a boxed closure) or
    /// [`recycler`](crate::Builder::recycler) (a [`Recycler`] type of your own, statically
    /// dispatched).
    ///
    /// ```
    /// struct Parser { buf: Vec<u8>, uses: u32 }
    ///
    /// let pool = hotpool::Pool::builder(|| Parser { buf: Vec::new(), uses: 0 })
    ///     .recycle_with(|p: &mut Parser| { p.buf.clear(); p.uses += 1; p.uses < 3 })
    ///     .build()?;
    /// for _ in 0..3 {
    ///     drop(pool.get());
    /// }
    /// assert_eq!(pool.stats().discarded, 1); // retired after its third use
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn builder<F: Fn() -> T>(factory: F) -> PoolBuilder<T, F> {
        PoolBuilder::new(factory)
    }
}

impl<T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> Pool<T, R> {
    /// The pool `builder` describes, prefilled and registered; `builder` was validated (see
    /// [`PoolBuilder::build`](crate::builder::PoolBuilder::build)).
    pub(crate) fn from_builder<F>(builder: PoolBuilder<T, F, R>) -> Self
    where
        F: Fn() -> T + Send + Sync + 'static,
    {
        let inner = Arc::new_cyclic(|me| {
            Inner::new(
                me.clone(),
                Box::new(builder.factory),
                builder.recycler,
                builder.max_idle,
                builder.thread_cache,
                builder.max_live.map(|max_live| {
                    let fair_after = builder
                        .fair_after
                        .unwrap_or(crate::builder::DEFAULT_FAIR_AFTER);
                    Limiter::new(max_live, fair_after)
                }),
            )
        });
        inner.prefill(builder.prefill);
        // After the prefill, so the report's hit rate does not count it as missed gets.
        crate::report::register(
            &inner,
            std::any::type_name::<T>(),
            builder.report,
            builder.prefill,
        );
        Pool { inner }
    }
}

impl<T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> Pool<T, R> {
    /// Hands out an idle object, or a new one from the factory if none is idle in this thread's
    /// cache or the depot (objects idle in other threads' caches belong to those threads: they
    /// are reached only when those threads trade with the depot or exit, and, in a bounded pool
    /// at its cap, by the first waiter).
    ///
    /// In a pool with [`max_live`](crate::Builder::max_live), at the cap it blocks until an
    /// object comes back or a place frees (see [`get_timeout`](Pool::get_timeout) and
    /// [`get_async`](Pool::get_async) for waits that do not block forever or at all). A thread
    /// that holds every object and calls `get` again waits forever, as with a semaphore.
    ///
    /// A panic in the factory propagates and leaves the pool as it was.
    ///
    /// ```
    /// let pool = hotpool::Pool::new(String::new);
    /// let mut s = pool.get();
    /// s.push_str("request 1");
    /// drop(s); // reset, and kept in this thread's cache
    /// assert!(pool.get().is_empty());
    /// assert_eq!((pool.stats().created, pool.stats().reused), (1, 1));
    /// ```
    #[inline]
    pub fn get(&self) -> Pooled<'_, T, R> {
        Pooled::new(&self.inner, self.acquire())
    }

    /// Hands out an idle object; `None` if none is idle in this thread's cache or the depot.
    /// Never runs the factory, and never waits.
    ///
    /// ```
    /// let pool = hotpool::Pool::new(String::new);
    /// assert!(pool.try_get().is_none()); // nothing idle yet
    /// drop(pool.get());
    /// assert!(pool.try_get().is_some());
    /// assert_eq!(pool.stats().created, 1);
    /// ```
    #[inline]
    pub fn try_get(&self) -> Option<Pooled<'_, T, R>> {
        self.try_acquire().map(|obj| Pooled::new(&self.inner, obj))
    }

    /// Like [`get`](Pool::get), but the guard keeps the pool alive instead of borrowing it: it is
    /// `'static` and `Send` (when `T` is), so it can move to another thread or live across an
    /// `.await`. Works on a plain `Pool` and, through auto-deref, on an `Arc<Pool>`.
    ///
    /// ```
    /// use hotpool::{OwnedPooled, Pool};
    ///
    /// struct Job { input: OwnedPooled<Vec<u8>> } // no lifetime: a job can go in any queue
    ///
    /// let pool = Pool::new(Vec::<u8>::new);
    /// let jobs: Vec<Job> = (0..3).map(|_| Job { input: pool.get_owned() }).collect();
    /// drop(pool); // the guards keep the pool alive
    /// assert!(jobs.iter().all(|job| job.input.is_empty()));
    /// ```
    #[inline]
    pub fn get_owned(&self) -> OwnedPooled<T, R> {
        let obj = self.acquire();
        OwnedPooled::new(self.inner.new_owned_ref(&self.inner), obj)
    }

    /// Like [`try_get`](Pool::try_get), with an owned guard.
    ///
    /// ```
    /// use hotpool::{OwnedPooled, Pool};
    ///
    /// let pool = Pool::builder(String::new).prefill(2).build()?;
    /// let spare: Vec<OwnedPooled<String>> = std::iter::from_fn(|| pool.try_get_owned()).collect();
    /// assert_eq!(spare.len(), 2); // exactly the idle ones: the factory never ran
    /// assert_eq!(pool.stats().created, 2);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    #[inline]
    pub fn try_get_owned(&self) -> Option<OwnedPooled<T, R>> {
        self.try_acquire()
            .map(|obj| OwnedPooled::new(self.inner.new_owned_ref(&self.inner), obj))
    }

    /// Wraps `value` into a guard of this pool, the inverse of [`Pooled::detach`]: the pool
    /// adopts it as if it had handed it out, so it is recycled and kept when the guard drops.
    /// The object is not reset on the way in. Counted as [`LocalPool::attach`](crate::LocalPool::attach)
    /// counts it: a `put` that was kept (`returned`) and a `get` it served (`reused`); never as
    /// `created`, as the factory did not make it.
    ///
    /// ```
    /// use hotpool::{Pool, Pooled};
    ///
    /// let pool = Pool::new(String::new);
    /// let mine = String::with_capacity(64);
    /// let guard = pool.attach(mine);
    /// assert_eq!(pool.stats().in_use, 1);
    /// drop(guard); // reset and kept, as if `get` had handed it out
    /// let again = pool.get();
    /// assert!(again.capacity() >= 64);
    /// let stats = pool.stats();
    /// assert_eq!((stats.created, stats.reused, stats.returned, stats.in_use), (0, 2, 2, 1));
    /// let back: String = Pooled::detach(again); // and out again
    /// # drop(back);
    /// ```
    ///
    /// In a pool with [`max_live`](crate::Builder::max_live) the adopted object takes a place:
    /// at the cap, `attach` waits as [`get`](Pool::get) does, and if an object comes back
    /// before a place frees, that object is dropped (counted as discarded) to make room.
    pub fn attach(&self, value: T) -> Pooled<'_, T, R> {
        let obj = Box::new(value);
        self.inner.take_place_waiting();
        self.inner.note_attached();
        Pooled::new(&self.inner, obj)
    }

    /// Hands `value` to the pool: it is recycled and kept idle for a later `get`.
    ///
    /// # Errors
    /// Gives `value` back (already reset) if the recycle policy refuses it or there is no room
    /// (this thread's cache and the depot are full), and as it was if the pool is at its
    /// [`max_live`](crate::Builder::max_live) cap: nothing handed to the pool is dropped behind
    /// the caller's back.
    ///
    /// ```
    /// let pool = hotpool::Pool::builder(String::new).max_idle(1).thread_cache(0).build()?;
    /// assert_eq!(pool.put("first".to_string()), Ok(()));
    /// assert_eq!(pool.put("second".to_string()), Err(String::new())); // full: handed back, reset
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn put(&self, value: T) -> Result<(), T> {
        if !self.inner.take_place_now() {
            return Err(value);
        }
        self.inner
            .recycle_and_keep(Box::new(value), Source::Put)
            .map_err(|boxed| {
                self.inner.free_places(1);
                *boxed
            })
    }

    /// Hands every value of `values` to the pool, as [`put`](Pool::put) does one by one, and
    /// returns the ones it did not keep (already reset), in order: nothing handed over is
    /// dropped behind the caller's back. Returning no leftovers allocates nothing.
    ///
    /// ```
    /// let pool = hotpool::Pool::builder(String::new).max_idle(2).thread_cache(0).build()?;
    /// let leftovers = pool.put_all(["a", "b", "c"].map(String::from));
    /// assert_eq!(leftovers, [String::new()]); // the third found the pool full
    /// assert_eq!(pool.stats().idle, 2);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn put_all<I: IntoIterator<Item = T>>(&self, values: I) -> Vec<T> {
        crate::guard::put_each(values, |value| self.put(value))
    }

    /// Drops every idle object in the shared depot and in the calling thread's cache now;
    /// returns how many were dropped. Other threads' caches (at most `thread_cache` each) are
    /// left to them: they drain when those threads exit.
    ///
    /// ```
    /// let pool = hotpool::Pool::builder(String::new).prefill(10).build()?;
    /// drop(pool.get()); // this thread's cache now holds objects too
    /// assert_eq!(pool.trim(), 10);
    /// assert_eq!(pool.stats().idle, 0);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn trim(&self) -> usize {
        self.inner.trim()
    }

    /// Drops the objects that stayed idle in the shared depot since the previous call, and
    /// returns how many. Objects taken out and put back in between count as used.
    ///
    /// Call it periodically (say, once a second): after a burst the pool shrinks back to what is
    /// really used, while a steadily busy pool loses nothing. The first call only starts the
    /// first period.
    ///
    /// ```
    /// let pool = hotpool::Pool::builder(Vec::<u8>::new).thread_cache(0).prefill(100).build()?;
    /// pool.trim_unused(); // starts a period
    /// let in_use: Vec<_> = (0..10).map(|_| pool.get()).collect(); // 10 used...
    /// drop(in_use); // ...and returned
    /// assert_eq!(pool.trim_unused(), 90); // the 90 nobody touched
    /// assert_eq!(pool.stats().idle, 10);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn trim_unused(&self) -> usize {
        self.inner.trim_unused()
    }

    /// A snapshot of the pool's counters, summed over every thread. Reading them takes the depot
    /// lock briefly and never slows down other threads' hits.
    ///
    /// ```
    /// let pool = hotpool::Pool::new(String::new);
    /// let _held = pool.get();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| drop(pool.get())); // counted by the other thread, summed here
    /// });
    /// let stats = pool.stats();
    /// assert_eq!((stats.created, stats.in_use), (2, 1));
    /// ```
    pub fn stats(&self) -> PoolStats {
        self.inner.stats()
    }

    /// An idle object: the hit path inline, the rest out of line.
    #[inline(always)]
    fn try_acquire(&self) -> Option<Box<T>> {
        match self.inner.take_cached() {
            Some(obj) => Some(obj),
            None => self.inner.take_slow(),
        }
    }

    /// An idle object or a new one (waiting at a bounded pool's cap): the hit path inline, so
    /// that `get` compiles to a few instructions in the caller, and the rest in one call.
    #[inline(always)]
    fn acquire(&self) -> Box<T> {
        match self.inner.take_cached() {
            Some(obj) => obj,
            None => self.acquire_slow(),
        }
    }

    /// [`Pool::acquire`] after a miss in this thread's cache.
    #[cold]
    #[inline(never)]
    fn acquire_slow(&self) -> Box<T> {
        match self.inner.take_slow_or_wait(None) {
            Ok(obj) => obj,
            Err(_) => unreachable!("no deadline"),
        }
    }
}

impl<T, R> Clone for Pool<T, R> {
    /// Another handle to the same pool: objects, caches, settings and statistics are shared, and
    /// the pool lives until its last handle and its last owned guard are gone. No need to wrap a
    /// `Pool` in an `Arc`.
    ///
    /// ```
    /// let pool = hotpool::Pool::new(String::new);
    /// let handle = pool.clone();
    /// std::thread::spawn(move || drop(handle.get())).join().unwrap();
    /// assert_eq!(pool.stats().created, 1); // made through the other handle
    /// ```
    fn clone(&self) -> Self {
        self.inner.refs.add_handle();
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T, R> Drop for Pool<T, R> {
    fn drop(&mut self) {
        if self.inner.refs.drop_handle() {
            owned::last_handle_dropped(&self.inner);
        }
        self.inner.drop_sync.before_release();
    }
}

impl<T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> fmt::Debug for Pool<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("depot_idle", &self.inner.depot_idle())
            .finish_non_exhaustive()
    }
}
