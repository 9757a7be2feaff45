//! [`Policy`]: the recycle policy a builder assembles from `recycle_with`, `max_retained_bytes`
//! and `keep_if`.
//!
//! A returned object goes through three steps, in this order, and is kept only if every step
//! says so:
//!
//! 1. **reset**: [`Recycle::reset`], or the `recycle_with` closure, which *replaces* it (types
//!    that do not implement [`Recycle`] have no other reset). Its `bool` is a keep vote.
//!    Several `recycle_with` closures run in the order they were given.
//! 2. **retained-size cap**: the object is dropped if [`Recycle::retained_bytes`] exceeds
//!    `max_retained_bytes`. An explicit `max_retained_bytes` always applies (it needs
//!    `T: Recycle` to measure, so it is a compile error otherwise, never a silent no-op); the
//!    default cap, [`DEFAULT_MAX_RETAINED_BYTES`], comes with the default reset and goes when
//!    `recycle_with` replaces it.
//! 3. **keep predicates**: every `keep_if` closure must return `true`; they see the object after
//!    its reset.
//!
//! The order of the builder calls does not matter: the same settings give the same policy.
//!
//! Cost, per returned object: the closures are boxed so that the policy type has a name, so
//! each `recycle_with` and each `keep_if` closure is one indirect call. Without `recycle_with`
//! the reset is [`Recycle::reset`], called statically: it and the cap are compiled for `T` into
//! one function, which the policy reaches through one function pointer (no boxed closure). A
//! pool without `recycle_with` or `keep_if` keeps the default
//! [`ResetRecycler`](crate::ResetRecycler), and a pool given a [`Recycler`] of your own with the
//! builders' `recycler` uses it; the compiler inlines both, with no indirect call at all.
//!
//! ```
//! use hotpool::LocalPool;
//!
//! let a = LocalPool::builder(Vec::<u8>::new)
//!     .keep_if(|v: &Vec<u8>| v.capacity() >= 16) // too small to be worth keeping
//!     .max_retained_bytes(1024)                  // too large to keep
//!     .build()?;
//! let b = LocalPool::builder(Vec::<u8>::new)
//!     .max_retained_bytes(1024)
//!     .keep_if(|v: &Vec<u8>| v.capacity() >= 16)
//!     .build()?;
//! for pool in [&a, &b] {
//!     pool.get().reserve_exact(8); // refused by keep_if
//!     pool.get().reserve_exact(64); // reset (emptied) and kept
//!     pool.get().reserve_exact(4096); // over the cap
//!     let stats = pool.stats();
//!     assert_eq!((stats.returned, stats.discarded), (1, 2));
//!     assert!(pool.get().is_empty()); // `Recycle::reset` still ran
//! }
//! # Ok::<(), hotpool::ConfigError>(())
//! ```

use std::fmt;

use crate::recycle::{Recycle, Recycler, DEFAULT_MAX_RETAINED_BYTES};

/// The reset step of a [`Policy`]; `Fn(&mut T) -> bool` given to the builders' `recycle_with`.
type SharedReset<T> = dyn Fn(&mut T) -> bool + Send + Sync;
/// A keep predicate of a [`Policy`]; `Fn(&T) -> bool` given to the builders' `keep_if`.
type SharedKeep<T> = dyn Fn(&T) -> bool + Send + Sync;

/// A recycle policy built from closures and a retained-size cap; what a builder's
/// `recycle_with` or `keep_if` turns its policy into. See the [module docs](self) for the order
/// of the steps.
///
/// The type has a name, so a pool with a custom policy fits in a `static`, no cast needed —
/// here for a type from another crate, `bumpalo::Bump`:
///
/// ```
/// use bumpalo::Bump;
/// use hotpool::{Policy, Pool};
/// use once_cell::sync::Lazy;
///
/// static ARENAS: Lazy<Pool<Bump, Policy<Bump>>> = Lazy::new(|| {
///     Pool::builder(Bump::new)
///         .recycle_with(|bump: &mut Bump| {
///             bump.reset();
///             bump.allocation_limit().is_none() // a limited arena was special: drop it
///         })
///         .max_retained_bytes(64 * 1024)
///         .build()
///         .expect("a valid configuration")
/// });
///
/// let mut arena = ARENAS.get();
/// let n = arena.alloc(41);
/// *n += 1;
/// assert_eq!(*n, 42);
/// drop(arena);
/// ARENAS.get().set_allocation_limit(Some(1024));
/// let stats = ARENAS.stats();
/// assert_eq!((stats.created, stats.reused, stats.discarded), (1, 1, 1));
/// ```
///
/// The closures of a `Policy` are `Send + Sync`, as a [`Pool`](crate::Pool) needs;
/// a [`LocalPool`](crate::LocalPool) builder makes a [`LocalPolicy`], whose closures need not be.
pub struct Policy<T, Reset: ?Sized = SharedReset<T>, Keep: ?Sized = SharedKeep<T>> {
    reset: ResetStep<T, Reset>,
    cap: Option<RetainedCap<T>>,
    /// The `keep_if` closures, in the order given.
    keep: Vec<Box<Keep>>,
}

