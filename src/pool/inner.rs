//! The engine of [`Pool`](super::Pool): thread caches in front of a shared depot.
//!
//! Hot paths (`take_cached`, `keep` on a hit) touch only the calling thread's slot: no lock, no
//! read-modify-write atomic. Slow paths trade a batch with the depot under its lock, which only
//! moves pointers. User code (factory, recycle policy, `T::drop`) always runs outside both the
//! lock and the slot borrow, so it may use the pool again.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use super::cache::ThreadCache;
use super::counts::Totals;
use super::depot::Depot;
use super::lanes::Lanes;
use super::limiter::Limiter;
use super::magazines::Magazine;
use super::refs::Refs;
use super::slots::{Shared, Slot};
use super::thread::{drop_all, ThreadExit, ThreadHandle};
use super::tier::{count_kept, Source, ThreadTier, TierHost};
use super::waiter::Wakes;
use crate::counting::Change;
use crate::recycle::SharedRecycler;
use crate::stats::PoolStats;
use crate::sync::{ArcDropSync, Mutex, MutexGuard, Weak};

pub(crate) type Factory<T> = Box<dyn Fn() -> T + Send + Sync>;

/// Where a returned object went when the thread tier was asked to keep it.
enum Kept<T> {
    /// The thread tier decided: kept (`Ok`) or no room anywhere (`Err`).
    Decided(Result<(), Box<T>>),
    /// No thread tier for this thread (exiting), or the caches closed: the depot decides.
    NoCache(Box<T>),
}

/// Keeps a value off the cache lines of its neighbours (two lines, as for thread slots).
#[repr(align(128))]
struct OwnLines<X>(X);

pub(crate) struct Inner<T, R> {
    /// This pool, for registering thread-exit hooks from `&self` (guards borrow `&Inner`
    /// directly, saving a pointer hop on every return).
    me: Weak<Inner<T, R>>,
    /// Every thread's cache (`tier.rs`).
    pub(super) tier: ThreadTier<T>,
    /// On lines of its own: every trade writes the lock, and nothing the hit path reads may share
    /// a line with it.
    depot: OwnLines<Mutex<Depot<T>>>,
    factory: Factory<T>,
    pub(super) recycler: R,
    /// Handles and owned-guard references (see `refs.rs`).
    pub(super) refs: Refs,
    /// Lets loom see that every handle's last use precedes the drop (see `sync.rs`).
    pub(crate) drop_sync: ArcDropSync,
    /// The cap of a pool built with `max_live` (see `limiter.rs`).
    pub(super) limiter: Option<Limiter>,
    /// Where tasks wait at that cap, one queue per thread (`lanes.rs`); `None` in an unbounded
    /// pool and in a strict one (`fair_after` zero).
    pub(super) lanes: Option<Lanes<T>>,
}

impl<T, R> Inner<T, R> {
    pub(crate) fn new(
        me: Weak<Self>,
        factory: Factory<T>,
        recycler: R,
        max_idle: usize,
        thread_cache: usize,
        limiter: Option<Limiter>,
    ) -> Self {
        let tier = ThreadTier::new(thread_cache, limiter.is_some());
        // With a thread tier, depot magazines hold one trade's worth; without one, `put_one`
        // still groups objects so the depot's stack stays short.
        let magazine_len = if tier.is_on() { tier.batch() } else { 32 };
        let lanes = limiter
            .as_ref()
            .filter(|limiter| !limiter.is_strict())
            .map(|_| Lanes::new());
        Self {
            me,
            tier,
            depot: OwnLines(Mutex::new(Depot::new(max_idle, magazine_len))),
            factory,
            recycler,
            refs: Refs::new(),
            drop_sync: ArcDropSync::default(),
            limiter,
            lanes,
        }
    }

    pub(super) fn depot(&self) -> MutexGuard<'_, Depot<T>> {
        self.drop_sync.touch();
        self.depot.0.lock()
    }
}

