//! The limiter of a bounded pool (`max_live`): places, the queue of callers waiting for one, the
//! hand-off to them and the `waiting` flag. An unbounded pool has none, and its hit path never
//! reads it.
//!
//! A *place* is the right for one object to exist. A bounded pool counts the places taken
//! (`live`: objects in use plus idle anywhere, thread caches included) under the depot lock, so
//! only the slow paths that create or end an object touch it: a hit reuses an object that already
//! has its place. At the cap, a caller queues a [`Waiter`] and is handed, first come first
//! served, either an object that comes back or a place that frees (then it runs the factory
//! itself).
//!
//! How waiters are served, the steal and its handshake with the hit path:
//! [the implementation notes](crate::implementation#bounded-pools).
//!
//! Everything here runs under the depot lock (the caller passes the depot's [`Places`]) and moves
//! pointers only: waking a waiter happens after unlocking (a [`Waker`] may run an executor's
//! code), and objects the pool gives up are dropped by the caller after unlocking, as everywhere
//! in the pool. `acquire.rs` is where the pool calls this: what a `get` does at the cap, and
//! where returned and freed objects go while anyone waits.

use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::task::{Poll, Waker};
use std::time::Instant;

use crate::barrier;
use crate::error::Timeout;
use crate::sync::{park_until, Arc, AtomicBool, Mutex, Ordering, Thread};

/// The cap of a bounded pool and the flag its hit paths read. Its methods that take a
/// `&mut Places` run under the depot lock.
pub(crate) struct Limiter {
    /// At most this many objects exist at once.
    pub(crate) max_live: usize,
    /// Set exactly while waiters are queued (written under the depot lock); read by every hit
    /// path of the pool, which then takes the slow path (see the module docs).
    pub(crate) waiting: AtomicBool,
}

impl Limiter {
    pub(crate) fn new(max_live: usize) -> Self {
        Self {
            max_live,
            waiting: AtomicBool::new(false),
        }
    }

    /// Whether waiters are queued, as of this read (acquire: a `false` publishes what a thief did
    /// to the caches, as on the hit path).
    #[inline]
    pub(crate) fn waiters_queued(&self) -> bool {
        self.waiting.load(Ordering::Acquire)
    }

    /// What a caller gets at once if nobody queued before it: an idle object (`take_idle`, the
    /// depot's) or else a free place. `None`: it must queue.
    pub(crate) fn reserve<T>(
        &self,
        places: &mut Places<T>,
        take_idle: impl FnOnce() -> Option<Box<T>>,
    ) -> Option<Handoff<T>> {
        if places.has_waiters() {
            return None;
        }
        if let Some(obj) = take_idle() {
            return Some(Handoff::Object(obj));
        }
        places.try_take(self.max_live, 1).then_some(Handoff::Place)
    }

    /// Takes `need` places if they are free and nobody queued before the caller: a `put`'s one
    /// place, or a buffer's bytes.
    pub(crate) fn try_take<T>(&self, places: &mut Places<T>, need: usize) -> bool {
        places.try_take(self.max_live, need)
    }

    /// Queues a waiter for one object or place, last. The first one also sets `waiting` and
    /// returns the [`Quiesced`] proof with which the caller gathers every cache's objects (they
    /// serve the queue at once).
    pub(crate) fn enqueue<T>(
        &self,
        places: &mut Places<T>,
        wake: Wake,
    ) -> (Arc<Waiter<T>>, Option<Quiesced<'_>>) {
        let (waiter, first) = places.enqueue(wake, 1);
        (waiter, first.then(|| Quiesced::new(&self.waiting)))
    }

    /// Queues a waiter for `need` places, last, where nothing idle can serve it (a budget: it
    /// waits for places only, so nobody sets `waiting` or steals).
    pub(crate) fn enqueue_for_places<T>(
        &self,
        places: &mut Places<T>,
        wake: Wake,
        need: usize,
    ) -> Arc<Waiter<T>> {
        debug_assert!(need <= self.max_live, "a need over the cap never fits");
        places.enqueue(wake, need).0
    }

