//! The engine of [`Pool`](super::Pool): thread caches in front of a shared depot.
//!
//! Hot paths (`take_cached`, `keep` on a hit) touch only the calling thread's slot: no lock, no
//! read-modify-write atomic. Slow paths trade a batch with the depot under its lock, which only
//! moves pointers. User code (factory, recycle policy, `T::drop`) always runs outside both the
//! lock and the slot borrow, so it may use the pool again.

use std::mem;

use super::counts::{Counts, Totals};
use super::depot::{Depot, Magazine};
use super::slots::{Slot, ThreadSlots};
use super::thread::{self, ThreadExit, ThreadHandle};
use crate::recycle::Recycler;
use crate::stats::PoolStats;
use crate::sync::{ArcDropSync, Mutex, MutexGuard, Weak};

pub(crate) type Factory<T> = Box<dyn Fn() -> T + Send + Sync>;

/// Why an object comes back: decides which counters it moves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A guard was dropped.
    Guard,
    /// `Pool::put`.
    Put,
}

pub(crate) struct Inner<T, R> {
    /// This pool, for registering thread-exit hooks from `&self` (guards borrow `&Inner`
    /// directly, saving a pointer hop on every return).
    me: Weak<Inner<T, R>>,
    slots: ThreadSlots<T>,
    depot: Mutex<Depot<T>>,
    factory: Factory<T>,
    recycler: R,
    /// Per-thread cache size; 0 = every operation goes to the depot.
    thread_cache: usize,
    /// Objects moved per trade with the depot.
    batch: usize,
    /// Lets loom see that every handle's last use precedes the drop (see `sync.rs`).
    pub(crate) drop_sync: ArcDropSync,
}

impl<T, R> Inner<T, R> {
    pub(crate) fn new(
        me: Weak<Self>,
        factory: Factory<T>,
        recycler: R,
        max_idle: usize,
        thread_cache: usize,
    ) -> Self {
        // Half the cache per trade: after a flush or refill the thread still has room (or
        // objects) for half a cache of hits, so a get/put pattern at the boundary cannot make
        // every operation take the lock.
        let batch = thread_cache.div_ceil(2).max(1);
        Self {
            me,
            slots: ThreadSlots::new(),
            // With a thread tier, depot magazines hold one trade's worth (`batch`); without one,
            // `put_one` still groups objects so the depot's stack stays short.
            depot: Mutex::new(Depot::new(
                max_idle,
                if thread_cache == 0 { 32 } else { batch },
            )),
            factory,
            recycler,
            thread_cache,
            batch,
            drop_sync: ArcDropSync::default(),
        }
    }

    fn depot(&self) -> MutexGuard<'_, Depot<T>> {
        self.depot.lock()
    }
}

impl<T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> Inner<T, R> {
    /// Runs `f` with this thread's slot, if the thread tier is on and the thread-local is alive.
    #[inline]
    fn with_slot<X>(&self, f: impl FnOnce(&ThreadHandle, &Slot<T>) -> X) -> Option<X> {
        if self.thread_cache == 0 {
            return None;
        }
        thread::with_current(|thread| f(thread, self.slots.get(thread)))
    }

    /// Moves counters of the calling thread's slot, or the depot's if it has none, and publishes
    /// the in-use balance (used off the hit paths only: creation, discards, detach). Publishing
    /// here keeps every thread's unpublished balance within its cache size, which is what bounds
    /// the error of `peak_in_use`.
    fn count(&self, f: impl Fn(&Counts)) {
        let counted = self.with_slot(|thread, slot| {
            f(&slot.counts);
            slot.with_cache(|cache| {
                self.register_exit(thread, &mut cache.registered);
                self.depot()
                    .publish_balance(&mut cache.published_balance, slot.counts.lent_balance());
            });
        });
        if counted.is_none() {
            let mut depot = self.depot();
            f(&depot.counts);
            depot.publish_own_balance();
        }
    }

    /// Creates `n` idle objects (the builder's `prefill`).
    pub(crate) fn prefill(&self, n: usize) {
        for _ in 0..n {
            let obj = Box::new((self.factory)());
            let mut depot = self.depot();
            depot.counts.created.add(1);
            if depot.put_one(obj).is_err() {
                unreachable!("`build` checked prefill <= max_idle");
            }
        }
    }

