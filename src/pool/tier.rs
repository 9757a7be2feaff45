//! The thread tier: every thread's cache of idle objects in front of the depot, and the hit path
//! through it.
//!
//! A hit (`take`, `keep`) touches only the calling thread's slot: no lock and no
//! read-modify-write atomic. The slot is found the cheapest way: the thread's last-slot entry
//! (`thread.rs`) if it names this pool's table, else the table itself (`slots.rs`), out of line.
//! A bounded pool's hit path opens the cache announced, and turns away while its
//! [`Limiter`] has waiters queued. The slow paths' trades with the depot (`refill`,
//! `make_room`) run under the depot lock, which the caller holds; enabling a cache registers the
//! thread's exit flush, and the push count folds under the lock too (see `cache.rs`).
//!
//! Nothing here runs user code or takes the depot lock itself: the pool (`inner.rs`) does that
//! and passes in what the tier needs.

use super::cache::{ThreadCache, Trade};
use super::counts::Counts;
use super::limiter::Limiter;
use super::magazines::Magazines;
use super::slots::{Slot, ThreadSlots};
use super::thread::{self, Remembered, ThreadExit, ThreadHandle};
use crate::counting::Change;
use crate::sync::Weak;

/// Why an object comes back: decides which counters it moves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A guard was dropped.
    Guard,
    /// `Pool::put`.
    Put,
}

/// Which door of [`Slot`] a hit path opens (see [`ThreadTier::hit`]).
#[derive(Clone, Copy)]
pub(crate) enum Door {
    /// A slot from the last-slot entry of unstealable tables, so of an unbounded pool:
    /// unannounced, without checking.
    Unannounced,
    /// Whichever door the pool's limiter asks for (none: unannounced).
    Limiter,
}

/// What the hit path needs from its pool: the tier, the limiter, and the depot lock to fold a
/// fill word under. The hit path's closures capture the host alone, one pointer, which keeps them
/// small enough to inline whole (the slot lookup's second branch included).
pub(crate) trait TierHost<T> {
    fn tier(&self) -> &ThreadTier<T>;
    fn limiter(&self) -> Option<&Limiter>;
    /// Folds the push count of `slot`'s fill word under the depot lock (see `cache.rs`): once
    /// every 2^46 returns on 64-bit targets.
    fn fold_pushes(&self, thread: &ThreadHandle, slot: &Slot<T>);
}

/// Every thread's cache of one pool, and the sizes of its trades with the depot.
pub(crate) struct ThreadTier<T> {
    pub(crate) slots: ThreadSlots<T>,
    /// Per-thread cache size; 0 = no thread tier: every operation goes to the depot.
    limit: usize,
    /// Objects moved per trade with the depot.
    batch: usize,
}

impl<T> ThreadTier<T> {
    /// `limit` objects per thread; `stealable` for a bounded pool, whose waiters take idle
    /// objects out of every thread's cache.
    pub(crate) fn new(limit: usize, stealable: bool) -> Self {
        Self {
            slots: ThreadSlots::new(stealable),
            limit,
            // Half the cache per trade: after a flush or refill the thread still has room (or
            // objects) for half a cache of hits, so a get/put pattern at the boundary cannot make
            // every operation take the lock.
            batch: limit.div_ceil(2).max(1),
        }
    }

    /// Whether threads cache objects at all (`thread_cache > 0`).
    #[inline(always)]
    pub(crate) fn is_on(&self) -> bool {
        self.limit > 0
    }

    /// Objects moved per trade with the depot: the longest magazine the depot makes.
    pub(crate) fn batch(&self) -> usize {
        self.batch
    }

    /// Runs `f` with this thread's slot; `None` while this thread-local is being destroyed.
    #[inline(always)]
    pub(crate) fn with_slot<'s, X>(
        &'s self,
        f: impl FnOnce(&ThreadHandle, &'s Slot<T>) -> X,
    ) -> Option<X> {
        self.with_slot_or((), |thread, slot, ()| Some(f(thread, slot)), |()| None)
    }

    /// [`ThreadTier::with_slot`] with a value that `none` gets back if there is no slot. The
    /// slot comes from a last-slot entry if one is this pool's (no handle or bucket load), else
    /// from the table (which updates the entry).
    #[inline(always)]
    pub(crate) fn with_slot_or<'s, V, X>(
        &'s self,
        value: V,
        f: impl FnOnce(&ThreadHandle, &'s Slot<T>, V) -> X,
        none: impl FnOnce(V) -> X,
    ) -> X {
        self.with_hit_slot(
            (value, f),
            |thread, slot, _door, (value, f)| f(thread, slot, value),
            |(value, f)| self.with_slot_via_table(value, f, none),
        )
    }