    /// Hands `obj` to the first waiter and returns how to wake it; gives `obj` back if nobody
    /// waits. The caller counts it as the `get` it serves.
    pub(crate) fn hand_over<T>(&self, places: &mut Places<T>, obj: Box<T>) -> Result<Wake, Box<T>> {
        if !places.has_waiters() {
            return Err(obj);
        }
        let wake = places
            .serve(Handoff::Object(obj))
            .map_err(|handoff| match handoff {
                Handoff::Object(obj) => obj,
                Handoff::Place => unreachable!("served an object"),
            })?;
        self.settle(places);
        Ok(wake)
    }

    /// Frees `n` places (objects that ended, bytes given back): the waiters they make room for
    /// are served in order, and their wake-ups pushed onto `wakes`.
    pub(crate) fn free<T>(&self, places: &mut Places<T>, n: usize, wakes: &mut Vec<Wake>) {
        if n > 0 {
            places.free(self.max_live, n, wakes);
            self.settle(places);
        }
    }

    /// Ends `waiter`'s wait: takes it out of the queue if it is still there (waiters it held
    /// back may be served, their wake-ups pushed onto `wakes`), or takes what it was handed, for
    /// the caller to use or pass on (see [`Cancelled`]).
    pub(crate) fn cancel<T>(
        &self,
        places: &mut Places<T>,
        waiter: &Arc<Waiter<T>>,
        wakes: &mut Vec<Wake>,
    ) -> Cancelled<T> {
        let cancelled = places.cancel(self.max_live, waiter, wakes);
        self.settle(places);
        cancelled
    }
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

/// Blocks the calling thread until `waiter` is served, or until `deadline` (forever if `None`)
/// passes: then `cancel` ends the wait under the owner's lock ([`Limiter::cancel`]), and what it
/// returns (handed over in the meantime) is the caller's after all.
pub(crate) fn block_until_served<T>(
    waiter: &Waiter<T>,
    deadline: Option<Instant>,
    cancel: impl FnOnce() -> Option<Handoff<T>>,
) -> Result<Handoff<T>, Timeout> {
    loop {
        if let Some(handoff) = waiter.take_served(None) {
            return Ok(handoff);
        }
        if !park_until(deadline) {
            return cancel().ok_or(Timeout);
        }
    }
}

/// One poll of a task waiting in `waiter`: what it was handed, or `Pending` (the task's waker is
/// updated to `waker`).
pub(crate) fn poll_served<T>(waiter: &Waiter<T>, waker: &Waker) -> Poll<Handoff<T>> {
    match waiter.take_served(Some(waker)) {
        Some(handoff) => Poll::Ready(handoff),
        None => Poll::Pending,
    }
}

/// Proof that every thread is kept out of its cache's announced door: `waiting` is set and a
/// [heavy barrier](barrier::heavy) ran after it, so every announced open (see `slots.rs`) that
/// starts from now on sees `waiting`, and one already past its check shows `busy`.
pub(crate) struct Quiesced<'a> {
    waiting: &'a AtomicBool,
}

impl<'a> Quiesced<'a> {
    /// Sets `waiting` and runs the heavy barrier (a system call: call it when waiting starts,
    /// not per object).
    fn new(waiting: &'a AtomicBool) -> Self {
        // Relaxed: the barrier orders it before every `busy` read of `steal_cached`.
        waiting.store(true, Ordering::Relaxed);
        barrier::heavy();
        Self { waiting }
    }

    /// Whether `waiting` is still set (a debug check of the thief).
    pub(crate) fn still_waiting(&self) -> bool {
        self.waiting.load(Ordering::Relaxed)
    }
}

/// What a waiter is handed.
pub(crate) enum Handoff<T> {
    /// An idle object, already recycled (and counted as reused by whoever handed it over).
    Object(Box<T>),
    /// A place: the waiter makes its object with the factory.
    Place,
}

