//! The model of `tests/pool_lifecycle_props.rs`: what the pool's public docs promise about its
//! objects, places and waiters.

use crate::*;

// ---------------------------------------------------------------------------------------------
// The model

#[derive(Debug)]
pub(crate) enum Handoff {
    /// An idle or returned object (its id, when the model knows which one).
    Object(Option<usize>),
    Place,
}

#[derive(Debug)]
pub(crate) enum Wait {
    Queued,
    Served(Handoff),
}

/// A counter the docs pin down only between bounds.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Range {
    pub(crate) lo: u64,
    pub(crate) hi: u64,
}

impl Range {
    pub(crate) fn add(&mut self) {
        self.lo += 1;
        self.hi += 1;
    }

    pub(crate) fn contains(&self, value: u64) -> bool {
        (self.lo..=self.hi).contains(&value)
    }
}

/// What the pool holds, as far as the docs say.
#[derive(Debug)]
pub(crate) struct Model {
    pub(crate) cap: Option<usize>,
    pub(crate) max_idle: usize,
    /// `Pool` values alive: workers' handles and pending owned futures.
    pub(crate) handles: usize,
    pub(crate) owned_guards: usize,
    pub(crate) idle: usize,
    /// What `stats().in_use` counts: guards, and objects handed to waiters not yet resolved.
    pub(crate) in_use: usize,
    /// Places handed to waiters that have not run the factory yet.
    pub(crate) pending_places: usize,
    pub(crate) queue: VecDeque<u64>,
    pub(crate) waiting: BTreeMap<u64, Wait>,
    /// Ids of the pool's objects (idle, in use, handed over).
    pub(crate) alive: BTreeSet<usize>,
    pub(crate) seen: BTreeSet<usize>,
    pub(crate) created: u64,
    pub(crate) reused: u64,
    pub(crate) discarded: u64,
    /// A return the pool refuses for lack of room is discarded, not returned; one kept and then
    /// dropped by an exit's flush is both. Which of them happened is not always observable.
    pub(crate) returned: Range,
    /// An acquisition at the cap whose idle objects all sit in other threads' caches queues
    /// (and counts a wait) before the steal serves it at once; one that finds an object in its
    /// own cache or the depot does not. The docs ("found the pool at its cap with nothing idle")
    /// do not say which.
    pub(crate) waits: Range,
    /// Waiters served during the current step (blocked workers answer then).
    pub(crate) served: Vec<u64>,
    /// Objects returned during the current step (a discard of one may be a refused return).
    pub(crate) returned_now: BTreeSet<usize>,
    pub(crate) unknown_returns: usize,
}

impl Model {
    pub(crate) fn new(cap: Option<usize>, max_idle: usize, prefilled: BTreeSet<usize>) -> Self {
        Self {
            cap,
            max_idle,
            handles: 0,
            owned_guards: 0,
            idle: prefilled.len(),
            in_use: 0,
            pending_places: 0,
            queue: VecDeque::new(),
            waiting: BTreeMap::new(),
            created: prefilled.len() as u64,
            alive: prefilled.clone(),
            seen: prefilled,
            reused: 0,
            discarded: 0,
            returned: Range::default(),
            waits: Range::default(),
            served: Vec::new(),
            returned_now: BTreeSet::new(),
            unknown_returns: 0,
        }
    }

    /// Places taken: objects alive in the pool, and places handed to waiters.
    pub(crate) fn places(&self) -> usize {
        self.in_use + self.idle + self.pending_places
    }

    pub(crate) fn at_cap(&self) -> bool {
        self.cap.is_some_and(|cap| self.places() >= cap)
    }

    /// Whether an acquisition resolves at once: nobody queued before it, and an object idle
    /// anywhere or a place free.
    pub(crate) fn ready(&self) -> bool {
        self.queue.is_empty() && (self.idle > 0 || !self.at_cap())
    }

    pub(crate) fn freed(&self) -> bool {
        self.handles == 0 && self.owned_guards == 0
    }

    /// Counts the waits an acquisition that may wait will or may cause.
    pub(crate) fn before_acquire(&mut self) {
        if self.cap.is_none() {
            return;
        }
        if !self.ready() {
            self.waits.add();
        } else if self.at_cap() {
            self.waits.hi += 1;
        }
    }

