//! Resetting objects for reuse, and the policy that decides which ones a pool keeps.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::ffi::OsString;
use std::hash::{BuildHasher, Hash};
use std::io::Cursor;
use std::mem::size_of;
use std::path::PathBuf;

/// An object that can be reset in place and reused.
///
/// `reset` must leave the object equal to a freshly made one in every way the program can
/// observe, except that it keeps the memory it already allocated: that retained capacity is the
/// point of pooling. `retained_bytes` reports how much heap memory the object keeps after a reset,
/// so that a pool can drop objects that grew too large in a spike instead of keeping them forever
/// (see [`ResetRecycler`]).
///
/// ```
/// use hotpool::Recycle;
///
/// struct Request { headers: Vec<(String, String)>, body: Vec<u8> }
///
/// impl Recycle for Request {
///     fn reset(&mut self) {
///         self.headers.clear();
///         self.body.clear();
///     }
///     fn retained_bytes(&self) -> usize {
///         self.headers.retained_bytes() + self.body.retained_bytes()
///     }
/// }
/// ```
///
/// A type from another crate cannot implement it here (the orphan rule): give its reset to the
/// builder's `recycle_with` instead, and compose it with `max_retained_bytes` and `keep_if`
/// (see [`policy`](crate::policy)), or write a [`Recycler`] for it and give that to the
/// builder's `recycler`.
#[cfg_attr(
    hotpool_diagnostic,
    diagnostic::on_unimplemented(
        message = "`{Self}` does not implement `hotpool::Recycle`, so the pool cannot reset it",
        label = "no `Recycle::reset` for `{Self}`",
        note = "build the pool with `Pool::builder(..)` or `LocalPool::builder(..)` and give it a reset with `.recycle_with(|value: &mut {Self}| ...)`, or implement `Recycle` for `{Self}`"
    )
)]
pub trait Recycle {
    /// Resets the object to its empty state, keeping allocated capacity.
    ///
    /// ```
    /// use hotpool::Recycle;
    ///
    /// let mut log = String::with_capacity(128);
    /// log.push_str("request 1 done");
    /// log.reset();
    /// assert!(log.is_empty() && log.capacity() >= 128); // empty, memory kept for reuse
    /// ```
    fn reset(&mut self);

    /// Heap bytes the object keeps allocated (shallow: capacity of its own buffers).
    ///
    /// ```
    /// use hotpool::Recycle;
    ///
    /// let mut ids: Vec<u64> = Vec::with_capacity(100);
    /// ids.push(7);
    /// ids.reset();
    /// assert_eq!(ids.retained_bytes(), 800); // capacity survives the reset: 100 × 8 bytes
    /// ```
    fn retained_bytes(&self) -> usize;
}

/// The policy a pool applies to every object that comes back: reset it, then say whether to keep
/// it (`true`) or drop it (`false`).
///
/// A pool's second type parameter is its `Recycler`, one of:
///
/// - [`ResetRecycler`], the default (for `T: Recycle`);
/// - a type of your own, given to the builders' `recycler`: the pool's type names it
///   (`Pool<T, MyRecycler>`, fit for a `static`) and calls it statically, inlined as the
///   default is. Every closure `Fn(&mut T) -> bool` is a `Recycler` too, so `recycler` also
///   takes one, at the same cost, but its type has no name;
/// - a [`Policy`](crate::Policy), which the builders' `recycle_with` and `keep_if` assemble
///   from boxed closures: a named type, at one indirect call per closure and returned object
///   (see [`policy`](crate::policy)).
///
/// ```
/// use hotpool::{Recycler, ResetRecycler};
///
/// fn kept<R: Recycler<Vec<u8>>>(policy: &R, mut buf: Vec<u8>) -> bool {
///     policy.recycle(&mut buf)
/// }
/// let only_small = |v: &mut Vec<u8>| { v.clear(); v.capacity() <= 64 };
/// assert!(kept(&only_small, Vec::with_capacity(64)));
/// assert!(!kept(&only_small, Vec::with_capacity(65)));
/// assert!(kept(&ResetRecycler::default(), vec![1, 2, 3]));
/// ```
///
/// A builder's `build()` needs its policy to be a `Recycler` of the pooled type. Without
/// `recycle_with` or `recycler`, the policy is `ResetRecycler`, which needs `T: Recycle`; the
/// compiler says so
/// (from Rust 1.78, with the same advice as for `Pool::new`):
///
/// ```compile_fail,E0277
/// # // A trait method `build` that the call falls back to if the builder's `build` does not
/// # // apply at all: then this compiles, and the compiler's error would not be about `Recycle`.
/// # trait Fallback { fn build(self) -> Self; }
/// # impl<B> Fallback for B { fn build(self) -> Self { self } }
/// let _ = hotpool::Pool::builder(|| 0u8).build(); // `u8` has no `Recycle` impl
/// ```
#[cfg_attr(
    hotpool_diagnostic,
    diagnostic::on_unimplemented(
        message = "the pool cannot reset `{T}`: `{Self}` is not a `hotpool::Recycler<{T}>` (the default policy needs `{T}: hotpool::Recycle`)",
        label = "no recycle policy for `{T}`",
        note = "the default policy, `ResetRecycler`, resets with `hotpool::Recycle`; if `{T}` does not implement `Recycle`, give the builder a reset with `.recycle_with(|value: &mut {T}| ...)` or a policy with `.recycler(..)`, or implement `Recycle` for `{T}`"
    )
)]
pub trait Recycler<T> {
    /// Resets `value` for reuse and returns whether the pool should keep it.
    ///
    /// ```
    /// use hotpool::{Recycler, ResetRecycler};
    ///
    /// let policy = ResetRecycler::new(1024);
    /// let mut buf = b"payload".to_vec();
    /// assert!(policy.recycle(&mut buf)); // reset, and small enough to keep
    /// assert!(buf.is_empty());
    /// assert!(!policy.recycle(&mut Vec::<u8>::with_capacity(4096))); // too big: drop it
    /// ```
    fn recycle(&self, value: &mut T) -> bool;

