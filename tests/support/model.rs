//! The reference model of a pool, shared by the model-based tests (`tests/pool_props.rs`,
//! `tests/local_pool_props.rs`, with `mod support;`) and the fuzz targets (`fuzz/src/lib.rs`
//! includes this file as its `model` module): [`Ledger`] knows where each object is and the
//! statistics that follow; [`Guard`] is either kind of guard the harnesses hold.
//!
//! It depends on `hotpool`, std and its sibling `tracker` module only (`super::tracker`: in
//! both crates the two files are siblings), so both crates compile it as is.
//!
//! The ledger learns what the pool did from what the harness sees: the object a `get` returned
//! (by id), and the [`Tracker`] (which objects the pool dropped). From that alone, with no
//! knowledge of the pool's tiers, it knows every counter of [`PoolStats`] exactly:
//!
//! - `created`: objects the factory made; a `get` returns either the next id (fresh from the
//!   factory) or an object that is idle in the pool, never one lent, owned or dropped;
//! - `reused`: `get`s that returned an idle object;
//! - `returned`: guards whose object the pool kept, plus `put`s it accepted;
//! - `discarded`: objects the pool dropped (found by [`Ledger::sweep`]: an idle object whose
//!   drop count went to 1, or a returning guard's object dropped on the spot);
//! - `detached`, `in_use`: counted as the harness detaches and holds guards;
//! - `idle`: objects in [`Place::Idle`].
//!
//! Any object the pool drops while a guard or the harness owns it, drops twice, or never drops
//! by the end of the run is a failure.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use hotpool::PoolStats;

use super::tracker::{Tracked, Tracker};

/// Where one object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Held by a guard.
    Lent,
    /// Idle in the pool (a thread cache or the depot: the ledger does not care which).
    Idle,
    /// Owned by the harness: detached from the pool, or refused by `put`, or not handed to it yet.
    Harness,
    /// Dropped (exactly once, checked by [`Tracked`]'s `Drop`).
    Dropped,
}

/// The counters a pool must report, as the ledger derived them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub created: u64,
    pub reused: u64,
    pub returned: u64,
    pub discarded: u64,
    pub detached: u64,
    pub in_use: usize,
    /// The highest `in_use` so far.
    pub peak_in_use: usize,
}

/// The model of one pool's objects; see the module docs.
#[derive(Debug)]
pub struct Ledger {
    tracker: Arc<Tracker>,
    places: Vec<Place>,
    /// What `stats()` must say (`idle` is derived from `places`).
    pub expected: Expected,
}

impl Ledger {
    /// A ledger for the objects of `tracker`, none made yet.
    pub fn new(tracker: &Arc<Tracker>) -> Self {
        assert_eq!(
            tracker.created(),
            0,
            "a ledger starts before any object exists"
        );
        Self {
            tracker: Arc::clone(tracker),
            places: Vec::new(),
            expected: Expected::default(),
        }
    }

    /// Records the `n` objects the builder's `prefill` made: idle in the pool.
    pub fn prefilled(&mut self, n: usize) {
        assert_eq!(
            self.tracker.created(),
            self.places.len() + n,
            "prefill made {n} objects"
        );
        self.places.resize(self.places.len() + n, Place::Idle);
        self.expected.created += n as u64;
    }

    /// A new object owned by the harness (to `put` into the pool later).
    pub fn make_own(&mut self) -> Tracked {
        assert_eq!(
            self.tracker.created(),
            self.places.len(),
            "factory ran behind the ledger's back"
        );
        self.places.push(Place::Harness);
        self.tracker.make()
    }

    /// Records that a `get` handed out object `id`; returns whether the factory just made it.
    /// Panics if the pool handed out an object it does not hold idle.
    pub fn handed_out(&mut self, id: usize) -> bool {
        let fresh = id == self.places.len();
        if fresh {
            assert_eq!(
                self.tracker.created(),
                id + 1,
                "one factory call per fresh object"
            );
            self.places.push(Place::Lent);
            self.expected.created += 1;
        } else {
            let place = self.places.get(id).copied();
            assert_eq!(
                place,
                Some(Place::Idle),
                "object {id} handed out from {place:?}"
            );
            self.places[id] = Place::Lent;
            self.expected.reused += 1;
        }
        let e = &mut self.expected;
        e.in_use += 1;
        e.peak_in_use = e.peak_in_use.max(e.in_use);
        fresh
    }

