//! The owned-guard reference accounting: how [`OwnedPooled`](crate::OwnedPooled) guards keep
//! their pool alive without a shared reference count per object. References are issued in
//! batches (`issued`, one atomic per pool), held as spares per thread, tallied per thread when
//! guards drop, and collected into the depot's reserve when threads trade with the depot; the
//! last handle collects them all at close.
//!
//! The mechanism, the invariant on `issued`, the rule that a release is a drop's last access to
//! the pool, the handshake with the last handle and the loom models that check them:
//! [the implementation notes](crate::implementation#owned-guards-without-a-shared-count). The
//! raw reference and its unsafe code are in `owned.rs`.
//!
//! Every method here that takes the reserve (`&mut usize`, the depot's `refs`) runs under the
//! depot lock.

use super::slots::Shared;
use super::tally::{released_between, Begun, ReleaseTally};
use crate::barrier;
use crate::sync::{AtomicBool, AtomicUsize, Ordering};

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
    pub(crate) issued: AtomicUsize,
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
pub(crate) fn give_back(issued: &AtomicUsize, n: usize) -> bool {
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

impl Refs {
    /// Whether the last handle is gone (the pool is being closed or has been).
    #[inline(always)]
    pub(crate) fn closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }

    /// Moves a thread's tally of released references into the reserve, unless the pool is
    /// closing (then each drop gives its reference back itself, see `begin_release`).
    pub(crate) fn collect_released(&self, shared: &Shared, reserve: &mut usize) {
        if !self.closing() {
            // Not `settled`: a thief collects other threads' tallies, and must not wait for a
            // release in progress (it is counted at the next collection).
            *reserve += take_uncollected(shared, shared.released_refs.completed());
        }
    }

    /// On the calling thread's refill from the depot: if the thread has no spare references and
    /// the reserve has some, takes a batch of them as its spares. A thread that keeps taking
    /// objects from the depot in a pool with owned guards is most likely a pipeline's producer
    /// making owned guards of them, and this spares it the lock of `take_batch`. Only the owner
    /// calls this (the caller's `&Shared` is its own slot's), as `take_spare` requires; moving
    /// references between the reserve and the spares under the lock keeps their sum, which is
    /// what `collect_at_close` counts.
    pub(crate) fn stock_spares(&self, shared: &Shared, reserve: &mut usize) {
        if *reserve == 0 || shared.spare_refs.load(Ordering::Relaxed) != 0 {
            return;
        }
        let n = (*reserve).min(BATCH);
        *reserve -= n;
        shared.spare_refs.store(n, Ordering::Relaxed);
    }

    /// A thread exits: its spare references go to the reserve (the caller collected the thread's
    /// tally with `collect_released`).
    pub(crate) fn spares_at_thread_exit(&self, shared: &Shared, reserve: &mut usize) {
        *reserve += shared.spare_refs.swap(0, Ordering::Relaxed);
    }

    /// Takes one of this thread's spare references (`shared` is the caller's own slot); `false`
    /// if it has none.
    #[inline(always)]
    pub(crate) fn take_spare(&self, shared: &Shared) -> bool {
        let spare = &shared.spare_refs;
        let n = spare.load(Ordering::Relaxed);
        if n == 0 {
            return false;
        }
        // Only the owner changes its spares while a handle lives (see the module docs).
        spare.store(n - 1, Ordering::Relaxed);
        true
    }

    /// Takes a batch of references for the thread of `shared` (one for the caller, the rest as
    /// its spares): from the reserve, or else `BATCH` new ones. Returns how many are new: the
    /// caller passes them to [`Refs::issue`].
    pub(crate) fn take_batch(&self, shared: &Shared, reserve: &mut usize) -> usize {
        self.collect_released(shared, reserve);
        let from_reserve = (*reserve).min(BATCH);
        *reserve -= from_reserve;
        let (n, new) = if from_reserve > 0 {
            (from_reserve, 0)
        } else {
            (BATCH, BATCH)
        };
        shared.spare_refs.store(n - 1, Ordering::Relaxed);
        new
    }

    /// Issues `n` more references; `true` if they are the first ones out, in which case the
    /// caller takes a strong count of the pool for all of them.
    pub(crate) fn issue(&self, n: usize) -> bool {
        self.issued.fetch_add(n, Ordering::Relaxed) == 0
    }

    /// The last handle is gone: marks the pool closing and takes the reserve. The caller then
    /// adds every slot's part with [`Refs::collect_at_close`], and gives the sum back with
    /// [`give_back`].
    pub(crate) fn begin_close(&self, reserve: &mut usize) -> usize {
        self.closing.store(true, Ordering::Relaxed);
        // After this barrier, a drop that has not begun its release (made its tally odd) sees
        // `closing` and gives its reference back itself; one that has begun shows an odd tally,
        // which `settled` waits out.
        barrier::heavy();
        std::mem::take(reserve)
    }

    /// A slot's references not held by a live guard, at close (see [`Refs::begin_close`]).
    pub(crate) fn collect_at_close(shared: &Shared) -> usize {
        // At rest: no handle is left to run `get_owned`, and thread exits hold the lock.
        shared.spare_refs.swap(0, Ordering::Relaxed)
            + take_uncollected(shared, shared.released_refs.settled())
    }

    /// Begins releasing one reference on the thread of `shared` (the caller's own slot): marks
    /// the release in progress in its tally, then checks whether the pool is closing
    /// (`closing`). The caller completes it with [`Release::Tallied`]'s store, its last access to
    /// the pool, after every frame that borrows the pool has returned (see `OwnedRef::drop`).
    /// `collect_now` hands the tally to the reserve (every `COLLECT_EVERY` releases).
    ///
    /// While the release is in progress the last handle waits (see `tally.rs` and
    /// [the implementation notes](crate::implementation#owned-guards-without-a-shared-count)),
    /// so the pool outlives this call whatever happens meanwhile.
    #[inline(always)]
    pub(crate) fn begin_release<'s>(
        &self,
        shared: &'s Shared,
        closing: impl FnOnce() -> bool,
        collect_now: impl FnOnce(),
    ) -> Release<'s> {
        let tally = &shared.released_refs;
        let begun = tally.begin(|released| {
            // Not once closing: an abandoned release leaves the count where it was, and every
            // later drop on this thread would take the depot lock for nothing.
            if released & (COLLECT_EVERY - 1) == COLLECT_EVERY - 1 && !self.closing() {
                collect_now();
            }
        });
        // Orders the odd tally before the check, as seen by `begin_close`.
        barrier::light();
        if closing() {
            return abandon(tally, begun);
        }
        Release::Tallied(tally, begun)
    }
}

/// How an owned guard's release ends (see `Refs::begin_release`).
pub(crate) enum Release<'a> {
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