    /// [`ThreadTier::with_slot_or`] through the table only.
    #[inline(always)]
    fn with_slot_via_table<'s, V, X>(
        &'s self,
        value: V,
        f: impl FnOnce(&ThreadHandle, &'s Slot<T>, V) -> X,
        none: impl FnOnce(V) -> X,
    ) -> X {
        thread::with_current_or(
            value,
            |thread, v| f(thread, self.slots.get(thread), v),
            none,
        )
    }

    /// Runs `f` with this thread's slot, found the cheapest way: from the last-slot entry of
    /// unstealable tables (then it is an unbounded pool: `Door::Unannounced`, no limiter check),
    /// from the entry of stealable ones (a bounded pool), or else through `via_table`, out of
    /// line: the inlined hit path then holds the two compares and little else, which keeps the
    /// registers it needs, and the pushes and pops around it, few.
    #[inline(always)]
    fn with_hit_slot<'s, V, X>(
        &'s self,
        value: V,
        f: impl FnOnce(&ThreadHandle, &'s Slot<T>, Door, V) -> X,
        via_table: impl FnOnce(V) -> X,
    ) -> X {
        // `f` travels with the value, so that whichever branch runs takes it.
        self.slots.with_remembered(
            Remembered::Unstealable,
            (value, f),
            |thread, slot, (value, f)| f(thread, slot, Door::Unannounced, value),
            |(value, f)| {
                self.slots.with_remembered(
                    Remembered::Stealable,
                    (value, f),
                    |thread, slot, (value, f)| f(thread, slot, Door::Limiter, value),
                    |(value, _)| via_table(value),
                )
            },
        )
    }

    /// An idle object from this thread's cache, without a lock: the hit path.
    #[inline(always)]
    pub(crate) fn take<H: TierHost<T>>(host: &H) -> Option<Box<T>> {
        host.tier().with_hit_slot(
            (),
            |thread, slot, door, ()| Self::pop(host, thread, slot, door),
            |()| Self::take_via_table(host),
        )
    }

    /// [`ThreadTier::take`] through the slot table: this thread last used another pool of the
    /// same kind (or none yet).
    #[inline(never)]
    fn take_via_table<H: TierHost<T>>(host: &H) -> Option<Box<T>> {
        // One `Option` all the way (not `with_slot`'s nested one).
        host.tier().with_slot_via_table(
            (),
            |thread, slot, ()| Self::pop(host, thread, slot, Door::Limiter),
            |()| None,
        )
    }

    /// Pops from `slot`'s cache through `door`.
    #[inline(always)]
    fn pop<H: TierHost<T>>(
        host: &H,
        thread: &ThreadHandle,
        slot: &Slot<T>,
        door: Door,
    ) -> Option<Box<T>> {
        // Counted by the pop itself (the fill word's length).
        Self::hit(host, thread, slot, door, (), |cache, ()| cache.pop()).ok()?
    }

    /// Pushes onto this thread's cache if it has room: the return half of the hit path.
    #[inline(always)]
    pub(crate) fn keep<H: TierHost<T>>(
        host: &H,
        obj: Box<T>,
        source: Source,
    ) -> Result<(), Box<T>> {
        // `move`: `source` is copied into the closures, so the hit path folds it to a constant
        // instead of spilling it to the stack for the slow path's closure.
        host.tier().with_hit_slot(
            obj,
            move |thread, slot, door, obj| Self::push(host, thread, slot, door, obj, source),
            move |obj| Self::keep_via_table(host, obj, source),
        )
    }

    /// [`ThreadTier::keep`] through the slot table (see [`ThreadTier::take_via_table`]).
    #[inline(never)]
    fn keep_via_table<H: TierHost<T>>(host: &H, obj: Box<T>, source: Source) -> Result<(), Box<T>> {
        host.tier().with_slot_via_table(
            obj,
            move |thread, slot, obj| Self::push(host, thread, slot, Door::Limiter, obj, source),
            Err,
        )
    }

    /// Pushes onto `slot`'s cache through `door` if it has room, counting the return.
    #[inline(always)]
    fn push<H: TierHost<T>>(
        host: &H,
        thread: &ThreadHandle,
        slot: &Slot<T>,
        door: Door,
        obj: Box<T>,
        source: Source,
    ) -> Result<(), Box<T>> {
        let fold_due = push_kept(&slot.shared().counts, source, obj, |obj| {
            Self::hit(host, thread, slot, door, obj, |cache, obj| cache.push(obj))
                .and_then(|pushed| pushed)
        })?;
        if fold_due {
            host.fold_pushes(thread, slot);
        }
        Ok(())
    }