    /// An idle object from this thread's cache, without a lock.
    #[inline]
    pub(crate) fn take_cached(&self) -> Option<Box<T>> {
        self.with_slot(|thread, slot| {
            let obj = slot
                .with_cache(|cache| {
                    self.register_exit(thread, &mut cache.registered);
                    cache.objects.pop()
                })
                .flatten()?;
            slot.counts.reused.add(1);
            slot.counts.lent();
            Some(obj)
        })
        .flatten()
    }

    /// An idle object from the depot (refilling this thread's cache), or `None`.
    #[cold]
    #[inline(never)]
    pub(crate) fn take_slow(&self) -> Option<Box<T>> {
        let mut via_thread = false;
        let taken = self
            .with_slot(|_, slot| {
                let taken = slot.with_cache(|cache| {
                    let mut depot = self.depot();
                    depot.publish_balance(&mut cache.published_balance, slot.counts.lent_balance());
                    depot.refill(&mut cache.objects, &mut cache.spare);
                    cache.objects.pop()
                })?;
                via_thread = true;
                if taken.is_some() {
                    slot.counts.reused.add(1);
                    slot.counts.lent();
                }
                taken
            })
            .flatten();
        if via_thread {
            return taken;
        }
        // No thread tier here: take one object straight from the depot.
        let mut depot = self.depot();
        let taken = depot.take_one();
        if taken.is_some() {
            depot.counts.reused.add(1);
            depot.counts.lent();
            depot.publish_own_balance();
        }
        taken
    }

    /// A new object from the factory (outside every lock: it may use the pool).
    #[cold]
    #[inline(never)]
    pub(crate) fn create(&self) -> Box<T> {
        let obj = Box::new((self.factory)());
        self.count(|c| {
            c.created.add(1);
            c.lent();
        });
        obj
    }

    /// Takes back an object a guard held (or one given to `put`): recycles it, keeps it if the
    /// policy and the caps allow, and drops it otherwise. A panic in the policy or in `T::drop`
    /// leaves the counts right.
    #[inline]
    pub(crate) fn give_back(&self, obj: Box<T>) {
        if let Err(refused) = self.recycle_and_keep(obj, Source::Guard) {
            self.count(|c| {
                c.ended();
                c.discarded.add(1);
            });
            drop(refused);
        }
    }

    /// Recycles `obj` and keeps it; gives it back if the policy refused it or every tier is full.
    #[inline]
    pub(crate) fn recycle_and_keep(&self, mut obj: Box<T>, source: Source) -> Result<(), Box<T>> {
        let unwinding = CountLostOnUnwind {
            inner: self,
            source,
        };
        let keep = self.recycler.recycle(&mut obj);
        mem::forget(unwinding);
        if !keep {
            return Err(obj);
        }
        let obj = match self.keep_cached(obj, source) {
            Ok(()) => return Ok(()),
            Err(obj) => obj,
        };
        self.keep_slow(obj, source)
    }

    /// Pushes onto this thread's cache if it has room.
    #[inline]
    fn keep_cached(&self, obj: Box<T>, source: Source) -> Result<(), Box<T>> {
        let mut obj = Some(obj);
        self.with_slot(|thread, slot| {
            slot.with_cache(|cache| {
                self.register_exit(thread, &mut cache.registered);
                if cache.objects.len() < self.thread_cache {
                    cache.objects.extend(obj.take());
                }
            });
            if obj.is_none() {
                count_kept(&slot.counts, source);
            }
        });
        obj.map_or(Ok(()), Err)
    }

    /// Flushes half of this thread's full cache to the depot to make room, or keeps the object in
    /// the depot directly when there is no thread tier. Gives the object back if the depot is
    /// full too.
    #[cold]
    #[inline(never)]
    fn keep_slow(&self, obj: Box<T>, source: Source) -> Result<(), Box<T>> {
        let mut obj = Some(obj);
        let mut via_thread = false;
        self.with_slot(|_, slot| {
            slot.with_cache(|cache| {
                via_thread = true;
                let mut depot = self.depot();
                depot.publish_balance(&mut cache.published_balance, slot.counts.lent_balance());
                if cache.objects.len() >= self.thread_cache {
                    depot.flush(&mut cache.objects, self.batch, &mut cache.spare);
                }
                if cache.objects.len() < self.thread_cache {
                    cache.objects.extend(obj.take());
                }
            });
            if obj.is_none() {
                count_kept(&slot.counts, source);
            }
        });
        match obj {
            None => Ok(()),
            Some(obj) if via_thread => Err(obj),
            Some(obj) => {
                let mut depot = self.depot();
                depot.put_one(obj)?;
                count_kept(&depot.counts, source);
                depot.publish_own_balance();
                Ok(())
            }
        }
    }

