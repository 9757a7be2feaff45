//! The [`PoolBuilder`]'s own settings: the thread tier, the `max_live` cap, the report entry,
//! the recycle policy (closures that are `Send + Sync`, or a [`Recycler`] of your own), and
//! `build`. The settings it shares with the `LocalPool` builder are in `builder.rs`.

use std::borrow::Cow;

use super::{Builder, PoolBuilder, Shared};
use crate::error::ConfigError;
use crate::policy::Policy;
use crate::recycle::{Recycle, Recycler, ResetRecycler};
use crate::Pool;

impl<T, F, R> Builder<Shared, T, F, R> {
    /// Sets how many idle objects each thread caches without synchronization (default
    /// [`DEFAULT_THREAD_CACHE`](super::DEFAULT_THREAD_CACHE); at most
    /// [`MAX_THREAD_CACHE`](super::MAX_THREAD_CACHE)). `0` turns the thread tier off: every
    /// `get` and return then goes through the shared depot's lock.
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
    /// [`get_async`](crate::Pool::get_async) without blocking a thread. Waiters are served in the
    /// order they came, with the eventual fairness of [`fair_after`](PoolBuilder::fair_after),
    /// and an object idle anywhere in the pool always has a waiter on its way to it.
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

    /// How long a caller waiting at the [`max_live`](PoolBuilder::max_live) cap may be overtaken
    /// (default [`DEFAULT_FAIR_AFTER`](crate::builder::DEFAULT_FAIR_AFTER), 0.5 ms): *eventual
    /// fairness*, as parking_lot's locks have it.
    ///
    /// Threads (`get`, `get_timeout`): an object that comes back while they wait stays idle and
    /// the first waiter is woken to take it; a caller that did not wait (typically the thread
    /// that just gave it back) may take it first and keep working without a context switch,
    /// which is what keeps a pool at its cap fast. A waiter that has waited `fair_after` is
    /// handed the next object that comes back directly, so nobody waits much longer than that
    /// while objects come back. Places that free (an object ended) always go to waiters in
    /// order, and waiters among themselves are served in the order they came.
    ///
    /// Tasks (`get_async`, `get_owned_async`) are handed every object they get, and wait in the
    /// *lane* of the thread that polls them (one queue per thread, so that a return serves a task
    /// of its own thread without the pool's lock): first come, first served within a lane; a
    /// return serves its own thread's lane at most 16 times in a row and the lanes take turns
    /// otherwise, so a task first in its lane is served within 136 returns (within 1,224 while
    /// threads also wait in `get`). A task that comes while a thread waits queues behind it.
    ///
    /// `Duration::ZERO` gives strict first come, first served across all threads and tasks:
    /// every object that comes back is handed to the first waiter.
    ///
    /// The thread caches, closed while anyone waits, also stay closed until the queue has been
    /// empty for `fair_after` (at most 1 ms), so a pool that keeps reaching its cap does not pay
    /// to close them every time.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let strict = hotpool::Pool::builder(String::new)
    ///     .max_live(4)
    ///     .fair_after(Duration::ZERO)
    ///     .build()?;
    /// # drop(strict);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// `build()` returns [`ConfigError::Requires`] if
    /// `max_live` is not set: nobody waits in an unbounded pool.
    pub fn fair_after(mut self, bound: std::time::Duration) -> Self {
        self.fair_after = Some(bound);
        self
    }

    /// Names the pool in [`report`](fn@crate::report) (default: unnamed, listed under its element
    /// type without module paths, such as `Vec<u8>`). Takes a `&'static str` or a `String`;
    /// names need not be unique.
    ///
    /// ```
    /// let frames = hotpool::Pool::builder(|| Vec::<u8>::with_capacity(1500))
    ///     .name("frames")
    ///     .max_idle(64) // in any order with the other settings
    ///     .build()?;
    /// drop(frames.get());
    /// let report = hotpool::report();
    /// let entry = report.pool("frames").expect("registered at build time");
    /// assert_eq!(entry.element_type, "alloc::vec::Vec<u8>");
    /// assert_eq!(entry.stats.created, 1);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.report.name = Some(name.into());
        self
    }

    /// Whether the pool is listed in [`report`](fn@crate::report) and reached by
    /// [`trim_all`](crate::trim_all) (default `true`). Listing costs one lock at build time and
    /// nothing on `get` or return; turn it off for a pool that is private to a component (for
    /// example one that is part of a bigger pool that registers itself), or to measure that the
    /// registration costs nothing.
    ///
    /// ```
    /// let private = hotpool::Pool::builder(String::new).name("private").register(false).build()?;
    /// drop(private.get());
    /// assert!(hotpool::report().pool("private").is_none());
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn register(mut self, register: bool) -> Self {
        self.report.enabled = register;
        self
    }
}

