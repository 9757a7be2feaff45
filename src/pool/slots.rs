//! One slot per thread id, found without a lock; a slot's cache is opened only by its thread.
//!
//! One of the crate's few files with `unsafe` code. The table is a fixed array of buckets where
//! bucket `b` holds `2^b` slots, allocated on first use and never moved or freed before the table
//! drops, so a `&Slot` stays valid for as long as the table is borrowed.
//!
//! Ownership is a type rule, checked in debug builds:
//! [the implementation notes](crate::implementation#invariants).
//!
//! Three doors open a cache, and which ones a pool uses depends on whether its caches can be
//! stolen from (a pool with `max_live`, where waiters must reach idle objects in every thread's
//! cache, see `limiter.rs`):
//!
//! - [`Slot::with_cache`]: the owner, unannounced. Only in pools whose caches are never stolen
//!   from (checked in debug builds): the unbounded pool's hit path.
//! - [`Slot::with_cache_announced`]: the owner, announced through the slot's `busy` flag and
//!   refused while `caches_closed` is set (a store, a [light barrier](crate::barrier) and a load on the
//!   owner's own line): the bounded pool's hit path.
//! - [`Slot::with_cache_locked`]: the owner, holding the depot lock (its `&mut Depot` is the
//!   proof). Every slow path of every pool. A thief holds the same lock.

use std::ptr;

use super::cache::{CacheStore, Fill, ThreadCache};
use super::counts::Counts;
use super::depot::Depot;
use super::limiter::Quiesced;
use super::tally::ReleaseTally;
use super::thread::{self, Remembered, ThreadHandle};
use crate::barrier;
use crate::sync::{
    atomic_get_mut, spin_wait, AtomicBool, AtomicPtr, AtomicUsize, Mutex, Ordering, UnsafeCell,
};

const BUCKETS: usize = usize::BITS as usize;

/// A thread's cache and counters in one pool.
///
/// Aligned to 128 bytes (two cache lines, as crossbeam's `CachePadded` does on x86-64, where the
/// adjacent-line prefetcher pairs lines): slots of different threads sit side by side in a
/// bucket, and a slot sharing a line with its neighbour would make every hit of one thread
/// invalidate the other's cache.
#[repr(align(128))]
pub(crate) struct Slot<T> {
    cache: UnsafeCell<CacheStore<T>>,
    shared: Shared,
    /// Set by the owner while it has the cache open through [`Slot::with_cache_announced`];
    /// a thief waits for it to clear.
    busy: AtomicBool,
    /// The thread id this slot belongs to, for the ownership assertion.
    #[cfg(debug_assertions)]
    id: usize,
    /// Whether the table's caches can be stolen from (then unannounced opens are a bug).
    #[cfg(debug_assertions)]
    stealable: bool,
    /// Set while the owner is inside [`Slot::with_cache`] (debug builds): no code path nests two
    /// borrows, and this checks it.
    #[cfg(debug_assertions)]
    open: std::cell::Cell<bool>,
}

/// The part of a slot any thread may read: atomics only.
#[derive(Default)]
pub(crate) struct Shared {
    /// Written only by the owning thread; read by `stats()` from any thread.
    pub(crate) counts: Counts,
    /// The cache's length and the hits it counts (see `cache.rs`); written by whoever has the
    /// cache open, read by `stats()` under the depot lock.
    pub(crate) fill: Fill,
    /// Owned-guard references this thread holds ready for its next `get_owned`s (see
    /// `pool/refs.rs`). Written by the owner, and by the pool's last handle (which proves no
    /// `get_owned` can run any more) under the depot lock.
    pub(crate) spare_refs: AtomicUsize,
    /// Owned guards dropped on this thread, ever (wrapping), and whether a drop is releasing
    /// one now. Written only by the owner.
    pub(crate) released_refs: ReleaseTally,
    /// How many of those have been handed on (to the depot's reserve, or back to the pool's
    /// count). Written only under the depot lock.
    pub(crate) collected_refs: AtomicUsize,
}

