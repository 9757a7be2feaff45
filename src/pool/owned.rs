//! Owned guards without a shared reference count per object.
//!
//! One of the crate's few files with `unsafe` code. An [`OwnedPooled`](crate::OwnedPooled) must
//! keep its pool alive, but an `Arc` clone per guard makes the producer and the consumer of a
//! pipeline fight over one cache line for every object. Instead the pool's references for guards
//! are issued in batches and tallied per thread (deferred reference counting):
//!
//! - `issued` (one atomic per pool) counts the references out: spare ones held by threads for
//!   their next `get_owned`s, ones held by live guards, ones whose guard was dropped but which are
//!   still tallied in that thread's slot, and returned ones the depot keeps for reuse
//!   (`Depot::refs`). While `issued > 0` the references hold one strong count of the pool's `Arc`.
//! - `get_owned` takes one of its thread's spare references: a plain load and store in its own
//!   slot. A thread out of spares takes a batch from the depot (or, if it has none, from
//!   `issued`) under the depot lock; a thread that refills its object cache from the depot takes
//!   a batch of the depot's spare references in the same lock (a pipeline's producer, which
//!   then rarely locks for references alone).
//! - A guard's drop releases its reference into the dropping thread's tally
//!   ([`ReleaseTally`](super::tally::ReleaseTally)), then checks the pool's `closing` flag behind
//!   a [light barrier](crate::barrier). Threads hand their tallies to the depot whenever they
//!   trade with it anyway, so nothing grows without bound, and in steady state `issued` is not
//!   touched at all.
//!
//! When the last [`Pool`](crate::Pool) handle drops, it collects every reference not held by a
//! live guard and gives them back to `issued`; the last guard out brings `issued` to 0 and
//! releases the pool. The rule that makes this sound (a release is a drop's last access to the
//! pool), the handshake with the last handle and the loom models that check them are in
//! `src/implementation.rs`, "Owned guards without a shared count".

use std::ptr::NonNull;

use super::depot::Depot;
use super::inner::Inner;
use super::slots::Shared;
use super::tally::{released_between, Begun, ReleaseTally};
use crate::barrier;
use crate::sync::{Arc, AtomicBool, AtomicUsize, Ordering};

/// References a thread takes from `issued` at once when the depot has none to give.
const BATCH: usize = 64;
/// A thread hands its tally of released references to the depot at least this often, even if
/// it never trades objects with the depot (a power of two).
const COLLECT_EVERY: usize = 1024;

/// The pool-wide counts behind owned guards and handles.
#[derive(Debug)]
pub(crate) struct Refs {
    /// Live `Pool` handles (the original and its clones).
    handles: AtomicUsize,
    /// References issued for owned guards (see the module docs).
    issued: AtomicUsize,
    /// Set (under the depot lock) when the last handle is gone.
    closing: AtomicBool,
}

impl Refs {
    pub(crate) fn new() -> Self {
        barrier::init();
        Self {
            handles: AtomicUsize::new(1),
            issued: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
        }
    }

    /// A new `Pool` handle (`Pool::clone`).
    pub(crate) fn add_handle(&self) {
        // Relaxed: the caller's handle keeps the pool alive; nothing is published.
        self.handles.fetch_add(1, Ordering::Relaxed);
    }