impl<T: Send + 'static, R: SharedRecycler<T>> Inner<T, R> {
    /// Runs `f` with this thread's slot; `None` while this thread-local is being destroyed.
    #[inline(always)]
    pub(super) fn with_slot<'s, X>(
        &'s self,
        f: impl FnOnce(&ThreadHandle, &'s Slot<T>) -> X,
    ) -> Option<X> {
        self.drop_sync.touch();
        self.tier.with_slot(f)
    }

    /// Moves counters of the calling thread's slot, or the depot's without a thread tier, and
    /// publishes the in-use balance (off the hit paths only: creation, discards, detach).
    /// Publishing here keeps every thread's unpublished balance within its cache size, which is
    /// what bounds the error of `peak_in_use`.
    pub(super) fn count(&self, change: Change) {
        let counted = self
            .tier
            .is_on()
            .then(|| {
                self.with_slot(|thread, slot| {
                    slot.shared().counts.change(change);
                    let mut depot = self.depot();
                    slot.with_cache_locked(thread, &mut depot, |cache, depot| {
                        self.trade_tallies(slot.shared(), cache, depot);
                    });
                })
            })
            .flatten();
        if counted.is_none() {
            let mut depot = self.depot();
            depot.count(change);
        }
    }

    /// Under the depot lock, on every trade: publishes this thread's in-use balance (for
    /// `peak_in_use`) and hands its tally of released owned-guard references to the depot.
    pub(super) fn trade_tallies(
        &self,
        shared: &Shared,
        cache: &mut ThreadCache<'_, T>,
        depot: &mut Depot<T>,
    ) {
        let balance = shared.counts.lent_balance(Some(&shared.fill));
        depot.peak.publish(cache.published_balance(), balance);
        self.refs.collect_released(shared, &mut depot.refs);
    }

    /// Enables this thread's cache, registering this pool's exit flush (see
    /// [`ThreadTier::enable`]).
    fn enable_cache(&self, thread: &ThreadHandle, cache: &mut ThreadCache<'_, T>) -> bool {
        self.tier.enable(thread, cache, || {
            let weak: Weak<Self> = self.me.clone();
            weak
        })
    }

    /// Creates `n` idle objects (the builder's `prefill`).
    pub(crate) fn prefill(&self, n: usize) {
        // `build` checked prefill <= max_live.
        self.depot().places.take(n);
        for _ in 0..n {
            let obj = Box::new((self.factory)());
            let mut depot = self.depot();
            depot.counts.change(Change::Prefilled);
            if depot.magazines.put_one(obj).is_err() {
                unreachable!("`build` checked prefill <= max_idle");
            }
        }
    }

    /// An idle object from this thread's cache, without a lock: the hit path.
    #[inline(always)]
    pub(crate) fn take_cached(&self) -> Option<Box<T>> {
        self.drop_sync.touch();
        ThreadTier::take(self)
    }

    /// An idle object from the depot (refilling this thread's cache), or `None`.
    #[cold]
    #[inline(never)]
    pub(crate) fn take_slow(&self) -> Option<Box<T>> {
        if self.tier.is_on() && !self.caches_closed() {
            let via_thread = self.with_slot(|thread, slot| {
                let mut depot = self.depot();
                if self
                    .limiter
                    .as_ref()
                    .is_some_and(Limiter::caches_closed_locked)
                {
                    // Closed since the check above: the depot serves instead.
                    return Some(self.take_from_depot(&mut depot));
                }
                slot.with_cache_locked(thread, &mut depot, |cache, depot| {
                    if !self.enable_cache(thread, cache) {
                        return None;
                    }
                    self.trade_tallies(slot.shared(), cache, depot);
                    // A bounded pool's hit path may have turned away from a cache that was
                    // not empty (the caches were closed a moment ago).
                    if let Some(obj) = cache.pop() {
                        return Some(Some(obj));
                    }
                    self.refs.stock_spares(slot.shared(), &mut depot.refs);
                    self.tier.refill(cache, &mut depot.magazines);
                    Some(cache.pop()) // counted by the fill word, as a hit's pop is
                })
            });
            if let Some(Some(taken)) = via_thread {
                return taken;
            }
        }
        // Closed caches (a bounded pool that waits or waited a moment ago), or no thread tier
        // here: take one object straight from the depot.
        self.take_from_depot(&mut self.depot())
    }

    /// A new object from the factory (outside every lock: it may use the pool).
    #[cold]
    #[inline(never)]
    pub(crate) fn create(&self) -> Box<T> {
        let obj = Box::new((self.factory)());
        self.count(Change::Created);
        obj
    }

    /// Takes back an object a guard held: recycles it, keeps it if the policy and the caps
    /// allow, and drops it otherwise. A panic in the policy or in `T::drop` leaves the counts
    /// right.
    #[inline(always)]
    pub(crate) fn give_back(&self, obj: Box<T>) {
        if let Err(refused) = self.recycle_and_keep(obj, Source::Guard) {
            self.discard_refused(refused);
        }
    }

    /// Counts and drops a guard's object that the policy refused or no tier had room for.
    #[cold]
    #[inline(never)]
    fn discard_refused(&self, refused: Box<T>) {
        self.count(Change::DiscardedOnReturn);
        self.drop_then_free_places([refused]);
    }

    /// Recycles `obj` and keeps it; gives it back if the policy refused it or every tier is full.
    #[inline(always)]
    pub(crate) fn recycle_and_keep(&self, mut obj: Box<T>, source: Source) -> Result<(), Box<T>> {
        let keep = match panic::catch_unwind(AssertUnwindSafe(|| self.recycler.recycle(&mut obj))) {
            Ok(keep) => keep,
            Err(panic) => self.lost_to_panic(obj, source, panic),
        };
        if !keep {
            return Err(obj);
        }
        match self.keep_cached(obj, source) {
            Ok(()) => Ok(()),
            Err(obj) => self.keep_slow(obj, source),
        }
    }

    /// Pushes onto this thread's cache if it has room: the return half of the hit path.
    #[inline(always)]
    fn keep_cached(&self, obj: Box<T>, source: Source) -> Result<(), Box<T>> {
        self.drop_sync.touch();
        ThreadTier::keep(self, obj, source)
    }

    /// Keeps a returned object when this thread's cache cannot: flushes half of this thread's
    /// full cache to the depot to make room (enabling the cache first if this is the thread's
    /// first return); or, when a bounded pool's caches are closed or there is no thread tier,
    /// keeps it in the depot ([`Inner::keep_in_depot`]). Gives the object back if the depot is
    /// full too.
    #[cold]
    #[inline(never)]
    fn keep_slow(&self, obj: Box<T>, source: Source) -> Result<(), Box<T>> {
        if !self.tier.is_on() || self.caches_closed() {
            let obj = match self.serve_own_lane(obj, source) {
                Ok(()) => return Ok(()),
                Err(obj) => obj,
            };
            return self.keep_in_depot(obj, source);
        }
        self.drop_sync.touch();
        let kept = self.tier.with_slot_or(
            obj,
            |thread, slot, obj| {
                let mut depot = self.depot();
                if self
                    .limiter
                    .as_ref()
                    .is_some_and(Limiter::caches_closed_locked)
                {
                    // Closed since the check above.
                    return Kept::NoCache(obj);
                }
                slot.with_cache_locked(thread, &mut depot, |cache, depot| {
                    if !self.enable_cache(thread, cache) {
                        return Kept::NoCache(obj);
                    }
                    self.trade_tallies(slot.shared(), cache, depot);
                    self.tier.make_room(cache, &mut depot.magazines);
                    Kept::Decided(ThreadTier::push_locked(
                        &slot.shared().counts,
                        cache,
                        obj,
                        source,
                    ))
                })
            },
            Kept::NoCache,
        );
        match kept {
            Kept::Decided(result) => result,
            Kept::NoCache(obj) => self.keep_in_depot(obj, source),
        }
    }

    /// Keeps a returned object in the depot, or hands it to an overdue waiter of a bounded pool
    /// whose caches are closed (waking one to take it otherwise: [`Inner::return_while_closed`]).
    /// Counted in the depot, where a `get` it serves is counted and both are published at once:
    /// counted in a thread's slot, the return would stay unpublished while the depot's side
    /// raises the estimate behind `peak_in_use` on every hand-off. Gives the object back if the
    /// depot is full.
    fn keep_in_depot(&self, obj: Box<T>, source: Source) -> Result<(), Box<T>> {
        let mut wakes = Wakes::default();
        let mut depot = self.depot();
        // A return the lanes take (their turn, see `Lanes::lanes_turn`) is not kept.
        let obj = self.lanes_turn(&mut depot, obj, &mut wakes).err();
        if let Some(obj) = obj.and_then(|obj| self.return_while_closed(&mut depot, obj, &mut wakes))
        {
            self.reopen_if_due(&mut depot);
            if let Err(obj) = depot.magazines.put_one(obj) {
                drop(depot);
                wakes.wake_all(); // a waiter woken for it finds nothing, and waits again
                return Err(obj);
            }
        }
        // Kept idle, or handed to a depot waiter: that may have been the queue's last one, which
        // leaves objects it was notified of idle for the lanes (`offer_to_lanes` serves lanes only
        // while nobody waits in the depot's queue; nothing else would serve them until the next
        // return or freed place).
        self.offer_to_lanes(&mut depot, &mut wakes);
        count_kept(&depot.counts, source);
        depot.publish_own_balance();
        drop(depot);
        wakes.wake_all();
        Ok(())
    }

    /// The recycle policy panicked on `obj`: counts it as discarded if it was a guard's (a `put`
    /// object never entered the pool), drops it, frees its place (a bounded `put` took one
    /// first), and resumes the panic.
    #[cold]
    #[inline(never)]
    fn lost_to_panic(&self, obj: Box<T>, source: Source, panic: Box<dyn Any + Send>) -> ! {
        if source == Source::Guard {
            self.count(Change::DiscardedOnReturn);
        }
        // The policy's panic goes first; one from `T::drop` here is reported and stops.
        let _reported_by_the_panic_hook = self.drop_all_then_free_places([obj]);
        panic::resume_unwind(panic)
    }

    /// Counts an object adopted into a guard (`Pool::attach`) as `LocalPool::attach` does: a
    /// `put` that was kept (`returned`), then a `get` it served (`reused`), so one more in use.
    pub(crate) fn note_attached(&self) {
        self.count(Change::Attached);
    }

    /// Counts a guard's object as detached.
    pub(crate) fn note_detached(&self) {
        self.count(Change::Detached);
        self.free_places(1);
    }

    /// Drops every idle object in the depot and in the calling thread's cache; returns how many.
    pub(crate) fn trim(&self) -> usize {
        let from_cache = self
            .tier
            .is_on()
            .then(|| {
                self.with_slot(|thread, slot| {
                    let mut depot = self.depot();
                    slot.with_cache_locked(thread, &mut depot, |cache, _| cache.take_all())
                })
            })
            .flatten()
            .unwrap_or_default();
        let magazines = self.depot().magazines.take_all();
        self.discard(magazines, from_cache)
    }

    /// Drops the depot objects that stayed idle since the previous call; returns how many.
    pub(crate) fn trim_unused(&self) -> usize {
        let magazines = self.depot().magazines.take_unused();
        self.discard(magazines, Vec::new())
    }

    /// Counts, then drops (outside every lock, each exactly once even if some `T::drop`s
    /// panic), objects the pool gives up.
    fn discard(&self, magazines: Vec<Magazine<T>>, more: Vec<Box<T>>) -> usize {
        let n = more.len() + magazines.iter().map(Vec::len).sum::<usize>();
        self.depot().counts.change(Change::IdleDropped(n));
        self.drop_then_free_places(magazines.into_iter().flatten().chain(more));
        n
    }

    /// A snapshot of the counters of every thread and of the depot. The in-use count it sees is
    /// recorded as a peak sample too, so `peak_in_use` never goes down between two snapshots.
    pub(crate) fn stats(&self) -> PoolStats {
        let mut totals = Totals::default();
        let mut depot = self.depot();
        totals.add(&depot.counts, None);
        // Under the depot lock: no trade is halfway, so every fill word reads whole.
        self.tier
            .slots
            .for_each(|shared| totals.add(&shared.counts, Some(&shared.fill)));
        // Hand-offs in lanes (a return and the `get` it served), and the tasks that waited there.
        let lane_waits = self
            .lanes
            .as_ref()
            .map_or(0, |lanes| lanes.add_totals(&mut totals));
        if let Some(limiter) = &self.limiter {
            totals.cap_live(limiter.max_live);
        }
        depot.peak.observe(totals.in_use());
        // In a bounded pool no more than `max_live` can ever be in use: the estimate's error
        // (see `PoolStats::peak_in_use`) never takes it past that.
        let peak = match &self.limiter {
            Some(limiter) => depot.peak.peak().min(limiter.max_live),
            None => depot.peak.peak(),
        };
        totals.into_stats(peak, depot.places.waits() + lane_waits)
    }

    /// Objects idle in the shared depot (not counting thread caches).
    pub(crate) fn depot_idle(&self) -> usize {
        self.depot().magazines.idle()
    }
}

