//! [`LocalPool`]: a pool for one thread, with no atomics and no locks. How it works:
//! [the implementation notes](crate::implementation#localpool).

mod counters;
mod guard;
mod stack;

use std::fmt;
use std::marker::PhantomData;
use std::mem;
use std::rc::Rc;

pub use guard::{LocalOwnedPooled, LocalPooled};

use crate::builder::LocalPoolBuilder;
use crate::counting::Change;
use crate::recycle::{Recycle, Recycler, ResetRecycler};
use crate::stats::PoolStats;
use counters::Counters;
use stack::IdleStack;

/// A pool of reusable `T` for one thread.
///
/// [`get`](LocalPool::get) hands out an idle object, or makes one with the factory when none is
/// idle; the guard it returns gives the object back when it drops, even during a panic. Objects
/// are boxed once and stay in place: handing one out or taking it back moves a pointer, whatever
/// the size of `T`.
///
/// `LocalPool` is neither `Send` nor `Sync`; share objects between threads with
/// [`Pool`](crate::Pool).
///
/// ```
/// use hotpool::LocalPool;
///
/// let pool = LocalPool::new(|| Vec::<u8>::with_capacity(4096));
/// for line in ["a", "bb", "ccc"] {
///     let mut buf = pool.get();
///     buf.extend_from_slice(line.as_bytes());
///     assert_eq!(buf.len(), line.len()); // always starts empty
/// } // each buffer goes back here, capacity kept
/// assert_eq!(pool.stats().created, 1);
/// ```
///
/// ```compile_fail
/// // A LocalPool cannot move to another thread.
/// let pool = hotpool::LocalPool::new(String::new);
/// std::thread::spawn(move || drop(pool));
/// ```
///
/// ```compile_fail
/// // A guard cannot outlive its pool.
/// let guard = {
///     let pool = hotpool::LocalPool::new(String::new);
///     pool.get()
/// };
/// ```
pub struct LocalPool<T, R = ResetRecycler> {
    idle: IdleStack<T>,
    factory: Box<dyn Fn() -> T>,
    recycler: R,
    max_idle: usize,
    counters: Counters,
    // Cells already make the pool !Sync; this also makes it !Send, so a guard and its pool can
    // never be on different threads.
    _not_send: PhantomData<*const ()>,
}

/// Counts an object lost to a panic in the recycle policy (unwinding drops it); forgotten when
/// the policy returns.
struct DiscardOnUnwind<'a, T, R: Recycler<T>>(&'a LocalPool<T, R>);

impl<T, R: Recycler<T>> Drop for DiscardOnUnwind<'_, T, R> {
    fn drop(&mut self) {
        self.0.change(Change::DiscardedOnReturn);
    }
}

impl<T: Recycle> LocalPool<T> {
    /// A pool that makes objects with `factory` and resets returned ones with
    /// [`Recycle::reset`], with the default settings of [`LocalPool::builder`].
    ///
    /// ```
    /// let pool = hotpool::LocalPool::new(|| String::with_capacity(64));
    /// pool.get().push_str("first use");
    /// let s = pool.get(); // the same string: reset, capacity kept
    /// assert!(s.is_empty() && s.capacity() >= 64);
    /// assert_eq!(pool.stats().created, 1);
    /// ```
    pub fn new(factory: impl Fn() -> T + 'static) -> Self {
        Self::builder(factory)
            .build()
            .expect("the default configuration is valid")
    }
}