    /// Records that the guard of object `id` was dropped; returns whether the pool kept the
    /// object (`false`: the pool dropped it, refused by the recycle policy or for lack of room).
    pub fn guard_ended(&mut self, id: usize) -> bool {
        self.leave(id, Place::Lent);
        self.expected.in_use -= 1;
        let kept = self.tracker.drops_of(id) == 0;
        if kept {
            self.places[id] = Place::Idle;
            self.expected.returned += 1;
        } else {
            self.places[id] = Place::Dropped;
            self.expected.discarded += 1;
        }
        kept
    }

    /// Records that object `id` was detached from its guard: the harness owns it now.
    pub fn detached(&mut self, id: usize) {
        self.leave(id, Place::Lent);
        assert_eq!(
            self.tracker.drops_of(id),
            0,
            "detached object {id} was dropped"
        );
        self.places[id] = Place::Harness;
        self.expected.in_use -= 1;
        self.expected.detached += 1;
    }

    /// Records the outcome of `put` of the harness's object `id`: kept, or given back.
    pub fn put(&mut self, id: usize, kept: bool) {
        self.leave(id, Place::Harness);
        assert_eq!(self.tracker.drops_of(id), 0, "`put` dropped object {id}");
        if kept {
            self.places[id] = Place::Idle;
            self.expected.returned += 1;
        } else {
            self.places[id] = Place::Harness;
        }
    }

    /// The object a `put` hands over: `own[index]` (see [`pick`]), or a new one.
    pub fn take_own(&mut self, own: &mut Vec<Tracked>, index: u8) -> Tracked {
        match pick(own, index) {
            Some(i) => own.swap_remove(i),
            None => self.make_own(),
        }
    }

    /// The object a `put` hands over: the one the harness came to own last, or a new one.
    pub fn take_last_own(&mut self, own: &mut Vec<Tracked>) -> Tracked {
        match own.pop() {
            Some(obj) => obj,
            None => self.make_own(),
        }
    }

    /// Records what `put` of object `id` returned (see [`Ledger::put`]); an object it refused
    /// must come back reset, and goes back to `own`. Returns whether the pool kept it.
    pub fn put_result(
        &mut self,
        id: usize,
        result: Result<(), Tracked>,
        own: &mut Vec<Tracked>,
    ) -> bool {
        self.put(id, result.is_ok());
        match result {
            Ok(()) => true,
            Err(back) => {
                assert!(
                    back.id == id && back.data.is_empty(),
                    "refused put not reset"
                );
                own.push(back);
                false
            }
        }
    }

    /// Drops `own[index]` (see [`pick`]), if the harness owns any object.
    pub fn drop_own_at(&mut self, own: &mut Vec<Tracked>, index: u8) {
        if let Some(i) = pick(own, index) {
            self.drop_own(own.swap_remove(i));
        }
    }

    /// Drops an object the harness owns.
    pub fn drop_own(&mut self, obj: Tracked) {
        let id = obj.id;
        self.leave(id, Place::Harness);
        drop(obj);
        self.places[id] = Place::Dropped;
    }

    fn leave(&self, id: usize, from: Place) {
        assert_eq!(
            self.places[id], from,
            "object {id} is not where the model put it"
        );
    }

    /// Finds the idle objects the pool dropped since the last call (a trim, a full depot taking
    /// an exiting thread's cache, the pool's drop), counts them as discarded, and returns how
    /// many. Checks every other object: the pool never drops what it lent out or gave away, and
    /// the factory runs only when the model saw it.
    pub fn sweep(&mut self) -> usize {
        assert_eq!(
            self.tracker.created(),
            self.places.len(),
            "factory ran behind the ledger's back"
        );
        let mut swept = 0;
        for (id, place) in self.places.iter_mut().enumerate() {
            let drops = self.tracker.drops_of(id);
            match *place {
                Place::Idle if drops == 1 => {
                    *place = Place::Dropped;
                    swept += 1;
                }
                Place::Dropped => assert_eq!(drops, 1, "object {id}"),
                other => assert_eq!(drops, 0, "object {id} dropped while {other:?}"),
            }
        }
        self.expected.discarded += swept as u64;
        swept
    }