    /// Heap bytes an idle `value` keeps, as this policy measures them; `None` (the default, and
    /// what closures give) if the policy cannot tell. [`report`](fn@crate::report) uses it for the
    /// idle bytes of a pool; [`ResetRecycler`] answers with [`Recycle::retained_bytes`].
    ///
    /// The report calls it on idle objects while it holds the pool's depot lock, so it must only
    /// read `value` and must not use the pool.
    ///
    /// ```
    /// use hotpool::{Recycler, ResetRecycler};
    ///
    /// let buf: Vec<u8> = Vec::with_capacity(100);
    /// assert_eq!(ResetRecycler::default().retained_bytes_of(&buf), Some(100));
    /// let closure = |v: &mut Vec<u8>| { v.clear(); true };
    /// assert_eq!(closure.retained_bytes_of(&buf), None); // a closure cannot tell
    /// ```
    fn retained_bytes_of(&self, value: &T) -> Option<usize> {
        let _ = value;
        None
    }
}

/// `Recycler<T> + Send + Sync + 'static`: a policy a [`Pool`](crate::Pool)'s threads share.
/// Shorthand for the engine's impl blocks (the public ones spell the bound out).
pub(crate) trait SharedRecycler<T>: Recycler<T> + Send + Sync + 'static {}

impl<T, R: Recycler<T> + Send + Sync + 'static> SharedRecycler<T> for R {}

impl<T, F: Fn(&mut T) -> bool> Recycler<T> for F {
    #[inline]
    fn recycle(&self, value: &mut T) -> bool {
        self(value)
    }
}

/// Default retained-size cap of [`ResetRecycler`]: 1 MiB per object.
///
/// ```
/// use hotpool::{recycle::DEFAULT_MAX_RETAINED_BYTES, LocalPool};
///
/// let pool = LocalPool::new(|| Vec::<u8>::with_capacity(DEFAULT_MAX_RETAINED_BYTES));
/// drop(pool.get()); // retains exactly the cap: kept
/// pool.get().reserve(DEFAULT_MAX_RETAINED_BYTES + 1); // grew past it: dropped
/// let stats = pool.stats();
/// assert_eq!((stats.returned, stats.discarded), (1, 1));
/// ```
pub const DEFAULT_MAX_RETAINED_BYTES: usize = 1 << 20;

/// The default policy: [`Recycle::reset`], then keep the object only if it retains at most
/// `max_retained_bytes` of heap memory.
///
/// The cap is what stops one oversized request from pinning its buffer in the pool for the life
/// of the program. Set it with the builders' `max_retained_bytes`.
///
/// ```
/// use hotpool::{LocalPool, ResetRecycler};
///
/// let pool: LocalPool<Vec<u8>, ResetRecycler> = LocalPool::new(Vec::new); // the default policy
/// pool.get().extend_from_slice(b"abc"); // reset on return, and kept
/// assert!(pool.get().is_empty());
/// pool.get().reserve(2 << 20); // would keep 2 MiB after reset: dropped
/// assert_eq!(pool.stats().discarded, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetRecycler {
    max_retained_bytes: usize,
}

impl ResetRecycler {
    /// A policy that keeps objects retaining at most `max_retained_bytes` after reset.
    ///
    /// ```
    /// use hotpool::{Recycler, ResetRecycler};
    ///
    /// const SMALL_BUFFERS: ResetRecycler = ResetRecycler::new(4096);
    /// assert!(SMALL_BUFFERS.recycle(&mut String::with_capacity(4096)));
    /// assert!(!SMALL_BUFFERS.recycle(&mut String::with_capacity(4097)));
    /// ```
    pub const fn new(max_retained_bytes: usize) -> Self {
        Self { max_retained_bytes }
    }