    /// A `Pool` handle is dropped; `true` if it was the last one. AcqRel: every use of the pool
    /// through any handle happens before the last handle's clean-up.
    pub(crate) fn drop_handle(&self) -> bool {
        self.handles.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

/// Gives `n` references back to `issued`; `true` if they were the last ones out, in which case
/// the caller must release the strong count they held. AcqRel: every guard's use of the pool
/// happens before the release.
///
/// A function of the atomic alone, not a method of [`Refs`]: once the `fetch_sub` is done,
/// another thread's may be the last one and free the pool while this call is still returning. A
/// reference to an atomic asserts nothing about the memory staying allocated; a `&Refs`
/// argument would (it covers the padding after `closing`, which is outside every `UnsafeCell`).
fn give_back(issued: &AtomicUsize, n: usize) -> bool {
    n > 0 && issued.fetch_sub(n, Ordering::AcqRel) == n
}

/// The part of a thread's tally not yet handed on, marked as handed on. The caller holds the
/// depot lock (the only writer of `collected_refs`); `released` is the tally's count as the
/// caller may read it (see [`ReleaseTally`]).
fn take_uncollected(shared: &Shared, released: usize) -> usize {
    let collected = shared.collected_refs.load(Ordering::Relaxed);
    shared.collected_refs.store(released, Ordering::Relaxed);
    released_between(collected, released)
}

impl<T, R> Inner<T, R> {
    /// Moves a thread's tally of released references into the depot's reserve, unless the pool
    /// is closing (then each drop gives its reference back itself, see `release_here`).
    pub(crate) fn collect_released(&self, shared: &Shared, depot: &mut Depot<T>) {
        if !self.refs.closing.load(Ordering::Relaxed) {
            // Not `settled`: a thief collects other threads' tallies, and must not wait for a
            // release in progress (it is counted at the next collection).
            depot.refs += take_uncollected(shared, shared.released_refs.completed());
        }
    }

    /// Under the depot lock, on the calling thread's refill from the depot: if the thread has no
    /// spare references and the depot's reserve has some, takes a batch of them as its spares. A
    /// thread that keeps taking objects from the depot in a pool with owned guards is most
    /// likely a pipeline's producer making owned guards of them, and this spares it the lock of
    /// `take_refs`. Only the owner calls this (the caller's `&Shared` is its own slot's), as
    /// `new_owned_ref` requires; moving references between the reserve and the spares under the
    /// lock keeps their sum, which is what `collect_refs_at_close` counts.
    pub(crate) fn stock_spare_refs(&self, shared: &Shared, depot: &mut Depot<T>) {
        if depot.refs == 0 || shared.spare_refs.load(Ordering::Relaxed) != 0 {
            return;
        }
        let n = depot.refs.min(BATCH);
        depot.refs -= n;
        shared.spare_refs.store(n, Ordering::Relaxed);
    }

    /// A thread exits: its spare references go to the depot's reserve (the caller holds the
    /// depot lock, and collected the thread's tally with `collect_released`).
    pub(crate) fn spare_refs_at_thread_exit(&self, shared: &Shared, depot: &mut Depot<T>) {
        depot.refs += shared.spare_refs.swap(0, Ordering::Relaxed);
    }

    /// The last handle is gone: collects every reference not held by a live guard. Returns
    /// whether none is left (the caller, which still holds a strong count, then releases the
    /// guards' one).
    fn collect_refs_at_close(&self) -> bool {
        let mut depot = self.depot();
        self.refs.closing.store(true, Ordering::Relaxed);
        // After this barrier, a drop that has not begun its release (made its tally odd) sees
        // `closing` and gives its reference back itself; one that has begun shows an odd tally,
        // which `settled` waits out.
        barrier::heavy();
        let mut unused = std::mem::take(&mut depot.refs);
        self.slots.for_each(|shared| {
            // At rest: no handle is left to run `get_owned`, and thread exits hold the lock.
            unused += shared.spare_refs.swap(0, Ordering::Relaxed);
            unused += take_uncollected(shared, shared.released_refs.settled());
        });
        drop(depot);
        give_back(&self.refs.issued, unused)
    }
}

impl<T: Send + 'static, R: crate::Recycler<T> + Send + Sync + 'static> Inner<T, R> {
    /// A reference for a new owned guard. `me` is the caller's handle: references are issued only
    /// while one is alive.
    #[inline(always)]
    pub(crate) fn new_owned_ref(&self, me: &Arc<Self>) -> OwnedRef<T, R> {
        let from_spare = self.with_slot(|_, slot| {
            let spare = &slot.shared().spare_refs;
            let n = spare.load(Ordering::Relaxed);
            if n == 0 {
                return false;
            }
            // Only the owner changes its spares while a handle lives (see the module docs).
            spare.store(n - 1, Ordering::Relaxed);
            true
        });
        if from_spare != Some(true) {
            self.take_refs(me);
        }
        OwnedRef {
            // `as_ptr`, not `&**me`: the pointer must carry the provenance of the whole `Arc`
            // allocation, as `Arc::decrement_strong_count` needs in `drop`.
            ptr: NonNull::new(Arc::as_ptr(me).cast_mut()).expect("`Arc` pointers are non-null"),
        }
    }

    /// Takes a batch of references (one for the caller, the rest as this thread's spares), or a
    /// single one if this thread has no slot.
    #[cold]
    #[inline(never)]
    fn take_refs(&self, me: &Arc<Self>) {
        let mut depot = self.depot();
        let stocked = self.with_slot(|_, slot| {
            self.collect_released(slot.shared(), &mut depot);
            let from_depot = depot.refs.min(BATCH);
            depot.refs -= from_depot;
            let n = if from_depot > 0 {
                from_depot
            } else {
                self.issue(me, BATCH);
                BATCH
            };
            slot.shared().spare_refs.store(n - 1, Ordering::Relaxed);
        });
        drop(depot);
        if stocked.is_none() {
            // This thread-local is being destroyed: one reference, straight from `issued`.
            self.issue(me, 1);
        }
    }

    /// Issues `n` more references; the first ones out take a strong count for all of them.
    fn issue(&self, me: &Arc<Self>, n: usize) {
        if self.refs.issued.fetch_add(n, Ordering::Relaxed) == 0 {
            std::mem::forget(Arc::clone(me));
        }
    }

    /// Begins releasing one reference on this thread: marks the release in progress in this
    /// thread's tally, then checks whether the pool is closing. The caller completes it with
    /// [`Release::Tallied`]'s store, its last access to the pool, after every frame that borrows
    /// the pool (this one included) has returned (see `OwnedRef::drop`).
    ///
    /// While the release is in progress the last handle waits (see `tally.rs` and
    /// `src/implementation.rs`), so the pool outlives this call whatever happens meanwhile.
    #[inline(always)]
    fn begin_release(&self) -> Release<'_> {
        self.with_slot(|_, slot| {
            let shared = slot.shared();
            let tally = &shared.released_refs;
            let begun = tally.begin(|released| {
                // Not once closing: an abandoned release leaves the count where it was, and
                // every later drop on this thread would take the depot lock for nothing.
                if released & (COLLECT_EVERY - 1) == COLLECT_EVERY - 1
                    && !self.refs.closing.load(Ordering::Relaxed)
                {
                    self.collect_now(shared);
                }
            });
            // Orders the odd tally before the check, as seen by `collect_refs_at_close`.
            barrier::light();
            if self.closing() {
                return abandon(tally, begun);
            }
            Release::Tallied(tally, begun)
        })
        .unwrap_or(Release::GiveBack)
    }

    /// Whether the last handle is gone (the pool is being closed or has been).
    #[inline(always)]
    fn closing(&self) -> bool {
        self.drop_sync.touch();
        self.refs.closing.load(Ordering::Relaxed)
    }

    /// Hands this thread's tally to the depot (a thread that drops many owned guards and never
    /// trades objects with the depot).
    #[cold]
    #[inline(never)]
    fn collect_now(&self, shared: &Shared) {
        let mut depot = self.depot();
        self.collect_released(shared, &mut depot);
    }
}

/// How an owned guard's release ends (see `Inner::begin_release`).
enum Release<'a> {
    /// Complete it in this tally: the last access to the pool. A reference to atomics only:
    /// unlike a reference to the pool, it asserts nothing about the pool's memory staying
    /// allocated while it lives (which a function argument would), so the pool may be freed
    /// right after the store, while the call that made it is still returning.
    Tallied(&'a ReleaseTally, Begun),
    /// The pool is closing, or this thread-local is being destroyed: the reference was counted
    /// nowhere, and the caller gives it back to `issued` itself.
    GiveBack,
}

/// Ends a release that found the pool closing without counting it. Out of line, so that the
/// common path stays short.
#[cold]
#[inline(never)]
fn abandon(tally: &ReleaseTally, begun: Begun) -> Release<'static> {
    tally.abandon(begun);
    Release::GiveBack
}

