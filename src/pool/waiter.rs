//! One caller waiting at a limiter's cap ([`Waiter`]), what it can be handed ([`Handoff`]), how
//! it is woken ([`Wake`], [`Wakes`]), and the two ways to wait for it: a blocked thread
//! ([`block_until_served`]) and a polled task ([`poll_served`]). The rules deciding who is served
//! or woken are the limiter's (`limiter.rs`); every state change but the waiter's own reads runs
//! under its owner's lock.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::task::{Poll, Waker};
use std::time::Instant;

use crate::error::Timeout;
use crate::sync::{park_until, Mutex, Thread};

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

/// Wake-ups collected under a lock, to run after it is released. One is kept inline: a return
/// or a retry wakes at most one waiter, and a wait must not allocate in steady state.
#[derive(Default)]
#[must_use = "wake them after unlocking"]
pub(crate) struct Wakes {
    first: Option<Wake>,
    more: Vec<Wake>,
}

impl Wakes {
    /// How many wake-ups are collected.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    pub(crate) fn push(&mut self, wake: Wake) {
        match self.first {
            None => self.first = Some(wake),
            Some(_) => self.more.push(wake),
        }
    }

    /// Wakes every waiter (with no lock held). A `Waker` is user code: if one panics, the others
    /// are still woken, and the first panic is resumed afterwards.
    pub(crate) fn wake_all(self) {
        let mut first_panic = None;
        for wake in self.first.into_iter().chain(self.more) {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| wake.wake())) {
                first_panic.get_or_insert(panic);
            }
        }
        if let Some(panic) = first_panic {
            resume_unwind(panic);
        }
    }
}

enum State<T> {
    /// In the queue, to be woken this way.
    Queued(Wake),
    /// In the queue, and woken because an object came back idle: it must look for one itself
    /// (`Limiter::retry`), and competes for it with callers that did not queue.
    Notified,
    /// Taken out of the queue and handed this.
    Served(Handoff<T>),
    /// Done: the handoff was taken, the wait was cancelled, or it took an idle object itself.
    Closed,
}

/// What a waiter finds when it looks (see [`Waiter::poll`]).
pub(crate) enum Polled<T> {
    /// It was handed this; its wait is over.
    Served(Handoff<T>),
    /// It was woken to look for an idle object itself (`Limiter::retry`, under the lock).
    Notified,
    /// Still queued.
    Waiting,
}

/// One caller waiting for an object or places; shared by the queue and the caller.
///
/// Its state moves `Queued → Notified → Queued` (woken to look for an idle object, and queued
/// again, in its place, if it found none), `Queued | Notified → Served` (by whoever serves the
/// queue), `Queued | Notified → Closed` (when it leaves the queue: cancelled, or it found an
/// idle object), and `Served → Closed` (by the caller, who takes the handoff). All but the last
/// happen under the owner's lock. A closed waiter's node is reused by a later wait
/// (`Places::enqueue`), so waiting allocates nothing in steady state.
pub(crate) struct Waiter<T> {
    /// Places it waits for (1 in a `Pool`: one object; bytes in a `BufferPool`'s budget).
    pub(crate) need: usize,
    /// From when on it is overdue: the next object that comes back is handed to it, not left to
    /// whoever asks first. `None`: at once (strict order); `Some(None)`: never.
    pub(crate) fair_at: Option<Option<Instant>>,
    /// The lane it is queued in (a task at a pool's cap, `lanes.rs`); `None`: the owner's queue.
    pub(crate) lane: Option<usize>,
    state: Mutex<State<T>>,
}

impl<T> Waiter<T> {
    pub(crate) fn new(need: usize, fair_at: Option<Option<Instant>>, wake: Wake) -> Self {
        Self {
            need,
            fair_at,
            lane: None,
            state: Mutex::new(State::Queued(wake)),
        }
    }

    /// The same waiter, to be queued in `lane` (`lanes.rs`) instead of the owner's queue.
    pub(crate) fn in_lane(self, lane: usize) -> Self {
        Self {
            lane: Some(lane),
            ..self
        }
    }

    /// What this waiter finds: takes what it was handed, if it was served; otherwise, if given,
    /// `waker` replaces the task's waker.
    ///
    /// A `Waker`'s clone and drop are user code, and whoever serves this waiter locks its state
    /// while holding the pool's lock: so they run with no lock held (a waker that reaches the
    /// pool would otherwise deadlock), and a new waker is cloned only if it would wake another
    /// task than the one stored (`will_wake`).
    pub(crate) fn poll(&self, waker: Option<&Waker>) -> Polled<T> {
        let waker = {
            let mut state = self.state.lock();
            match (&mut *state, waker) {
                (State::Served(_), _) => return Polled::Served(take_handoff(&mut state)),
                (State::Notified, _) => return Polled::Notified,
                (State::Queued(Wake::Task(current)), Some(waker)) if !current.will_wake(waker) => {
                    waker
                }
                _ => return Polled::Waiting,
            }
        };
        let fresh = waker.clone();
        let mut state = self.state.lock();
        let stale = match &mut *state {
            State::Queued(Wake::Task(current)) => std::mem::replace(current, fresh),
            // Served or notified meanwhile: the fresh waker is not needed.
            State::Served(_) => {
                let handoff = take_handoff(&mut state);
                drop(state);
                drop(fresh);
                return Polled::Served(handoff);
            }
            State::Notified => {
                drop(state);
                drop(fresh);
                return Polled::Notified;
            }
            State::Queued(Wake::Thread(_)) | State::Closed => fresh,
        };
        drop(state);
        drop(stale); // user code, outside the lock
        Polled::Waiting
    }