// SAFETY: `Slot` is shared between threads only through `ThreadSlots`.
// - `cache` is opened by the owning thread (each door requires its `&ThreadHandle`), by a thief
//   that holds a `Quiesced` proof and has seen `busy` clear, or through `&mut Slot`; never from
//   two threads at once (see the module docs). Moving the `Box<T>`s it holds to another thread
//   (its exit flush, a thief, a later thread reusing the id, or the pool's drop) needs `T: Send`.
// - `shared` and `busy` are atomics; `open` is touched only by the owner inside an open.
unsafe impl<T: Send> Sync for Slot<T> {}

impl<T> Slot<T> {
    fn new(id: usize, stealable: bool) -> Self {
        #[cfg(not(debug_assertions))]
        let _ = (id, stealable);
        Self {
            cache: UnsafeCell::new(CacheStore::new()),
            shared: Shared::default(),
            busy: AtomicBool::new(false),
            #[cfg(debug_assertions)]
            id,
            #[cfg(debug_assertions)]
            stealable,
            #[cfg(debug_assertions)]
            open: std::cell::Cell::new(false),
        }
    }

    /// The counters and reference tallies of this slot.
    #[inline(always)]
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Runs `f` on this slot's cache, unannounced: only in a table whose caches are never stolen
    /// from. `owner` proves the caller is the slot's thread. `f` must not run user code
    /// (factories, recycle policies, `T::drop`) nor open a cache again: every caller is in
    /// `tier.rs`, and `ThreadCache`'s methods only move boxes.
    #[inline(always)]
    pub(crate) fn with_cache<R>(
        &self,
        owner: &ThreadHandle,
        f: impl FnOnce(&mut ThreadCache<'_, T>) -> R,
    ) -> R {
        #[cfg(debug_assertions)]
        assert!(!self.stealable, "an unannounced open of a stealable cache");
        self.open(owner, f)
    }

    /// Runs `f` on this slot's cache and `value` unless `caches_closed` is set (then gives `value`
    /// back): the hit path of a pool whose caches a thief may empty. Same rules for `f` as
    /// [`Slot::with_cache`].
    ///
    /// The handshake with [`ThreadSlots::steal_cached`] is Dekker's: the owner sets `busy`, then
    /// reads `caches_closed`; the thief sets `caches_closed`, then reads `busy`. With the barriers between
    /// (a [light](barrier::light) one here, a [heavy](barrier::heavy) one in [`Quiesced::new`]),
    /// at least one side sees the other's store: the owner stays out, or the thief waits until
    /// `busy` clears, with a release that publishes every write `f` made to the cache.
    #[inline(always)]
    pub(crate) fn with_cache_announced<V, R>(
        &self,
        owner: &ThreadHandle,
        caches_closed: &AtomicBool,
        value: V,
        f: impl FnOnce(&mut ThreadCache<'_, T>, V) -> R,
    ) -> Result<R, V> {
        // Relaxed: `light` orders it before the load below, as the thief's barrier requires.
        self.busy.store(true, Ordering::Relaxed);
        barrier::light();
        // Acquire: a `false` stored when the caches reopened (release, under the depot lock)
        // publishes what a thief did to this cache while the flag was set.
        let result = if caches_closed.load(Ordering::Acquire) {
            Err(value)
        } else {
            Ok(self.open(owner, |cache| f(cache, value)))
        };
        // Release: a thief that sees `false` sees every write `f` made.
        self.busy.store(false, Ordering::Release);
        result
    }

    /// Runs `f` on this slot's cache and the depot, whose lock the caller holds: the door of
    /// every slow path. Same rules for `f` as [`Slot::with_cache`].
    pub(crate) fn with_cache_locked<R>(
        &self,
        owner: &ThreadHandle,
        depot: &mut Depot<T>,
        f: impl FnOnce(&mut ThreadCache<'_, T>, &mut Depot<T>) -> R,
    ) -> R {
        self.open(owner, |cache| f(cache, depot))
    }

    /// Opens the cache for its owner.
    #[inline(always)]
    fn open<R>(&self, owner: &ThreadHandle, f: impl FnOnce(&mut ThreadCache<'_, T>) -> R) -> R {
        #[cfg(debug_assertions)]
        let _open = self.open_for(owner);
        #[cfg(not(debug_assertions))]
        let _ = owner;
        self.cache.with_mut(|cache| {
            // Why the `&mut` is unique: `owner` is the owning thread's handle (checked in debug
            // builds), so no other owner opens it; a thief opens it only under the depot lock
            // (which `with_cache_locked`'s callers hold) and after `busy` cleared with `caches_closed`
            // set (which `with_cache_announced`'s callers respect), and never in a table that
            // uses `with_cache` (checked in debug builds); `for_each` never exposes the cache;
            // `f` runs no user code and opens no cache, so no borrow nests here.
            // SAFETY: the pointer is from the live cell borrowed by `&self`; unique, as above.
            let store = unsafe { &mut *cache };
            // SAFETY: the fill word is this slot's own, and the cache is open only here.
            f(&mut unsafe { ThreadCache::open(store, &self.shared.fill) })
        })
    }

    /// Debug-build checks of [`Slot::with_cache`]'s preconditions.
    #[cfg(debug_assertions)]
    fn open_for(&self, owner: &ThreadHandle) -> impl Drop + '_ {
        assert_eq!(owner.id(), self.id, "a thread opened another thread's slot");
        assert!(!self.open.replace(true), "a slot's cache was opened twice");
        struct Close<'a>(&'a std::cell::Cell<bool>);
        impl Drop for Close<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        Close(&self.open)
    }

    /// The cache through exclusive access (the pool is being dropped).
    pub(crate) fn cache_mut(&mut self) -> ThreadCache<'_, T> {
        let fill = &self.shared.fill;
        self.cache.with_mut(|cache| {
            // SAFETY: `&mut self` rules out every other access to the cell.
            let store = unsafe { &mut *cache };
            // SAFETY: the fill word is this slot's own, and `&mut self` keeps the cache from
            // being opened elsewhere while the result lives.
            unsafe { ThreadCache::open(store, fill) }
        })
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        // The cache's store cannot see its objects (their count is in the fill word): normally
        // the pool has taken them already, and this finds none.
        drop(self.cache_mut().take_all());
    }
}

/// The slot table of one pool, indexed by thread id.
pub(crate) struct ThreadSlots<T> {
    buckets: [AtomicPtr<Slot<T>>; BUCKETS],
    /// One past the highest bucket allocated so far: scans stop there.
    used_buckets: AtomicUsize,
    /// Serializes bucket allocation: the first thread of a bucket allocates it, the others wait.
    growth: Mutex<()>,
    /// Whether [`ThreadSlots::steal_cached`] may be used (a bounded pool).
    stealable: bool,
    /// Unique for the process's life (never 0): the key of the thread's last-slot entry
    /// (`thread::with_last_slot`).
    id: u64,
}

/// A new table id: never 0, never reused (64 bits do not wrap in practice).
fn next_table_id() -> u64 {
    #[cfg(all(not(hotpool_loom), target_has_atomic = "64"))]
    {
        static NEXT: crate::sync::AtomicU64 = crate::sync::AtomicU64::new(1);
        // Relaxed: only uniqueness matters.
        NEXT.fetch_add(1, Ordering::Relaxed)
    }
    #[cfg(not(all(not(hotpool_loom), target_has_atomic = "64")))]
    0
}

impl<T> ThreadSlots<T> {
    /// An empty table; `stealable` for a bounded pool (see the module docs).
    pub(crate) fn new(stealable: bool) -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            used_buckets: AtomicUsize::new(0),
            growth: Mutex::new(()),
            stealable,
            id: next_table_id(),
        }
    }

    /// Runs `hit` with this thread's handle and slot if this table is the last one of its kind
    /// (`kind`) the thread used (see `thread::with_last_slot`), `miss` otherwise: the first step of
    /// every hit path. With [`Remembered::Unstealable`] only a table that is never stolen from can
    /// match, so the caller opens the slot through [`Slot::with_cache`] without checking.
    #[inline(always)]
    pub(crate) fn with_remembered<'s, V, R>(
        &'s self,
        kind: Remembered,
        value: V,
        hit: impl FnOnce(&ThreadHandle, &'s Slot<T>, V) -> R,
        miss: impl FnOnce(V) -> R,
    ) -> R {
        thread::with_last_slot(
            kind,
            self.id,
            value,
            |thread, slot, value| {
                // Why it is valid: `with_last_slot` gives only what `remember_slot` stored on this
                // thread for the table with this id, which is `self` (ids are never reused), and
                // the entry is cleared when the thread's handle drops. Slots are freed only with
                // the table, which `&self` keeps alive.
                // SAFETY: `slot` is the address of `self`'s live `Slot<T>` owned by `thread`.
                hit(thread, unsafe { &*slot.cast::<Slot<T>>() }, value)
            },
            miss,
        )
    }

    /// The slot owned by `thread`, allocated on first use; remembered for
    /// [`ThreadSlots::with_remembered`] in the entry of this table's kind.
    #[inline(always)]
    pub(crate) fn get(&self, thread: &ThreadHandle) -> &Slot<T> {
        let slot = self.find(thread);
        let kind = if self.stealable {
            Remembered::Stealable
        } else {
            Remembered::Unstealable
        };
        thread::remember_slot(thread, kind, self.id, (slot as *const Slot<T>).cast());
        slot
    }

    /// The slot owned by `thread`, through the table (allocated on first use).
    #[inline(always)]
    fn find(&self, thread: &ThreadHandle) -> &Slot<T> {
        let (bucket, index) = thread.position();
        // The mask only spares a bounds check: `locate` gives `bucket < BUCKETS`.
        let bucket = bucket & (BUCKETS - 1);
        // Acquire: pairs with the Release store that published the bucket, so its slots are
        // seen initialised.
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
        let growing = self.growth.lock();
        let mut base = self.buckets[bucket].load(Ordering::Acquire);
        if base.is_null() {
            let len = 1 << bucket;
            let first_id = len - 1;
            let fresh: Box<[Slot<T>]> = (0..len)
                .map(|i| Slot::new(first_id + i, self.stealable))
                .collect();
            base = Box::into_raw(fresh).cast::<Slot<T>>();
            // The scan's bound first, then the pointer: a thread that finds the pointer (with
            // acquire) then also sees the bound, so no thread ever uses a slot that a scan
            // (`slots`: the last handle's collection, a thief's steal) may leave out. The other
            // order would leave a window in which a thread uses a slot of a bucket the bound does
            // not cover yet (the close would miss its references, a steal its cache).
            // A scan that sees the bound before the pointer finds it null and skips the bucket,
            // which nobody can be using yet.
            self.used_buckets.fetch_max(bucket + 1, Ordering::Release);
            // Release: publishes the initialised slots (and the bound above) to lock-free
            // readers in `get`.
            self.buckets[bucket].store(base, Ordering::Release);
        }
        drop(growing);
        // SAFETY: `base` is a published bucket of `2^bucket` initialised slots (ours or one
        // published by another thread under the same lock), freed only by `Drop`; `index` is
        // below that by `locate`.
        unsafe { &*base.wrapping_add(index) }
    }

    /// Every allocated slot.
    fn slots(&self) -> impl Iterator<Item = &Slot<T>> + '_ {
        let used = self.used_buckets.load(Ordering::Acquire);
        self.buckets[..used]
            .iter()
            .enumerate()
            .flat_map(|(bucket, base)| {
                let base = base.load(Ordering::Acquire);
                let len = if base.is_null() { 0 } else { 1 << bucket };
                (0..len).map(move |index| {
                    // SAFETY: as in `get`: a published bucket of `len` slots, freed only by
                    // `Drop`, and `index < len`.
                    unsafe { &*base.wrapping_add(index) }
                })
            })
    }

    /// The shared part of every allocated slot (counters and reference tallies; never a cache).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Shared)) {
        self.slots().for_each(|slot| f(slot.shared()));
    }

    /// Runs `f` on every thread's cache, with the depot and the slot's counters: a bounded
    /// pool's waiter takes the objects (and does what the owner does when it trades with the
    /// depot). `depot` proves the caller holds the depot lock, which keeps every slow path out of
    /// its cache; `quiesced` keeps every hit path out, or shows it in `busy`, which this waits
    /// out (a few pointer moves). `f` must move boxes and counts only, as for `with_cache`.
    pub(crate) fn steal_cached(
        &self,
        depot: &mut Depot<T>,
        quiesced: &Quiesced<'_>,
        mut f: impl FnMut(&mut ThreadCache<'_, T>, &Shared, &mut Depot<T>),
    ) {
        assert!(
            self.stealable,
            "stealing from a table that opens caches unannounced"
        );
        debug_assert!(quiesced.still_closed());
        for slot in self.slots() {
            let mut round = 0;
            // Acquire: pairs with the release that cleared it, publishing the owner's writes.
            while slot.busy.load(Ordering::Acquire) {
                spin_wait(&mut round);
            }
            slot.cache.with_mut(|cache| {
                // Why the `&mut` is unique: the table is stealable, so its owner opens the cache
                // only announced or under the depot lock. The lock is ours (`depot`); an
                // announced open that starts now sees `caches_closed` and stays out (`quiesced`); one
                // that saw `caches_closed` clear has ended, as `busy` is clear.
                // SAFETY: the pointer is from a live cell of a published slot; unique, as above.
                let store = unsafe { &mut *cache };
                // SAFETY: the fill word is the slot's own, and the cache is open only here.
                let mut cache = unsafe { ThreadCache::open(store, &slot.shared.fill) };
                f(&mut cache, slot.shared(), depot);
            });
        }
    }
}

