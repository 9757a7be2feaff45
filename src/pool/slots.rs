//! One slot per thread id, found without a lock; a slot's cache is touched only by its thread.
//!
//! This file and nothing else in `pool` holds `unsafe` code. The table is a fixed array of
//! buckets where bucket `b` holds `2^b` slots, allocated on first use and never moved or freed
//! before the table drops, so a `&Slot` stays valid for as long as the table is borrowed.

use std::ptr;

use super::cache::ThreadCache;
use super::counts::Counts;
use super::thread::ThreadHandle;
use crate::sync::{atomic_get_mut, AtomicBool, AtomicPtr, AtomicUsize, Ordering, UnsafeCell};

const BUCKETS: usize = usize::BITS as usize;

/// A thread's cache and counters in one pool.
///
/// Aligned to 128 bytes (two cache lines, as crossbeam's `CachePadded` does on x86-64, where the
/// adjacent-line prefetcher pairs lines): slots of different threads sit side by side in a
/// bucket, and a slot sharing a line with its neighbour would make every hit of one thread
/// invalidate the other's cache.
#[repr(align(128))]
pub(crate) struct Slot<T> {
    cache: UnsafeCell<ThreadCache<T>>,
    /// Set while the owner is inside [`Slot::with_cache`]: a re-entrant call (which the crate
    /// never makes, because no user code runs inside) is refused instead of aliasing the cache.
    busy: AtomicBool,
    /// Written only by the owning thread; read by `stats()` from any thread.
    pub(crate) counts: Counts,
}

// SAFETY: `Slot` is shared between threads only through `ThreadSlots`.
// - `cache` is accessed through `with_cache`, which requires a `&ThreadHandle` whose id owns the
//   slot (a `ThreadHandle` is `!Send + !Sync`, so that is the owning thread), or through
//   `&mut Slot`; never from two threads at once. Moving the `Box<T>`s it holds to another
//   thread (its exit flush, a later thread reusing the id, or the pool's drop) needs `T: Send`.
// - `busy` and `counts` are atomics.
unsafe impl<T: Send> Sync for Slot<T> {}

impl<T> Slot<T> {
    fn new() -> Self {
        Self {
            cache: UnsafeCell::new(ThreadCache::new()),
            busy: AtomicBool::new(false),
            counts: Counts::default(),
        }
    }

    /// Runs `f` on this slot's cache; `None` if the cache is already borrowed further up this
    /// thread's stack. `f` must not run user code (factories, recycle policies, `T::drop`).
    #[inline]
    pub(crate) fn with_cache<R>(&self, f: impl FnOnce(&mut ThreadCache<T>) -> R) -> Option<R> {
        // Relaxed load + store, not a swap: only the owning thread reads or writes `busy`, and a
        // plain store avoids a locked instruction on the hot path.
        if self.busy.load(Ordering::Relaxed) {
            return None;
        }
        self.busy.store(true, Ordering::Relaxed);
        let _release = ReleaseOnDrop(&self.busy);
        let result = self.cache.with_mut(|cache| {
            // SAFETY: the pointer is from the live cell borrowed by `&self`; the `&mut` is unique:
            // - only the holder of this slot id's `ThreadHandle` gets here (`ThreadSlots::get`);
            // - `busy` rules out a second borrow on that thread's stack while `f` runs.
            f(unsafe { &mut *cache })
        });
        Some(result)
    }
}

struct ReleaseOnDrop<'a>(&'a AtomicBool);

impl Drop for ReleaseOnDrop<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// The slot table of one pool, indexed by thread id.
pub(crate) struct ThreadSlots<T> {
    buckets: [AtomicPtr<Slot<T>>; BUCKETS],
    /// One past the highest bucket allocated so far: scans stop there.
    used_buckets: AtomicUsize,
}

/// Bucket and index of thread id `id`: ids `2^b - 1 ..= 2^(b+1) - 2` live in bucket `b`.
#[inline]
fn locate(id: usize) -> (usize, usize) {
    let n = id + 1;
    let bucket = (usize::BITS - 1 - n.leading_zeros()) as usize;
    (bucket, n - (1 << bucket))
}

impl<T> ThreadSlots<T> {
    pub(crate) fn new() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            used_buckets: AtomicUsize::new(0),
        }
    }

    /// The slot owned by `thread`, allocated on first use.
    #[inline]
    pub(crate) fn get(&self, thread: &ThreadHandle) -> &Slot<T> {
        let (bucket, index) = locate(thread.id());
        // Acquire: pairs with the Release of the CAS that published the bucket, so its slots
        // are seen initialised.
        let base = self.buckets[bucket].load(Ordering::Acquire);
        if base.is_null() {
            return self.alloc_bucket(bucket, index);
        }
        debug_assert!(index < 1 << bucket);
        // SAFETY:
        // - non-null buckets come from `alloc_bucket`: `2^bucket` slots, freed only by `Drop`;
        // - `index < 2^bucket` by `locate`.
        unsafe { &*base.wrapping_add(index) }
    }

    #[cold]
    #[inline(never)]
    fn alloc_bucket(&self, bucket: usize, index: usize) -> &Slot<T> {
        let len = 1 << bucket;
        let fresh: Box<[Slot<T>]> = (0..len).map(|_| Slot::new()).collect();
        let fresh = Box::into_raw(fresh).cast::<Slot<T>>();
        // AcqRel: Release publishes the initialised slots; Acquire sees another thread's if it
        // won the race.
        let base = match self.buckets[bucket].compare_exchange(
            ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                // Release: a scan that sees the new bound also sees the bucket pointer.
                self.used_buckets.fetch_max(bucket + 1, Ordering::Release);
                fresh
            }
            Err(theirs) => {
                // SAFETY: `fresh` came from `Box::into_raw` of a `len`-slot boxed slice just
                // above and was never published, so this is its only owner.
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(fresh, len)) });
                theirs
            }
        };
        // SAFETY: `base` is a published bucket of `len` initialised slots (ours or the
        // winner's), freed only by `Drop`; `index < len` by `locate`.
        unsafe { &*base.wrapping_add(index) }
    }

    /// Every allocated slot, shared (for reading counters).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Slot<T>)) {
        let used = self.used_buckets.load(Ordering::Acquire);
        for (bucket, base) in self.buckets[..used].iter().enumerate() {
            let base = base.load(Ordering::Acquire);
            for index in 0..if base.is_null() { 0 } else { 1 << bucket } {
                // SAFETY: as in `get`.
                f(unsafe { &*base.wrapping_add(index) });
            }
        }
    }
}

impl<T> Drop for ThreadSlots<T> {
    fn drop(&mut self) {
        // Take ownership of every bucket first, then drop them together: if a `T::drop` panics,
        // the vector still drops the remaining buckets while unwinding.
        let mut owned: Vec<Box<[Slot<T>]>> = Vec::new();
        let used = atomic_get_mut(&mut self.used_buckets);
        for (bucket, base) in self.buckets[..used].iter_mut().enumerate() {
            let base = atomic_get_mut(base);
            if !base.is_null() {
                let len = 1 << bucket;
                // SAFETY: `base` was published by `alloc_bucket` from `Box::into_raw` of a
                // `len`-slot boxed slice; `&mut self` in `drop` means no slot is borrowed, and
                // each bucket is reclaimed once because the table is going away.
                owned.push(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(base, len)) });
            }
        }
        drop(owned);
    }
}
