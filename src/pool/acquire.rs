//! Where the pool meets its [`Limiter`]: what a `get` does when no object is idle in this thread's
//! cache or the depot (run the factory, or, in a bounded pool at its cap, wait for an object or a
//! place), and where objects and places go while anyone waits. The rules (who is served, when,
//! and the `waiting` flag) are the limiter's, in `limiter.rs`; this file supplies what it needs
//! from the rest of the pool: the depot's idle objects, the thread caches, the factory and the
//! counts.

use std::mem;
use std::task::{ready, Poll, Waker};
use std::time::Instant;

use super::depot::Depot;
use super::inner::Inner;
use super::limiter::{block_until_served, poll_served, wake_all, Handoff, Limiter, Waiter, Wake};
use super::thread::drop_all;
use crate::counting::Change;
use crate::error::Timeout;
use crate::recycle::SharedRecycler;
use crate::sync::{current_thread, Arc};

impl<T: Send + 'static, R: SharedRecycler<T>> Inner<T, R> {
    /// A new object from the factory or, in a bounded pool, an object or place handed over when
    /// one is free, waiting for it until `deadline` (forever if `None`).
    #[cold]
    #[inline(never)]
    pub(crate) fn create_or_wait(&self, deadline: Option<Instant>) -> Result<Box<T>, Timeout> {
        match &self.limiter {
            None => Ok(self.create()),
            Some(limiter) => self
                .wait_for_handoff(limiter, deadline)
                .map(|handoff| self.take_handoff(handoff)),
        }
    }

    /// The first poll of an async acquisition, and every later one: ready with an object, or
    /// queued in `waiter` (to be woken through `waker`).
    pub(crate) fn poll_acquire(
        &self,
        waiter: &mut Option<Arc<Waiter<T>>>,
        waker: &Waker,
    ) -> Poll<Box<T>> {
        if let Some(queued) = waiter {
            let handoff = ready!(poll_served(queued, waker));
            *waiter = None;
            return Poll::Ready(self.take_handoff(handoff));
        }
        if let Some(obj) = self.take_cached().or_else(|| self.take_slow()) {
            return Poll::Ready(obj);
        }
        let Some(limiter) = &self.limiter else {
            return Poll::Ready(self.create());
        };
        match self.reserve_or_enqueue(limiter, Wake::Task(waker.clone())) {
            Ok(handoff) => Poll::Ready(self.take_handoff(handoff)),
            // The first waiter may have been served by what it took from the thread caches
            // while it queued: ready now (its wake-up, already sent, is then spurious).
            Err(queued) => match queued.take_served(None) {
                Some(handoff) => Poll::Ready(self.take_handoff(handoff)),
                None => {
                    *waiter = Some(queued);
                    Poll::Pending
                }
            },
        }
    }

    /// Ends a wait that will not take what it was handed (a dropped future): leaves the queue,
    /// or passes the object or place on to the next waiter.
    pub(crate) fn cancel_wait(&self, waiter: &Arc<Waiter<T>>) {
        let handoff = self.cancel_locked(waiter);
        match handoff {
            // Counted as a `get` it served when handed over; now as a guard's return.
            Some(Handoff::Object(obj)) => self.give_back(obj),
            Some(Handoff::Place) => self.free_places(1),
            None => {}
        }
    }

    /// A place for an object that enters the pool from outside (`put`), if one is free now;
    /// always in an unbounded pool. The caller frees it if the object is not kept.
    pub(crate) fn take_place_now(&self) -> bool {
        match &self.limiter {
            None => true,
            Some(limiter) => limiter.try_take(&mut self.depot().places, 1),
        }
    }

    /// A place for an object that enters the pool from outside and must be kept (`attach`),
    /// waiting for one at the cap. An object handed over instead is dropped to make room.
    pub(crate) fn take_place_waiting(&self) {
        let Some(limiter) = &self.limiter else {
            return;
        };
        let Ok(handoff) = self.wait_for_handoff(limiter, None) else {
            unreachable!("no deadline");
        };
        if let Handoff::Object(obj) = handoff {
            // Counted as a `get` it served when handed over: it ends here, discarded.
            self.count(Change::DiscardedOnReturn);
            let free_on_unwind = FreePlaceOnUnwind(self);
            drop(obj);
            mem::forget(free_on_unwind);
        }
    }

    /// What a waiter was handed, as an object: a place runs the factory.
    pub(crate) fn take_handoff(&self, handoff: Handoff<T>) -> Box<T> {
        match handoff {
            Handoff::Object(obj) => obj,
            Handoff::Place => {
                let free_on_unwind = FreePlaceOnUnwind(self);
                let obj = self.create();
                mem::forget(free_on_unwind);
                obj
            }
        }
    }

    /// An object or a place, waiting for one until `deadline` if none is free.
    fn wait_for_handoff(
        &self,
        limiter: &Limiter,
        deadline: Option<Instant>,
    ) -> Result<Handoff<T>, Timeout> {
        let waiter = match self.reserve_or_enqueue(limiter, Wake::Thread(current_thread())) {
            Ok(handoff) => return Ok(handoff),
            Err(waiter) => waiter,
        };
        block_until_served(&waiter, deadline, || self.cancel_locked(&waiter))
    }

    /// Under the depot lock: an idle depot object or a free place if nobody queued first;
    /// otherwise queues a waiter (woken by `wake`, which the caller made before locking: a
    /// `Waker`'s clone is user code). The first waiter sets the `waiting` flag and
    /// gathers every thread cache's objects, which serve the queue at once.
    fn reserve_or_enqueue(
        &self,
        limiter: &Limiter,
        wake: Wake,
    ) -> Result<Handoff<T>, Arc<Waiter<T>>> {
        let mut depot = self.depot();
        let Depot {
            magazines,
            counts,
            peak,
            places,
            ..
        } = &mut *depot;
        let reserved = limiter.reserve(places, || {
            let obj = magazines.take_one()?;
            counts.change(Change::Reused);
            peak.publish_own(counts);
            Some(obj)
        });
        if let Some(handoff) = reserved {
            drop(depot);
            drop(wake); // unused (a `Waker` is user code: dropped outside the lock)
            return Ok(handoff);
        }
        let (waiter, quiesced) = limiter.enqueue(&mut depot.places, wake);
        let mut wakes = Vec::new();
        let mut overflow = Vec::new();
        if let Some(quiesced) = quiesced {
            let mut haul = Vec::new();
            self.tier
                .slots
                .steal_cached(&mut depot, &quiesced, |cache, shared, depot| {
                    haul.append(&mut cache.take_all());
                    // What the owner does when it trades: its returns of the stolen objects get
                    // published with the gets they will serve (else a thread whose cache is
                    // emptied this way, and so never trades, would leave `peak_in_use` growing).
                    self.trade_tallies(shared, cache, depot);
                });
            overflow = self.stock(&mut depot, haul, &mut wakes);
        }
        drop(depot);
        wake_all(wakes);
        // What the depot had no room for (counted already): dropped outside the lock. If a
        // `T::drop` panics, the wait ends with it and passes on whatever it was handed.
        let cancel_on_unwind = CancelOnUnwind {
            inner: self,
            waiter: &waiter,
        };
        self.drop_then_free_places(overflow);
        mem::forget(cancel_on_unwind);
        Err(waiter)
    }

    /// Ends `waiter`'s wait under the depot lock (see [`Limiter::cancel`]).
    fn cancel_locked(&self, waiter: &Arc<Waiter<T>>) -> Option<Handoff<T>> {
        let limiter = self.limiter.as_ref()?;
        let mut wakes = Vec::new();
        let cancelled = limiter.cancel(&mut self.depot().places, waiter, &mut wakes);
        wake_all(wakes);
        drop(cancelled.stale); // a `Waker`'s drop is user code: outside the lock
        cancelled.handoff
    }

    /// Under the depot lock: hands `obj` to the first waiter, counted as the `get` it serves, and
    /// returns how to wake it; gives `obj` back if nobody waits.
    pub(super) fn hand_to_waiter(&self, depot: &mut Depot<T>, obj: Box<T>) -> Result<Wake, Box<T>> {
        let Some(limiter) = &self.limiter else {
            return Err(obj);
        };
        let wake = limiter.hand_over(&mut depot.places, obj)?;
        depot.count(Change::Reused);
        Ok(wake)
    }

    /// Under the depot lock: idle objects entering the depot in bulk (a thief's haul, an exiting
    /// thread's cache) go to waiters first, then to the depot. What does not fit is counted as
    /// discarded and returned for the caller to drop after unlocking, with
    /// [`Inner::drop_then_free_places`].
    pub(super) fn stock(
        &self,
        depot: &mut Depot<T>,
        mut objects: Vec<Box<T>>,
        wakes: &mut Vec<Wake>,
    ) -> Vec<Box<T>> {
        while let Some(obj) = objects.pop() {
            match self.hand_to_waiter(depot, obj) {
                Ok(wake) => wakes.push(wake),
                Err(obj) => {
                    objects.push(obj);
                    break;
                }
            }
        }
        let overflow = depot.magazines.adopt(objects);
        depot.counts.change(Change::IdleDropped(overflow.len()));
        overflow
    }

    /// Drops objects the pool gave up (already counted), each exactly once even if some
    /// `T::drop`s panic, and only then frees their places in a bounded pool: an object's place
    /// frees once the object is gone, so a waiter's new object never coexists with it. Resumes
    /// the first panic after that.
    pub(super) fn drop_then_free_places(&self, objects: impl IntoIterator<Item = Box<T>>) {
        if let Err(panic) = self.drop_all_then_free_places(objects) {
            std::panic::resume_unwind(panic);
        }
    }

    /// [`Inner::drop_then_free_places`] that returns the first panic instead of resuming it.
    pub(super) fn drop_all_then_free_places(
        &self,
        objects: impl IntoIterator<Item = Box<T>>,
    ) -> std::thread::Result<()> {
        let mut n = 0;
        let dropped = drop_all(objects.into_iter().inspect(|_| n += 1));
        self.free_places(n);
        dropped
    }

    /// Frees `n` places of a bounded pool (objects that ended): each goes to a waiter if one is
    /// queued. Nothing to do in an unbounded pool.
    pub(super) fn free_places(&self, n: usize) {
        let Some(limiter) = &self.limiter else {
            return;
        };
        if n == 0 {
            return;
        }
        let mut wakes = Vec::new();
        limiter.free(&mut self.depot().places, n, &mut wakes);
        wake_all(wakes);
    }

    /// Whether a bounded pool has waiters queued (see [`Limiter::waiters_queued`]).
    #[inline]
    pub(super) fn waiters_queued(&self) -> bool {
        self.limiter.as_ref().is_some_and(Limiter::waiters_queued)
    }
}

/// Frees a place whose object was not made or was lost to a panic (factory, `T::drop`).
struct FreePlaceOnUnwind<'a, T: Send + 'static, R: SharedRecycler<T>>(&'a Inner<T, R>);

impl<T: Send + 'static, R: SharedRecycler<T>> Drop for FreePlaceOnUnwind<'_, T, R> {
    fn drop(&mut self) {
        self.0.free_places(1);
    }
}

/// Ends a wait whose caller unwinds before it could wait.
struct CancelOnUnwind<'a, T: Send + 'static, R: SharedRecycler<T>> {
    inner: &'a Inner<T, R>,
    waiter: &'a Arc<Waiter<T>>,
}

impl<T: Send + 'static, R: SharedRecycler<T>> Drop for CancelOnUnwind<'_, T, R> {
    fn drop(&mut self) {
        self.inner.cancel_wait(self.waiter);
    }
}