/// How to wake a waiter.
pub(crate) enum Wake {
    /// A thread blocked in `get` or `get_timeout`.
    Thread(Thread),
    /// A task awaiting `get_async` or `get_owned_async`.
    Task(Waker),
}

impl Wake {
    pub(crate) fn wake(self) {
        match self {
            Wake::Thread(thread) => thread.unpark(),
            Wake::Task(waker) => waker.wake(),
        }
    }
}

/// Wakes every waiter in `wakes` (after the lock is released). A `Waker` is user code: if one
/// panics, the others are still woken, and the first panic is resumed afterwards.
pub(crate) fn wake_all(wakes: Vec<Wake>) {
    let mut first_panic = None;
    for wake in wakes {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| wake.wake())) {
            first_panic.get_or_insert(panic);
        }
    }
    if let Some(panic) = first_panic {
        resume_unwind(panic);
    }
}

enum State<T> {
    /// In the queue, to be woken this way.
    Queued(Wake),
    /// Taken out of the queue and handed this.
    Served(Handoff<T>),
    /// Done: the handoff was taken, or the wait was cancelled.
    Closed,
}

/// One caller waiting for an object or places; shared by the queue and the caller.
///
/// Its state moves `Queued → Served` (under the depot lock, by whoever serves the queue),
/// `Queued → Closed` (under the depot lock, when the caller cancels: it leaves the queue in the
/// same step) and `Served → Closed` (by the caller, who takes the handoff).
pub(crate) struct Waiter<T> {
    /// Places it waits for (1 in a `Pool`: one object; bytes in a `BufferPool`'s budget).
    need: usize,
    state: Mutex<State<T>>,
}

impl<T> Waiter<T> {
    /// Takes what this waiter was handed, if it was served; otherwise `Queued` keeps waiting
    /// and, if given, `waker` replaces the task's waker.
    ///
    /// A `Waker`'s clone and drop are user code, and whoever serves this waiter locks its state
    /// while holding the pool's lock: so they run with no lock held (a waker that reaches the
    /// pool would otherwise deadlock), and a new waker is cloned only if it would wake another
    /// task than the one stored (`will_wake`).
    pub(crate) fn take_served(&self, waker: Option<&Waker>) -> Option<Handoff<T>> {
        let waker = {
            let mut state = self.state.lock();
            match (&mut *state, waker) {
                (State::Served(_), _) => return Some(take_handoff(&mut state)),
                (State::Queued(Wake::Task(current)), Some(waker)) if !current.will_wake(waker) => {
                    waker
                }
                _ => return None,
            }
        };
        let fresh = waker.clone();
        let mut state = self.state.lock();
        let stale = match &mut *state {
            State::Queued(Wake::Task(current)) => std::mem::replace(current, fresh),
            // Served meanwhile: the fresh waker is not needed.
            State::Served(_) => {
                let handoff = take_handoff(&mut state);
                drop(state);
                drop(fresh);
                return Some(handoff);
            }
            State::Queued(Wake::Thread(_)) | State::Closed => fresh,
        };
        drop(state);
        drop(stale); // user code, outside the lock
        None
    }
}

/// Moves a `Served` state's handoff out, closing it.
fn take_handoff<T>(state: &mut State<T>) -> Handoff<T> {
    match std::mem::replace(state, State::Closed) {
        State::Served(handoff) => handoff,
        State::Queued(_) | State::Closed => unreachable!("called on a served waiter"),
    }
}

/// The places and waiters of a limiter, under the lock of their owner: a `Pool`'s depot lock
/// (an unbounded pool keeps an empty one and never queues), or a `BufferPool` budget's own.
pub(crate) struct Places<T> {
    /// Places taken: objects alive, in use or idle (bytes in use, for a budget).
    live: usize,
    queue: VecDeque<Arc<Waiter<T>>>,
    /// Acquisitions that had to queue, ever.
    waits: u64,
}

