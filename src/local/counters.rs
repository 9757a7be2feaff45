//! `LocalPool`'s counters, kept so that a hit touches only one of them.
//!
//! A get served from the idle stack bumps `reused` and maybe lowers a low-water mark; a return
//! that is kept touches no counter at all. Everything else is derived when `stats()` asks:
//! objects are *live* from creation (or `put`) until discarded or detached, and a live object is
//! either idle or in use, so `in_use = live - idle`. Between two changes of `live` (which happen
//! only off the hit paths) the in-use count peaks exactly when the idle stack is lowest, so the
//! low-water mark gives an exact `peak_in_use`.

use std::cell::Cell;

use crate::counting::Change;
use crate::stats::PoolStats;

#[derive(Default)]
pub(super) struct Counters {
    created: Cell<u64>,
    prefilled: Cell<u64>,
    reused: Cell<u64>,
    put: Cell<u64>,
    discarded: Cell<u64>,
    discarded_on_return: Cell<u64>,
    detached: Cell<u64>,
    /// Fewest idle objects since `live` last changed.
    low_idle: Cell<usize>,
    /// Highest in-use count before `live` last changed.
    peak_before: Cell<usize>,
}

fn bump(cell: &Cell<u64>, n: u64) {
    cell.set(cell.get() + n);
}

impl Counters {
    /// A `get` took an object from the idle stack, leaving `idle` there.
    #[inline]
    pub(super) fn reused(&self, idle: usize) {
        bump(&self.reused, 1);
        if idle < self.low_idle.get() {
            self.low_idle.set(idle);
        }
    }

    /// Records `change`; `idle` is the idle count once it is done.
    pub(super) fn change(&self, change: Change, idle: usize) {
        // Close the period in which `live` was constant, then start a new one.
        self.peak_before.set(self.peak());
        match change {
            Change::Created => bump(&self.created, 1),
            Change::Prefilled => {
                bump(&self.created, 1);
                bump(&self.prefilled, 1);
            }
            Change::Reused => bump(&self.reused, 1),
            Change::Put => bump(&self.put, 1),
            Change::Attached => {
                bump(&self.put, 1);
                bump(&self.reused, 1);
            }
            Change::DiscardedOnReturn => {
                bump(&self.discarded, 1);
                bump(&self.discarded_on_return, 1);
            }
            Change::IdleDropped(n) => bump(&self.discarded, n as u64),
            Change::Detached => bump(&self.detached, 1),
        }
        self.low_idle.set(idle);
        self.peak_before
            .set(self.peak_before.get().max(self.in_use(idle)));
    }

    /// Objects alive now: made or put, and not yet discarded or detached.
    fn live(&self) -> u64 {
        self.created.get() + self.put.get() - self.discarded.get() - self.detached.get()
    }

    fn in_use(&self, idle: usize) -> usize {
        (self.live() - idle as u64) as usize
    }

    fn peak(&self) -> usize {
        self.peak_before.get().max(self.in_use(self.low_idle.get()))
    }

