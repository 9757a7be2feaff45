//! Owned guards' references to their pool: [`OwnedRef`], and the pool's side of issuing and
//! releasing them.
//!
//! One of the crate's few files with `unsafe` code: an `OwnedRef` is a raw pointer to the pool
//! that one of the pool's issued references keeps valid. The accounting of those references
//! (batches, per-thread tallies, the close) is in `refs.rs`; the rule that makes this sound (a
//! release is a drop's last access to the pool) is in
//! [the implementation notes](crate::implementation#owned-guards-without-a-shared-count).

use std::ptr::NonNull;

use super::inner::Inner;
use super::refs::{give_back, Refs, Release};
use crate::recycle::SharedRecycler;
use crate::sync::Arc;

impl<T, R> Inner<T, R> {
    /// The last handle is gone: collects every reference not held by a live guard. Returns
    /// whether none is left (the caller, which still holds a strong count, then releases the
    /// guards' one).
    fn collect_refs_at_close(&self) -> bool {
        let mut depot = self.depot();
        let mut unused = self.refs.begin_close(&mut depot.refs);
        self.tier
            .slots
            .for_each(|shared| unused += Refs::collect_at_close(shared));
        drop(depot);
        give_back(&self.refs.issued, unused)
    }
}

impl<T: Send + 'static, R: SharedRecycler<T>> Inner<T, R> {
    /// A reference for a new owned guard. `me` is the caller's handle: references are issued only
    /// while one is alive.
    #[inline(always)]
    pub(crate) fn new_owned_ref(&self, me: &Arc<Self>) -> OwnedRef<T, R> {
        let from_spare = self.with_slot(|_, slot| self.refs.take_spare(slot.shared()));
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
            let new = self.refs.take_batch(slot.shared(), &mut depot.refs);
            self.issue(me, new);
        });
        drop(depot);
        if stocked.is_none() {
            // This thread-local is being destroyed: one reference, straight from `issued`.
            self.issue(me, 1);
        }
    }

    /// Issues `n` more references; the first ones out take a strong count for all of them.
    fn issue(&self, me: &Arc<Self>, n: usize) {
        if n > 0 && self.refs.issue(n) {
            std::mem::forget(Arc::clone(me));
        }
    }

    /// Begins releasing one reference on this thread (see [`Refs::begin_release`]); a thread
    /// whose thread-local is being destroyed gives its reference back itself.
    #[inline(always)]
    fn begin_release(&self) -> Release<'_> {
        self.with_slot(|_, slot| {
            let shared = slot.shared();
            self.refs
                .begin_release(shared, || self.closing(), || self.collect_now(shared))
        })
        .unwrap_or(Release::GiveBack)
    }

    /// Whether the last handle is gone (the pool is being closed or has been).
    #[inline(always)]
    fn closing(&self) -> bool {
        self.drop_sync.touch();
        self.refs.closing()
    }

    /// Hands this thread's tally to the depot (a thread that drops many owned guards and never
    /// trades objects with the depot).
    #[cold]
    #[inline(never)]
    fn collect_now(&self, shared: &super::slots::Shared) {
        let mut depot = self.depot();
        self.refs.collect_released(shared, &mut depot.refs);
    }
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
pub(crate) struct OwnedRef<T: Send + 'static, R: SharedRecycler<T>> {
    ptr: NonNull<Inner<T, R>>,
}

// SAFETY: an `OwnedRef` is a shared reference to `Inner` that keeps it alive (like an `Arc`);
// sending or sharing it only sends or shares `&Inner`, which needs `Inner: Sync`. `Inner` is
// `Send + Sync` when `T: Send` and `R: Send + Sync`, which the bounds require.
unsafe impl<T: Send + 'static, R: SharedRecycler<T>> Send for OwnedRef<T, R> {}

// SAFETY: as for `Send`: `&OwnedRef` only gives `&Inner`.
unsafe impl<T: Send + 'static, R: SharedRecycler<T>> Sync for OwnedRef<T, R> {}

impl<T: Send + 'static, R: SharedRecycler<T>> OwnedRef<T, R> {
    /// The pool.
    #[inline(always)]
    pub(crate) fn inner(&self) -> &Inner<T, R> {
        // SAFETY: `ptr` came from a live `Arc<Inner>`, and this reference is one of `issued`,
        // which holds a strong count of that `Arc` until the last reference is given back in
        // `drop`, after every use of this borrow.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: Send + 'static, R: SharedRecycler<T>> Drop for OwnedRef<T, R> {
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
