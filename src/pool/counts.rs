//! Per-thread and depot counters, summed into [`PoolStats`] on demand.

use crate::stats::PoolStats;
use crate::sync::OwnedCounter;

/// Cumulative counters of one writer: a thread's slot (written only by that thread) or the depot
/// (written only under its lock). Reading them from elsewhere is always allowed.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) created: OwnedCounter,
    pub(crate) reused: OwnedCounter,
    pub(crate) returned: OwnedCounter,
    pub(crate) put: OwnedCounter,
    pub(crate) discarded: OwnedCounter,
    pub(crate) detached: OwnedCounter,
    /// Objects this writer handed out minus guards it saw end (dropped or detached), wrapping.
    /// Summed over all writers it is the pool's in-use count; one writer's share is negative when
    /// it returns objects other threads took. One counter rather than a difference of two, so a
    /// concurrent reader never sees a lend without the return that preceded it.
    pub(crate) balance: OwnedCounter,
}

impl Counts {
    /// [`Counts::balance`] as a signed number.
    pub(crate) fn lent_balance(&self) -> isize {
        self.balance.get() as isize
    }

    /// A `get` handed out an object.
    #[inline]
    pub(crate) fn lent(&self) {
        self.balance.add(1);
    }

    /// A guard ended: its object came back or was detached.
    #[inline]
    pub(crate) fn ended(&self) {
        self.balance.sub(1);
    }
}

/// Running sums of [`Counts`] from several writers.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    created: u64,
    reused: u64,
    returned: u64,
    put: u64,
    discarded: u64,
    detached: u64,
    in_use: i64,
}

impl Totals {
    pub(crate) fn add(&mut self, c: &Counts) {
        self.created += c.created.get() as u64;
        self.reused += c.reused.get() as u64;
        self.returned += c.returned.get() as u64;
        self.put += c.put.get() as u64;
        self.discarded += c.discarded.get() as u64;
        self.detached += c.detached.get() as u64;
        self.in_use += c.lent_balance() as i64;
    }

    /// Objects in use: the sum of the balances, clamped at 0 (a snapshot taken while objects
    /// cross threads can catch a return before the lend it answers).
    pub(crate) fn in_use(&self) -> usize {
        self.in_use.max(0) as usize
    }

    /// The snapshot, given the highest in-use count sampled so far. Counters read while other
    /// threads run may be a moment apart, so levels are clamped to be non-negative; when the pool
    /// is quiescent they are exact.
    pub(crate) fn into_stats(self, sampled_peak: usize) -> PoolStats {
        let in_use = self.in_use() as u64;
        // Every object enters by `created` or `put` and leaves by `discarded` or `detached`;
        // what is left is either in use or idle.
        let live = (self.created + self.put).saturating_sub(self.discarded + self.detached);
        PoolStats {
            created: self.created,
            reused: self.reused,
            returned: self.returned,
            discarded: self.discarded,
            detached: self.detached,
            idle: live.saturating_sub(in_use) as usize,
            in_use: in_use as usize,
            peak_in_use: sampled_peak.max(in_use as usize),
        }
    }
}