impl<T, F> Builder<Shared, T, F, ResetRecycler> {
    /// Gives the reset step: `recycle` resets an object that came back and returns whether to
    /// keep it (`false` drops it). It runs *instead of* [`Recycle::reset`] (call `value.reset()`
    /// in it to run both) and is the only reset of a type that does not implement [`Recycle`].
    /// An explicit `max_retained_bytes` and every `keep_if` still apply, in any order; the
    /// default cap goes with the default reset.
    ///
    /// The pool's policy becomes a [`Policy<T>`](Policy): the closure is boxed, so that the type
    /// has a name, and costs one indirect call per returned object.
    ///
    /// ```
    /// use hotpool::Pool;
    ///
    /// let pool = Pool::builder(|| Vec::<u8>::with_capacity(64))
    ///     .max_retained_bytes(1024) // kept: it composes
    ///     .recycle_with(|v: &mut Vec<u8>| { v.clear(); v.capacity() >= 64 })
    ///     .build()?;
    /// pool.get().shrink_to(0); // refused by the closure
    /// pool.get().reserve(4096); // refused by the cap
    /// assert_eq!(pool.stats().discarded, 2);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    ///
    /// The closure must be `Send + Sync`: the pool runs it on whichever thread returns an object.
    ///
    /// ```compile_fail,E0277
    /// let seen = std::rc::Rc::new(std::cell::Cell::new(0));
    /// let _ = hotpool::Pool::builder(String::new)
    ///     .recycle_with(move |s: &mut String| { seen.set(seen.get() + 1); s.clear(); true });
    /// ```
    pub fn recycle_with<C>(self, recycle: C) -> PoolBuilder<T, F, Policy<T>>
    where
        C: Fn(&mut T) -> bool + Send + Sync + 'static,
    {
        let policy: Policy<T> = Policy::reset_by(Box::new(recycle), self.explicit_cap);
        self.with_policy(policy)
    }

    /// Keeps a returned object only if `keep` says so, after [`Recycle::reset`] and the
    /// retained-size cap (which both still apply, in any order).
    ///
    /// The pool's policy becomes a [`Policy<T>`](Policy) whose reset is still `Recycle::reset`,
    /// called statically: it and the cap are compiled for `T` into one function, reached
    /// through a function pointer; the boxed `keep` is one indirect call per returned object.
    ///
    /// ```
    /// use hotpool::Pool;
    ///
    /// let pool = Pool::builder(|| Vec::<u8>::with_capacity(64))
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
    /// let _ = hotpool::Pool::builder(|| Conn { healthy: true }).keep_if(|c: &Conn| c.healthy);
    /// ```
    pub fn keep_if<C>(self, keep: C) -> PoolBuilder<T, F, Policy<T>>
    where
        T: Recycle,
        C: Fn(&T) -> bool + Send + Sync + 'static,
    {
        let policy: Policy<T> = Policy::keep_after_reset(Box::new(keep), self.explicit_cap);
        self.with_policy(policy)
    }

    /// Makes `recycler`, a [`Recycler`] of your own, the pool's whole policy. The pool's type
    /// names it (`Pool<T, MyRecycler>`), so the pool fits in a `static`, and its `recycle` is
    /// statically dispatched: the compiler inlines it into the return path, as it does the
    /// default [`ResetRecycler`]'s, with no indirect call. It must be `Send + Sync + 'static`:
    /// the pool runs it on whichever thread returns an object.
    ///
    /// It decides alone: there is no `recycle_with`, `keep_if` or `max_retained_bytes` after
    /// it, and no `recycler` after those (compile errors); a `max_retained_bytes` given before
    /// it makes `build()` return [`ConfigError::Conflicts`]. Check the size in `recycle`, and
    /// answer [`retained_bytes_of`](Recycler::retained_bytes_of) for
    /// [`report`](fn@crate::report) to count idle bytes.
    ///
    /// ```
    /// use hotpool::{Pool, Recycler};
    /// use once_cell::sync::Lazy;
    ///
    /// /// Keeps buffers of 1 KiB to 64 KiB, cleared.
    /// struct MidSized;
    ///
    /// impl Recycler<Vec<u8>> for MidSized {
    ///     fn recycle(&self, buf: &mut Vec<u8>) -> bool {
    ///         buf.clear();
    ///         (1024..=64 * 1024).contains(&buf.capacity())
    ///     }
    ///     fn retained_bytes_of(&self, buf: &Vec<u8>) -> Option<usize> {
    ///         Some(buf.capacity())
    ///     }
    /// }
    ///
    /// static BUFFERS: Lazy<Pool<Vec<u8>, MidSized>> = Lazy::new(|| {
    ///     Pool::builder(|| Vec::with_capacity(4096))
    ///         .recycler(MidSized)
    ///         .build()
    ///         .expect("a valid configuration")
    /// });
    ///
    /// BUFFERS.get().extend_from_slice(b"frame"); // cleared and kept
    /// BUFFERS.get().shrink_to(0); // below 1 KiB: dropped
    /// let stats = BUFFERS.stats();
    /// assert_eq!((stats.created, stats.returned, stats.discarded), (1, 1, 1));
    /// ```
    ///
    /// ```compile_fail,E0277
    /// // Not `Sync`: a pool's recycler runs on any thread.
    /// struct Counting(std::cell::Cell<u32>);
    /// impl hotpool::Recycler<String> for Counting {
    ///     fn recycle(&self, s: &mut String) -> bool {
    ///         self.0.set(self.0.get() + 1);
    ///         s.clear();
    ///         true
    ///     }
    /// }
    /// let _ = hotpool::Pool::builder(String::new).recycler(Counting(Default::default()));
    /// ```
    ///
    /// ```compile_fail,E0599
    /// // No closure settings after `recycler`: it is the whole policy.
    /// let _ = hotpool::Pool::builder(String::new)
    ///     .recycler(|s: &mut String| { s.clear(); true })
    ///     .keep_if(|s: &String| s.capacity() < 64);
    /// ```
    ///
    /// ```compile_fail,E0599
    /// // No `recycler` after the closure settings either.
    /// let _ = hotpool::Pool::builder(String::new)
    ///     .recycle_with(|s: &mut String| { s.clear(); true })
    ///     .recycler(|s: &mut String| { s.clear(); true });
    /// ```
    pub fn recycler<R>(self, recycler: R) -> PoolBuilder<T, F, R>
    where
        R: Recycler<T> + Send + Sync + 'static,
    {
        self.replace_policy(recycler)
    }
}