    /// The snapshot, with `idle` objects on the idle stack.
    pub(super) fn snapshot(&self, idle: usize) -> PoolStats {
        let in_use = self.in_use(idle);
        let lent = self.created.get() - self.prefilled.get() + self.reused.get();
        // Every lent object is in use, detached, discarded on return, or was returned and kept.
        let returned_by_guards =
            lent - in_use as u64 - self.detached.get() - self.discarded_on_return.get();
        PoolStats {
            created: self.created.get(),
            reused: self.reused.get(),
            returned: returned_by_guards + self.put.get(),
            discarded: self.discarded.get(),
            detached: self.detached.get(),
            idle,
            in_use,
            peak_in_use: self.peak(),
            waits: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The derived counters against hand-computed stats, driven the way `LocalPool` drives them:
    //! `idle` is the idle-stack length after each step. Run by `cargo test --lib` and miri.

    use super::Counters;
    use crate::counting::Change;
    use crate::stats::PoolStats;

    /// Counters plus the idle count a `LocalPool` would pass them.
    #[derive(Default)]
    struct Sim {
        counters: Counters,
        idle: usize,
    }

    impl Sim {
        /// A `get`: from the idle stack if it has one, else from the factory.
        fn get(&mut self) {
            if self.idle > 0 {
                self.idle -= 1;
                self.counters.reused(self.idle);
            } else {
                self.counters.change(Change::Created, self.idle);
            }
        }

        /// A guard ends and its object is kept: no counter moves.
        fn give_back_kept(&mut self) {
            self.idle += 1;
        }

        fn change(&mut self, change: Change, idle_after: usize) {
            self.idle = idle_after;
            self.counters.change(change, self.idle);
        }

        fn stats(&self) -> PoolStats {
            self.counters.snapshot(self.idle)
        }
    }

    fn stats(
        [created, reused, returned, discarded, detached]: [u64; 5],
        [idle, in_use, peak_in_use]: [usize; 3],
    ) -> PoolStats {
        PoolStats {
            idle,
            in_use,
            peak_in_use,
            created,
            reused,
            returned,
            discarded,
            detached,
            waits: 0,
        }
    }

    #[test]
    fn a_new_pool_counts_nothing() {
        assert_eq!(Sim::default().stats(), PoolStats::default());
    }

    #[test]
    fn hits_and_kept_returns_are_derived_from_the_idle_count() {
        let mut sim = Sim::default();
        sim.get();
        assert_eq!(sim.stats(), stats([1, 0, 0, 0, 0], [0, 1, 1]));
        sim.give_back_kept();
        assert_eq!(sim.stats(), stats([1, 0, 1, 0, 0], [1, 0, 1]));
        for round in 1..=3 {
            sim.get();
            assert_eq!(sim.stats(), stats([1, round, round, 0, 0], [0, 1, 1]));
            sim.give_back_kept();
        }
        assert_eq!(sim.stats(), stats([1, 3, 4, 0, 0], [1, 0, 1]));
    }

    #[test]
    fn the_peak_is_exact_between_changes_of_the_live_count() {
        let mut sim = Sim::default();
        sim.change(Change::Prefilled, 1);
        sim.change(Change::Prefilled, 2);
        sim.change(Change::Prefilled, 3);
        assert_eq!(sim.stats(), stats([3, 0, 0, 0, 0], [3, 0, 0]));
        // Three hits and their returns: only the idle stack moved, its low point is the peak.
        sim.get();
        sim.get();
        sim.give_back_kept();
        sim.get();
        sim.get();
        assert_eq!(sim.stats(), stats([3, 4, 1, 0, 0], [0, 3, 3]));
        (0..3).for_each(|_| sim.give_back_kept());
        assert_eq!(sim.stats(), stats([3, 4, 4, 0, 0], [3, 0, 3]));
        // A change of the live count keeps the peak seen before it.
        sim.change(Change::IdleDropped(3), 0);
        assert_eq!(sim.stats(), stats([3, 4, 4, 3, 0], [0, 0, 3]));
        sim.get(); // created
        assert_eq!(sim.stats(), stats([4, 4, 4, 3, 0], [0, 1, 3]));
    }

    #[test]
    fn a_peak_reached_through_misses_counts_every_object() {
        let mut sim = Sim::default();
        (0..4).for_each(|_| sim.get());
        assert_eq!(sim.stats(), stats([4, 0, 0, 0, 0], [0, 4, 4]));
        (0..4).for_each(|_| sim.give_back_kept());
        sim.get();
        assert_eq!(sim.stats(), stats([4, 1, 4, 0, 0], [3, 1, 4]));
    }

    #[test]
    fn put_discard_and_detach_keep_the_books_balanced() {
        let mut sim = Sim::default();
        sim.change(Change::Put, 1); // a put object is kept idle
        assert_eq!(sim.stats(), stats([0, 0, 1, 0, 0], [1, 0, 0]));
        sim.get(); // reused the put object
        sim.get(); // created
        assert_eq!(sim.stats(), stats([1, 1, 1, 0, 0], [0, 2, 2]));
        // One guard's object is refused by the policy, the other detached.
        sim.change(Change::DiscardedOnReturn, 0);
        assert_eq!(sim.stats(), stats([1, 1, 1, 1, 0], [0, 1, 2]));
        sim.change(Change::Detached, 0);
        assert_eq!(sim.stats(), stats([1, 1, 1, 1, 1], [0, 0, 2]));
        // Every lent object is accounted for: 2 lent = 0 in use + 1 detached + 1 discarded.
        let s = sim.stats();
        assert_eq!(s.created + s.reused, s.in_use as u64 + s.detached + 1);
    }

    #[test]
    fn prefilled_objects_are_created_but_never_returned() {
        let mut sim = Sim::default();
        sim.change(Change::Prefilled, 1);
        sim.change(Change::Prefilled, 2);
        sim.get();
        sim.give_back_kept();
        assert_eq!(sim.stats(), stats([2, 1, 1, 0, 0], [2, 0, 1]));
    }
}