impl<T> Default for Places<T> {
    fn default() -> Self {
        Self {
            live: 0,
            queue: VecDeque::new(),
            waits: 0,
        }
    }
}

impl<T> Places<T> {
    /// Whether anyone is queued.
    pub(crate) fn has_waiters(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Acquisitions that had to queue, ever.
    pub(crate) fn waits(&self) -> u64 {
        self.waits
    }

    /// Takes `n` places unconditionally (`prefill`, checked against the cap by `build`).
    pub(crate) fn take(&mut self, n: usize) {
        self.live += n;
    }

    /// Places taken now.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Takes `need` places if they are free and nobody queued before the caller; `false`
    /// otherwise.
    fn try_take(&mut self, max_live: usize, need: usize) -> bool {
        let free = self.queue.is_empty() && need <= max_live - self.live;
        if free {
            self.live += need;
        }
        free
    }

    /// Queues a new waiter for `need` places, last; `true` in the second place if it is the
    /// first one (a pool's caller must then set the `waiting` flag and gather every cache's
    /// objects).
    fn enqueue(&mut self, wake: Wake, need: usize) -> (Arc<Waiter<T>>, bool) {
        let first = self.queue.is_empty();
        let waiter = Arc::new(Waiter {
            need,
            state: Mutex::new(State::Queued(wake)),
        });
        self.queue.push_back(Arc::clone(&waiter));
        self.waits += 1;
        (waiter, first)
    }

    /// Hands `handoff` to the first waiter and returns how to wake it, or gives `handoff` back
    /// if nobody waits. An object goes only to a waiter for one place (a `Pool`'s).
    fn serve(&mut self, handoff: Handoff<T>) -> Result<Wake, Handoff<T>> {
        let Some(waiter) = self.queue.pop_front() else {
            return Err(handoff);
        };
        debug_assert!(matches!(handoff, Handoff::Place) || waiter.need == 1);
        let mut state = waiter.state.lock();
        match std::mem::replace(&mut *state, State::Served(handoff)) {
            State::Queued(wake) => Ok(wake),
            State::Served(_) | State::Closed => {
                unreachable!("only queued waiters are in the queue")
            }
        }
    }

    /// Frees `n` places, then serves waiters first come first served while the first one's need
    /// fits (whose wake-ups are pushed onto `wakes`): a waiter never overtakes an earlier one.
    fn free(&mut self, max_live: usize, n: usize, wakes: &mut Vec<Wake>) {
        debug_assert!(n <= self.live, "freeing {n} of {} places", self.live);
        self.live -= n;
        self.serve_fitting(max_live, wakes);
    }

    /// Serves waiters in order while the first one's need fits in the free places.
    fn serve_fitting(&mut self, max_live: usize, wakes: &mut Vec<Wake>) {
        while let Some(need) = self.queue.front().map(|first| first.need) {
            if need > max_live - self.live {
                break;
            }
            self.live += need;
            match self.serve(Handoff::Place) {
                Ok(wake) => wakes.push(wake),
                Err(_) => unreachable!("the queue has a first waiter"),
            }
        }
    }

    /// Ends `waiter`'s wait: takes it out of the queue if it is still there (the waiters behind
    /// it may fit now, and are served), or takes what it was handed, for the caller to use or
    /// pass on. A queued waiter's `Wake` comes back too: the caller drops it after unlocking (a
    /// `Waker`'s drop is user code).
    fn cancel(
        &mut self,
        max_live: usize,
        waiter: &Arc<Waiter<T>>,
        wakes: &mut Vec<Wake>,
    ) -> Cancelled<T> {
        let mut state = waiter.state.lock();
        let (handoff, stale) = match std::mem::replace(&mut *state, State::Closed) {
            State::Queued(stale) => (None, Some(stale)),
            State::Served(handoff) => (Some(handoff), None),
            State::Closed => (None, None),
        };
        drop(state);
        if stale.is_some() {
            self.queue.retain(|queued| !Arc::ptr_eq(queued, waiter));
            self.serve_fitting(max_live, wakes);
        }
        Cancelled { handoff, stale }
    }
}

impl Limiter {
    /// Clears `waiting` once the queue is empty. Release: a hit path that sees `false` opens its
    /// cache next, and must see what a thief did to that cache while the flag was set (the
    /// thief held the depot lock, as does this store). A hit path that still sees `true` only
    /// takes the slow path once more.
    fn settle<T>(&self, places: &Places<T>) {
        if !places.has_waiters() && self.waiting.load(Ordering::Relaxed) {
            self.waiting.store(false, Ordering::Release);
        }
    }
}

#[cfg(all(test, not(hotpool_loom)))]
mod tests {
    use super::{Handoff, Limiter, Places, Wake};