    /// Runs `f` on this thread's cache through the hit path's door: unannounced in an unbounded
    /// pool, announced in a bounded one, where it gives `value` back while waiters are queued
    /// (see `slots.rs`). `Door::Unannounced` skips the check: the slot came from the last-slot
    /// entry that only unbounded pools use.
    #[inline(always)]
    fn hit<H: TierHost<T>, V, X>(
        host: &H,
        thread: &ThreadHandle,
        slot: &Slot<T>,
        door: Door,
        value: V,
        f: impl FnOnce(&mut ThreadCache<'_, T>, V) -> X,
    ) -> Result<X, V> {
        match (door, host.limiter()) {
            (Door::Unannounced, _) | (Door::Limiter, None) => {
                Ok(slot.with_cache(thread, |cache| f(cache, value)))
            }
            (Door::Limiter, Some(limiter)) => {
                slot.with_cache_announced(thread, &limiter.caches_closed, value, f)
            }
        }
    }

    /// Folds the count of pushes in `slot`'s fill word; the caller holds the depot lock
    /// (`locked` is its proof, as for [`Slot::with_cache_locked`]).
    pub(crate) fn fold_pushes(
        &self,
        thread: &ThreadHandle,
        slot: &Slot<T>,
        locked: &mut super::depot::Depot<T>,
    ) {
        slot.with_cache_locked(thread, locked, |cache, _| cache.fold_pushes());
    }

    /// Enables this thread's cache (registering `hook`, its exit flush) if it is not yet;
    /// `false` if the thread is exiting and the cache must stay off.
    pub(crate) fn enable(
        &self,
        thread: &ThreadHandle,
        cache: &mut ThreadCache<'_, T>,
        hook: impl FnOnce() -> Weak<dyn ThreadExit>,
    ) -> bool {
        if !cache.is_enabled() {
            if !thread.on_exit(hook()) {
                return false;
            }
            cache.enable(self.limit);
        }
        true
    }

    /// Refills the empty `cache` from the depot's `magazines` (under the depot lock): half a
    /// cache, or a whole one for a thread that keeps emptying its cache (a pipeline's producer:
    /// one lock per cache of objects instead of per half).
    pub(crate) fn refill(&self, cache: &mut ThreadCache<'_, T>, magazines: &mut Magazines<T>) {
        let streak = cache.repeats(Trade::Refill);
        cache.trade(|objects, spare| {
            if magazines.refill(objects, spare) && streak {
                magazines.refill_more(objects);
            }
        });
    }

    /// Makes room in a full `cache` by flushing half of it to the depot's `magazines` (under the
    /// depot lock), as far as `max_idle` allows; a thread that keeps filling its cache (a
    /// pipeline's consumer) empties it.
    pub(crate) fn make_room(&self, cache: &mut ThreadCache<'_, T>, magazines: &mut Magazines<T>) {
        if !cache.is_full() {
            return;
        }
        let streak = cache.repeats(Trade::Flush);
        cache.trade(|objects, spare| {
            let mut moved = magazines.flush(objects, self.batch, spare);
            while streak && moved > 0 && !objects.is_empty() {
                moved = magazines.flush(objects, self.batch, spare);
            }
        });
    }

    /// Pushes onto a cache open under the depot lock (a slow path), counting the return.
    pub(crate) fn push_locked(
        counts: &Counts,
        cache: &mut ThreadCache<'_, T>,
        obj: Box<T>,
        source: Source,
    ) -> Result<(), Box<T>> {
        if push_kept(counts, source, obj, |obj| cache.push(obj))? {
            cache.fold_pushes(); // the lock is held
        }
        Ok(())
    }
}

/// Runs `push`, a cache push that counts `obj` as returned in the fill word, counting a `put`
/// before it (the order `Counts::lent_balance` reads them in); takes that count back if the push
/// gives the object back.
#[inline(always)]
fn push_kept<T, X>(
    counts: &Counts,
    source: Source,
    obj: Box<T>,
    push: impl FnOnce(Box<T>) -> Result<X, Box<T>>,
) -> Result<X, Box<T>> {
    if source == Source::Put {
        counts.change(Change::Put);
    }
    let pushed = push(obj);
    if source == Source::Put && pushed.is_err() {
        counts.put.sub(1);
    }
    pushed
}

/// Counts a return kept outside a cache (in the depot, or handed to a waiter).
#[inline(always)]
pub(crate) fn count_kept(c: &Counts, source: Source) {
    if source == Source::Put {
        c.change(Change::Put); // before `returned`: see `Counts::lent_balance`
    }
    c.returned.add(1);
}
