//! The limiter of a bounded pool (`max_live`): places, the queue of callers waiting for one,
//! who gets what comes back, and when the thread caches close. An unbounded pool has none, and
//! its hit path never reads it.
//!
//! A *place* is the right for one object to exist. A bounded pool counts the places taken
//! (`live`: objects in use plus idle anywhere, thread caches included) under the depot lock, so
//! only the slow paths that create or end an object touch it: a hit reuses an object that already
//! has its place. At the cap, a caller queues a [`Waiter`] (`waiter.rs`; the queue is
//! `places.rs`).
//!
//! **Eventual fairness**, as parking_lot's locks have it: an object that comes back while
//! callers wait stays idle in the depot, and the first waiter is woken to take it
//! ([`Limiter::retry`]); a caller that did not queue (typically the thread that just returned it)
//! may take it first and keep working without a context switch. A waiter that has waited longer
//! than `fair_after` is *overdue*: the next object that comes back is handed to it directly, so
//! no waiter waits much longer than that while objects come back. Places that free (an object
//! ended) are always handed to waiters in order. With `fair_after` zero every waiter is overdue
//! at once: strict first come, first served, every object handed over. Tasks are never
//! notified: in strict order they wait in this queue, overdue at once; otherwise in per-thread
//! lanes, beside it (`lanes.rs`), served after this queue's waiters.
//!
//! How waiters are served, the steal and its handshake with the hit path:
//! [the implementation notes](crate::implementation#bounded-pools).
//!
//! Everything here runs under the owner's lock (the caller passes its [`Places`]) and moves
//! pointers only: waking a waiter happens after unlocking ([`Wakes`]: a `Waker` may run an
//! executor's code), and objects the pool gives up are dropped by the caller after unlocking, as
//! everywhere in the pool. `acquire.rs` is where the pool calls this.

use std::time::Duration;

use super::places::Places;
use super::waiter::{Closed, Handoff, Polled, Waiter, Wake, Wakes};
use crate::barrier;
use crate::sync::{now, Arc, AtomicBool, Ordering};

/// The longest a pool's thread caches stay closed after the last wait ended (see
/// [`Limiter::reopen_if_due`]): shorter than `fair_after` if that is longer, so a pool that
/// left its cap behind is back on its hit path soon.
const REOPEN_AFTER_MAX: Duration = Duration::from_millis(1);

/// The cap of a bounded pool, its fairness bound and the flag its hit paths read. Its methods
/// that take a `&mut Places` run under the owner's lock.
pub(crate) struct Limiter {
    /// At most this many objects exist at once.
    pub(crate) max_live: usize,
    /// Set while a pool's thread caches are closed: from the first waiter on, and until the
    /// queue has stayed empty for a while (written under the depot lock). Read by every hit path
    /// of the pool, which then takes the slow path, to the depot.
    pub(crate) caches_closed: AtomicBool,
    /// How long a waiter may be overtaken; `None`: not at all (strict order).
    fair_after: Option<Duration>,
}

impl Limiter {
    /// A limiter of `max_live` places whose waiters become overdue after `fair_after` (zero:
    /// at once, strict order).
    pub(crate) fn new(max_live: usize, fair_after: Duration) -> Self {
        Self {
            max_live,
            caches_closed: AtomicBool::new(false),
            fair_after: (!fair_after.is_zero()).then_some(fair_after),
        }
    }

    /// Whether the thread caches are closed, as of this read (acquire: a `false` publishes what
    /// a thief did to the caches, as on the hit path).
    #[inline]
    pub(crate) fn caches_closed(&self) -> bool {
        self.caches_closed.load(Ordering::Acquire)
    }

    /// Whether the caches are closed, read under the depot lock (which every write holds).
    pub(crate) fn caches_closed_locked(&self) -> bool {
        self.caches_closed.load(Ordering::Relaxed)
    }