impl<T> LocalPool<T> {
    /// Starts configuring a pool that makes objects with `factory`.
    ///
    /// Types that do not implement [`Recycle`] give their policy with
    /// [`recycle_with`](crate::Builder::recycle_with) (a boxed closure) or
    /// [`recycler`](crate::Builder::recycler) (a [`Recycler`] type of your own, statically
    /// dispatched).
    ///
    /// ```
    /// struct Conn { healthy: bool }
    ///
    /// let pool = hotpool::LocalPool::builder(|| Conn { healthy: true })
    ///     .max_idle(8)
    ///     .recycle_with(|c: &mut Conn| c.healthy) // keep only healthy connections
    ///     .build()?;
    /// pool.get().healthy = false;
    /// assert_eq!(pool.stats().discarded, 1);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn builder<F: Fn() -> T>(factory: F) -> LocalPoolBuilder<T, F> {
        LocalPoolBuilder::new(factory)
    }
}

impl<T, R: Recycler<T>> LocalPool<T, R> {
    /// The pool `builder` describes, prefilled; `builder` was validated (see
    /// [`LocalPoolBuilder::build`](crate::builder::LocalPoolBuilder::build)).
    pub(crate) fn from_builder<F: Fn() -> T + 'static>(builder: LocalPoolBuilder<T, F, R>) -> Self {
        let pool = LocalPool {
            idle: IdleStack::new(builder.max_idle),
            factory: Box::new(builder.factory),
            recycler: builder.recycler,
            max_idle: builder.max_idle,
            counters: Counters::default(),
            _not_send: PhantomData,
        };
        for _ in 0..builder.prefill {
            let fresh = Box::new((pool.factory)());
            if pool.idle.push(fresh).is_err() {
                unreachable!("`validate` checked prefill <= max_idle");
            }
            pool.change(Change::Prefilled);
        }
        pool
    }
}

