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
use std::task::Waker;

use crate::barrier;
use crate::sync::{Arc, AtomicBool, Mutex, Ordering, Thread};

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
        places.try_take(self.max_live).then_some(Handoff::Place)
    }

    /// A place for an object that enters from outside (`put`), if one is free and nobody queued.
    pub(crate) fn try_take<T>(&self, places: &mut Places<T>) -> bool {
        places.try_take(self.max_live)
    }

    /// Queues a waiter, last. The first one also sets `waiting` and returns the [`Quiesced`]
    /// proof with which the caller gathers every cache's objects (they serve the queue at once).
    pub(crate) fn enqueue<T>(
        &self,
        places: &mut Places<T>,
        wake: Wake,
    ) -> (Arc<Waiter<T>>, Option<Quiesced<'_>>) {
        let (waiter, first) = places.enqueue(wake);
        (waiter, first.then(|| Quiesced::new(&self.waiting)))
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

    /// Frees `n` places (objects that ended): each goes to a waiter if one is queued, whose
    /// wake-up is pushed onto `wakes`.
    pub(crate) fn free<T>(&self, places: &mut Places<T>, n: usize, wakes: &mut Vec<Wake>) {
        if n > 0 {
            places.free(n, wakes);
            self.settle(places);
        }
    }

    /// Ends `waiter`'s wait: takes it out of the queue if it is still there (`None`), or takes
    /// what it was handed, for the caller to use or pass on.
    pub(crate) fn cancel<T>(
        &self,
        places: &mut Places<T>,
        waiter: &Arc<Waiter<T>>,
    ) -> Option<Handoff<T>> {
        let handoff = places.cancel(waiter);
        self.settle(places);
        handoff
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

/// Wakes every waiter in `wakes` (after the depot lock is released).
pub(crate) fn wake_all(wakes: Vec<Wake>) {
    wakes.into_iter().for_each(Wake::wake);
}

enum State<T> {
    /// In the queue, to be woken this way.
    Queued(Wake),
    /// Taken out of the queue and handed this.
    Served(Handoff<T>),
    /// Done: the handoff was taken, or the wait was cancelled.
    Closed,
}

/// One caller waiting for an object or a place; shared by the queue and the caller.
///
/// Its state moves `Queued → Served` (under the depot lock, by whoever serves the queue),
/// `Queued → Closed` (under the depot lock, when the caller cancels: it leaves the queue in the
/// same step) and `Served → Closed` (by the caller, who takes the handoff).
pub(crate) struct Waiter<T> {
    state: Mutex<State<T>>,
}

impl<T> Waiter<T> {
    /// Takes what this waiter was handed, if it was served; otherwise `Queued` keeps waiting
    /// and, if given, `waker` replaces the task's waker.
    pub(crate) fn take_served(&self, waker: Option<&Waker>) -> Option<Handoff<T>> {
        let mut state = self.state.lock();
        match &mut *state {
            State::Served(_) => match std::mem::replace(&mut *state, State::Closed) {
                State::Served(handoff) => Some(handoff),
                _ => unreachable!("matched `Served` above"),
            },
            State::Queued(Wake::Task(current)) => {
                if let Some(waker) = waker {
                    current.clone_from(waker);
                }
                None
            }
            State::Queued(Wake::Thread(_)) | State::Closed => None,
        }
    }
}

/// The places and waiters of a bounded pool. Lives in the depot, under its lock (an unbounded
/// pool keeps an empty one and never queues).
pub(crate) struct Places<T> {
    /// Places taken: objects alive, in use or idle.
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

    /// Takes a place if one is free and nobody queued before the caller; `false` otherwise.
    fn try_take(&mut self, max_live: usize) -> bool {
        let free = self.queue.is_empty() && self.live < max_live;
        if free {
            self.live += 1;
        }
        free
    }

    /// Queues a new waiter, last; `true` in the second place if it is the first one (the
    /// caller must then set the pool's `waiting` flag and gather every cache's objects).
    fn enqueue(&mut self, wake: Wake) -> (Arc<Waiter<T>>, bool) {
        let first = self.queue.is_empty();
        let waiter = Arc::new(Waiter {
            state: Mutex::new(State::Queued(wake)),
        });
        self.queue.push_back(Arc::clone(&waiter));
        self.waits += 1;
        (waiter, first)
    }

    /// Hands `handoff` to the first waiter and returns how to wake it, or gives `handoff` back
    /// if nobody waits.
    fn serve(&mut self, handoff: Handoff<T>) -> Result<Wake, Handoff<T>> {
        let Some(waiter) = self.queue.pop_front() else {
            return Err(handoff);
        };
        let mut state = waiter.state.lock();
        match std::mem::replace(&mut *state, State::Served(handoff)) {
            State::Queued(wake) => Ok(wake),
            State::Served(_) | State::Closed => {
                unreachable!("only queued waiters are in the queue")
            }
        }
    }

    /// Frees `n` places; each goes to a waiter if one is queued (whose wake-up is pushed onto
    /// `wakes`).
    fn free(&mut self, n: usize, wakes: &mut Vec<Wake>) {
        debug_assert!(n <= self.live, "freeing {n} of {} places", self.live);
        self.live -= n;
        for _ in 0..n {
            self.live += 1;
            match self.serve(Handoff::Place) {
                Ok(wake) => wakes.push(wake),
                Err(_) => {
                    self.live -= 1;
                    break;
                }
            }
        }
    }

    /// Ends `waiter`'s wait: takes it out of the queue if it is still there (`None`), or takes
    /// what it was handed, for the caller to use or pass on.
    fn cancel(&mut self, waiter: &Arc<Waiter<T>>) -> Option<Handoff<T>> {
        let mut state = waiter.state.lock();
        match std::mem::replace(&mut *state, State::Closed) {
            State::Queued(_) => {
                self.queue.retain(|queued| !Arc::ptr_eq(queued, waiter));
                None
            }
            State::Served(handoff) => Some(handoff),
            State::Closed => None,
        }
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
