//! The [`LocalPoolBuilder`]'s own settings: the recycle policy (closures, which may hold `Rc`s
//! and `Cell`s, or a [`Recycler`] of your own) and `build`. The settings it shares with the
//! `Pool` builder are in `builder.rs`.

use super::{Builder, Local, LocalPoolBuilder};
use crate::error::ConfigError;
use crate::policy::{LocalPolicy, Policy};
use crate::recycle::{Recycle, Recycler, ResetRecycler};
use crate::LocalPool;

impl<T, F> Builder<Local, T, F, ResetRecycler> {
    /// Gives the reset step: `recycle` resets an object that came back and returns whether to
    /// keep it (`false` drops it). It runs *instead of* [`Recycle::reset`] (call `value.reset()`
    /// in it to run both) and is the only reset of a type that does not implement [`Recycle`].
    /// An explicit `max_retained_bytes` and every `keep_if` still apply, in any order; the
    /// default cap goes with the default reset.
    ///
    /// The pool's policy becomes a [`LocalPolicy<T>`](LocalPolicy): the closure is boxed, so
    /// that the type has a name, and costs one indirect call per returned object. It need not
    /// be `Send` or `Sync`: a `LocalPool` stays on its thread.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use hotpool::LocalPool;
    ///
    /// let resets = Rc::new(Cell::new(0)); // not `Send`: fine for a local pool
    /// let counter = Rc::clone(&resets);
    /// let pool = LocalPool::builder(|| Vec::<u8>::with_capacity(64))
    ///     .max_retained_bytes(1024) // kept: it composes
    ///     .recycle_with(move |v: &mut Vec<u8>| {
    ///         counter.set(counter.get() + 1);
    ///         v.clear();
    ///         v.capacity() >= 64
    ///     })
    ///     .build()?;
    /// pool.get().shrink_to(0); // refused by the closure
    /// pool.get().reserve(4096); // refused by the cap
    /// assert_eq!((pool.stats().discarded, resets.get()), (2, 2));
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn recycle_with<C>(self, recycle: C) -> LocalPoolBuilder<T, F, LocalPolicy<T>>
    where
        C: Fn(&mut T) -> bool + 'static,
    {
        let policy: LocalPolicy<T> = Policy::reset_by(Box::new(recycle), self.explicit_cap);
        self.with_policy(policy)
    }

    /// Keeps a returned object only if `keep` says so, after [`Recycle::reset`] and the
    /// retained-size cap (which both still apply, in any order).
    ///
    /// The pool's policy becomes a [`LocalPolicy<T>`](LocalPolicy) whose reset is still
    /// `Recycle::reset`, called statically: it and the cap are compiled for `T` into one
    /// function, reached through a function pointer; the boxed `keep` is one indirect call per
    /// returned object.
    ///
    /// ```
    /// use hotpool::LocalPool;
    ///
    /// let pool = LocalPool::builder(|| String::with_capacity(64))
    ///     .keep_if(|s: &String| s.capacity() >= 64) // not the shrunk ones
    ///     .build()?;
    /// pool.get().push('a');
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
    /// let _ = hotpool::LocalPool::builder(|| Conn { healthy: true })
    ///     .keep_if(|c: &Conn| c.healthy);
    /// ```
    pub fn keep_if<C>(self, keep: C) -> LocalPoolBuilder<T, F, LocalPolicy<T>>
    where
        T: Recycle,
        C: Fn(&T) -> bool + 'static,
    {
        let policy: LocalPolicy<T> = Policy::keep_after_reset(Box::new(keep), self.explicit_cap);
        self.with_policy(policy)
    }