impl<T, R: Recycler<T>> LocalPool<T, R> {
    /// Hands out an idle object, or a new one from the factory if none is idle.
    ///
    /// A panic in the factory propagates and leaves the pool as it was.
    ///
    /// ```
    /// let pool = hotpool::LocalPool::new(Vec::<u8>::new);
    /// let (mut a, b) = (pool.get(), pool.get()); // two at once: both made by the factory
    /// a.push(1);
    /// drop((a, b));
    /// assert!(pool.get().is_empty()); // reused, and reset
    /// assert_eq!((pool.stats().created, pool.stats().idle), (2, 2));
    /// ```
    #[inline]
    pub fn get(&self) -> LocalPooled<'_, T, R> {
        LocalPooled::new(self, self.take_or_create())
    }

    /// Hands out an idle object; `None` if none is idle. Never runs the factory.
    ///
    /// ```
    /// let pool = hotpool::LocalPool::new(String::new);
    /// assert!(pool.try_get().is_none()); // nothing idle yet
    /// drop(pool.get());
    /// assert!(pool.try_get().is_some());
    /// assert_eq!(pool.stats().created, 1);
    /// ```
    #[inline]
    pub fn try_get(&self) -> Option<LocalPooled<'_, T, R>> {
        self.take_idle().map(|obj| LocalPooled::new(self, obj))
    }

    /// Like [`get`](LocalPool::get), but the guard holds an `Rc` of the pool instead of a
    /// borrow, so it can be stored in structures and returned from functions.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use hotpool::{LocalOwnedPooled, LocalPool};
    ///
    /// fn scratch(pool: &Rc<LocalPool<String>>) -> LocalOwnedPooled<String> {
    ///     let mut s = pool.get_owned();
    ///     s.push_str("kept past this function");
    ///     s
    /// }
    /// let pool = Rc::new(LocalPool::new(String::new));
    /// assert_eq!(scratch(&pool).len(), 23);
    /// assert_eq!(pool.stats().idle, 1);
    /// ```
    #[inline]
    pub fn get_owned(self: &Rc<Self>) -> LocalOwnedPooled<T, R> {
        LocalOwnedPooled::new(Rc::clone(self), self.take_or_create())
    }

    /// Like [`try_get`](LocalPool::try_get), with an owned guard.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use hotpool::{LocalOwnedPooled, LocalPool};
    ///
    /// let pool = Rc::new(LocalPool::builder(String::new).prefill(2).build()?);
    /// let spare: Vec<LocalOwnedPooled<String>> =
    ///     std::iter::from_fn(|| pool.try_get_owned()).collect();
    /// assert_eq!(spare.len(), 2); // exactly the idle ones: the factory never ran
    /// assert_eq!(pool.stats().created, 2);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    #[inline]
    pub fn try_get_owned(self: &Rc<Self>) -> Option<LocalOwnedPooled<T, R>> {
        self.take_idle()
            .map(|obj| LocalOwnedPooled::new(Rc::clone(self), obj))
    }

    /// Hands `value` to the pool: it is recycled and kept idle for a later `get`.
    ///
    /// # Errors
    /// Gives `value` back (already reset) if the recycle policy refuses it or `max_idle` objects
    /// are already idle: nothing handed to the pool is dropped behind the caller's back.
    ///
    /// ```
    /// let pool = hotpool::LocalPool::builder(String::new).max_idle(1).build()?;
    /// assert_eq!(pool.put("first".to_string()), Ok(()));
    /// assert_eq!(pool.put("second".to_string()), Err(String::new())); // full: handed back, reset
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn put(&self, value: T) -> Result<(), T> {
        let mut boxed = Box::new(value);
        if !self.recycler.recycle(&mut boxed) {
            return Err(*boxed);
        }
        self.keep(boxed).map_err(|boxed| *boxed)?;
        self.change(Change::Put);
        Ok(())
    }

    /// Hands every value of `values` to the pool, as [`put`](LocalPool::put) does one by one,
    /// and returns the ones it did not keep (already reset), in order: nothing handed over is
    /// dropped behind the caller's back. Returning no leftovers allocates nothing.
    ///
    /// ```
    /// let pool = hotpool::LocalPool::builder(String::new).max_idle(2).build()?;
    /// let leftovers = pool.put_all(["a", "b", "c"].map(String::from));
    /// assert_eq!(leftovers, [String::new()]); // the third found the pool full
    /// assert_eq!(pool.stats().idle, 2);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn put_all<I: IntoIterator<Item = T>>(&self, values: I) -> Vec<T> {
        crate::guard::put_each(values, |value| self.put(value))
    }

    /// Wraps `value` in a guard of this pool, as if [`get`](LocalPool::get) had handed it out:
    /// the inverse of [`LocalPooled::detach`]. The value is not reset now; it goes through the
    /// recycle policy when the guard drops, like any object of the pool.
    ///
    /// Counted as a [`put`](LocalPool::put) followed by a `get` served by it: `returned` and
    /// `reused` each grow by one, and `in_use` by one until the guard drops. The factory does
    /// not run.
    ///
    /// ```
    /// use hotpool::LocalPool;
    ///
    /// let pool = LocalPool::new(Vec::<u8>::new);
    /// let mut buf = pool.attach(b"made elsewhere".to_vec());
    /// assert_eq!(&buf[..], b"made elsewhere"); // untouched: not reset on the way in
    /// buf.push(b'!');
    /// let stats = pool.stats();
    /// assert_eq!((stats.created, stats.returned, stats.reused, stats.in_use), (0, 1, 1, 1));
    /// drop(buf); // recycled and kept
    /// assert!(pool.get().is_empty());
    /// assert_eq!(pool.stats().idle, 1);
    /// ```
    pub fn attach(&self, value: T) -> LocalPooled<'_, T, R> {
        let obj = Box::new(value);
        self.change(Change::Attached);
        LocalPooled::new(self, obj)
    }

    /// Like [`attach`](LocalPool::attach), with an owned guard.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use hotpool::{LocalOwnedPooled, LocalPool};
    ///
    /// let pool = Rc::new(LocalPool::new(String::new));
    /// let guard: LocalOwnedPooled<String> = pool.attach_owned("hello".to_string());
    /// assert_eq!(*guard, "hello");
    /// drop(guard);
    /// assert_eq!(pool.stats().idle, 1);
    /// ```
    pub fn attach_owned(self: &Rc<Self>, value: T) -> LocalOwnedPooled<T, R> {
        let obj = Box::new(value);
        self.change(Change::Attached);
        LocalOwnedPooled::new(Rc::clone(self), obj)
    }

    /// Drops every idle object now; returns how many were dropped.
    ///
    /// ```
    /// let pool = hotpool::LocalPool::builder(String::new).prefill(5).build()?;
    /// let in_use = pool.get();
    /// assert_eq!(pool.trim(), 4); // objects in use are not touched
    /// drop(in_use);
    /// assert_eq!(pool.stats().idle, 1);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn trim(&self) -> usize {
        let idle = self.idle.take_all();
        let n = idle.len();
        self.change(Change::IdleDropped(n));
        drop(idle); // outside the borrow: a `T::drop` may use the pool
        n
    }

    /// A snapshot of the pool's counters.
    ///
    /// ```
    /// let pool = hotpool::LocalPool::new(String::new);
    /// let (a, _b) = (pool.get(), pool.get());
    /// drop(a);
    /// let stats = pool.stats();
    /// assert_eq!((stats.in_use, stats.peak_in_use, stats.idle), (1, 2, 1));
    /// ```
    pub fn stats(&self) -> PoolStats {
        self.counters.snapshot(self.idle.len())
    }

    /// The cap on idle objects.
    ///
    /// ```
    /// let pool = hotpool::LocalPool::builder(String::new).max_idle(3).build()?;
    /// let accepted = (0..10).filter(|_| pool.put(String::new()).is_ok()).count();
    /// assert_eq!(accepted, pool.max_idle());
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn max_idle(&self) -> usize {
        self.max_idle
    }

    #[inline]
    fn take_idle(&self) -> Option<Box<T>> {
        let (obj, left) = self.idle.pop()?;
        self.counters.reused(left);
        Some(obj)
    }

    #[inline]
    fn take_or_create(&self) -> Box<T> {
        match self.take_idle() {
            Some(obj) => obj,
            None => self.create(),
        }
    }

    #[cold]
    #[inline(never)]
    fn create(&self) -> Box<T> {
        // The borrow of `idle` is released: the factory may use this pool.
        let obj = Box::new((self.factory)());
        self.change(Change::Created);
        obj
    }

    /// Records a change of the live population (off the hit paths).
    fn change(&self, change: Change) {
        self.counters.change(change, self.idle.len())
    }

    /// Takes back an object a guard held. Runs the recycle policy; keeps the object if it may,
    /// drops it otherwise. Counts stay right if the policy or `T::drop` panics.
    #[inline(always)]
    pub(crate) fn give_back(&self, mut obj: Box<T>) {
        // A kept object moves no counter: `in_use` is derived from the idle count.
        let unwinding = DiscardOnUnwind(self);
        let keep = self.recycler.recycle(&mut obj);
        mem::forget(unwinding);
        let refused = if keep {
            match self.keep(obj) {
                Ok(()) => return,
                Err(full) => full,
            }
        } else {
            obj
        };
        self.change(Change::DiscardedOnReturn);
        // Dropped here, after `keep` released the borrow: `T::drop` may use the pool.
        drop(refused);
    }

    /// Counts a guard's object as taken out of the pool for good.
    pub(crate) fn note_detached(&self) {
        self.change(Change::Detached);
    }

    /// Keeps `obj` idle if fewer than `max_idle` objects are; gives it back otherwise.
    #[inline(always)]
    fn keep(&self, obj: Box<T>) -> Result<(), Box<T>> {
        self.idle.push(obj)
    }
}

impl<T, R> fmt::Debug for LocalPool<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalPool")
            .field("idle", &self.idle.len())
            .field("max_idle", &self.max_idle)
            .finish_non_exhaustive()
    }
}
