//! A thread's cache of idle objects in one pool, and its fill word.
//!
//! One of the crate's few files with `unsafe` code: the cache is a stack whose length lives in
//! its [`Fill`] word, outside the buffer, so that other threads can read it (`stats` derives the
//! hit counts from it) and so that a hit stores one word and touches no counter:
//!
//! - the word's low [`LEN_BITS`] bits are the stack's length;
//! - the bits above count the objects returns pushed, since the last fold into
//!   [`Fill::folded_pushes`].
//!
//! A get's pop subtracts 1 and a return's push adds `PUSH + 1`: the store that moves the stack
//! also counts the return, and a pop is counted by what it leaves behind (pops = pushes + moved
//! in − moved out − length). The buffer is a `Vec<Box<T>>` kept at length 0 whose spare capacity
//! holds the stack; its capacity is the cache's limit. Why a hit counts this way, the limit, and
//! the orderings: [the implementation notes](crate::implementation#thread-cache).
//!
//! Every method only moves boxes: none drops a `T` or runs other user code, which is what
//! `Slot::with_cache` requires of the code that runs while a cache is open.

use crate::sync::{AtomicUsize, Ordering};

/// Bits of the fill word that hold the stack's length: room for `MAX_THREAD_CACHE` (2^16).
pub(crate) const LEN_BITS: u32 = 17;
const LEN_MASK: usize = (1 << LEN_BITS) - 1;
/// One push in the fill word's count of pushes.
const PUSH: usize = 1 << LEN_BITS;

const _: () = assert!(crate::builder::MAX_THREAD_CACHE <= LEN_MASK);

/// The direction of a trade with the depot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Trade {
    /// The cache was empty and took a magazine.
    Refill,
    /// The cache was full and gave objects to the depot.
    Flush,
}

/// A cache's length and hit counts, readable by any thread.
///
/// Written only by whoever has the cache open (its owner, a thief holding it shut, or the pool's
/// drop); [`Fill::folded_pushes`] and [`Fill::moved`] only by code that also holds the depot lock.
/// So a reader that holds the depot lock sees every trade whole, and only hits move under it,
/// each in one store.
#[derive(Debug, Default)]
pub(crate) struct Fill {
    /// Length (low [`LEN_BITS`] bits) and pushes since the last fold (the rest).
    word: AtomicUsize,
    /// Pushes folded out of `word` before its count could reach the top bit (wrapping).
    folded_pushes: AtomicUsize,
    /// Objects trades moved in minus objects they moved out (wrapping).
    moved: AtomicUsize,
}

/// What a [`Fill`] says: pushes by returns and pops by gets since the cache was made, and the
/// objects cached now. Pushes and pops wrap, as every counter of the pool does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) pushes: usize,
    pub(crate) pops: usize,
    pub(crate) len: usize,
}

impl Fill {
    /// The tally. Exact when read by the cache's owner, or by a thread that holds the depot lock
    /// (then no trade is halfway). Acquire: pairs with the release store of the word, so what
    /// the writer counted before a hit is seen with it.
    pub(crate) fn read(&self) -> Tally {
        let word = self.word.load(Ordering::Acquire);
        let len = word & LEN_MASK;
        let pushes = self
            .folded_pushes
            .load(Ordering::Relaxed)
            .wrapping_add(word >> LEN_BITS);
        let pops = pushes
            .wrapping_add(self.moved.load(Ordering::Relaxed))
            .wrapping_sub(len);
        Tally { pushes, pops, len }
    }

    /// The word, for the owner (or a thief holding the cache shut).
    #[inline(always)]
    fn word(&self) -> usize {
        self.word.load(Ordering::Relaxed)
    }

    /// Stores the word. Release: a reader that sees it sees what the writer counted before.
    #[inline(always)]
    fn set_word(&self, word: usize) {
        self.word.store(word, Ordering::Release);
    }

    /// Sets the length to `len` after a trade that moved objects in or out; the depot lock is
    /// held (see [`Fill`]).
    fn traded(&self, old_len: usize, len: usize) {
        let moved = self.moved.load(Ordering::Relaxed);
        self.moved.store(
            moved.wrapping_add(len).wrapping_sub(old_len),
            Ordering::Relaxed,
        );
        self.set_word(self.word() & !LEN_MASK | len);
    }
}