    /// Under the owner's lock: serves a queued or notified waiter; the `Wake` to run after
    /// unlocking, `None` if it was notified (already woken, it finds this when it looks).
    pub(crate) fn serve(&self, handoff: Handoff<T>) -> Option<Wake> {
        let mut state = self.state.lock();
        match std::mem::replace(&mut *state, State::Served(handoff)) {
            State::Queued(wake) => Some(wake),
            State::Notified => None,
            State::Served(_) | State::Closed => {
                unreachable!("only queued waiters are in the queue")
            }
        }
    }

    /// Under the owner's lock: wakes a queued waiter to look for an idle object itself; the
    /// `Wake` to run after unlocking (`None` if it was notified already).
    pub(crate) fn notify(&self) -> Option<Wake> {
        let mut state = self.state.lock();
        match std::mem::replace(&mut *state, State::Notified) {
            State::Queued(wake) => Some(wake),
            State::Notified => None,
            State::Served(_) | State::Closed => {
                unreachable!("only queued waiters are in the queue")
            }
        }
    }

    /// Under the owner's lock: a notified waiter that found nothing idle waits again, in its
    /// place, to be woken by `wake`. `Err(wake)` if it was not notified (served meanwhile: the
    /// caller then takes the handoff, and drops `wake` after unlocking).
    pub(crate) fn requeue(&self, wake: Wake) -> Result<(), Wake> {
        let mut state = self.state.lock();
        match &*state {
            State::Notified => {
                *state = State::Queued(wake);
                Ok(())
            }
            _ => Err(wake),
        }
    }

    /// Under the owner's lock: ends the wait. What it had been handed, if it was served; its
    /// `Wake` if it was queued (for the caller to drop after unlocking: user code); and whether
    /// it was in the queue (queued or notified).
    pub(crate) fn close(&self) -> Closed<T> {
        let mut state = self.state.lock();
        match std::mem::replace(&mut *state, State::Closed) {
            State::Queued(stale) => Closed::LeftQueue(Some(stale)),
            State::Notified => Closed::LeftQueue(None),
            State::Served(handoff) => Closed::Served(handoff),
            State::Closed => Closed::Already,
        }
    }
}

/// What [`Waiter::close`] found.
pub(crate) enum Closed<T> {
    /// It was in the queue (the caller takes it out); its `Wake` if it was not notified.
    LeftQueue(Option<Wake>),
    /// It had been served: what it was handed.
    Served(Handoff<T>),
    /// It had been closed already.
    Already,
}

/// Moves a `Served` state's handoff out, closing it.
fn take_handoff<T>(state: &mut State<T>) -> Handoff<T> {
    match std::mem::replace(state, State::Closed) {
        State::Served(handoff) => handoff,
        State::Queued(_) | State::Notified | State::Closed => {
            unreachable!("called on a served waiter")
        }
    }
}

/// Blocks the calling thread until `waiter` is served, or until `deadline` (forever if `None`)
/// passes. When it is woken to look for an idle object, `retry` looks under the owner's lock
/// (`Some`: found one; `None`: queued again). At the deadline `cancel` ends the wait under the
/// owner's lock, and what it returns (handed over in the meantime) is the caller's after all.
pub(crate) fn block_until_served<T>(
    waiter: &Waiter<T>,
    deadline: Option<Instant>,
    mut retry: impl FnMut() -> Option<Handoff<T>>,
    cancel: impl FnOnce() -> Option<Handoff<T>>,
) -> Result<Handoff<T>, Timeout> {
    loop {
        match waiter.poll(None) {
            Polled::Served(handoff) => return Ok(handoff),
            Polled::Notified => {
                if let Some(handoff) = retry() {
                    return Ok(handoff);
                }
            }
            Polled::Waiting => {}
        }
        if !park_until(deadline) {
            return cancel().ok_or(Timeout);
        }
    }
}

/// One poll of a task waiting in `waiter`: what it was handed (or found, through `retry`, when
/// it was woken to look for an idle object), or `Pending` (the task's waker is updated to
/// `waker`).
pub(crate) fn poll_served<T>(
    waiter: &Waiter<T>,
    waker: &Waker,
    retry: impl FnOnce() -> Option<Handoff<T>>,
) -> Poll<Handoff<T>> {
    match waiter.poll(Some(waker)) {
        Polled::Served(handoff) => Poll::Ready(handoff),
        Polled::Notified => retry().map_or(Poll::Pending, Poll::Ready),
        Polled::Waiting => Poll::Pending,
    }
}