    /// What a caller gets at once: an idle object (`take_idle`, the depot's), even if others
    /// wait (see the module docs), or else a free place if nobody queued before it. `None`: it
    /// must queue.
    pub(crate) fn reserve<T: 'static>(
        &self,
        places: &mut Places<T>,
        take_idle: impl FnOnce() -> Option<Box<T>>,
    ) -> Option<Handoff<T>> {
        if let Some(obj) = take_idle() {
            return Some(Handoff::Object(obj));
        }
        places.try_take(self.max_live, 1).then_some(Handoff::Place)
    }

    /// Takes `need` places if they are free and nobody queued before the caller: a `put`'s one
    /// place, or a buffer's bytes.
    pub(crate) fn try_take<T: 'static>(&self, places: &mut Places<T>, need: usize) -> bool {
        places.try_take(self.max_live, need)
    }

    /// Queues a waiter for one object or place, last. If the caches are open, it closes them and
    /// returns the [`Quiesced`] proof with which the caller gathers every cache's objects (they
    /// serve the queue at once); while they stay closed, later waiters need no steal.
    pub(crate) fn enqueue<T: 'static>(
        &self,
        places: &mut Places<T>,
        wake: Wake,
    ) -> (Arc<Waiter<T>>, Option<Quiesced<'_>>) {
        // A task here is served in strict order (see the module docs); so is every waiter of a
        // strict limiter. A bound too far to represent is never reached.
        let fair_at = match (&wake, self.fair_after) {
            (Wake::Thread(_), Some(after)) => Some(now().checked_add(after)),
            _ => None,
        };
        let waiter = places.enqueue(wake, 1, fair_at);
        (waiter, self.close_caches())
    }

    /// Closes the caches for a caller that queued, if they are open: the [`Quiesced`] proof with
    /// which it gathers every cache's objects (they serve the queue at once). While they stay
    /// closed, later waiters need no steal.
    pub(crate) fn close_caches(&self) -> Option<Quiesced<'_>> {
        (!self.caches_closed_locked()).then(|| Quiesced::new(&self.caches_closed))
    }

    /// Whether every waiter is served in strict order (`fair_after` zero): then tasks wait in
    /// the owner's queue, not in lanes (`lanes.rs`).
    pub(crate) fn is_strict(&self) -> bool {
        self.fair_after.is_none()
    }

    /// Queues a waiter for `need` places, last, where nothing idle can serve it (a budget: it
    /// waits for places only, in order, so nobody closes caches or steals).
    pub(crate) fn enqueue_for_places<T: 'static>(
        &self,
        places: &mut Places<T>,
        wake: Wake,
        need: usize,
    ) -> Arc<Waiter<T>> {
        debug_assert!(need <= self.max_live, "a need over the cap never fits");
        places.enqueue(wake, need, None)
    }

    /// An object came back while the caches are closed. An overdue first waiter is handed it
    /// (`None`); otherwise the caller keeps it idle in the depot (`Some`), and the first waiter
    /// is woken to come and take it, unless one is on its way already. `idle`: whether the owner
    /// has idle objects already (see [`Limiter::hand_over`]). The caller counts a hand-over as
    /// the `get` it serves.
    pub(crate) fn on_return<T: 'static>(
        &self,
        places: &mut Places<T>,
        obj: Box<T>,
        idle: bool,
        wakes: &mut Wakes,
    ) -> Option<Box<T>> {
        let Some(first) = places.first() else {
            return Some(obj);
        };
        if !self.overdue(first) {
            places.notify_first(wakes);
            return Some(obj);
        }
        self.hand_over(places, obj, idle, wakes).err()
    }

    /// Hands `obj` to the first waiter, whatever its wait, and pushes how to wake it; gives
    /// `obj` back if nobody waits. For objects entering the depot in bulk (a thief's haul, an
    /// exiting thread's cache): nobody is overtaken there. `idle`: whether the owner has idle
    /// objects; if the waiter served was the notified one (notified of one of them), the notice
    /// passes on to the next, who would otherwise sleep with an object idle. The caller counts
    /// it as the `get` it serves.
    pub(crate) fn hand_over<T: 'static>(
        &self,
        places: &mut Places<T>,
        obj: Box<T>,
        idle: bool,
        wakes: &mut Wakes,
    ) -> Result<(), Box<T>> {
        places
            .serve(Handoff::Object(obj), wakes)
            .map_err(|handoff| match handoff {
                Handoff::Object(obj) => obj,
                Handoff::Place => unreachable!("served an object"),
            })?;
        if idle {
            places.notify_first(wakes);
        }
        self.settle(places);
        Ok(())
    }

    /// A notified `waiter` looks for an idle object (`take_idle`: the depot's, and whether more
    /// are left): it leaves the queue with one, or waits again in its place to be woken by
    /// `wake`. If it was served meanwhile, that is what it gets.
    pub(crate) fn retry<T: 'static>(
        &self,
        places: &mut Places<T>,
        waiter: &Arc<Waiter<T>>,
        take_idle: impl FnOnce() -> Option<(Box<T>, bool)>,
        wake: Wake,
        wakes: &mut Wakes,
    ) -> Retried<T> {
        match waiter.poll(None) {
            Polled::Served(handoff) => {
                return Retried {
                    handoff: Some(handoff),
                    unused: Some(wake),
                }
            }
            // Only the waiter itself requeues: a notified waiter stays notified until it looks.
            Polled::Waiting => unreachable!("retry by a waiter that was not notified"),
            Polled::Notified => {}
        }
        match take_idle() {
            Some((obj, more_idle)) => {
                places.leave_notified(waiter);
                if more_idle {
                    places.notify_first(wakes);
                }
                self.settle(places);
                Retried {
                    handoff: Some(Handoff::Object(obj)),
                    unused: Some(wake),
                }
            }
            None => Retried {
                handoff: None,
                unused: places.requeue_notified(waiter, wake).err(),
            },
        }
    }

    /// Frees `n` places (objects that ended, bytes given back): the waiters they make room for
    /// are served in order. `idle`: whether the owner has idle objects (if the waiter it served
    /// was the notified one, the next is notified).
    pub(crate) fn free<T: 'static>(
        &self,
        places: &mut Places<T>,
        n: usize,
        idle: bool,
        wakes: &mut Wakes,
    ) {
        if n > 0 {
            places.free(n);
            places.serve_fitting(self.max_live, wakes);
            if idle {
                places.notify_first(wakes);
            }
            self.settle(places);
        }
    }

    /// Ends `waiter`'s wait: takes it out of the queue if it is still there (waiters it held
    /// back may be served, and if it was the notified one, the next is notified when `idle`), or
    /// takes what it was handed, for the caller to use or pass on (see [`Cancelled`]).
    pub(crate) fn cancel<T: 'static>(
        &self,
        places: &mut Places<T>,
        waiter: &Arc<Waiter<T>>,
        idle: bool,
        wakes: &mut Wakes,
    ) -> Cancelled<T> {
        let cancelled = match places.cancel(waiter) {
            Closed::LeftQueue(stale) => {
                places.serve_fitting(self.max_live, wakes);
                if idle {
                    places.notify_first(wakes);
                }
                Cancelled {
                    handoff: None,
                    stale,
                }
            }
            Closed::Served(handoff) => Cancelled {
                handoff: Some(handoff),
                stale: None,
            },
            Closed::Already => Cancelled {
                handoff: None,
                stale: None,
            },
        };
        self.settle(places);
        cancelled
    }

    /// Reopens the thread caches once the queue has stayed empty for the hold (`fair_after`, at
    /// most [`REOPEN_AFTER_MAX`]). Called by the slow paths that run while they are closed: a
    /// pool that waits again soon keeps them closed and needs no steal (no heavy barrier), and
    /// one that left its cap behind gets its hit path back.
    /// `lanes_empty` is asked last, only if they would reopen: `false` keeps them closed (a task
    /// is queued in a lane, `lanes.rs`).
    pub(crate) fn reopen_if_due<T: 'static>(
        &self,
        places: &mut Places<T>,
        lanes_empty: impl FnOnce() -> bool,
    ) {
        let Some(fair_after) = self.fair_after else {
            return;
        };
        if places.has_waiters() || !self.caches_closed_locked() {
            return;
        }
        let now = now();
        // Tasks waiting in lanes never enter the queue, so nothing else starts the hold for them.
        let emptied_at = *places.emptied_at.get_or_insert(now);
        let hold = fair_after.min(REOPEN_AFTER_MAX);
        if now.saturating_duration_since(emptied_at) >= hold {
            if lanes_empty() {
                places.emptied_at = None;
                self.reopen(places);
            } else {
                // Tasks wait: the hold starts again.
                places.emptied_at = Some(now);
            }
        }
    }

    /// Whether `waiter` is overdue: the next object that comes back is its.
    fn overdue<T: 'static>(&self, waiter: &Waiter<T>) -> bool {
        match waiter.fair_at {
            None => true,
            Some(fair_at) => fair_at.is_some_and(|fair_at| now() >= fair_at),
        }
    }

    /// Once the queue is empty: reopens the caches at once in strict order, or starts the hold
    /// of [`Limiter::reopen_if_due`].
    fn settle<T: 'static>(&self, places: &mut Places<T>) {
        if places.has_waiters() || !self.caches_closed_locked() {
            return;
        }
        if self.fair_after.is_none() {
            self.reopen(places);
        } else if places.emptied_at.is_none() {
            places.emptied_at = Some(now());
        }
    }

    /// Clears `caches_closed`. Release: a hit path that sees `false` opens its cache next, and
    /// must see what a thief did to that cache while the flag was set (the thief held the depot
    /// lock, as does this store). A hit path that still sees `true` only takes the slow path
    /// once more.
    fn reopen<T: 'static>(&self, places: &Places<T>) {
        debug_assert!(!places.has_waiters());
        self.caches_closed.store(false, Ordering::Release);
    }
}