/// The parts of a thread's cache only its opener touches (they live in the slot's `UnsafeCell`;
/// the length lives in the slot's [`Fill`]). Dropping a store frees the buffer but not the
/// objects in it, which it cannot see: `Slot::drop` takes them out first.
pub(crate) struct CacheStore<T> {
    /// The stack, in the spare capacity of a `Vec` whose length is 0 except inside
    /// [`ThreadCache::trade`]: elements `0..len` (the fill word's length) are initialised and
    /// owned by the cache. The capacity is the cache's limit: 0 until the thread's exit hook is
    /// registered with the pool (so an object can only be cached where the exit flush will find
    /// it), then exactly the pool's `thread_cache` (`Vec::with_capacity` asks for exactly that,
    /// and std's `Vec` reports what it asked for).
    stack: Vec<Box<T>>,
    /// An empty magazine kept ready for the next flush to the depot, so that a flush in steady
    /// state allocates nothing.
    spare: Option<Vec<Box<T>>>,
    /// This slot's in-use balance last added to the depot's estimate (for `peak_in_use`).
    published_balance: isize,
    /// The direction of this cache's last trade with the depot (see [`ThreadCache::repeats`]).
    last_trade: Option<Trade>,
}

impl<T> CacheStore<T> {
    pub(crate) fn new() -> Self {
        Self {
            stack: Vec::new(),
            spare: None,
            published_balance: 0,
            last_trade: None,
        }
    }
}

/// An open cache: its store and its fill word. Made only by `Slot`'s doors, which guarantee that
/// nobody else has this cache open.
pub(crate) struct ThreadCache<'a, T> {
    store: &'a mut CacheStore<T>,
    fill: &'a Fill,
}

impl<'a, T> ThreadCache<'a, T> {
    /// Opens the cache made of `store` and `fill`.
    ///
    /// # Safety
    ///
    /// `fill` is the word of `store`'s cache (set only through this type since the store was
    /// made), and nobody else has the cache open while the result lives.
    #[inline(always)]
    pub(crate) unsafe fn open(store: &'a mut CacheStore<T>, fill: &'a Fill) -> Self {
        Self { store, fill }
    }