/// The last `Pool` handle is being dropped (`handle` is it): gives back every owned-guard
/// reference not held by a live guard, and the strong count they held if none is left.
pub(crate) fn last_handle_dropped<T, R>(handle: &Arc<Inner<T, R>>) {
    if handle.collect_refs_at_close() {
        handle.drop_sync.before_release();
        // SAFETY: the references held one strong count of this `Arc` (taken in `issue`) and
        // none is left, so the count is ours to give back; `handle` holds another, so this does
        // not free the pool under the caller's feet.
        unsafe { Arc::decrement_strong_count(Arc::as_ptr(handle)) };
    }
}

/// An owned guard's reference to its pool: one of the pool's issued references.
pub(crate) struct OwnedRef<T: Send + 'static, R: crate::Recycler<T> + Send + Sync + 'static> {
    ptr: NonNull<Inner<T, R>>,
}

// SAFETY: an `OwnedRef` is a shared reference to `Inner` that keeps it alive (like an `Arc`);
// sending or sharing it only sends or shares `&Inner`, which needs `Inner: Sync`. `Inner` is
// `Send + Sync` when `T: Send` and `R: Send + Sync`, which the bounds require.
unsafe impl<T: Send + 'static, R: crate::Recycler<T> + Send + Sync + 'static> Send
    for OwnedRef<T, R>
{
}

// SAFETY: as for `Send`: `&OwnedRef` only gives `&Inner`.
unsafe impl<T: Send + 'static, R: crate::Recycler<T> + Send + Sync + 'static> Sync
    for OwnedRef<T, R>
{
}

impl<T: Send + 'static, R: crate::Recycler<T> + Send + Sync + 'static> OwnedRef<T, R> {
    /// The pool.
    #[inline(always)]
    pub(crate) fn inner(&self) -> &Inner<T, R> {
        // SAFETY: `ptr` came from a live `Arc<Inner>`, and this reference is one of `issued`,
        // which holds a strong count of that `Arc` until the last reference is given back in
        // `drop`, after every use of this borrow.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: Send + 'static, R: crate::Recycler<T> + Send + Sync + 'static> Drop for OwnedRef<T, R> {
    #[inline(always)]
    fn drop(&mut self) {
        let inner = self.inner();
        match inner.begin_release() {
            // Every frame that borrowed the pool has returned: the store is the last access, and
            // the pool may be freed as soon as it is made (`inner` is not used again).
            Release::Tallied(tally, begun) => return tally.complete(begun),
            Release::GiveBack => {}
        }
        inner.drop_sync.touch();
        if !give_back(&inner.refs.issued, 1) {
            return;
        }
        // The last reference out: no borrow of `inner` is used past this point.
        inner.drop_sync.before_release();
        // SAFETY: the references held one strong count of the `Arc` that `ptr` came from (taken
        // in `issue`), and this was the last reference, so the count is ours to give back.
        unsafe { Arc::decrement_strong_count(self.ptr.as_ptr()) };
    }
}