impl<T, R> TierHost<T> for Inner<T, R> {
    #[inline(always)]
    fn tier(&self) -> &ThreadTier<T> {
        &self.tier
    }

    #[inline(always)]
    fn limiter(&self) -> Option<&Limiter> {
        self.limiter.as_ref()
    }

    #[cold]
    #[inline(never)]
    fn fold_pushes(&self, thread: &ThreadHandle, slot: &Slot<T>) {
        self.tier.fold_pushes(thread, slot, &mut self.depot());
    }
}

impl<T: Send + 'static, R: SharedRecycler<T>> ThreadExit for Inner<T, R> {
    fn thread_exited(&self, thread: &ThreadHandle) {
        let slot = self.tier.slots.get(thread);
        let mut wakes = Wakes::default();
        let mut depot = self.depot();
        let overflow = slot.with_cache_locked(thread, &mut depot, |cache, depot| {
            let objects = cache.disable();
            self.trade_tallies(slot.shared(), cache, depot);
            self.refs
                .spares_at_thread_exit(slot.shared(), &mut depot.refs);
            self.stock(depot, objects, &mut wakes)
        });
        drop(depot);
        wakes.wake_all();
        // Runs inside a thread-local destructor: every object is dropped even if one panics, and
        // the first panic goes to `ThreadHandle::drop`, which stops it there.
        let dropped = self.drop_all_then_free_places(overflow);
        // The caller drops its upgraded `Arc` next.
        self.drop_sync.before_release();
        if let Err(panic) = dropped {
            std::panic::resume_unwind(panic);
        }
    }
}

impl<T, R> Drop for Inner<T, R> {
    fn drop(&mut self) {
        self.drop_sync.before_destroy();
        // Every object at once, each dropped exactly once even if some `T::drop`s panic. A panic
        // stops here, after the panic hook has reported it: the last handle, guard or exit hook
        // may be dropped by a thread-local destructor, where an escaping panic aborts the process,
        // and there is no telling from here.
        let mut objects: Vec<Box<T>> = self
            .depot
            .0
            .lock()
            .magazines
            .take_all()
            .into_iter()
            .flatten()
            .collect();
        objects.extend(self.tier.slots.take_cached_objects());
        let _reported_by_the_panic_hook = drop_all(objects);
    }
}