    /// The number of cached objects.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.fill.word() & LEN_MASK
    }

    /// The most recently cached object (LIFO: the cache-warmest one goes out first).
    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Option<Box<T>> {
        let word = self.fill.word();
        let len = word & LEN_MASK;
        if len == 0 {
            return None;
        }
        // SAFETY: `0 < len <= capacity`: the element is inside the allocation.
        let top = unsafe { self.store.stack.as_ptr().add(len - 1) };
        // SAFETY: elements `0..len` of the spare capacity are initialised and owned by the cache
        // (the store's invariant); the one read here is given up by the length's decrement just
        // below, so it is owned once, by the caller.
        let obj = unsafe { top.read() };
        self.fill.set_word(word - 1);
        Some(obj)
    }

    /// Caches `obj` if there is room, and counts the push: `Ok(true)` if the count of pushes in
    /// the fill word is due to be folded ([`ThreadCache::fold_pushes`], under the depot lock).
    /// Gives the object back otherwise.
    #[inline(always)]
    pub(crate) fn push(&mut self, obj: Box<T>) -> Result<bool, Box<T>> {
        let word = self.fill.word();
        let len = word & LEN_MASK;
        if len >= self.store.stack.capacity() {
            return Err(obj);
        }
        // SAFETY: `len < capacity`: the element is inside the allocation.
        let free = unsafe { self.store.stack.as_mut_ptr().add(len) };
        // SAFETY: the element is not one of the initialised `0..len`, so writing it overwrites
        // nothing owned; the length's increment just below hands it to the cache.
        unsafe { free.write(obj) };
        let word = word + PUSH + 1;
        self.fill.set_word(word);
        // The count of pushes reached the word's top bit: fold it long before it could wrap.
        Ok(word > isize::MAX as usize)
    }

    /// Moves the count of pushes out of the fill word into [`Fill::folded_pushes`]. The caller
    /// holds the depot lock (see [`Fill`]).
    #[cold]
    pub(crate) fn fold_pushes(&mut self) {
        let word = self.fill.word();
        let folded = self.fill.folded_pushes.load(Ordering::Relaxed);
        self.fill
            .folded_pushes
            .store(folded.wrapping_add(word >> LEN_BITS), Ordering::Relaxed);
        self.fill.set_word(word & LEN_MASK);
    }

    /// Runs `f` on the cached objects as a `Vec` (oldest first) and the spare magazine: a trade
    /// with the depot, or taking objects out. `f` may move objects in and out but must leave at
    /// most the capacity (the depot never leaves more: `Depot::refill` moves at most what fits),
    /// so the limit never changes. The caller holds the depot lock (see [`Fill`]).
    pub(crate) fn trade<R>(
        &mut self,
        f: impl FnOnce(&mut Vec<Box<T>>, &mut Option<Vec<Box<T>>>) -> R,
    ) -> R {
        /// Gives the elements back to the spare capacity and the length to the fill word, even
        /// if `f` unwinds: the `Vec` never owns them outside this call.
        struct Restore<'s, 'c, T> {
            cache: &'s mut ThreadCache<'c, T>,
            old_len: usize,
            capacity: usize,
        }
        impl<T> Drop for Restore<'_, '_, T> {
            fn drop(&mut self) {
                let stack = &mut self.cache.store.stack;
                let len = stack.len();
                // SAFETY: 0 is at most the capacity, and the `len` elements stay initialised in
                // the spare capacity, owned by the cache again through the fill word below.
                unsafe { stack.set_len(0) };
                self.cache.fill.traded(self.old_len, len);
                // Checked only now that the cache owns its objects again: a failed check loses
                // nothing. (The depot never grows the `Vec`: see `Depot::refill`.)
                debug_assert_eq!(stack.capacity(), self.capacity, "a trade changed the limit");
            }
        }
        let old_len = self.len();
        let capacity = self.store.stack.capacity();
        // SAFETY: `old_len <= capacity`, and elements `0..old_len` are initialised (the store's
        // invariant); `Restore` gives them back to the cache before anything else sees it.
        unsafe { self.store.stack.set_len(old_len) };
        let restore = Restore {
            cache: self,
            old_len,
            capacity,
        };
        let cache = &mut *restore.cache;
        f(&mut cache.store.stack, &mut cache.store.spare)
    }

    /// Records a trade in direction `trade`; `true` if the previous one went the same way. A
    /// thread whose trades keep going one way moves objects one way (a pipeline's producer or
    /// consumer), and trades a whole cache at a time instead of half: half a cache is what keeps
    /// a thread that alternates gets and returns at the boundary from trading on every
    /// operation, and such a thread's trades alternate.
    pub(crate) fn repeats(&mut self, trade: Trade) -> bool {
        self.store.last_trade.replace(trade) == Some(trade)
    }

    /// The in-use balance last published for this cache's slot (for `peak_in_use`).
    pub(crate) fn published_balance(&mut self) -> &mut isize {
        &mut self.store.published_balance
    }

    /// Whether the cache is enabled (its thread's exit hook is registered).
    pub(crate) fn is_enabled(&self) -> bool {
        self.store.stack.capacity() > 0
    }

    /// Enables the cache with room for `limit` objects (after registering the exit hook).
    pub(crate) fn enable(&mut self, limit: usize) {
        debug_assert!(!self.is_enabled() && limit > 0 && self.len() == 0);
        self.store.stack = Vec::with_capacity(limit);
        debug_assert_eq!(
            self.store.stack.capacity(),
            limit,
            "the cache's limit is its capacity"
        );
    }

    /// Disables the cache (its thread is exiting) and gives up everything it holds.
    pub(crate) fn disable(&mut self) -> Vec<Box<T>> {
        let all = self.take_all();
        self.store.spare = None;
        self.store.stack = Vec::new();
        all
    }

    /// Whether the cache is at its limit.
    pub(crate) fn is_full(&self) -> bool {
        self.len() == self.store.stack.capacity()
    }

    /// The cached objects, oldest first.
    pub(crate) fn objects(&self) -> &[Box<T>] {
        // SAFETY: elements `0..len` of the spare capacity are initialised (the store's
        // invariant), and the shared borrow of the open cache keeps them from moving.
        unsafe { std::slice::from_raw_parts(self.store.stack.as_ptr(), self.len()) }
    }

    /// Gives up every cached object, keeping the buffer's capacity.
    pub(crate) fn take_all(&mut self) -> Vec<Box<T>> {
        self.trade(|objects, _| {
            let mut all = Vec::with_capacity(objects.len());
            all.append(objects); // keeps `objects`' capacity
            all
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{CacheStore, Fill, Tally, ThreadCache, Trade, LEN_BITS};

    /// Runs `f` on a new cache (enabled with room for `limit`, unless 0) and its fill word, then
    /// drops whatever the cache still holds.
    fn with_cache<R>(limit: usize, f: impl FnOnce(&mut ThreadCache<'_, u32>, &Fill) -> R) -> R {
        let mut store = CacheStore::new();
        let fill = Fill::default();
        // SAFETY: a new store and a new fill word, used only through this one view.
        let mut cache = unsafe { ThreadCache::open(&mut store, &fill) };
        if limit > 0 {
            cache.enable(limit);
        }
        let result = f(&mut cache, &fill);
        drop(cache.take_all());
        result
    }

    fn tally(pushes: usize, pops: usize, len: usize) -> Tally {
        Tally { pushes, pops, len }
    }

    #[test]
    fn the_fill_word_counts_pushes_and_pops_and_holds_the_length() {
        with_cache(4, |cache, fill| {
            for i in 0..3 {
                assert_eq!(cache.push(Box::new(i)), Ok(false));
            }
            assert_eq!(cache.pop().map(|b| *b), Some(2), "last in, first out");
            assert_eq!(cache.pop().map(|b| *b), Some(1));
            assert_eq!(fill.read(), tally(3, 2, 1));
            assert_eq!(cache.push(Box::new(7)), Ok(false));
            assert_eq!(fill.read(), tally(4, 2, 2));
            assert_eq!(cache.len(), 2);
            assert_eq!(
                cache.objects().iter().map(|b| **b).collect::<Vec<_>>(),
                [0, 7],
                "oldest first"
            );
        });
    }

    #[test]
    fn trades_move_the_length_and_count_no_push_or_pop() {
        with_cache(8, |cache, fill| {
            cache.push(Box::new(1)).unwrap();
            // A refill: three objects in.
            cache.trade(|objects, _| objects.extend((10..13).map(Box::new)));
            assert_eq!(fill.read(), tally(1, 0, 4));
            assert_eq!(
                cache.pop().map(|b| *b),
                Some(12),
                "the top is the last moved in"
            );
            // A flush: two objects out, from the top.
            let out = cache.trade(|objects, _| objects.split_off(objects.len() - 2));
            assert_eq!(out.iter().map(|b| **b).collect::<Vec<_>>(), [10, 11]);
            assert_eq!(fill.read(), tally(1, 1, 1));
            assert_eq!(cache.take_all().len(), 1);
            assert_eq!(fill.read(), tally(1, 1, 0), "taking out is not a pop");
            assert!(cache.is_enabled(), "taking everything keeps the limit");
        });
    }

    #[test]
    fn the_limit_is_the_capacity_and_push_refuses_beyond_it() {
        with_cache(0, |cache, fill| {
            assert!(!cache.is_enabled());
            assert_eq!(
                cache.push(Box::new(1)).map_err(|b| *b),
                Err(1),
                "disabled: no room at all"
            );
            cache.enable(2);
            assert!(cache.is_enabled());
            cache.push(Box::new(1)).unwrap();
            cache.push(Box::new(2)).unwrap();
            assert!(cache.is_full());
            assert_eq!(cache.push(Box::new(3)).map_err(|b| *b), Err(3));
            assert_eq!(fill.read(), tally(2, 0, 2), "a refused push is not counted");
            assert_eq!(cache.pop().map(|b| *b), Some(2));
            assert_eq!(cache.disable().len(), 1);
            assert!(!cache.is_enabled());
            assert_eq!(fill.read(), tally(2, 1, 0));
        });
    }

    #[test]
    fn a_push_that_reaches_the_top_bit_asks_for_a_fold_and_the_fold_keeps_the_count() {
        with_cache(4, |cache, fill| {
            // Pushes just below the top bit (a test cannot make 2^46 of them).
            let below_top = (isize::MAX as usize) >> LEN_BITS;
            fill.word
                .store(below_top << LEN_BITS, super::Ordering::Relaxed);
            assert_eq!(fill.read(), tally(below_top, below_top, 0));
            assert_eq!(
                cache.push(Box::new(1)),
                Ok(true),
                "the count reached the top bit"
            );
            assert_eq!(fill.read(), tally(below_top + 1, below_top, 1));
            cache.fold_pushes();
            assert_eq!(
                fill.read(),
                tally(below_top + 1, below_top, 1),
                "folding counts"
            );
            assert_eq!(
                fill.word.load(super::Ordering::Relaxed),
                1,
                "only the length is left"
            );
            assert_eq!(cache.push(Box::new(2)), Ok(false));
            assert_eq!(cache.pop().map(|b| *b), Some(2));
            assert_eq!(fill.read(), tally(below_top + 2, below_top + 1, 1));
        });
    }

    #[test]
    fn a_trade_that_unwinds_leaves_the_cache_with_what_the_vec_held() {
        with_cache(4, |cache, fill| {
            for i in 0..3 {
                cache.push(Box::new(i)).unwrap();
            }
            let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                cache.trade(|objects, _| {
                    let taken = objects.pop();
                    panic!("{taken:?} taken, then a panic");
                })
            }));
            assert!(unwound.is_err());
            assert_eq!(
                fill.read(),
                tally(3, 0, 2),
                "the popped object left by the trade"
            );
            assert_eq!(
                cache.objects().iter().map(|b| **b).collect::<Vec<_>>(),
                [0, 1]
            );
        });
    }

    #[test]
    fn repeats_is_true_only_for_a_second_trade_in_the_same_direction() {
        with_cache(0, |cache, _| {
            assert!(!cache.repeats(Trade::Flush), "no trade before");
            assert!(cache.repeats(Trade::Flush));
            assert!(cache.repeats(Trade::Flush));
            assert!(!cache.repeats(Trade::Refill), "the direction changed");
            assert!(cache.repeats(Trade::Refill));
            assert!(!cache.repeats(Trade::Flush));
        });
    }
}