impl<T> ThreadSlots<T> {
    /// Every allocated bucket, through exclusive access.
    fn buckets_mut(&mut self) -> impl Iterator<Item = (*mut Slot<T>, usize)> + '_ {
        let used = atomic_get_mut(&mut self.used_buckets);
        self.buckets[..used]
            .iter_mut()
            .enumerate()
            .map(|(bucket, base)| (atomic_get_mut(base), 1 << bucket))
            .filter(|(base, _)| !base.is_null())
    }

    /// Takes every object out of every cache (the pool is being dropped).
    pub(crate) fn take_cached_objects(&mut self) -> Vec<Box<T>> {
        let mut objects = Vec::new();
        for (base, len) in self.buckets_mut() {
            // SAFETY: `base` is a bucket of `len` initialised slots published by `alloc_bucket`
            // and freed only by `Drop`; `&mut self` means no other reference to them exists.
            let bucket = unsafe { &mut *ptr::slice_from_raw_parts_mut(base, len) };
            for slot in bucket {
                objects.append(&mut slot.cache_mut().take_all());
            }
        }
        objects
    }
}

impl<T> Drop for ThreadSlots<T> {
    fn drop(&mut self) {
        // The pool takes the cached objects out first (`take_cached_objects`); whatever is left
        // drops with its slot (`Slot::drop`).
        for (base, len) in self.buckets_mut() {
            // SAFETY: `base` was published by `alloc_bucket` from `Box::into_raw` of a
            // `len`-slot boxed slice; `&mut self` in `drop` means no slot is borrowed, and each
            // bucket is reclaimed once because the table is going away.
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(base, len)) });
        }
    }
}