    /// Makes `recycler`, a [`Recycler`] of your own, the pool's whole policy. The pool's type
    /// names it (`LocalPool<T, MyRecycler>`), and its `recycle` is statically dispatched: the
    /// compiler inlines it into the return path, as it does the default [`ResetRecycler`]'s,
    /// with no indirect call. It may hold `Rc`s and `Cell`s.
    ///
    /// It decides alone: there is no `recycle_with`, `keep_if` or `max_retained_bytes` after
    /// it, and no `recycler` after those (compile errors); a `max_retained_bytes` given before
    /// it makes `build()` return [`ConfigError::Conflicts`].
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use hotpool::{LocalPool, Recycler};
    ///
    /// /// Retires a connection after `max_uses` returns, and counts the retired ones.
    /// struct Retire { max_uses: u32, retired: Rc<Cell<u32>> }
    /// struct Conn { uses: u32 }
    ///
    /// impl Recycler<Conn> for Retire {
    ///     fn recycle(&self, conn: &mut Conn) -> bool {
    ///         conn.uses += 1;
    ///         let keep = conn.uses < self.max_uses;
    ///         self.retired.set(self.retired.get() + u32::from(!keep));
    ///         keep
    ///     }
    /// }
    ///
    /// let retired = Rc::new(Cell::new(0));
    /// let pool: LocalPool<Conn, Retire> = LocalPool::builder(|| Conn { uses: 0 })
    ///     .recycler(Retire { max_uses: 2, retired: Rc::clone(&retired) })
    ///     .build()?;
    /// drop(pool.get());
    /// drop(pool.get()); // its second use: retired
    /// assert_eq!((pool.stats().discarded, retired.get()), (1, 1));
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    ///
    /// ```compile_fail,E0599
    /// // No closure settings after `recycler`: it is the whole policy.
    /// let _ = hotpool::LocalPool::builder(String::new)
    ///     .recycler(|s: &mut String| { s.clear(); true })
    ///     .recycle_with(|s: &mut String| { s.clear(); true });
    /// ```
    ///
    /// ```compile_fail,E0599
    /// // No `recycler` after the closure settings either.
    /// let _ = hotpool::LocalPool::builder(String::new)
    ///     .keep_if(|s: &String| s.capacity() < 64)
    ///     .recycler(|s: &mut String| { s.clear(); true });
    /// ```
    pub fn recycler<R: Recycler<T>>(self, recycler: R) -> LocalPoolBuilder<T, F, R> {
        self.replace_policy(recycler)
    }
}

impl<T: 'static, F> Builder<Local, T, F, LocalPolicy<T>> {
    /// Sets the reset step, replacing [`Recycle::reset`] (and the default cap that comes with
    /// it); a second `recycle_with` runs after the first, and the object is kept only if both
    /// return `true`. The cap and the `keep_if` predicates stay. Each closure is one indirect
    /// call per returned object.
    ///
    /// ```
    /// use hotpool::LocalPool;
    ///
    /// let pool = LocalPool::builder(String::new)
    ///     .keep_if(|s: &String| s.is_empty()) // sees the object after the reset
    ///     .recycle_with(|s: &mut String| { s.truncate(1); true })
    ///     .build()?;
    /// pool.get().push_str("ab"); // truncated to one character: refused by keep_if
    /// drop(pool.get()); // empty: kept
    /// let stats = pool.stats();
    /// assert_eq!((stats.returned, stats.discarded), (1, 1));
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn recycle_with<C>(mut self, recycle: C) -> Self
    where
        C: Fn(&mut T) -> bool + 'static,
    {
        self.recycler.add_reset(Box::new(recycle));
        self
    }

    /// Adds a keep predicate: an object is kept only if every `keep_if` returns `true` (they
    /// run after the reset step and the cap, in the order given). Each is one indirect call
    /// per returned object that reaches it.
    ///
    /// ```
    /// use hotpool::LocalPool;
    ///
    /// let pool = LocalPool::builder(|| String::with_capacity(64))
    ///     .recycle_with(|s: &mut String| { s.clear(); true })
    ///     .keep_if(|s: &String| s.capacity() >= 64)
    ///     .keep_if(|s: &String| s.capacity() <= 1024)
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
        C: Fn(&T) -> bool + 'static,
    {
        self.recycler.add_keep(Box::new(keep));
        self
    }
}

impl<T, F: Fn() -> T + 'static, R> Builder<Local, T, F, R> {
    /// Builds the [`LocalPool`], running the factory `prefill` times.
    ///
    /// # Errors
    /// [`ConfigError`] if `max_idle` is 0, `prefill` exceeds `max_idle`, or
    /// `max_retained_bytes` was given before `recycler`, which would not apply it.
    ///
    /// ```
    /// use hotpool::{ConfigError, LocalPool};
    ///
    /// let pool = LocalPool::builder(String::new).prefill(2).build()?;
    /// assert_eq!(pool.stats().idle, 2);
    /// let err = LocalPool::builder(String::new).max_idle(0).build().unwrap_err();
    /// assert_eq!(err, ConfigError::Zero { setting: "max_idle" });
    /// # Ok::<(), ConfigError>(())
    /// ```
    ///
    /// A type without [`Recycle`] needs a reset from `recycle_with` or a `recycler`; without
    /// one, `build` is the compile error that says so (as `LocalPool::new` is):
    ///
    /// ```compile_fail,E0277
    /// # // Would compile if `build` did not apply at all (see `Recycler`'s docs).
    /// # trait Fallback { fn build(self) -> Self; }
    /// # impl<B> Fallback for B { fn build(self) -> Self { self } }
    /// let _ = hotpool::LocalPool::builder(|| 0u8).build();
    /// ```
    pub fn build(self) -> Result<LocalPool<T, R>, ConfigError>
    where
        R: Recycler<T>,
    {
        self.validate()?;
        Ok(LocalPool::from_builder(self))
    }
}