    /// Counts a guard's object as detached.
    pub(crate) fn note_detached(&self) {
        self.count(|c| {
            c.ended();
            c.detached.add(1);
        });
    }

    /// Makes sure this thread's cache is flushed when the thread exits: registered on the
    /// slot's first use by each thread, before any object can be cached in it.
    #[inline]
    fn register_exit(&self, thread: &ThreadHandle, registered: &mut bool) {
        if !*registered {
            self.register_exit_slow(thread, registered);
        }
    }

    #[cold]
    #[inline(never)]
    fn register_exit_slow(&self, thread: &ThreadHandle, registered: &mut bool) {
        *registered = true;
        let weak: Weak<Self> = self.me.clone();
        thread.on_exit(weak);
    }

    /// Drops every idle object in the depot and in the calling thread's cache; returns how many.
    pub(crate) fn trim(&self) -> usize {
        let from_cache = self
            .with_slot(|_, slot| slot.with_cache(|cache| mem::take(&mut cache.objects)))
            .flatten()
            .unwrap_or_default();
        let magazines = self.depot().take_all();
        self.discard(from_cache.len(), magazines, from_cache)
    }

    /// Drops the depot objects that stayed idle since the previous call; returns how many.
    pub(crate) fn trim_unused(&self) -> usize {
        let magazines = self.depot().take_unused();
        self.discard(0, magazines, Vec::new())
    }

    /// Counts, then drops (outside every lock), objects the pool gives up.
    fn discard(&self, extra: usize, magazines: Vec<Magazine<T>>, more: Vec<Box<T>>) -> usize {
        let n = extra + magazines.iter().map(Vec::len).sum::<usize>();
        self.depot().counts.discarded.add(n);
        // If a `T::drop` panics, the vectors still drop the rest while unwinding.
        drop((magazines, more));
        n
    }

    /// A snapshot of the counters of every thread and of the depot. The in-use count it sees is
    /// recorded as a peak sample too, so `peak_in_use` never goes down between two snapshots.
    pub(crate) fn stats(&self) -> PoolStats {
        let mut totals = Totals::default();
        let mut depot = self.depot();
        totals.add(&depot.counts);
        self.slots.for_each(|slot| totals.add(&slot.counts));
        depot.observe_in_use(totals.in_use());
        totals.into_stats(depot.peak_in_use())
    }

    /// Objects idle in the shared depot (not counting thread caches).
    pub(crate) fn depot_idle(&self) -> usize {
        self.depot().idle()
    }
}

#[inline(always)]
fn count_kept(c: &Counts, source: Source) {
    c.returned.add(1);
    match source {
        Source::Guard => c.ended(),
        Source::Put => c.put.add(1),
    }
}

/// Counts an object lost to a panic in the recycle policy (unwinding drops it).
struct CountLostOnUnwind<'a, T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> {
    inner: &'a Inner<T, R>,
    source: Source,
}

impl<T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> Drop
    for CountLostOnUnwind<'_, T, R>
{
    fn drop(&mut self) {
        // A `put` object never entered the pool: only a guard's object counts as discarded.
        if self.source == Source::Guard {
            self.inner.count(|c| {
                c.ended();
                c.discarded.add(1);
            });
        }
    }
}

impl<T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> ThreadExit for Inner<T, R> {
    fn thread_exited(&self, thread: &ThreadHandle) {
        let slot = self.slots.get(thread);
        let overflow = slot.with_cache(|cache| {
            cache.registered = false;
            let objects = mem::take(&mut cache.objects);
            cache.spare = None;
            let mut depot = self.depot();
            depot.publish_balance(&mut cache.published_balance, slot.counts.lent_balance());
            let overflow = depot.adopt(objects);
            depot.counts.discarded.add(overflow.len());
            overflow
        });
        drop(overflow);
        // The caller drops its upgraded `Arc` next.
        self.drop_sync.before_release();
    }
}

impl<T, R> Drop for Inner<T, R> {
    fn drop(&mut self) {
        self.drop_sync.before_destroy();
    }
}