    /// An acquisition resolved at once with object `id`; `reach` is how many idle objects may
    /// be out of the caller's reach (in other threads' caches).
    pub(crate) fn lent(&mut self, id: usize, reach: usize) {
        if self.seen.insert(id) {
            assert!(
                !self.at_cap(),
                "the factory made {id} with every place taken: {self:?}"
            );
            assert!(
                self.idle <= reach,
                "the factory made {id} with {} objects idle, at most {reach} out of reach",
                self.idle
            );
            self.created += 1;
            self.alive.insert(id);
        } else {
            assert!(self.alive.contains(&id), "handed out {id}, already dropped");
            assert!(self.idle > 0, "reused {id} with nothing idle: {self:?}");
            self.idle -= 1;
            self.reused += 1;
        }
        self.in_use += 1;
    }

    pub(crate) fn enqueue(&mut self, key: u64) {
        self.queue.push_back(key);
        self.waiting.insert(key, Wait::Queued);
    }

    /// Hands `handoff` to the first waiter; `false` if nobody waits.
    pub(crate) fn serve(&mut self, handoff: Handoff) -> bool {
        let Some(key) = self.queue.pop_front() else {
            return false;
        };
        match handoff {
            Handoff::Object(_) => {
                self.reused += 1;
                self.in_use += 1;
            }
            Handoff::Place => self.pending_places += 1,
        }
        self.waiting.insert(key, Wait::Served(handoff));
        self.served.push(key);
        true
    }

    /// An object in use comes back: to the first waiter, or idle.
    pub(crate) fn give_back(&mut self, id: Option<usize>) {
        assert!(self.in_use > 0, "model: a return with nothing in use");
        self.in_use -= 1;
        self.returned.add();
        match id {
            Some(id) => {
                self.returned_now.insert(id);
            }
            None => self.unknown_returns += 1,
        }
        if !self.serve(Handoff::Object(id)) {
            self.idle += 1;
        }
    }

    /// A place freed (its object ended): to the first waiter, or free.
    pub(crate) fn free_place(&mut self) {
        self.serve(Handoff::Place);
    }

    /// A future was dropped.
    pub(crate) fn cancel(&mut self, key: u64) {
        match self.waiting.remove(&key) {
            Some(Wait::Queued) => self.queue.retain(|&k| k != key),
            Some(Wait::Served(Handoff::Object(id))) => self.give_back(id),
            Some(Wait::Served(Handoff::Place)) => {
                self.pending_places -= 1;
                self.free_place();
            }
            None => panic!("model: no waiter {key}"),
        }
    }

    /// A served waiter resolved with object `id`.
    pub(crate) fn take_handoff(&mut self, key: u64, id: usize) {
        let fresh = self.seen.insert(id);
        match self.waiting.remove(&key) {
            Some(Wait::Served(Handoff::Object(expected))) => {
                assert!(!fresh, "a waiter handed an object resolved with a new one");
                if let Some(expected) = expected {
                    assert_eq!(
                        id, expected,
                        "a waiter got another object than the returned one"
                    );
                }
            }
            Some(Wait::Served(Handoff::Place)) => {
                assert!(
                    fresh,
                    "a waiter handed a place resolved with old object {id}"
                );
                self.created += 1;
                self.alive.insert(id);
                self.pending_places -= 1;
                self.in_use += 1;
            }
            other => panic!("waiter {key} resolved while {other:?}: {self:?}"),
        }
    }

    /// The pool dropped idle object `id` for lack of room.
    pub(crate) fn discard(&mut self, id: usize) {
        assert!(
            self.idle > 0,
            "object {id} dropped with nothing idle: {self:?}"
        );
        self.alive.remove(&id);
        self.idle -= 1;
        self.discarded += 1;
        if self.returned_now.remove(&id) || self.unknown_returns > 0 {
            // Maybe a refused return, counted as discarded only.
            self.unknown_returns = self.unknown_returns.saturating_sub(1);
            self.returned.lo -= 1;
        }
        self.free_place();
    }
}