/// The [`Policy`] of a [`LocalPool`](crate::LocalPool): its closures may hold `Rc`s and `Cell`s.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use hotpool::{LocalPolicy, LocalPool};
///
/// let resets = Rc::new(Cell::new(0));
/// let counter = Rc::clone(&resets);
/// let pool: LocalPool<String, LocalPolicy<String>> = LocalPool::builder(String::new)
///     .recycle_with(move |s: &mut String| {
///         counter.set(counter.get() + 1);
///         s.clear();
///         true
///     })
///     .build()?;
/// drop(pool.get());
/// drop(pool.get());
/// assert_eq!(resets.get(), 2);
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
pub type LocalPolicy<T> = Policy<T, dyn Fn(&mut T) -> bool, dyn Fn(&T) -> bool>;

/// Step 1 of a [`Policy`], and step 2 when the reset is `Recycle::reset`.
enum ResetStep<T, Reset: ?Sized> {
    /// [`reset_within`] for `T`: `Recycle::reset` and the cap, both called statically.
    Recycle(fn(&mut T, Option<usize>) -> bool),
    /// The `recycle_with` closures, in the order given.
    Custom(Vec<Box<Reset>>),
}

/// Resets `value` with [`Recycle::reset`] and says whether it retains at most `cap` bytes: the
/// steps of a policy without `recycle_with`, compiled for `T` so that both calls are static.
fn reset_within<T: Recycle>(value: &mut T, cap: Option<usize>) -> bool {
    value.reset();
    cap.map_or(true, |bytes| value.retained_bytes() <= bytes)
}

/// Step 2 of a [`Policy`]: a cap on what an object retains, and how to measure it.
pub(crate) struct RetainedCap<T> {
    pub(crate) bytes: usize,
    pub(crate) measure: fn(&T) -> usize,
    /// Given with `max_retained_bytes` (kept whatever the reset), not the default.
    pub(crate) explicit: bool,
}

impl<T> Clone for RetainedCap<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for RetainedCap<T> {}

impl<T: Recycle> RetainedCap<T> {
    pub(crate) fn explicit(bytes: usize) -> Self {
        Self {
            bytes,
            measure: T::retained_bytes,
            explicit: true,
        }
    }

    pub(crate) fn default_cap() -> Self {
        Self {
            bytes: DEFAULT_MAX_RETAINED_BYTES,
            measure: T::retained_bytes,
            explicit: false,
        }
    }
}

impl<T, Reset: ?Sized, Keep: ?Sized> Policy<T, Reset, Keep> {
    /// The policy of a first `recycle_with`: `reset` replaces `Recycle::reset`, and only an
    /// explicit `cap` applies.
    pub(crate) fn reset_by(reset: Box<Reset>, cap: Option<RetainedCap<T>>) -> Self {
        Self {
            reset: ResetStep::Custom(vec![reset]),
            cap,
            keep: Vec::new(),
        }
    }

    /// The policy of a first `keep_if`: `Recycle::reset`, the explicit `cap` or the default
    /// one, then `keep`.
    pub(crate) fn keep_after_reset(keep: Box<Keep>, cap: Option<RetainedCap<T>>) -> Self
    where
        T: Recycle,
    {
        Self {
            reset: ResetStep::Recycle(reset_within::<T>),
            cap: Some(cap.unwrap_or_else(RetainedCap::default_cap)),
            keep: vec![keep],
        }
    }

    /// A further `recycle_with`: replaces `Recycle::reset` (and its default cap), or runs after
    /// the reset closures given before.
    pub(crate) fn add_reset(&mut self, reset: Box<Reset>) {
        match &mut self.reset {
            ResetStep::Recycle(_) => {
                self.forget_default_cap();
                self.reset = ResetStep::Custom(vec![reset]);
            }
            ResetStep::Custom(resets) => resets.push(reset),
        }
    }