impl<T: 'static, F> Builder<Shared, T, F, Policy<T>> {
    /// Sets the reset step, replacing [`Recycle::reset`] (and the default cap that comes with
    /// it); a second `recycle_with` runs after the first, and the object is kept only if both
    /// return `true`. The cap and the `keep_if` predicates stay. Each closure is one indirect
    /// call per returned object.
    ///
    /// ```
    /// use hotpool::Pool;
    ///
    /// let pool = Pool::builder(Vec::<u8>::new)
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
        C: Fn(&mut T) -> bool + Send + Sync + 'static,
    {
        self.recycler.add_reset(Box::new(recycle));
        self
    }

    /// Adds a keep predicate: an object is kept only if every `keep_if` returns `true` (they
    /// run after the reset step and the cap, in the order given). Each is one indirect call
    /// per returned object that reaches it.
    ///
    /// ```
    /// use hotpool::Pool;
    ///
    /// let pool = Pool::builder(|| Vec::<u8>::with_capacity(64))
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
        C: Fn(&T) -> bool + Send + Sync + 'static,
    {
        self.recycler.add_keep(Box::new(keep));
        self
    }
}

impl<T, F, R> Builder<Shared, T, F, R>
where
    T: Send + 'static,
    F: Fn() -> T + Send + Sync + 'static,
    R: Send + Sync + 'static,
{
    /// Builds the [`Pool`], running the factory `prefill` times.
    ///
    /// # Errors
    /// [`ConfigError`] if `max_idle` or `max_live` is 0, `prefill` exceeds `max_idle` or
    /// `max_live`, `thread_cache` exceeds [`MAX_THREAD_CACHE`](super::MAX_THREAD_CACHE), or
    /// `max_retained_bytes` was given before `recycler`, which would not apply it.
    ///
    /// ```
    /// use hotpool::{ConfigError, Pool};
    ///
    /// let pool = Pool::builder(String::new).prefill(2).build()?;
    /// assert_eq!(pool.stats().created, 2);
    /// let err = Pool::builder(String::new).max_idle(4).prefill(5).build().unwrap_err();
    /// assert!(matches!(err, ConfigError::Exceeds { setting: "prefill", limit: 4, .. }));
    /// # Ok::<(), ConfigError>(())
    /// ```
    ///
    /// A type without [`Recycle`] needs a reset from `recycle_with` or a `recycler`; without
    /// one, `build` is the compile error that says so (as `Pool::new` is):
    ///
    /// ```compile_fail,E0277
    /// # // Would compile if `build` did not apply at all (see `Recycler`'s docs).
    /// # trait Fallback { fn build(self) -> Self; }
    /// # impl<B> Fallback for B { fn build(self) -> Self { self } }
    /// struct Conn;
    /// let _ = hotpool::Pool::builder(|| Conn).build();
    /// ```
    pub fn build(self) -> Result<Pool<T, R>, ConfigError>
    where
        R: Recycler<T>,
    {
        self.validate()?;
        Ok(Pool::from_builder(self))
    }
}