    /// The cap this policy applies.
    ///
    /// ```
    /// use hotpool::{recycle::DEFAULT_MAX_RETAINED_BYTES, ResetRecycler};
    ///
    /// assert_eq!(ResetRecycler::default().max_retained_bytes(), DEFAULT_MAX_RETAINED_BYTES);
    /// ```
    pub const fn max_retained_bytes(&self) -> usize {
        self.max_retained_bytes
    }
}

impl Default for ResetRecycler {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RETAINED_BYTES)
    }
}

impl<T: Recycle> Recycler<T> for ResetRecycler {
    #[inline]
    fn recycle(&self, value: &mut T) -> bool {
        value.reset();
        value.retained_bytes() <= self.max_retained_bytes
    }

    fn retained_bytes_of(&self, value: &T) -> Option<usize> {
        Some(value.retained_bytes())
    }
}

/// Implements `Recycle` for a collection whose `clear` keeps capacity.
macro_rules! recycle_by_clear {
    ($ty:ty, $elem:ty, [$($generics:tt)*], $capacity:expr) => {
        impl<$($generics)*> Recycle for $ty {
            #[inline]
            fn reset(&mut self) {
                self.clear();
            }

            #[inline]
            fn retained_bytes(&self) -> usize {
                let capacity: fn(&Self) -> usize = $capacity;
                capacity(self).saturating_mul(size_of::<$elem>())
            }
        }
    };
}

recycle_by_clear!(Vec<T>, T, [T], Vec::capacity);
recycle_by_clear!(VecDeque<T>, T, [T], VecDeque::capacity);
recycle_by_clear!(BinaryHeap<T>, T, [T: Ord], BinaryHeap::capacity);
recycle_by_clear!(String, u8, [], String::capacity);
recycle_by_clear!(OsString, u8, [], OsString::capacity);
recycle_by_clear!(PathBuf, u8, [], PathBuf::capacity);
recycle_by_clear!(HashMap<K, V, S>, (K, V), [K: Eq + Hash, V, S: BuildHasher], HashMap::capacity);
recycle_by_clear!(HashSet<T, S>, T, [T: Eq + Hash, S: BuildHasher], HashSet::capacity);
// B-trees free their nodes on `clear`: nothing is retained, and nothing is gained by pooling them
// beyond the node-less header, but they are supported so generic code can pool any collection.
recycle_by_clear!(BTreeMap<K, V>, (K, V), [K: Ord, V], |_| 0);
recycle_by_clear!(BTreeSet<T>, T, [T: Ord], |_| 0);
recycle_by_clear!(LinkedList<T>, T, [T], |_| 0);

/// The inner value is reset, the cursor rewinds to the start.
impl<T: Recycle> Recycle for Cursor<T> {
    #[inline]
    fn reset(&mut self) {
        self.get_mut().reset();
        self.set_position(0);
    }

    #[inline]
    fn retained_bytes(&self) -> usize {
        self.get_ref().retained_bytes()
    }
}

/// Resets the value inside; needs no borrow at run time (`&mut` proves exclusive access).
impl<T: Recycle> Recycle for RefCell<T> {
    #[inline]
    fn reset(&mut self) {
        self.get_mut().reset();
    }

    /// # Panics
    /// If the value is mutably borrowed, as `RefCell::borrow` does.
    #[inline]
    fn retained_bytes(&self) -> usize {
        self.borrow().retained_bytes()
    }
}

/// Resets every element; retains what they retain together.
impl<T: Recycle, const N: usize> Recycle for [T; N] {
    #[inline]
    fn reset(&mut self) {
        self.iter_mut().for_each(T::reset);
    }

    #[inline]
    fn retained_bytes(&self) -> usize {
        self.iter()
            .fold(0, |sum, t| sum.saturating_add(t.retained_bytes()))
    }
}

/// Resets each part; retains what they retain together.
macro_rules! recycle_tuple {
    ($($name:ident . $index:tt),+) => {
        impl<$($name: Recycle),+> Recycle for ($($name,)+) {
            #[inline]
            fn reset(&mut self) {
                $(self.$index.reset();)+
            }

            #[inline]
            fn retained_bytes(&self) -> usize {
                0usize$(.saturating_add(self.$index.retained_bytes()))+
            }
        }
    };
}

recycle_tuple!(A.0, B.1);
recycle_tuple!(A.0, B.1, C.2);
recycle_tuple!(A.0, B.1, C.2, D.3);

impl<T: Recycle + ?Sized> Recycle for Box<T> {
    #[inline]
    fn reset(&mut self) {
        (**self).reset();
    }

    #[inline]
    fn retained_bytes(&self) -> usize {
        std::mem::size_of_val::<T>(self).saturating_add((**self).retained_bytes())
    }
}

impl Recycle for bumpalo::Bump {
    /// Rewinds the arena, keeping its largest chunk (bumpalo frees the others).
    #[inline]
    fn reset(&mut self) {
        bumpalo::Bump::reset(self);
    }

    #[inline]
    fn retained_bytes(&self) -> usize {
        self.allocated_bytes()
    }
}