    /// A further `keep_if`: runs after the ones given before.
    pub(crate) fn add_keep(&mut self, keep: Box<Keep>) {
        self.keep.push(keep);
    }

    /// An explicit `max_retained_bytes`, replacing any cap.
    pub(crate) fn set_cap(&mut self, cap: RetainedCap<T>) {
        self.cap = Some(cap);
    }

    /// The cap on retained bytes this policy applies, if any.
    ///
    /// ```
    /// use hotpool::{recycle::DEFAULT_MAX_RETAINED_BYTES, LocalPool};
    ///
    /// // `keep_if` keeps the default reset, and with it the default cap.
    /// let builder = LocalPool::builder(Vec::<u8>::new).keep_if(|_: &Vec<u8>| true);
    /// assert_eq!(builder.policy().max_retained_bytes(), Some(DEFAULT_MAX_RETAINED_BYTES));
    /// // A custom reset replaces the default one, and the default cap with it...
    /// let builder = builder.recycle_with(|_: &mut Vec<u8>| true);
    /// assert_eq!(builder.policy().max_retained_bytes(), None);
    /// // ...but never a cap that was asked for.
    /// let builder = builder.max_retained_bytes(512);
    /// assert_eq!(builder.policy().max_retained_bytes(), Some(512));
    /// ```
    pub fn max_retained_bytes(&self) -> Option<usize> {
        self.cap.map(|cap| cap.bytes)
    }

    /// Whether the reset step is a `recycle_with` closure (`false`: it is [`Recycle::reset`]).
    ///
    /// ```
    /// use hotpool::LocalPool;
    ///
    /// let builder = LocalPool::builder(String::new).keep_if(|s: &String| s.capacity() < 64);
    /// assert!(!builder.policy().has_custom_reset());
    /// let builder = builder.recycle_with(|s: &mut String| { s.clear(); true });
    /// assert!(builder.policy().has_custom_reset());
    /// ```
    pub fn has_custom_reset(&self) -> bool {
        matches!(self.reset, ResetStep::Custom(_))
    }

    /// Whether a `keep_if` predicate is set.
    ///
    /// ```
    /// use hotpool::LocalPool;
    ///
    /// let builder = LocalPool::builder(String::new).recycle_with(|s: &mut String| { s.clear(); true });
    /// assert!(!builder.policy().has_keep_if());
    /// assert!(builder.keep_if(|s: &String| s.capacity() < 64).policy().has_keep_if());
    /// ```
    pub fn has_keep_if(&self) -> bool {
        !self.keep.is_empty()
    }

    /// Drops a default cap: it belongs to the default reset, which is being replaced.
    fn forget_default_cap(&mut self) {
        if self.cap.is_some_and(|cap| !cap.explicit) {
            self.cap = None;
        }
    }
}

impl<T, Reset, Keep> Recycler<T> for Policy<T, Reset, Keep>
where
    Reset: ?Sized + Fn(&mut T) -> bool,
    Keep: ?Sized + Fn(&T) -> bool,
{
    /// Runs the reset step, then the cap, then the keep predicates; the first `false` decides.
    ///
    /// ```
    /// use hotpool::{LocalPool, Recycler};
    ///
    /// let builder = LocalPool::builder(String::new).keep_if(|s: &String| s.capacity() <= 8);
    /// let mut small = String::from("tiny");
    /// assert!(builder.policy().recycle(&mut small));
    /// assert!(small.is_empty()); // `Recycle::reset` ran
    /// assert!(!builder.policy().recycle(&mut String::with_capacity(9)));
    /// ```
    #[inline]
    fn recycle(&self, value: &mut T) -> bool {
        let reset_keeps = match &self.reset {
            ResetStep::Recycle(reset_within_cap) => {
                reset_within_cap(value, self.max_retained_bytes())
            }
            ResetStep::Custom(resets) => {
                resets.iter().all(|reset| reset(value))
                    && self
                        .cap
                        .map_or(true, |cap| (cap.measure)(value) <= cap.bytes)
            }
        };
        reset_keeps && self.keep.iter().all(|keep| keep(value))
    }
}

impl<T, Reset: ?Sized, Keep: ?Sized> fmt::Debug for Policy<T, Reset, Keep> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reset = match self.reset {
            ResetStep::Recycle(_) => "Recycle::reset",
            ResetStep::Custom(_) => "recycle_with",
        };
        f.debug_struct("Policy")
            .field("reset", &reset)
            .field("max_retained_bytes", &self.max_retained_bytes())
            .field("keep_if", &self.has_keep_if())
            .finish()
    }
}