/// What [`Limiter::retry`] leaves the caller, who drops it only after unlocking.
#[must_use = "drop it after unlocking"]
pub(crate) struct Retried<T> {
    /// What the waiter found or was handed; `None`: it waits again.
    pub(crate) handoff: Option<Handoff<T>>,
    /// The `Wake` made for waiting again, not needed: a `Waker` is user code.
    pub(crate) unused: Option<Wake>,
}

/// What [`Limiter::cancel`] leaves the caller, who drops it only after unlocking.
#[must_use = "drop it after unlocking"]
pub(crate) struct Cancelled<T> {
    /// What the waiter was handed before it could leave, if anything: the caller's to use or
    /// pass on.
    pub(crate) handoff: Option<Handoff<T>>,
    /// The waiter's way to be woken, if it left the queue: a `Waker` is user code, not dropped
    /// under a lock.
    pub(crate) stale: Option<Wake>,
}

/// Proof that every thread is kept out of its cache's announced door: `caches_closed` is set
/// and a [heavy barrier](barrier::heavy) ran after it, so every announced open (see `slots.rs`)
/// that starts from now on sees the flag, and one already past its check shows `busy`.
pub(crate) struct Quiesced<'a> {
    caches_closed: &'a AtomicBool,
}

impl<'a> Quiesced<'a> {
    /// Sets `caches_closed` and runs the heavy barrier (a system call: call it when the caches
    /// close, not per object).
    fn new(caches_closed: &'a AtomicBool) -> Self {
        // Relaxed: the barrier orders it before every `busy` read of `steal_cached`.
        caches_closed.store(true, Ordering::Relaxed);
        barrier::heavy();
        Self { caches_closed }
    }

