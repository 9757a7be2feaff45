//! A thread's cache of idle objects in one pool.
//!
//! Every method only moves boxes: none drops a `T` or runs other user code, which is what
//! `Slot::with_cache` requires of the code that runs while a cache is open.

/// The direction of a trade with the depot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Trade {
    /// The cache was empty and took a magazine.
    Refill,
    /// The cache was full and gave objects to the depot.
    Flush,
}

/// Idle objects of one thread, LIFO: the most recently returned (cache-warm) object goes out
/// first. Only the owning thread opens it (see `slots.rs`).
pub(crate) struct ThreadCache<T> {
    /// The idle objects. The buffer's capacity is the cache's limit: 0 until the thread's exit
    /// hook is registered with the pool (so an object can only be cached where the exit flush will
    /// find it), then exactly the pool's `thread_cache` (`Vec::with_capacity` asks for exactly
    /// that, and std's `Vec` reports what it asked for). A push is then one compare, which also
    /// spares `Vec::push` its own; and the registration check costs the hit path nothing.
    objects: Vec<Box<T>>,
    /// An empty magazine kept ready for the next flush to the depot, so that a flush in steady
    /// state allocates nothing.
    spare: Option<Vec<Box<T>>>,
    /// This slot's in-use balance last added to the depot's estimate (for `peak_in_use`).
    pub(crate) published_balance: isize,
    /// The direction of this cache's last trade with the depot (see [`ThreadCache::repeats`]).
    last_trade: Option<Trade>,
}

impl<T> ThreadCache<T> {
    pub(crate) fn new() -> Self {
        Self {
            objects: Vec::new(),
            spare: None,
            published_balance: 0,
            last_trade: None,
        }
    }

    /// The most recently cached object.
    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Option<Box<T>> {
        self.objects.pop()
    }

    /// Caches `obj` if there is room; gives it back otherwise.
    #[inline(always)]
    pub(crate) fn push(&mut self, obj: Box<T>) -> Result<(), Box<T>> {
        if self.objects.len() < self.objects.capacity() {
            self.objects.push(obj); // within capacity: never allocates (and no second check)
            Ok(())
        } else {
            Err(obj)
        }
    }

    /// Records a trade in direction `trade`; `true` if the previous one went the same way. A
    /// thread whose trades keep going one way moves objects one way (a pipeline's producer or
    /// consumer), and trades a whole cache at a time instead of half: half a cache is what keeps
    /// a thread that alternates gets and returns at the boundary from trading on every
    /// operation, and such a thread's trades alternate.
    pub(crate) fn repeats(&mut self, trade: Trade) -> bool {
        self.last_trade.replace(trade) == Some(trade)
    }

    /// Whether the cache is enabled (its thread's exit hook is registered).
    pub(crate) fn is_enabled(&self) -> bool {
        self.objects.capacity() > 0
    }

    /// Enables the cache with room for `limit` objects (after registering the exit hook).
    pub(crate) fn enable(&mut self, limit: usize) {
        debug_assert!(!self.is_enabled() && limit > 0);
        self.objects = Vec::with_capacity(limit);
        debug_assert_eq!(
            self.objects.capacity(),
            limit,
            "the cache's limit is its capacity"
        );
    }

    /// Disables the cache (its thread is exiting) and gives up everything it holds.
    pub(crate) fn disable(&mut self) -> Vec<Box<T>> {
        self.spare = None;
        std::mem::take(&mut self.objects)
    }

    /// Whether the cache is at its limit.
    pub(crate) fn is_full(&self) -> bool {
        self.objects.len() == self.objects.capacity()
    }

    /// The objects and the spare magazine, for trading with the depot, which never leaves more
    /// objects than the capacity (a magazine holds at most half a cache, an adopted exit flush
    /// at most a whole one): the capacity, so the limit, never changes.
    pub(crate) fn trade_parts(&mut self) -> (&mut Vec<Box<T>>, &mut Option<Vec<Box<T>>>) {
        (&mut self.objects, &mut self.spare)
    }

    /// The objects, to take them all (the pool is being dropped).
    pub(crate) fn objects_mut(&mut self) -> &mut Vec<Box<T>> {
        &mut self.objects
    }

    /// Gives up every cached object, keeping the buffer's capacity.
    pub(crate) fn take_all(&mut self) -> Vec<Box<T>> {
        let mut all = Vec::with_capacity(self.objects.len());
        all.append(&mut self.objects);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::{ThreadCache, Trade};

    #[test]
    fn repeats_is_true_only_for_a_second_trade_in_the_same_direction() {
        let mut cache = ThreadCache::<u8>::new();
        assert!(!cache.repeats(Trade::Flush), "no trade before");
        assert!(cache.repeats(Trade::Flush));
        assert!(cache.repeats(Trade::Flush));
        assert!(!cache.repeats(Trade::Refill), "the direction changed");
        assert!(cache.repeats(Trade::Refill));
        assert!(!cache.repeats(Trade::Flush));
    }

    #[test]
    fn the_limit_is_the_capacity_and_push_refuses_beyond_it() {
        let mut cache = ThreadCache::<u8>::new();
        assert!(!cache.is_enabled());
        assert_eq!(
            *cache.push(Box::new(1)).unwrap_err(),
            1,
            "disabled: no room at all"
        );
        cache.enable(2);
        assert!(cache.is_enabled());
        cache.push(Box::new(1)).unwrap();
        cache.push(Box::new(2)).unwrap();
        assert!(cache.is_full());
        assert_eq!(*cache.push(Box::new(3)).unwrap_err(), 3);
        assert_eq!(cache.pop().map(|b| *b), Some(2), "last in, first out");
        assert_eq!(cache.disable().len(), 1);
        assert!(!cache.is_enabled());
    }
}
