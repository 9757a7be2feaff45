//! Where the pool meets its [`Limiter`]: what a `get` does when no object is idle in this thread's
//! cache or the depot (run the factory, or, in a bounded pool at its cap, wait for an object or a
//! place), and where objects and places go while anyone waits. The rules (who is served, when,
//! and the `waiting` flag) are the limiter's, in `limiter.rs`; this file supplies what it needs
//! from the rest of the pool: the depot's idle objects, the thread caches, the factory and the
//! counts.

use std::mem;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::task::{ready, Poll, Waker};
use std::time::Instant;

use super::depot::Depot;
use super::inner::Inner;
use super::lanes::Lanes;
use super::limiter::Limiter;
use super::thread::drop_all;
use super::tier::Source;
use super::waiter::{
    block_until_served, poll_served, Closed, Handoff, Polled, Waiter, Wake, Wakes,
};
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

    /// After a miss in this thread's cache: an idle object from the depot, a new one from the
    /// factory, or in a bounded pool at its cap an object or place handed over, waiting until
    /// `deadline` (forever if `None`). With the caches closed, the depot's idle objects are
    /// looked at under the same lock as the queue ([`Limiter::reserve`]): one lock, not two.
    pub(crate) fn take_slow_or_wait(&self, deadline: Option<Instant>) -> Result<Box<T>, Timeout> {
        if !self.caches_closed() {
            if let Some(obj) = self.take_slow() {
                return Ok(obj);
            }
        }
        self.create_or_wait(deadline)
    }

    /// The first poll of an async acquisition, and every later one: ready with an object, or
    /// queued in `waiter` (to be woken through `waker`).
    pub(crate) fn poll_acquire(
        &self,
        waiter: &mut Option<Arc<Waiter<T>>>,
        waker: &Waker,
    ) -> Poll<Box<T>> {
        if let Some(queued) = waiter {
            let retry = || self.retry_locked(queued, || Wake::Task(waker.clone()));
            let handoff = ready!(poll_served(queued, waker, retry));
            *waiter = None;
            return Poll::Ready(self.take_handoff(handoff));
        }
        if let Some(obj) = self.take_cached() {
            return Poll::Ready(obj);
        }
        if !self.caches_closed() {
            if let Some(obj) = self.take_slow() {
                return Poll::Ready(obj);
            }
        }
        let Some(limiter) = &self.limiter else {
            return Poll::Ready(self.create());
        };
        if let Some(lanes) = &self.lanes {
            // At the cap with nothing in the depot: queue in this thread's lane without the
            // depot lock (`lanes.rs`), unless the depot may serve after all.
            if self.caches_closed() && !lanes.depot_may_serve() {
                self.drop_sync.touch();
                let (node, depot_may_serve) =
                    lanes.enqueue(lanes.mine(), Wake::Task(waker.clone()));
                if !depot_may_serve {
                    *waiter = Some(node);
                    return Poll::Pending;
                }
                if let Some(handoff) = withdraw_from_lane(lanes, &node, true) {
                    return Poll::Ready(self.take_handoff(handoff));
                }
            }
        }
        let queued = match self.reserve_or_enqueue(limiter, Wake::Task(waker.clone())) {
            Ok(handoff) => return Poll::Ready(self.take_handoff(handoff)),
            Err(queued) => queued,
        };
        // A waiter that gathered the thread caches' objects may have been served by them: ready
        // now (its wake-up, already sent, is then spurious). Otherwise it is not looked at
        // again: whatever reaches it from now on (an object, a notification) comes with a
        // wake-up, and reading its state here would cost every wait a lock on a node that the
        // thread serving it may hold.
        if queued.stole {
            if let Polled::Served(handoff) = queued.waiter.poll(None) {
                return Poll::Ready(self.take_handoff(handoff));
            }
        }
        *waiter = Some(queued.waiter);
        Poll::Pending
    }

    /// Ends a wait that will not take what it was handed (a dropped future): leaves the queue,
    /// or passes the object or place on to the next waiter.
    pub(crate) fn cancel_wait(&self, waiter: &Arc<Waiter<T>>) {
        let handoff = match (&self.lanes, waiter.lane) {
            (Some(lanes), Some(_)) => withdraw_from_lane(lanes, waiter, false),
            _ => self.cancel_locked(waiter),
        };
        if let Some(handoff) = handoff {
            self.pass_on(handoff);
        }
    }

    /// Passes on what a waiter was handed and will not use: the object comes back as a guard's
    /// return would, the place frees.
    fn pass_on(&self, handoff: Handoff<T>) {
        match handoff {
            // Counted as a `get` it served when handed over; now as a guard's return.
            Handoff::Object(obj) => self.give_back(obj),
            Handoff::Place => self.free_places(1),
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
            Err(queued) => queued.waiter,
        };
        block_until_served(
            &waiter,
            deadline,
            || self.retry_locked(&waiter, || Wake::Thread(current_thread())),
            || self.cancel_locked(&waiter),
        )
    }

    /// A notified waiter looks for an idle object in the depot under the lock, or waits again
    /// (woken by `wake`, made before locking: a `Waker`'s clone is user code). See
    /// [`Limiter::retry`].
    fn retry_locked(
        &self,
        waiter: &Arc<Waiter<T>>,
        wake: impl FnOnce() -> Wake,
    ) -> Option<Handoff<T>> {
        let limiter = self.limiter.as_ref()?;
        let wake = wake();
        let mut wakes = Wakes::default();
        let mut depot = self.depot();
        let (places, mut idle) = depot.places_and_idle();
        let retried = limiter.retry(places, waiter, || idle.take(), wake, &mut wakes);
        self.offer_to_lanes(&mut depot, &mut wakes);
        drop(depot);
        // A `Waker` that panics (the next waiter's, notified of another idle object) must not
        // take the object this waiter found with it: it is passed on, then the panic resumed.
        let woken = catch_unwind(AssertUnwindSafe(|| wakes.wake_all()));
        drop(retried.unused); // a `Waker`'s drop is user code: outside the lock
        if let Err(panic) = woken {
            if let Some(handoff) = retried.handoff {
                self.pass_on(handoff);
            }
            resume_unwind(panic);
        }
        retried.handoff
    }

    /// Under the depot lock: an idle depot object (even if others wait: see `limiter.rs`), or a
    /// free place if nobody queued first; otherwise queues a waiter (woken by `wake`, which the
    /// caller made before locking: a `Waker`'s clone is user code). A waiter that finds the
    /// caches open closes them and gathers every thread cache's objects, which serve the queue
    /// at once.
    fn reserve_or_enqueue(&self, limiter: &Limiter, wake: Wake) -> Result<Handoff<T>, Queued<T>> {
        let mut depot = self.depot();
        let (places, mut idle) = depot.places_and_idle();
        let reserved = limiter.reserve(places, || idle.take().map(|(obj, _)| obj));
        if let Some(handoff) = reserved {
            drop(depot);
            drop(wake); // unused (a `Waker` is user code: dropped outside the lock)
            return Ok(handoff);
        }
        let (waiter, quiesced) = match (&wake, &self.lanes) {
            // A task waits in its lane (`lanes.rs`); with the caches closed the depot has nothing
            // for it (`reserve` found neither an idle object nor a free place), which lets later
            // tasks queue without this lock. Open caches close first, and their objects serve it.
            (Wake::Task(_), Some(lanes)) if !depot.places.has_waiters() => {
                let (waiter, _) = lanes.enqueue(lanes.mine(), wake);
                let quiesced = limiter.close_caches();
                if quiesced.is_none() {
                    lanes.depot_cannot_serve();
                }
                (waiter, quiesced)
            }
            _ => {
                if let Some(lanes) = &self.lanes {
                    // Tasks that come later queue behind this waiter, in the depot's queue.
                    lanes.depot_can_serve();
                }
                limiter.enqueue(&mut depot.places, wake)
            }
        };
        let mut wakes = Wakes::default();
        let mut overflow = Vec::new();
        let stole = quiesced.is_some();
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
        // If a `Waker` panics (this task's own, served by the haul) or a `T::drop` does (what
        // the depot had no room for, counted already, dropped outside the lock), the wait ends
        // with it and passes on whatever it was handed; the places of the overflow still free.
        let cancel_on_unwind = CancelOnUnwind {
            inner: self,
            waiter: &waiter,
        };
        let woken = catch_unwind(AssertUnwindSafe(|| wakes.wake_all()));
        self.drop_then_free_places(overflow);
        if let Err(panic) = woken {
            resume_unwind(panic);
        }
        mem::forget(cancel_on_unwind);
        Err(Queued { waiter, stole })
    }

    /// Ends `waiter`'s wait under the depot lock (see [`Limiter::cancel`]).
    fn cancel_locked(&self, waiter: &Arc<Waiter<T>>) -> Option<Handoff<T>> {
        let limiter = self.limiter.as_ref()?;
        let mut wakes = Wakes::default();
        let mut depot = self.depot();
        let idle = depot.magazines.idle() > 0;
        let cancelled = limiter.cancel(&mut depot.places, waiter, idle, &mut wakes);
        self.offer_to_lanes(&mut depot, &mut wakes);
        drop(depot);
        wakes.wake_all();
        drop(cancelled.stale); // a `Waker`'s drop is user code: outside the lock
        cancelled.handoff
    }

    /// Under the depot lock, while the caches are closed: an object that came back goes to an
    /// overdue waiter (counted as the `get` it serves), or is given back for the caller to keep
    /// idle in the depot, where a waiter is woken to take it (see [`Limiter::on_return`]).
    pub(super) fn return_while_closed(
        &self,
        depot: &mut Depot<T>,
        obj: Box<T>,
        wakes: &mut Wakes,
    ) -> Option<Box<T>> {
        let Some(limiter) = &self.limiter else {
            return Some(obj);
        };
        let idle = depot.magazines.idle() > 0;
        let kept = limiter.on_return(&mut depot.places, obj, idle, wakes);
        if kept.is_none() {
            depot.count(Change::Reused);
        }
        kept
    }

    /// Under the depot lock: idle objects entering the depot in bulk (a thief's haul, an exiting
    /// thread's cache) go to waiters first, then to the depot. What does not fit is counted as
    /// discarded and returned for the caller to drop after unlocking, with
    /// [`Inner::drop_then_free_places`].
    pub(super) fn stock(
        &self,
        depot: &mut Depot<T>,
        mut objects: Vec<Box<T>>,
        wakes: &mut Wakes,
    ) -> Vec<Box<T>> {
        if let Some(limiter) = &self.limiter {
            let idle = depot.magazines.idle() > 0;
            while let Some(obj) = objects.pop() {
                match limiter.hand_over(&mut depot.places, obj, idle, wakes) {
                    Ok(()) => depot.count(Change::Reused),
                    Err(obj) => {
                        objects.push(obj);
                        break;
                    }
                }
            }
        }
        let overflow = depot.magazines.adopt(objects);
        depot.counts.change(Change::IdleDropped(overflow.len()));
        self.offer_to_lanes(depot, wakes);
        overflow
    }

    /// A return while the caches are closed: hands `obj` to the first task of this thread's lane
    /// (`lanes.rs`) without the depot lock, and wakes it; gives `obj` back if the depot must
    /// take it (no lane, an empty one, or the end of its streak).
    pub(super) fn serve_own_lane(&self, obj: Box<T>, source: Source) -> Result<(), Box<T>> {
        let Some(lanes) = &self.lanes else {
            return Err(obj);
        };
        self.drop_sync.touch();
        lanes.serve_own(obj, source)?.wake();
        Ok(())
    }

    /// Under the depot lock, a return while the caches are closed and threads wait in the depot's
    /// queue: hands `obj` to the next lane's first task if it is the lanes' turn (see
    /// [`Lanes::lanes_turn`](super::lanes::Lanes::lanes_turn)), counted as the `get` it serves;
    /// gives `obj` back otherwise.
    pub(super) fn lanes_turn(
        &self,
        depot: &mut Depot<T>,
        obj: Box<T>,
        wakes: &mut Wakes,
    ) -> Result<(), Box<T>> {
        let Some(lanes) = &self.lanes else {
            return Err(obj);
        };
        if !lanes.lanes_turn(depot.places.has_waiters()) {
            return Err(obj);
        }
        match lanes.serve_next(Handoff::Object(obj), wakes) {
            Ok(()) => {
                depot.count(Change::Reused);
                Ok(())
            }
            Err(Handoff::Object(obj)) => Err(obj),
            Err(Handoff::Place) => unreachable!("offered an object"),
        }
    }

    /// Under the depot lock, after anything that may let the depot serve a caller (an object
    /// kept idle, places freed, objects stocked): serves the tasks queued in lanes with what the
    /// depot has, in turn, then lets tasks queue without the lock again if nothing is left
    /// (see `lanes.rs`). Each object handed over is counted as the `get` it serves.
    pub(super) fn offer_to_lanes(&self, depot: &mut Depot<T>, wakes: &mut Wakes) {
        let (Some(lanes), Some(limiter)) = (&self.lanes, &self.limiter) else {
            return;
        };
        // The flag first: it also keeps tasks from queueing in lanes while threads wait in the
        // depot's queue, whose rules serve them first (`limiter.rs`).
        if !lanes.depot_can_serve() || depot.places.has_waiters() {
            return;
        }
        while lanes.any_queued() {
            let handoff = match depot.magazines.take_one() {
                Some(obj) => Handoff::Object(obj),
                None if limiter.try_take(&mut depot.places, 1) => Handoff::Place,
                None => break,
            };
            let object = matches!(handoff, Handoff::Object(_));
            match lanes.serve_next(handoff, wakes) {
                Ok(()) if object => depot.count(Change::Reused),
                Ok(()) => {}
                // Every lane emptied meanwhile (its tasks withdrew): back where it came from.
                Err(Handoff::Object(obj)) => {
                    if depot.magazines.put_one(obj).is_err() {
                        unreachable!("room for the object just taken");
                    }
                    break;
                }
                Err(Handoff::Place) => {
                    depot.places.free(1);
                    break;
                }
            }
        }
        let nothing_left = depot.magazines.idle() == 0
            && depot.places.live() >= limiter.max_live
            && limiter.caches_closed_locked();
        if nothing_left {
            lanes.depot_cannot_serve();
        }
    }

    /// Reopens the caches if they have been closed long enough and no task waits in a lane
    /// (see [`Limiter::reopen_if_due`]).
    pub(super) fn reopen_if_due(&self, depot: &mut Depot<T>) {
        if let Some(limiter) = &self.limiter {
            limiter.reopen_if_due(&mut depot.places, || {
                self.lanes.as_ref().map_or(true, |lanes| {
                    !lanes.any_queued() && !lanes.depot_can_serve()
                })
            });
        }
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
        let mut wakes = Wakes::default();
        let mut depot = self.depot();
        let idle = depot.magazines.idle() > 0;
        limiter.free(&mut depot.places, n, idle, &mut wakes);
        self.offer_to_lanes(&mut depot, &mut wakes);
        drop(depot);
        wakes.wake_all();
    }

    /// Whether a bounded pool's thread caches are closed (see [`Limiter::caches_closed`]).
    #[inline]
    pub(super) fn caches_closed(&self) -> bool {
        self.limiter.as_ref().is_some_and(Limiter::caches_closed)
    }

    /// Under the depot lock: an idle object straight from the depot, for a slow path that finds
    /// the caches closed or has no thread tier (even if others wait: see `limiter.rs`). Reopens
    /// the caches first if they have been closed long enough.
    pub(super) fn take_from_depot(&self, depot: &mut Depot<T>) -> Option<Box<T>> {
        self.reopen_if_due(depot);
        let taken = depot.magazines.take_one();
        if taken.is_some() {
            depot.count(Change::Reused);
        }
        taken
    }
}

/// Ends the wait of a task queued in a lane (see [`Lanes::withdraw`]): what it was handed, if it
/// was served meanwhile. The `Waker` of a task that left its lane is dropped here, after the
/// lane's lock (user code).
fn withdraw_from_lane<T: 'static>(
    lanes: &Lanes<T>,
    node: &Arc<Waiter<T>>,
    uncount: bool,
) -> Option<Handoff<T>> {
    match lanes.withdraw(node, uncount) {
        Closed::Served(handoff) => Some(handoff),
        Closed::LeftQueue(_) | Closed::Already => None,
    }
}

/// A caller that had to queue ([`Inner::reserve_or_enqueue`]).
struct Queued<T> {
    waiter: Arc<Waiter<T>>,
    /// Whether it closed the caches and gathered their objects, which may have served it.
    stole: bool,
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