    /// Whether the caches are still closed (a debug check of the thief).
    pub(crate) fn still_closed(&self) -> bool {
        self.caches_closed.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, not(hotpool_loom)))]
mod tests {
    use std::time::Duration;

    use super::{Handoff, Limiter, Places, Wake, Wakes};
    use crate::pool::waiter::{Polled, Waiter};

    /// How a waiter in these tests would be woken (never: they check the state instead).
    fn task() -> Wake {
        Wake::Thread(crate::sync::current_thread())
    }

    fn served<T: 'static>(waiter: &Waiter<T>) -> bool {
        matches!(waiter.poll(None), Polled::Served(Handoff::Place))
    }

    fn strict(max: usize) -> Limiter {
        Limiter::new(max, Duration::ZERO)
    }

    #[test]
    fn a_need_is_taken_whole_or_not_at_all() {
        let limiter = strict(100);
        let mut places = Places::<()>::default();
        assert!(limiter.try_take(&mut places, 60));
        assert!(!limiter.try_take(&mut places, 41), "41 of the 40 left");
        assert!(limiter.try_take(&mut places, 40));
        assert_eq!(places.live(), 100);
    }

    #[test]
    fn freed_places_serve_waiters_in_order_while_the_first_fits() {
        let limiter = strict(100);
        let mut places = Places::<()>::default();
        assert!(limiter.try_take(&mut places, 100));
        let big = limiter.enqueue_for_places(&mut places, task(), 80);
        let small = limiter.enqueue_for_places(&mut places, task(), 10);
        assert!(
            !limiter.try_take(&mut places, 1),
            "nobody overtakes a waiter"
        );
        let mut wakes = Wakes::default();
        limiter.free(&mut places, 50, false, &mut wakes);
        assert_eq!(
            wakes.len(),
            0,
            "80 does not fit in 50, and 10 waits behind it"
        );
        limiter.free(&mut places, 50, false, &mut wakes);
        assert_eq!(wakes.len(), 2, "both fit in 100");
        assert!(served(&big) && served(&small));
        assert_eq!(places.live(), 90);
    }

    #[test]
    fn a_cancelled_first_waiter_lets_the_ones_behind_it_through() {
        let limiter = strict(100);
        let mut places = Places::<()>::default();
        assert!(limiter.try_take(&mut places, 50));
        let big = limiter.enqueue_for_places(&mut places, task(), 80);
        let small = limiter.enqueue_for_places(&mut places, task(), 10);
        let mut wakes = Wakes::default();
        let cancelled = limiter.cancel(&mut places, &big, false, &mut wakes);
        assert!(cancelled.handoff.is_none() && cancelled.stale.is_some());
        assert_eq!(wakes.len(), 1);
        assert!(served(&small));
        assert_eq!(places.live(), 60);
        assert!(!places.has_waiters());
    }

    #[test]
    fn a_waiter_cancelled_after_being_served_gets_its_handoff_back() {
        let limiter = strict(1);
        let mut places = Places::<()>::default();
        assert!(limiter.try_take(&mut places, 1));
        let waiter = limiter.enqueue_for_places(&mut places, task(), 1);
        let mut wakes = Wakes::default();
        limiter.free(&mut places, 1, false, &mut wakes);
        let handoff = limiter
            .cancel(&mut places, &waiter, false, &mut wakes)
            .handoff;
        assert!(
            matches!(handoff, Some(Handoff::Place)),
            "the place is the caller's to pass on"
        );
        assert_eq!(places.live(), 1);
    }

    #[test]
    fn a_return_notifies_one_waiter_until_one_is_overdue() {
        let limiter = Limiter::new(1, Duration::from_secs(3600));
        let mut places = Places::<u8>::default();
        assert!(limiter.try_take(&mut places, 1));
        let (first, _) = limiter.enqueue(&mut places, task());
        let (second, _) = limiter.enqueue(&mut places, task());
        let mut wakes = Wakes::default();
        let kept = limiter.on_return(&mut places, Box::new(7), false, &mut wakes);
        assert_eq!(
            kept.as_deref(),
            Some(&7),
            "kept idle for whoever asks first"
        );
        assert_eq!(wakes.len(), 1, "the first waiter is woken to take it");
        assert!(matches!(first.poll(None), Polled::Notified));
        let kept = limiter.on_return(&mut places, Box::new(8), true, &mut wakes);
        assert!(kept.is_some());
        assert_eq!(wakes.len(), 1, "one waiter on its way is enough");
        assert!(matches!(second.poll(None), Polled::Waiting));

        // The notified waiter looks and finds one object, and one more is left: the next is woken.
        let mut idle = vec![Box::new(7), Box::new(8)];
        let retried = limiter.retry(
            &mut places,
            &first,
            || idle.pop().map(|obj| (obj, true)),
            task(),
            &mut wakes,
        );
        assert!(matches!(retried.handoff, Some(Handoff::Object(_))));
        assert_eq!(wakes.len(), 2);
        assert!(matches!(second.poll(None), Polled::Notified));
        // It finds none (taken by a caller that did not wait): it waits again, in its place.
        let retried = limiter.retry(&mut places, &second, || None, task(), &mut wakes);
        assert!(retried.handoff.is_none() && retried.unused.is_none());
        assert!(matches!(second.poll(None), Polled::Waiting));
        assert!(places.has_waiters());
    }

    #[test]
    fn an_overdue_waiter_is_handed_the_next_return() {
        let limiter = Limiter::new(1, Duration::from_nanos(1));
        let mut places = Places::<u8>::default();
        assert!(limiter.try_take(&mut places, 1));
        let (waiter, _) = limiter.enqueue(&mut places, task());
        std::thread::sleep(Duration::from_millis(1));
        let mut wakes = Wakes::default();
        assert!(limiter
            .on_return(&mut places, Box::new(7), false, &mut wakes)
            .is_none());
        assert!(matches!(waiter.poll(None), Polled::Served(Handoff::Object(obj)) if *obj == 7));
        assert!(!places.has_waiters());
    }

    #[test]
    fn a_notified_waiter_handed_an_object_passes_its_notice_on() {
        // Both overdue; the first was notified of an object still idle, then is handed another:
        // the second is notified in its stead (else it sleeps with an object idle).
        let limiter = Limiter::new(1, Duration::from_nanos(1));
        let mut places = Places::<u8>::default();
        assert!(limiter.try_take(&mut places, 1));
        let (first, _) = limiter.enqueue(&mut places, task());
        let (second, _) = limiter.enqueue(&mut places, task());
        std::thread::sleep(Duration::from_millis(1));
        let mut wakes = Wakes::default();
        places.notify_first(&mut wakes);
        assert!(matches!(first.poll(None), Polled::Notified));
        assert!(limiter
            .on_return(&mut places, Box::new(7), true, &mut wakes)
            .is_none());
        assert!(matches!(first.poll(None), Polled::Served(Handoff::Object(obj)) if *obj == 7));
        assert!(matches!(second.poll(None), Polled::Notified));
        assert_eq!(wakes.len(), 2);
    }

    #[test]
    fn a_wait_reuses_the_node_of_one_that_ended() {
        let limiter = strict(1);
        let mut places = Places::<u8>::default();
        assert!(limiter.try_take(&mut places, 1));
        let (waiter, _) = limiter.enqueue(&mut places, task());
        let first = std::sync::Arc::as_ptr(&waiter);
        let mut wakes = Wakes::default();
        assert!(limiter
            .on_return(&mut places, Box::new(1), false, &mut wakes)
            .is_none());
        assert!(matches!(waiter.poll(None), Polled::Served(_)));
        drop(waiter);
        let (again, _) = limiter.enqueue(&mut places, task());
        assert_eq!(std::sync::Arc::as_ptr(&again), first);
    }

    #[test]
    fn a_node_still_held_does_not_keep_later_waits_from_reusing_the_others() {
        let limiter = strict(1);
        let mut places = Places::<u8>::default();
        assert!(limiter.try_take(&mut places, 1));
        let (held, _) = limiter.enqueue(&mut places, task());
        let (freed, _) = limiter.enqueue(&mut places, task());
        let freed_node = std::sync::Arc::as_ptr(&freed);
        let mut wakes = Wakes::default();
        for obj in [1, 2] {
            assert!(limiter
                .on_return(&mut places, Box::new(obj), false, &mut wakes)
                .is_none());
        }
        assert!(matches!(freed.poll(None), Polled::Served(_)));
        drop(freed); // `held`'s node, the oldest spare, stays held
        let (first, _) = limiter.enqueue(&mut places, task());
        assert_ne!(
            std::sync::Arc::as_ptr(&first),
            freed_node,
            "a new node, the oldest was held"
        );
        let (second, _) = limiter.enqueue(&mut places, task());
        assert_eq!(
            std::sync::Arc::as_ptr(&second),
            freed_node,
            "the held node went last, and the free one behind it is reused"
        );
        drop(held);
    }
}
