//! Resetting objects for reuse, and the policy that decides which ones a pool keeps.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::mem::size_of;

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
pub trait Recycle {
    /// Resets the object to its empty state, keeping allocated capacity.
    fn reset(&mut self);

    /// Heap bytes the object keeps allocated (shallow: capacity of its own buffers).
    fn retained_bytes(&self) -> usize;
}

/// The policy a pool applies to every object that comes back: reset it, then say whether to keep
/// it (`true`) or drop it (`false`).
///
/// Implemented by [`ResetRecycler`] (the default, for `T: Recycle`) and by every closure
/// `Fn(&mut T) -> bool`, which is what the builders' `recycle_with` takes.
pub trait Recycler<T> {
    /// Resets `value` for reuse and returns whether the pool should keep it.
    fn recycle(&self, value: &mut T) -> bool;
}

impl<T, F: Fn(&mut T) -> bool> Recycler<T> for F {
    #[inline]
    fn recycle(&self, value: &mut T) -> bool {
        self(value)
    }
}

/// Default retained-size cap of [`ResetRecycler`]: 1 MiB per object.
pub const DEFAULT_MAX_RETAINED_BYTES: usize = 1 << 20;

/// The default policy: [`Recycle::reset`], then keep the object only if it retains at most
/// `max_retained_bytes` of heap memory.
///
/// The cap is what stops one oversized request from pinning its buffer in the pool for the life
/// of the program. Set it with the builders' `max_retained_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetRecycler {
    max_retained_bytes: usize,
}

impl ResetRecycler {
    /// A policy that keeps objects retaining at most `max_retained_bytes` after reset.
    pub const fn new(max_retained_bytes: usize) -> Self {
        Self { max_retained_bytes }
    }

    /// The cap this policy applies.
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
recycle_by_clear!(HashMap<K, V, S>, (K, V), [K: Eq + Hash, V, S: BuildHasher], HashMap::capacity);
recycle_by_clear!(HashSet<T, S>, T, [T: Eq + Hash, S: BuildHasher], HashSet::capacity);
// B-trees free their nodes on `clear`: nothing is retained, and nothing is gained by pooling them
// beyond the node-less header, but they are supported so generic code can pool any collection.
recycle_by_clear!(BTreeMap<K, V>, (K, V), [K: Ord, V], |_| 0);
recycle_by_clear!(BTreeSet<T>, T, [T: Ord], |_| 0);

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
