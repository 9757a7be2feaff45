//! `LocalPool`'s counters, kept so that a hit touches only one of them.
//!
//! A get served from the idle stack bumps `reused` and maybe lowers a low-water mark; a return
//! that is kept touches no counter at all. Everything else is derived when `stats()` asks:
//! objects are *live* from creation (or `put`) until discarded or detached, and a live object is
//! either idle or in use, so `in_use = live - idle`. Between two changes of `live` (which happen
//! only off the hit paths) the in-use count peaks exactly when the idle stack is lowest, so the
//! low-water mark gives an exact `peak_in_use`.

use std::cell::Cell;

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

/// Which counter a change of the live population moves.
#[derive(Clone, Copy)]
pub(super) enum Change {
    /// The factory made an object for a `get`.
    Created,
    /// The factory made an idle object for `prefill`.
    Prefilled,
    /// `put` handed the pool an object it kept.
    Put,
    /// A returned object was refused or found the pool full, or the policy panicked.
    DiscardedOnReturn,
    /// `trim` dropped this many idle objects.
    Trimmed(usize),
    /// A guard's object left the pool for good.
    Detached,
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
            Change::Put => bump(&self.put, 1),
            Change::DiscardedOnReturn => {
                bump(&self.discarded, 1);
                bump(&self.discarded_on_return, 1);
            }
            Change::Trimmed(n) => bump(&self.discarded, n as u64),
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
        }
    }
}