    /// How a waiter in these tests would be woken (never: they check the state instead).
    fn task() -> Wake {
        Wake::Thread(crate::sync::current_thread())
    }

    fn served(waiter: &super::Waiter<()>) -> bool {
        matches!(waiter.take_served(None), Some(Handoff::Place))
    }

    #[test]
    fn a_need_is_taken_whole_or_not_at_all() {
        let limiter = Limiter::new(100);
        let mut places = Places::<()>::default();
        assert!(limiter.try_take(&mut places, 60));
        assert!(!limiter.try_take(&mut places, 41), "41 of the 40 left");
        assert!(limiter.try_take(&mut places, 40));
        assert_eq!(places.live(), 100);
    }

    #[test]
    fn freed_places_serve_waiters_in_order_while_the_first_fits() {
        let limiter = Limiter::new(100);
        let mut places = Places::<()>::default();
        assert!(limiter.try_take(&mut places, 100));
        let big = limiter.enqueue_for_places(&mut places, task(), 80);
        let small = limiter.enqueue_for_places(&mut places, task(), 10);
        assert!(
            !limiter.try_take(&mut places, 1),
            "nobody overtakes a waiter"
        );
        let mut wakes = Vec::new();
        limiter.free(&mut places, 50, &mut wakes);
        assert!(
            wakes.is_empty(),
            "80 does not fit in 50, and 10 waits behind it"
        );
        limiter.free(&mut places, 50, &mut wakes);
        assert_eq!(wakes.len(), 2, "both fit in 100");
        assert!(served(&big) && served(&small));
        assert_eq!(places.live(), 90);
    }

    #[test]
    fn a_cancelled_first_waiter_lets_the_ones_behind_it_through() {
        let limiter = Limiter::new(100);
        let mut places = Places::<()>::default();
        assert!(limiter.try_take(&mut places, 50));
        let big = limiter.enqueue_for_places(&mut places, task(), 80);
        let small = limiter.enqueue_for_places(&mut places, task(), 10);
        let mut wakes = Vec::new();
        let cancelled = limiter.cancel(&mut places, &big, &mut wakes);
        assert!(cancelled.handoff.is_none() && cancelled.stale.is_some());
        assert_eq!(wakes.len(), 1);
        assert!(served(&small));
        assert_eq!(places.live(), 60);
        assert!(!places.has_waiters());
    }

    #[test]
    fn a_waiter_cancelled_after_being_served_gets_its_handoff_back() {
        let limiter = Limiter::new(1);
        let mut places = Places::<()>::default();
        assert!(limiter.try_take(&mut places, 1));
        let waiter = limiter.enqueue_for_places(&mut places, task(), 1);
        let mut wakes = Vec::new();
        limiter.free(&mut places, 1, &mut wakes);
        let handoff = limiter.cancel(&mut places, &waiter, &mut wakes).handoff;
        assert!(
            matches!(handoff, Some(Handoff::Place)),
            "the place is the caller's to pass on"
        );
        assert_eq!(places.live(), 1);
    }
}