    /// Objects idle in the pool, by the model.
    pub fn idle(&self) -> usize {
        self.idle_ids().count()
    }

    /// The ids of the objects idle in the pool, by the model, in increasing order.
    pub fn idle_ids(&self) -> impl Iterator<Item = usize> + '_ {
        (self.places.iter().enumerate())
            .filter(|&(_, &p)| p == Place::Idle)
            .map(|(id, _)| id)
    }

    /// The stats the pool must report if its `peak_in_use` is exact and nothing ever waited (an
    /// unbounded pool on one thread): compare them whole, every field at once.
    pub fn stats(&self) -> PoolStats {
        let e = &self.expected;
        let mut stats = PoolStats::default();
        stats.created = e.created;
        stats.reused = e.reused;
        stats.returned = e.returned;
        stats.discarded = e.discarded;
        stats.detached = e.detached;
        stats.idle = self.idle();
        stats.in_use = e.in_use;
        stats.peak_in_use = e.peak_in_use;
        stats
    }

    /// Compares `stats` with the model. `peak_in_use` may differ from the model's by at most
    /// `peak_slack` (0: exact; a `Pool` with thread caches is accurate to within `thread_cache`
    /// per thread that used it), and is never below the current `in_use`.
    pub fn check(&self, stats: &PoolStats, peak_slack: usize) {
        let e = &self.expected;
        let got = Expected {
            created: stats.created,
            reused: stats.reused,
            returned: stats.returned,
            discarded: stats.discarded,
            detached: stats.detached,
            in_use: stats.in_use,
            peak_in_use: e.peak_in_use,
        };
        assert_eq!(got, *e, "stats differ from the model: {stats:?}");
        assert_eq!(
            stats.idle,
            self.idle(),
            "idle differs from the model: {stats:?}"
        );
        assert!(
            stats.peak_in_use >= e.in_use
                && stats.peak_in_use.abs_diff(e.peak_in_use) <= peak_slack,
            "peak_in_use outside {} +- {peak_slack} (in use {}): {stats:?}",
            e.peak_in_use,
            e.in_use
        );
    }

    /// After the pool itself is gone: every object it held idle was dropped with it, and the
    /// ones still lent or owned by the harness were not.
    pub fn pool_dropped(&mut self) {
        let idle = self.idle();
        assert_eq!(
            self.sweep(),
            idle,
            "the pool's drop dropped every idle object"
        );
    }
}

/// Either kind of guard of a pool: borrowing it (`B`) or owning a handle to it (`O`).
pub enum Guard<B, O> {
    Borrowed(B),
    Owned(O),
}

impl<B: Deref<Target = Tracked>, O: Deref<Target = Tracked>> Deref for Guard<B, O> {
    type Target = Tracked;

    fn deref(&self) -> &Tracked {
        match self {
            Guard::Borrowed(g) => g,
            Guard::Owned(g) => g,
        }
    }
}

impl<B: DerefMut<Target = Tracked>, O: DerefMut<Target = Tracked>> DerefMut for Guard<B, O> {
    fn deref_mut(&mut self) -> &mut Tracked {
        match self {
            Guard::Borrowed(g) => g,
            Guard::Owned(g) => g,
        }
    }
}

impl<B, O> Guard<B, O> {
    /// Takes the object out of the pool for good, with the guard type's `detach`.
    pub fn detach(self, borrowed: fn(B) -> Tracked, owned: fn(O) -> Tracked) -> Tracked {
        match self {
            Guard::Borrowed(g) => borrowed(g),
            Guard::Owned(g) => owned(g),
        }
    }
}

/// `items[index % len]`'s position, or `None` if `items` is empty: how an op picks its target.
pub fn pick<T>(items: &[T], index: u8) -> Option<usize> {
    (!items.is_empty()).then(|| usize::from(index) % items.len())
}
